"""Free-atom optimizers: the trajectory of ASE's optimizer with FixAtoms, on fewer DOFs."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import fcc111
from ase.constraints import FixAtoms, FixBondLength
from ase.filters import Filter
from ase.optimize import BFGS, FIRE, LBFGS

from lis_dft.dft_workflows.mock import MockCalculator
from lis_dft.dft_workflows.optimizers import (
    FreeBFGS,
    FreeFIRE,
    FreeLBFGS,
    free_atoms,
    optimizer_class,
)
from lis_dft.errors import ParameterError


def _slab():
    atoms = fcc111("Cu", size=(3, 3, 4), vacuum=8.0)
    atoms.set_constraint(FixAtoms(indices=[a.index for a in atoms if a.tag >= 3]))
    rng = np.random.default_rng(3)
    atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
    atoms.set_constraint(FixAtoms(indices=[a.index for a in atoms if a.tag >= 3]))
    return atoms


@pytest.mark.parametrize(
    ("plain", "free"), [(BFGS, FreeBFGS), (LBFGS, FreeLBFGS), (FIRE, FreeFIRE)]
)
def test_free_atom_optimizer_follows_the_plain_trajectory(plain, free):
    runs = []
    for cls in (plain, free):
        atoms = _slab()
        atoms.calc = MockCalculator()
        opt = cls(atoms, logfile=None)
        opt.run(fmax=0.02, steps=25)
        runs.append((atoms.get_positions(), atoms.get_potential_energy(), opt.nsteps))
    (p0, e0, n0), (p1, e1, n1) = runs
    assert n0 == n1
    assert e1 == pytest.approx(e0, abs=1e-9)
    assert np.abs(p1 - p0).max() < 1e-8
    fixed = _slab().constraints[0].get_indices()
    assert np.allclose(p1[fixed], _slab().positions[fixed])  # fixed atoms never moved


def test_free_bfgs_hessian_is_the_free_block():
    atoms = _slab()
    atoms.calc = MockCalculator()
    n_free = len(atoms) - len(atoms.constraints[0].get_indices())
    opt = FreeBFGS(atoms, logfile=None)
    opt.run(fmax=0.02, steps=3)
    assert opt.H.shape == (3 * n_free, 3 * n_free)


def test_free_atoms_leaves_other_cases_alone():
    atoms = _slab()
    assert isinstance(free_atoms(atoms), Filter)
    bare = atoms.copy()
    bare.set_constraint()
    assert free_atoms(bare) is bare
    other = atoms.copy()
    other.set_constraint(FixBondLength(0, 1))
    assert free_atoms(other) is other  # only FixAtoms is understood
    with pytest.raises(ParameterError, match="Unknown optimizer 'Nope'"):
        optimizer_class("Nope")


def test_cholesky_step_is_ase_step_and_falls_back_when_indefinite():
    from ase._4.optimize.bfgs import BFGSMethod

    from lis_dft.dft_workflows.optimizers import CholeskyBFGSMethod

    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 30))
    g = rng.normal(size=30)
    positive = a @ a.T + 0.1 * np.eye(30)
    indefinite = positive - 5.0 * np.eye(30)
    assert np.linalg.eigvalsh(indefinite).min() < 0
    for h in (positive, indefinite):
        want = BFGSMethod(h.copy()).compute_step(g)
        got = CholeskyBFGSMethod(h.copy()).compute_step(g)
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12)


def test_free_bfgs_solves_by_cholesky():
    from lis_dft.dft_workflows.optimizers import CholeskyBFGSMethod

    atoms = _slab()
    atoms.calc = MockCalculator()
    opt = FreeBFGS(atoms, logfile=None)
    opt.run(fmax=0.02, steps=3)
    assert isinstance(opt.state, CholeskyBFGSMethod)
