"""The DFT reference set of this chemistry: configurations, then GPAW energies and forces.

Two resumable steps (``lis-dft reference-set build`` then ``compute``), both writing
extended XYZ that ASE reads (``ase.io.read(path, ":")``):

``configurations.extxyz``
    The geometries, made deterministically from lis-dft's own builders on the reduced
    LiI(100) model (2 x 2 conventional cells, 4 layers, experimental a = 6.00 Å, 15 Å
    vacuum; :mod:`lis_dft.structures.reduced`):

    - bulk references (bcc Li, alpha-S primitive cell, Li2S, Li2S2, LiI) at the
      experimental lattice and at -2 % / +2 % of it (an E(V) curve each);
    - molecules (S8, Li2S, Li2S2, I2) as built and slightly rattled, and the S8 chains
      the potential opens on the surface, isolated in a box;
    - the clean reduced slab: ideal, relaxed (top two layers free) and rattled;
    - Li2S, Li2S2 and S8 at up to four AdsorbateSiteFinder sites/orientations each: the
      raw placement, relaxed with the slab frozen, and relaxed with the top two layers
      free (where the potential tears the surface or opens S8, the geometry is kept:
      those are the artifacts the reference must expose).

    Relaxations use the *generating* potential (default CHGNet + D3(zero), recorded in
    each frame's ``source``), which only proposes geometries: no reference energy comes
    from it. Every frame has ``config_id``, ``family`` (whole adsorbate/site families,
    for held-out validation splits), ``kind``, ``n_slab``, ``adsorbate`` and the
    integrity flags.

``reference.extxyz``
    One frame per finished configuration, appended atomically as each single point
    ends: energy and forces of GPAW PBE + D3(zero) (the paper's Hamiltonian) as the
    frame's calculator results, with the parts in ``info["energy_pbe"]``,
    ``info["energy_d3"]`` and ``arrays["forces_d3"]`` (so a potential that adds D3
    itself trains on PBE alone), the GPAW settings, wall seconds and versions.
    ``compute`` skips what is there, so it runs in pieces (``--max-minutes``), and
    several ``compute`` processes may share one set (GPAW runs on one core each):
    each claims a configuration before computing it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from lis_dft.errors import ParameterError

#: Where the committed reference set lives: the repository's benchmarks/dft_reference for
#: a source checkout (editable install), else ./benchmarks/dft_reference.
_REPO_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "dft_reference"
DEFAULT_DIR = _REPO_DIR if _REPO_DIR.is_dir() else Path("benchmarks") / "dft_reference"
CONFIGURATIONS = "configurations.extxyz"
REFERENCE = "reference.extxyz"
ADSORBATES = ("Li2S", "Li2S2", "S8")
STRAINS = (0.98, 1.0, 1.02)


@dataclass(frozen=True)
class Frame:
    """One configuration of the reference set."""

    config_id: str
    family: str
    kind: str
    structure: Structure
    source: str
    adsorbate: str = ""
    n_slab: int = 0
    intact: bool | None = None
    surface_intact: bool | None = None

    def to_atoms(self) -> Any:
        """ASE Atoms with the metadata in ``info`` (constraints dropped)."""
        atoms = AseAtomsAdaptor.get_atoms(self.structure)
        atoms.set_constraint()
        info = {
            "config_id": self.config_id,
            "family": self.family,
            "kind": self.kind,
            "source": self.source,
            "n_slab": self.n_slab,
        }
        # extxyz cannot hold empty values: absent keys mean "not applicable"
        if self.adsorbate:
            info["adsorbate"] = self.adsorbate
        if self.intact is not None:
            info["intact"] = self.intact
        if self.surface_intact is not None:
            info["surface_intact"] = self.surface_intact
        atoms.info.update(info)
        return atoms


# ------------------------------------------------------------------------- building


def _rattled(structure: Structure, sigma: float, seed: int) -> Structure:
    rng = np.random.default_rng(seed)
    out = structure.copy()
    shifts = rng.normal(0.0, sigma, size=(len(out), 3))
    for i, d in enumerate(shifts):
        out.translate_sites([i], d, frac_coords=False, to_unit_cell=True)
    return out


def _strained(structure: Structure, factor: float) -> Structure:
    out = structure.copy()
    out.scale_lattice(structure.volume * factor**3)
    return out


def _relax(
    structure: Structure, calculator: Any, free: list[int], fmax: float, steps: int
) -> Structure:
    """Positions-only relaxation with atomate2's ASE relaxer; only ``free`` atoms move."""
    from ase.constraints import FixAtoms
    from atomate2.ase.utils import AseRelaxer

    from lis_dft.dft_workflows.optimizers import FreeBFGS

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.set_constraint(FixAtoms([i for i in range(len(atoms)) if i not in set(free)]))
    result = AseRelaxer(calculator, optimizer=FreeBFGS, relax_cell=False).relax(
        atoms, fmax=fmax, steps=steps, traj_file=None, final_atoms_object_file=os.devnull
    )
    final = result.final_mol_or_struct
    return Structure(final.lattice, final.species, final.frac_coords)


def _generating_potential(generator: dict[str, Any] | None) -> tuple[Any, str]:
    """The calculator that proposes geometries (default CHGNet + D3(zero)) and its label."""
    from lis_dft.dft_workflows.calculators import build_calculator, resolve_d3

    generator = generator or {"name": "chgnet", "d3": "zero"}
    d3 = resolve_d3(generator["name"], generator.get("d3", "auto"))
    return build_calculator(**generator), f"{generator['name']}+D3({d3})"


def build_frames(
    generator: dict[str, Any] | None = None,
    per_adsorbate: int = 5,
    fmax: float = 0.05,
    steps: int = 300,
) -> list[Frame]:
    """Make every configuration of the reference set (see the module docstring)."""
    from lis_dft.structures.adsorbates import adsorbate_placements
    from lis_dft.structures.bulk import build_bulk
    from lis_dft.structures.molecules import boxed, build_molecule
    from lis_dft.structures.slab import layer_indices, lii_100_slab

    calc, label = _generating_potential(generator)
    frames: list[Frame] = []
    for name in ("Li", "S", "Li2S", "Li2S2", "LiI"):
        base = build_bulk(name)
        for f in STRAINS:
            frames.append(
                Frame(
                    f"bulk/{name}/a{f:.2f}",
                    f"bulk/{name}",
                    "bulk",
                    _strained(base, f),
                    "experiment, strained",
                )
            )
    for i, name in enumerate(("S8", "Li2S", "Li2S2", "I2")):
        box = boxed(build_molecule(name), 12.0)
        frames.append(
            Frame(f"molecule/{name}", f"molecule/{name}", "molecule", box, "lis-dft builder")
        )
        frames.append(
            Frame(
                f"molecule/{name}/rattled",
                f"molecule/{name}",
                "molecule",
                _rattled(box, 0.05, i),
                "rattled 0.05 Å",
            )
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the reduced model itself: 2 x 2 conventional cells, 4 layers, 15 Å vacuum
        slab = lii_100_slab(supercell=(2, 2, 2), vacuum=15.0, fixed_layers=2)
    ideal = Structure(slab.lattice, slab.species, slab.frac_coords)
    n_slab = len(ideal)
    top = [i for layer in layer_indices(ideal)[-2:] for i in layer]
    relaxed = _relax(ideal, calc, top, fmax, steps)
    frames += [
        Frame("slab/ideal", "slab", "slab", ideal, "experimental LiI, a = 6.00 Å", n_slab=n_slab),
        Frame(
            "slab/relaxed", "slab", "slab", relaxed, f"{label}, top 2 layers free", n_slab=n_slab
        ),
        Frame(
            "slab/rattled",
            "slab",
            "slab",
            _rattled(relaxed, 0.05, 7),
            "relaxed, rattled 0.05 Å",
            n_slab=n_slab,
        ),
    ]
    opened: list[Structure] = []
    for ads in ADSORBATES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            placements = adsorbate_placements(slab, build_molecule(ads), ads)
        for p in _spread(placements, per_adsorbate):
            for frame in _placement_frames(ads, p, relaxed, top, calc, label, fmax, steps):
                frames.append(frame)
                if (
                    ads == "S8"
                    and frame.intact is False
                    and not frame.config_id.endswith("/placement")
                ):
                    s = frame.structure
                    mol = Structure(s.lattice, s.species[n_slab:], s.frac_coords[n_slab:])
                    opened.append(mol)
    for k, mol in enumerate(opened[:2]):
        from pymatgen.core import Molecule

        frac = mol.frac_coords - np.round(mol.frac_coords - mol.frac_coords[0])
        m = Molecule(mol.species, mol.lattice.get_cartesian_coords(frac))
        frames.append(
            Frame(
                f"molecule/S8/opened-{k}",
                "molecule/S8-opened",
                "molecule",
                boxed(m, 12.0),
                f"S8 opened by {label} on LiI(100), isolated",
            )
        )
    return frames


def _placement_frames(
    ads: str,
    placement: Any,
    relaxed: Structure,
    top: list[int],
    calc: Any,
    label: str,
    fmax: float,
    steps: int,
    variants: tuple[str, ...] = ("placement", "frozen", "free"),
) -> list[Frame]:
    """One AdsorbateSiteFinder placement on the relaxed slab: as placed, and relaxed.

    ``frozen`` relaxes the adsorbate on the fixed slab, ``free`` the adsorbate and the
    ``top`` slab atoms; each frame carries the adsorbate's and the surface's integrity.
    """
    from lis_dft.analysis.energetics import adsorbate_integrity
    from lis_dft.dft_workflows.jobs import transplant
    from lis_dft.structures.validation import surface_integrity

    n_slab = len(relaxed)
    moved = transplant(placement.structure, relaxed, n_slab)
    start = Structure(moved.lattice, moved.species, moved.frac_coords)
    ads_idx = list(range(n_slab, len(start)))
    make = {
        "placement": lambda: (start, "AdsorbateSiteFinder placement, unrelaxed"),
        "frozen": lambda: (_relax(start, calc, ads_idx, fmax, steps), f"{label}, slab frozen"),
        "free": lambda: (
            _relax(start, calc, ads_idx + top, fmax, steps),
            f"{label}, top 2 layers free",
        ),
    }
    out = []
    for tag in variants:
        s, source = make[tag]()
        intact, _ = adsorbate_integrity(s, n_slab, ads)
        out.append(
            Frame(
                f"adslab/{ads}/{placement.config_id}/{tag}",
                f"{ads}@LiI_100/{placement.site}",
                "adslab",
                s,
                source,
                ads,
                n_slab,
                intact,
                surface_integrity(relaxed, s, n_slab).intact,
            )
        )
    return out


def placement_frames(
    reference_dir: Path,
    adsorbate: str,
    placements: list[str],
    generator: dict[str, Any] | None = None,
    fmax: float = 0.05,
    steps: int = 300,
) -> list[Frame]:
    """Frozen- and free-slab relaxations at more placements of a built set.

    ``lis-dft reference-set build`` relaxes each adsorbate at ``--per-adsorbate``
    placements; this adds named ones (``top_Li-flat-r45`` ...) on the same relaxed slab
    (the set's ``slab/relaxed``), with the same generating potential, so the pairs train
    what the surface's relaxation under an adsorbate is worth (docs/methods.md). Returns
    the frames not yet in ``configurations.extxyz``; nothing is written.

    Raises
    ------
    ParameterError
        No built set, an unknown adsorbate, or a placement AdsorbateSiteFinder does not
        make (the message lists the ones it does).

    """
    from lis_dft.structures.adsorbates import adsorbate_placements
    from lis_dft.structures.molecules import build_molecule
    from lis_dft.structures.slab import layer_indices, lii_100_slab

    reference_dir = Path(reference_dir)
    if adsorbate not in ADSORBATES:
        raise ParameterError(
            f"Adsorbate {adsorbate!r} is not in the reference set; use one of "
            f"{', '.join(ADSORBATES)}."
        )
    existing = {f.info["config_id"]: f for f in read_frames(reference_dir / CONFIGURATIONS)}
    if "slab/relaxed" not in existing:
        raise ParameterError(
            f"No slab/relaxed in {reference_dir / CONFIGURATIONS}: run 'lis-dft "
            "reference-set build' first."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slab = lii_100_slab(supercell=(2, 2, 2), vacuum=15.0, fixed_layers=2)
        made = {
            p.config_id: p for p in adsorbate_placements(slab, build_molecule(adsorbate), adsorbate)
        }
    unknown = [p for p in placements if p not in made]
    if unknown:
        raise ParameterError(
            f"No {adsorbate} placement {', '.join(unknown)} on LiI(100); AdsorbateSiteFinder "
            f"makes {', '.join(made)}."
        )
    relaxed = AseAtomsAdaptor.get_structure(existing["slab/relaxed"])
    ideal = Structure(slab.lattice, slab.species, slab.frac_coords)
    top = [i for layer in layer_indices(ideal)[-2:] for i in layer]
    calc, label = _generating_potential(generator)
    out = []
    for pid in placements:
        todo = tuple(
            tag for tag in ("frozen", "free") if f"adslab/{adsorbate}/{pid}/{tag}" not in existing
        )
        if todo:
            out += _placement_frames(
                adsorbate, made[pid], relaxed, top, calc, label, fmax, steps, todo
            )
    return out


def _spread(placements: list[Any], n: int) -> list[Any]:
    """Up to ``n`` placements: one per site first, then orientations not yet represented."""
    chosen, sites = [], set()
    for p in placements:
        if p.site not in sites:
            chosen.append(p)
            sites.add(p.site)
    rest = [p for p in placements if p not in chosen]
    tilts = {p.orientation.split("-")[0] for p in chosen}  # flat / upright
    rest.sort(key=lambda p: p.orientation.split("-")[0] in tilts)  # stable: new tilts first
    return (chosen + rest)[:n]


def write_configurations(frames: list[Frame], out_dir: Path) -> Path:
    """Write configurations.extxyz (atomically)."""
    from ase.io import write

    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [f.config_id for f in frames]
    if len(set(ids)) != len(ids):
        raise ParameterError("Reference configurations must have unique ids.")
    path = out_dir / CONFIGURATIONS
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp, [f.to_atoms() for f in frames], format="extxyz")
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------ computing


def read_frames(path: Path) -> list[Any]:
    """All frames of an extxyz file (empty list if it does not exist)."""
    from ase.io import read

    if not path.exists():
        return []
    return read(path, ":", format="extxyz")


def _append_atomic(path: Path, atoms: Any) -> None:
    """Append one frame: copy + append + fsync + rename, so the file is never half-written.

    An exclusive lock on ``.<name>.lock`` serialises workers appending to the same file.
    """
    import fcntl

    from ase.io import write

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = path.read_bytes() if path.exists() else b""
        with open(tmp, "wb") as f:
            f.write(data)
        write(tmp, atoms, format="extxyz", append=True)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)


def _claim(work: Path) -> bool:
    """Claim a configuration for this process (several workers may share one set).

    A claim is a file holding the worker's pid; a claim whose process is gone (a
    session that was stopped) is taken over.
    """
    claim = work / ".claim"
    try:
        fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            pid = int(claim.read_text().strip() or 0)
            os.kill(pid, 0)
            return pid == os.getpid()
        except (ValueError, ProcessLookupError, PermissionError):
            claim.unlink(missing_ok=True)
            return _claim(work)
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


def settings_hash(settings: dict[str, Any]) -> str:
    """Short hash of the DFT settings, stored with every frame."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def compute(
    out_dir: Path = DEFAULT_DIR,
    gpaw: dict[str, Any] | None = None,
    max_minutes: float | None = None,
    only: list[str] | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """GPAW PBE (+ D3 computed separately) single points of every configuration not yet done.

    Parameters
    ----------
    out_dir
        Folder with configurations.extxyz; reference.extxyz is appended there.
    gpaw
        GPAW settings (:class:`~lis_dft.dft_workflows.gpaw_calc.GpawSettings` fields);
        default LCAO dzp.
    max_minutes
        Start no new single point after this many minutes (a session's time limit).
    only
        Compute only configurations whose id starts with one of these prefixes.
    log
        Progress callback.

    Returns
    -------
    dict
        ``done`` (this call), ``total`` (in the set), ``remaining``.

    """
    from dftd3.ase import DFTD3

    from lis_dft.dft_workflows.calculators import build_calculator
    from lis_dft.dft_workflows.gpaw_calc import GpawSettings, reduced_cell
    from lis_dft.provenance import package_versions

    out_dir = Path(out_dir)
    configs = read_frames(out_dir / CONFIGURATIONS)
    if not configs:
        raise ParameterError(
            f"No {CONFIGURATIONS} in {out_dir}: run 'lis-dft reference-set build' first."
        )
    settings = GpawSettings.from_kwargs(gpaw or {"mode": "lcao", "basis": "dzp"})
    sdict = settings.as_dict()
    shash = settings_hash(sdict)
    ref_path = out_dir / REFERENCE
    done = {
        a.info["config_id"] for a in read_frames(ref_path) if a.info.get("settings_hash") == shash
    }
    todo = [a for a in configs if a.info["config_id"] not in done]
    if only:
        todo = [a for a in todo if a.info["config_id"].startswith(tuple(only))]
    todo.sort(key=len)  # small systems first: the most frames per hour
    versions = package_versions(("gpaw", "dftd3", "ase", "lis-dft"))
    start = time.perf_counter()
    n_done = 0
    for atoms in todo:
        if max_minutes is not None and (time.perf_counter() - start) / 60 > max_minutes:
            break
        cid = atoms.info["config_id"]
        work = out_dir / ".work" / cid.replace("/", "__")
        work.mkdir(parents=True, exist_ok=True)
        if not _claim(work):
            continue  # another worker is computing it
        if cid in {a.info["config_id"] for a in read_frames(ref_path)}:
            continue  # finished by another worker meanwhile
        t0 = time.perf_counter()
        frame = reduced_cell(atoms)
        cwd = os.getcwd()
        os.chdir(work)
        try:
            frame.calc = build_calculator("gpaw", "none", atoms=frame, **sdict_kwargs(sdict))
            e_pbe = float(frame.get_potential_energy())
            f_pbe = frame.get_forces()
        finally:
            os.chdir(cwd)
        d3 = frame.copy()
        d3.calc = DFTD3(method="PBE", damping="d3zero")
        e_d3, f_d3 = float(d3.get_potential_energy()), d3.get_forces()
        seconds = time.perf_counter() - t0
        from ase.calculators.singlepoint import SinglePointCalculator

        out = atoms.copy()
        out.info.update(
            {
                "energy_pbe": e_pbe,
                "energy_d3": e_d3,
                "hamiltonian": "PBE + D3(zero), GPAW " + settings.describe(),
                "gpaw_settings": json.dumps(sdict, sort_keys=True),
                "settings_hash": shash,
                "seconds": round(seconds, 1),
                "versions": json.dumps(versions, sort_keys=True),
            }
        )
        out.arrays["forces_d3"] = np.asarray(f_d3)
        out.calc = SinglePointCalculator(out, energy=e_pbe + e_d3, forces=np.asarray(f_pbe) + f_d3)
        _append_atomic(ref_path, out)
        (work / ".claim").unlink(missing_ok=True)
        n_done += 1
        log(f"{cid}: E = {e_pbe + e_d3:.4f} eV ({len(out)} atoms, {seconds:.0f} s)")
    total = len(configs)
    computed = {
        a.info["config_id"] for a in read_frames(ref_path) if a.info.get("settings_hash") == shash
    }
    # of the configurations: frames imported from runs and relaxations are not among them
    finished = sum(a.info["config_id"] in computed for a in configs)
    return {"done": n_done, "total": total, "finished": finished, "remaining": total - finished}


def sdict_kwargs(sdict: dict[str, Any]) -> dict[str, Any]:
    """GpawSettings dict -> build_calculator keyword arguments (kpts as a tuple)."""
    kw = dict(sdict)
    if kw.get("kpts"):
        kw["kpts"] = tuple(kw["kpts"])
    return kw


def status(out_dir: Path = DEFAULT_DIR) -> dict[str, Any]:
    """Per kind of configuration: how many there are, how many are computed, and their cost."""
    configs = read_frames(Path(out_dir) / CONFIGURATIONS)
    if not configs:
        raise ParameterError(
            f"No {CONFIGURATIONS} in {out_dir}: run 'lis-dft reference-set build' first."
        )
    done = {a.info["config_id"]: a for a in read_frames(Path(out_dir) / REFERENCE)}
    rows: dict[str, dict[str, Any]] = {}
    for a in configs:
        r = rows.setdefault(
            a.info["kind"], {"configurations": 0, "computed": 0, "atoms": set(), "seconds": []}
        )
        r["configurations"] += 1
        r["atoms"].add(len(a))
        if a.info["config_id"] in done:
            r["computed"] += 1
            r["seconds"].append(float(done[a.info["config_id"]].info["seconds"]))
    # frames of verified runs (reference-set import) and of DFT relaxations
    # (reference-set import-relaxation), by run / folder
    imported = [a for cid, a in done.items() if cid.startswith(("verified/", "relaxation/"))]
    if imported:
        for a in imported:
            source, tag = a.info["config_id"].split("/")[:2]
            r = rows.setdefault(
                f"{source}/{tag}",
                {"configurations": 0, "computed": 0, "atoms": set(), "seconds": []},
            )
            r["configurations"] += 1
            r["computed"] += 1
            r["atoms"].add(len(a))
            r["seconds"].append(float(a.info.get("seconds", 0.0)))
    for r in rows.values():
        secs = r.pop("seconds")
        r["atoms"] = sorted(r["atoms"])
        r["median_seconds"] = float(np.median(secs)) if secs else None
        r["cpu_hours"] = round(sum(secs) / 3600, 2)
    return {
        "kinds": rows,
        "configurations": len(configs),
        "computed": sum(1 for a in configs if a.info["config_id"] in done),
    }
