"""The local study end to end: structures -> jobflow flow -> store -> results, figures, report."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from lis_dft.analysis.plots import (
    plot_activation_diagram,
    plot_formation_energies,
    plot_free_energy_ladder,
    plot_verification,
)
from lis_dft.analysis.report import write_report
from lis_dft.analysis.results import build_results, write_results
from lis_dft.dft_workflows.flows import LocalStudyMaker, StudySettings
from lis_dft.dft_workflows.runner import RunStats, ensure_writable, job_output, preflight, run_flow
from lis_dft.dft_workflows.stores import job_store_from_uri, local_job_store
from lis_dft.errors import ParameterError
from lis_dft.provenance import provenance
from lis_dft.structures.catalog import build_study_structures
from lis_dft.system import resolve_catalyst


def write_outputs(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write results.json/csv, figures (PNG + SVG) and report.md into ``out_dir``.

    Hull and voltage figures are added when the Li, S, Li2S and Li2S2 references are all
    present (a VASP campaign may lack one while runs are still failing).
    """
    from lis_dft.analysis.thermo_outputs import plot_hull, plot_voltage_profile, thermo_summary

    fig_dir = out_dir / "figures"
    paths: dict[str, Path] = {}
    figures = {
        "Formation energies per atom": "figures/formation_energies.png",
        "Oxidation landscape (activation diagram)": "figures/activation_diagram.png",
    }
    try:
        summary = thermo_summary(results)
    except (ParameterError, KeyError):
        summary = None
    if summary:
        keys = ("hull_Li_S", "voltages", "counter_electrode_vs_Li_V", "volume_change_per_S")
        results["thermo"] = {k: summary[k] for k in keys}
        paths["hull"] = plot_hull(results, fig_dir)[0]
        paths["voltage_profile"] = plot_voltage_profile(results, summary, fig_dir)[0]
        figures["Li-S convex hull"] = "figures/hull.png"
        figures["Voltage profile"] = "figures/voltage_profile.png"
    paths["formation_energies"] = plot_formation_energies(results, fig_dir)[0]
    paths["activation_diagram"] = plot_activation_diagram(results, fig_dir)[0]
    if results.get("free_energy"):
        paths["free_energy_ladder"] = plot_free_energy_ladder(results, fig_dir)[0]
        figures["Free-energy ladder vs electrode potential"] = "figures/free_energy_ladder.png"
    if results.get("barriers"):
        from lis_dft.analysis.plots import plot_neb_paths

        for f in plot_neb_paths(results, fig_dir)[::2]:
            paths[f.stem] = f
            figures[f"Delithiation path {f.stem[4:]} (CI-NEB)"] = f"figures/{f.name}"
    if results.get("verification"):
        paths["verification"] = plot_verification(results, fig_dir)[0]
        figures["DFT check: potential vs DFT on the same geometries"] = "figures/verification.png"
    paths["results.json"], paths["results.csv"] = write_results(results, out_dir)
    paths["report.md"] = write_report(results, out_dir, figures)
    return paths


def run_local_study(
    out_dir: str | Path,
    settings: StudySettings | None = None,
    overrides: dict[str, Path] | None = None,
    store_uri: str | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], RunStats]:
    """Run (or resume) the whole study and write every output.

    Parameters
    ----------
    out_dir
        Output folder; holds the embedded job store (``store/``), per-job folders
        (``jobs/``), results, figures and report.
    settings
        Study settings; defaults to the default calculator and the paper's slab.
    overrides
        Phase name -> user structure file.
    store_uri
        A MongoDB URI to use instead of the embedded JSON store.
    progress
        Show the progress bar.

    Returns
    -------
    results, stats

    """
    settings = settings or StudySettings()
    out_dir = Path(out_dir).absolute()  # jobs run in their own folders
    cat = resolve_catalyst(settings.catalyst, settings.miller)
    preflight(settings.calculator.name, {"Li", "S", *cat.elements})
    ensure_writable(out_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structures = build_study_structures(
            overrides,
            settings.slab,
            conventional=False,
            with_placements=False,
            catalyst_name=cat,
            adsorbates=tuple(settings.adsorbates),
        )
    flow = LocalStudyMaker(settings=settings).make(structures)
    store = job_store_from_uri(store_uri) if store_uri else local_job_store(out_dir / "store")
    stats = run_flow(flow, store, out_dir / "jobs", progress=progress)
    record = job_output(store, flow.jobs[-1].uuid)
    results = build_results(
        record,
        calculator=settings.calculator.describe(),
        settings=settings.as_dict(),
        provenance=provenance(),
        timing=stats.as_dict(),
    )
    write_outputs(results, out_dir)
    return results, stats
