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
