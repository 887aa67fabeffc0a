from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from lis_dft.cli import app
from lis_dft.dft_workflows.remote import project_dict
from lis_dft.errors import ParameterError

runner = CliRunner()


def test_project_file_validates_against_jobflow_remote(tmp_path):
    pytest.importorskip("jobflow_remote")
    from jobflow_remote.config.base import Project

    res = tmp_path / "res.yaml"
    res.write_text(
        "nodes: 2\nntasks_per_node: 32\nwalltime: '12:00:00'\npartition: normal\nmodules: [vasp/6.4]\n"
    )
    out = tmp_path / "lisdft.yaml"
    result = runner.invoke(
        app,
        [
            "remote-project",
            "--mongo-uri",
            "mongodb://db:27017",
            "--host",
            "hpc.example.org",
            "--user",
            "me",
            "--work-dir",
            "/scratch/me/lisdft",
            "--config",
            str(res),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text())
    project = Project.model_validate(data)
    worker = project.workers["cluster"]
    assert worker.host == "hpc.example.org" and worker.scheduler_type == "slurm"
    assert worker.resources == {
        "nodes": 2,
        "ntasks_per_node": 32,
        "time": "12:00:00",
        "partition": "normal",
    }
    assert project.exec_config["lis_dft"].modules == ["vasp/6.4"]


def test_bad_project_inputs():
    with pytest.raises(ParameterError, match="mongodb://"):
        project_dict("p", "localhost:27017", "h", "/w")
    with pytest.raises(ParameterError, match="scheduler"):
        project_dict("p", "mongodb://x", "h", "/w", scheduler="lsf")
