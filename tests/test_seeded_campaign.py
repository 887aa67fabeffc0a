"""``lis-dft inputs --from-run``: a VASP campaign seeded from a finished local run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import mock_run_args
from pymatgen.core import Structure
from pymatgen.io.vasp import Poscar
from typer.testing import CliRunner

from lis_dft.analysis.energetics import annotate_integrity
from lis_dft.cli import app
from lis_dft.vasp.campaign import GAS, load_campaign

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed") / "run"
    args = mock_run_args(out, "--supercell", "2", "2", "2", "--fixed-layers", "1")
    args[args.index("--top-k") + 1] = "2"  # two relaxed configurations per adsorbate
    result = runner.invoke(app, [*args, "--species", "Li2S", "--species", "S8"])
    assert result.exit_code == 0, result.output
    return out


def _seed(run_dir, out, top_k):
    """``lis-dft inputs --from-run RUN --out OUT --top-k K``, which must succeed."""
    result = runner.invoke(
        app, ["inputs", "--from-run", str(run_dir), "--out", str(out), "--top-k", str(top_k)]
    )
    assert result.exit_code == 0, result.output
    return result


def _record(run_dir):
    from lis_dft.dft_workflows.verify import load_run

    return load_run(run_dir)[1]


def test_the_seeded_campaign_holds_the_runs_minima(run_dir, tmp_path):
    out = tmp_path / "vasp"
    result = _seed(run_dir, out, 1)
    campaign = load_campaign(out)
    kinds = [c.kind for c in campaign.calculations]
    record = _record(run_dir)
    assert kinds.count("bulk") == len(record["bulk"])
    assert kinds.count("molecule") == len(record["molecules"])
    assert kinds.count("slab") == 1
    adslabs = [c for c in campaign.calculations if c.kind == "adslab"]
    assert sorted(c.adsorbate for c in adslabs) == ["Li2S", "S8"]  # one each

    seeded = campaign.meta["seeded_from"]
    placements = sum(len(a["configs"]) for a in record["adsorbates"].values())
    assert seeded["exhaustive_adsorbate_calculations"] == placements
    assert seeded["saved_adsorbate_calculations"] == placements - 2
    assert 3 * len(adslabs) <= placements  # at most a third of the exhaustive campaign
    assert seeded["ionic_steps_saved_estimate"] > 0
    assert "fewer" in result.output

    annotate_integrity(record)
    for c in adslabs:  # the lowest sound relaxed configuration, at its relaxed geometry
        configs = [x for x in record["adsorbates"][c.adsorbate]["configs"] if x.get("relaxed")]
        intact = [x for x in configs if x["intact"]]
        whole = [x for x in intact if x.get("surface_intact") is not False]
        best = min(whole or intact or configs, key=lambda x: x["energy"])  # best_config's rule
        assert c.config_id == best["id"]
        relaxed = Structure.from_dict(best["structure"])
        written = Poscar.from_file(out / c.path / "POSCAR").structure
        assert np.allclose(written.cart_coords, relaxed.cart_coords, atol=1e-5)
        assert c.depends_on == [campaign.meta["catalyst"]["slab"], f"{c.adsorbate}{GAS}"]
    bulk = next(c for c in campaign.calculations if c.kind == "bulk")
    cell = Structure.from_dict(record["bulk"][bulk.name]["structure"]).lattice
    assert np.allclose(Poscar.from_file(out / bulk.path / "POSCAR").structure.lattice.abc, cell.abc)


def test_asking_for_more_than_the_run_relaxed_writes_what_there_is(run_dir, tmp_path):
    out = tmp_path / "vasp"
    result = _seed(run_dir, out, 5)
    assert "fewer than --top-k" in result.output
    meta = json.loads((out / "campaign.json").read_text())["meta"]["seeded_from"]
    assert meta["adsorbate_calculations"] == 4  # the two relaxed per adsorbate
    assert sum("fewer than --top-k" in n for n in meta["notes"]) == 2
    # the mock breaks the surface or the adsorbate: written for lack of sound ones, said so
    assert any("check it" in n for n in meta["notes"])


def test_seeding_from_a_folder_that_is_not_a_run_fails_cleanly(tmp_path):
    out = tmp_path / "vasp"
    result = runner.invoke(app, ["inputs", "--from-run", str(tmp_path), "--out", str(out)])
    assert result.exit_code != 0
    assert "results.json" in result.output
    assert not out.exists()  # nothing half-written


def test_with_the_runs_top_k_vasp_relaxes_what_the_local_run_relaxed(run_dir, tmp_path):
    """The same calculations, by name: references, slab and every relaxed configuration."""
    out = tmp_path / "vasp"
    _seed(run_dir, out, 2)
    record = _record(run_dir)
    local = {("bulk", n) for n in record["bulk"]}
    local |= {("molecule", f"{n}{GAS}") for n in record["molecules"]}
    local |= {
        ("adslab", f"{ads}/{c['id']}")
        for ads, a in record["adsorbates"].items()
        for c in a["configs"]
        if c.get("relaxed")
    }
    campaign = load_campaign(out)
    vasp = {
        (c.kind, f"{c.adsorbate}/{c.config_id}" if c.kind == "adslab" else c.name)
        for c in campaign.calculations
        if c.kind not in ("slab", "analysis")
    }
    assert vasp == local
    assert [c.kind for c in campaign.calculations].count("slab") == 1


def test_the_campaign_records_the_potentials_adsorption_energies(run_dir, tmp_path):
    out = tmp_path / "vasp"
    _seed(run_dir, out, 2)
    seeded = load_campaign(out).meta["seeded_from"]
    results = json.loads((run_dir / "results.json").read_text())
    for ads, entry in seeded["adsorbates"].items():
        by_id = {c["id"]: c["energy"] for c in results["adsorption_energies"][ads]["configs"]}
        for w in entry["written"]:
            assert w["potential_E_A_eV"] == pytest.approx(by_id[w["id"]])


def test_vasp_and_the_seeding_potential_side_by_side():
    from lis_dft.analysis.sources import compare_seeded, seeded_section

    seeded = {
        "calculator": {"name": "sevennet", "model": "ft2"},
        "adsorbates": {
            "Li2S": {
                "written": [
                    {"id": "a", "potential_E_A_eV": -1.6},
                    {"id": "b", "potential_E_A_eV": -1.2},
                ]
            },
            "S8": {"written": [{"id": "c", "potential_E_A_eV": -0.7}]},
        },
    }
    results = {
        "adsorption_energies": {
            "Li2S": {
                "configs": [
                    {"id": "a", "relaxed": True, "energy": -1.0},
                    {"id": "b", "relaxed": True, "energy": -1.4},
                ]
            },
            "S8": {"configs": []},  # VASP's S8 run not trusted yet
        }
    }
    cmp = compare_seeded(seeded, results)
    rows = {r["config"]: r for r in cmp["rows"]}
    assert rows["a"]["difference_eV"] == pytest.approx(-0.6)  # potential - VASP
    assert rows["c"]["vasp_E_A_eV"] is None and rows["c"]["difference_eV"] is None
    assert cmp["same_lowest"] == {"Li2S": False, "S8": None}  # a by the potential, b by VASP
    text = "\n".join(seeded_section(cmp))
    assert "Li2S: VASP and the potential disagree on the lowest configuration" in text
    assert "| S8 | c | -0.700 | n/a | n/a |" in text
    assert seeded_section(None) == []
