"""Cluster schedulers: the job resources file and a registry of SLURM and PBS.

:class:`HpcConfig` is the resources YAML of ``--config`` (nodes, walltime, partition,
modules, the VASP command, ...), shared by the VASP submitter
(:mod:`lis_dft.vasp.submit`) and the jobflow-remote project
(:mod:`lis_dft.dft_workflows.remote`). :data:`SCHEDULERS` maps a scheduler's name to
what lis-dft needs from it: its job-script template, how to submit with ``afterok``
dependencies, how to read the job id back, and how to ask for a job's state. A new
scheduler is one more :class:`Scheduler` entry, not another branch in the submitter.

Names that go into scheduler directives are validated here (``[A-Za-z0-9._-]``); the
templates shell-quote everything else (see :mod:`lis_dft.vasp.submit`).

Why not jobflow-remote's qtoolkit (0.1.7, installed with the ``hpc`` extra) for the VASP
campaign: its SLURM and PBS headers have no job-dependency directive, and the campaign
needs ``afterok`` (references and slab before the adsorbate slabs, the analysis last);
and it fills the header by plain ``string.Template`` substitution of the resource values
and builds the submit command as one string (``f"{SUBMIT_CMD} {script_file}"``), without
the validation and quoting tested here (``tests/test_hpc.py``: a partition with a
newline, a path with spaces or quotes). The jobflow-remote route
(``lis-dft remote-project``) does use qtoolkit, through jobflow-remote itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lis_dft.errors import ParameterError

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


def _run(cmd: list[str]) -> str | None:
    """Stdout of a scheduler query, or None if the command is missing or hangs."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None


def _slurm_state(job_id: str) -> str | None:
    out = (_run(["squeue", "-h", "-j", job_id, "-o", "%T"]) or "").strip()
    if out:
        return out.splitlines()[0]
    out = (_run(["sacct", "-n", "-X", "-j", job_id, "-o", "State"]) or "").strip()
    return out.split()[0] if out else None


#: PBS one-letter job states -> the SLURM-style names lis-dft reports
_PBS_STATES = {
    "Q": "PENDING",
    "H": "PENDING",
    "R": "RUNNING",
    "E": "RUNNING",
    "C": "COMPLETED",
    "F": "COMPLETED",
}


def _pbs_state(job_id: str) -> str | None:
    m = re.search(r"job_state = (\w)", _run(["qstat", "-f", job_id]) or "")
    return _PBS_STATES.get(m.group(1)) if m else None


@dataclass(frozen=True)
class Scheduler:
    """What lis-dft needs from one batch scheduler."""

    name: str
    template: str  # job-script template in lis_dft/hpc_templates/
    submit: tuple[str, ...]  # the submit command before the dependency and the script
    dependency: Callable[[str], list[str]]  # "id1:id2" -> the dependency arguments
    state: Callable[[str], str | None]  # job id -> PENDING / RUNNING / COMPLETED / ... / None

    def submit_command(self, script: str, dependencies: list[str]) -> list[str]:
        """The submit command line for one script with ``afterok`` dependencies."""
        deps = self.dependency(":".join(dependencies)) if dependencies else []
        return [*self.submit, *deps, script]

    @staticmethod
    def job_id(stdout: str) -> str:
        """The job id in the submit command's output (``sbatch --parsable``: ``id;cluster``)."""
        return stdout.strip().split(";")[0].splitlines()[-1].strip()


#: scheduler name -> :class:`Scheduler`
SCHEDULERS: dict[str, Scheduler] = {
    "slurm": Scheduler(
        "slurm",
        "slurm.j2",
        ("sbatch", "--parsable"),
        lambda ids: [f"--dependency=afterok:{ids}"],
        _slurm_state,
    ),
    "pbs": Scheduler(
        "pbs",
        "pbs.j2",
        ("qsub",),
        lambda ids: ["-W", f"depend=afterok:{ids}"],
        _pbs_state,
    ),
}


def get_scheduler(name: str) -> Scheduler:
    """The registered scheduler called ``name`` (clear error if unknown)."""
    try:
        return SCHEDULERS[name]
    except KeyError:
        raise ParameterError(
            f"Unknown scheduler {name!r}; use one of {', '.join(SCHEDULERS)}."
        ) from None
