from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Molecule

from lis_dft.structures.adsorbates import adsorbate_placements, surface_sites
from lis_dft.structures.molecules import build_molecule
from lis_dft.structures.slab import layer_indices, lii_100_slab
from lis_dft.structures.validation import check_adslab, check_slab, min_distance, vacuum_thickness


def test_paper_slab(paper_slab):
    s = paper_slab
    assert len(s) == 216  # 3x3x3 conventional cells of rocksalt
    assert s.composition.reduced_formula == "LiI"
    assert s.lattice.a == pytest.approx(18.0) and s.lattice.b == pytest.approx(18.0)
    assert vacuum_thickness(s) == pytest.approx(15.0, abs=1e-6)
    assert len(layer_indices(s)) == 6
    assert not s.is_polar() and s.is_symmetric()
    sd = np.array(s.site_properties["selective_dynamics"])
    fixed = ~sd.any(axis=1)
    z = s.cart_coords[:, 2]
    assert fixed.sum() == 108
    assert z[fixed].max() < z[~fixed].min()  # only bottom layers are fixed
    assert check_slab(s).ok


@pytest.mark.parametrize("vacuum", [10.0, 15.0, 20.5])
def test_slab_parameters(vacuum):
    s = lii_100_slab(supercell=(2, 1, 2), vacuum=vacuum, fixed_layers=1)
    assert len(s) == 2 * 1 * 2 * 8
    assert vacuum_thickness(s) == pytest.approx(vacuum, abs=1e-6)
    assert check_slab(s, vacuum=vacuum).ok


def test_polar_or_nonstoichiometric_slab_is_caught(small_slab):
    # remove one surface I: non-stoichiometric and polar
    s = small_slab.copy()
    top_i = max(
        (i for i, site in enumerate(s) if site.specie.symbol == "I"), key=lambda i: s[i].coords[2]
    )
    s.remove_sites([top_i])
    report = check_slab(s, vacuum=None)
    failed = {c.name for c in report.failures()}
    assert "stoichiometry" in failed
    assert "non-polar" in failed


def test_polar_slab_read_from_file_is_caught(small_slab, tmp_path):
    # a plain Structure (as read from a user's file) gets the same polarity check
    from pymatgen.core import Structure

    s = Structure.from_sites(small_slab.sites)
    assert check_slab(s, vacuum=12.0).ok
    li_top = max(
        (i for i, site in enumerate(s) if site.specie.symbol == "Li"), key=lambda i: s[i].coords[2]
    )
    s.remove_sites([li_top])
    assert "non-polar" in {c.name for c in check_slab(s, vacuum=None).failures()}


def test_wrong_vacuum_is_caught(small_slab):
    assert not check_slab(small_slab, vacuum=15.0).ok


def test_bad_slab_parameters():
    with pytest.raises(ValueError, match="fixed_layers"):
        lii_100_slab(supercell=(1, 1, 1), fixed_layers=5)
    with pytest.raises(ValueError, match="repeats"):
        lii_100_slab(supercell=(0, 1, 1))


def test_surface_sites_are_the_four_rocksalt_100_sites(paper_slab):
    labels = sorted(label for label, _ in surface_sites(paper_slab))
    assert labels == ["bridge_I-Li", "hollow", "top_I", "top_Li"]


@pytest.mark.parametrize("name", ["Li2S", "Li2S2", "S8"])
def test_placements_are_valid_unique_and_stable(paper_slab, name):
    mol = build_molecule(name)
    first = adsorbate_placements(paper_slab, mol, name)
    second = adsorbate_placements(paper_slab, mol, name)
    ids = [p.config_id for p in first]
    assert ids == [p.config_id for p in second]  # stable ordering
    assert len(ids) == len(set(ids)) >= 8
    assert {p.site for p in first} == {"top_Li", "top_I", "hollow", "bridge_I-Li"}
    for p in first:
        s = p.structure
        assert len(s) == len(paper_slab) + len(mol)
        assert check_adslab(s, len(paper_slab), 1.8).ok
        assert min_distance(s) > 1.8
        assert p.name == f"{name}@LiI_100/{p.config_id}"
        # adsorbate atoms are free, the bottom of the slab is fixed
        assert all(s.site_properties["selective_dynamics"][len(paper_slab)])


def test_overlapping_adsorbate_is_rejected(small_slab):
    mol = build_molecule("Li2S")
    # 0.3 Å above a surface atom is an overlap: no top-site placement survives
    low = adsorbate_placements(small_slab, mol, "Li2S", height=0.3)
    assert not {p.site for p in low} & {"top_Li", "top_I"}
    assert all(check_adslab(p.structure, len(small_slab), 1.8).ok for p in low)
    overlapping = adsorbate_placements(small_slab, mol, "Li2S", height=0.3, min_distance=0.1)
    on_top = [p for p in overlapping if p.site.startswith("top_")]
    assert on_top
    assert not any(check_adslab(p.structure, len(small_slab), 1.8).ok for p in on_top)


def test_single_atom_adsorbate(small_slab):
    placements = adsorbate_placements(small_slab, Molecule(["S"], [[0, 0, 0]]), "S")
    assert {p.orientation for p in placements} <= {
        "flat-r0",
        "flat-r45",
        "upright-r0",
        "upright-r90",
    }
    assert len({p.site for p in placements}) == len(
        placements
    )  # orientations collapse for one atom


def test_the_screening_slab_is_smaller_with_its_fixed_layers_scaled():
    from lis_dft.structures.slab import screening_supercell

    assert screening_supercell((3, 3, 3), 3) == ((2, 2, 2), 2)
    assert screening_supercell((4, 3, 2), 2) == ((2, 2, 2), 2)
    assert screening_supercell((2, 2, 1), 1) == ((2, 2, 1), 1)  # already small: itself
    assert screening_supercell((3, 3, 3), 0) == ((2, 2, 2), 0)


def _surroundings(structure, n_slab, k=6):
    """(species, distance) of the k surface atoms nearest each adsorbate atom."""
    out = []
    for i in range(n_slab, len(structure)):
        d = sorted(
            (round(structure.get_distance(i, j), 4), structure[j].specie.symbol)
            for j in range(n_slab)
        )[:k]
        out.append(d)
    return out


def test_an_adsorbate_carried_to_the_study_slab_keeps_its_shape_and_site(paper_slab):
    from lis_dft.structures.adsorbates import carry_adsorbate

    small = lii_100_slab(supercell=(2, 2, 2), fixed_layers=2)
    for p in adsorbate_placements(small, build_molecule("Li2S2"), "Li2S2")[::3]:
        s = p.structure.copy()
        s.translate_sites(
            list(range(len(small), len(s))), [0.3, -0.2, 0.4], to_unit_cell=False, frac_coords=False
        )  # a relaxed-looking, off-site geometry
        out = carry_adsorbate(s, len(small), paper_slab)
        assert len(out) == len(paper_slab) + 4
        assert out.species[len(paper_slab) :] == s.species[len(small) :]
        got, want = _surroundings(out, len(paper_slab)), _surroundings(s, len(small))
        for g, w in zip(got, want, strict=True):
            assert [x[1] for x in g] == [x[1] for x in w]
            assert np.allclose([x[0] for x in g], [x[0] for x in w], atol=1e-3)
        ads = out.cart_coords[len(paper_slab) :]
        assert np.allclose(
            np.linalg.norm(ads[0] - ads[1:], axis=1),
            np.linalg.norm(s.cart_coords[len(small)] - s.cart_coords[len(small) + 1 :], axis=1),
            atol=1e-3,
        )
        sd = out.site_properties["selective_dynamics"]
        assert sd[: len(paper_slab)] == paper_slab.site_properties["selective_dynamics"]
        assert all(all(x) for x in sd[len(paper_slab) :])


def test_an_adsorbate_is_not_carried_onto_another_surface(small_slab):
    from pymatgen.core import Lattice, Structure

    from lis_dft.structures.adsorbates import carry_adsorbate
    from lis_dft.structures.slab import catalyst_slab

    p = adsorbate_placements(small_slab, build_molecule("Li2S"), "Li2S")[0]
    nacl = catalyst_slab(
        Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        (1, 0, 0),
        (2, 2, 1),
        12.0,
        1,
    )
    with pytest.raises(ValueError, match="surfaces do not match"):
        carry_adsorbate(p.structure, len(small_slab), nacl)


def test_the_surface_under_a_carried_adsorbate_comes_along(paper_slab):
    """With surface_radius, the study slab's atoms near the adsorbate move like their twins."""
    from lis_dft.structures.adsorbates import carry_adsorbate

    small = lii_100_slab(supercell=(2, 2, 2), fixed_layers=2)
    p = adsorbate_placements(small, build_molecule("Li2S"), "Li2S")[0]
    n = len(small)
    s = p.structure.copy()
    ads = s.cart_coords[n:]
    top = [i for i in range(n) if s.cart_coords[i, 2] > s.cart_coords[:n, 2].max() - 0.5]
    near = min(top, key=lambda i: np.linalg.norm(s.cart_coords[i] - ads[0]))
    kick = np.array([0.1, -0.05, 0.3])
    s.translate_sites([near], kick, frac_coords=False, to_unit_cell=False)
    plain = carry_adsorbate(s, n, paper_slab, reference=small)
    moved = carry_adsorbate(s, n, paper_slab, reference=small, surface_radius=5.0)
    m = len(paper_slab)
    assert np.allclose(plain.cart_coords[m:], moved.cart_coords[m:])  # the adsorbate alike
    d = moved.cart_coords[:m] - plain.cart_coords[:m]
    changed = np.flatnonzero(np.linalg.norm(d, axis=1) > 1e-6)
    assert len(changed) == 1 and np.allclose(d[changed[0]], kick, atol=1e-6)
    twin = changed[0]  # the kicked atom's twin: same species, same place under the adsorbate
    assert moved[twin].specie == s[near].specie
    assert (
        np.linalg.norm(plain[twin].coords - (s[near].coords - kick - ads[0] + plain.cart_coords[m]))
        < 1e-3
    )
