"""jobflow jobs of the study that are not plain relaxations.

Relaxations run through atomate2's ForceFieldRelaxMaker (see :mod:`.flows`); the jobs
here cut the slab from the relaxed bulk, screen adsorbate placements (single points or
a race of relaxations, :mod:`.screening`), and collect every energy into one
source-independent record.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from jobflow import job
from pymatgen.core import Molecule, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from lis_dft.dft_workflows.calculators import build_calculator
from lis_dft.dft_workflows.screening import race_relaxations, schedule_from_dict
from lis_dft.structures.adsorbates import adsorbate_placements, carry_adsorbate
from lis_dft.structures.slab import catalyst_slab


@job(name="build catalyst slab")
def build_slab(
    bulk: Structure,
    supercell: list[int],
    vacuum: float,
    fixed_layers: int,
    miller: list[int] | None = None,
) -> Structure:
    """Cut the catalyst slab from the *relaxed* bulk (no strain from a foreign lattice)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slab = catalyst_slab(
            bulk, tuple(miller or (1, 0, 0)), tuple(supercell), vacuum, fixed_layers
        )
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


#: Å: the study slab's free atoms this close to a carried adsorbate take the relaxed
#: positions of their twins on the screening slab (less than half its 12 Å width)
CARRY_RADIUS = 5.0


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
    relax: dict[str, Any] | None = None,
    race: dict[str, Any] | None = None,
    study_slab: Structure | None = None,
    study_ideal_slab: Structure | None = None,
) -> dict[str, Any]:
    """Screen every placement; return the ``top_k`` best for the relaxation jobs.

    See :mod:`.screening`: by default each placement gets one single-point energy on
    the relaxed slab; with race rounds, all placements start relaxing, the worst are
    dropped after each round, and the ``top_k`` best are handed on where they stopped.

    Parameters
    ----------
    ideal_slab, relaxed_slab, slab_energy
        The slab as cut (sites are found on it), relaxed, and its energy.
    molecule_structure, molecule_energy
        The relaxed adsorbate in its box, and its energy.
    adsorbate, calculator
        Adsorbate name; calculator arguments for :func:`build_calculator`.
    top_k
        Finalists handed to the relaxation jobs.
    height, min_distance
        Placement height and closest allowed approach to the surface, Å.
    relax
        ``{"fmax", "steps", "optimizer"}`` of the study's relaxations.
    race
        :meth:`RaceSchedule.as_dict`; ``{"rounds": [], "keep": 1}`` ranks by
        single-point energy alone.
    study_slab, study_ideal_slab
        The study's relaxed slab when the screen runs on a smaller one (the slab
        arguments above): the finalists are carried onto it
        (:func:`~lis_dft.structures.adsorbates.carry_adsorbate`) for the relaxations.
        Screen and race energies are then the small slab's. ``study_ideal_slab`` (the
        study's slab as cut) gives it its fixed layers.

    Returns
    -------
    dict
        ``configs``: every placement (id, site, orientation, ``screen_energy`` = the
        single-point adsorption energy, ``race_energy`` = the adsorption energy where
        its race stopped, force calls, elimination round); ``candidates``: the
        ``top_k`` finalist structures (always exactly ``top_k`` entries,
        padded with the best one if fewer placements exist); ``candidate_ids``;
        ``force_calls`` of the whole screen; ``schedule``.

    """
    relax = {"fmax": 0.05, "steps": 300, "optimizer": "BFGS", **(relax or {})}
    schedule = schedule_from_dict(race)
    relaxed_slab = _with_fixed_layers(relaxed_slab, ideal_slab)
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
    n_slab = len(ideal_slab)
    start = {
        p.config_id: AseAtomsAdaptor.get_atoms(transplant(p.structure, relaxed_slab, n_slab))
        for p in placements
    }

    def sound(atoms: Any) -> bool:
        """Adsorbate intact and surface not torn, as the study judges its minima."""
        from lis_dft.analysis.energetics import adsorbate_integrity
        from lis_dft.structures.validation import surface_integrity

        structure = _without_calculator(atoms)
        if adsorbate_integrity(structure, n_slab, adsorbate)[0] is False:
            return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return surface_integrity(relaxed_slab, structure, n_slab).intact

    result = race_relaxations(
        start,
        build_calculator(**calculator),
        top_k=min(top_k, len(start)),
        schedule=schedule,
        fmax=relax["fmax"],
        max_steps=relax["steps"],
        optimizer=relax["optimizer"],
        # atomate2's ForceFieldRelaxMaker finishes them on the study's slab, one job each;
        # from a smaller slab they are finished there first, so that they arrive with the
        # surface under them relaxed (CARRY_RADIUS)
        finish=study_slab is not None,
        sound=sound if schedule.rounds else None,
    )
    reference = slab_energy + molecule_energy
    race = {r["id"]: r for r in result.summary()}
    configs = [
        {
            "id": p.config_id,
            "site": p.site,
            "orientation": p.orientation,
            "screen_energy": race[p.config_id]["initial_energy"] - reference,
            "race_energy": race[p.config_id]["last_energy"] - reference,
            "race_force_calls": race[p.config_id]["force_calls"],
            "eliminated_after_round": race[p.config_id]["eliminated_after_round"],
            "race_sound": race[p.config_id]["sound"],
        }
        for p in placements
    ]
    finished = [_without_calculator(r.atoms) for r in result.finalists]
    if study_slab is not None:
        study_slab = _with_fixed_layers(study_slab, study_ideal_slab or study_slab)
        try:
            finished = [
                carry_adsorbate(
                    f, n_slab, study_slab, reference=relaxed_slab, surface_radius=CARRY_RADIUS
                )
                for f in finished
            ]
        except ValueError as exc:
            raise ValueError(
                f"{exc} The screening slab and the study's slab differ; screen on the study's "
                "slab instead (lis-dft run --screen-slab study)."
            ) from exc
    chosen = (list(range(len(finished))) * top_k)[:top_k]
    return {
        "adsorbate": adsorbate,
        "configs": configs,
        "candidates": [finished[i] for i in chosen],
        "candidate_ids": [result.finalists[i].config_id for i in chosen],
        "force_calls": result.force_calls,
        "schedule": schedule.as_dict(),
        "screen_slab": {"n_atoms": n_slab, "carried_to_study_slab": study_slab is not None},
    }


def _with_fixed_layers(relaxed: Structure, ideal: Structure) -> Structure:
    """The relaxed slab with the fixed layers (selective dynamics) of the slab as cut."""
    fixed = ideal.site_properties.get("selective_dynamics")
    if fixed is None:
        return relaxed
    relaxed = relaxed.copy()
    relaxed.add_site_property("selective_dynamics", fixed)
    return relaxed


def _without_calculator(atoms: Any) -> Structure:
    """Structure of Atoms (constraints become selective dynamics, no calculator results)."""
    atoms = atoms.copy()
    atoms.calc = None
    return AseAtomsAdaptor.get_structure(atoms)


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
    catalyst: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble every energy of the study into one record (see analysis.energetics).

    Each relaxation arrives as ``{"energy", "structure", "converged", "n_steps"}``
    (see :func:`relax_summary`); ``catalyst`` is the registry entry's ``as_dict()``.
    """
    record: dict[str, Any] = {
        "bulk": bulk,
        "molecules": molecules,
        "slab": slab,
        "adsorbates": {},
    }
    if catalyst:
        record["catalyst"] = catalyst
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
