"""Single points: the energy and forces of given geometries with a lis-dft calculator.

Used by ``lis-dft energy`` (a user's own files) and by ``lis-dft verify`` (as a jobflow
job per geometry).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Molecule, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from lis_dft.dft_workflows.calculators import CalculatorSpec, build_calculator
from lis_dft.dft_workflows.runner import preflight


def evaluate(
    structure: Structure, calculator: dict[str, Any], ghosts: list[int] | None = None
) -> dict[str, Any]:
    """Energy and forces of one geometry (no relaxation).

    Parameters
    ----------
    structure
        The geometry (periodic).
    calculator
        Arguments of :func:`~lis_dft.dft_workflows.calculators.build_calculator`.
    ghosts
        Atom indices that are ghosts (GPAW LCAO counterpoise).

    Returns
    -------
    dict
        ``energy`` (eV), ``forces`` (eV/Å per atom), ``max_force`` (over real atoms),
        ``n_atoms``, ``ghosts``, ``seconds``, ``formula``.

    """
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.set_constraint()
    if calculator.get("name") == "gpaw":
        from lis_dft.dft_workflows.gpaw_calc import reduced_cell

        atoms = reduced_cell(atoms)
    atoms.calc = build_calculator(**calculator, atoms=atoms, ghosts=ghosts)
    t0 = time.perf_counter()
    energy = float(atoms.get_potential_energy())
    forces = np.asarray(atoms.get_forces())
    real = [i for i in range(len(atoms)) if i not in set(ghosts or ())]
    return {
        "energy": energy,
        "forces": forces.tolist(),
        "max_force": float(np.linalg.norm(forces[real], axis=1).max()) if real else 0.0,
        "n_atoms": len(atoms),
        "ghosts": list(ghosts or []),
        "seconds": time.perf_counter() - t0,
        "formula": structure.composition.formula,
    }


def evaluate_files(
    files: list[Path], spec: CalculatorSpec, box_vacuum: float = 15.0
) -> list[dict[str, Any]]:
    """Read every file first (refusing bad ones before any work), then evaluate each.

    A molecule (extxyz without a cell) is put in a cubic box with ``box_vacuum`` Å of
    vacuum, as the study does.
    """
    from lis_dft.structures.io import read_structure
    from lis_dft.structures.molecules import boxed

    structures = []
    for f in files:
        s = read_structure(f)
        if isinstance(s, Molecule):
            s = boxed(s, box_vacuum)
        structures.append((Path(f), s))
    elements = {el.symbol for _, s in structures for el in s.composition}
    preflight(spec.name, elements)
    calc = {"name": spec.name, "d3": spec.d3, **spec.kwargs}
    rows = []
    for path, s in structures:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = evaluate(s, calc)
        rows.append(
            {
                "file": str(path),
                "formula": s.composition.formula.replace(" ", ""),
                "n_atoms": out["n_atoms"],
                "energy_eV": out["energy"],
                "energy_per_atom_eV": out["energy"] / out["n_atoms"],
                "max_force_eV_per_A": out["max_force"],
                "seconds": out["seconds"],
            }
        )
    return rows
