"""Which Li2S/Li2S2 mixture explains a measured capacity per g of sulfur.

With fractions of the S atoms x (as Li2S), y (as Li2S2) and u (unreacted S),

    x + y + u = 1,        2x + y = Q / Q1,

where Q1 = F / (3.6 M_S) is the capacity of one electron per S atom (S -> Li2S2).
Without unreacted sulfur (u = 0) a solution exists for Q1 <= Q <= 2 Q1. Below Q1 no
Li2S/Li2S2 mixture explains the capacity; allowing unreacted sulfur then gives the
mixture with the least unreacted sulfur (all product Li2S2, u = 1 - Q/Q1), or the
mixture at a fixed u if one is given. Above 2 Q1 (all Li2S) nothing can explain it.

Papers quote the limits rounded and with different atomic masses (1672 and 1675 mAh/g S
for all Li2S, against 1671.7 computed here): a capacity within ``ROUNDING_TOLERANCE``
(relative) of a limit is taken as that limit, and the note says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lis_dft.analysis.thermo import specific_capacity
from lis_dft.errors import ParameterError

#: Relative distance from a limit (Q1 or 2 Q1) still read as that limit (rounding in
#: quoted theoretical capacities: 1672 and 1675 mAh/g S against 1671.7 computed).
ROUNDING_TOLERANCE = 0.005


def _snap(capacity: float, low: float, high: float) -> tuple[float, str]:
    """Move ``capacity`` just outside [low, high] onto the limit; say so in a note.

    Values inside the range are never moved.
    """
    for limit, outside in ((low, capacity < low), (high, capacity > high)):
        if outside and abs(capacity - limit) <= ROUNDING_TOLERANCE * limit:
            return limit, (
                f"; {capacity:.1f} mAh/g S read as the limit {limit:.1f} "
                f"(within {ROUNDING_TOLERANCE:.1%} rounding)"
            )
    return capacity, ""


@dataclass
class Mixture:
    """Fractions of the sulfur atoms in each state, and what they imply."""

    capacity: float
    li2s_fraction: float
    li2s2_fraction: float
    unreacted_s_fraction: float
    electrons_per_s: float
    capacity_s_to_li2s2: float
    capacity_s_to_li2s: float
    note: str

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def discharge_mixture(
    capacity: float, allow_unreacted: bool = False, unreacted_fraction: float | None = None
) -> Mixture:
    """Return the Li2S/Li2S2 (/S) split that gives ``capacity`` mAh per g S.

    Parameters
    ----------
    capacity
        Measured capacity, mAh per g of sulfur.
    allow_unreacted
        Allow unreacted sulfur when no Li2S/Li2S2 mixture fits (Q < Q1).
    unreacted_fraction
        Fix the unreacted fraction u instead (0 <= u < 1).

    """
    q1 = specific_capacity(1, "S")
    q_max = 2 * q1
    if not capacity == capacity or capacity < 0:  # NaN or negative
        raise ParameterError(f"Capacity must be a non-negative number of mAh/g S, got {capacity}.")
    measured = capacity
    # Below Q1 is a rounding question only when unreacted sulfur is not allowed.
    capacity, snapped = _snap(capacity, 0.0 if allow_unreacted else q1, q_max)
    if capacity > q_max * (1 + 1e-12):
        raise ParameterError(
            f"{capacity:.1f} mAh/g S exceeds the theoretical maximum {q_max:.1f} mAh/g S "
            "(all sulfur as Li2S): no mixture explains it. Check the mass normalisation."
        )
    n = capacity / q1  # electrons per S atom
    if unreacted_fraction is not None:
        u = float(unreacted_fraction)
        if not 0 <= u < 1:
            raise ParameterError(f"Unreacted fraction must be in [0, 1), got {u}.")
        capacity, snapped = _snap(measured, (1 - u) * q1, 2 * (1 - u) * q1)
        n = capacity / q1
        x, y = n - (1 - u), 2 * (1 - u) - n
        if x < -1e-12 or y < -1e-12:
            lo, hi = (1 - u) * q1, 2 * (1 - u) * q1
            raise ParameterError(
                f"With {u:.3f} of the sulfur unreacted, capacities from {lo:.1f} to {hi:.1f} "
                f"mAh/g S are possible; {capacity:.1f} is outside."
            )
        note = f"unreacted fraction fixed at {u:.3f}"
    elif n >= 1:
        u, x, y = 0.0, n - 1, 2 - n
        note = "Li2S + Li2S2, no unreacted sulfur"
    elif allow_unreacted:
        u, x, y = 1 - n, 0.0, n
        note = "below one electron per S: least unreacted sulfur, all product Li2S2"
    else:
        raise ParameterError(
            f"{capacity:.1f} mAh/g S is below {q1:.1f} mAh/g S (all sulfur as Li2S2): no "
            "Li2S/Li2S2 mixture explains it. Allow unreacted sulfur (--allow-unreacted)."
        )
    x, y = max(x, 0.0), max(y, 0.0)
    return Mixture(measured, x, y, u, n, q1, q_max, note + snapped)
