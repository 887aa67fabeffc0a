"""Bulk crystal builders from experimental data (shared/REFERENCE.md).

Sources
-------
- Li: bcc, Im-3m, a = 3.51 Å (room temperature).
- alpha-S: Fddd (No. 70) **origin choice 2**, Rettig & Trotter, Acta Cryst. C43, 2260 (1987).
- Li2S: antifluorite, Fm-3m, a = 5.708 Å.
- Li2S2: predicted P6_3/mmc, Li2O2 prototype (a = 3.14, c = 7.65 Å) scaled by 1.25.
- LiI: rocksalt, Fm-3m, a = 6.00 Å.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase.spacegroup import crystal
from pymatgen.core import Composition, Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

# Rettig & Trotter (1987): four S in the asymmetric unit, origin choice 2.
ALPHA_S_CELL = (10.4646, 12.8660, 24.4860)
ALPHA_S_BASIS = (
    (0.8554, 0.9526, 0.9516),
    (0.7844, 0.0301, 0.0763),
    (0.7069, 0.9795, 0.0040),
    (0.7862, 0.9073, 0.1290),
)
LI2O2_A, LI2O2_C = 3.14, 7.65
LI2S2_SCALE = 1.25
LI2S2_Z_S = 0.86  # S 4f z; gives an S-S dimer of 0.22 c = 2.10 Å at the scaled c


def _primitive(structure: Structure) -> Structure:
    return SpacegroupAnalyzer(structure, symprec=1e-3).get_primitive_standard_structure()


def lithium_bcc(a: float = 3.51, conventional: bool = False) -> Structure:
    """Return bcc Li (Im-3m); 1-atom primitive cell unless ``conventional``."""
    s = Structure.from_spacegroup("Im-3m", Lattice.cubic(a), ["Li"], [[0, 0, 0]])
    return s if conventional else _primitive(s)


def alpha_sulfur(conventional: bool = True, setting: int = 2) -> Structure:
    """Return alpha-S (Fddd, 16 S8 rings in the 128-atom conventional cell).

    Parameters
    ----------
    conventional
        128-atom conventional cell if True, else the 32-atom primitive cell.
    setting
        Origin choice of Fddd. The published coordinates are for origin choice 2;
        ``setting=1`` exists only to show that it gives overlapping atoms.

    """
    atoms = crystal(
        ["S"] * len(ALPHA_S_BASIS),
        basis=ALPHA_S_BASIS,
        spacegroup=70,
        setting=setting,
        cellpar=[*ALPHA_S_CELL, 90, 90, 90],
        onduplicates="keep",
    )
    s = AseAtomsAdaptor.get_structure(atoms)
    return s if conventional else _primitive(s)


def lithium_sulfide(a: float = 5.708, conventional: bool = False) -> Structure:
    """Return antifluorite Li2S (Fm-3m); 3-atom primitive unless ``conventional``."""
    s = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), ["S", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]]
    )
    return s if conventional else _primitive(s)


def li2s2_hexagonal(
    a: float = LI2O2_A * LI2S2_SCALE, c: float = LI2O2_C * LI2S2_SCALE, z_s: float = LI2S2_Z_S
) -> Structure:
    """Return Li2S2 in the Li2O2 prototype (P6_3/mmc, 8 atoms, two S2 dimers)."""
    return Structure.from_spacegroup(
        "P6_3/mmc",
        Lattice.hexagonal(a, c),
        ["Li", "Li", "S"],
        [[0, 0, 0], [1 / 3, 2 / 3, 0.25], [1 / 3, 2 / 3, z_s]],
    )


def rocksalt_halide(formula: str, a: float, conventional: bool = False) -> Structure:
    """Return rocksalt (Fm-3m) LiX; 2-atom primitive unless ``conventional``."""
    cation, anion = (el.symbol for el in sorted(Composition(formula), key=lambda el: el.X))
    s = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    return s if conventional else _primitive(s)


def lithium_iodide(a: float = 6.00, conventional: bool = False) -> Structure:
    """Return rocksalt LiI (Fm-3m); 2-atom primitive unless ``conventional``."""
    return rocksalt_halide("LiI", a, conventional)


#: Builders for the cells used in calculations (primitive where that is cheaper).
BULK_BUILDERS: dict[str, Callable[[], Structure]] = {
    "Li": lithium_bcc,
    "S": lambda: alpha_sulfur(conventional=False),
    "Li2S": lithium_sulfide,
    "Li2S2": li2s2_hexagonal,
    "LiI": lithium_iodide,
}

#: Cells written by ``lis-dft build`` (the conventional cells people recognise).
BULK_CONVENTIONAL: dict[str, Callable[[], Structure]] = {
    "Li": lambda: lithium_bcc(conventional=True),
    "S": alpha_sulfur,
    "Li2S": lambda: lithium_sulfide(conventional=True),
    "Li2S2": li2s2_hexagonal,
    "LiI": lambda: lithium_iodide(conventional=True),
}

#: Expected space-group numbers (validation).
EXPECTED_SPACEGROUP = {"Li": 229, "S": 70, "Li2S": 225, "Li2S2": 194, "LiI": 225}

#: Experimental lattice data used to judge relaxed cells (Å; Li2S2 is the scaled prototype).
EXPERIMENTAL_LATTICE = {
    "Li": {"a": 3.51},
    "S": {"a": ALPHA_S_CELL[0], "b": ALPHA_S_CELL[1], "c": ALPHA_S_CELL[2]},
    "Li2S": {"a": 5.708},
    "LiI": {"a": 6.00},
}


def build_bulk(name: str, conventional: bool = False) -> Structure:
    """Build a bulk phase by name (``Li``, ``S``, ``Li2S``, ``Li2S2``, ``LiI``)."""
    table = BULK_CONVENTIONAL if conventional else BULK_BUILDERS
    if name not in table:
        raise KeyError(f"Unknown bulk phase {name!r}; choose from {sorted(table)}.")
    return table[name]()


def molecules_of(structure: Structure, bond: float = 2.4) -> list[dict[int, np.ndarray]]:
    """Each molecule of a molecular crystal, whole: site index -> Cartesian position.

    Molecules are the connected components of the bond graph (bonds shorter than
    ``bond`` Å, with periodic images); each is unwrapped along its own bonds, so it comes
    out whole in any cell, however oblique. alpha-S gives its S8 rings (bonds 2.05 Å,
    rings at least 3.2 Å apart).
    """
    centres, neighbours, images, _ = structure.get_neighbor_list(bond)
    bonds: dict[int, list[tuple[int, np.ndarray]]] = {i: [] for i in range(len(structure))}
    for i, j, image in zip(centres.tolist(), neighbours.tolist(), images, strict=True):
        bonds[i].append((j, image))
    frac = structure.frac_coords
    placed: dict[int, np.ndarray] = {}
    molecules = []
    for root in range(len(structure)):
        if root in placed:
            continue
        placed[root] = frac[root]
        members, queue = [root], [root]
        while queue:
            i = queue.pop()
            for j, image in bonds[i]:
                if j not in placed:
                    placed[j] = frac[j] + image + (placed[i] - frac[i])
                    members.append(j)
                    queue.append(j)
        molecules.append(
            {i: structure.lattice.get_cartesian_coords(placed[i]) for i in sorted(members)}
        )
    return molecules


def rigid_molecule_scaled(structure: Structure, factor: float, bond: float = 2.4) -> Structure:
    """A molecular crystal with its volume times ``factor`` and every molecule kept rigid.

    The cell scales isotropically; each molecule's centre keeps its fractional
    coordinates and its atoms keep their Cartesian offsets from it, so only the distances
    between molecules change (the coordinate a dispersion-bound crystal's volume follows).

    Raises
    ------
    ValueError
        ``factor`` is not positive, or the crystal is not molecular (a lone atom, or one
        bonded network through the cell: nothing to keep rigid).

    """
    if factor <= 0:
        raise ValueError(f"volume factor must be positive, got {factor}")
    molecules = molecules_of(structure, bond)
    if len(molecules) < 2 or min(len(m) for m in molecules) < 2:
        raise ValueError(
            f"{structure.composition.reduced_formula} is not a molecular crystal at a bond "
            f"cutoff of {bond} Å (molecules of {sorted({len(m) for m in molecules})} atoms)"
        )
    old = structure.lattice
    new = Lattice(old.matrix * factor ** (1 / 3))
    coords = np.zeros((len(structure), 3))
    for mol in molecules:
        cart = np.array(list(mol.values()))
        centre = cart.mean(axis=0)
        shift = new.get_cartesian_coords(old.get_fractional_coords(centre)) - centre
        coords[list(mol)] = cart + shift
    return Structure(new, structure.species, coords, coords_are_cartesian=True)
