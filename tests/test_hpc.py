from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lis_dft.cli import app
from lis_dft.errors import ParameterError
from lis_dft.schedulers import HpcConfig
from lis_dft.vasp.campaign import Calculation, Campaign, load_campaign
from lis_dft.vasp.submit import render_script, submit_campaign

runner = CliRunner()


def _campaign(root: Path) -> Campaign:
    calcs = [
        Calculation("Li", "bulk", "bulk/Li"),
        Calculation("LiI_100", "slab", "slab/LiI_100"),
        Calculation(
            "S8@LiI_100/top_Li-flat-r0",
            "adslab",
            "adslabs/S8/top_Li-flat-r0",
            depends_on=["LiI_100", "Li"],
        ),
        Calculation(
            "analysis", "analysis", ".", depends_on=["Li", "LiI_100", "S8@LiI_100/top_Li-flat-r0"]
        ),
    ]
    for c in calcs:
        (root / c.path).mkdir(parents=True, exist_ok=True)
    campaign = Campaign(root, calcs, settings={"ivdw": 11})
    campaign.save()
    return campaign


@pytest.mark.parametrize("scheduler", ["slurm", "pbs"])
def test_scripts_quote_nasty_paths_and_commands(tmp_path, scheduler):
    root = tmp_path / 'my campaign\'s "dir" $(touch pwned)'
    root.mkdir()
    campaign = _campaign(root)
    cfg = HpcConfig(
        vasp_cmd="mpirun -np 4 vasp_std; touch injected",
        modules=["vasp/6.4 beta"],
        partition="debug",
        queue="short",
        account="proj-1",
        walltime="1-02:00:00",
    )
    calc = campaign.by_name()["S8@LiI_100/top_Li-flat-r0"]
    script = render_script(calc, campaign, cfg, scheduler)
    path = tmp_path / "job.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    cd_line = next(line for line in script.splitlines() if line.startswith("cd "))
    assert shlex.split(cd_line)[1] == str(root / calc.path)
    run_line = next(line for line in script.splitlines() if "custodian_run" in line)
    args = shlex.split(run_line)
    assert (
        args[args.index("--vasp-cmd") + 1] == "mpirun -np 4 vasp_std; touch injected"
    )  # one argument, not a command
    directive = "#SBATCH --job-name=" if scheduler == "slurm" else "#PBS -N "
    name = next(line for line in script.splitlines() if line.startswith(directive))[
        len(directive) :
    ]
    assert " " not in name and "@" not in name and "/" not in name
    if scheduler == "pbs":
        assert "#PBS -q short" in script and "#PBS -l walltime=1-02:00:00" in script
    else:
        assert "#SBATCH --partition=debug" in script and "#SBATCH --account=proj-1" in script


@pytest.mark.parametrize(
    "bad",
    [
        {"partition": "debug; rm -rf /"},
        {"account": "a b"},
        {"walltime": "24h"},
        {"nodes": 0},
        {"setup": ["ok\nrm -rf /"]},
        {"queue": "$(evil)"},
    ],
)
def test_bad_resources_rejected(bad):
    with pytest.raises(ParameterError):
        HpcConfig(**bad)


def test_resources_file(tmp_path):
    from importlib.resources import files

    example = files("lis_dft.hpc_templates").joinpath("resources.example.yaml")
    cfg = HpcConfig.from_file(Path(str(example)))
    assert cfg.ntasks_per_node == 64 and cfg.partition == "standard"
    bad = tmp_path / "r.yaml"
    bad.write_text("nodez: 2\n")
    with pytest.raises(ParameterError, match="Unknown keys"):
        HpcConfig.from_file(bad)


@pytest.fixture
def fake_scheduler(tmp_path, monkeypatch):
    """Stand-in sbatch/qsub at the lowest level: a program on PATH that logs its calls."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    counter = tmp_path / "counter"
    counter.write_text("100")
    for prog in ("sbatch", "qsub"):
        p = bindir / prog
        p.write_text(f"""#!/bin/bash
n=$(( $(cat {counter}) + 1 )); echo $n > {counter}
echo "{prog} $*" >> {log}
if [ "{prog}" = qsub ]; then echo "$n.pbs-server"; else echo "$n"; fi
""")
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return log


@pytest.mark.parametrize("scheduler", ["slurm", "pbs"])
def test_submit_in_order_with_dependencies_and_never_twice(tmp_path, fake_scheduler, scheduler):
    campaign = _campaign(tmp_path / "c")
    actions = submit_campaign(campaign, scheduler, HpcConfig(), echo=lambda *_: None)
    assert [a["action"] for a in actions] == ["submitted"] * 4
    calls = fake_scheduler.read_text().splitlines()
    assert len(calls) == 4
    ids = {c.name: c.job_id for c in load_campaign(tmp_path / "c").calculations}
    dep_flag = "--dependency=afterok:" if scheduler == "slurm" else "depend=afterok:"
    adslab_call = calls[2]
    assert dep_flag in adslab_call
    assert set(adslab_call.split(dep_flag)[1].split()[0].split(":")) == {ids["Li"], ids["LiI_100"]}
    assert calls[3].count(":") == 3  # analysis waits for all three
    # second run: nothing new
    again = submit_campaign(
        load_campaign(tmp_path / "c"), scheduler, HpcConfig(), echo=lambda *_: None
    )
    assert all(a["action"].startswith("skipped") for a in again)
    assert len(fake_scheduler.read_text().splitlines()) == 4


def test_dry_run_submits_nothing(tmp_path, fake_scheduler):
    _campaign(tmp_path / "c")
    result = runner.invoke(app, ["submit", str(tmp_path / "c"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert not fake_scheduler.exists()
    assert (
        "--dependency=afterok:<lisdft-LiI_100>:<lisdft-Li>" in result.output
        or "--dependency=afterok:<lisdft-Li>:<lisdft-LiI_100>" in result.output
    )
    assert all(c.job_id is None for c in load_campaign(tmp_path / "c").calculations)


def test_submit_errors(tmp_path):
    result = runner.invoke(app, ["submit", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "No campaign.json" in result.output
    _campaign(tmp_path / "c")
    result = runner.invoke(app, ["submit", str(tmp_path / "c"), "--scheduler", "lsf"])
    assert result.exit_code == 2 and "Unknown scheduler" in result.output


def _slurm_available() -> bool:
    if not shutil.which("sbatch"):
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mix", "alloc"))


@pytest.mark.slurm
@pytest.mark.skipif(
    not os.environ.get("LIS_DFT_REQUIRE_SLURM") and not _slurm_available(),
    reason="no running SLURM (start one with .ci/start-slurm.sh; CI sets LIS_DFT_REQUIRE_SLURM)",
)
def test_real_slurm_campaign_end_to_end(tmp_path, vasp_outputs):
    """Submit to the local SLURM; a stand-in VASP replays real outputs; the campaign parses."""
    if not _slurm_available():
        pytest.fail("SLURM is required here (LIS_DFT_REQUIRE_SLURM) but sinfo shows no usable node")
    from pymatgen.io.vasp import Vasprun

    from lis_dft.vasp.sets import VaspSettings, write_vasp_inputs

    root = tmp_path / "campaign with space"
    ref = Vasprun(vasp_outputs / "completed" / "vasprun.xml.gz")
    calcs = [
        Calculation("FeO_a", "bulk", "bulk/FeO_a"),
        Calculation("FeO_b", "bulk", "bulk/FeO_b", depends_on=["FeO_a"]),
    ]
    for c in calcs:
        (root / c.path).mkdir(parents=True)
        write_vasp_inputs(root / c.path, "bulk", ref.initial_structure, VaspSettings())
    calcs.append(Calculation("analysis", "analysis", ".", depends_on=["FeO_a", "FeO_b"]))
    campaign = Campaign(root, calcs, settings={"ivdw": 11, "encut": 600})
    campaign.save()
    replay = tmp_path / "replay_vasp.sh"
    replay.write_text(f"""#!/bin/bash
# stand-in for VASP: copy a real finished run into the working directory
set -e
src={shlex.quote(str(vasp_outputs / "completed"))}
gunzip -c "$src/vasprun.xml.gz" > vasprun.xml
gunzip -c "$src/OUTCAR.gz" > OUTCAR
gunzip -c "$src/OSZICAR.gz" > OSZICAR
echo "replayed"
""")
    replay.chmod(0o755)
    cfg = tmp_path / "resources.yaml"
    cfg.write_text(
        f"nodes: 1\nntasks_per_node: 1\nwalltime: '00:05:00'\nvasp_cmd: {json.dumps(str(replay))}\n"
    )
    result = runner.invoke(app, ["submit", str(root), "--scheduler", "slurm", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    ids = [c.job_id for c in load_campaign(root).calculations]
    assert all(ids) and len(set(ids)) == 3
    again = runner.invoke(app, ["submit", str(root), "--config", str(cfg)])
    assert "3 skipped (already submitted)" in again.output
    deadline = time.time() + 180
    while time.time() < deadline:
        queue = subprocess.run(
            ["squeue", "-h", "-j", ",".join(ids)], capture_output=True, text=True
        ).stdout
        if not queue.strip():
            break
        time.sleep(2)
    else:
        pytest.fail("SLURM jobs did not finish in 180 s")
    parsed = {
        p["name"]: p for p in json.loads((root / "parsed.json").read_text())
    }  # written by the analysis job
    assert parsed["FeO_a"]["status"] == "ok" and parsed["FeO_b"]["status"] == "ok"
    assert parsed["FeO_a"]["energy"] == pytest.approx(ref.final_energy)
    assert (root / "bulk" / "FeO_a" / "custodian.json").exists()  # VASP ran under custodian
    status = runner.invoke(app, ["status", str(root), "--json"])
    rows = {r["name"]: r["status"] for r in json.loads(status.output)}
    assert rows == {"FeO_a": "done", "FeO_b": "done", "analysis": "done"}
