"""Read a user's structure file (CIF, POSCAR/CONTCAR, extxyz) and refuse bad ones.

Refused, with the file named and the fix suggested: missing or empty files, files no
reader understands, structures with no atoms, NaN/inf coordinates or lattice, and
overlapping atoms.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from pymatgen.core import Molecule, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from lis_dft.errors import StructureInputError
from lis_dft.structures.validation import MIN_DISTANCE, min_distance

SUPPORTED = "CIF (.cif), POSCAR/CONTCAR (.vasp, POSCAR*, CONTCAR*) or extended XYZ (.xyz, .extxyz)"


def _read_any(path: Path) -> Structure | Molecule:
    name = path.name.lower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name.endswith((".xyz", ".extxyz")):
            from ase.io import read

            atoms = read(path, format="extxyz")
            if atoms.pbc.any() and atoms.cell.rank == 3:
                return AseAtomsAdaptor.get_structure(atoms)
            return AseAtomsAdaptor.get_molecule(atoms)
        if name.endswith(".cif"):
            return Structure.from_file(path)
        if name.endswith(".vasp") or name.startswith(("poscar", "contcar")):
            from pymatgen.io.vasp import Poscar

            return Poscar.from_file(path, check_for_potcar=False).structure
        return Structure.from_file(path)


def read_structure(path: str | Path, label: str | None = None) -> Structure | Molecule:
    """Read and sanity-check one structure file.

    Parameters
    ----------
    path
        File to read.
    label
        What the structure is for (e.g. ``"Li2S"``), used in error messages.

    Raises
    ------
    StructureInputError
        With the file, the problem, and what to do about it.

    """
    path = Path(path)
    what = f" for {label}" if label else ""
    if not path.exists():
        raise StructureInputError(f"Structure file{what} not found: {path}. Check the path.")
    if path.is_dir():
        raise StructureInputError(f"{path} is a directory; give a structure file{what}.")
    if path.stat().st_size == 0:
        raise StructureInputError(f"Structure file{what} is empty: {path}.")
    try:
        structure = _read_any(path)
    except Exception as exc:  # readers raise many types; the user needs one message
        raise StructureInputError(
            f"Could not read a structure{what} from {path}: {type(exc).__name__}: {exc}. "
            f"Supported formats: {SUPPORTED}."
        ) from exc
    if structure is None or len(structure) == 0:
        raise StructureInputError(f"{path}{what} contains no atoms.")
    coords = np.asarray(structure.cart_coords, dtype=float)
    if not np.all(np.isfinite(coords)):
        raise StructureInputError(f"{path}{what} has NaN or infinite coordinates.")
    if isinstance(structure, Structure):
        if not np.all(np.isfinite(structure.lattice.matrix)) or structure.volume <= 1e-6:
            raise StructureInputError(f"{path}{what} has a degenerate or non-finite lattice.")
    dmin = min_distance(structure)
    if dmin < MIN_DISTANCE:
        raise StructureInputError(
            f"{path}{what} has overlapping atoms: closest pair {dmin:.3f} Å apart "
            f"(minimum {MIN_DISTANCE} Å). Check the coordinates (and, for alpha-S, that "
            "the space-group origin choice matches the coordinates)."
        )
    return structure
