"""Barriers from a converged (climbing-image) NEB path: pure functions, no calculator.

:func:`analyse_path` turns the image energies of one path into a :class:`BarrierResult`
and checks it before anything is reported:

- the path must have both end points and at least one image between them
  (:class:`~lis_dft.errors.ParameterError` otherwise);
- its first image must be the initial state it was computed from and its last the final
  state (energies within ``tol``); a path whose end points are swapped is refused, since
  its "forward" barrier would be the reverse one;
- the highest image is the transition state only if it is an interior image, higher
  than both neighbours, with its forces converged (the climbing image); otherwise the
  verdict says why and ``is_saddle`` is False. An uphill path with no interior maximum
  (a bond dissociation in vacuum) reports its barrier as the reaction energy and says so.

Energies are in eV, relative to the initial state: forward = E_TS - E_IS,
reverse = E_TS - E_FS, reaction = E_FS - E_IS.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lis_dft.errors import ParameterError

#: |Δ| (eV) within which the path's end images must equal the relaxed end points
ENDPOINT_TOL = 0.02
#: an interior maximum less than this (eV) above an end point is no barrier (numerical
#: ripple of a monotonic path, e.g. a bond dissociation in vacuum)
RIPPLE = 0.05
#: the one imaginary mode of a saddle of the path must lie along it: |cos| with the
#: tangent at least this (a soft mode across the path is another saddle's, or noise)
MIN_PATH_OVERLAP = 0.5


@dataclass
class BarrierResult:
    """One delithiation step in one environment."""

    reaction: str
    environment: str  # "vacuum" or a catalyst surface key (LiI_100)
    energies: list[float]  # eV, relative to the initial state, every image
    path_A: list[float]  # cumulative distance along the path, Å
    forward_eV: float
    reverse_eV: float
    reaction_eV: float
    ts_index: int
    is_saddle: bool
    ts_max_force: float | None
    converged: bool
    verdict: str
    imaginary_modes_cm: list[float] = field(default_factory=list)
    calculator: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    final_state: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    neb_steps: int | None = None
    neb_stages: list[dict[str, Any]] = field(default_factory=list)
    climbed: bool | None = None  # False: no interior maximum, the climbing stage skipped
    force_calls: int | None = None
    # where the force calls went: initial_state, final_state, neb, ts_check
    force_calls_by_step: dict[str, int] = field(default_factory=dict)
    mode_atoms: int | None = None  # atoms in the TS modes (adsorbate + surface neighbours)
    mode_path_overlap: float | None = None  # |cos| of the imaginary mode and the path
    seconds: float | None = None
    #: of ``seconds``, inside the calculator
    calculator_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for results.json."""
        return asdict(self)


def path_coordinate(positions: list[np.ndarray]) -> list[float]:
    """Cumulative Cartesian distance between successive images (Å)."""
    out = [0.0]
    for a, b in itertools.pairwise(positions):
        out.append(out[-1] + float(np.linalg.norm(np.asarray(b) - np.asarray(a))))
    return out


def analyse_path(
    reaction: str,
    environment: str,
    energies: list[float | None],
    initial_energy: float,
    final_energy: float,
    ts_max_force: float | None,
    fmax: float,
    path_A: list[float] | None = None,
    converged: bool = True,
    tol: float = ENDPOINT_TOL,
    imaginary_modes_cm: list[float] | None = None,
    mode_path_overlap: float | None = None,
) -> BarrierResult:
    """Check one path and measure its barriers.

    Parameters
    ----------
    reaction, environment
        Labels (``Li2S -> LiS + Li``; ``vacuum`` or the surface key).
    energies
        Total energy of every image, end points included (eV).
    initial_energy, final_energy
        Energies of the relaxed end points the path was built from (eV).
    ts_max_force
        Largest force on the highest image (eV/Å), None if unknown.
    fmax
        Force threshold of the climbing-image stage (eV/Å).
    path_A
        Reaction coordinate of each image (Å); image numbers if None.
    converged
        Whether the NEB optimizer reported convergence.
    tol
        End images must match the relaxed end points within this (eV).
    imaginary_modes_cm
        Imaginary modes at the highest image (cm^-1), None if not computed.
    mode_path_overlap
        |cos| between the largest imaginary mode and the path tangent, None if unknown;
        below :data:`MIN_PATH_OVERLAP` the one imaginary mode is not the reaction's.

    Raises
    ------
    ParameterError
        A missing end point or image, or end points swapped or not the relaxed ones.

    """
    if len(energies) < 3 or any(e is None for e in energies):
        raise ParameterError(
            f"{reaction} ({environment}): the path needs both end points and at least one "
            f"image between them; got {len(energies)} energies "
            f"({sum(e is None for e in energies)} missing). Run the barrier again."
        )
    e = np.asarray(energies, dtype=float)
    if (
        abs(e[0] - final_energy) < tol
        and abs(e[-1] - initial_energy) < tol
        and (abs(initial_energy - final_energy) >= tol)
    ):
        raise ParameterError(
            f"{reaction} ({environment}): the path runs from the final state to the initial "
            "one (end points swapped); its forward barrier would be the reverse barrier."
        )
    for name, got, want in (("first", e[0], initial_energy), ("last", e[-1], final_energy)):
        if abs(got - want) >= tol:
            raise ParameterError(
                f"{reaction} ({environment}): the {name} image ({got:.3f} eV) is not the "
                f"relaxed end point ({want:.3f} eV): the path was not built from these "
                "end points."
            )
    rel = e - e[0]
    i = int(np.argmax(rel))
    if 0 < i < len(e) - 1 and rel[i] - rel[-1] < RIPPLE <= rel[i]:
        i = len(e) - 1  # a ripple just above the final state: the path rises to it
    interior = 0 < i < len(e) - 1
    is_max = interior and rel[i] > rel[i - 1] and rel[i] > rel[i + 1]
    forces_ok = ts_max_force is not None and ts_max_force <= fmax * 1.0001
    modes = list(imaginary_modes_cm or [])
    if not interior:
        verdict = (
            "no saddle: the energy rises to the final state (no barrier beyond the reaction "
            f"energy; an interior maximum within {RIPPLE} eV of it counts as a ripple)"
            if i == len(e) - 1
            else "no saddle: every image lies below the initial state"
        )
    elif not is_max:
        verdict = "no saddle: the highest image is not above both neighbours"
    elif not (forces_ok and converged):
        verdict = (
            f"not converged: the climbing image has forces {ts_max_force:.3f} eV/Å > {fmax}"
            if ts_max_force is not None
            else "not converged: forces on the climbing image unknown"
        )
    elif imaginary_modes_cm is not None and len(modes) != 1:
        verdict = f"not a first-order saddle: {len(modes)} imaginary modes"
    elif modes and mode_path_overlap is not None and mode_path_overlap < MIN_PATH_OVERLAP:
        verdict = (
            f"not a saddle of this path: its one imaginary mode ({modes[0]:.0f}i cm⁻¹) lies "
            f"across the path (overlap {mode_path_overlap:.2f} < {MIN_PATH_OVERLAP})"
        )
    else:
        verdict = "saddle: converged climbing image" + (
            f", one imaginary mode ({modes[0]:.0f}i cm⁻¹)" if modes else ""
        )
    return BarrierResult(
        mode_path_overlap=mode_path_overlap,
        reaction=reaction,
        environment=environment,
        energies=[float(x) for x in rel],
        path_A=list(path_A) if path_A is not None else list(range(len(e))),
        forward_eV=float(rel[i]),
        reverse_eV=float(rel[i] - rel[-1]),
        reaction_eV=float(rel[-1]),
        ts_index=i,
        is_saddle=bool(verdict.startswith("saddle")),
        ts_max_force=ts_max_force,
        converged=converged,
        verdict=verdict,
        imaginary_modes_cm=modes,
    )
