"""jobflow jobs of the study that are not plain relaxations.

Relaxations run through atomate2's ForceFieldRelaxMaker (see :mod:`.flows`); the jobs
here cut the slab from the relaxed bulk, screen adsorbate placements with single-point
energies, and collect every energy into one source-independent record.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from jobflow import job
from pymatgen.core import Molecule, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from lis_dft.dft_workflows.calculators import build_calculator
from lis_dft.structures.adsorbates import adsorbate_placements
from lis_dft.structures.slab import lii_100_slab


@job(name="build LiI(100) slab")
def build_slab(
    lii_bulk: Structure, supercell: list[int], vacuum: float, fixed_layers: int
) -> Structure:
    """Cut the LiI(100) slab from the *relaxed* LiI bulk (no strain from a foreign lattice)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slab = lii_100_slab(lii_bulk, tuple(supercell), vacuum, fixed_layers)
    return Structure.from_sites(slab.sites)


def molecule_from_boxed(structure: Structure) -> Molecule:
    """Return the molecule in a box as a bare Molecule (unwrapped around its first atom)."""
    ref = structure[0].frac_coords
    frac = structure.frac_coords - np.round(structure.frac_coords - ref)
    return Molecule(structure.species, structure.lattice.get_cartesian_coords(frac))


def transplant(placement_structure: Structure, relaxed_slab: Structure, n_slab: int) -> Structure:
    """Put a placement's adsorbate on the relaxed slab (same atom order, top-layer shift).

    Sites are found on the ideal slab, where symmetry reduction is exact; the adsorbate
    then follows the relaxed top layer up or down.
    """
    z_ideal = placement_structure.cart_coords[:n_slab, 2].max()
    z_relaxed = relaxed_slab.cart_coords[:, 2].max()
    out = relaxed_slab.copy()
    sd = relaxed_slab.site_properties.get("selective_dynamics")
    for site in placement_structure.sites[n_slab:]:
        coords = site.coords + np.array([0.0, 0.0, z_relaxed - z_ideal])
        props = {"selective_dynamics": [True, True, True]} if sd is not None else None
        out.append(site.specie, coords, coords_are_cartesian=True, properties=props)
    return out


@job(name="screen adsorbate placements")
def screen_adsorbate(
    ideal_slab: Structure,
    relaxed_slab: Structure,
    slab_energy: float,
    molecule_structure: Structure,
    molecule_energy: float,
    adsorbate: str,
    calculator: dict[str, Any],
    top_k: int,
    height: float,
    min_distance: float,
) -> dict[str, Any]:
    """Rank every placement by a single-point adsorption energy; return the best ``top_k``.

    Returns
    -------
    dict
        ``configs``: every placement tried (id, site, orientation, screening adsorption
        energy); ``candidates``: the ``top_k`` best structures (always exactly
        ``top_k`` entries, padded with the best one if fewer placements exist);
        ``candidate_ids``: their config ids.

    """
    fixed = ideal_slab.site_properties.get("selective_dynamics")
    if fixed is not None:
        relaxed_slab = relaxed_slab.copy()
        relaxed_slab.add_site_property("selective_dynamics", fixed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        placements = adsorbate_placements(
            ideal_slab,
            molecule_from_boxed(molecule_structure),
            adsorbate,
            height=height,
            min_distance=min_distance,
        )
    if not placements:
        raise RuntimeError(f"No valid placement of {adsorbate} on the slab; lower --min-distance.")
    calc = build_calculator(**calculator)
    configs, structures = [], []
    for p in placements:
        s = transplant(p.structure, relaxed_slab, len(ideal_slab))
        atoms = AseAtomsAdaptor.get_atoms(s)
        atoms.calc = calc
        e_total = float(atoms.get_potential_energy())
        configs.append(
            {
                "id": p.config_id,
                "site": p.site,
                "orientation": p.orientation,
                "screen_energy": e_total - slab_energy - molecule_energy,
            }
        )
        structures.append(s)
    order = sorted(range(len(configs)), key=lambda i: configs[i]["screen_energy"])
    chosen = (order * top_k)[:top_k]
    return {
        "adsorbate": adsorbate,
        "configs": configs,
        "candidates": [structures[i] for i in chosen],
        "candidate_ids": [configs[i]["id"] for i in chosen],
    }


def relax_summary(relax_job: Any) -> dict[str, Any]:
    """References to the fields of an atomate2 relaxation that the energetics need."""
    out = relax_job.output
    return {
        "energy": out.output.energy,
        "structure": out.structure,
        "converged": out.is_force_converged,
        "n_steps": out.output.n_steps,
    }


@job(name="collect study energies")
def collect_energies(
    bulk: dict[str, Any],
    molecules: dict[str, Any],
    slab: Any,
    screens: dict[str, dict[str, Any]],
    adslabs: dict[str, list[Any]],
) -> dict[str, Any]:
    """Assemble every energy of the study into one record (see analysis.energetics).

    Each relaxation arrives as ``{"energy", "structure", "converged", "n_steps"}``
    (see :func:`relax_summary`).
    """
    record: dict[str, Any] = {
        "bulk": bulk,
        "molecules": molecules,
        "slab": slab,
        "adsorbates": {},
    }
    for ads, screen in screens.items():
        relaxed = {}
        for cid, doc in zip(screen["candidate_ids"], adslabs[ads], strict=True):
            relaxed.setdefault(cid, doc)
        configs = []
        for c in screen["configs"]:
            entry = dict(c)
            if c["id"] in relaxed:
                r = relaxed[c["id"]]
                entry.update(relaxed=True, **r)
            else:
                entry["relaxed"] = False
            configs.append(entry)
        record["adsorbates"][ads] = {"configs": configs}
    return record
