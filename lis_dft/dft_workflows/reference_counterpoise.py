"""Counterpoise (Boys-Bernardi) corrections for the adsorbate frames of the reference set.

The reference set's energies are LCAO dzp, whose incomplete basis makes a molecule near
the surface look more bound than it is (basis-set superposition, 0.7-1.1 eV on LiI(100),
docs/methods.md). Adsorption energies taken straight from it are therefore no target for
a potential. For every relaxed adsorbate frame this module computes the four fragment
energies of the correction, PBE only (D3 acts on real atoms and is the same on both sides),
all in the frame's own cell and k-point mesh:

- ``slab_own``: the slab atoms at their geometry in the complex, own basis;
- ``molecule_own``: the adsorbate at its geometry in the complex, own basis;
- ``slab_ghost``: the slab atoms with the adsorbate's basis functions as ghosts;
- ``molecule_ghost``: the adsorbate with the slab's basis functions as ghosts.

BSSE = (slab_own - slab_ghost) + (molecule_own - molecule_ghost) >= 0, and the
counterpoise-corrected adsorbate-frame energy is ``E(frame) + BSSE``: every adsorption
energy built from it (against the clean slab and the isolated molecule) is corrected by
the same amount as in ``lis-dft verify``. When the slab part of a frame is exactly a
clean-slab frame of the set (adsorbate relaxed on a frozen slab), that frame's PBE energy
is reused for ``slab_own``.

Results go to ``counterpoise.json`` beside reference.extxyz. Each fragment is cached in
``.work/`` as it finishes and the JSON is rewritten atomically, so the computation runs
in pieces (``--max-minutes``) and several workers may share it (each claims a frame).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lis_dft.dft_workflows.reference_set import (
    CONFIGURATIONS,
    DEFAULT_DIR,
    REFERENCE,
    _claim,
    read_frames,
    sdict_kwargs,
    settings_hash,
)
from lis_dft.errors import ParameterError
from lis_dft.fileio import atomic_write_text, update_json

COUNTERPOISE = "counterpoise.json"
FRAGMENTS = ("slab_own", "molecule_own", "slab_ghost", "molecule_ghost")
#: Same geometry (Å) for reusing a clean-slab frame's energy as ``slab_own``.
SAME_GEOMETRY_TOL = 1e-4


@dataclass(frozen=True)
class CounterpoisePoint:
    """The correction of one adsorbate frame (energies in eV, PBE part only)."""

    config_id: str
    slab_own: float
    molecule_own: float
    slab_ghost: float
    molecule_ghost: float
    slab_own_from: str
    seconds: float

    @property
    def bsse(self) -> float:
        """Basis-set superposition error, ≥ 0 up to SCF noise."""
        return (self.slab_own - self.slab_ghost) + (self.molecule_own - self.molecule_ghost)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict with the BSSE included."""
        return {**asdict(self), "bsse": self.bsse}


def candidates(reference: list[Any]) -> list[Any]:
    """Relaxed adsorbate frames, sound ones (adsorbate and surface intact) first."""
    relaxed = [
        a
        for a in reference
        if a.info.get("kind") == "adslab" and not a.info["config_id"].endswith("/placement")
    ]

    def group(a: Any) -> tuple[bool, bool]:
        sound = a.info.get("intact") is True and a.info.get("surface_intact") is True
        return (not sound, not a.info["config_id"].endswith("/frozen"))

    # round-robin over adsorbates inside each group, so partial results cover all of them
    rank: dict[tuple, int] = {}
    keyed = []
    for a in sorted(relaxed, key=lambda a: a.info["config_id"]):
        k = (*group(a), a.info.get("adsorbate", ""))
        rank[k] = rank.get(k, -1) + 1
        keyed.append(((*group(a), rank[k], a.info.get("adsorbate", "")), a))
    return [a for _, a in sorted(keyed, key=lambda t: t[0])]


def fragments(atoms: Any) -> dict[str, tuple[Any, list[int] | None]]:
    """The four fragment calculations of one frame: (atoms, ghost indices)."""
    n_slab = int(atoms.info["n_slab"])
    slab_idx = list(range(n_slab))
    mol_idx = list(range(n_slab, len(atoms)))
    return {
        "slab_own": (atoms[slab_idx], None),
        "molecule_own": (atoms[mol_idx], None),
        "slab_ghost": (atoms.copy(), mol_idx),
        "molecule_ghost": (atoms.copy(), slab_idx),
    }


def matching_slab(atoms: Any, reference: list[Any]) -> Any | None:
    """The clean-slab frame whose geometry and cell are exactly the frame's slab part."""
    n_slab = int(atoms.info["n_slab"])
    part = atoms[:n_slab]
    for ref in reference:
        if ref.info.get("kind") != "slab" or len(ref) != n_slab:
            continue
        if ref.info.get("settings_hash") != atoms.info.get("settings_hash"):
            continue
        if ref.get_chemical_symbols() != part.get_chemical_symbols():
            continue
        if not np.allclose(ref.cell[:], part.cell[:], atol=SAME_GEOMETRY_TOL):
            continue
        d = part.positions - ref.positions
        frac = np.linalg.solve(part.cell[:].T, d.T).T
        frac -= np.round(frac)
        if np.abs(frac @ part.cell[:]).max() < SAME_GEOMETRY_TOL:
            return ref
    return None


def load(out_dir: Path = DEFAULT_DIR) -> dict[str, Any]:
    """counterpoise.json (an empty record if there is none)."""
    path = Path(out_dir) / COUNTERPOISE
    if not path.exists():
        return {"settings_hash": None, "points": {}}
    return json.loads(path.read_text())


def corrections(out_dir: Path = DEFAULT_DIR) -> dict[str, float]:
    """config_id -> BSSE (eV) for every frame corrected so far."""
    return {cid: p["bsse"] for cid, p in load(out_dir)["points"].items()}


def _save_point(out_dir: Path, shash: str, settings: dict[str, Any], point: CounterpoisePoint):
    """Add one point to counterpoise.json (locked, written atomically)."""
    path = out_dir / COUNTERPOISE

    def change(data: dict[str, Any]) -> dict[str, Any]:
        data = data or {"settings_hash": None, "points": {}}
        if data.get("settings_hash") not in (None, shash):
            raise ParameterError(
                f"{path} was computed with other GPAW settings ({data['settings_hash']}); "
                "move it away to start a new set."
            )
        data["settings_hash"], data["settings"] = shash, settings
        data["points"][point.config_id] = point.as_dict()
        data["points"] = dict(sorted(data["points"].items()))
        return data

    update_json(path, change)


def compute(
    out_dir: Path = DEFAULT_DIR,
    max_minutes: float | None = None,
    only: list[str] | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Counterpoise fragments of every relaxed adsorbate frame not yet corrected.

    Parameters
    ----------
    out_dir
        Folder with reference.extxyz; counterpoise.json is written there.
    max_minutes
        Start no new fragment after this many minutes.
    only
        Only frames whose config_id starts with one of these prefixes.
    log
        Progress callback.

    Returns
    -------
    dict
        ``done`` (frames finished by this call), ``total``, ``finished``, ``remaining``.

    """
    from lis_dft.dft_workflows.calculators import build_calculator
    from lis_dft.dft_workflows.gpaw_calc import reduced_cell

    out_dir = Path(out_dir)
    reference = read_frames(out_dir / REFERENCE)
    if not reference:
        raise ParameterError(
            f"No {REFERENCE} in {out_dir}: run 'lis-dft reference-set compute' first "
            f"(it needs {CONFIGURATIONS})."
        )
    sdict = json.loads(reference[0].info["gpaw_settings"])
    if sdict.get("mode") != "lcao":
        raise ParameterError("Counterpoise corrections only apply to an LCAO reference set.")
    shash = settings_hash(sdict)
    todo = candidates(reference)
    total = len(todo)
    done_ids = set(load(out_dir)["points"])
    todo = [a for a in todo if a.info["config_id"] not in done_ids]
    if only:
        todo = [a for a in todo if a.info["config_id"].startswith(tuple(only))]
    start = time.perf_counter()
    n_done = 0
    for atoms in todo:
        cid = atoms.info["config_id"]
        work = out_dir / ".work" / ("cp__" + cid.replace("/", "__"))
        work.mkdir(parents=True, exist_ok=True)
        if not _claim(work):
            continue
        if cid in load(out_dir)["points"]:
            (work / ".claim").unlink(missing_ok=True)
            continue
        energies: dict[str, float] = {}
        seconds = 0.0
        slab_from = "computed"
        same = matching_slab(atoms, reference)
        if same is not None:
            energies["slab_own"] = float(same.info["energy_pbe"])
            slab_from = same.info["config_id"]
        stopped = False
        for name, (frag, ghosts) in fragments(atoms).items():
            cache = work / f"{name}.json"
            if cache.exists():
                rec = json.loads(cache.read_text())
                if rec["settings_hash"] == shash:
                    energies[name], seconds = rec["energy"], seconds + rec["seconds"]
                    continue
            if name in energies:
                continue
            if max_minutes is not None and (time.perf_counter() - start) / 60 > max_minutes:
                stopped = True
                break
            t0 = time.perf_counter()
            frame = reduced_cell(frag)
            cwd = os.getcwd()
            os.chdir(work)
            try:
                frame.calc = build_calculator(
                    "gpaw", "none", atoms=frame, ghosts=ghosts, **sdict_kwargs(sdict)
                )
                e = float(frame.get_potential_energy())
            finally:
                os.chdir(cwd)
            dt = time.perf_counter() - t0
            energies[name], seconds = e, seconds + dt
            atomic_write_text(
                cache,
                json.dumps({"energy": e, "seconds": round(dt, 1), "settings_hash": shash}),
            )
            log(f"{cid} {name}: {e:.4f} eV ({len(frame)} atoms, {dt:.0f} s)")
        (work / ".claim").unlink(missing_ok=True)
        if stopped:
            break
        point = CounterpoisePoint(cid, **energies, slab_own_from=slab_from, seconds=seconds)
        _save_point(out_dir, shash, sdict, point)
        n_done += 1
        log(f"{cid}: BSSE = {point.bsse:.3f} eV")
    finished = len(load(out_dir)["points"])
    return {"done": n_done, "total": total, "finished": finished, "remaining": total - finished}
