"""Everything a results dict turns into on disk: results.json/csv, figures, report.md.

The one writer of a study's outputs, whatever produced the energies (a local run,
``verify``, ``barriers``, ``free-energy``, a parsed VASP campaign).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lis_dft.analysis.plots import (
    plot_activation_diagram,
    plot_formation_energies,
    plot_free_energy_ladder,
    plot_verification,
)
from lis_dft.analysis.report import write_report
from lis_dft.analysis.results import write_results
from lis_dft.errors import ParameterError


def write_outputs(results: dict[str, Any], out_dir: Path, figures: bool = True) -> dict[str, Path]:
    """Write results.json/csv, figures (PNG + SVG) and report.md into ``out_dir``.

    Hull and voltage figures are added when the Li, S, Li2S and Li2S2 references are all
    present (a VASP campaign may lack one while runs are still failing). ``figures=False``
    writes the numbers and a report without figures: for a stage whose next stage
    writes them all again (``lis-dft run`` before its barriers; drawing them takes 2 s).
    """
    from lis_dft.analysis.thermo_outputs import plot_hull, plot_voltage_profile, thermo_summary

    fig_dir = out_dir / "figures"
    paths: dict[str, Path] = {}
    listed = {
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
    if not figures:
        paths["results.json"], paths["results.csv"] = write_results(results, out_dir)
        paths["report.md"] = write_report(results, out_dir, {})
        return paths
    if summary:
        paths["hull"] = plot_hull(results, fig_dir)[0]
        paths["voltage_profile"] = plot_voltage_profile(results, summary, fig_dir)[0]
        listed["Li-S convex hull"] = "figures/hull.png"
        listed["Voltage profile"] = "figures/voltage_profile.png"
    paths["formation_energies"] = plot_formation_energies(results, fig_dir)[0]
    paths["activation_diagram"] = plot_activation_diagram(results, fig_dir)[0]
    if results.get("free_energy"):
        paths["free_energy_ladder"] = plot_free_energy_ladder(results, fig_dir)[0]
        listed["Free-energy ladder vs electrode potential"] = "figures/free_energy_ladder.png"
    if results.get("barriers"):
        from lis_dft.analysis.plots import plot_neb_paths

        for f in plot_neb_paths(results, fig_dir)[::2]:
            paths[f.stem] = f
            listed[f"Delithiation path {f.stem[4:]} (CI-NEB)"] = f"figures/{f.name}"
    if results.get("verification"):
        paths["verification"] = plot_verification(results, fig_dir)[0]
        listed["DFT check: potential vs DFT on the same geometries"] = "figures/verification.png"
    paths["results.json"], paths["results.csv"] = write_results(results, out_dir)
    paths["report.md"] = write_report(results, out_dir, listed)
    return paths
