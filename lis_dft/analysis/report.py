"""report.md: tables, figures, definitions, timing and provenance of a study."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lis_dft.analysis.energetics import DEGENERATE_EV
from lis_dft.analysis.results import surface_label
from lis_dft.analysis.sources import seeded_section
from lis_dft.fileio import atomic_write_text


def _race_order(cfg: dict) -> float:
    """Configurations by how far they got: race energy, else single-point energy."""
    for key in ("energy", "race_eV", "screen_eV"):
        if cfg.get(key) is not None:
            return cfg[key]
    return 0.0


def _fmt(x: Any, nd: int = 3) -> str:
    return "n/a" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def _flag(value: Any) -> str:
    return {True: "yes", False: "**NO**", None: "n/a"}[value]


def _integrity(cfg: dict[str, Any]) -> str:
    if not cfg.get("relaxed"):
        return ""
    parts = []
    if cfg.get("intact") is False:
        parts.append(f"adsorbate decomposed ({cfg.get('integrity')})")
    surf = cfg.get("surface_integrity") or {}
    if cfg.get("surface_intact") is False:
        parts.append(surf.get("detail", "surface reconstructed"))
    return "; ".join(parts) or "intact"


def _model_checks(results: dict[str, Any]) -> list[str]:
    """How the run's shipped potential was verified: its record's DFT checks, as report lines.

    The checks are those ``lis-dft potentials record-checks`` wrote from ``lis-dft
    verify`` on the model's own runs (:meth:`lis_dft.models.ShippedModel.record_dft_checks`);
    they say how far the potential was trusted before this run, not that this run was
    checked (the warnings and the DFT check section say that).
    """
    model_file = results["calculator"].get("model_file") or {}
    name = model_file.get("shipped_model")
    if not name:
        return []
    checks = model_file.get("dft_checks") or []
    if not checks:
        return [f"- Potential's DFT record: {name} has not been checked with DFT on a run."]
    by_run: dict[str, list[str]] = {}
    for c in checks:
        by_run.setdefault(f"{c['run']} ({str(c.get('checked_utc', ''))[:10]})", []).append(
            f"{c['adsorbate']} {c['potential_eV']:+.2f} / {c['dft_eV']:+.2f} eV, {c['status']}"
        )
    runs = "; ".join(f"run {run}: {', '.join(found)}" for run, found in by_run.items())
    lines = [
        f"- Potential's DFT record ({name}, `lis-dft verify` on its own runs; E_A of the "
        f"reported minimum, potential / DFT): {runs}"
    ]
    bulk: dict[tuple[str, str], list[str]] = {}
    for c in model_file.get("dft_formation_checks") or []:
        bulk.setdefault((c["run"], str(c.get("dft"))), []).append(
            f"{c['compound']} {c['potential_eV_per_atom']:+.3f} / {c['dft_eV_per_atom']:+.3f} "
            f"({c['error_eV_per_atom']:+.3f})"
        )
    for (run, dft), found in bulk.items():
        lines.append(
            f"- Potential's bulk check (run {run}; E_f in eV/atom at that run's relaxed cells, "
            f"potential / DFT ({dft}), error): {', '.join(found)}"
        )
    return lines


def _warnings(results: dict[str, Any]) -> list[str]:
    """Loud notes at the top: untrained elements, compromised minima, DFT disagreements."""
    notes = list(results.get("warnings") or [])
    for ads, v in results.get("adsorption_energies", {}).items():
        if v.get("best_config_intact") is False:
            notes.append(
                f"{ads}: the reported minimum ({v['best_config']}) is a decomposed adsorbate."
            )
        if v.get("best_config_surface_intact") is False:
            notes.append(
                f"{ads}: the reported minimum ({v['best_config']}) has a reconstructed surface "
                "(no relaxed configuration kept the surface intact)."
            )
    ver = results.get("verification")
    if ver:
        for ads, v in ver["adsorption"].items():
            if v["status"] != "agrees":
                notes.append(f"{ads}: DFT check: {v['verdict']}.")
    else:
        notes.append(
            "Not checked with DFT: numbers from a machine-learned potential are a hypothesis "
            "until DFT agrees (`lis-dft verify RUN`)."
        )
    if not notes:
        return []
    return ["> **Warnings**", ">", *[f"> - {n}" for n in notes], ""]


def _free_energy_section(results: dict[str, Any]) -> list[str]:
    """ΔG ladder: corrections per species and the steps at 0 V and at the onset."""
    fe = results.get("free_energy")
    if not fe:
        return []
    lines = [
        "",
        f"## Free energies (T = {fe['temperature_K']:.2f} K, {fe['pressure_Pa'] / 1e5:g} bar; "
        f"vibrations on {fe['calculator']})",
        "",
        "| environment | species | ZPE (eV) | -TS (eV) | G_corr (eV/f.u.) | modes | imaginary dropped | treatment |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for env, table in fe["corrections"].items():
        for name, c in table.items():
            lines.append(
                f"| {env} | {name} | {_fmt(c['zpe_eV'])} | {_fmt(c['minus_TS_eV'])} | "
                f"{_fmt(c['G_corr_eV'])} | {c['n_modes']} | {c['n_imaginary']} | {c['treatment']} |"
            )
    lines += [
        "",
        "| environment | step | ΔE (eV/Li) | ΔG(0 V) (eV/Li) | limiting (ΔG) | onset U (V vs Li⁺/Li) |",
        "|---|---|---|---|---|---|",
    ]
    for env, land in fe["landscape"].items():
        if not land:
            continue
        e_steps = {
            f"{st['from']} -> {st['to']}": st["dE_eV_per_Li"]
            for st in (results["landscape"].get(env) or {}).get("steps", [])
        }
        for st in land["steps"]:
            key = f"{st['from']} -> {st['to']}"
            limiting = key == land["limiting_step"]
            lines.append(
                f"| {env} | {key} | {_fmt(e_steps.get(key))} | {_fmt(st['dE_eV_per_Li'])} | "
                f"{'yes' if limiting else ''} | {_fmt(land['onset_potential_V_vs_Li']) if limiting else ''} |"
            )
    lines += ["", "Method: " + "; ".join(f"{k}: {v}" for k, v in fe["method"].items()) + "."]
    return lines


def _barrier_section(results: dict[str, Any]) -> list[str]:
    """CI-NEB delithiation barriers (eV per Li removed), per reaction and environment."""
    rows = results.get("barriers")
    if not rows:
        return []
    lines = [
        "",
        "## Delithiation barriers (climbing-image NEB)",
        "",
        "Barriers in eV per event (one Li removed), on the study's potential; the ladder above "
        "is thermodynamic. A barrier is a number only where the verdict says *saddle*.",
        "",
        "| reaction | environment | forward (eV) | reverse (eV) | ΔE (eV) | verdict | images | "
        "force calls | s | files |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['reaction']} | {r['environment']} | {_fmt(r['forward_eV'])} | "
            f"{_fmt(r['reverse_eV'])} | {_fmt(r['reaction_eV'])} | {r['verdict']} | "
            f"{len(r['energies'])} | {r.get('force_calls')} | {_fmt(r.get('seconds'), 0)} | "
            f"`{Path((r.get('files') or {}).get('ts', '')).parent}` |"
        )
    chosen = [
        f"{r['reaction']} on {r['environment']}: Li {c['li_index']} to {c['site']} "
        f"({c['displacement_A']:.2f} Å"
        + (
            f"; {c['rule']}: no site {r['settings'].get('min_li_s')} Å from S in this cell"
            if c.get("rule", "").startswith("fallback")
            else ""
        )
        + ")"
        for r in rows
        if r["environment"] != "vacuum" and (c := (r.get("final_state") or {}).get("chosen"))
    ]
    if chosen:
        lines += [
            "",
            "Final states (nearest site with the Li detached): " + "; ".join(chosen) + ".",
        ]
    skipped = [f"{r['reaction']} ({r['environment']})" for r in rows if r.get("climbed") is False]
    if skipped:
        lines += [
            "",
            "No climbing stage (the plain NEB's path has no interior maximum, so the barrier "
            "is the reaction energy): " + "; ".join(skipped) + ".",
        ]
    return lines


def _verification_section(results: dict[str, Any]) -> list[str]:
    ver = results.get("verification")
    if not ver:
        return []
    st = ver["settings"]
    lines = [
        "",
        "## DFT check (`lis-dft verify`)",
        "",
        f"- DFT: {st['dft']['model']} ({st['dft']['name']} {st['dft']['version']}), "
        f"settings {st['dft']['kwargs']}, D3: {st['dft']['d3']['damping']}; "
        f"counterpoise correction: {'yes' if ver['counterpoise'] else 'no'}",
        f"- Potential: {ver['mlip']['model']}, D3: {ver['mlip']['d3']['damping']}",
        f"- Same geometries for both: the run's relaxed minima cut onto the reduced model "
        f"({st['model']['lateral'][0]}×{st['model']['lateral'][1]} conventional cells, "
        f"{st['model']['layers']} layers; docs/methods.md). Single points done: {ver['dft_single_points']}.",
        f"- Tolerance {ver['tolerance_eV']} eV; largest |error| {_fmt(ver['largest_error_eV'], 2)} eV.",
        "",
        "| adsorbate | reported config | DFT's lowest | verdict |",
        "|---|---|---|---|",
    ]
    for ads, v in ver["adsorption"].items():
        lines.append(
            f"| {ads} | {v['reported_config']} | {v['dft_best_config']} | {v['verdict']} |"
        )
    lines += [
        "",
        "Every checked configuration, E_A in eV (potential on the run's slab; both methods on "
        "the reduced model; DFT counterpoise-corrected where computed; BSSE = the correction):",
        "",
        "| adsorbate | config | potential, full slab | potential | DFT | BSSE | error | surface |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ads, v in ver["adsorption"].items():
        for c in v["configs"]:
            lines.append(
                f"| {ads} | {c['id']} | {_fmt(c['mlip_full_eV'], 2)} | {_fmt(c['mlip_eV'], 2)} | "
                f"{_fmt(c['dft_eV'], 2)} | {_fmt(c['bsse_eV'], 2)} | {_fmt(c['error_eV'], 2)} | "
                f"{_flag(c.get('surface_intact'))} |"
            )
    fe = ver.get("formation_energies") or {}
    if fe:
        lines += [
            "",
            "| bulk formation energy (eV/atom) | potential | DFT | error |",
            "|---|---|---|---|",
        ]
        for name, v in fe.items():
            lines.append(
                f"| {name} | {_fmt(v.get('mlip_eV_per_atom'))} | {_fmt(v.get('dft_eV_per_atom'))} | "
                f"{_fmt(v.get('error_eV_per_atom'))} |"
            )
        tie = ver.get("li2s2_above_tie_line_eV_per_atom") or {}
        lines.append(
            f"| Li2S2 above the S–Li2S tie line (> 0: metastable) | {_fmt(tie.get('mlip'))} | "
            f"{_fmt(tie.get('dft'))} | |"
        )
    if ver.get("barriers"):
        lines += [
            "",
            "Barriers at the potential's path (IS, TS, FS single points; surface paths on the "
            "reduced model, one window for all three; raw LCAO, no counterpoise), eV:",
            "",
            "| reaction | environment | forward: potential | forward: DFT | error | "
            "ΔE: potential | ΔE: DFT | saddle (potential) | verdict |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for b in ver["barriers"]:
            lines.append(
                f"| {b['reaction']} | {b['environment']} | {_fmt(b['mlip_forward_eV'], 2)} | "
                f"{_fmt(b['dft_forward_eV'], 2)} | {_fmt(b['forward_error_eV'], 2)} | "
                f"{_fmt(b['mlip_reaction_eV'], 2)} | {_fmt(b['dft_reaction_eV'], 2)} | "
                f"{_flag(b.get('is_saddle'))} | {b['status']} |"
            )
    return lines


def render_report(results: dict[str, Any], figures: dict[str, str]) -> str:
    """Return the markdown report for a results dict."""
    c = results["calculator"]
    lines = ["# lis-dft study report", ""]
    if c.get("is_mock"):
        lines += [
            "> **MOCK CALCULATOR: these numbers test the pipeline and mean nothing physically.**",
            "",
        ]
    lines += [
        f"- Source: {results['source']}",
        f"- Calculator: {c.get('model')} ({c.get('name')} {c.get('version')}), "
        f"D3: {c.get('d3', {}).get('damping')}",
        f"- Created: {results['provenance'].get('created_utc')}",
        *_model_checks(results),
        "",
    ]
    lines += _warnings(results)
    lines += [
        "## Reference phases",
        "",
        "| phase | E (eV/atom) | V (Å³/atom) | lattice (conventional a, b, c in Å) | converged | checks |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results["references"].items():
        lat = r.get("lattice", {}).get("conventional") or r.get("lattice") or {}
        abc = ", ".join(_fmt(lat.get(k), 3) for k in ("a", "b", "c")) if lat else ""
        val = results["validation"].get(name, {})
        checks = (
            "ok"
            if val.get("ok")
            else "; ".join(
                f"{ch['name']}: {ch['detail']}" for ch in val.get("checks", []) if not ch["passed"]
            )
        )
        lines.append(
            f"| {name} | {_fmt(r['energy_per_atom'], 4)} | {_fmt(r.get('volume_per_atom'), 2)} | {abc} | "
            f"{r.get('converged')} | {checks} |"
        )
    lines += [
        "",
        "## Formation energies",
        "",
        "| compound | environment | eV/atom | eV/f.u. |",
        "|---|---|---|---|",
    ]
    for env, key in (
        ("bulk", "formation_energies"),
        ("vacuum", "vacuum_formation_energies"),
        (surface_label(results), "surface_formation_energies"),
    ):
        for name, v in results[key].items():
            lines.append(f"| {name} | {env} | {_fmt(v['eV_per_atom'])} | {_fmt(v['eV_per_fu'])} |")
    lines += [
        "",
        f"## Adsorption on {surface_label(results)}",
        "",
        "| adsorbate | E_A (eV) | best configuration | configurations screened | relaxed | adsorbate intact | surface intact | DFT check |",
        "|---|---|---|---|---|---|---|---|",
    ]
    checks = (results.get("verification") or {}).get("adsorption", {})
    for ads, v in results["adsorption_energies"].items():
        n_relaxed = sum(1 for c in v["configs"] if c["relaxed"])
        dft = checks.get(ads, {}).get("verdict", "not run")
        best = v["best_config"]
        if v.get("degenerate_configs"):  # the first placement of them is reported
            tied = ", ".join(v["degenerate_configs"])
            best = f"{best} (degenerate within {DEGENERATE_EV} eV: {tied})"
        lines.append(
            f"| {ads} | {_fmt(v['eV'])} | {best} | {len(v['configs'])} | {n_relaxed} | "
            f"{_flag(v.get('best_config_intact'))} | {_flag(v.get('best_config_surface_intact'))} | {dft} |"
        )
    small = (results.get("settings") or {}).get("screen_slab") == "small"
    lines += [
        "",
        "Every configuration tried (single point: the placement as built; race: where its "
        "relaxation stood when it was dropped from the screening race, see docs/methods.md; "
        + (
            "both on the smaller screening slab of the same surface, whose finalists were "
            "carried onto the study's slab; "
            if small
            else ""
        )
        + "relaxed: converged relaxation of the finalists on the study's slab):",
        "",
        "| adsorbate | config | site | single-point E_A (eV) | race E_A (eV) | dropped after round | relaxed E_A (eV) | integrity |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ads, v in results["adsorption_energies"].items():
        for cfg in sorted(v["configs"], key=_race_order):
            dropped = cfg.get("eliminated_after_round")
            lines.append(
                f"| {ads} | {cfg['id']} | {cfg['site']} | {_fmt(cfg['screen_eV'])} | "
                f"{_fmt(cfg.get('race_eV'))} | {'' if dropped is None else dropped} | {_fmt(cfg['energy'])} | "
                f"{_integrity(cfg)} |"
            )
    lines += [
        "",
        "## Oxidation landscape (per S atom, 0 V vs Li⁺/Li)",
        "",
        "Step energies in eV per Li removed (= equilibrium potential of the step in V vs Li⁺/Li).",
        "",
        "| environment | step | reaction | ΔE (eV/Li) | limiting |",
        "|---|---|---|---|---|",
    ]
    for env, land in results["landscape"].items():
        if not land:
            continue
        for st in land["steps"]:
            step = f"{st['from']} -> {st['to']}"
            lines.append(
                f"| {env} | {step} | {st['reaction']} | {_fmt(st['dE_eV_per_Li'])} | "
                f"{'limiting; onset ' + _fmt(land['onset_potential_V_vs_Li']) + ' V' if step == land['limiting_step'] else ''} |"
            )
    lines += _free_energy_section(results)
    lines += _barrier_section(results)
    lines += _verification_section(results)
    lines += seeded_section(results.get("seeded_comparison"))
    th = results.get("thermo")
    if th:
        lines += ["", "## Hull, voltages, volume change", "", "| quantity | value |", "|---|---|"]
        for name, v in th["hull_Li_S"].items():
            lines.append(
                f"| E above hull, {name} | {1000 * v['e_above_hull_eV_per_atom']:.0f} meV/atom |"
            )
        for name, v in th["voltages"].items():
            lines.append(
                f"| V({name}) | {v['V_vs_Li']:.2f} V vs Li⁺/Li, {v['V_vs_counter']:.2f} V vs Li–In |"
            )
        for name, v in th["volume_change_per_S"].items():
            lines.append(f"| volume change per S, {name} | {v['change_pct']:+.1f} % |")
    lines += ["", "## Figures", ""]
    for title, path in figures.items():
        lines.append(f"![{title}]({path})")
        lines.append("")
    lines += ["## Definitions", ""]
    lines += [f"- **{k}**: {v}" for k, v in results["definitions"].items()]
    t = results.get("timing") or {}
    if t:
        lines += [
            "",
            "## Timing",
            "",
            f"- Wall time: {_fmt(t.get('wall_seconds'), 1)} s for {t.get('n_run')} jobs run, "
            f"{t.get('n_skipped')} reused from the store",
            f"- Inside the calculator: {_fmt(t.get('calculator_seconds'), 1)} s over "
            f"{t.get('calculator_calls')} calls ({100 * (t.get('calculator_fraction') or 0):.1f}% of wall time)",
        ]
    lines += ["", "## Provenance", "", "| package | version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in results["provenance"].get("packages", {}).items()]
    p = results["provenance"]
    lines += [
        "",
        f"Python {p.get('python')} on {p.get('platform')}, {p.get('cpu_count')} CPUs.",
        "",
    ]
    return "\n".join(lines)


def write_report(results: dict[str, Any], out_dir: str | Path, figures: dict[str, str]) -> Path:
    """Write report.md atomically and return its path."""
    return atomic_write_text(Path(out_dir) / "report.md", render_report(results, figures))
