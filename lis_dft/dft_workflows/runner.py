"""Run the local study through jobflow with a persistent store, resuming finished jobs.

jobflow's ``run_locally`` re-runs every job it is given. Here each job's uuid is
deterministic (see :mod:`.flows`), so before running a job the store is asked whether
an output for that uuid exists; if so the job is skipped. Outputs are written to the
store as each job finishes, atomically, so an interrupted run loses at most the job
that was running.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from contextlib import chdir, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Flow, JobStore

from lis_dft.dft_workflows.calculators import CALC_TIMER, check_available, check_elements
from lis_dft.errors import LisDftError, OutputDirError


class JobFailedError(LisDftError):
    """A job of the study raised; earlier jobs are kept in the store."""


@dataclass
class RunStats:
    """What a run did and how long it took."""

    n_jobs: int = 0
    n_run: int = 0
    n_skipped: int = 0
    n_pending: int = 0
    wall_seconds: float = 0.0
    calculator_seconds: float = 0.0
    calculator_calls: int = 0
    job_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def calculator_fraction(self) -> float:
        """Fraction of wall time spent inside calculator calls."""
        return self.calculator_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "n_jobs": self.n_jobs,
            "n_run": self.n_run,
            "n_skipped": self.n_skipped,
            "n_pending": self.n_pending,
            "wall_seconds": round(self.wall_seconds, 3),
            "calculator_seconds": round(self.calculator_seconds, 3),
            "calculator_calls": self.calculator_calls,
            "calculator_fraction": round(self.calculator_fraction, 4),
            "job_seconds": {k: round(v, 3) for k, v in self.job_seconds.items()},
        }


def ensure_writable(out_dir: Path) -> None:
    """Create ``out_dir`` or raise OutputDirError saying why it cannot be used."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputDirError(f"Cannot create output directory {out_dir}: {exc.strerror}.") from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputDirError(f"Output directory {out_dir} is not writable; choose another --out.")


def preflight(calculator_name: str, elements: set[str]) -> None:
    """Fail before any work if the calculator cannot run these elements here."""
    check_elements(calculator_name, elements)
    check_available(calculator_name)


def _is_done(store: JobStore, uuid: str) -> bool:
    return store.docs_store.query_one({"uuid": uuid}, properties=["uuid"]) is not None


def run_flow(
    flow: Flow,
    store: JobStore,
    work_dir: Path,
    progress: bool = True,
    max_seconds: float | None = None,
    in_order: bool = False,
) -> RunStats:
    """Run every job of ``flow`` not already in ``store``; return what was done.

    Parameters
    ----------
    flow
        A flow whose jobs have deterministic uuids.
    store
        A connected-or-not JobStore; outputs are written to it as jobs finish.
    work_dir
        Each job runs in ``work_dir/<job key>``.
    progress
        Show a rich progress bar (jobs done, job running).
    max_seconds
        Start no new job after this much wall time; the rest stay pending
        (``RunStats.n_pending``) for the next call.
    in_order
        Run ``flow.jobs`` in the order given (for flows of independent jobs, whose
        order jobflow's graph walk leaves random) instead of jobflow's walk.

    """
    stats = RunStats()
    CALC_TIMER.reset()
    start = time.perf_counter()
    store.connect()
    jobs = list(flow.jobs) if in_order else [job for job, _ in flow.iterflow()]
    stats.n_jobs = len(jobs)
    logging.getLogger("jobflow").setLevel(logging.WARNING)
    if progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[current]}"),
        )
    else:
        bar = nullcontext()
    with bar:
        task = bar.add_task("jobs", total=len(jobs), current="") if progress else None
        for job in jobs:
            key = (job.metadata or {}).get("lis_dft_key", job.uuid)
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                stats.n_pending = len(jobs) - stats.n_run - stats.n_skipped
                break
            if _is_done(store, job.uuid):
                stats.n_skipped += 1
                if progress:
                    bar.update(task, advance=1, current=f"skipped (done): {job.name}")
                continue
            if progress:
                bar.update(task, current=f"running: {job.name}")
            job_dir = work_dir / key.replace("/", "__")
            job_dir.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            try:
                with chdir(job_dir), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    job.run(store=store)
            except LisDftError:
                raise
            except Exception as exc:
                raise JobFailedError(
                    f"Job '{job.name}' ({key}) failed: {type(exc).__name__}: {exc}. "
                    f"Finished jobs are saved; fix the cause and run again to resume. "
                    f"Job folder: {job_dir}"
                ) from exc
            stats.job_seconds[key] = time.perf_counter() - t0
            stats.n_run += 1
            if progress:
                bar.update(task, advance=1, current=f"done: {job.name}")
    stats.wall_seconds = time.perf_counter() - start
    stats.calculator_seconds = CALC_TIMER.seconds
    stats.calculator_calls = CALC_TIMER.calls
    return stats


def job_output(store: JobStore, uuid: str) -> Any:
    """Return the (deserialized) output of the job with ``uuid``."""
    return store.get_output(uuid, load=True)
