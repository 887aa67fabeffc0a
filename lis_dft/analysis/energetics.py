"""Formation and adsorption energies and the oxidation landscape, as pure functions.

Input is an *energy record*: the same dict whether the energies came from the local
study or from parsed VASP outputs::

    {"bulk":      {"Li": R, "S": R, "Li2S": R, "Li2S2": R, "LiI": R},
     "molecules": {"S8": R, "Li2S": R, "Li2S2": R, "I2": R},
     "slab": R,
     "catalyst": {"name": "LiI", "slab": "LiI_100", ...},   # optional; LiI(100) if absent
     "adsorbates": {"Li2S": {"configs": [{"id", "site", "orientation",
                                          "screen_energy", "race_energy",
                                          "relaxed", **R}, ...]}, ...}}

where ``R = {"energy": total eV, "structure": pymatgen Structure or its dict, ...}``.

Definitions (also written to results.json)
-------------------------------------------
- Chemical potentials: mu_Li = E(bcc Li)/N, mu_S = E(alpha-S)/N, mu_X = E(X2)/2 for
  the catalyst's halogen (I2, Br2, Cl2; lis_dft.system.CATALYSTS).
- Bulk formation energy: E_f = [E(bulk) - sum_i n_i mu_i] / n_fu (per formula unit) or
  / N (per atom). This is E_f = E_xy - (E_x + E_y) of the paper with x, y the pristine
  elements.
- In vacuum: the same with the isolated molecule, E_f^vac = E(mol) - sum_i n_i mu_i.
- On the catalyst surface (LiI(100) in the paper; the record's ``catalyst`` says which):
  E_f^surf = E(slab+mol) - E(slab) - sum_i n_i mu_i (adsorbate atoms only).
- Adsorption energy: E_A = E(slab+mol) - [E(slab) + E(mol)]; the reported value is the
  lowest over the relaxed configurations in which the adsorbate stayed intact (S8 ring,
  S2 dimer); a decomposed adsorbate is reported only when no configuration stayed
  intact, and is flagged (``best_config_intact`` false). Likewise a configuration
  whose slab reconstructed under the adsorbate (a slab atom moved > 1 Å or pulled out
  of the net, ``surface_intact`` false) is reported only when no relaxed configuration
  kept the surface intact, and is flagged (``best_config_surface_intact`` false).
  Configurations within :data:`DEGENERATE_EV` of that lowest one are degenerate: the
  first of them in placement order is reported, the others are listed
  (``degenerate_configs``), so that a repeated run reports the same configuration (and
  starts its barrier paths from it) although relaxations end a few meV apart.
- Oxidation landscape (per S atom, Li removed to Li metal, i.e. at 0 V vs Li+/Li):
  g(X) = E_f(X)/n_S(X) for each species of the ladder (most Li per S first: Li2S,
  Li2S2, ..., S8) in each environment; step energies dE = [g(next) - g(previous)] /
  [Li per S removed] are per Li removed, so in eV they equal the equilibrium potential
  of the step in V vs Li+/Li. The largest step is the
  thermodynamic activation energy of the oxidation; U_onset = max(dE)/e.
"""

from __future__ import annotations

import warnings
from itertools import pairwise
from typing import Any

from pymatgen.core import Composition, Structure

from lis_dft.system import (
    DEFAULT_CATALYST,
    DEFAULT_SPECIES,
    SPECIES,
    catalyst,
    halogen_references,
    oxidation_path,
    reaction,
)

#: The paper's path; a record's own path follows from its species (:func:`study_path`).
OXIDATION_PATH = oxidation_path(DEFAULT_SPECIES)
#: Relaxed configurations of one adsorbate within this many eV of the lowest are
#: degenerate for the study (:func:`best_config`): below the potentials' E_A accuracy
#: against DFT (0.03-0.07 eV, docs/methods.md) and above the spread of repeated
#: relaxations of one placement (up to 0.005 eV measured, benchmarks/budget.json).
DEGENERATE_EV = 0.01


def formula_unit(name: str) -> str:
    """Formula unit of a phase: its name (Li2S2 stays Li2S2; pymatgen would reduce to LiS)."""
    return name


def surface_key(record: dict[str, Any]) -> str:
    """Key of the record's catalyst surface (``LiI_100`` when the record does not say)."""
    return (record.get("catalyst") or {}).get("slab") or catalyst(DEFAULT_CATALYST).slab_name


def study_path(record: dict[str, Any]) -> tuple[str, ...]:
    """The oxidation path of a record: its adsorbates (or the paper's three) in Li/S order."""
    names = list(record.get("adsorbates") or DEFAULT_SPECIES)
    return oxidation_path([n for n in names if n in SPECIES] or DEFAULT_SPECIES)


DEFINITIONS = {
    "chemical_potentials": "mu_Li = E(bcc Li)/N; mu_S = E(alpha-S)/N; mu_X = E(X2 molecule)/2 for the catalyst's halogen X",
    "formation_energy_bulk": "E_f = [E(bulk) - sum_i n_i mu_i] / n_fu (eV/f.u.) or / N_atoms (eV/atom)",
    "formation_energy_vacuum": "E_f^vac = [E(isolated molecule) - sum_i n_i mu_i] / N_atoms",
    "formation_energy_surface": "E_f^surf = [E(slab+A) - E(slab) - sum_i n_i mu_i] / N_atoms(A), slab = the catalyst surface (LiI(100) in the paper)",
    "adsorption_energy": (
        "E_A = E(slab+A) - [E(slab) + E(A)], lowest relaxed configuration with A intact and "
        "the surface intact (flagged otherwise); of configurations within "
        f"{DEGENERATE_EV} eV of it, the first placement (the others: degenerate_configs)"
    ),
    "landscape": (
        "per S atom at 0 V vs Li+/Li: g(X) = E_f(X)/n_S(X) for each species of the ladder "
        "(Li2S, Li2S2, ..., S8, most Li per S first); "
        "step dE = [g(next) - g(previous)] / [Li per S removed] per Li removed (eV = V vs Li+/Li); "
        "activation = max step; onset potential = max step / e"
    ),
    "halogen_reference": "X2 molecule (I2, Br2, Cl2; the standard states of solid I2 and liquid Br2 are not computed)",
}


def _structure(r: dict[str, Any]) -> Structure:
    s = r.get("structure")
    return Structure.from_dict(s) if isinstance(s, dict) else s


def _composition(r: dict[str, Any]) -> Composition:
    if "composition" in r:
        return Composition(r["composition"])
    return _structure(r).composition


def chemical_potentials(record: dict[str, Any]) -> dict[str, float]:
    """Return mu_Li, mu_S (and mu_X for every halogen reference X2 present), eV/atom."""
    mu = {}
    sources = {"Li": ("bulk", "Li"), "S": ("bulk", "S")}
    sources.update({el: ("molecules", ref) for el, ref in halogen_references().items()})
    for el, (group, name) in sources.items():
        r = record.get(group, {}).get(name)
        if r is not None:
            mu[el] = r["energy"] / _composition(r).num_atoms
    return mu


def formation_energy(
    energy: float, composition: Composition, mu: dict[str, float], formula_unit: str
) -> dict[str, float]:
    """Return E_f per atom and per formula unit for a total energy of ``composition``."""
    missing = [el.symbol for el in composition if el.symbol not in mu]
    if missing:
        raise KeyError(f"No chemical potential for {missing}; add the elemental reference.")
    excess = energy - sum(n * mu[el.symbol] for el, n in composition.items())
    n_fu = composition.num_atoms / Composition(formula_unit).num_atoms
    return {
        "eV_per_atom": excess / composition.num_atoms,
        "eV_per_fu": excess / n_fu,
        "formula_unit": formula_unit,
    }


def bulk_formation_energies(
    record: dict[str, Any], mu: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Formation energies of every bulk compound (Li2S, Li2S2, the catalyst) with references."""
    out = {}
    for name, r in record["bulk"].items():
        comp = _composition(r)
        if len(comp.elements) < 2 or any(el.symbol not in mu for el in comp):
            continue
        out[name] = formation_energy(r["energy"], comp, mu, formula_unit(name))
    return out


def adsorbate_integrity(
    adslab: Structure | dict | None, n_slab: int | None, adsorbate: str
) -> tuple[bool | None, str]:
    """Whether the relaxed adsorbate is still the molecule it started as.

    The adsorbate atoms are the ones after the first ``n_slab`` sites (the order every
    lis-dft placement uses). S8 must keep its ring (two S neighbours per S, bonds
    1.95-2.25 Å) and Li2S2 its S-S dimer; a potential that opens the ring gives the
    energy of a different species, which must not be reported as adsorption of S8.
    """
    from lis_dft.structures.validation import check_molecule

    if adslab is None or n_slab is None:
        return None, "no relaxed structure"
    with warnings.catch_warnings():
        # slab sites carry SlabGenerator's Wyckoff properties, adsorbate sites do not:
        # pymatgen warns about the harmless merge
        warnings.simplefilter("ignore", UserWarning)
        s = Structure.from_dict(adslab) if isinstance(adslab, dict) else adslab
    sites = s.sites[n_slab:]
    if (
        Composition(adsorbate).reduced_formula
        != Composition("".join(site.specie.symbol for site in sites)).reduced_formula
    ):
        return None, "adsorbate atoms not found after the slab atoms"
    # species + coordinates only: merging the slab's site properties just makes noise
    mol_struct = Structure(
        s.lattice, [site.species for site in sites], [site.frac_coords for site in sites]
    )
    # periodic (slab lattice) so an adsorbate wrapped across the cell edge stays whole
    report = check_molecule(adsorbate, mol_struct, relaxed=True)
    failed = [c for c in report.failures() if c.name != "box vacuum"]
    return (not failed), (
        "intact" if not failed else "; ".join(f"{c.name}: {c.detail}" for c in failed)
    )


def soundness(config: dict[str, Any]) -> int:
    """:func:`best_config`'s preference class of a relaxed configuration (lower first).

    0 adsorbate and surface intact, 1 adsorbate intact, 2 adsorbate broken (flags of
    :func:`annotate_integrity`; a missing flag counts as intact).
    """
    if config.get("intact") is False:
        return 2
    return 1 if config.get("surface_intact") is False else 0


def _pool(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The relaxed configurations :func:`best_config` chooses from, in their order."""
    relaxed = [c for c in configs if c.get("relaxed") and c.get("energy") is not None]
    if not relaxed:
        return []
    best = min(soundness(c) for c in relaxed)
    return [c for c in relaxed if soundness(c) == best]


def degenerate_configs(
    configs: list[dict[str, Any]], tolerance: float = DEGENERATE_EV
) -> list[dict[str, Any]]:
    """The configurations of :func:`best_config`'s pool within ``tolerance`` (eV) of its lowest.

    In the order of ``configs`` (the placement order, fixed by the slab and adsorbate).
    """
    pool = _pool(configs)
    if not pool:
        return []
    lowest = min(c["energy"] for c in pool)
    return [c for c in pool if c["energy"] <= lowest + tolerance]


def best_config(
    configs: list[dict[str, Any]], tolerance: float = DEGENERATE_EV
) -> dict[str, Any] | None:
    """The relaxed configuration with the lowest total energy, intact ones first.

    Preference: adsorbate intact *and* surface intact; else adsorbate intact; else any
    relaxed configuration. Whatever is chosen carries its flags (``intact``,
    ``surface_intact``) into results, so a compromised minimum is never silent. Of
    configurations within ``tolerance`` (eV) of the lowest, the first in ``configs``'
    order is chosen (:func:`degenerate_configs`): near-degenerate relaxations end a few
    meV apart in an order that threads and load change, and the reported configuration
    (and the barrier paths started from it) should not.
    """
    tied = degenerate_configs(configs, tolerance)
    return tied[0] if tied else None


def annotate_integrity(record: dict[str, Any]) -> None:
    """Add adsorbate (``intact``) and surface (``surface_intact``) flags to relaxed configurations.

    The surface check compares the slab atoms of each relaxed adsorbate slab with the
    relaxed clean slab (:func:`lis_dft.structures.validation.surface_integrity`).
    """
    from lis_dft.structures.validation import surface_integrity

    if not record.get("slab"):
        return
    slab_struct = _structure(record["slab"]) if record["slab"].get("structure") else None
    n_slab = record["slab"].get("n_atoms")
    if n_slab is None and slab_struct is not None:
        n_slab = len(slab_struct)
    for ads, data in record.get("adsorbates", {}).items():
        for c in data["configs"]:
            if not c.get("relaxed"):
                continue
            if "intact" not in c:
                c["intact"], c["integrity"] = adsorbate_integrity(c.get("structure"), n_slab, ads)
            if "surface_intact" not in c and slab_struct is not None and c.get("structure"):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UserWarning)
                        check = surface_integrity(slab_struct, _structure(c), n_slab)
                except ValueError:  # atom counts do not match: no comparison possible
                    continue
                c["surface_intact"] = check.intact
                c["surface_integrity"] = check.as_dict()


def _adsorbates_on_slab(record: dict[str, Any]):
    """Yield (adsorbate, configs, E(slab), molecule record) for adsorbates that can be evaluated.

    Needs the clean slab and the isolated molecule; relaxed configurations get their
    integrity flags first.
    """
    if not record.get("slab"):
        return
    annotate_integrity(record)
    e_slab = record["slab"]["energy"]
    for ads, data in record.get("adsorbates", {}).items():
        if ads in record["molecules"]:
            yield ads, data["configs"], e_slab, record["molecules"][ads]


def adsorption_energies(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """E_A of every adsorbate: best relaxed value and every configuration tried."""
    out = {}
    for ads, all_configs, e_slab, molecule in _adsorbates_on_slab(record):
        e_mol = molecule["energy"]
        configs = []
        for c in all_configs:
            e_a = c["energy"] - e_slab - e_mol if c.get("relaxed") else None
            configs.append(
                {
                    "id": c["id"],
                    "site": c.get("site"),
                    "orientation": c.get("orientation"),
                    "screen_eV": c.get("screen_energy"),
                    "race_eV": c.get("race_energy"),
                    "eliminated_after_round": c.get("eliminated_after_round"),
                    "race_sound": c.get("race_sound"),
                    "relaxed": bool(c.get("relaxed")),
                    "energy": e_a,
                    "converged": c.get("converged"),
                    "intact": c.get("intact"),
                    "integrity": c.get("integrity"),
                    "surface_intact": c.get("surface_intact"),
                    "surface_integrity": c.get("surface_integrity"),
                }
            )
        tied = degenerate_configs(all_configs)  # best_config is tied[0]
        best = tied[0] if tied else None
        out[ads] = {
            "eV": best["energy"] - e_slab - e_mol if best else None,
            "best_config": best["id"] if best else None,
            "degenerate_configs": [c["id"] for c in tied[1:]],
            "best_config_intact": best.get("intact") if best else None,
            "best_config_surface_intact": best.get("surface_intact") if best else None,
            "configs": configs,
        }
    return out


def molecule_formation_energies(
    record: dict[str, Any], mu: dict[str, float]
) -> dict[str, dict[str, float]]:
    """E_f^vac of the isolated sulfur species (Li2S, Li2S2, S8, ...)."""
    out = {}
    for name, r in record["molecules"].items():
        if name in SPECIES and all(el.symbol in mu for el in _composition(r)):
            out[name] = formation_energy(r["energy"], _composition(r), mu, formula_unit(name))
    return out


def surface_formation_energies(
    record: dict[str, Any], mu: dict[str, float]
) -> dict[str, dict[str, float]]:
    """E_f on the surface of each adsorbate in its best relaxed configuration."""
    out = {}
    for ads, configs, e_slab, molecule in _adsorbates_on_slab(record):
        best = best_config(configs)
        comp = _composition(molecule)
        if best is None or any(el.symbol not in mu for el in comp):
            continue
        out[ads] = formation_energy(best["energy"] - e_slab, comp, mu, formula_unit(ads))
        out[ads]["config"] = best["id"]
        out[ads]["intact"] = best.get("intact")
        out[ads]["surface_intact"] = best.get("surface_intact")
    return out


def oxidation_landscape(
    formation_per_fu: dict[str, float], path: tuple[str, ...] = OXIDATION_PATH
) -> dict[str, Any] | None:
    """Landscape of the oxidation along ``path`` per S atom from E_f per formula unit.

    ``path`` runs from the most lithiated species (Li2S) to S8; returns None if any
    species of it is missing.
    """
    if len(path) < 2 or any(name not in formation_per_fu for name in path):
        return None
    g = {name: formation_per_fu[name] / SPECIES[name].n_s for name in path}
    states = [
        {"label": name, "li_per_s": SPECIES[name].li_per_s, "energy_per_S": g[name] - g[path[0]]}
        for name in path
    ]
    steps = [
        {"from": a, "to": b, "reaction": reaction(a, b), "dE_eV_per_Li": _per_li(g, a, b)}
        for a, b in pairwise(path)
    ]
    limiting = max(steps, key=lambda s: s["dE_eV_per_Li"])
    return {
        "states": states,
        "steps": steps,
        "limiting_step": f"{limiting['from']} -> {limiting['to']}",
        "activation_eV": limiting["dE_eV_per_Li"],
        "onset_potential_V_vs_Li": limiting["dE_eV_per_Li"],
    }


def _per_li(g: dict[str, float], a: str, b: str) -> float:
    """Energy of the step a -> b per Li removed, from energies per S atom."""
    return (g[b] - g[a]) / (SPECIES[a].li_per_s - SPECIES[b].li_per_s)


def landscapes(
    bulk_ef: dict[str, dict[str, float]],
    vacuum_ef: dict[str, dict[str, float]],
    surface_ef: dict[str, dict[str, float]],
    surface: str = "LiI_100",
    path: tuple[str, ...] = OXIDATION_PATH,
) -> dict[str, Any]:
    """Oxidation landscapes in the bulk crystals, in vacuum and adsorbed on the surface.

    The S end-point is alpha-S (E_f = 0) in the bulk landscape and S8 in the others.
    The bulk landscape runs over the species that have a crystal in the study
    (Li2S, Li2S2; polysulfides have none).
    """
    per_fu_bulk = {k: v["eV_per_fu"] for k, v in bulk_ef.items()}
    per_fu_bulk["S8"] = 0.0  # alpha-S is the S reference of the bulk landscape
    return {
        "bulk": oxidation_landscape(per_fu_bulk, tuple(n for n in path if n in per_fu_bulk)),
        "vacuum": oxidation_landscape({k: v["eV_per_fu"] for k, v in vacuum_ef.items()}, path),
        surface: oxidation_landscape({k: v["eV_per_fu"] for k, v in surface_ef.items()}, path),
    }
