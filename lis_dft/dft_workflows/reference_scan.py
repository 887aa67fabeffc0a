"""Height scans for the reference set: an adsorbate moved rigidly along the surface normal.

A physisorbed molecule's adsorption energy depends steeply on its height: too close and
Pauli repulsion wins, too far and only dispersion is left. The reference set's adsorbate
frames each sit at one height (the one a potential relaxed them to), so a potential can
match them and still get the curve wrong, and with it which site and orientation is
lowest. Flat S8 on LiI(100) is the case in point: DFT finds it bound by 0.84 eV at the
default potential's minimum and unbound (+0.01 eV) at another run's, 0.5 Å lower over
a surface Li pulled towards it (docs/methods.md).

``lis-dft reference-set scan FILE --adsorbate S8 --site top_I --dz -0.3 --dz 0.4``
takes the last step of a DFT relaxation (DFT's own minimum, ``benchmarks/dft_hours/``)
and appends to ``configurations.extxyz``:

- ``scan/<folder>/<adsorbate>/<file>/slab``: the slab part alone, kind ``slab``, so the
  adsorption energies of the scan are taken against the slab at exactly its geometry in
  the complex (and the counterpoise step reuses that frame's energy as ``slab_own``);
- ``scan/<folder>/<adsorbate>/<file>/dz+0.40`` for each shift: the adsorbate translated
  by ``dz`` Å along the surface normal, slab unchanged, kind ``adslab`` with
  ``slab_ref`` naming the slab above and ``variant`` ``scan`` (not a minimum: left out
  of the metrics over relaxed frames).

``--lift N`` scans the other coordinate of the same contact: the ``N`` slab atoms
closest to the adsorbate are moved by ``dz`` (out of the surface for ``dz > 0``) and the
adsorbate stays (``.../lift<N>+0.40``). ``slab_ref`` is still the undeformed slab, so
these adsorption energies include the surface's deformation, and the counterpoise step
computes the deformed slab alone (``slab_own``), which fine-tuning trains as the
deformation energy. A potential that binds S8 too strongly to surface Li pulled towards
it (docs/methods.md, the race run's bridge) is tested on exactly that.

``lis-dft reference-set compute --only scan/`` then computes them and ``counterpoise
--only scan/`` corrects them, resumably, like every other frame; fine-tuning trains the
corrected frames as adsorption energies. Nothing is computed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.io.ase import AseAtomsAdaptor

from lis_dft.dft_workflows.reference_set import (
    CONFIGURATIONS,
    DEFAULT_DIR,
    _append_atomic,
    read_frames,
)
from lis_dft.errors import ParameterError
from lis_dft.structures.validation import check_adslab

#: the closest an adsorbate atom may come to a slab atom after a shift (Å)
MIN_CONTACT = 1.2
#: ``info["variant"]`` of scan frames (potential_benchmark leaves them out of relaxed metrics)
SCAN_VARIANT = "scan"


def closest_slab_atoms(atoms: Any, n_slab: int, n: int) -> list[int]:
    """The ``n`` slab atoms closest to any adsorbate atom (minimum image), nearest first."""
    from ase.geometry import get_distances

    _, d = get_distances(
        atoms.positions[n_slab:], atoms.positions[:n_slab], cell=atoms.cell, pbc=atoms.pbc
    )
    return [int(i) for i in np.argsort(d.min(axis=0), kind="stable")[:n]]


def shifted(atoms: Any, n_slab: int, dz: float, lift: int = 0) -> Any:
    """A copy of ``atoms`` with the atoms after ``n_slab`` moved by ``dz`` Å along +z.

    With ``lift > 0`` the ``lift`` slab atoms closest to the adsorbate move instead (a
    surface deformation under a fixed adsorbate).

    Raises
    ------
    ParameterError
        The adsorbate is not above the slab, or the shift brings it closer than
        :data:`MIN_CONTACT` to a slab atom.

    """
    out = atoms.copy()
    slab_top = atoms.positions[:n_slab, 2].max()
    if atoms.positions[n_slab:, 2].mean() <= slab_top:
        raise ParameterError(
            "The adsorbate is not above the slab (its centre is below the top slab atom); "
            "a height scan moves it along +z, away from a slab in the lower half of the cell."
        )
    moved = closest_slab_atoms(atoms, n_slab, lift) if lift else list(range(n_slab, len(atoms)))
    out.positions[moved, 2] += dz
    # the package's own placement check (closest adsorbate-surface contact, min distance)
    report = check_adslab(AseAtomsAdaptor.get_structure(out), n_slab, MIN_CONTACT)
    if not report.ok:
        details = "; ".join(f"{c.name}: {c.detail}" for c in report.failures())
        what = f"dz = {dz:+.2f} Å (lift {lift})" if lift else f"dz = {dz:+.2f} Å"
        smaller = "lift" if lift else "downward shift"
        raise ParameterError(
            f"{what} leaves the adsorbate less than {MIN_CONTACT} Å from a slab atom "
            f"({details}): choose a smaller {smaller}."
        )
    return out


def add_height_scan(
    relaxation: str | Path,
    adsorbate: str,
    site: str,
    shifts: list[float],
    out_dir: str | Path = DEFAULT_DIR,
    catalyst: str = "LiI_100",
    tag: str | None = None,
    log: Any = print,
    lift: int = 0,
) -> list[str]:
    """Append a height scan of a DFT relaxation's last step to ``configurations.extxyz``.

    Parameters
    ----------
    relaxation
        extxyz of a GPAW relaxation of ``adsorbate`` on a slab (adsorbate atoms last).
    adsorbate, site
        What relaxed and where: the frames join the family ``<adsorbate>@<catalyst>/<site>``.
    shifts
        Displacements along the surface normal (Å; negative: towards the surface). 0 adds
        the minimum itself.
    out_dir
        The reference set.
    catalyst
        The slab's key in family names.
    tag
        Id prefix ``scan/<tag>/``; default the name of the file's folder.
    log
        Progress callback.
    lift
        0: move the adsorbate. N > 0: move the N slab atoms closest to it instead
        (ids ``lift<N>±x.xx``), against the same undeformed slab.

    Returns
    -------
    list of str
        The config ids added (those already present are skipped).

    """
    from ase.io import read

    from lis_dft.dft_workflows.reference_import import _adsorbate_atoms

    relaxation, out_dir = Path(relaxation), Path(out_dir)
    if not shifts:
        raise ParameterError("Give at least one --dz shift (Å), e.g. --dz -0.3 --dz 0.4.")
    if len(set(shifts)) != len(shifts):
        raise ParameterError(f"--dz values repeat: {shifts}.")
    if lift < 0:
        raise ParameterError(f"--lift must be >= 0 slab atoms, not {lift}.")
    if not relaxation.is_file():
        raise ParameterError(f"{relaxation}: no such relaxation file (extxyz, one frame per step).")
    conf_path = out_dir / CONFIGURATIONS
    if not conf_path.is_file():
        raise ParameterError(
            f"No {CONFIGURATIONS} in {out_dir}: run 'lis-dft reference-set build' first."
        )
    last = read(relaxation, index=-1)
    last.set_constraint()
    last.calc = None
    n_ads = _adsorbate_atoms(last, adsorbate)
    n_slab = len(last) - n_ads
    if lift > n_slab:
        raise ParameterError(f"--lift {lift}: the slab has only {n_slab} atoms.")
    prefix = f"scan/{tag or relaxation.parent.name}/{adsorbate}/{relaxation.stem}"
    source = f"last step of the GPAW relaxation {relaxation.name}"
    frames: list[Any] = []
    slab = last[:n_slab]
    slab.info = {
        "config_id": f"{prefix}/slab",
        "family": f"slab/{catalyst}",
        "kind": "slab",
        "source": f"slab part of the {source}",
        "n_slab": n_slab,
    }
    frames.append(slab)
    for dz in sorted(shifts):
        atoms = shifted(last, n_slab, dz, lift)  # every shift checked before anything is written
        moved = (
            f"the {lift} slab atoms closest to the adsorbate moved by {dz:+.2f} Å along the "
            "surface normal (adsorbate fixed)"
            if lift
            else f"adsorbate moved by {dz:+.2f} Å along the surface normal"
        )
        atoms.info = {
            "config_id": f"{prefix}/{f'lift{lift}' if lift else 'dz'}{dz:+.2f}",
            "family": f"{adsorbate}@{catalyst}/{site}",
            "kind": "adslab",
            "source": f"{source}, {moved}",
            "n_slab": n_slab,
            "adsorbate": adsorbate,
            "slab_ref": f"{prefix}/slab",
            "variant": SCAN_VARIANT,
        }
        frames.append(atoms)
    present = {a.info["config_id"] for a in read_frames(conf_path)}
    added = []
    for atoms in frames:
        cid = atoms.info["config_id"]
        if cid in present:
            continue
        _append_atomic(conf_path, atoms)
        added.append(cid)
        log(f"{cid}: added ({len(atoms)} atoms)")
    return added
