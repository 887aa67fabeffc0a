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
from importlib.resources import files
from typing import Any

import jinja2

from lis_dft.errors import LisDftError
from lis_dft.schedulers import HpcConfig, get_scheduler
from lis_dft.vasp.campaign import Calculation, Campaign


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
    template = get_scheduler(scheduler).template
    workdir = (campaign.root / calc.path).absolute()
    return (
        _env()
        .get_template(template)
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


def _finished_ok(campaign: Campaign, calc: Calculation) -> bool:
    from lis_dft.vasp.parse import parse_calculation

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
        cmd = get_scheduler(scheduler).submit_command(script.name, deps)
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
        job_id = get_scheduler(scheduler).job_id(proc.stdout)
        calc.job_id, calc.scheduler = job_id, scheduler
        campaign.save()  # record immediately: a crash now cannot cause a duplicate submission
        actions.append(
            {"name": calc.name, "action": "submitted", "job_id": job_id, "command": shlex.join(cmd)}
        )
        echo(f"{calc.name}: job {job_id}")
    return actions


def campaign_status(campaign: Campaign) -> list[dict[str, Any]]:
    """Status of every calculation: done, failed (with reason), running, pending, not submitted."""
    from lis_dft.vasp.parse import parse_calculation

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
            get_scheduler(calc.scheduler).state(calc.job_id)
            if calc.job_id and calc.scheduler
            else None
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
