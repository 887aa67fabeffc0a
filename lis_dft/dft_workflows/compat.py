"""Work-arounds for upstream behaviour, each with the test that says when it can go.

``emmet_first_frame``
    emmet-core 0.87's :meth:`AtomTrajectory.to_pmg` treats ``indices=0`` as "every
    frame" (``if indices:`` is false for 0). atomate2's task document asks for frame 0
    of every relaxation (its input structure) that way, so each relaxation built one
    pymatgen Structure per ionic step just to keep the first: 1.4 s of a 266-step mock
    relaxation of the study slab, about a third of it. The patch passes an integer as a
    one-element list, which the method handles as meant. ``tests/test_calculators.py``
    checks both the bug (the test fails once emmet fixes it: then delete this) and the
    patch.
"""

from __future__ import annotations

from typing import Any

_PATCHED = "_lis_dft_first_frame"


def emmet_first_frame() -> None:
    """Make ``AtomTrajectory.to_pmg(indices=k)`` convert frame ``k`` alone (idempotent)."""
    try:
        from emmet.core.trajectory import AtomTrajectory
    except ImportError:  # pragma: no cover - emmet comes with atomate2
        return
    original = AtomTrajectory.to_pmg
    if getattr(original, _PATCHED, False):
        return

    def to_pmg(self: Any, frame_props: Any = None, indices: Any = None) -> Any:
        if isinstance(indices, int) and not isinstance(indices, bool):
            indices = [indices % len(self)] if len(self) else [indices]
        return original(self, frame_props=frame_props, indices=indices)

    to_pmg.__doc__ = original.__doc__
    setattr(to_pmg, _PATCHED, True)
    to_pmg.__wrapped__ = original  # type: ignore[attr-defined]
    AtomTrajectory.to_pmg = to_pmg  # type: ignore[method-assign]
