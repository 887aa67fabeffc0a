"""The local study end to end: structures -> jobflow flow -> store -> results, figures, report."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from lis_dft.analysis.outputs import write_outputs
from lis_dft.analysis.results import build_results
from lis_dft.dft_workflows.flows import LocalStudyMaker, StudySettings
from lis_dft.dft_workflows.runner import RunStats, ensure_writable, job_output, preflight, run_flow
from lis_dft.dft_workflows.stores import job_store_from_uri, local_job_store
from lis_dft.dft_workflows.threads import last_choice
from lis_dft.provenance import provenance
from lis_dft.structures.catalog import build_study_structures
from lis_dft.system import resolve_catalyst


def run_local_study(
    out_dir: str | Path,
    settings: StudySettings | None = None,
    overrides: dict[str, Path] | None = None,
    store_uri: str | None = None,
    progress: bool = True,
    figures: bool = True,
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
    figures
        Draw the figures (``False`` when a next stage rewrites every output anyway).

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
        provenance={**provenance(), "torch_threads": last_choice()},
        timing=stats.as_dict(),
    )
    write_outputs(results, out_dir, figures=figures)
    return results, stats
