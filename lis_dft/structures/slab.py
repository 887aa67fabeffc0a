"""Catalyst slabs: the paper's LiI(100) (3x3x3 supercell, 15 Å vacuum, bottom fixed) and any other.

Built with pymatgen's SlabGenerator from the conventional cell; only stoichiometric,
non-polar, symmetric terminations are accepted ((100) planes of rocksalt contain equal
numbers of Li and X, so every rocksalt (100) termination is). The vacuum is then set exactly (SlabGenerator rounds it up to whole
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


def catalyst_slab(
    bulk: Structure,
    miller: tuple[int, int, int] = (1, 0, 0),
    supercell: tuple[int, int, int] = (3, 3, 3),
    vacuum: float = 15.0,
    fixed_layers: int = 3,
) -> Slab:
    """Cut a stoichiometric, non-polar, symmetric slab of ``bulk`` along ``miller``.

    Parameters
    ----------
    bulk
        The crystal (any cell; its conventional standard cell is used). Pass a relaxed
        bulk to cut the slab at the calculator's own lattice constant.
    miller
        Surface facet.
    supercell
        Repeats of the oriented cell: (n_a, n_b) in plane and n_c unit planes through
        the slab. For rocksalt (100), (3, 3, 3) is the paper's 216-atom LiI(100) slab.
    vacuum
        Vacuum between periodic images, Å.
    fixed_layers
        Number of bottom atomic layers held fixed (selective dynamics).

    Raises
    ------
    StructureValidationError
        If no termination is stoichiometric, non-polar and symmetric (the reason names
        the facet and the formula, so the user can pick another facet).

    """
    n_a, n_b, n_c = (int(x) for x in supercell)
    if min(n_a, n_b, n_c) < 1:
        raise ParameterError(f"supercell repeats must be >= 1, got {supercell}")
    if vacuum <= 0:
        raise ParameterError(f"vacuum must be positive, got {vacuum}")
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    conv = SpacegroupAnalyzer(bulk, symprec=0.01).get_conventional_standard_structure()
    formula = conv.composition.reduced_formula
    charged = conv.copy()
    try:  # Slab.is_polar needs oxidation states: without them every slab looks non-polar
        charged.add_oxidation_state_by_guess()
    except Exception:  # pragma: no cover - pymatgen could not guess; check_slab still checks
        charged = conv
    gen = SlabGenerator(
        charged,
        tuple(miller),
        min_slab_size=n_c,
        min_vacuum_size=max(1, int(np.ceil(vacuum / conv.lattice.a))),
        in_unit_planes=True,
        center_slab=True,
        primitive=False,
        lll_reduce=False,
        reorient_lattice=True,
    )
    terminations = gen.get_slabs()
    reasons = {"polar": 0, "asymmetric": 0, "non-stoichiometric": 0}
    candidates = []
    for t in terminations:
        ok = True
        for reason, bad in (
            ("polar", t.is_polar()),
            ("asymmetric", not t.is_symmetric()),
            ("non-stoichiometric", t.composition.reduced_formula != formula),
        ):
            if bad:
                reasons[reason] += 1
                ok = False
        if ok:
            candidates.append(t)
    if not candidates:
        hkl = "".join(str(i) for i in miller)
        why = ", ".join(f"{n} {r}" for r, n in reasons.items() if n)
        raise StructureValidationError(
            f"SlabGenerator found no stoichiometric, non-polar, symmetric {formula}({hkl}) "
            f"termination ({len(terminations)} terminations: {why}); choose another facet "
            "(--miller)."
        )
    slab = candidates[0]
    if charged is not conv:  # plain elements for the calculators, as before
        slab.remove_oxidation_states()
        slab.oriented_unit_cell.remove_oxidation_states()
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


def lii_100_slab(
    bulk: Structure | None = None,
    supercell: tuple[int, int, int] = (3, 3, 3),
    vacuum: float = 15.0,
    fixed_layers: int = 3,
) -> Slab:
    """The paper's LiI(100) slab: :func:`catalyst_slab` of rocksalt LiI (a = 6.00 Å default)."""
    return catalyst_slab(bulk or lithium_iodide(), (1, 0, 0), supercell, vacuum, fixed_layers)


def screening_supercell(
    supercell: tuple[int, int, int], fixed_layers: int, size: int = 2
) -> tuple[tuple[int, int, int], int]:
    """The smaller slab the adsorbate screen runs on, and its fixed layers.

    At most ``size`` cells along each direction (2 x 2 x 2 of the paper's 3 x 3 x 3:
    64 atoms instead of 216, a force call 3.3x cheaper with the default potential), the
    fixed layers scaled with the thickness (3 of 6 become 2 of 4). A slab already that
    small is its own screening slab.
    """
    small = tuple(min(size, n) for n in supercell)
    if small == tuple(supercell):
        return tuple(supercell), fixed_layers
    fixed = round(fixed_layers * small[2] / supercell[2])
    return small, max(fixed, 1) if fixed_layers > 0 else 0
