"""Publication figures: formation energies and the oxidation (activation) diagram.

Both read only results.json content, so local and VASP studies plot identically.
Each figure is written as PNG (300 dpi) and SVG.
"""

from __future__ import annotations

import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lis_dft.analysis.results import surface_label, surface_of
from lis_dft.system import SPECIES

ENV_COLORS = {"bulk": "#7f7f7f", "vacuum": "#1f77b4", "surface": "#d62728"}
SPECIES_LABELS = {name: sp.label for name, sp in SPECIES.items()}


def _env_label(results: dict[str, Any], env: str) -> str:
    """Legend label of an environment (``on LiBr(100)`` for the surface)."""
    return {"bulk": "bulk crystal", "vacuum": "in vacuum"}.get(
        env
    ) or f"on {surface_label(results)}"


def _env_color(env: str) -> str:
    return ENV_COLORS.get(env, ENV_COLORS["surface"])


def _state_label(name: str, removed: Fraction) -> str:
    """Tick label of a ladder state per S atom: ``½ Li$_2$S$_2$ + Li``."""
    coef = Fraction(1, SPECIES[name].n_s)
    text = ("" if coef == 1 else f"{coef} ") + SPECIES_LABELS[name]
    if removed:
        text += " + " + ("" if removed == 1 else f"{removed} ") + "Li"
    return text


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
    """Grouped bars of E_f per atom of the lithium sulfides: bulk, in vacuum, on the surface."""
    _style()
    surface = surface_of(results)
    tables = {
        "bulk": results.get("formation_energies", {}),
        "vacuum": results.get("vacuum_formation_energies", {}),
        surface: results.get("surface_formation_energies", {}),
    }
    # every lithiated species any environment has (Li2S, Li2S2, polysulfides), Li-rich first
    present = {n for t in tables.values() for n in t if n in SPECIES and SPECIES[n].li_per_s > 0}
    species = sorted(present, key=lambda n: (-SPECIES[n].li_per_s, n))
    envs = [e for e in ("bulk", "vacuum", surface) if any(s in tables[e] for s in species)]
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
            label=_env_label(results, env),
            color=_env_color(env),
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
    """Energy levels of the oxidation ladder per S atom (0 V vs Li+/Li), per environment."""
    _style()
    half = 0.32
    drawn = False
    surface = surface_of(results)
    lands = results.get("landscape", {})
    # x positions: the longest path any environment has (the bulk one lacks polysulfides)
    path = max(
        ([st["label"] for st in land["states"]] for land in lands.values() if land),
        key=len,
        default=["Li2S", "Li2S2", "S8"],
    )
    fig, ax = plt.subplots(figsize=(max(6.5, 2.0 * len(path)), 4.5))
    for env in ("vacuum", surface, "bulk"):
        land = lands.get(env)
        if not land:
            continue
        drawn = True
        color = _env_color(env)
        style = "--" if env == "bulk" else "-"
        levels = [s["energy_per_S"] for s in land["states"]]
        xpos = [path.index(st["label"]) for st in land["states"]]
        for i, y in zip(xpos, levels, strict=True):
            ax.plot(
                [i - half, i + half],
                [y, y],
                color=color,
                linewidth=2.5,
                linestyle=style,
                label=_env_label(results, env) if i == 0 else None,
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
        for k, step in enumerate(land["steps"]):
            y0, y1 = levels[k], levels[k + 1]
            x0, x1 = xpos[k], xpos[k + 1]
            ax.plot([x0 + half, x1 - half], [y0, y1], color=color, linewidth=1, linestyle=":")
            limiting = land["limiting_step"] == f"{step['from']} -> {step['to']}"
            ax.annotate(
                f"ΔE = {step['dE_eV_per_Li']:+.2f} eV" + (" (limiting)" if limiting else ""),
                ((x0 + x1) / 2, (y0 + y1) / 2),
                ha="center",
                va="bottom",
                fontsize=8,
                color=color,
                fontweight="bold" if limiting else "normal",
            )
    first = SPECIES[path[0]].li_per_s
    removed = [Fraction(first - SPECIES[n].li_per_s).limit_denominator(64) for n in path]
    ax.set_xticks(
        range(len(path)), [_state_label(n, r) for n, r in zip(path, removed, strict=True)]
    )
    ax.set_xlim(-0.6, len(path) - 0.2)
    ax.set_xlabel("Oxidation coordinate (Li removed per S atom)")
    ax.set_ylabel("Energy per S atom relative to Li$_2$S (eV)")
    ax.set_title("Oxidation landscape at 0 V vs Li$^+$/Li\n" + _calc_label(results), fontsize=9)
    if drawn:
        ax.legend(frameon=False, loc="upper left")
    _draw_barriers(ax, results, path, half)
    if lands.get(surface):
        _flag_note(ax, results)
    return _save(fig, Path(out_dir), "activation_diagram")


def _draw_barriers(ax, results: dict[str, Any], path: list[str], half: float) -> None:
    """CI-NEB barriers as arrows up from the reactant's level (eV per event, labelled)."""
    lands = results.get("landscape", {})
    for k, r in enumerate(results.get("barriers") or []):
        reactant = r["reaction"].split(" ->")[0]
        land = lands.get(r["environment"])
        if not land or reactant not in path:
            continue
        level = next((s["energy_per_S"] for s in land["states"] if s["label"] == reactant), None)
        if level is None:
            continue
        x = path.index(reactant) - half + 0.12 + 0.2 * (r["environment"] != "vacuum")
        color = _env_color(r["environment"])
        top = level + r["forward_eV"]
        ax.annotate(
            "",
            (x, top),
            xytext=(x, level),
            arrowprops={
                "arrowstyle": "->",
                "color": color,
                "lw": 1.2,
                "linestyle": "-" if r["is_saddle"] else ":",
            },
        )
        ax.annotate(
            f"E$_a$ {r['forward_eV']:.2f}" + ("" if r["is_saddle"] else " (no saddle)"),
            (x, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=7,
            color=color,
        )
        if k == 0:
            ax.text(
                0.99,
                0.02,
                "arrows: CI-NEB barriers, eV per Li removed",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=7,
            )


def plot_neb_paths(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """``neb_<reactant>``: energy along each delithiation path, vacuum vs surface."""
    _style()
    out: list[Path] = []
    by_reactant: dict[str, list[dict[str, Any]]] = {}
    for r in results.get("barriers") or []:
        by_reactant.setdefault(r["reaction"].split(" ->")[0], []).append(r)
    for reactant, rows in by_reactant.items():
        fig, ax = plt.subplots(figsize=(5.5, 4.0))
        for r in rows:
            color = _env_color(r["environment"])
            x, y = r["path_A"], r["energies"]
            ax.plot(x, y, "o-", color=color, label=_env_label(results, r["environment"]))
            i = r["ts_index"]
            ax.plot([x[i]], [y[i]], marker="*", markersize=14, color=color)
            ax.annotate(
                f"{r['forward_eV']:.2f} eV" + ("" if r["is_saddle"] else " (no saddle)"),
                (x[i], y[i]),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=8,
                color=color,
            )
        ax.axhline(0, color="0.7", linewidth=0.8)
        ax.set_xlabel("Reaction coordinate (Å, cumulative image distance)")
        ax.set_ylabel("Energy relative to the initial state (eV)")
        ax.set_title(f"{rows[0]['reaction']} (CI-NEB)\n" + _calc_label(results), fontsize=9)
        ax.legend(frameon=False)
        out += _save(fig, Path(out_dir), f"neb_{reactant}")
    return out


def _flag_note(ax, results: dict[str, Any]) -> None:
    """Write the surface's flagged or DFT-disputed minima in the corner of ``ax``."""
    flagged = _unconfirmed(results)
    if flagged:
        ax.text(
            0.99,
            0.02,
            textwrap.fill(f"on {surface_label(results)}: " + "; ".join(flagged), 90),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color=ENV_COLORS["surface"],
            fontweight="bold",
        )


def _unconfirmed(results: dict[str, Any]) -> list[str]:
    """Short notes for adsorbates whose surface level is an artifact or disputed by DFT."""
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


def plot_free_energy_ladder(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """ΔG ladder per S atom at 0 V (solid) and at the onset potential (dashed), per environment."""
    _style()
    fe = results["free_energy"]
    lands = {env: land for env, land in fe["landscape"].items() if land}
    path = max(
        ([st["label"] for st in land["states"]] for land in lands.values()), key=len, default=[]
    )
    fig, ax = plt.subplots(figsize=(max(6.5, 2.0 * len(path)), 4.5))
    half = 0.32
    for env, land in lands.items():
        color = _env_color(env)
        onset = fe["at_onset"][env]
        x = [path.index(st["label"]) for st in land["states"]]
        for levels, style, tag in (
            ([st["energy_per_S"] for st in land["states"]], "-", "0 V"),
            (onset["levels_per_S_eV"], "--", f"U = {onset['potential_V_vs_Li']:.2f} V"),
        ):
            for k, (i, y) in enumerate(zip(x, levels, strict=True)):
                ax.plot(
                    [i - half, i + half],
                    [y, y],
                    color=color,
                    linestyle=style,
                    linewidth=2.5 if style == "-" else 1.5,
                    label=f"{_env_label(results, env)}, {tag}" if k == 0 else None,
                )
                if k:
                    ax.plot(
                        [x[k - 1] + half, i - half],
                        [levels[k - 1], y],
                        color=color,
                        linestyle=":",
                        linewidth=1,
                    )
    first = SPECIES[path[0]].li_per_s if path else 0
    ax.set_xticks(
        range(len(path)),
        [
            _state_label(n, Fraction(first - SPECIES[n].li_per_s).limit_denominator(64))
            for n in path
        ],
        rotation=20 if len(path) > 3 else 0,
    )
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("Oxidation coordinate (Li removed per S atom)")
    ax.set_ylabel("G per S atom relative to Li$_2$S (eV)")
    ax.set_title(
        f"Free-energy ladder, T = {fe['temperature_K']:.0f} K (dashed: at the onset potential)\n"
        + _calc_label(results),
        fontsize=9,
    )
    ax.legend(frameon=False, fontsize=8)
    _flag_note(ax, results)
    return _save(fig, Path(out_dir), "free_energy_ladder")
