"""Vibrations on the study's own potential, for the free-energy ladder (``lis-dft free-energy``).

ASE's :class:`~ase.vibrations.Vibrations` does the finite differences (central, 0.01 Å)
and caches every displaced force in ``RUN/vibrations/<name>/``, so an interrupted run
resumes where it stopped. What vibrates:

- each isolated species of the ladder (every atom; an ideal gas);
- on the surface, the best relaxed configuration of each adsorbate: the adsorbate and
  the slab atoms within ``cutoff`` Å of it; the same slab atoms in the relaxed clean
  slab (their modes are subtracted, see :mod:`lis_dft.analysis.free_energy`).

Energies are the run's calculator (the same Hamiltonian as the E ladder); the results
go to ``RUN/free_energy.json`` and into results.json, the report and a figure.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Molecule, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from lis_dft.analysis import free_energy as fe
from lis_dft.dft_workflows.calculators import CalculatorSpec, build_calculator
from lis_dft.errors import ParameterError
from lis_dft.system import SPECIES

#: Slab atoms within this distance of the adsorbate vibrate with it, Å.
DEFAULT_CUTOFF = 3.0


def vibrating_indices(adslab: Structure, n_slab: int, cutoff: float = DEFAULT_CUTOFF) -> list[int]:
    """Adsorbate atoms (after the first ``n_slab``) and the slab atoms within ``cutoff`` of them."""
    ads = list(range(n_slab, len(adslab)))
    near: set[int] = set()
    for i in ads:
        for nb in adslab.get_neighbors(adslab[i], cutoff):
            if nb.index < n_slab:
                near.add(int(nb.index))
    return sorted(near) + ads


def vibrational_energies(
    atoms, calculator, indices: list[int] | None, cache: Path, delta: float = 0.01
) -> np.ndarray:
    """Mode energies (eV, complex for imaginary) of ``indices`` by ASE's finite differences.

    ``cache`` keeps every displacement (ASE's own cache): a rerun only computes what is
    missing.
    """
    from ase.vibrations import Vibrations

    atoms = atoms.copy()
    atoms.calc = calculator
    cache.parent.mkdir(parents=True, exist_ok=True)
    drop_unfinished(cache)
    vib = Vibrations(atoms, indices=indices, name=str(cache), delta=delta)
    vib.run()
    return vib.get_energies()


def drop_unfinished(cache: Path) -> list[Path]:
    """Remove displacements an interrupted run left unfinished; return what was removed.

    ASE claims a displacement by writing ``null`` into its cache file before computing
    it; a run killed then leaves the claim behind, and the next run would skip the
    displacement and fail reading it. Unreadable files are removed the same way.
    """
    removed = []
    for f in sorted(Path(cache).glob("cache.*.json")) if Path(cache).is_dir() else []:
        try:
            ok = json.loads(f.read_text()) is not None
        except (json.JSONDecodeError, OSError):
            ok = False
        if not ok:
            f.unlink()
            removed.append(f)
    return removed


def _symmetry_number(molecule: Molecule) -> int:
    from pymatgen.symmetry.analyzer import PointGroupAnalyzer

    try:
        return int(PointGroupAnalyzer(molecule, tolerance=0.3).get_rotational_symmetry_number())
    except Exception:  # a distorted relaxed geometry: no symmetry
        return 1


def _molecule(structure: Structure) -> Molecule:
    from lis_dft.dft_workflows.jobs import molecule_from_boxed

    return molecule_from_boxed(structure)


def run_free_energy(
    run_dir: str | Path,
    temperature: float = 298.15,
    cutoff: float = DEFAULT_CUTOFF,
    pressure: float = fe.STANDARD_PRESSURE,
) -> dict[str, Any]:
    """Vibrations, corrections and ΔG ladders of a finished run; updates its outputs.

    Returns the ``free_energy`` block added to results.json.
    """
    from lis_dft.analysis.energetics import _structure, surface_key
    from lis_dft.analysis.outputs import write_outputs
    from lis_dft.dft_workflows.verify import _rederived, load_run
    from lis_dft.fileio import atomic_write_text
    from lis_dft.provenance import provenance

    if not temperature > 0:
        raise ParameterError(f"--temperature must be positive (K), got {temperature}.")
    if not cutoff > 0:
        raise ParameterError(f"--cutoff must be positive (Å), got {cutoff}.")
    run_dir = Path(run_dir).absolute()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results, record, _ = load_run(run_dir)
        results = _rederived(results, record)
    c = results["calculator"]
    spec = CalculatorSpec(c["name"], c["d3"]["damping"], c.get("kwargs", {}))
    calc = build_calculator(spec.name, spec.d3, **spec.kwargs)
    cache = run_dir / "vibrations" / f"{spec.label.replace('/', '_')}"
    t0 = time.perf_counter()
    corrections: dict[str, dict[str, fe.Correction]] = {"vacuum": {}}
    modes: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, r in record["molecules"].items():
            if name not in SPECIES:
                continue
            mol = _molecule(_structure(r))
            atoms = AseAtomsAdaptor.get_atoms(mol)
            energies = vibrational_energies(atoms, calc, None, cache / f"molecule_{name}")
            sigma = _symmetry_number(mol)
            corrections["vacuum"][name] = fe.gas_correction(
                energies, atoms, sigma, temperature, pressure
            )
            modes[f"molecule/{name}"] = {"symmetry_number": sigma, "n_atoms": len(atoms)}
        surface = surface_key(record)
        corrections[surface] = {}
        slab = _structure(record["slab"])
        n_slab = len(slab)
        slab_atoms = AseAtomsAdaptor.get_atoms(slab)
        slab_atoms.set_constraint()
        for ads, data in record.get("adsorbates", {}).items():
            # the minimum the run reports (adsorbate and surface intact first)
            reported = (results["adsorption_energies"].get(ads) or {}).get("best_config")
            best = next(
                (c for c in data["configs"] if c["id"] == reported and c.get("relaxed")), None
            )
            if best is None or ads not in SPECIES:
                continue
            adslab = _structure(best)
            idx = vibrating_indices(adslab, n_slab, cutoff)
            atoms = AseAtomsAdaptor.get_atoms(adslab)
            atoms.set_constraint()
            e_ads = vibrational_energies(atoms, calc, idx, cache / f"adslab_{ads}_{best['id']}")
            surf_idx = [i for i in idx if i < n_slab]
            e_slab = (
                vibrational_energies(slab_atoms, calc, surf_idx, cache / f"slab_{ads}_{best['id']}")
                if surf_idx
                else np.array([])
            )
            corrections[surface][ads] = fe.adsorbate_correction(e_ads, e_slab, temperature)
            modes[f"adslab/{ads}"] = {
                "config": best["id"],
                "vibrating_atoms": len(idx),
                "surface_atoms": len(surf_idx),
            }
    landscapes = fe.free_energy_landscapes(results, corrections)
    block = {
        "temperature_K": temperature,
        "pressure_Pa": pressure,
        "cutoff_A": cutoff,
        "calculator": spec.label,
        "corrections": {
            env: {k: v.as_dict() for k, v in table.items()} for env, table in corrections.items()
        },
        "landscape": landscapes,
        "at_onset": {
            env: fe.at_potential(land, land["onset_potential_V_vs_Li"]) if land else None
            for env, land in landscapes.items()
        },
        "modes": modes,
        "method": fe.METHOD,
        "seconds": time.perf_counter() - t0,
        "provenance": provenance(),
    }
    atomic_write_text(run_dir / "free_energy.json", json.dumps(block, indent=2, default=str))
    from lis_dft.dft_workflows.verify import with_latest_sections

    results = with_latest_sections(results, run_dir, "free_energy")
    results["free_energy"] = block
    write_outputs(results, run_dir)
    return block
