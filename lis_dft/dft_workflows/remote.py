"""jobflow-remote project files for users with a MongoDB.

``lis-dft remote-project`` writes a jobflow-remote project (YAML) for the same jobflow
flows that ``lis-dft run`` executes locally, with the worker's resources taken from the
same resources YAML as ``lis-dft submit``, and validates it against jobflow-remote's own
pydantic ``Project`` model before writing. Then, on the machine that has the MongoDB::

    cp lisdft.yaml ~/.jfremote/ && jf project check -w cluster && jf runner start
    python -c "from lis_dft.dft_workflows.remote import submit_study; submit_study('lisdft', 'cluster')"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lis_dft.errors import LisDftError, ParameterError
from lis_dft.schedulers import HpcConfig, get_scheduler


def _store(uri: str, database: str, collection: str, kind: str = "MongoURIStore") -> dict[str, Any]:
    return {"type": kind, "uri": uri, "database": database, "collection_name": collection}


def project_dict(
    name: str,
    mongo_uri: str,
    host: str,
    work_dir: str,
    scheduler: str = "slurm",
    user: str | None = None,
    database: str = "lis_dft",
    resources: HpcConfig | None = None,
) -> dict[str, Any]:
    """Return the jobflow-remote project as a plain dict."""
    get_scheduler(scheduler)  # a clear error for an unknown one
    if not mongo_uri.startswith(("mongodb://", "mongodb+srv://")):
        raise ParameterError(
            f"The MongoDB URI must start with mongodb:// or mongodb+srv://, got {mongo_uri!r}."
        )
    r = resources or HpcConfig()
    queue_resources: dict[str, Any] = {
        "nodes": r.nodes,
        "ntasks_per_node": r.ntasks_per_node,
        "time": r.walltime,
    }
    if r.partition:
        queue_resources["partition"] = r.partition
    if r.queue:
        queue_resources["queue"] = r.queue
    if r.account:
        queue_resources["account"] = r.account
    worker: dict[str, Any] = {
        "type": "local" if host in ("localhost", "127.0.0.1") else "remote",
        "scheduler_type": scheduler,
        "work_dir": work_dir,
        "resources": queue_resources,
    }
    if worker["type"] == "remote":
        worker["host"] = host
        if user:
            worker["user"] = user
    return {
        "name": name,
        "workers": {"cluster": worker},
        "exec_config": {
            "lis_dft": {
                "modules": list(r.modules) or None,
                "pre_run": "\n".join(r.setup) or None,
                # how atomate2's VASP jobs (lis_dft.vasp.flow) start VASP on the worker
                "export": {"ATOMATE2_VASP_CMD": r.vasp_cmd},
            }
        },
        "queue": {"store": _store(mongo_uri, database, "jobs")},
        "jobstore": {
            "docs_store": _store(mongo_uri, database, "outputs"),
            "additional_stores": {
                "data": {
                    "type": "GridFSURIStore",
                    "uri": mongo_uri,
                    "database": database,
                    "collection_name": "outputs_blobs",
                }
            },
        },
    }


def validate_project(data: dict[str, Any]) -> Any:
    """Validate with jobflow-remote's own Project model (needs the ``hpc`` extra)."""
    try:
        from jobflow_remote.config.base import Project
    except ImportError as exc:
        raise LisDftError("Validating needs jobflow-remote: pip install 'lis-dft[hpc]'.") from exc
    from pydantic import ValidationError

    try:
        return Project.model_validate(data)
    except ValidationError as exc:
        raise ParameterError(f"The generated jobflow-remote project is invalid: {exc}") from exc


def write_project_file(data: dict[str, Any], path: str | Path) -> Path:
    """Validate and write the project YAML."""
    import yaml

    validate_project(data)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def submit_study(project: str, worker: str = "cluster", settings=None, overrides=None) -> list:
    """Submit the local-study flow to jobflow-remote (run on the machine with the MongoDB)."""
    from jobflow_remote import submit_flow

    from lis_dft.dft_workflows.flows import LocalStudyMaker, StudySettings
    from lis_dft.structures.catalog import build_study_structures

    settings = settings or StudySettings()
    structures = build_study_structures(
        overrides, settings.slab, conventional=False, with_placements=False
    )
    flow = LocalStudyMaker(settings=settings).make(structures)
    return submit_flow(flow, worker=worker, project=project, exec_config="lis_dft")
