"""E(V) of a molecular crystal at the basis-set limit: rigid-molecule volume scans.

alpha-S is a crystal of S8 rings held together by dispersion; its volume sets the
alpha-S -> Li2S volume expansion. The reference set's LCAO dzp frames cannot say what
volume PBE + D3 wants: basis-set superposition between the rings lowers the energy of a
compressed crystal (LCAO dzp has no E(V) minimum for alpha-S; docs/methods.md), and the
uniformly strained frames stretch the S-S bonds as much as the distances between rings.

``lis-dft reference-set ev-scan --phase S`` writes the configurations of a scan that
varies only the distances between molecules: the experimental cell scaled isotropically
with every molecule kept rigid (:func:`lis_dft.structures.bulk.rigid_molecule_scaled`),
into their own set, ``<reference>/ev_scans/configurations.extxyz``:

- ids ``ev/<phase>/v<factor>`` (``ev/S/v1.060``: 6 % above the experimental volume),
  family ``bulk/<phase>``, kind ``ev_scan``;
- computed like every other configuration, but in plane waves (no basis-set
  superposition): ``lis-dft reference-set compute --out <reference>/ev_scans --mode pw``.
  A separate folder, so that no difference is ever taken between a plane-wave and an
  LCAO energy.

Fine-tuning (:mod:`lis_dft.dft_workflows.finetune`) trains each scan point's energy
against the scan's own experimental-volume point (an E(V) difference of one
Hamiltonian and one basis) and its forces; it never uses their absolute energies.
"""

from __future__ import annotations

from pathlib import Path

from lis_dft.dft_workflows.reference_set import (
    CONFIGURATIONS,
    DEFAULT_DIR,
    Frame,
    _append_atomic,
    read_frames,
)
from lis_dft.errors import ParameterError

#: the scan's folder inside a reference set
EV_DIR = "ev_scans"
#: volume factors V / V(experiment) of a scan (the PBE + D3 minimum of alpha-S is inside)
SCALES = (0.94, 0.97, 1.0, 1.03, 1.06, 1.10, 1.14)
#: kind of the scan's frames
EV_KIND = "ev_scan"


def ev_id(phase: str, factor: float) -> str:
    """Configuration id of one scan point."""
    return f"ev/{phase}/v{factor:.3f}"


def scan_frames(
    phase: str = "S", scales: tuple[float, ...] = SCALES, homogeneous: bool = False
) -> list[Frame]:
    """The configurations of an E(V) scan of ``phase`` (experimental cell).

    Rigid-molecule scaling (molecular crystals), or with ``homogeneous`` every atom
    keeping its fractional coordinates: uniform strain, the E(V) of a crystal without
    molecules (LiI, Li2S; exact for their high-symmetry sites), whose plane-wave
    minimum checks the LCAO ``bulk/<phase>/a*`` frames' lattice constant.

    Raises
    ------
    ParameterError
        Unknown phase, a factor that is not positive, no experimental-volume point
        (the reference of every difference), or (without ``homogeneous``) a phase that is
        not a molecular crystal.

    """
    from lis_dft.structures.bulk import BULK_BUILDERS, rigid_molecule_scaled

    if phase not in BULK_BUILDERS:
        raise ParameterError(f"Unknown --phase {phase!r}; choose from {sorted(BULK_BUILDERS)}.")
    if any(f <= 0 for f in scales):
        raise ParameterError(f"--scale must be positive, got {sorted(scales)}.")
    if 1.0 not in scales:
        raise ParameterError("Include --scale 1.0: every scan point is trained against it.")
    base = BULK_BUILDERS[phase]()
    frames = []
    for f in sorted(set(scales)):
        if homogeneous:
            s = base.copy()
            s.scale_lattice(base.volume * f)
            how = "uniform strain"
        else:
            try:
                s = rigid_molecule_scaled(base, f)
            except ValueError as err:
                raise ParameterError(
                    f"--phase {phase}: {err}; a rigid-molecule scan needs one "
                    "(--homogeneous scans a crystal without molecules by uniform strain)."
                ) from err
            how = "molecules rigid"
        frames.append(
            Frame(
                ev_id(phase, f), f"bulk/{phase}", EV_KIND, s, f"experiment, {how}, volume x{f:.3f}"
            )
        )
    return frames


def add_ev_scan(
    reference_dir: Path = DEFAULT_DIR,
    phase: str = "S",
    scales: tuple[float, ...] = SCALES,
    homogeneous: bool = False,
) -> tuple[Path, list[str]]:
    """Add a scan's configurations to ``<reference_dir>/ev_scans`` (ids present are kept).

    Returns the configurations file and the ids added.
    """
    frames = scan_frames(phase, scales, homogeneous)  # bad input: nothing written
    out = Path(reference_dir) / EV_DIR
    out.mkdir(parents=True, exist_ok=True)
    path = out / CONFIGURATIONS
    have = {a.info["config_id"] for a in read_frames(path)}
    added = []
    for f in frames:
        if f.config_id not in have:
            _append_atomic(path, f.to_atoms())
            added.append(f.config_id)
    return path, added
