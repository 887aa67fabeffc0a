"""A deterministic mock calculator for tests and dry runs: NOT a physical model.

Energy: per-element reference energies plus a smoothly truncated Morse pair potential,

    E = sum_i e0(Z_i) + sum_{i<j} D_ij [(1 - exp(-a (r - r0_ij)))^2 - 1] f_c(r),

with r0_ij the sum of covalent radii, D_ij = sqrt(D_i D_j)(1 + |chi_i - chi_j|/2)
(so unlike, more electronegative pairs bind more strongly, as in an ionic solid), and
f_c a cosine switch from 1.2 r0 to 1.5 r0 (bonded neighbours only, so molecular
crystals such as alpha-S keep their volume instead of collapsing). It is defined for every element, smooth, and
has real minima, so relaxations converge. Forces and stress are analytic.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list
from pymatgen.core import Element

from lis_dft.dft_workflows.state import QuickStateCheck

try:  # same pairs as ASE's, about 15x faster on the study's slab (installed with sevenn)
    from matscipy.neighbours import neighbour_list as _fast_neighbour_list
except ImportError:  # pragma: no cover - the core install has no matscipy
    _fast_neighbour_list = None


def _pairs(atoms, cutoff: float):
    """(i, j, d, D) of every ordered pair within ``cutoff`` (minimum image where periodic)."""
    if _fast_neighbour_list is not None and atoms.cell.rank == 3:
        return _fast_neighbour_list("ijdD", atoms, cutoff)
    return neighbor_list("ijdD", atoms, cutoff, self_interaction=False)


ALPHA = 1.6  # 1/Å, Morse stiffness
SWITCH_ON, SWITCH_OFF = 1.2, 1.5  # cutoff window in units of r0: bonded neighbours only


@cache
def _element_params(z: int) -> tuple[float, float, float]:
    """Return (e0, D, chi) for atomic number z, deterministic for every element."""
    el = Element.from_Z(int(z))
    chi = el.X if el.X == el.X else 1.5  # NaN for noble gases
    e0 = -1.0 - 0.8 * chi  # eV/atom
    depth = 0.25 + 0.15 * chi
    return e0, depth, chi


class MockCalculator(QuickStateCheck, Calculator):
    """Morse-pair mock potential (see module docstring). For tests only."""

    implemented_properties = ("energy", "free_energy", "forces", "stress")
    name = "mock"

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Compute energy, forces and (for periodic cells) stress."""
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        numbers = atoms.numbers
        uniq = np.unique(numbers)
        table = np.zeros((int(uniq.max()) + 1, 3))  # (e0, D, chi) by atomic number
        for z in uniq:
            table[z] = _element_params(int(z))
        e0 = table[numbers, 0]
        r0_max = 2 * max(covalent_radii[int(z)] for z in uniq)
        cutoff = SWITCH_OFF * r0_max
        i, j, d, vec = _pairs(atoms, cutoff)
        zi, zj = numbers[i], numbers[j]
        r0 = covalent_radii[zi] + covalent_radii[zj]
        di, dj = table[zi, 1], table[zj, 1]
        xi, xj = table[zi, 2], table[zj, 2]
        depth = np.sqrt(di * dj) * (1 + 0.5 * np.abs(xi - xj))
        ex = np.exp(-ALPHA * (d - r0))
        morse = depth * ((1 - ex) ** 2 - 1)
        dmorse = depth * 2 * (1 - ex) * ALPHA * ex
        # cosine switch between SWITCH_ON r0 and SWITCH_OFF r0
        x = np.clip((d / r0 - SWITCH_ON) / (SWITCH_OFF - SWITCH_ON), 0, 1)
        fc = 0.5 * (1 + np.cos(np.pi * x))
        dfc = np.where(
            (x > 0) & (x < 1),
            -0.5 * np.pi * np.sin(np.pi * x) / ((SWITCH_OFF - SWITCH_ON) * r0),
            0.0,
        )
        pair = morse * fc
        dpair = dmorse * fc + morse * dfc  # dE/dr for each (i, j) pair, counted twice
        energy = e0.sum() + 0.5 * pair.sum()
        fvec = (0.5 * dpair / d)[:, None] * vec  # force on j from the pair, along r_ij
        n = len(atoms)
        forces = np.stack(
            [np.bincount(i, fvec[:, k], n) - np.bincount(j, fvec[:, k], n) for k in range(3)],
            axis=1,
        )
        self.results["energy"] = float(energy)
        self.results["free_energy"] = float(energy)
        self.results["forces"] = forces
        if atoms.cell.rank == 3 and atoms.pbc.all():
            virial = -(vec[:, :, None] * fvec[:, None, :]).sum(axis=0)
            stress = -virial / atoms.get_volume()
            self.results["stress"] = stress.flat[[0, 4, 8, 5, 2, 1]]
        else:
            self.results["stress"] = np.zeros(6)
