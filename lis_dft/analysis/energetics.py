"""Formation and adsorption energies and the oxidation landscape, as pure functions.

Input is an *energy record*: the same dict whether the energies came from the local
study or from parsed VASP outputs::

    {"bulk":      {"Li": R, "S": R, "Li2S": R, "Li2S2": R, "LiI": R},
     "molecules": {"S8": R, "Li2S": R, "Li2S2": R, "I2": R},
     "slab": R,
     "adsorbates": {"Li2S": {"configs": [{"id", "site", "orientation",
                                          "screen_energy", "race_energy",
                                          "relaxed", **R}, ...]}, ...}}

where ``R = {"energy": total eV, "structure": pymatgen Structure or its dict, ...}``.

Definitions (also written to results.json)
-------------------------------------------
- Chemical potentials: mu_Li = E(bcc Li)/N, mu_S = E(alpha-S)/N, mu_I = E(I2)/2.
- Bulk formation energy: E_f = [E(bulk) - sum_i n_i mu_i] / n_fu (per formula unit) or
  / N (per atom). This is E_f = E_xy - (E_x + E_y) of the paper with x, y the pristine
  elements.
- In vacuum: the same with the isolated molecule, E_f^vac = E(mol) - sum_i n_i mu_i.
- On LiI(100): E_f^LiI = E(slab+mol) - E(slab) - sum_i n_i mu_i (adsorbate atoms only).
- Adsorption energy: E_A = E(slab+mol) - [E(slab) + E(mol)]; the reported value is the
  lowest over the relaxed configurations in which the adsorbate stayed intact (S8 ring,
  S2 dimer); a decomposed adsorbate is reported only when no configuration stayed
  intact, and is flagged (``best_config_intact`` false). Likewise a configuration
  whose slab reconstructed under the adsorbate (a slab atom moved > 1 Å or pulled out
  of the net, ``surface_intact`` false) is reported only when no relaxed configuration
  kept the surface intact, and is flagged (``best_config_surface_intact`` false).
- Oxidation landscape (per S atom, Li removed to Li metal, i.e. at 0 V vs Li+/Li):
  g(Li2S) = E_f(Li2S), g(Li2S2) = E_f(Li2S2)/2, g(S8) = E_f(S8)/8 in each environment;
  step energies dE = g(next) - g(previous) are per Li removed, so in eV they equal the
  equilibrium potential of the step in V vs Li+/Li. The largest step is the
  thermodynamic activation energy of the oxidation; U_onset = max(dE)/e.
"""

from __future__ import annotations

import warnings
from itertools import pairwise
from typing import Any

from pymatgen.core import Composition, Structure

#: Formula units by name (Li2S2's reduced formula would be LiS).
FORMULA_UNITS = {"Li2S": "Li2S", "Li2S2": "Li2S2", "LiI": "LiI", "S8": "S8", "S": "S", "Li": "Li"}
OXIDATION_PATH = ("Li2S", "Li2S2", "S8")
LI_PER_S = {"Li2S": 2.0, "Li2S2": 1.0, "S8": 0.0}
ENVIRONMENTS = ("bulk", "vacuum", "LiI_100")

DEFINITIONS = {
    "chemical_potentials": "mu_Li = E(bcc Li)/N; mu_S = E(alpha-S)/N; mu_I = E(I2 molecule)/2",
    "formation_energy_bulk": "E_f = [E(bulk) - sum_i n_i mu_i] / n_fu (eV/f.u.) or / N_atoms (eV/atom)",
    "formation_energy_vacuum": "E_f^vac = [E(isolated molecule) - sum_i n_i mu_i] / N_atoms",
    "formation_energy_LiI_100": "E_f^LiI = [E(LiI(100)+X) - E(LiI(100)) - sum_i n_i mu_i] / N_atoms(X)",
    "adsorption_energy": "E_A = E(LiI(100)+X) - [E(LiI(100)) + E(X)], lowest relaxed configuration with X intact and the surface intact (flagged otherwise)",
    "landscape": (
        "per S atom at 0 V vs Li+/Li: g(Li2S)=E_f(Li2S), g(Li2S2)=E_f(Li2S2)/2, g(S8)=E_f(S8)/8; "
        "step dE = g(next) - g(previous) per Li removed (eV = V vs Li+/Li); "
        "activation = max step; onset potential = max step / e"
    ),
    "iodine_reference": "I2 molecule (the solid-iodine standard state is not computed)",
}


def _structure(r: dict[str, Any]) -> Structure:
    s = r.get("structure")
    return Structure.from_dict(s) if isinstance(s, dict) else s


def _composition(r: dict[str, Any]) -> Composition:
    if "composition" in r:
        return Composition(r["composition"])
    return _structure(r).composition


def chemical_potentials(record: dict[str, Any]) -> dict[str, float]:
    """Return mu_Li, mu_S (and mu_I if I2 is present), eV/atom."""
    mu = {}
    for el, (group, name) in {
        "Li": ("bulk", "Li"),
        "S": ("bulk", "S"),
        "I": ("molecules", "I2"),
    }.items():
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
    """Formation energies of the bulk compounds (Li2S, Li2S2, LiI where available)."""
    out = {}
    for name in ("Li2S", "Li2S2", "LiI"):
        r = record["bulk"].get(name)
        if r is None or any(el.symbol not in mu for el in _composition(r)):
            continue
        out[name] = formation_energy(r["energy"], _composition(r), mu, FORMULA_UNITS[name])
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


def best_config(configs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The relaxed configuration with the lowest total energy, intact ones first.

    Preference: adsorbate intact *and* surface intact; else adsorbate intact; else any
    relaxed configuration. Whatever is chosen carries its flags (``intact``,
    ``surface_intact``) into results, so a compromised minimum is never silent.
    """
    relaxed = [c for c in configs if c.get("relaxed") and c.get("energy") is not None]
    intact = [c for c in relaxed if c.get("intact") is not False]
    whole = [c for c in intact if c.get("surface_intact") is not False]
    pool = whole or intact or relaxed
    return min(pool, key=lambda c: c["energy"]) if pool else None


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
                    "relaxed": bool(c.get("relaxed")),
                    "energy": e_a,
                    "converged": c.get("converged"),
                    "intact": c.get("intact"),
                    "integrity": c.get("integrity"),
                    "surface_intact": c.get("surface_intact"),
                    "surface_integrity": c.get("surface_integrity"),
                }
            )
        best = best_config(all_configs)
        out[ads] = {
            "eV": best["energy"] - e_slab - e_mol if best else None,
            "best_config": best["id"] if best else None,
            "best_config_intact": best.get("intact") if best else None,
            "best_config_surface_intact": best.get("surface_intact") if best else None,
            "configs": configs,
        }
    return out


def molecule_formation_energies(
    record: dict[str, Any], mu: dict[str, float]
) -> dict[str, dict[str, float]]:
    """E_f^vac of the isolated molecules (Li2S, Li2S2, S8)."""
    out = {}
    for name in OXIDATION_PATH:
        r = record["molecules"].get(name)
        if r is not None and all(el.symbol in mu for el in _composition(r)):
            out[name] = formation_energy(r["energy"], _composition(r), mu, FORMULA_UNITS[name])
    return out


def surface_formation_energies(
    record: dict[str, Any], mu: dict[str, float]
) -> dict[str, dict[str, float]]:
    """E_f^LiI of each adsorbate in its best relaxed configuration on LiI(100)."""
    out = {}
    for ads, configs, e_slab, molecule in _adsorbates_on_slab(record):
        best = best_config(configs)
        comp = _composition(molecule)
        if best is None or any(el.symbol not in mu for el in comp):
            continue
        out[ads] = formation_energy(best["energy"] - e_slab, comp, mu, FORMULA_UNITS[ads])
        out[ads]["config"] = best["id"]
        out[ads]["intact"] = best.get("intact")
        out[ads]["surface_intact"] = best.get("surface_intact")
    return out


def oxidation_landscape(formation_per_fu: dict[str, float]) -> dict[str, Any] | None:
    """Landscape of Li2S -> Li2S2 -> S8 oxidation per S atom from E_f per formula unit.

    Returns None if any of the three species is missing.
    """
    if any(name not in formation_per_fu for name in OXIDATION_PATH):
        return None
    n_s = {name: Composition(FORMULA_UNITS[name])["S"] for name in OXIDATION_PATH}
    g = {name: formation_per_fu[name] / n_s[name] for name in OXIDATION_PATH}
    states = [
        {"label": name, "li_per_s": LI_PER_S[name], "energy_per_S": g[name] - g["Li2S"]}
        for name in OXIDATION_PATH
    ]
    steps = []
    for a, b in pairwise(OXIDATION_PATH):
        steps.append(
            {
                "from": a,
                "to": b,
                "reaction": {"Li2S": "Li2S -> 1/2 Li2S2 + Li", "Li2S2": "1/2 Li2S2 -> 1/8 S8 + Li"}[
                    a
                ],
                "dE_eV_per_Li": g[b] - g[a],
            }
        )
    limiting = max(steps, key=lambda s: s["dE_eV_per_Li"])
    return {
        "states": states,
        "steps": steps,
        "limiting_step": f"{limiting['from']} -> {limiting['to']}",
        "activation_eV": limiting["dE_eV_per_Li"],
        "onset_potential_V_vs_Li": limiting["dE_eV_per_Li"],
    }


def landscapes(
    bulk_ef: dict[str, dict[str, float]],
    vacuum_ef: dict[str, dict[str, float]],
    surface_ef: dict[str, dict[str, float]],
) -> dict[str, Any]:
    """Oxidation landscapes in the bulk crystals, in vacuum and adsorbed on LiI(100).

    The S end-point is alpha-S (E_f = 0) in the bulk landscape and S8 in the others.
    """
    per_fu_bulk = {k: v["eV_per_fu"] for k, v in bulk_ef.items()}
    per_fu_bulk["S8"] = 0.0  # alpha-S is the S reference of the bulk landscape
    return {
        "bulk": oxidation_landscape(per_fu_bulk),
        "vacuum": oxidation_landscape({k: v["eV_per_fu"] for k, v in vacuum_ef.items()}),
        "LiI_100": oxidation_landscape({k: v["eV_per_fu"] for k, v in surface_ef.items()}),
    }
