"""Publication figures: formation energies and the oxidation (activation) diagram.

Both read only results.json content, so local and VASP studies plot identically.
Each figure is written as PNG (300 dpi) and SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ENV_LABELS = {"bulk": "bulk crystal", "vacuum": "in vacuum", "LiI_100": "on LiI(100)"}
ENV_COLORS = {"bulk": "#7f7f7f", "vacuum": "#1f77b4", "LiI_100": "#d62728"}
SPECIES_LABELS = {"Li2S": r"Li$_2$S", "Li2S2": r"Li$_2$S$_2$", "S8": r"S$_8$"}


def _style() -> None:
    plt.rcParams.update(
        {
            "font.size": 11,
            "axes.labelsize": 12,
            "axes.titlesize": 12,
            "legend.fontsize": 10,
            "svg.fonttype": "none",
        }
    )


def _calc_label(results: dict[str, Any]) -> str:
    c = results.get("calculator", {})
    d3 = c.get("d3", {}).get("damping", "none")
    label = f"{c.get('model', c.get('name', '?'))}" + (
        f" + D3({d3})" if d3 not in ("none", None) else ""
    )
    if c.get("is_mock"):
        label = "MOCK calculator (not physical): " + label
    return label


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = out_dir / f"{stem}.{ext}"
        fig.savefig(p, dpi=300, bbox_inches="tight")
        paths.append(p)
    plt.close(fig)
    return paths


def plot_formation_energies(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Grouped bars of E_f per atom of Li2S and Li2S2: bulk, in vacuum, on LiI(100)."""
    _style()
    tables = {
        "bulk": results.get("formation_energies", {}),
        "vacuum": results.get("vacuum_formation_energies", {}),
        "LiI_100": results.get("surface_formation_energies", {}),
    }
    species = ["Li2S", "Li2S2"]
    envs = [e for e in ("bulk", "vacuum", "LiI_100") if any(s in tables[e] for s in species)]
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    width = 0.8 / max(len(envs), 1)
    for k, env in enumerate(envs):
        xs, ys = [], []
        for i, sp in enumerate(species):
            if sp in tables[env]:
                xs.append(i + (k - (len(envs) - 1) / 2) * width)
                ys.append(tables[env][sp]["eV_per_atom"])
        bars = ax.bar(
            xs,
            ys,
            width * 0.92,
            label=ENV_LABELS[env],
            color=ENV_COLORS[env],
            edgecolor="black",
            linewidth=0.6,
        )
        for bar, y in zip(bars, ys, strict=True):
            va = "top" if y < 0 else "bottom"
            ax.annotate(
                f"{y:.2f}",
                (bar.get_x() + bar.get_width() / 2, y),
                ha="center",
                va=va,
                xytext=(0, -3 if y < 0 else 3),
                textcoords="offset points",
                fontsize=9,
            )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(species)), [SPECIES_LABELS[s] for s in species])
    ax.set_ylabel("Formation energy (eV/atom)")
    ax.set_title(_calc_label(results), fontsize=9)
    ymin = min([0.0] + [t[s]["eV_per_atom"] for t in tables.values() for s in species if s in t])
    ax.set_ylim(ymin * 1.25 - 0.05, max(0.1, -0.15 * ymin))
    ax.legend(frameon=False, loc="lower right")
    return _save(fig, Path(out_dir), "formation_energies")


def plot_activation_diagram(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Energy levels of Li2S -> Li2S2 -> S8 per S atom (0 V vs Li+/Li), per environment."""
    _style()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    half = 0.32
    drawn = False
    for env in ("vacuum", "LiI_100", "bulk"):
        land = results.get("landscape", {}).get(env)
        if not land:
            continue
        drawn = True
        color = ENV_COLORS[env]
        style = "--" if env == "bulk" else "-"
        levels = [s["energy_per_S"] for s in land["states"]]
        for i, y in enumerate(levels):
            ax.plot(
                [i - half, i + half],
                [y, y],
                color=color,
                linewidth=2.5,
                linestyle=style,
                label=ENV_LABELS[env] if i == 0 else None,
            )
            ax.annotate(
                f"{y:.2f}",
                (i + half, y),
                xytext=(2, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                color=color,
            )
        for i, step in enumerate(land["steps"]):
            y0, y1 = levels[i], levels[i + 1]
            ax.plot([i + half, i + 1 - half], [y0, y1], color=color, linewidth=1, linestyle=":")
            limiting = land["limiting_step"] == f"{step['from']} -> {step['to']}"
            ax.annotate(
                f"ΔE = {step['dE_eV_per_Li']:+.2f} eV" + (" (limiting)" if limiting else ""),
                (i + 0.5, (y0 + y1) / 2),
                ha="center",
                va="bottom",
                fontsize=8,
                color=color,
                fontweight="bold" if limiting else "normal",
            )
    ax.set_xticks(range(3), [r"Li$_2$S", r"½ Li$_2$S$_2$ + Li", r"⅛ S$_8$ + 2 Li"])
    ax.set_xlim(-0.6, 2.8)
    ax.set_xlabel("Oxidation coordinate (Li removed per S atom)")
    ax.set_ylabel("Energy per S atom relative to Li$_2$S (eV)")
    ax.set_title("Oxidation landscape at 0 V vs Li$^+$/Li\n" + _calc_label(results), fontsize=9)
    if drawn:
        ax.legend(frameon=False, loc="upper left")
    flagged = _unconfirmed(results)
    if flagged and results.get("landscape", {}).get("LiI_100"):
        ax.text(
            0.99,
            0.02,
            "on LiI(100): " + "; ".join(flagged),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color=ENV_COLORS["LiI_100"],
            fontweight="bold",
        )
    return _save(fig, Path(out_dir), "activation_diagram")


def _unconfirmed(results: dict[str, Any]) -> list[str]:
    """Short notes for adsorbates whose LiI(100) level is an artifact or disputed by DFT."""
    notes = []
    checks = (results.get("verification") or {}).get("adsorption", {})
    for ads, v in results.get("adsorption_energies", {}).items():
        check = checks.get(ads, {})
        if check.get("status") not in (None, "agrees", "incomplete"):
            dft = next(
                (c["dft_eV"] for c in check["configs"] if c["id"] == check["reported_config"]),
                None,
            )
            extra = f" (DFT E_A {dft:+.2f} eV)" if dft is not None else ""
            notes.append(f"{ads} {check['status'].replace('_', ' ')} by DFT{extra}")
        elif v.get("best_config_intact") is False or v.get("best_config_surface_intact") is False:
            notes.append(f"{ads} minimum flagged (decomposed/reconstructed)")
    return notes


def plot_verification(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """DFT check: adsorption energies by the potential and by DFT, same geometries.

    Left: bars per adsorbate for the reported configuration (potential on the full
    slab, potential on the reduced model, DFT on the reduced model); an adsorbate DFT
    does not confirm is marked. Right: parity of every checked configuration, with the
    agreement tolerance as a band.
    """
    _style()
    ver = results["verification"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    names = list(ver["adsorption"])
    width = 0.27
    series = (
        ("mlip_full_eV", "potential, full slab", "#9467bd"),
        ("mlip_eV", "potential, reduced model", "#1f77b4"),
        ("dft_eV", "DFT (GPAW PBE+D3), reduced model", "#2ca02c"),
    )
    for k, (key, label, color) in enumerate(series):
        xs, ys = [], []
        for i, ads in enumerate(names):
            v = ver["adsorption"][ads]
            rep = next((c for c in v["configs"] if c["id"] == v["reported_config"]), None)
            if rep is not None and rep.get(key) is not None:
                xs.append(i + (k - 1) * width)
                ys.append(rep[key])
        ax1.bar(xs, ys, width, color=color, label=label)
        for x, y in zip(xs, ys, strict=True):
            ax1.annotate(
                f"{y:.2f}", (x, y), ha="center", va="top" if y < 0 else "bottom", fontsize=7
            )
    for i, ads in enumerate(names):
        status = ver["adsorption"][ads]["status"]
        if status != "agrees":
            ax1.annotate(
                "NOT CONFIRMED" if status == "not_confirmed" else status.upper(),
                (i, 0),
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                color="#d62728",
                fontsize=8,
                fontweight="bold",
            )
    ax1.axhline(0, color="k", linewidth=0.8)
    ax1.set_xticks(range(len(names)), [SPECIES_LABELS.get(n, n) for n in names])
    ax1.set_ylabel("Adsorption energy $E_A$ (eV)")
    ax1.set_title("Reported configuration per adsorbate\n" + _calc_label(results), fontsize=9)
    ax1.legend(frameon=False, fontsize=8, loc="lower left")
    pts = [
        (c["dft_eV"], c["mlip_eV"], ads)
        for ads, v in ver["adsorption"].items()
        for c in v["configs"]
        if c.get("dft_eV") is not None and c.get("mlip_eV") is not None
    ]
    if pts:
        lo = min(min(p[0], p[1]) for p in pts) - 0.5
        hi = max(max(p[0], p[1]) for p in pts) + 0.5
        tol = ver["tolerance_eV"]
        ax2.fill_between([lo, hi], [lo - tol, hi - tol], [lo + tol, hi + tol], color="#dddddd")
        ax2.plot([lo, hi], [lo, hi], color="k", linewidth=0.8)
        for ads in names:
            xs = [p[0] for p in pts if p[2] == ads]
            ys = [p[1] for p in pts if p[2] == ads]
            ax2.scatter(xs, ys, label=SPECIES_LABELS.get(ads, ads), s=30)
        ax2.set_xlim(lo, hi)
        ax2.set_ylim(lo, hi)
        ax2.legend(frameon=False, fontsize=8)
    ax2.set_xlabel("$E_A$ DFT (eV)")
    ax2.set_ylabel("$E_A$ potential (eV)")
    ax2.set_title(f"Every checked configuration (band: ±{ver['tolerance_eV']} eV)", fontsize=9)
    return _save(fig, Path(out_dir), "verification")
