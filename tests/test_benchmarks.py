"""The benchmark scripts keep working (quick mode: mock calculator, small sizes)."""

from __future__ import annotations

import json

import pytest

from benchmarks.suite import main
from lis_dft.dft_workflows.calculators import DEFAULT_SEVENNET_MODEL


def test_quick_benchmarks_write_results(tmp_path, vasp_outputs):
    main(["--quick", "--out", str(tmp_path), "--shared", str(vasp_outputs)])
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["mode"] == "quick"
    assert {"cores", "cpu_model"} <= set(res["machine"])
    assert res["packages"]["lis-dft"]
    assert res["study"]["median"]["calculator_calls"] > 0
    for ads in ("Li2S", "Li2S2", "S8"):
        v = res["screening"]["per_adsorbate"][ads]
        exhaustive = v["exhaustive_atomate2_asf"]
        # one trajectory entry per force call, so replays count calls like the run did
        trajectories = exhaustive["E_A_by_step"].values()
        assert sum(len(t) for t in trajectories) == exhaustive["force_calls"] > 0
        assert min(t[-1] for t in trajectories) == exhaustive["best_E_A_eV"]
        limits = exhaustive["limits"]
        assert limits["oracle_force_calls"] <= limits["best_race"]["force_calls"]
        assert limits["best_race"]["best_E_A_eV"] <= exhaustive["best_E_A_eV"] + 0.05
        for strategy in ("single_point", "race"):
            # every placement is evaluated at least once, and the finalists are relaxed
            assert v[strategy]["force_calls"] > v[strategy]["screen_force_calls"]
            assert v[strategy]["screen_force_calls"] >= v[strategy]["placements_screened"]
        assert v["single_point"]["schedule"]["rounds"] == [] and v["race"]["schedule"]["rounds"]
    assert res["parsing"]["identical_final_energies"] is True
    assert res["inputs"]["folders_per_s"] > 0
    assert [r["adsorbates"] for r in res["scaling"]["rows"]] == [1, 2]
    assert set(res["screening"]["strategies"]) == {"single_point", "race"}
    text = (tmp_path / "RESULTS.md").read_text()
    assert "Quick mode" in text and "## 3. VASP parsing" in text
    assert "cheapest race in hindsight" in text


def test_hindsight_limits_find_the_cheapest_schedule_and_the_oracle():
    from benchmarks.screening_trajectories import hindsight_limits

    # "late" ends deepest but passes "mid" only at step 7 and "early" at step 15
    late = [-0.1 * i for i in range(21)]
    traj = {
        "early": [-1.0 - 0.03 * i for i in range(30)],
        "mid": [-0.5 - 0.02 * i for i in range(30)],
        "late": late,
    }
    lim = hindsight_limits(traj, max_round=20)
    assert lim["target_E_A_eV"] == late[-1]
    assert lim["all_relaxed_force_calls"] == 81
    assert lim["oracle_force_calls"] == 21  # "late" alone
    race = lim["best_race"]
    assert race["finalists"] == ["late"]
    # cheapest: drop "mid" after 7 steps (8 calls), "early" after 15 (16), finish "late" (21)
    assert race["force_calls"] == 8 + 16 + 21
    assert race["rounds"] == [7, 8]
    # a winner that leads from the first step is found almost for free
    easy = hindsight_limits({"a": [-2.0, -3.0, -4.0], "b": [-1.0, -1.5], "c": [0.0, -0.5]})
    assert easy["best_race"]["force_calls"] == 3 + 1 + 1


def test_replay_counts_calls_and_keeps_the_best():
    from benchmarks.screening_trajectories import replay

    traj = {"a": [-1.0, -1.1, -1.2], "b": [-0.5, -0.9, -1.5, -2.0], "c": [0.0, -0.1]}
    sp = replay(traj, (), 1.0, 1)
    assert sp["finalists"] == ["a"] and sp["best_E_A_eV"] == -1.2
    assert sp["force_calls"] == 3 + 1 + 1  # a relaxed (3 geometries), b and c one each
    race = replay(traj, (2,), 0.5, 1)
    assert race["finalists"] == ["b"] and race["best_E_A_eV"] == -2.0


def test_stored_li2s_trajectories_support_the_documented_screens():
    """docs/methods.md: single points miss the reconstruction minimum, the 20,10 race finds it."""
    from pathlib import Path

    from benchmarks.screening_trajectories import replay

    path = Path(__file__).parents[1] / "benchmarks" / "screening_trajectories_Li2S.json"
    traj = json.loads(path.read_text())["E_A_by_step"]
    deepest = min(t[-1] for t in traj.values())
    assert replay(traj, (), 1.0, 2)["best_E_A_eV"] > deepest + 0.3
    race = replay(traj, (20, 10), 0.34, 2)
    assert race["best_E_A_eV"] == deepest
    assert race["force_calls"] < sum(len(t) for t in traj.values())


def test_optimizer_comparison_runs_the_exhaustive_way_per_optimizer(tmp_path):
    from typer.testing import CliRunner

    from benchmarks.optimizer_comparison import main as compare_optimizers
    from lis_dft.cli import app

    run = tmp_path / "run"
    small = ["--supercell", "2", "2", "1", "--fixed-layers", "1", "--top-k", "1"]
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--calculator",
            "mock",
            "--out",
            str(run),
            "--no-progress",
            "--no-barriers",
            *small,
        ],
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "cmp.json"
    compare_optimizers(
        [str(run), "--adsorbate", "Li2S", "--optimizers", "BFGS", "FIRE", "--out", str(out)]
    )
    rows = json.loads(out.read_text())["optimizers"]
    assert set(rows) == {"BFGS", "FIRE"}
    for row in rows.values():
        assert sum(len(t) for t in row["E_A_by_step"].values()) == row["force_calls"]
        assert (
            row["winner_alone_force_calls"]
            <= row["cheapest_race_force_calls"]
            <= row["force_calls"]
        )
    # the two optimizers take different paths, so they must differ in cost
    assert rows["BFGS"]["force_calls"] != rows["FIRE"]["force_calls"]


def test_optimizer_comparison_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    import pytest

    from benchmarks.optimizer_comparison import main as compare_optimizers

    with pytest.raises(SystemExit) as exc:
        compare_optimizers([str(tmp_path)])
    assert exc.value.code == 2
    assert "not a finished `lis-dft run` folder" in capsys.readouterr().err


def test_stored_optimizer_comparison_supports_the_documented_bound():
    """docs/methods.md: for Li2S no race over the ASF placements reaches 3x, whatever optimizer."""
    from pathlib import Path

    from benchmarks.screening_trajectories import hindsight_limits

    path = Path(__file__).parents[1] / "benchmarks" / "optimizer_comparison_Li2S.json"
    rows = json.loads(path.read_text())["optimizers"]
    assert {"BFGS", "FIRE"} <= set(rows)
    for row in rows.values():
        lim = hindsight_limits(row["E_A_by_step"])  # recomputed, not read back
        assert lim["best_race"]["force_calls"] == row["cheapest_race_force_calls"]
        assert lim["best_race_ratio"] < 3 < lim["oracle_ratio"]


def test_the_right_minimum_counts_only_sound_exhaustive_minima():
    from benchmarks.minimum_quality import judge

    def row(name, e, intact=True, surface=True, converged=True):
        return {
            "placement": name,
            "E_A_eV": e,
            "intact": intact,
            "surface_intact": surface,
            "converged": converged,
        }

    exhaustive = {
        "placements": [
            row("asf0", -2.0, surface=False),  # deeper, but the surface tore: does not count
            row("asf1", -1.50),
            row("asf2", -1.60, converged=False),  # not a minimum
        ]
    }
    sound = {"best_config_intact": True, "best_config_surface_intact": True}
    got = judge({"eV": -1.46, "best_config": "a", **sound}, exhaustive)
    assert got["met"] and got["difference_eV"] == pytest.approx(0.04)
    assert got["exhaustive_best_placement"] == "asf1" and not got["exhaustive_lowest_any_sound"]
    got = judge({"eV": -1.40, "best_config": "a", **sound}, exhaustive)
    assert got["met"] is False and "missed: +0.100 eV" in got["verdict"]
    got = judge({"eV": -1.90, "best_config": "a", "best_config_intact": True}, exhaustive)
    assert got["met"] is False and "not sound" in got["verdict"]  # lower, but torn
    none = {"placements": [row("asf0", -2.0, intact=False)]}
    assert judge({"eV": -1.0, "best_config": "a", **sound}, none)["met"] is None


def test_exhaustive_ways_of_two_potentials_stand_side_by_side(tmp_path, monkeypatch):
    import json

    from benchmarks import minimum_quality as mq

    def study(potential):
        ae = {"eV": -1.0, "best_config": "a", "best_config_intact": True}
        ae["best_config_surface_intact"] = True
        return {
            "potential": potential,
            "results": {
                "adsorption_energies": {"Li2S": ae},
                "settings": {"calculator": {"name": potential}},
            },
        }

    relaxed = []

    def relax(st, ads, frames):
        relaxed.append(st["potential"])
        e = -1.2 if st["potential"] == "old" else -1.02
        return {
            "placements": [
                {
                    "placement": "asf0",
                    "E_A_eV": e,
                    "intact": True,
                    "surface_intact": True,
                    "converged": True,
                }
            ],
            "force_calls": 5,
        }

    monkeypatch.setattr(mq, "load_study", lambda run: study(run.name))
    monkeypatch.setattr(mq, "exhaustive_id", lambda st, ads: f"{ads}-{st['potential']}")
    monkeypatch.setattr(mq, "relax_and_judge", relax)
    monkeypatch.setattr(mq, "run_summary", lambda run: {})
    for name in ("old", "new"):
        (tmp_path / name / "store").mkdir(parents=True)
        (tmp_path / name / "results.json").write_text("{}")
    out = tmp_path / "mq.json"
    mq.main([str(tmp_path / "old"), str(tmp_path / "new"), "--out", str(out)])
    mq.main([str(tmp_path / "new"), "--out", str(out)])  # judged again, not relaxed again
    doc = json.loads(out.read_text())
    assert relaxed == ["old", "new"]
    assert set(doc["exhaustive"]) == {"Li2S-old", "Li2S-new"}
    old, new = (doc["runs"][str(tmp_path / k)]["adsorbates"]["Li2S"] for k in ("old", "new"))
    assert old["exhaustive_id"] == "Li2S-old" and old["met"] is False  # 0.2 eV above its own
    assert new["exhaustive_id"] == "Li2S-new" and new["met"] is True


def test_minimum_quality_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    from benchmarks import minimum_quality as mq

    out = tmp_path / "mq.json"
    with pytest.raises(SystemExit) as exit_:
        mq.main([str(tmp_path), "--out", str(out)])
    assert exit_.value.code == 2 and not out.exists()
    assert "is not a finished 'lis-dft run' folder" in capsys.readouterr().err


def test_budget_medians_and_verdict(tmp_path, monkeypatch):
    import json
    from types import SimpleNamespace

    import benchmarks.suite as suite
    from benchmarks.budget import median_summary, summarise

    results = {
        "timing": {"wall_seconds": 250.0, "calculator_calls": 1000, "calculator_seconds": 240.0},
        "barriers": [
            {
                "reaction": "Li2S -> LiS + Li",
                "environment": "LiI_100",
                "forward_eV": 1.5,
                "force_calls": 600,
                "seconds": 150.0,
                "calculator_seconds": 140.0,
            }
        ],
        "adsorption_energies": {"Li2S": {"eV": -1.8, "best_config": "top_Li-flat-r45"}},
        "calculator": {"model": "test"},
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    usage = SimpleNamespace(ru_utime=700.0, ru_stime=20.0, ru_maxrss=1024 * 1200)
    row = summarise(tmp_path, 450.0, usage)
    assert row["calculator_s"] == 380.0
    assert row["barrier_jobs_s"] == 150.0
    assert row["core_utilisation"] == round(720.0 / 450.0 / (__import__("os").cpu_count()), 3)
    rows = [dict(row, wall_s=w, created="now") for w in (700.0, 450.0, 500.0)]
    m = median_summary(rows, 600.0)
    assert m["median_wall_s"] == 500.0 and m["met"] and m["repeats"] == 3
    assert (m["min_wall_s"], m["max_wall_s"]) == (450.0, 700.0)
    assert not median_summary(rows[:1], 600.0)["met"]  # 700 s alone misses the target
    assert median_summary([], 600.0) == {}
    slow = dict(row, wall_s=1600.0, created="then", set_aside="a slow machine")
    doc = {
        "default": {"rows": rows, "summary": m, "set_aside": [slow]},
        "other": {"rows": [], "summary": {}, "set_aside": [slow]},  # nothing left to summarise
        "machine": {},
        "packages": {},
    }
    (tmp_path / "budget.json").write_text(json.dumps(doc))
    monkeypatch.setattr(suite, "HERE", tmp_path)
    text = "\n".join(suite._budget_section())
    assert "| default | 3 | 500.0 (450.0-700.0)" in text and "| yes |" in text
    assert "-1.800 (top_Li-flat-r45)" in text
    assert "| default (set aside: a slow machine) | then |" in text  # shown, not in the median
    assert "| other |" not in text


def test_budget_records_an_external_neighbour(tmp_path, monkeypatch):
    from benchmarks import budget

    calls = []

    def fake_run_once(mode, neighbour, keep):
        calls.append((mode, neighbour))  # the busy process is not started for it
        return {
            "wall_s": 900.0,
            "study_flow_s": 1.0,
            "barrier_jobs_s": 1.0,
            "calculator_s": 800.0,
            "core_utilisation": 0.5,
            "neighbour": neighbour,
        }

    monkeypatch.setattr(budget, "run_once", fake_run_once)
    out = tmp_path / "budget.json"
    budget.main(["--repeats", "1", "--external-neighbour", "GPAW on core 1", "--out", str(out)])
    doc = json.loads(out.read_text())
    key = f"default+neighbour ({DEFAULT_SEVENNET_MODEL})"  # filed under today's default
    assert calls == [("default", False)] and set(doc) == {key, "machine", "packages"}
    (row,) = doc[key]["rows"]
    assert row["neighbour"] == "GPAW on core 1"
    assert not doc[key]["summary"]["met"]
    # repeats of an earlier default are not counted as today's: a new default is measured
    doc[f"default ({DEFAULT_SEVENNET_MODEL})"] = doc.pop(key)
    doc["default (lis-dft-mf-0-ft2)"] = doc.pop(f"default ({DEFAULT_SEVENNET_MODEL})")
    out.write_text(json.dumps(doc))
    budget.main(["--repeats", "1", "--out", str(out)])
    assert len(json.loads(out.read_text())[f"default ({DEFAULT_SEVENNET_MODEL})"]["rows"]) == 1
    # a run that used another potential than the key says is refused, nothing written
    before = out.read_text()
    monkeypatch.setattr(
        budget, "run_once", lambda *a: {**fake_run_once(*a), "model_name": "7net-0"}
    )
    with pytest.raises(RuntimeError, match="7net-0"):
        budget.main(["--repeats", "2", "--out", str(out)])
    assert out.read_text() == before


def test_scale_runs_are_filed_per_default_potential(tmp_path, monkeypatch):
    import json

    import benchmarks.suite as suite
    from benchmarks import scale

    model = scale.default_model("default")
    old = {"catalyst": "LiI", "systems": [], "model_name": "older-default"}
    out = tmp_path / "scale.json"
    out.write_text(json.dumps({"by_model": {"older-default": {"runs": [old], "summary": {}}}}))

    def fake_run(catalyst, used=model):
        system = {"system": f"Li2S on {catalyst}", "screen_s": 10.0, "relaxations_s": 20.0}
        return {
            "catalyst": catalyst,
            "command_wall_s": 40.0,
            "adsorbate_stage_s": 30.0,
            "core_utilisation": 0.9,
            "calculator_fraction": 0.95,
            "systems": [{**system, "wall_s": 30.0, "placements": 4, "E_A_eV": -1.0}],
            "model_name": used,
            "created": "2026-12-05 12:00:00",
        }

    monkeypatch.setattr(scale, "run_catalyst", fake_run)
    scale.main(["--catalysts", "LiI", "LiBr", "--out", str(out)])
    doc = json.loads(out.read_text())
    assert doc["by_model"]["older-default"]["runs"] == [old]  # kept, LiI measured afresh
    assert [r["catalyst"] for r in doc["by_model"][model]["runs"]] == ["LiI", "LiBr"]
    assert doc["by_model"][model]["summary"]["systems"] == 2
    monkeypatch.setattr(suite, "HERE", tmp_path)
    text = "\n".join(suite._scale_section())
    assert f"### {model} (2026-12-05)" in text and "| Li2S on LiBr | 10 | 20 | 30 | 4 |" in text

    before = out.read_text()
    monkeypatch.setattr(scale, "run_catalyst", lambda c: fake_run(c, used="7net-0"))
    with pytest.raises(RuntimeError, match="7net-0"):
        scale.main(["--catalysts", "LiCl", "--out", str(out)])
    assert out.read_text() == before


def test_scale_systems_and_linearity():
    from benchmarks.scale import linearity, summary, systems

    results = {
        "timing": {
            "job_seconds": {
                "screen/Li2S": 40.0,
                "adslab/Li2S/0": 10.0,
                "adslab/Li2S/1": 12.0,
                "screen/S8": 50.0,
                "adslab/S8/0": 30.0,
                "adslab/S8/1": 25.0,
                "slab/relax": 99.0,
            }
        },
        "catalyst": {"label": "LiI(100)"},
        "adsorption_energies": {
            "Li2S": {"eV": -1.8, "configs": [1, 2, 3]},
            "S8": {"eV": -0.9, "configs": [1, 2]},
        },
    }
    rows = systems(results)
    assert [r["wall_s"] for r in rows] == [62.0, 105.0]
    assert rows[0]["system"] == "Li2S on LiI(100)" and rows[1]["relaxed"] == 2
    assert linearity([(6, 60.0), (12, 120.0), (18, 180.0)]) == {
        "seconds_per_system": 10.0,
        "worst_relative_residual": 0.0,
    }
    bent = linearity([(6, 60.0), (12, 120.0), (18, 360.0)])  # the third catalyst costs 3x
    assert bent["worst_relative_residual"] > 0.2
    s = summary(
        [{"catalyst": "LiI", "systems": rows, "core_utilisation": 0.9, "adsorbate_stage_s": 167.0}]
    )
    assert s["systems"] == 2 and s["adsorbate_stage_s"] == 167.0
    assert s["cumulative"] == [(2, 167.0)] and s["worst_relative_residual"] == 0.0
    assert summary([]) == {}


def test_dft_hours_section_gives_the_first_step_below_a_tenth(tmp_path, monkeypatch):
    """The looser criterion a campaign might use, read from the stored max forces."""
    import json

    from benchmarks import suite

    r = {"steps": 4, "converged": True, "energies_eV": [0.0] * 5, "seconds": [9.0] * 5}
    rows = [
        {"adsorbate": "X", "config": "c", "raw": {**r, "max_force": [0.5, 0.2, 0.09, 0.12, 0.04]}},
        {"adsorbate": "Y", "config": "c", "raw": {**r, "max_force": [0.5, 0.2, 0.11, 0.12, 0.1]}},
    ]
    (tmp_path / "dft_hours.json").write_text(json.dumps({"by_run": {"r": {"rows": rows}}}))
    monkeypatch.setattr(suite, "HERE", tmp_path)
    text = "\n".join(suite._dft_hours_section())
    assert "| X | c | raw | 4 | yes | 2 | 0.040 |" in text
    assert "| Y | c | raw | 4 | yes |  | 0.100 |" in text  # never below: empty


def test_dft_hours_tells_the_same_minimum_from_a_different_one(tmp_path, monkeypatch):
    """Two ends on symmetry-equivalent sites match; an adsorbate 1.5 Å away does not."""
    import json

    import numpy as np
    from ase.build import add_adsorbate, fcc100
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    from benchmarks import suite
    from benchmarks.dft_hours import compare_minima

    def end(name, shift, energy, move=0.0):
        slab = fcc100("Cu", (2, 2, 2), vacuum=6.0)  # a 2 x 2 cell: (a, 0) is a symmetry
        add_adsorbate(slab, "S", 1.5, "hollow")
        slab.positions[-1, 0] += move
        slab.positions += shift
        slab.pbc = True  # as the reduced model's frames are stored
        slab.wrap()
        slab.calc = SinglePointCalculator(slab, energy=energy, forces=np.zeros((len(slab), 3)))
        slab.info["fmax"] = 0.01
        write(tmp_path / name, slab)
        return tmp_path / name

    a = end("p.extxyz", 0.0, -10.0)
    same = compare_minima(a, end("r.extxyz", [2.55, 0.0, 0.0], -9.994))
    assert same["same_minimum"] and same["max_distance_A"] < 0.01
    assert same["energy_raw_minus_potential_eV"] == pytest.approx(0.006)
    other = compare_minima(a, end("o.extxyz", 0.0, -9.7, move=1.5))
    assert not other["same_minimum"] and other["rms_distance_A"] is None
    rows = [
        {"adsorbate": "X", "config": "c", "minima": same},
        {"adsorbate": "Y", "config": "d", "minima": other},
    ]
    (tmp_path / "dft_hours.json").write_text(json.dumps({"by_run": {"r": {"rows": rows}}}))
    monkeypatch.setattr(suite, "HERE", tmp_path)
    text = "\n".join(suite._dft_hours_section())
    assert "X c: both starts end in the same minimum" in text and "+0.006 eV" in text
    assert "Y d: **the starts end in different minima**" in text and "+0.300 eV" in text


def test_dft_hours_relaxes_both_starts_resumably_and_extrapolates(tmp_path, monkeypatch):
    import json
    import time

    import numpy as np
    from ase.io import read
    from conftest import mock_run_args
    from typer.testing import CliRunner

    from benchmarks.dft_hours import extrapolate, main, relax_resumable, starting_geometries
    from lis_dft.cli import app
    from lis_dft.errors import ParameterError

    run = tmp_path / "run"
    args = mock_run_args(run, "--supercell", "2", "2", "2", "--fixed-layers", "2")
    result = CliRunner().invoke(app, [*args, "--species", "Li2S2", "--race-rounds", "2,2"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "dft_hours.json"
    common = [
        str(run),
        "--calculator",
        "mock",
        "--adsorbates",
        "Li2S2",
        "--out",
        str(out),
        "--fmax",
        "1e-4",
    ]
    main([*common, "--max-steps", "3", "--starts", "raw"])  # one start per call: both cores
    main([*common, "--max-steps", "3", "--starts", "potential"])
    (row,) = json.loads(out.read_text())["by_run"][str(run)]["rows"]  # both in one row
    assert row["potential"]["steps"] == 3 and row["raw"]["steps"] == 3
    assert json.loads(out.read_text())["by_run"][str(run)]["potential"] == "mock"
    frames_dir = tmp_path / "dft_hours" / "run"  # one folder per run
    frames = {
        k: read(frames_dir / f"Li2S2_{row['config']}_{k}.extxyz", ":") for k in ("potential", "raw")
    }
    assert not np.allclose(frames["potential"][0].positions, frames["raw"][0].positions)
    first = [f.positions.copy() for f in frames["raw"]]
    kept = json.loads(out.read_text())
    kept["by_run"][str(run)]["rows"].insert(0, {"adsorbate": "S8", "config": "elsewhere"})
    kept["by_run"]["another_run"] = {"rows": []}  # filed by another potential's run
    out.write_text(json.dumps(kept))
    main([*common, "--max-steps", "6"])  # resumes: three more steps, the first ones kept
    after = json.loads(out.read_text())["by_run"]
    assert [r["adsorbate"] for r in after[str(run)]["rows"]] == ["S8", "Li2S2"]
    assert "another_run" in after
    again = read(frames_dir / f"Li2S2_{row['config']}_raw.extxyz", ":")
    assert len(again) == 7
    assert all(np.allclose(a.positions, b) for a, b in zip(again[:4], first, strict=True))
    moved = np.abs(again[-1].positions - again[0].positions).max(axis=1)
    z = again[0].positions[:, 2]
    n_slab = len(again[0]) - 4
    assert moved[np.argsort(z[:n_slab])[:16]].max() == 0  # the bottom two layers held
    from benchmarks import suite

    monkeypatch.setattr(suite, "HERE", tmp_path)  # RESULTS.md's section from this JSON
    text = "\n".join(suite._dft_hours_section())
    assert f"| Li2S2 | {row['config']} | raw | 6 | no |" in text
    assert "No pair has finished yet" in text
    assert after[str(run)]["rows"][-1]["raw"]["max_displacement_A"] > 0
    assert "### `" + str(run) + "` (mock)" in text
    seen: list[int] = []  # every step reported (the JSON is rewritten from it), logs aside
    start = starting_geometries(run, "Li2S2")["raw"]
    calc = {"name": "mock", "d3": "none"}
    frames_x = tmp_path / "x" / "f.extxyz"
    relax_resumable(start, calc, frames_x, 1e-4, 2, None, lambda st: seen.append(st["steps"]))
    assert seen == [0, 1, 2] and (tmp_path / "x" / ".work" / "f").is_dir()
    late = relax_resumable(start, calc, tmp_path / "y" / "f.extxyz", 1e-4, 2, time.time() - 1)
    assert late["steps"] == 0 and not (tmp_path / "y" / "f.extxyz").exists()  # past deadline
    with pytest.raises(ParameterError, match="other calculator settings"):  # never mixed
        relax_resumable(start, {**calc, "d3": "zero"}, frames_x, 1e-4, 3, None)
    done = {"converged": True, "steps": 10, "seconds": [0.0, 60.0, 60.0], "n_atoms": 68}
    rows = [{"potential": done, "raw": {**done, "steps": 40}}]
    x = extrapolate(rows, {"exhaustive": 30, "seeded": 6}, 216)
    assert x["campaign_ionic_steps"] == {"from_raw": 1200.0, "seeded": 60.0}
    assert x["paper_hours_2_cores"]["from_raw"] == 20 * x["paper_hours_2_cores"]["seeded"]
    assert extrapolate([{"potential": {**done, "converged": False}, "raw": done}], {}, 216) == {
        "finished_pairs": 0
    }
    # the potential's start converged, the raw one still running: a lower bound
    going = [{"potential": done, "raw": {**done, "converged": False, "steps": 35}}]
    low = extrapolate(going, {"exhaustive": 30, "seeded": 6}, 216)
    assert low["finished_pairs"] == 0
    assert low["lower_bound"]["campaign_ionic_steps"] == {"from_raw": 1050.0, "seeded": 60.0}
    (tmp_path / "dft_hours.json").write_text(
        json.dumps({"by_run": {"r": {"rows": [], "summary": low}}})
    )
    assert "at least 1050 against 60;" in "\n".join(suite._dft_hours_section())


def test_dft_hours_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    from benchmarks.dft_hours import main

    out = tmp_path / "dft_hours.json"
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "nothere"), "--calculator", "mock", "--out", str(out)])
    assert exc.value.code == 2 and not out.exists()
    assert "give the folder of a finished 'lis-dft run'" in capsys.readouterr().err


def test_slab_deformation_scores_the_terms_fine_tuning_trains(tmp_path):
    from ase.calculators.calculator import Calculator, all_changes

    from benchmarks import slab_deformation as sd
    from lis_dft.dft_workflows.finetune import DEFAULT_HOLD_OUT

    pairs, points = sd.deformation_points(sd.REFERENCE_DIR, DEFAULT_HOLD_OUT)
    by_id = {p["config_id"]: p for p in points}
    held = by_id["adslab/Li2S2/bridge_I-Li-flat-r0/free"]
    assert held["held_out"] and held["dft_eV"] == pytest.approx(0.485, abs=1e-3)
    assert not by_id["adslab/Li2S2/top_Li-flat-r0/free"]["held_out"]
    assert "adslab/Li2S2/top_Li-flat-r0/frozen" not in by_id  # its slab is the clean one

    class Height(Calculator):
        """E = sum of z (eV): a deformation is priced by how far atoms moved up."""

        implemented_properties = ("energy",)

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            self.results = {"energy": float(atoms.positions[:, 2].sum())}

    res = sd.score(Height(), pairs, points)
    for (deformed, clean), p in zip(pairs, res["points"], strict=True):
        lift = deformed.positions[:, 2].sum() - clean.positions[:, 2].sum()
        assert p["potential_eV"] == pytest.approx(lift)
        assert p["error_eV"] == pytest.approx(lift - p["dft_eV"])
    n_held = sum(p["held_out"] for p in points)
    assert res["held_out"]["n"] == n_held and res["training"]["n"] == len(points) - n_held
    assert res["training"]["mae_eV"] >= abs(res["training"]["mean_error_eV"])
    with pytest.raises(SystemExit, match="NAME=PATH"):
        sd.main(["--attempt", "ft9", "--out", str(tmp_path / "x.json")])
    with pytest.raises(SystemExit, match="no model"):
        sd.main(["--potential", "7net-nope", "--out", str(tmp_path / "x.json")])
    assert not (tmp_path / "x.json").exists()


def test_gpaw_threads_recomputes_a_reference_frame(tmp_path):
    """The benchmark's worker reproduces the set's own GPAW energy; bad input stops early."""
    pytest.importorskip("gpaw")
    from ase.io import write

    from benchmarks import gpaw_threads as gt
    from lis_dft.dft_workflows.reference_set import read_frames

    src = gt.HERE / "dft_reference" / "reference.extxyz"
    lii = next(a for a in read_frames(src) if a.info["config_id"] == "bulk/LiI/a1.00")
    ref = tmp_path / "set"
    ref.mkdir()
    write(ref / "reference.extxyz", lii, format="extxyz")
    out = tmp_path / "threads.json"
    gt.main(
        ["--config", "bulk/LiI/a1.00", "--case", "1x1", "--reference", str(ref), "--out", str(out)]
    )
    case = json.loads(out.read_text())["cases"]["1x1"]
    assert case["energies_eV"][0] == pytest.approx(lii.info["energy_pbe"], abs=1e-3)
    assert (
        case["blas_choice"]["threads"] == 1 and case["blas_choice"]["source"] == "LIS_DFT_THREADS"
    )
    bad = tmp_path / "bad.json"
    for argv, message in (
        (["--case", "2by1"], "PROCESSESxTHREADS"),
        (["--case", "0x1"], "at least one"),
        (["--config", "bulk/nothere"], "No frame"),
    ):
        with pytest.raises(SystemExit, match=message):
            gt.main([*argv, "--reference", str(ref), "--out", str(bad)])
    assert not bad.exists()


def test_bulk_lattice_fits_the_minimum_on_the_committed_plane_wave_scans():
    import numpy as np
    from ase.io import read

    from benchmarks.bulk_lattice import EV_SET, lattice_scale, uniform_scans

    # an equation of state with its minimum at 0.97 V_exp: a / a_exp = 0.97^(1/3)
    v = np.linspace(0.91, 1.06, 6) * 50.0
    e = 2.0 * (v / 48.5 - 1) ** 2
    assert lattice_scale(list(v), list(e), 50.0) == pytest.approx(0.97 ** (1 / 3), abs=1e-3)
    assert lattice_scale(list(v), list(-v), 50.0) is None  # no minimum inside the scan
    scans = uniform_scans(read(EV_SET, ":"))
    assert set(scans) == {"Li2S", "Li2S2", "LiI"}  # the rigid-ring alpha-S scan is not one
    lii = scans["LiI"]
    v_exp = next(a for a in lii if a.info["config_id"] == "ev/LiI/v1.000").get_volume()
    scale = lattice_scale(
        [a.get_volume() for a in lii], [a.get_potential_energy() for a in lii], v_exp
    )
    assert 6.0 * scale == pytest.approx(5.937, abs=0.002)  # GPAW PW PBE + D3(zero), 2026-12-06


def test_bulk_lattice_section_flags_lattices_outside_the_target(tmp_path, monkeypatch):
    import json

    from benchmarks import suite

    doc = {
        "what": "a / a_exp",
        "hamiltonian": "PBE + D3",
        "target_pct": 1.0,
        "phases": {
            "LiI": {
                "dft_pw": 0.9895,
                "dft_lcao": 0.9829,
                "potentials": {"a + D3": {"error_pct": -1.41}, "b + D3": {"error_pct": 0.5}},
            },
            "Li2S": {
                "dft_pw": 0.9863,
                "dft_lcao": None,
                "potentials": {"a + D3": {"scale": None, "error_pct": None}},
            },
        },
    }
    (tmp_path / "bulk_lattice.json").write_text(json.dumps(doc))
    monkeypatch.setattr(suite, "HERE", tmp_path)
    text = "\n".join(suite._bulk_lattice_section())
    assert "| | Li2S | LiI |" in text
    assert "| a + D3 | no minimum in the scan | -1.41 % (outside) |" in text
    assert "| b + D3 | – | +0.50 % |" in text  # not run on Li2S
    assert "| 0.9863 | 0.9895 |" in text and "| – | 0.9829 |" in text


def test_formation_pw_takes_each_phase_at_its_own_minimum(tmp_path, monkeypatch):
    """E_f from E(V) minima (None where a minimum is outside the scan), and its section."""
    import json

    import numpy as np

    from benchmarks import suite
    from benchmarks.formation_pw import eos_minimum, formation

    v = np.linspace(0.91, 1.06, 6) * 20.0
    e0, v0 = eos_minimum(list(v), list(-1.5 + 2.0 * (v / 19.4 - 1) ** 2))
    assert e0 == pytest.approx(-1.5, abs=1e-3) and v0 == pytest.approx(19.4, abs=0.05)
    assert eos_minimum(list(v), list(-v)) is None
    ef = formation({"Li": -1.9, "S": -4.2, "Li2S": -4.0, "Li2S2": -4.0})
    assert ef["Li2S"] == pytest.approx(-4.0 - (2 * -1.9 - 4.2) / 3)
    assert ef["Li2S2"] == pytest.approx(-4.0 + (1.9 + 4.2) / 2)
    assert formation({"Li": None, "S": -4.2, "Li2S": -4.0, "Li2S2": -4.0})["Li2S"] is None

    doc = {
        "what": "E_f",
        "hamiltonian": "PBE + D3",
        "li_kpt_density": 6.0,
        "target_eV_per_atom": 0.03,
        "bcc_li_kpoints": {"cell": "bcc", "lcao": {"2.5": -1.88}, "pw": {"2.5": -1.92}},
        "dft_pw": {"formation": {"Li2S": -1.429}},
        "potentials": {
            "a + D3": {"formation": {"Li2S": -1.392}, "error": {"Li2S": 0.037}},
            "b + D3": {"formation": {"Li2S": None}, "error": {"Li2S": None}},
        },
    }
    (tmp_path / "formation_pw.json").write_text(json.dumps(doc))
    monkeypatch.setattr(suite, "HERE", tmp_path)
    text = "\n".join(suite._formation_pw_section())
    assert "| a + D3 | -1.392 (+0.037, outside) |" in text
    assert "| b + D3 | a minimum outside the scan |" in text
    assert "| lcao | -1.8800 |" in text and "| pw | -1.9200 |" in text
