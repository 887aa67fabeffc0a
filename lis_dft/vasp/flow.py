"""The VASP study as a jobflow Flow of atomate2 VASP makers.

The same calculation list drives this Flow and the campaign on disk
(:func:`lis_dft.vasp.campaign.campaign_specs` for the exhaustive study,
:func:`lis_dft.vasp.campaign.seeded_specs` for a local run's minima): one atomate2
:class:`~atomate2.vasp.jobs.core.RelaxMaker` per calculation, named as in campaign.json,
with the paper's input set (:func:`lis_dft.vasp.sets.input_generator`), then one
``parse vasp study`` job that reads every run with lis-dft's own verdicts
(:func:`lis_dft.vasp.parse.parse_calculation`, the rules of ``lis-dft parse``) and builds
the energy record and results.json's content from the trusted ones.

Dependencies are the campaign's: an adsorbate slab's relaxation waits (a small
:func:`after` job) for its clean slab and its molecule, as ``afterok`` makes it wait in a
scheduler queue, and the parse job depends on every relaxation, as the campaign's
``analysis`` entry does.

Run it through jobflow: ``run_locally``, or on a cluster with jobflow-remote
(:func:`submit_vasp_study`, the project of ``lis-dft remote-project``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Flow, Maker, job
from pymatgen.core import Structure

from lis_dft.vasp.campaign import Calculation, Campaign
from lis_dft.vasp.sets import VaspSettings, input_generator


def _local_path(dir_name: str) -> str:
    """atomate2's ``dir_name`` is ``host:/path``; the path."""
    host, sep, path = dir_name.partition(":")
    return path if sep and "/" not in host else dir_name


@job
def after(structure: Structure, finished: list[str]) -> Structure:
    """``structure``, once the calculations whose folders are ``finished`` have run.

    The campaign's ``afterok`` as a jobflow dependency: an adsorbate slab starts after its
    clean slab and its molecule (and not at all if one of them failed).
    """
    return structure


@job(name="parse vasp study")
def parse_vasp_study(
    calculations: list[dict[str, Any]],
    dir_names: list[str],
    settings: dict[str, Any],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """Verdicts of every VASP run, the energy record, and the results if the references are trusted.

    Returns ``{"parsed": [...], "record": ..., "missing": [...], "results": ... | None}``.
    """
    from lis_dft.analysis.results import build_results
    from lis_dft.provenance import provenance
    from lis_dft.vasp.parse import parse_calculation
    from lis_dft.vasp.results import energy_record, missing_for_results, vasp_calculator_info

    calcs = [Calculation(**c) for c in calculations]
    for c, d in zip(calcs, dir_names, strict=True):
        c.path = _local_path(d)
    campaign = Campaign(Path("/"), calcs, settings, meta)
    parsed = [parse_calculation(c.path, name=c.name, formula=c.formula or None) for c in calcs]
    record = energy_record(campaign, parsed)
    missing = missing_for_results(record)
    results = None
    if not missing:
        results = build_results(
            record, vasp_calculator_info(campaign), settings, provenance(), source="vasp"
        )
        if meta.get("seeded_from"):  # VASP beside the potential that chose the configurations
            from lis_dft.analysis.sources import compare_seeded

            results["seeded_comparison"] = compare_seeded(meta["seeded_from"], results)
    return {
        "parsed": [p.as_dict() for p in parsed],
        "record": record,
        "missing": missing,
        "results": results,
    }


@dataclass
class VaspStudyMaker(Maker):
    """One atomate2 RelaxMaker per calculation, then the parse job.

    Parameters
    ----------
    name
        Name of the Flow.
    settings
        The paper's VASP settings (ENCUT, EDIFF, EDIFFG, IVDW, k-points, overrides).

    """

    name: str = "lis-dft vasp study"
    settings: VaspSettings = field(default_factory=VaspSettings)

    def make(
        self, specs: list[tuple[Calculation, Structure]], meta: dict[str, Any] | None = None
    ) -> Flow:
        """The Flow of ``specs`` (the campaign's calculations and their structures)."""
        from atomate2.vasp.jobs.core import RelaxMaker

        relaxations, by_name, waits = [], {}, []
        for calc, structure in specs:
            generator = input_generator(calc.kind, structure, self.settings, calc.n_slab)
            start: Any = structure
            if calc.depends_on:  # the campaign's afterok: wait for those calculations
                wait = after(structure, [by_name[d].output.dir_name for d in calc.depends_on])
                wait.name = f"after {', '.join(calc.depends_on)}: {calc.name}"
                waits.append(wait)
                start = wait.output
            job_ = RelaxMaker(name=calc.name, input_set_generator=generator).make(start)
            relaxations.append(job_)
            by_name[calc.name] = job_
        parse = parse_vasp_study(
            [asdict(c) for c, _ in specs],
            [j.output.dir_name for j in relaxations],
            self.settings.as_dict(),
            meta or {},
        )
        return Flow([*waits, *relaxations, parse], output=parse.output, name=self.name)


def vasp_flow_from_run(
    run_dir: str | Path, top_k: int = 2, settings: VaspSettings | None = None
) -> Flow:
    """The VASP Flow of a finished local run's minima (the calculations of ``inputs --from-run``)."""
    from lis_dft.dft_workflows.verify import load_run
    from lis_dft.vasp.campaign import seeded_specs

    results, record, _ = load_run(run_dir)
    specs, catalyst, summary = seeded_specs(record, top_k)
    meta = {"catalyst": results.get("catalyst") or catalyst, "seeded_from": summary.as_dict()}
    return VaspStudyMaker(settings=settings or VaspSettings()).make(specs, meta)


def submit_vasp_study(
    project: str, run_dir: str | Path, worker: str = "cluster", top_k: int = 2
) -> list:
    """Submit the VASP Flow of a finished run's minima to jobflow-remote.

    Run on the machine that holds the project's MongoDB (``lis-dft remote-project``
    writes the project file); the worker runs atomate2's VASP jobs with the
    ``lis_dft`` exec config.
    """
    from jobflow_remote import submit_flow

    return submit_flow(
        vasp_flow_from_run(run_dir, top_k), worker=worker, project=project, exec_config="lis_dft"
    )
