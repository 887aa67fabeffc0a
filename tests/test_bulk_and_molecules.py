from __future__ import annotations

import numpy as np
import pytest

from lis_dft.errors import StructureValidationError
from lis_dft.structures import bulk, molecules
from lis_dft.structures.validation import (
    check_bulk,
    check_molecule,
    neighbour_counts,
    spacegroup_number,
)


@pytest.mark.parametrize(
    ("name", "n_conv", "n_prim", "sg"),
    [
        ("Li", 2, 1, 229),
        ("S", 128, 32, 70),
        ("Li2S", 12, 3, 225),
        ("Li2S2", 8, 8, 194),
        ("LiI", 8, 2, 225),
    ],
)
def test_bulk_cells_match_reference(name, n_conv, n_prim, sg):
    conv = bulk.build_bulk(name, conventional=True)
    prim = bulk.build_bulk(name)
    assert len(conv) == n_conv
    assert len(prim) == n_prim
    assert spacegroup_number(conv) == sg
    assert spacegroup_number(prim) == sg
    assert check_bulk(name, conv).ok
    assert check_bulk(name, prim).ok


def test_lattice_constants_from_reference():
    assert bulk.lithium_bcc(conventional=True).lattice.a == pytest.approx(3.51)
    assert bulk.lithium_sulfide(conventional=True).lattice.a == pytest.approx(5.708)
    assert bulk.lithium_iodide(conventional=True).lattice.a == pytest.approx(6.00)
    s = bulk.alpha_sulfur()
    assert s.lattice.abc == pytest.approx((10.4646, 12.8660, 24.4860))
    assert s.density == pytest.approx(2.07, abs=0.02)  # g/cm3, alpha-S


def test_alpha_sulfur_every_atom_has_two_ring_neighbours():
    s = bulk.alpha_sulfur()
    counts = neighbour_counts(s, "S", 2.06)
    assert counts.tolist() == [2] * 128
    d = s.distance_matrix + np.eye(len(s)) * 99
    assert d.min() == pytest.approx(2.036, abs=0.002)


def test_wrong_origin_choice_for_alpha_sulfur_is_caught():
    wrong = bulk.alpha_sulfur(setting=1)
    report = check_bulk("S", wrong)
    assert not report.ok
    names = {c.name for c in report.failures()}
    assert "minimum distance" in names
    with pytest.raises(StructureValidationError, match="minimum distance"):
        report.raise_if_failed()


def test_li2s2_dimer_and_prototype_scaling():
    s = bulk.li2s2_hexagonal()
    assert s.lattice.a == pytest.approx(3.14 * 1.25)
    assert s.lattice.c == pytest.approx(7.65 * 1.25)
    counts = neighbour_counts(s, "S", 2.3)
    assert counts.tolist() == [1, 1, 1, 1]
    # a z that puts the S atoms on top of each other breaks the dimer check
    assert not check_bulk("Li2S2", bulk.li2s2_hexagonal(z_s=0.80)).ok


def _dihedral(p0, p1, p2, p3):
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1 /= np.linalg.norm(b1)
    v = b0 - np.dot(b0, b1) * b1
    w = b2 - np.dot(b2, b1) * b1
    return np.degrees(np.arctan2(np.dot(np.cross(b1, v), w), np.dot(v, w)))


def test_s8_crown_geometry():
    m = molecules.s8_crown()
    xyz = m.cart_coords
    bonds = [np.linalg.norm(xyz[i] - xyz[(i + 1) % 8]) for i in range(8)]
    assert bonds == pytest.approx([2.05] * 8, abs=1e-6)
    a = xyz[7] - xyz[0]
    b = xyz[1] - xyz[0]
    angle = np.degrees(np.arccos(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)))
    assert angle == pytest.approx(108.0, abs=1e-6)
    dihedral = abs(_dihedral(xyz[0], xyz[1], xyz[2], xyz[3]))
    assert dihedral == pytest.approx(99, abs=3)
    assert check_molecule("S8", m).ok


def test_gas_molecules_are_boxed_with_vacuum():
    for name in ("S8", "Li2S", "Li2S2"):
        s = molecules.boxed(molecules.build_molecule(name), vacuum=15.0)
        assert check_molecule(name, s).ok
        extent = np.ptp(s.cart_coords, axis=0)
        assert np.all(np.array(s.lattice.abc) - extent == pytest.approx(15.0))
