"""Battery thermodynamics from computed energies: hull, voltages, capacities, volumes.

Every number is computed from formula masses (pymatgen), the Faraday constant (CODATA,
scipy.constants) and the energies of a study; nothing is copied from the literature.

- Convex hull: pymatgen PhaseDiagram of Li-S (and Li-S-I) from the relaxed bulk phases.
- Voltages: for a reaction ``A + n Li -> B`` the equilibrium potential vs Li+/Li is
  V = -[E(B) - E(A) - n mu_Li] / (n e), with bulk energies per formula unit; vs the
  Li-In counter electrode, V_LiIn = V - 0.62 V (configurable).
- Capacities: C = n F / (3.6 M) mAh/g, n electrons per formula of mass M (g/mol).
- Volume change per S atom: V(product)/N_S / (V(alpha-S)/N_S) - 1 from relaxed cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition, Structure
from scipy.constants import physical_constants

from lis_dft.errors import ParameterError

FARADAY = physical_constants["Faraday constant"][0]  # C/mol
LI_IN_VS_LI = 0.62  # V, Li-In (In-InLi) vs Li+/Li at room temperature (Santhosha et al. 2019)


def specific_capacity(n_electrons: float, formula: str) -> float:
    """Return C = n F / (3.6 M) in mAh/g for ``n_electrons`` per ``formula``."""
    mass = Composition(formula).weight  # g/mol
    return n_electrons * FARADAY / (3.6 * float(mass))


def theoretical_capacities() -> dict[str, dict[str, Any]]:
    """Capacities of the Li-S conversion reactions, mAh per g of the named material."""
    return {
        "S -> Li2S2 (per g S)": {
            "n_e_per_formula": 1,
            "formula": "S",
            "mAh_per_g": specific_capacity(1, "S"),
        },
        "S -> Li2S (per g S)": {
            "n_e_per_formula": 2,
            "formula": "S",
            "mAh_per_g": specific_capacity(2, "S"),
        },
        "Li2S (per g Li2S)": {
            "n_e_per_formula": 2,
            "formula": "Li2S",
            "mAh_per_g": specific_capacity(2, "Li2S"),
        },
        "Li2S2 (per g Li2S2)": {
            "n_e_per_formula": 2,
            "formula": "Li2S2",
            "mAh_per_g": specific_capacity(2, "Li2S2"),
        },
    }


def _energy_per_fu(references: dict[str, Any], name: str, fu: str) -> float:
    ref = references[name]
    n_atoms_fu = Composition(fu).num_atoms
    return ref["energy_per_atom"] * n_atoms_fu


#: (label, reactant, product, Li per product formula unit, reactant f.u. per product f.u.)
REACTIONS = (
    ("S -> Li2S2", "S", "Li2S2", 2, 2),
    ("Li2S2 -> Li2S", "Li2S2", "Li2S", 1, 0.5),
    ("S -> Li2S", "S", "Li2S", 2, 1),
)


def step_voltages(
    references: dict[str, Any], counter_vs_li: float = LI_IN_VS_LI
) -> dict[str, dict[str, float]]:
    """Equilibrium potentials of S -> Li2S2, Li2S2 -> Li2S and S -> Li2S.

    Parameters
    ----------
    references
        results.json ``references`` (bulk ``energy_per_atom`` for Li, S, Li2S, Li2S2).
    counter_vs_li
        Potential of the counter electrode vs Li+/Li (Li-In: 0.62 V).

    """
    mu_li = references["Li"]["energy_per_atom"]
    fu = {"S": "S", "Li2S2": "Li2S2", "Li2S": "Li2S"}
    out = {}
    for label, a, b, n_li, n_a in REACTIONS:
        e_a = _energy_per_fu(references, a, fu[a])
        e_b = _energy_per_fu(references, b, fu[b])
        d_e = e_b - n_a * e_a - n_li * mu_li  # per product f.u.
        v = -d_e / n_li
        out[label] = {
            "V_vs_Li": v,
            "V_vs_counter": v - counter_vs_li,
            "dE_eV_per_fu": d_e,
            "n_Li": n_li,
        }
    return out


def voltage_profile(
    references: dict[str, Any], counter_vs_li: float = LI_IN_VS_LI
) -> list[dict[str, float]]:
    """Stepwise discharge profile S -> Li2S2 -> Li2S against capacity per g S.

    Returns segments with start/end capacity (mAh/g S) and voltage. If Li2S2 is
    unstable (its step voltages are inverted) the two-step path is still drawn, since
    the measured cells form it; the hull says whether it is metastable.
    """
    v = step_voltages(references, counter_vs_li)
    q1 = specific_capacity(1, "S")
    return [
        {
            "step": "S -> Li2S2",
            "q_start": 0.0,
            "q_end": q1,
            "V_vs_Li": v["S -> Li2S2"]["V_vs_Li"],
            "V_vs_counter": v["S -> Li2S2"]["V_vs_counter"],
        },
        {
            "step": "Li2S2 -> Li2S",
            "q_start": q1,
            "q_end": 2 * q1,
            "V_vs_Li": v["Li2S2 -> Li2S"]["V_vs_Li"],
            "V_vs_counter": v["Li2S2 -> Li2S"]["V_vs_counter"],
        },
    ]


def hull(
    references: dict[str, Any], catalyst: dict[str, Any] | None = None
) -> tuple[PhaseDiagram, dict[str, dict[str, float]]]:
    """Build the Li-S (or Li-S-X with a catalyst LiX) PhaseDiagram; e_above_hull of every phase.

    ``catalyst`` is a results' ``catalyst`` block (name and halogen reference): its
    crystal and its X2 molecule join the Li-S phases.
    """
    names = ["Li", "S", "Li2S", "Li2S2"]
    if catalyst is not None:
        names += [catalyst["name"], f"{catalyst['reference']}(g)"]
    entries = []
    for name in names:
        if name not in references:
            raise ParameterError(
                f"The hull needs the {name} reference; it is missing from the results."
            )
        comp = Composition(name.removesuffix("(g)"))
        entries.append(
            PDEntry(comp, references[name]["energy_per_atom"] * comp.num_atoms, name=name)
        )
    pd = PhaseDiagram(entries)
    table = {
        e.name: {
            "e_above_hull_eV_per_atom": float(pd.get_e_above_hull(e)),
            "formation_eV_per_atom": float(pd.get_form_energy_per_atom(e)),
            "stable": bool(pd.get_e_above_hull(e) < 1e-8),
        }
        for e in entries
    }
    return pd, table


def volume_per_s(structure: Structure) -> float:
    """Volume per S atom of a relaxed cell, Å^3."""
    n_s = structure.composition["S"]
    if n_s == 0:
        raise ParameterError("volume_per_s needs a structure that contains S.")
    return structure.volume / n_s


def volume_changes(references: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Volume change per S atom for S -> Li2S2 and S -> Li2S from relaxed bulk volumes.

    Uses ``volume_per_atom`` of the references: V per S = V per atom x atoms per S.
    """
    per_s = {
        "S": references["S"]["volume_per_atom"] * 1,
        "Li2S2": references["Li2S2"]["volume_per_atom"] * 2,
        "Li2S": references["Li2S"]["volume_per_atom"] * 3,
    }
    return {
        f"S -> {p}": {
            "V_per_S_before": per_s["S"],
            "V_per_S_after": per_s[p],
            "change_pct": 100 * (per_s[p] / per_s["S"] - 1),
        }
        for p in ("Li2S2", "Li2S")
    }


def density_g_cm3(volume_per_atom: float, formula: str) -> float:
    """Density of a phase from its volume per atom (Å^3) and formula."""
    comp = Composition(formula)
    grams = float(comp.weight) / 6.02214076e23
    return grams / (volume_per_atom * comp.num_atoms * 1e-24)


@dataclass
class CompositeParameters:
    """Composite cathode of the second seed: 30 wt% active, 50 wt% Li6PS5Cl, 20 wt% C.

    Densities in g/cm^3 (Li6PS5Cl about 1.64; carbon black about 2.0) are user-editable.
    The electrolyte:carbon mass ratio stays fixed when the sulfur wt% changes.
    """

    electrolyte_wt: float = 50.0
    carbon_wt: float = 20.0
    electrolyte_density: float = 1.64
    carbon_density: float = 2.0


def composite_volume_change(
    s_wt_pct: float, references: dict[str, Any], params: CompositeParameters | None = None
) -> float:
    """Electrode volume change (%) on complete lithiation S -> Li2S at ``s_wt_pct`` sulfur.

    Per gram of composite: V0 = w_S/rho_S + w_SE/rho_SE + w_C/rho_C; on lithiation the
    sulfur's volume is multiplied by V(Li2S)/V(S) per S atom (relaxed cells); the
    electrolyte and carbon keep their volume.
    """
    if not 0 < s_wt_pct < 100:
        raise ParameterError(f"Sulfur content must be between 0 and 100 wt%, got {s_wt_pct}.")
    p = params or CompositeParameters()
    w_s = s_wt_pct / 100
    rest = 1 - w_s
    w_se = rest * p.electrolyte_wt / (p.electrolyte_wt + p.carbon_wt)
    w_c = rest - w_se
    rho_s = density_g_cm3(references["S"]["volume_per_atom"], "S")
    v_s = w_s / rho_s
    v0 = v_s + w_se / p.electrolyte_density + w_c / p.carbon_density
    ratio = (
        volume_changes(references)["S -> Li2S"]["V_per_S_after"]
        / volume_changes(references)["S -> Li2S"]["V_per_S_before"]
    )
    v1 = v0 + v_s * (ratio - 1)
    return 100 * (v1 / v0 - 1)
