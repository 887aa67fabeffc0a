"""The benchmark scripts keep working (quick mode: mock calculator, small sizes)."""

from __future__ import annotations

import json

from benchmarks.suite import main


def test_quick_benchmarks_write_results(tmp_path, vasp_outputs):
    main(["--quick", "--out", str(tmp_path), "--shared", str(vasp_outputs)])
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["mode"] == "quick"
    assert {"cores", "cpu_model"} <= set(res["machine"])
    assert res["packages"]["lis-dft"]
    assert res["study"]["median"]["calculator_calls"] > 0
    for ads in ("Li2S", "Li2S2", "S8"):
        v = res["screening"]["per_adsorbate"][ads]
        assert v["exhaustive_atomate2_asf"]["force_calls"] > 0
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
