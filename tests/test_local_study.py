from __future__ import annotations

import json

import pytest
from conftest import mock_run_args
from typer.testing import CliRunner

from lis_dft.cli import app
from lis_dft.dft_workflows.calculators import CalculatorSpec
from lis_dft.dft_workflows.flows import StudySettings
from lis_dft.dft_workflows.local import run_local_study
from lis_dft.dft_workflows.runner import JobFailedError
from lis_dft.structures.catalog import SlabSettings

runner = CliRunner()
SMALL = ["--supercell", "2", "2", "1", "--fixed-layers", "1"]


def _settings(**kw):
    return StudySettings(
        calculator=CalculatorSpec("mock"), slab=SlabSettings((2, 2, 1), 15.0, 1), top_k=1, **kw
    )


@pytest.fixture(scope="module")
def mock_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mock") / "run"
    result = runner.invoke(
        app,
        mock_run_args(out, *SMALL),
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def test_mock_run_writes_every_output(mock_run):
    out, output = mock_run
    for rel in (
        "results.json",
        "results.csv",
        "report.md",
        "figures/formation_energies.png",
        "figures/formation_energies.svg",
        "figures/activation_diagram.png",
        "figures/activation_diagram.svg",
    ):
        assert (out / rel).stat().st_size > 0, rel
    assert "MOCK" in output


def test_results_json_schema(mock_run):
    res = json.loads((mock_run[0] / "results.json").read_text())
    assert res["schema_version"] == "1.0"
    assert res["calculator"]["name"] == "mock" and res["calculator"]["is_mock"]
    assert set(res["calculator"]) >= {"name", "model", "version", "d3"}
    for phase in ("Li", "S", "Li2S", "Li2S2", "LiI"):
        assert set(res["references"][phase]) >= {"energy_per_atom", "volume_per_atom", "lattice"}
    for compound in ("Li2S", "Li2S2", "LiI"):
        assert set(res["formation_energies"][compound]) >= {"eV_per_atom", "eV_per_fu"}
    for ads in ("Li2S", "Li2S2", "S8"):
        a = res["adsorption_energies"][ads]
        assert a["eV"] is not None and a["best_config"]
        assert len(a["configs"]) >= 8
        assert {c["id"] for c in a["configs"] if c["relaxed"]} == {a["best_config"]}
        assert set(a["configs"][0]) >= {"id", "site", "energy"}
        assert "eV_per_atom" in res["surface_formation_energies"][ads]
    for env in ("vacuum", "LiI_100", "bulk"):
        land = res["landscape"][env]
        assert [s["label"] for s in land["states"]] == ["Li2S", "Li2S2", "S8"]
        assert len(land["steps"]) == 2
    assert res["definitions"]["adsorption_energy"].startswith("E_A = E(slab+A)")
    assert res["catalyst"]["slab"] == "LiI_100" and res["catalyst"]["reference"] == "I2"
    assert res["provenance"]["packages"]["ase"] != "not installed"
    assert res["timing"]["calculator_calls"] > 0


def test_report_mentions_mock_and_definitions(mock_run):
    text = (mock_run[0] / "report.md").read_text()
    assert "MOCK CALCULATOR" in text
    assert "## Definitions" in text and "figures/activation_diagram.png" in text


def test_rerun_recomputes_nothing(mock_run):
    out, _ = mock_run
    before = json.loads((out / "results.json").read_text())
    result = runner.invoke(
        app,
        mock_run_args(out, *SMALL),
    )
    assert result.exit_code == 0, result.output
    after = json.loads((out / "results.json").read_text())
    assert after["timing"]["n_run"] == 0
    assert after["timing"]["n_skipped"] == before["timing"]["n_run"]
    assert after["timing"]["calculator_calls"] == 0
    assert after["adsorption_energies"] == before["adsorption_energies"]


def test_interrupted_run_resumes(tmp_path, monkeypatch):
    import lis_dft.dft_workflows.jobs as jobs

    real = jobs.adsorbate_placements

    def interrupted(*args, **kwargs):
        raise RuntimeError("simulated crash during screening")

    monkeypatch.setattr(jobs, "adsorbate_placements", interrupted)
    with pytest.raises(JobFailedError, match="simulated crash"):
        run_local_study(tmp_path / "run", _settings(), progress=False)
    store = json.loads((tmp_path / "run" / "store" / "jobs.json").read_text())
    finished = len(store)
    assert finished >= 10  # references and slab were saved before the crash
    monkeypatch.setattr(jobs, "adsorbate_placements", real)
    results, stats = run_local_study(tmp_path / "run", _settings(), progress=False)
    assert stats.n_skipped == finished
    assert stats.n_run == stats.n_jobs - finished
    assert results["adsorption_energies"]["S8"]["eV"] is not None


def test_different_settings_do_not_reuse_jobs(tmp_path):
    _, first = run_local_study(tmp_path / "run", _settings(), progress=False)
    _, second = run_local_study(tmp_path / "run", _settings(fmax=0.02), progress=False)
    assert second.n_skipped == 0 and second.n_run == first.n_run


def test_unknown_calculator(tmp_path):
    result = runner.invoke(app, ["run", "--calculator", "magic", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "Unknown calculator 'magic'" in result.output


def test_emt_with_lithium_stops_before_work(tmp_path):
    out = tmp_path / "o"
    result = runner.invoke(app, ["run", "--calculator", "emt", "--out", str(out)])
    assert result.exit_code == 2
    assert "EMT cannot describe I, Li, S" in result.output.replace("\n", " ")
    assert not out.exists()


def test_unreadable_structure_file(tmp_path):
    bad = tmp_path / "broken.cif"
    bad.write_text("data_x\n_cell_length_a nonsense\n")
    result = runner.invoke(
        app, ["run", "-c", "mock", "--out", str(tmp_path / "o"), "-s", f"Li2S={bad}"]
    )
    assert result.exit_code == 2
    assert "Could not read a structure for Li2S" in result.output.replace("\n", " ")


def test_out_dir_not_writable(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = runner.invoke(app, ["run", "-c", "mock", "--out", str(blocker / "run")])
    assert result.exit_code == 2
    assert "Cannot create output directory" in result.output.replace("\n", " ")


def test_the_screen_runs_on_a_smaller_slab_and_relaxes_on_the_study_slab(tmp_path):
    """A 3x3x2 study screens on 2x2x2 and carries its finalists onto the 3x3x2 slab."""
    out = tmp_path / "run"
    args = mock_run_args(out, "--supercell", "3", "3", "2", "--fixed-layers", "2")
    result = runner.invoke(app, [*args, "--species", "Li2S", "--race-rounds", "2,2"])
    assert result.exit_code == 0, result.output
    docs = json.loads((out / "store" / "jobs.json").read_text())
    by_key = {d["metadata"]["lis_dft_key"]: d for d in docs if d.get("metadata")}
    n_small = len(by_key["slab/screen-relax"]["output"]["structure"]["sites"])
    n_study = len(by_key["slab/relax"]["output"]["structure"]["sites"])
    assert (n_small, n_study) == (64, 144)
    screen = by_key["screen/Li2S"]["output"]
    assert screen["screen_slab"] == {"n_atoms": 64, "carried_to_study_slab": True}
    assert len(by_key["adslab/Li2S/0"]["output"]["structure"]["sites"]) == n_study + 3
    res = json.loads((out / "results.json").read_text())
    assert res["settings"]["screen_slab"] == "small"
    assert "smaller screening slab" in (out / "report.md").read_text()
    # the old way: screen on the study slab itself, no extra slab
    out2 = tmp_path / "run2"
    args = mock_run_args(out2, "--supercell", "3", "3", "2", "--fixed-layers", "2")
    result = runner.invoke(
        app, [*args, "--species", "Li2S", "--race-rounds", "0", "--screen-slab", "study"]
    )
    assert result.exit_code == 0, result.output
    keys = {
        d["metadata"]["lis_dft_key"]
        for d in json.loads((out2 / "store" / "jobs.json").read_text())
        if d.get("metadata")
    }
    assert "slab/screen-relax" not in keys
    bad = runner.invoke(app, [*mock_run_args(tmp_path / "bad"), "--screen-slab", "tiny"])
    assert bad.exit_code != 0 and "--screen-slab must be one of small, study" in bad.output


def test_figures_are_drawn_once_and_still_drawn_when_the_barriers_fail(tmp_path, monkeypatch):
    import lis_dft.analysis.outputs as outputs
    import lis_dft.dft_workflows.barriers as barriers

    drawn = []
    real = outputs.plot_formation_energies

    def counting(results, fig_dir):
        drawn.append(fig_dir)
        return real(results, fig_dir)

    def failing(*args, **kwargs):
        raise RuntimeError("no final state")

    monkeypatch.setattr(outputs, "plot_formation_energies", counting)
    monkeypatch.setattr(barriers, "run_barriers", failing)
    out = tmp_path / "run"
    args = [*mock_run_args(out, *SMALL), "--barriers", "--species", "Li2S", "--race-rounds", "2,2"]
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert len(drawn) == 1  # not before the barriers, once when they failed
    assert (out / "figures" / "formation_energies.png").stat().st_size > 0
    assert "figures/formation_energies.png" in (out / "report.md").read_text()
    assert json.loads((out / "results.json").read_text())["adsorption_energies"]["Li2S"]


def test_a_gpaw_study_converges_scf_forces():
    """Every calculation of a study relaxes: GPAW's forces must be SCF-converged."""
    from lis_dft.dft_workflows.gpaw_calc import GpawSettings

    run = StudySettings(calculator=CalculatorSpec("gpaw", "zero"), fmax=0.05)
    assert run.calculator.kwargs["convergence_forces"] == 0.01
    GpawSettings.from_kwargs(run.calculator.kwargs)  # a setting GPAW's wrapper knows
    mine = StudySettings(calculator=CalculatorSpec("gpaw", "zero", {"convergence_forces": 0.03}))
    assert mine.calculator.kwargs["convergence_forces"] == 0.03  # the user's choice stays
    assert (
        "convergence_forces"
        not in StudySettings(calculator=CalculatorSpec("mock")).calculator.kwargs
    )
