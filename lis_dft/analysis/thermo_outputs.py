"""``lis-dft thermo``: hull, voltages, capacities, volume change, cell energy density.

Reads a results.json (local or VASP study) and writes ``thermo.json``, ``thermo.csv``
and figures (PNG + SVG) into an output folder.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from lis_dft.analysis import cell, thermo
from lis_dft.analysis.mixture import discharge_mixture
from lis_dft.analysis.plots import _calc_label, _save, _style
from lis_dft.errors import LisDftError, ParameterError
from lis_dft.fileio import atomic_write_text
from lis_dft.provenance import provenance
from lis_dft.system import DEFAULT_CATALYST, catalyst

#: Measured capacities (mAh/g S) from the seed work, shared/REFERENCE.md.
REFERENCE_CAPACITIES = {
    "1500 cycles at 2.0 A/g": 979.6,
    "250 cycles at 0.3 A/g": 1496.9,
    "first discharge at 60 C": 1136.8,
    "first discharge at -10 C": 336.0,
}


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results.json with a clear error if it is missing or malformed."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise LisDftError(
            f"No results file at {path}; run 'lis-dft run' (or 'lis-dft parse') first."
        ) from None
    except json.JSONDecodeError as exc:
        raise LisDftError(f"{path} is not valid JSON ({exc}).") from None
    for key in ("references", "calculator"):
        if key not in data:
            raise LisDftError(f"{path} has no '{key}' section: not a lis-dft results file.")
    return data


def thermo_summary(
    results: dict[str, Any], counter_vs_li: float = thermo.LI_IN_VS_LI
) -> dict[str, Any]:
    """Hull, voltages, capacities and volume changes from a results dict."""
    refs = results["references"]
    _, hull_table = thermo.hull(refs)
    summary = {
        "hull_Li_S": hull_table,
        "voltages": thermo.step_voltages(refs, counter_vs_li),
        "counter_electrode_vs_Li_V": counter_vs_li,
        "voltage_profile": thermo.voltage_profile(refs, counter_vs_li),
        "capacities_mAh_per_g": thermo.theoretical_capacities(),
        "volume_change_per_S": thermo.volume_changes(refs),
    }
    cat = results.get("catalyst") or catalyst(DEFAULT_CATALYST).as_dict()
    if cat.get("reference") and cat["name"] in refs and f"{cat['reference']}(g)" in refs:
        key = f"hull_Li_S_{cat['halogen']}"  # hull_Li_S_I for LiI, as before
        summary[key] = thermo.hull(refs, catalyst=cat)[1]
    return summary


def plot_hull(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Formation energy vs Li fraction with the Li-S convex hull."""
    _style()
    pd, table = thermo.hull(results["references"])
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    pts = []
    for e in pd.all_entries:
        x = e.composition.get_atomic_fraction("Li")
        y = pd.get_form_energy_per_atom(e)
        pts.append((x, y, e.name))
    stable = sorted((p for p in pts if table[p[2]]["stable"]), key=lambda p: p[0])
    ax.plot(
        [p[0] for p in stable], [p[1] for p in stable], "k-", linewidth=1.2, label="convex hull"
    )
    for x, y, name in pts:
        st = table[name]["stable"]
        ax.plot(x, y, "o" if st else "s", color="tab:green" if st else "tab:red", markersize=8)
        ehull = table[name]["e_above_hull_eV_per_atom"]
        ax.annotate(
            f"{name}" + ("" if st else f"\n+{1000 * ehull:.0f} meV/atom"),
            (x, y),
            xytext=(6, -4),
            textcoords="offset points",
            fontsize=9,
        )
    ax.set_xlabel("Li atomic fraction x in Li$_x$S$_{1-x}$")
    ax.set_ylabel("Formation energy (eV/atom)")
    ax.set_title("Li–S convex hull\n" + _calc_label(results), fontsize=9)
    ax.legend(frameon=False, loc="lower left")
    return _save(fig, out_dir, "hull")


def plot_voltage_profile(
    results: dict[str, Any], summary: dict[str, Any], out_dir: Path
) -> list[Path]:
    """Stepwise voltage vs capacity (mAh/g S), vs Li+/Li and vs Li-In."""
    _style()
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    counter = summary["counter_electrode_vs_Li_V"]
    for key, label, style in (
        ("V_vs_Li", "vs Li$^+$/Li", "-"),
        ("V_vs_counter", f"vs Li–In ({counter:.2f} V)", "--"),
    ):
        xs, ys = [], []
        for seg in summary["voltage_profile"]:
            xs += [seg["q_start"], seg["q_end"]]
            ys += [seg[key], seg[key]]
        ax.plot(xs, ys, style, linewidth=2, label=label)
        for seg in summary["voltage_profile"]:
            ax.annotate(
                f"{seg[key]:.2f} V",
                ((seg["q_start"] + seg["q_end"]) / 2, seg[key]),
                ha="center",
                va="bottom",
                xytext=(0, 3),
                textcoords="offset points",
                fontsize=9,
            )
    for seg in summary["voltage_profile"]:
        ax.annotate(
            seg["step"], ((seg["q_start"] + seg["q_end"]) / 2, 0.15), ha="center", fontsize=9
        )
    ax.set_xlabel("Capacity (mAh/g S)")
    ax.set_ylabel("Equilibrium potential (V)")
    ax.set_ylim(0, max(3.0, max(s["V_vs_Li"] for s in summary["voltage_profile"]) + 0.5))
    ax.set_title("Discharge S → Li$_2$S$_2$ → Li$_2$S\n" + _calc_label(results), fontsize=9)
    ax.legend(frameon=False)
    return _save(fig, out_dir, "voltage_profile")


def plot_volume_change(
    results: dict[str, Any], out_dir: Path, params: thermo.CompositeParameters
) -> list[Path]:
    """Composite-electrode volume change vs sulfur wt% on complete lithiation."""
    _style()
    wts = np.linspace(5, 95, 91)
    dv = [thermo.composite_volume_change(w, results["references"], params) for w in wts]
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    ax.plot(wts, dv, linewidth=2)
    per_s = thermo.volume_changes(results["references"])["S -> Li2S"]["change_pct"]
    ax.axhline(per_s, color="gray", linestyle=":", label=f"pure S → Li$_2$S: {per_s:+.0f}%")
    w30 = thermo.composite_volume_change(30, results["references"], params)
    ax.plot([30], [w30], "o", color="tab:red")
    ax.annotate(
        f"30 wt% S: {w30:+.1f}%", (30, w30), xytext=(6, -12), textcoords="offset points", fontsize=9
    )
    ax.set_xlabel("Sulfur content of the composite cathode (wt%)")
    ax.set_ylabel("Electrode volume change on lithiation (%)")
    ax.set_title(
        f"Li$_6$PS$_5$Cl:C = {params.electrolyte_wt:.0f}:{params.carbon_wt:.0f} by mass\n"
        + _calc_label(results),
        fontsize=9,
    )
    ax.legend(frameon=False, loc="upper left")
    return _save(fig, out_dir, "volume_change")


def plot_energy_density(params: cell.CellParameters, out_dir: Path) -> list[Path]:
    """Contour (S cathode, Li metal) over S wt% x areal capacity, and bars per design."""
    _style()
    wts = np.linspace(10, 80, 36)
    caps = np.linspace(1, 11, 41)
    grid = cell.energy_density_grid("S", "Li metal", params, wts, caps)
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    cs = ax.contourf(wts, caps, grid, levels=12, cmap="viridis")
    lines = ax.contour(wts, caps, grid, levels=cs.levels[::2], colors="white", linewidths=0.6)
    ax.clabel(lines, fmt="%.0f", fontsize=8)
    fig.colorbar(cs, ax=ax, label="Energy density (Wh/kg of cell stack)")
    ax.set_xlabel("Sulfur content of the composite cathode (wt%)")
    ax.set_ylabel("Areal capacity (mAh/cm$^2$)")
    ax.set_title("S cathode, Li metal anode", fontsize=10)
    paths = _save(fig, out_dir, "energy_density_contour")

    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    labels, values, colors = [], [], []
    for cathode, color in (("S", "tab:orange"), ("Li2S", "tab:blue")):
        for anode in cell.ANODES:
            try:
                v = cell.energy_density(cathode, anode, params)["Wh_per_kg"]
            except ParameterError:
                continue
            labels.append(f"{cathode}\n{anode}")
            values.append(v)
            colors.append(color)
    bars = ax.bar(range(len(values)), values, color=colors, edgecolor="black", linewidth=0.6)
    for b, v in zip(bars, values, strict=True):
        ax.annotate(
            f"{v:.0f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=9
        )
    ax.set_xticks(range(len(values)), labels, fontsize=8)
    ax.set_ylabel("Energy density (Wh/kg of cell stack)")
    ax.set_title(
        f"{params.cathode_active_wt_pct:.0f} wt% active, {params.areal_capacity_mAh_cm2:.1f} mAh/cm$^2$",
        fontsize=10,
    )
    return paths + _save(fig, out_dir, "energy_density_bars")


def run_thermo(
    results: dict[str, Any],
    out_dir: str | Path,
    counter_vs_li: float = thermo.LI_IN_VS_LI,
    cell_params: cell.CellParameters | None = None,
    composite: thermo.CompositeParameters | None = None,
) -> dict[str, Any]:
    """Compute everything and write thermo.json, thermo.csv and figures."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = thermo_summary(results, counter_vs_li)
    composite = composite or thermo.CompositeParameters()
    cell_params = cell_params or cell.CellParameters(
        average_voltage_V=summary["voltages"]["S -> Li2S"]["V_vs_Li"]
    )
    summary["composite_volume_change_pct"] = {
        f"{w} wt% S": thermo.composite_volume_change(w, results["references"], composite)
        for w in (10, 30, 50, 70)
    }
    summary["composite_parameters"] = composite.__dict__
    summary["cell_parameters"] = cell_params.as_dict()
    designs = {}
    for cathode in ("S", "Li2S"):
        for anode in cell.ANODES:
            try:
                designs[f"{cathode} | {anode}"] = cell.energy_density(cathode, anode, cell_params)
            except ParameterError as exc:
                designs[f"{cathode} | {anode}"] = {"error": str(exc)}
    summary["cell_energy_density"] = designs
    summary["reference_capacity_mixtures"] = {
        label: discharge_mixture(q, allow_unreacted=True).as_dict()
        for label, q in REFERENCE_CAPACITIES.items()
    }
    fig_dir = out_dir / "figures"
    plot_hull(results, fig_dir)
    plot_voltage_profile(results, summary, fig_dir)
    plot_volume_change(results, fig_dir, composite)
    plot_energy_density(cell_params, fig_dir)
    summary["calculator"] = results["calculator"]
    summary["source_results_provenance"] = results.get("provenance", {})
    summary["provenance"] = provenance()
    atomic_write_text(out_dir / "thermo.json", json.dumps(summary, indent=2, default=str))
    atomic_write_text(out_dir / "thermo.csv", _thermo_csv(summary))
    return summary


def _thermo_csv(summary: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["quantity", "item", "value", "unit"])
    for name, v in summary["hull_Li_S"].items():
        w.writerow(["e_above_hull", name, v["e_above_hull_eV_per_atom"], "eV/atom"])
    for name, v in summary["voltages"].items():
        w.writerow(["voltage_vs_Li", name, v["V_vs_Li"], "V"])
        w.writerow(["voltage_vs_counter", name, v["V_vs_counter"], "V"])
    for name, v in summary["capacities_mAh_per_g"].items():
        w.writerow(["capacity", name, v["mAh_per_g"], "mAh/g"])
    for name, v in summary["volume_change_per_S"].items():
        w.writerow(["volume_change_per_S", name, v["change_pct"], "%"])
    for name, v in summary["composite_volume_change_pct"].items():
        w.writerow(["composite_volume_change", name, v, "%"])
    for name, v in summary["cell_energy_density"].items():
        if "Wh_per_kg" in v:
            w.writerow(["cell_energy_density", name, v["Wh_per_kg"], "Wh/kg"])
    return buf.getvalue()
