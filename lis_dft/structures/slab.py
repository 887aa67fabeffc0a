"""The LiI(100) slab of the paper: cut from a 3x3x3 supercell, 15 Å vacuum, bottom fixed.

Built with pymatgen's SlabGenerator from the conventional rocksalt cell; (100) planes
of rocksalt contain equal numbers of Li and I, so every termination is stoichiometric
and non-polar. The vacuum is then set exactly (SlabGenerator rounds it up to whole
unit cells) and the bottom layers get selective dynamics ``F F F``.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.core.surface import Slab, SlabGenerator

from lis_dft.errors import ParameterError, StructureValidationError
from lis_dft.structures.bulk import lithium_iodide


def layer_indices(structure: Structure, tol: float = 0.3) -> list[list[int]]:
    """Group sites into atomic layers along c (bottom first), within ``tol`` Å."""
    z = structure.cart_coords[:, 2]
    order = np.argsort(z)
    layers: list[list[int]] = []
    for i in order:
        if layers and abs(z[i] - z[layers[-1][0]]) <= tol:
            layers[-1].append(int(i))
        else:
            layers.append([int(i)])
    return layers


def set_vacuum(slab: Slab, vacuum: float) -> Slab:
    """Return ``slab`` with exactly ``vacuum`` Å between periodic images, centred in c."""
    m = slab.lattice.matrix
    normal = np.cross(m[0], m[1])
    normal /= np.linalg.norm(normal)
    cart = slab.cart_coords
    heights = cart @ normal
    thickness = heights.max() - heights.min()
    new_c = normal * (thickness + vacuum)
    shifted = cart - np.outer(heights.min() - vacuum / 2, normal).reshape(1, 3)
    return Slab(
        Lattice([m[0], m[1], new_c]),
        slab.species,
        shifted,
        miller_index=slab.miller_index,
        oriented_unit_cell=slab.oriented_unit_cell,
        shift=slab.shift,
        scale_factor=slab.scale_factor,
        reorient_lattice=False,
        coords_are_cartesian=True,
        to_unit_cell=True,
        site_properties=slab.site_properties,
    )


def lii_100_slab(
    bulk: Structure | None = None,
    supercell: tuple[int, int, int] = (3, 3, 3),
    vacuum: float = 15.0,
    fixed_layers: int = 3,
) -> Slab:
    """Build the stoichiometric, non-polar LiI(100) slab.

    Parameters
    ----------
    bulk
        Rocksalt LiI (any cell); defaults to experiment, a = 6.00 Å. Pass a relaxed
        bulk to cut the slab at the calculator's own lattice constant.
    supercell
        Repeats of the conventional cubic cell: (n_a, n_b) in plane and n_c conventional
        cells (2 n_c atomic layers) through the slab. (3, 3, 3) gives 216 atoms.
    vacuum
        Vacuum between periodic images, Å.
    fixed_layers
        Number of bottom atomic layers held fixed (selective dynamics).

    """
    n_a, n_b, n_c = (int(x) for x in supercell)
    if min(n_a, n_b, n_c) < 1:
        raise ParameterError(f"supercell repeats must be >= 1, got {supercell}")
    if vacuum <= 0:
        raise ParameterError(f"vacuum must be positive, got {vacuum}")
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    conv = SpacegroupAnalyzer(
        bulk or lithium_iodide(), symprec=0.01
    ).get_conventional_standard_structure()
    gen = SlabGenerator(
        conv,
        (1, 0, 0),
        min_slab_size=n_c,
        min_vacuum_size=max(1, int(np.ceil(vacuum / conv.lattice.a))),
        in_unit_planes=True,
        center_slab=True,
        primitive=False,
        lll_reduce=False,
        reorient_lattice=True,
    )
    candidates = [
        s
        for s in gen.get_slabs()
        if not s.is_polar()
        and s.is_symmetric()
        and s.composition.reduced_formula == conv.composition.reduced_formula
    ]
    if not candidates:
        raise StructureValidationError(
            "SlabGenerator found no stoichiometric, non-polar, symmetric LiI(100) termination."
        )
    slab = candidates[0]
    slab.make_supercell([n_a, n_b, 1])
    slab = set_vacuum(slab, vacuum)
    layers = layer_indices(slab)
    if not 0 <= fixed_layers < len(layers):
        raise ParameterError(
            f"fixed_layers={fixed_layers} must be between 0 and {len(layers) - 1} "
            f"(the slab has {len(layers)} layers)"
        )
    fixed = {i for layer in layers[:fixed_layers] for i in layer}
    slab.add_site_property("selective_dynamics", [[i not in fixed] * 3 for i in range(len(slab))])
    return slab
