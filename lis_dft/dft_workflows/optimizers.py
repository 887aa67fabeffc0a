"""ASE optimizers that only see the free atoms: the same steps, a smaller Hessian.

ASE's BFGS keeps a dense 3N x 3N Hessian over *every* atom and diagonalises it at each
step, fixed atoms included. With the study's slab (219 atoms, the bottom three layers
fixed: 93 free) that ``eigh`` was the largest single cost of a mock run (64 of 143 s,
profile in ``benchmarks/RESULTS.md``). Wrapping the atoms in ASE's subset
:class:`~ase.filters.Filter` before the optimizer sees them gives it a 3N_free problem.

The trajectory does not change: with ``FixAtoms`` the forces and displacements of fixed
atoms are zero, so BFGS's Hessian updates never couple them to the free block, and the
free block evolves exactly as before (checked to 1e-12 Å in
``tests/test_optimizers.py``). Only the cost does, by (N_free / N)^3 in the
diagonalisation.

BFGS's step is ``-|H|^-1 g`` through a full eigendecomposition of ``H`` (``abs`` of the
eigenvalues, in case the updates made ``H`` indefinite). While ``H`` is positive
definite that is ``-H^-1 g``, and a Cholesky solve gives it about 10 times faster than
``eigh`` (348 free degrees of freedom: 0.8 against 9 ms). :class:`FreeBFGS` solves that
way and falls back to ASE's own step when the factorisation fails (on the mock's torn
surfaces, 45 % of steps), so the path is ASE's to rounding (``tests/test_optimizers.py``).

``OPTIMIZERS`` maps the names the study's settings use (``BFGS``, ``LBFGS``, ``FIRE``,
... as atomate2 names them) to these classes; atomate2's relaxer takes a class for its
``optimizer`` argument, so ForceFieldRelaxMaker, the screening race and the reference
set all relax through the same code.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from ase import Atoms
from ase.constraints import FixAtoms
from ase.filters import Filter
from ase.optimize import BFGS, FIRE, LBFGS, BFGSLineSearch, GPMin, LBFGSLineSearch, MDMin
from ase.optimize.optimize import Optimizer

from lis_dft.errors import ParameterError


def free_atoms(atoms):
    """Return ``atoms`` seen through a subset filter of its free atoms.

    Only a plain :class:`~ase.Atoms` whose only constraints are ``FixAtoms`` is wrapped;
    anything else (a cell filter, other constraints, nothing fixed) is returned as is.
    """
    if not isinstance(atoms, Atoms) or not atoms.constraints:
        return atoms
    if not all(isinstance(c, FixAtoms) for c in atoms.constraints):
        return atoms
    fixed = np.zeros(len(atoms), dtype=bool)
    for c in atoms.constraints:
        fixed[c.get_indices()] = True
    if not fixed.any() or fixed.all():
        return atoms
    return Filter(atoms, mask=~fixed)


class _FreeAtoms:
    """Mixin: hand the optimizer the free-atom view of its atoms."""

    def __init__(self, atoms, *args, **kwargs):
        super().__init__(free_atoms(atoms), *args, **kwargs)


try:  # ASE's BFGS state (a private module of ASE 3.26+); without it FreeBFGS is ASE's BFGS
    from ase._4.optimize.bfgs import BFGSMethod
except ImportError:  # pragma: no cover - other ASE versions
    BFGSMethod = None


class CholeskyBFGSMethod(BFGSMethod or object):
    """ASE's BFGS state; the step by a Cholesky solve while the Hessian is positive definite."""

    def compute_step(self, gradient: np.ndarray) -> np.ndarray:
        """``-H^-1 g`` (``|H|`` = ``H`` when positive definite), else ASE's eigen step."""
        # numpy factorises (the OpenBLAS that numpy's eigh uses: alternating it with
        # scipy's own OpenBLAS made each fallback step 6x slower, its threads spinning);
        # the triangular solves are level-2 work and cheap in scipy
        try:
            lower = np.linalg.cholesky(self.hessian)
        except np.linalg.LinAlgError:
            return super().compute_step(gradient)
        return -scipy.linalg.cho_solve((lower, True), gradient, check_finite=False)


class FreeBFGS(_FreeAtoms, BFGS):
    """ASE BFGS on the free atoms only (same steps, smaller Hessian, Cholesky solve)."""

    def update(self, pos, forces, pos0, forces0):
        """ASE's update; the first call starts the Cholesky-solving state."""
        if self.state is None and BFGSMethod is not None:
            self.state = CholeskyBFGSMethod(self.H0)
            return
        super().update(pos, forces, pos0, forces0)

    def read(self):
        """ASE's restart; the state it reads solves by Cholesky too."""
        super().read()
        if BFGSMethod is not None:
            self.state = CholeskyBFGSMethod(self.state.hessian)


class FreeLBFGS(_FreeAtoms, LBFGS):
    """ASE LBFGS on the free atoms only."""


class FreeFIRE(_FreeAtoms, FIRE):
    """ASE FIRE on the free atoms only."""


class FreeBFGSLineSearch(_FreeAtoms, BFGSLineSearch):
    """ASE BFGSLineSearch on the free atoms only."""


class FreeLBFGSLineSearch(_FreeAtoms, LBFGSLineSearch):
    """ASE LBFGSLineSearch on the free atoms only."""


class FreeMDMin(_FreeAtoms, MDMin):
    """ASE MDMin on the free atoms only."""


class FreeGPMin(_FreeAtoms, GPMin):
    """ASE GPMin on the free atoms only."""


#: Optimizer name (as in the study's settings and atomate2) -> class.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "BFGS": FreeBFGS,
    "LBFGS": FreeLBFGS,
    "FIRE": FreeFIRE,
    "BFGSLineSearch": FreeBFGSLineSearch,
    "LBFGSLineSearch": FreeLBFGSLineSearch,
    "MDMin": FreeMDMin,
    "GPMin": FreeGPMin,
}


def optimizer_class(name: str) -> type[Optimizer]:
    """Return the free-atom optimizer class called ``name`` (clear error if unknown)."""
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ParameterError(
            f"Unknown optimizer {name!r}; use one of {sorted(OPTIMIZERS)}."
        ) from None
