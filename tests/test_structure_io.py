from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from lis_dft.errors import StructureInputError
from lis_dft.structures.bulk import lithium_sulfide
from lis_dft.structures.io import read_structure


@pytest.mark.parametrize("fmt", ["cif", "poscar", "extxyz"])
def test_round_trip(fmt, tmp_path):
    s = lithium_sulfide(conventional=True)
    path = tmp_path / {"cif": "x.cif", "poscar": "POSCAR", "extxyz": "x.extxyz"}[fmt]
    if fmt == "extxyz":
        from pymatgen.io.ase import AseAtomsAdaptor

        AseAtomsAdaptor.get_atoms(s).write(path, format="extxyz")
    else:
        s.to(filename=str(path), fmt=fmt)
    back = read_structure(path)
    assert back.composition == s.composition
    assert back.volume == pytest.approx(s.volume)


def test_missing_file(tmp_path):
    with pytest.raises(StructureInputError, match="not found"):
        read_structure(tmp_path / "nope.cif", label="Li2S")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.cif"
    p.write_text("")
    with pytest.raises(StructureInputError, match="empty"):
        read_structure(p)


def test_malformed_file(tmp_path):
    p = tmp_path / "bad.cif"
    p.write_text("this is not a crystal\n_cell_length_a banana\n")
    with pytest.raises(StructureInputError, match="Could not read"):
        read_structure(p)


def test_overlapping_atoms(tmp_path):
    s = Structure(Lattice.cubic(5.0), ["Li", "Li"], [[0, 0, 0], [0.02, 0, 0]])
    p = tmp_path / "POSCAR"
    s.to(filename=str(p), fmt="poscar")
    with pytest.raises(StructureInputError, match="overlapping atoms"):
        read_structure(p)


def test_nan_coordinates(tmp_path):
    p = tmp_path / "nan.extxyz"
    p.write_text(
        '2\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
        "Li 0 0 0\nS nan 1 1\n"
    )
    with pytest.raises(StructureInputError, match="NaN"):
        read_structure(p)
