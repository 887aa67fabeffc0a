"""Grow the DFT reference set from verified runs (``lis-dft reference-set import RUN``).

``lis-dft verify`` computes GPAW single points (the reference set's own settings, LCAO dzp
PBE + D3(zero)) on exactly the geometries a study reports: the relaxed bulk phases and
molecules, the clean slab and the minima of every adsorbate, each carried onto the
reduced model, plus the counterpoise fragments. Those are the configurations a potential
must get right, and the hand-built reference set may not contain them (a fresh default
run found S8 upright in the LiI(100) hollow, which the set never saw). This module turns
a finished verify into reference frames:

- every non-ghost single point becomes a frame ``verified/<tag>/<task key>`` with the
  GPAW energy and forces, split into PBE and D3(zero) as :func:`reference_set.compute`
  does (D3 recomputed on the same geometry with the same dftd3 settings);
- adsorbate frames name their own clean slab and molecule (``info["slab_ref"]``,
  ``info["molecule_ref"]``), so adsorption energies pair each complex with the slab and
  molecule *of its run* (another catalyst, another relaxed slab);
- families follow the set's convention (``S8@LiI_100/hollow``; ``bulk/Li2S``), so a
  held-out family stays held out whichever run a frame came from;
- the counterpoise correction of each adsorbate frame goes into ``counterpoise.json``
  from verify's own fragment points (PBE parts: D3 of the real atoms is the same in the
  own-basis and full-basis fragment and cancels).

:func:`import_relaxation` adds the ionic steps of a GPAW relaxation (as
``benchmarks/dft_hours.py`` stores them, one extxyz frame per step with the calculator
settings in ``info["calculator"]``) as frames of kind ``relaxation``: an adsorbate on a
slab that relaxes with it, at geometries between a placement and DFT's own minimum. They
train forces only (their raw LCAO energies carry the basis-set superposition, as
uncorrected adsorbate frames do) and keep every E_A and ranking metric free of them.

Nothing is computed with DFT here. Importing is idempotent (frames already present are
skipped) and refused when the DFT settings differ from the set's (one Hamiltonian per
energy difference).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lis_dft.dft_workflows.reference_set import (
    DEFAULT_DIR,
    REFERENCE,
    _append_atomic,
    read_frames,
    settings_hash,
)
from lis_dft.errors import ParameterError

#: verify task kinds that become reference frames (ghost points only enter the BSSE).
FRAME_KINDS = {
    "bulk": "bulk",
    "molecule": "molecule",
    "slab": "slab",
    "adslab": "adslab",
    "frag_slab": "slab",
    "frag_molecule": "molecule",
    "neb": "neb",
}
#: a DFT relaxation step (:func:`import_relaxation`); forces-only in training
RELAXATION_KIND = "relaxation"


@dataclass
class ImportSummary:
    """What one import added (and skipped), for the CLI and tests."""

    run: str
    tag: str
    added: list[str] = field(default_factory=list)
    skipped_present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    counterpoise_added: list[str] = field(default_factory=list)


def site_of(config_id: str) -> str:
    """The site part of a placement id ``<site>-<orientation>-r<k>`` (``bridge_I-Li``)."""
    parts = config_id.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else config_id


def _verify_settings(verify: dict[str, Any]) -> Any:
    from lis_dft.dft_workflows.calculators import CalculatorSpec
    from lis_dft.dft_workflows.verify import VerifySettings
    from lis_dft.structures.reduced import ReducedModel

    s = verify["settings"]
    dft = CalculatorSpec(s["dft"]["name"], s["dft"]["d3"]["damping"], s["dft"].get("kwargs", {}))
    m = s["model"]
    return VerifySettings(
        dft=dft,
        model=ReducedModel(tuple(m["repeats"]), tuple(m["lateral"]), m["layers"], m["vacuum"]),
        counterpoise=s.get("counterpoise", True),
        max_configs=s.get("max_configs"),
        bulk=s.get("bulk", True),
        adsorbates=s.get("adsorbates"),
        barriers=s.get("barriers", True),
        tolerance=s.get("tolerance", 0.2),
    )


def _set_hash(reference_dir: Path) -> str | None:
    hashes = {a.info.get("settings_hash") for a in read_frames(reference_dir / REFERENCE)}
    hashes.discard(None)
    if len(hashes) > 1:
        raise ParameterError(
            f"{reference_dir / REFERENCE} mixes DFT settings {sorted(hashes)}; "
            "import into a set with one Hamiltonian."
        )
    return next(iter(hashes), None)


def _same_hamiltonian(
    source: Path, settings: dict[str, Any], reference_dir: Path, hint: str = ""
) -> str:
    """The settings hash of ``source``'s DFT, refused unless it is the set's own."""
    shash = settings_hash(settings)
    set_hash = _set_hash(reference_dir)
    if set_hash is not None and set_hash != shash:
        raise ParameterError(
            f"{source} used DFT settings {shash} ({json.dumps(settings, sort_keys=True)}), "
            f"the reference set {set_hash}: energy differences need one Hamiltonian.{hint}"
        )
    return shash


def _d3(atoms: Any) -> tuple[float, np.ndarray]:
    from dftd3.ase import DFTD3

    a = atoms.copy()
    a.calc = DFTD3(method="PBE", damping="d3zero")
    return float(a.get_potential_energy()), np.asarray(a.get_forces())


def import_verified(
    run_dir: str | Path,
    reference_dir: str | Path = DEFAULT_DIR,
    tag: str | None = None,
    log: Any = print,
) -> ImportSummary:
    """Append a verified run's DFT single points to the reference set.

    Parameters
    ----------
    run_dir
        A finished ``lis-dft run`` folder on which ``lis-dft verify`` has run
        (``verify.json`` and the DFT points in its store).
    reference_dir
        The reference set (reference.extxyz, counterpoise.json).
    tag
        Prefix of the new config ids (``verified/<tag>/...``); default the run folder's name.
    log
        Progress callback.

    Raises
    ------
    ParameterError
        No verify.json, DFT settings other than the set's, or a verify with no DFT point.

    """
    from ase.calculators.singlepoint import SinglePointCalculator
    from pymatgen.io.ase import AseAtomsAdaptor

    from lis_dft.dft_workflows.gpaw_calc import reduced_cell
    from lis_dft.dft_workflows.verify import _structure, prepare, stored_uuids, verify_flow
    from lis_dft.provenance import package_versions

    run_dir, reference_dir = Path(run_dir).absolute(), Path(reference_dir)
    vpath = run_dir / "verify.json"
    if not vpath.is_file():
        raise ParameterError(
            f"{run_dir} has no verify.json: run 'lis-dft verify {run_dir}' first, then import."
        )
    verify = json.loads(vpath.read_text())
    if verify["settings"]["dft"]["name"] != "gpaw":
        raise ParameterError(
            f"{vpath} was verified with {verify['settings']['dft']['name']!r}; the reference "
            "set holds GPAW energies only."
        )
    dft_settings = verify["settings"]["dft"]["settings"]
    shash = _same_hamiltonian(
        vpath,
        dft_settings,
        reference_dir,
        " Verify the run again with the set's settings (the defaults) and import that.",
    )
    tag = tag or run_dir.name
    results, record, store, settings, tasks, mlip = prepare(run_dir, _verify_settings(verify))
    store.connect()
    _, index = verify_flow(tasks, settings.dft, mlip, stored_uuids(store))
    slab_key = (results.get("catalyst") or {}).get("slab", "LiI_100")
    configs = {
        (ads, c["id"]): c
        for ads, block in (verify.get("adsorption") or {}).items()
        for c in block.get("configs", [])
    }
    ref_path = reference_dir / REFERENCE
    present = {a.info["config_id"] for a in read_frames(ref_path)}
    summary = ImportSummary(str(run_dir), tag)
    versions = json.dumps(package_versions(("gpaw", "dftd3", "ase", "lis-dft")), sort_keys=True)
    hamiltonian = f"PBE + D3(zero), {verify['settings']['dft']['model']}"
    source = f"lis-dft verify of {run_dir.name} ({mlip.label} minimum)"
    prefix = f"verified/{tag}"
    energies: dict[str, tuple[float, float]] = {}  # key -> (E_total, E_d3)
    for task in tasks:
        doc = store.docs_store.query_one({"uuid": index[(task.key, "dft")]}, properties=["output"])
        if doc is None:
            summary.missing.append(task.key)
            continue
        out = doc["output"]
        atoms = AseAtomsAdaptor.get_atoms(task.structure)
        atoms.set_constraint()
        atoms = reduced_cell(atoms)  # the cell verify evaluated (same positions, wrapped)
        if task.ghosts:
            energies[task.key] = (float(out["energy"]), float("nan"))
            continue
        e_d3, f_d3 = _d3(atoms)
        energies[task.key] = (float(out["energy"]), e_d3)
        cid = f"{prefix}/{task.key}"
        if cid in present:
            summary.skipped_present.append(cid)
            continue
        kind = FRAME_KINDS[task.kind]
        info: dict[str, Any] = {
            "config_id": cid,
            "kind": kind,
            "source": source,
            "n_slab": 0,
            "energy_pbe": float(out["energy"]) - e_d3,
            "energy_d3": e_d3,
            "hamiltonian": hamiltonian,
            "gpaw_settings": json.dumps(dft_settings, sort_keys=True),
            "settings_hash": shash,
            "seconds": round(float(out.get("seconds", 0.0)), 1),
            "versions": versions,
        }
        if task.kind == "adslab":
            c = configs.get((task.adsorbate, task.config_id), {})
            n_ads = len(_structure(record["molecules"][task.adsorbate]))
            info.update(
                family=f"{task.adsorbate}@{slab_key}/{site_of(task.config_id)}",
                adsorbate=task.adsorbate,
                n_slab=len(atoms) - n_ads,
                slab_ref=f"{prefix}/slab",
                molecule_ref=f"{prefix}/molecule/{task.adsorbate}",
            )
            for flag in ("intact", "surface_intact"):
                if c.get(flag) is not None:
                    info[flag] = bool(c[flag])
        elif task.kind in ("frag_slab", "frag_molecule"):
            info["family"] = f"{task.adsorbate}@{slab_key}/{site_of(task.config_id)}/fragments"
        elif task.kind == "neb":  # a delithiation path's IS, TS or FS (lis-dft barriers)
            env = task.key.split("/")[2]
            info["family"] = f"{task.adsorbate}@{env}/delithiation"
            info["adsorbate"] = task.adsorbate
        elif task.kind == "slab":
            info["family"] = f"slab/{slab_key}"
            info["n_slab"] = len(atoms)
        else:  # bulk/<phase>, molecule/<name>
            info["family"] = task.key
        frame = atoms.copy()
        frame.info = info
        frame.arrays["forces_d3"] = f_d3
        frame.calc = SinglePointCalculator(
            frame, energy=float(out["energy"]), forces=np.asarray(out["forces"])
        )
        _append_atomic(ref_path, frame)
        summary.added.append(cid)
        log(f"{cid}: E = {float(out['energy']):.4f} eV ({len(frame)} atoms)")
    summary.counterpoise_added = _add_counterpoise(
        reference_dir, shash, prefix, tasks, energies, dft_settings
    )
    if not summary.added and not summary.skipped_present:
        raise ParameterError(
            f"{run_dir}'s store holds none of verify's DFT points: run 'lis-dft verify' to "
            "the end (it resumes), then import."
        )
    return summary


def relaxation_steps(frames: list[Any], min_step: float) -> list[int]:
    """Indices of the relaxation steps worth keeping as training frames.

    The first, every step that moved an atom by more than ``min_step`` Å from the last
    kept one, and the last: consecutive BFGS steps near a minimum are near-copies that
    would only weigh the basin more.
    """
    if min_step < 0:
        raise ParameterError(f"--min-step must be >= 0 Å, got {min_step}.")
    kept = [0]
    for i in range(1, len(frames)):
        moved = np.linalg.norm(frames[i].positions - frames[kept[-1]].positions, axis=1).max()
        if moved > min_step:
            kept.append(i)
    if len(frames) > 1 and kept[-1] != len(frames) - 1:
        kept.append(len(frames) - 1)
    return kept


def import_relaxation(
    path: str | Path,
    adsorbate: str,
    site: str,
    reference_dir: str | Path = DEFAULT_DIR,
    catalyst: str = "LiI_100",
    tag: str | None = None,
    min_step: float = 0.05,
    log: Any = print,
) -> ImportSummary:
    """Append the ionic steps of one GPAW relaxation of an adsorbate on a slab.

    Parameters
    ----------
    path
        extxyz of the steps, each with energy and forces (GPAW + D3(zero)) and the GPAW
        options in ``info["calculator"]`` (JSON; ``benchmarks/dft_hours.py`` writes this).
    adsorbate, site
        What relaxed and where it started (``S8``, ``top_I``): the frames join the family
        ``<adsorbate>@<catalyst>/<site>``, so a held-out family holds them out too.
    reference_dir
        The reference set (reference.extxyz).
    catalyst
        The slab's key in family names (``LiI_100``).
    tag
        Id prefix ``relaxation/<tag>/``; default the name of the file's folder.
    min_step
        Keep a step only if an atom moved more than this (Å) since the last kept one
        (:func:`relaxation_steps`); 0 keeps every step.
    log
        Progress callback.

    Raises
    ------
    ParameterError
        A missing or empty file, a step without energy, forces or GPAW settings, or GPAW
        settings whose Hamiltonian differs from the set's.

    """
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import read

    from lis_dft.dft_workflows.gpaw_calc import GpawSettings
    from lis_dft.provenance import package_versions

    path, reference_dir = Path(path), Path(reference_dir)
    if not path.is_file():
        raise ParameterError(f"{path}: no such relaxation file (extxyz, one frame per step).")
    try:
        frames = read(path, index=":")
    except Exception as exc:  # ASE raises many types for a malformed file
        raise ParameterError(f"{path} is not a readable extxyz trajectory: {exc}") from exc
    if not frames:
        raise ParameterError(f"{path} holds no frames.")
    options = {frames[0].info.get("calculator")}
    for i, f in enumerate(frames):
        if f.calc is None or "energy" not in f.calc.results or "forces" not in f.calc.results:
            raise ParameterError(f"{path}, step {i}: no energy and forces; import DFT steps only.")
        options.add(f.info.get("calculator"))
    if len(options) != 1 or None in options:
        raise ParameterError(
            f"{path}: every step must record the same GPAW options in info['calculator'] "
            f"(found {sorted(map(str, options))})."
        )
    calc = json.loads(options.pop())
    if calc.get("name") != "gpaw" or calc.get("d3") != "zero":
        raise ParameterError(
            f"{path} was computed with {calc}; the reference set holds GPAW PBE + D3(zero) only."
        )
    gpaw_kwargs = {k: v for k, v in calc.items() if k not in ("name", "d3")}
    dft = GpawSettings.from_kwargs(gpaw_kwargs).as_dict()
    # the SCF stopping criterion is not the Hamiltonian: hash what defines the energies
    hamiltonian_settings = {k: v for k, v in dft.items() if k != "convergence_forces"}
    shash = _same_hamiltonian(path, hamiltonian_settings, reference_dir)
    hamiltonian = (
        "PBE + D3(zero), GPAW "
        + GpawSettings.from_kwargs(
            {k: v for k, v in gpaw_kwargs.items() if k != "convergence_forces"}
        ).describe()
    )
    tag = tag or path.parent.name
    prefix = f"relaxation/{tag}/{adsorbate}/{path.stem}"
    ref_path = reference_dir / REFERENCE
    present = {a.info["config_id"] for a in read_frames(ref_path)} if ref_path.exists() else set()
    versions = json.dumps(package_versions(("gpaw", "dftd3", "ase", "lis-dft")), sort_keys=True)
    n_ads = _adsorbate_atoms(frames[0], adsorbate)
    summary = ImportSummary(str(path), tag)
    for i in relaxation_steps(frames, min_step):
        cid = f"{prefix}/step{i:03d}"
        if cid in present:
            summary.skipped_present.append(cid)
            continue
        f = frames[i]
        energy, forces = float(f.get_potential_energy()), np.asarray(f.get_forces())
        atoms = f.copy()
        atoms.set_constraint()
        atoms.calc = None
        e_d3, f_d3 = _d3(atoms)
        atoms.info = {
            "config_id": cid,
            "kind": RELAXATION_KIND,
            "family": f"{adsorbate}@{catalyst}/{site}",
            "adsorbate": adsorbate,
            "source": f"GPAW relaxation {path.name}, step {i} of {len(frames) - 1}",
            "n_slab": len(atoms) - n_ads,
            "energy_pbe": energy - e_d3,
            "energy_d3": e_d3,
            "hamiltonian": hamiltonian,
            "gpaw_settings": json.dumps(hamiltonian_settings, sort_keys=True),
            "settings_hash": shash,
            "scf_convergence_forces": dft.get("convergence_forces"),
            "seconds": round(float(f.info.get("seconds", 0.0)), 1),
            "versions": versions,
        }
        atoms.arrays["forces_d3"] = f_d3
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        _append_atomic(ref_path, atoms)
        summary.added.append(cid)
        log(f"{cid}: E = {energy:.4f} eV ({len(atoms)} atoms)")
    return summary


def _adsorbate_atoms(atoms: Any, adsorbate: str) -> int:
    """Atoms of ``adsorbate`` in a slab + adsorbate frame: the adsorbate's atoms come last."""
    from pymatgen.core import Composition

    try:
        n = int(Composition(adsorbate).num_atoms)
    except Exception as exc:
        raise ParameterError(f"--adsorbate {adsorbate!r} is not a formula (S8, Li2S2).") from exc
    tail = atoms.get_chemical_symbols()[-n:]
    if len(atoms) <= n or Composition({el: tail.count(el) for el in tail}) != Composition(
        adsorbate
    ):
        raise ParameterError(
            f"The last {n} atoms of the relaxation are {''.join(tail)}, not {adsorbate}: "
            "give the adsorbate that relaxed (its atoms follow the slab's)."
        )
    return n


def _add_counterpoise(
    reference_dir: Path,
    shash: str,
    prefix: str,
    tasks: list[Any],
    energies: dict[str, tuple[float, float]],
    dft_settings: dict[str, Any],
) -> list[str]:
    """BSSE of every imported adsorbate frame whose four fragment points are done."""
    from lis_dft.dft_workflows.reference_counterpoise import (
        CounterpoisePoint,
        _save_point,
        load,
    )

    done = load(reference_dir)["points"]
    added = []
    for t in tasks:
        if t.kind != "adslab":
            continue
        base = f"{t.adsorbate}/{t.config_id}"
        keys = {
            "slab_own": f"frag/{base}/slab",
            "molecule_own": f"frag/{base}/molecule",
            "slab_ghost": f"cp/{base}/slab",
            "molecule_ghost": f"cp/{base}/molecule",
        }
        cid = f"{prefix}/{t.key}"
        if cid in done or not all(k in energies for k in keys.values()):
            continue
        # PBE parts: a ghost point carries D3 of the same real atoms as its own-basis twin
        d3 = {"slab": energies[keys["slab_own"]][1], "molecule": energies[keys["molecule_own"]][1]}
        parts = {name: energies[key][0] - d3[name.split("_")[0]] for name, key in keys.items()}
        _save_point(
            reference_dir,
            shash,
            dft_settings,
            CounterpoisePoint(cid, **parts, slab_own_from="lis-dft verify", seconds=0.0),
        )
        added.append(cid)
    return added
