"""Render job scripts, submit a campaign to SLURM or PBS in dependency order, report status.

Safety: names that go into ``#SBATCH``/``#PBS`` directives (job name, partition, queue,
account) are validated against ``[A-Za-z0-9._-]`` (job names are sanitised); paths,
module names and the VASP command are shell-quoted with ``shlex.quote``, so a path or
name with spaces or quotes can neither break nor inject into the script. ``setup`` lines
are the user's own shell lines and are used as written (one line each).

Submission uses the scheduler's own dependencies (``sbatch --dependency=afterok:...``,
``qsub -W depend=afterok:...``), records each job id in campaign.json as soon as it is
known, and skips calculations that already have a job id or finished outputs, so running
``lis-dft submit`` twice submits nothing twice.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2

from lis_dft.dft_workflows.campaign import Calculation, Campaign
from lis_dft.errors import LisDftError, ParameterError

SCHEDULERS = ("slurm", "pbs")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_WALLTIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}:\d{2}$")


@dataclass
class HpcConfig:
    """Resources of the job scripts (see hpc_templates/resources.example.yaml)."""

    nodes: int = 1
    ntasks_per_node: int = 16
    walltime: str = "24:00:00"
    partition: str | None = None
    queue: str | None = None
    account: str | None = None
    modules: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    vasp_cmd: str = "srun vasp_std"
    python: str = sys.executable
    max_errors: int = 5
    job_name_prefix: str = "lisdft"

    def __post_init__(self) -> None:
        if int(self.nodes) < 1 or int(self.ntasks_per_node) < 1 or int(self.max_errors) < 0:
            raise ParameterError("nodes and ntasks_per_node must be >= 1 and max_errors >= 0.")
        if not _WALLTIME.match(str(self.walltime)):
            raise ParameterError(
                f"walltime must look like HH:MM:SS (or D-HH:MM:SS), got {self.walltime!r}."
            )
        for key in ("partition", "queue", "account", "job_name_prefix"):
            value = getattr(self, key)
            if value is not None and not _SAFE_NAME.match(str(value)):
                raise ParameterError(
                    f"{key} {value!r} may only contain letters, digits, '.', '_' and '-' "
                    "(it goes into a scheduler directive)."
                )
        for line in self.setup:
            if "\n" in line or "\r" in line:
                raise ParameterError("Each setup entry must be a single line.")
        if not str(self.vasp_cmd).strip():
            raise ParameterError("vasp_cmd must not be empty.")

    @classmethod
    def from_file(cls, path: str | Path | None) -> HpcConfig:
        """Load a YAML resources file (unknown keys and wrong types are an error); defaults if None."""
        if path is None:
            return cls()
        from lis_dft.settings_io import load_settings

        return load_settings(cls, path)


def job_name(prefix: str, calc_name: str) -> str:
    """A scheduler-safe job name derived from the calculation name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{prefix}-{calc_name}")[:64]


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: files("lis_dft.hpc_templates").joinpath(name).read_text()
        ),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # shell scripts, not HTML: quoting is done by the q filter
    )
    env.filters["q"] = lambda value: shlex.quote(str(value))
    return env


def render_script(calc: Calculation, campaign: Campaign, config: HpcConfig, scheduler: str) -> str:
    """Render the job script of one calculation."""
    if scheduler not in SCHEDULERS:
        raise ParameterError(f"Unknown scheduler {scheduler!r}; use 'slurm' or 'pbs'.")
    workdir = (campaign.root / calc.path).absolute()
    return (
        _env()
        .get_template(f"{scheduler}.j2")
        .render(
            job_name=job_name(config.job_name_prefix, calc.name),
            calc_name=calc.name,
            kind=calc.kind,
            workdir=str(workdir),
            campaign_dir=str(campaign.root),
            nodes=int(config.nodes),
            ntasks_per_node=int(config.ntasks_per_node),
            walltime=config.walltime,
            partition=config.partition,
            queue=config.queue,
            account=config.account,
            modules=config.modules,
            setup=config.setup,
            vasp_cmd=config.vasp_cmd,
            python=config.python,
            max_errors=int(config.max_errors),
        )
    )


def submit_command(scheduler: str, script: Path, dependencies: list[str]) -> list[str]:
    """The sbatch/qsub command line for one script with afterok dependencies."""
    if scheduler == "slurm":
        cmd = ["sbatch", "--parsable"]
        if dependencies:
            cmd.append("--dependency=afterok:" + ":".join(dependencies))
        return [*cmd, script.name]
    cmd = ["qsub"]
    if dependencies:
        cmd += ["-W", "depend=afterok:" + ":".join(dependencies)]
    return [*cmd, script.name]


def _finished_ok(campaign: Campaign, calc: Calculation) -> bool:
    from lis_dft.analysis.vasp_parse import parse_calculation

    if calc.kind == "analysis":
        return False
    return parse_calculation(campaign.root / calc.path, name=calc.name).status == "ok"


def submit_campaign(
    campaign: Campaign, scheduler: str, config: HpcConfig, dry_run: bool = False, echo=print
) -> list[dict[str, Any]]:
    """Submit every calculation not yet submitted, dependencies first.

    Returns one record per calculation: name, action (submitted, skipped, would
    submit), job id and the command line.
    """
    actions = []
    planned: dict[str, str] = {}  # dry run: placeholder ids so dependencies show
    for calc in campaign.ordered():
        if calc.job_id:
            actions.append(
                {"name": calc.name, "action": "skipped (already submitted)", "job_id": calc.job_id}
            )
            continue
        if _finished_ok(campaign, calc):
            actions.append({"name": calc.name, "action": "skipped (finished)", "job_id": None})
            continue
        deps = [
            c.job_id or planned[c.name]
            for c in campaign.calculations
            if c.name in calc.depends_on and (c.job_id or c.name in planned)
        ]
        workdir = campaign.root / calc.path
        script = workdir / f"job.{scheduler}"
        text = render_script(calc, campaign, config, scheduler)
        cmd = submit_command(scheduler, script, deps)
        if dry_run:
            planned[calc.name] = f"<{job_name(config.job_name_prefix, calc.name)}>"
            actions.append(
                {
                    "name": calc.name,
                    "action": "would submit",
                    "command": shlex.join(cmd),
                    "script": str(script),
                }
            )
            echo(f"[dry-run] {calc.name}: {shlex.join(cmd)}")
            continue
        script.write_text(text)
        try:
            proc = subprocess.run(
                cmd, cwd=workdir, capture_output=True, text=True, check=False, timeout=60
            )
        except FileNotFoundError:
            raise LisDftError(
                f"'{cmd[0]}' not found: is {scheduler.upper()} installed and on PATH?"
            ) from None
        if proc.returncode != 0:
            raise LisDftError(
                f"Submitting {calc.name} failed ({shlex.join(cmd)}): {proc.stderr.strip() or proc.stdout.strip()}. "
                "Calculations submitted so far are recorded in campaign.json; fix the cause and run submit again."
            )
        job_id = proc.stdout.strip().split(";")[0].splitlines()[-1].strip()
        calc.job_id, calc.scheduler = job_id, scheduler
        campaign.save()  # record immediately: a crash now cannot cause a duplicate submission
        actions.append(
            {"name": calc.name, "action": "submitted", "job_id": job_id, "command": shlex.join(cmd)}
        )
        echo(f"{calc.name}: job {job_id}")
    return actions


def scheduler_state(scheduler: str, job_id: str) -> str | None:
    """Ask the scheduler for a job's state (PENDING, RUNNING, COMPLETED, FAILED, ...)."""
    try:
        if scheduler == "slurm":
            out = subprocess.run(
                ["squeue", "-h", "-j", job_id, "-o", "%T"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            state = out.stdout.strip()
            if state:
                return state.splitlines()[0]
            out = subprocess.run(
                ["sacct", "-n", "-X", "-j", job_id, "-o", "State"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            return out.stdout.strip().split()[0] if out.stdout.strip() else None
        out = subprocess.run(["qstat", "-f", job_id], capture_output=True, text=True, timeout=30)
        m = re.search(r"job_state = (\w)", out.stdout)
        return (
            {
                "Q": "PENDING",
                "H": "PENDING",
                "R": "RUNNING",
                "E": "RUNNING",
                "C": "COMPLETED",
                "F": "COMPLETED",
            }.get(m.group(1))
            if m
            else None
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None


def campaign_status(campaign: Campaign) -> list[dict[str, Any]]:
    """Status of every calculation: done, failed (with reason), running, pending, not submitted."""
    from lis_dft.analysis.vasp_parse import parse_calculation

    rows = []
    for calc in campaign.calculations:
        if calc.kind == "analysis":
            done = (campaign.root / "parsed.json").exists()
            rows.append(
                {
                    "name": calc.name,
                    "status": "done" if done else "pending",
                    "reason": "",
                    "job_id": calc.job_id,
                }
            )
            continue
        parsed = parse_calculation(campaign.root / calc.path, name=calc.name)
        state = (
            scheduler_state(calc.scheduler, calc.job_id) if calc.job_id and calc.scheduler else None
        )
        if parsed.status == "ok":
            status, reason = "done", ""
        elif state in ("PENDING", "CONFIGURING"):
            status, reason = "pending", ""
        elif state in ("RUNNING", "COMPLETING"):
            status, reason = "running", ""
        elif parsed.status == "missing" and not calc.job_id:
            status, reason = "not submitted", ""
        elif parsed.status == "missing" and state is None:
            status, reason = "pending", "job not visible to the scheduler yet"
        else:
            status, reason = "failed", parsed.reason or f"scheduler state {state}"
        rows.append(
            {
                "name": calc.name,
                "status": status,
                "reason": reason,
                "job_id": calc.job_id,
                "parse_status": parsed.status,
            }
        )
    return rows
