"""Cell-level gravimetric energy density of all-solid-state Li-S cells.

Everything per cm^2 of cell (one cathode layer, one separator, one anode, current
collectors). All parameters live in :class:`CellParameters` with their units and can be
overridden from a YAML/JSON file; the defaults are typical literature values, listed so
that a user can check and change them. Capacities come from formula masses.

Per area: cathode active mass m_a = Q_areal / C_active; composite mass m_a / w_active;
anode mass from the Li (or alloy) needed, with an excess ratio; separator mass
rho_SE * t_sep; collectors rho * t. Energy = Q_areal * V_cell, V_cell = V(S -> Li2S
vs Li) - V(anode vs Li).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lis_dft.analysis.thermo import specific_capacity
from lis_dft.errors import ParameterError

#: Anode options: potential vs Li (V), host capacity (mAh per g host; None for Li metal).
#: Li-In: 0.62 V (Santhosha 2019), InLi: 1 Li per In. Li-Si: Li15Si4, about 0.4 V.
ANODES: dict[str, dict[str, Any]] = {
    "Li metal": {"V_vs_Li": 0.0, "host": None, "li_per_host": 0},
    "Li-In": {"V_vs_Li": 0.62, "host": "In", "li_per_host": 1.0},
    "Li-Si": {"V_vs_Li": 0.4, "host": "Si", "li_per_host": 3.75},
    "anode-free": {"V_vs_Li": 0.0, "host": None, "li_per_host": 0},
}


@dataclass
class CellParameters:
    """User-editable cell parameters (units in the field names)."""

    cathode_active_wt_pct: float = 30.0  # S or Li2S in the composite
    areal_capacity_mAh_cm2: float = 5.0
    average_voltage_V: float = 2.1  # S -> Li2S vs Li+/Li; replace with the computed one
    separator_thickness_um: float = 50.0
    electrolyte_density_g_cm3: float = 1.64  # Li6PS5Cl
    li_density_g_cm3: float = 0.534
    li_excess: float = 1.0  # extra Li (or alloy) relative to the cathode capacity (N/P - 1)
    cathode_collector: str = "Al"
    cathode_collector_um: float = 15.0
    anode_collector: str = "Cu"
    anode_collector_um: float = 10.0
    collector_densities_g_cm3: dict[str, float] = field(
        default_factory=lambda: {"Al": 2.70, "Cu": 8.96, "SS": 7.9, "Ni": 8.9}
    )

    @classmethod
    def from_file(cls, path: str | Path) -> CellParameters:
        """Load overrides from a YAML or JSON file (unknown keys and wrong types are an error)."""
        from lis_dft.settings_io import load_settings

        return load_settings(cls, path, what="cell parameters")

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form."""
        return asdict(self)


def _validate(p: CellParameters) -> None:
    if not 0 < p.cathode_active_wt_pct <= 100:
        raise ParameterError(f"Active material must be 0-100 wt%, got {p.cathode_active_wt_pct}.")
    if p.areal_capacity_mAh_cm2 <= 0:
        raise ParameterError(f"Areal capacity must be positive, got {p.areal_capacity_mAh_cm2}.")


def cell_mass_breakdown(cathode: str, anode: str, p: CellParameters) -> dict[str, float]:
    """Mass per cm^2 (mg) of each cell component for a cathode (S or Li2S) and an anode."""
    _validate(p)
    if cathode not in ("S", "Li2S"):
        raise ParameterError(f"Unknown cathode {cathode!r}; use 'S' or 'Li2S'.")
    if anode not in ANODES:
        raise ParameterError(f"Unknown anode {anode!r}; choose from {sorted(ANODES)}.")
    if cathode == "S" and anode == "anode-free":
        raise ParameterError("An anode-free cell needs a lithiated cathode (Li2S): S brings no Li.")
    q = p.areal_capacity_mAh_cm2
    c_active = specific_capacity(2, "S") if cathode == "S" else specific_capacity(2, "Li2S")
    active = q / c_active * 1e3  # mg/cm2
    composite = active / (p.cathode_active_wt_pct / 100)
    sep = p.electrolyte_density_g_cm3 * p.separator_thickness_um * 1e-4 * 1e3
    dens = p.collector_densities_g_cm3
    ccc = dens[p.cathode_collector] * p.cathode_collector_um * 1e-4 * 1e3
    acc = dens[p.anode_collector] * p.anode_collector_um * 1e-4 * 1e3
    li_cap = specific_capacity(1, "Li")  # mAh/g Li
    spec = ANODES[anode]
    if anode == "anode-free":
        anode_mass = 0.0
    elif cathode == "Li2S":
        # Li comes from Li2S: a Li-metal anode is only the excess Li foil, an alloy
        # anode only its host
        if spec["host"] is None:
            anode_mass = q * p.li_excess / li_cap * 1e3
        else:
            anode_mass = (
                q * (1 + p.li_excess) / specific_capacity(spec["li_per_host"], spec["host"]) * 1e3
            )
    elif spec["host"] is None:
        anode_mass = q * (1 + p.li_excess) / li_cap * 1e3
    else:
        host_cap = specific_capacity(spec["li_per_host"], spec["host"])
        li_mass = q * (1 + p.li_excess) / li_cap
        host_mass = q * (1 + p.li_excess) / host_cap
        anode_mass = (li_mass + host_mass) * 1e3
    return {
        "cathode_composite_mg_cm2": composite,
        "active_mg_cm2": active,
        "separator_mg_cm2": sep,
        "anode_mg_cm2": anode_mass,
        "cathode_collector_mg_cm2": ccc,
        "anode_collector_mg_cm2": acc,
    }


def energy_density(cathode: str, anode: str, p: CellParameters) -> dict[str, float]:
    """Gravimetric energy density (Wh/kg of the cell stack) and its ingredients."""
    masses = cell_mass_breakdown(cathode, anode, p)
    # the active material is part of the composite: count it once
    total = sum(v for k, v in masses.items() if k != "active_mg_cm2")  # mg/cm2
    voltage = p.average_voltage_V - ANODES[anode]["V_vs_Li"]
    energy_mwh = p.areal_capacity_mAh_cm2 * voltage  # mWh/cm2
    return {
        "Wh_per_kg": energy_mwh / total * 1e3,
        "cell_voltage_V": voltage,
        "total_mg_cm2": total,
        **masses,
    }


def energy_density_grid(
    cathode: str, anode: str, p: CellParameters, wt_pcts: np.ndarray, areal_caps: np.ndarray
) -> np.ndarray:
    """Energy density on a (areal capacity x active wt%) grid, Wh/kg."""
    grid = np.zeros((len(areal_caps), len(wt_pcts)))
    for i, q in enumerate(areal_caps):
        for j, w in enumerate(wt_pcts):
            pp = CellParameters(
                **{
                    **p.as_dict(),
                    "areal_capacity_mAh_cm2": float(q),
                    "cathode_active_wt_pct": float(w),
                }
            )
            grid[i, j] = energy_density(cathode, anode, pp)["Wh_per_kg"]
    return grid
