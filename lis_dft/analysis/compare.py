"""Compare finished studies across catalysts: which surface eases the oxidation most.

``compare_runs`` reads the ``results.json`` of several ``lis-dft run`` folders (one per
catalyst, or per facet) and puts side by side, per catalyst: the adsorption energy of
every species (with its integrity and DFT-check flags), the oxidation ladder on the
surface, its limiting step and onset potential. Energy differences are only comparable
on one Hamiltonian, so runs on different calculators are refused unless the caller
allows it, and then every table says so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lis_dft.analysis.results import surface_label, surface_of
from lis_dft.errors import ParameterError
from lis_dft.fileio import atomic_write_text
from lis_dft.system import SPECIES, oxidation_path


@dataclass
class CatalystSummary:
    """One run's numbers for the comparison."""

    run: str
    catalyst: str
    surface: str
    calculator: str
    adsorption_eV: dict[str, float | None]
    flags: dict[str, str]
    ladder: list[dict[str, Any]]
    limiting_step: str | None
    onset_V: float | None
    limiting_step_G: str | None = None
    onset_G_V: float | None = None
    temperature_K: float | None = None


@dataclass
class Comparison:
    """Every run side by side; ``mixed_calculators`` marks a comparison across Hamiltonians."""

    runs: list[CatalystSummary]
    species: list[str]
    mixed_calculators: bool
    easiest: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _calculator_key(results: dict[str, Any]) -> str:
    """The Hamiltonian's identity: backend, model (weights hash when shipped), D3 damping.

    Descriptions are not compared (a model's description may be reworded; its weights
    are what compute the energies).
    """
    c = results.get("calculator", {})
    d3 = (c.get("d3") or {}).get("damping", "none")
    model = (c.get("kwargs") or {}).get("model") or c.get("model")
    sha = (c.get("model_file") or {}).get("weights_sha256")
    return f"{c.get('name')}/{model}" + (f" ({sha[:12]})" if sha else "") + f"+D3({d3})"


def _flag(ads: str, v: dict[str, Any], checks: dict[str, Any]) -> str:
    flags = []
    if v.get("best_config_intact") is False:
        flags.append("decomposed")
    if v.get("best_config_surface_intact") is False:
        flags.append("surface reconstructed")
    status = checks.get(ads, {}).get("status")
    if status:
        flags.append(f"DFT: {status.replace('_', ' ')}")
    return ", ".join(flags)


def is_problem(flag: str | None) -> bool:
    """A flag that puts the number in doubt (anything but a DFT check that agrees)."""
    return bool(flag) and any(part.strip() != "DFT: agrees" for part in flag.split(","))


def load_results(run: str | Path) -> dict[str, Any]:
    """Read a run's results.json (the folder or the file); clear error if missing."""
    path = Path(run)
    path = path / "results.json" if path.is_dir() else path
    if not path.exists():
        raise ParameterError(f"No results.json at {path}; point compare at 'lis-dft run' folders.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{path} is not valid JSON: {exc}.") from exc


def summarise(results: dict[str, Any], run: str) -> CatalystSummary:
    """The comparison's view of one run."""
    surface = surface_of(results)
    land = (results.get("landscape") or {}).get(surface)
    checks = (results.get("verification") or {}).get("adsorption", {})
    ads = results.get("adsorption_energies", {})
    fe = results.get("free_energy") or {}
    g_land = (fe.get("landscape") or {}).get(surface)
    return CatalystSummary(
        run=run,
        catalyst=(results.get("catalyst") or {}).get("name", surface.split("_")[0]),
        surface=surface_label(results),
        calculator=_calculator_key(results),
        adsorption_eV={k: v.get("eV") for k, v in ads.items()},
        flags={k: _flag(k, v, checks) for k, v in ads.items()},
        ladder=land["steps"] if land else [],
        limiting_step=land["limiting_step"] if land else None,
        onset_V=land["onset_potential_V_vs_Li"] if land else None,
        limiting_step_G=g_land["limiting_step"] if g_land else None,
        onset_G_V=g_land["onset_potential_V_vs_Li"] if g_land else None,
        temperature_K=fe.get("temperature_K"),
    )


def compare_runs(runs: list[str | Path], allow_mixed: bool = False) -> Comparison:
    """Compare several finished runs (see module docstring).

    Raises
    ------
    ParameterError
        Fewer than two runs, two runs of the same surface, or runs on different
        calculators without ``allow_mixed``.

    """
    if len(runs) < 2:
        raise ParameterError("compare needs at least two run folders.")
    summaries = [summarise(load_results(r), str(r)) for r in runs]
    surfaces = [s.surface for s in summaries]
    if len(set(surfaces)) < len(surfaces):
        dupes = sorted({x for x in surfaces if surfaces.count(x) > 1})
        raise ParameterError(f"Two runs are on the same surface ({dupes}); compare one run each.")
    calcs = sorted({s.calculator for s in summaries})
    mixed = len(calcs) > 1
    notes = []
    if mixed:
        if not allow_mixed:
            raise ParameterError(
                f"The runs used different calculators ({calcs}): their energy differences are "
                "not on one Hamiltonian. Re-run them on one, or pass --allow-mixed to compare "
                "anyway (every table is then marked)."
            )
        notes.append(
            f"MIXED CALCULATORS {calcs}: differences between catalysts are not on one Hamiltonian."
        )
    species = list(oxidation_path({k for s in summaries for k in s.adsorption_eV if k in SPECIES}))
    ranked = [s for s in summaries if s.onset_V is not None]
    easiest = min(ranked, key=lambda s: s.onset_V).surface if ranked else None
    for s in ranked:  # a limiting step through a compromised minimum is not a result
        doubtful = [
            f"{sp} {s.flags[sp]}"
            for sp in (s.limiting_step or "").split(" -> ")
            if is_problem(s.flags.get(sp))
        ]
        if doubtful:
            notes.append(
                f"{s.surface}: its limiting step {s.limiting_step} runs through a flagged "
                f"minimum ({'; '.join(doubtful)}): its onset is not a result."
            )
    for r, s in zip(runs, summaries, strict=True):
        notes += [f"{s.surface}: {w}" for w in load_results(r).get("warnings") or []]
    for s in summaries:
        flagged = {k: f for k, f in s.flags.items() if is_problem(f)}
        if flagged:
            notes.append(f"{s.surface}: " + "; ".join(f"{k} {f}" for k, f in flagged.items()))
    return Comparison(summaries, species, mixed, easiest, notes)


def _fmt(x: float | None, nd: int = 2) -> str:
    return "" if x is None else f"{x:+.{nd}f}"


def render_markdown(comp: Comparison) -> str:
    """The comparison as Markdown tables."""
    lines = ["# Catalyst comparison", ""]
    if comp.mixed_calculators:
        lines += ["**Warning: the runs used different calculators; see the notes.**", ""]
    lines += ["## Adsorption energies E_A (eV)", ""]
    lines += ["| surface | calculator | " + " | ".join(comp.species) + " |"]
    lines += ["|---|---|" + "---|" * len(comp.species)]
    for s in comp.runs:
        cells = []
        for sp in comp.species:
            v = s.adsorption_eV.get(sp)
            flag = s.flags.get(sp)
            cells.append(_fmt(v) + (f" ({flag})" if flag else ""))
        lines.append(f"| {s.surface} | {s.calculator} | " + " | ".join(cells) + " |")
    lines += ["", "## Oxidation ladder on each surface (eV per Li removed, 0 V vs Li⁺/Li)", ""]
    steps = []
    for s in comp.runs:
        for st in s.ladder:
            key = f"{st['from']} -> {st['to']}"
            if key not in steps:
                steps.append(key)
    lines += [
        "| surface | "
        + " | ".join(steps)
        + " | limiting step | onset (V vs Li⁺/Li) | limiting step, ΔG | onset from ΔG (V) |"
    ]
    lines += ["|---|" + "---|" * len(steps) + "---|---|---|---|"]
    for s in comp.runs:
        by = {f"{st['from']} -> {st['to']}": st["dE_eV_per_Li"] for st in s.ladder}
        g = (
            f"{s.limiting_step_G} ({s.temperature_K:.0f} K)"
            if s.limiting_step_G
            else "not computed (lis-dft free-energy)"
        )
        lines.append(
            f"| {s.surface} | "
            + " | ".join(_fmt(by.get(k)) for k in steps)
            + f" | {s.limiting_step or ''} | {_fmt(s.onset_V)} | {g} | {_fmt(s.onset_G_V)} |"
        )
    if comp.easiest:
        lines += ["", f"Lowest onset potential: **{comp.easiest}**."]
    if comp.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in comp.notes]
    return "\n".join(lines) + "\n"


def plot_comparison(comp: Comparison, out_dir: Path) -> list[Path]:
    """Two panels: E_A per species per surface; the ladder's step energies per surface."""
    from lis_dft.analysis.plots import SPECIES_LABELS, _save, _style, plt

    _style()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    n = len(comp.runs)
    width = 0.8 / max(n, 1)
    longest = max((s.ladder for s in comp.runs), key=len, default=[])
    step_keys = [f"{st['from']}->{st['to']}" for st in longest]
    for k, s in enumerate(comp.runs):
        xs = [i + (k - (n - 1) / 2) * width for i in range(len(comp.species))]
        ys = [s.adsorption_eV.get(sp) for sp in comp.species]
        bars = ax1.bar(
            [x for x, y in zip(xs, ys, strict=True) if y is not None],
            [y for y in ys if y is not None],
            width * 0.92,
            label=s.surface,
            edgecolor="black",
            linewidth=0.6,
        )
        flagged = [
            bool(s.flags.get(sp)) for sp, y in zip(comp.species, ys, strict=True) if y is not None
        ]
        for bar, f in zip(bars, flagged, strict=True):
            if f:
                bar.set_hatch("//")
        pts = [
            (step_keys.index(f"{st['from']}->{st['to']}"), st["dE_eV_per_Li"])
            for st in s.ladder
            if f"{st['from']}->{st['to']}" in step_keys
        ]
        ax2.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=s.surface)
    ax1.axhline(0, color="black", linewidth=0.8)
    ax1.set_xticks(range(len(comp.species)), [SPECIES_LABELS.get(sp, sp) for sp in comp.species])
    ax1.set_ylabel("Adsorption energy E_A (eV)")
    ax1.set_title("Adsorption (hatched: decomposed, reconstructed or disputed by DFT)", fontsize=10)
    ax1.legend(frameon=False)
    ax2.set_xticks(
        range(len(longest)),
        [f"{st['from']}→{st['to']}" for st in longest],
        rotation=20 if len(longest) > 3 else 0,
    )
    ax2.axhline(0, color="black", linewidth=0.8)
    ax2.set_ylabel("Step energy (eV per Li = V vs Li⁺/Li)")
    ax2.set_title("Oxidation steps on each surface (highest = limiting)", fontsize=10)
    ax2.legend(frameon=False)
    if comp.mixed_calculators:
        fig.suptitle("MIXED CALCULATORS: not one Hamiltonian", color="red", fontweight="bold")
    return _save(fig, out_dir, "compare")


def write_comparison(comp: Comparison, out_dir: str | Path) -> dict[str, Path]:
    """Write compare.json, compare.md and figures/compare.{png,svg} into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "compare.json": atomic_write_text(
            out_dir / "compare.json", json.dumps(comp.as_dict(), indent=2)
        ),
        "compare.md": atomic_write_text(out_dir / "compare.md", render_markdown(comp)),
    }
    paths["figure"] = plot_comparison(comp, out_dir / "figures")[0]
    return paths
