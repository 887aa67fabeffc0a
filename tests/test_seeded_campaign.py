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


def _record(run_dir):
    from lis_dft.dft_workflows.verify import load_run

    return load_run(run_dir)[1]


def test_the_seeded_campaign_holds_the_runs_minima(run_dir, tmp_path):
    out = tmp_path / "vasp"
    result = runner.invoke(
        app, ["inputs", "--from-run", str(run_dir), "--out", str(out), "--top-k", "1"]
    )
    assert result.exit_code == 0, result.output
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
    result = runner.invoke(
        app, ["inputs", "--from-run", str(run_dir), "--out", str(out), "--top-k", "5"]
    )
    assert result.exit_code == 0, result.output
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
    result = runner.invoke(
        app, ["inputs", "--from-run", str(run_dir), "--out", str(out), "--top-k", "2"]
    )
    assert result.exit_code == 0, result.output
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
