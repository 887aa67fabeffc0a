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
    # atomate2's VASP jobs on the worker start VASP with the resources file's command
    assert project.exec_config["lis_dft"].export == {"ATOMATE2_VASP_CMD": "srun vasp_std"}


def test_bad_project_inputs():
    with pytest.raises(ParameterError, match="mongodb://"):
        project_dict("p", "localhost:27017", "h", "/w")
    with pytest.raises(ParameterError, match="scheduler"):
        project_dict("p", "mongodb://x", "h", "/w", scheduler="lsf")


def test_the_vasp_flow_of_a_run_goes_to_jobflow_remote(tmp_path, monkeypatch):
    """``submit_vasp_study`` hands jobflow-remote the seeded VASP Flow (no MongoDB here)."""
    pytest.importorskip("jobflow_remote")
    import jobflow_remote
    from conftest import mock_run_args

    from lis_dft.vasp.campaign import load_campaign
    from lis_dft.vasp.flow import submit_vasp_study

    run = tmp_path / "run"
    args = mock_run_args(run, "--supercell", "2", "2", "1", "--fixed-layers", "1")
    assert runner.invoke(app, [*args, "--species", "Li2S"]).exit_code == 0
    sent = {}

    def fake_submit(flow, worker, project, exec_config):
        sent.update(flow=flow, worker=worker, project=project, exec_config=exec_config)
        return ["id"]

    monkeypatch.setattr(jobflow_remote, "submit_flow", fake_submit)
    assert submit_vasp_study("lisdft", run, top_k=1) == ["id"]
    assert (sent["project"], sent["worker"], sent["exec_config"]) == (
        "lisdft",
        "cluster",
        "lis_dft",
    )
    campaign = tmp_path / "campaign"
    assert (
        runner.invoke(
            app, ["inputs", "--from-run", str(run), "--out", str(campaign), "--top-k", "1"]
        ).exit_code
        == 0
    )
    names = [c.name for c in load_campaign(campaign).calculations if c.kind != "analysis"]
    relaxations = [j.name for j in sent["flow"].jobs[:-1] if not j.name.startswith("after ")]
    assert relaxations == names  # the campaign's calculations
