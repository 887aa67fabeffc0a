"""Parsing real VASP outputs (tests/test_data/vasp_outputs, custodian test files)."""

from __future__ import annotations

import json
import shutil

import pytest
from pymatgen.io.vasp import Vasprun

import lis_dft.vasp.parse as vp
from lis_dft.vasp.parse import parse_calculation


def test_completed_run_is_ok_and_matches_pymatgen(replay_run, vasp_outputs):
    d = replay_run("completed")
    p = parse_calculation(d)
    ref = Vasprun(vasp_outputs / "completed" / "vasprun.xml.gz")
    assert p.status == "ok", p.reason
    assert p.energy == pytest.approx(ref.final_energy, abs=1e-8)
    assert p.n_atoms == len(ref.final_structure) == 4
    assert p.structure.composition == ref.final_structure.composition
    assert p.max_force == pytest.approx(
        max((sum(f * f for f in v)) ** 0.5 for v in ref.ionic_steps[-1]["forces"])
    )
    assert p.n_ionic_steps == len(ref.ionic_steps)


def test_uncompressed_vasprun(replay_run, tmp_path):
    import gzip

    d = replay_run("completed")
    (d / "vasprun.xml").write_bytes(gzip.decompress((d / "vasprun.xml.gz").read_bytes()))
    (d / "vasprun.xml.gz").unlink()
    assert parse_calculation(d).status == "ok"


@pytest.mark.parametrize(
    ("which", "status", "words"),
    [
        ("electronic", "unconverged_electronic", "NELM"),
        ("ionic", "unconverged_ionic", "NSW"),
    ],
)
def test_unconverged_runs(replay_run, vasp_outputs, which, status, words):
    p = parse_calculation(replay_run(which))
    assert p.status == status
    assert words in p.reason
    ref = Vasprun(vasp_outputs / "unconverged" / f"{which}.vasprun.xml.gz")
    assert p.energy == pytest.approx(ref.final_energy, abs=1e-8)  # energy still reported


def test_missing_and_empty(tmp_path):
    (tmp_path / "none").mkdir()
    assert parse_calculation(tmp_path / "none").status == "missing"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "vasprun.xml").write_text("")
    p = parse_calculation(tmp_path / "empty")
    assert p.status == "corrupt" and "unreadable" in p.reason


def test_truncated_run_is_corrupt(replay_run):
    """A job killed while writing: the real file cut in the middle of its last step."""
    import gzip

    d = replay_run("completed")
    data = gzip.decompress((d / "vasprun.xml.gz").read_bytes())
    (d / "vasprun.xml.gz").unlink()
    (d / "vasprun.xml").write_bytes(data[: int(len(data) * 0.6)])
    p = parse_calculation(d)
    assert p.status == "corrupt" and "truncated" in p.reason


def test_output_of_another_structure_is_corrupt(replay_run):
    from lis_dft.structures import lithium_sulfide

    d = replay_run("completed")
    lithium_sulfide().to(filename=str(d / "POSCAR"), fmt="poscar")
    p = parse_calculation(d)
    assert p.status == "corrupt" and "POSCAR is Li2S" in p.reason


def test_forces_above_ediffg(replay_run, monkeypatch):
    """Same real run, judged against a tighter EDIFFG than it was run with."""
    real = vp.parse_vasprun

    def tighter(path):
        r = real(path)
        r["EDIFFG"] = -0.005  # the run's largest force is 0.011 eV/Å
        return r

    monkeypatch.setattr(vp, "parse_vasprun", tighter)
    p = parse_calculation(replay_run("completed"))
    assert p.status == "forces_too_large" and "0.011" in p.reason


def test_parse_cli_writes_parsed_json(tmp_path, replay_run):
    from typer.testing import CliRunner

    from lis_dft.cli import app
    from lis_dft.vasp.campaign import Calculation, Campaign

    calcs = []
    for name, which in (
        ("ok_run", "completed"),
        ("bad_elec", "electronic"),
        ("bad_ionic", "ionic"),
    ):
        replay_run(which, name=f"runs/{name}")
        calcs.append(Calculation(name, "bulk", f"runs/{name}"))
    calcs.append(Calculation("never_ran", "bulk", "runs/never_ran"))
    (tmp_path / "runs" / "never_ran").mkdir()
    Campaign(tmp_path, calcs).save()
    result = CliRunner().invoke(app, ["parse", str(tmp_path)])
    assert result.exit_code == 0, result.output
    parsed = {p["name"]: p for p in json.loads((tmp_path / "parsed.json").read_text())}
    assert {k: v["status"] for k, v in parsed.items()} == {
        "ok_run": "ok",
        "bad_elec": "unconverged_electronic",
        "bad_ionic": "unconverged_ionic",
        "never_ran": "missing",
    }
    for p in parsed.values():
        assert set(p) >= {"name", "path", "status", "reason", "energy", "n_atoms", "max_force"}
    assert "not trusted" in result.output


def test_campaign_parse_to_results(tmp_path, replay_run, vasp_outputs, monkeypatch):
    """atomate2-style mock VASP, step 2: reference outputs copied in, parsed into results."""
    from lis_dft.analysis.results import build_results
    from lis_dft.vasp.campaign import Calculation, Campaign
    from lis_dft.vasp.results import energy_record, parse_campaign, vasp_calculator_info

    d = replay_run("completed", name="bulk/FeO")
    shutil.copy(vasp_outputs / "completed" / "vasprun.xml.gz", d / "vasprun.xml.gz")
    campaign = Campaign(
        tmp_path, [Calculation("FeO", "bulk", "bulk/FeO")], settings={"ivdw": 11, "encut": 600}
    )
    parsed = parse_campaign(campaign)
    record = energy_record(campaign, parsed)
    assert record["bulk"]["FeO"]["energy"] == pytest.approx(-28.21851457)
    res = build_results(
        record, vasp_calculator_info(campaign), campaign.settings, {"packages": {}}, source="vasp"
    )
    assert res["source"] == "vasp" and res["calculator"]["d3"]["damping"] == "zero"
    assert res["formation_energies"] == {}  # no Li/S references: nothing invented
