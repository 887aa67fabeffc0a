"""Growing the reference set from verified runs: real GPAW points of a committed run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lis_dft.cli import app
from lis_dft.dft_workflows.reference_counterpoise import corrections
from lis_dft.dft_workflows.reference_import import import_verified, site_of
from lis_dft.dft_workflows.reference_set import DEFAULT_DIR, REFERENCE, read_frames
from lis_dft.errors import ParameterError

RUN = DEFAULT_DIR / "runs" / "default_run"


@pytest.fixture
def empty_set(tmp_path):
    out = tmp_path / "set"
    out.mkdir()
    return out


def test_site_of_placement_ids():
    assert site_of("bridge_I-Li-flat-r0") == "bridge_I-Li"
    assert site_of("hollow-upright-r0") == "hollow"


def test_import_of_a_verified_run(empty_set):
    verify = json.loads((RUN / "verify.json").read_text())
    s = import_verified(RUN, empty_set, log=lambda m: None)
    assert (
        not s.missing and len(s.added) == 19
    )  # 5 bulk, I2, slab, 3 x (molecule, complex, 2 fragments)
    frames = {a.info["config_id"]: a for a in read_frames(empty_set / REFERENCE)}
    for a in frames.values():  # PBE and D3 parts add up to verify's energy
        assert a.info["energy_pbe"] + a.info["energy_d3"] == pytest.approx(a.get_potential_energy())
        assert a.info["settings_hash"] == "08ae99ff0138"
    cx = frames["verified/default_run/adslab/S8/hollow-upright-r0"]
    assert cx.info["family"] == "S8@LiI_100/hollow"
    assert cx.info["slab_ref"] == "verified/default_run/slab" and cx.info["slab_ref"] in frames
    assert cx.info["molecule_ref"] in frames and cx.info["intact"]
    assert len(cx) - cx.info["n_slab"] == 8
    # the counterpoise correction is verify's own, to the meV
    bsse = corrections(empty_set)
    for ads, block in verify["adsorption"].items():
        c = block["configs"][0]
        assert bsse[f"verified/default_run/adslab/{ads}/{c['id']}"] == pytest.approx(c["bsse_eV"])
    again = import_verified(RUN, empty_set, log=lambda m: None)
    assert not again.added and len(again.skipped_present) == 19
    assert len(read_frames(empty_set / REFERENCE)) == 19


def test_import_refuses_another_hamiltonian(empty_set):
    shutil.copy(DEFAULT_DIR / REFERENCE, empty_set / REFERENCE)
    text = (empty_set / REFERENCE).read_text().replace("08ae99ff0138", "0123456789ab")
    (empty_set / REFERENCE).write_text(text)
    before = (empty_set / REFERENCE).read_bytes()
    with pytest.raises(ParameterError, match="one Hamiltonian"):
        import_verified(RUN, empty_set, log=lambda m: None)
    assert (empty_set / REFERENCE).read_bytes() == before  # nothing written


def test_import_cli_refuses_an_unverified_folder(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    result = CliRunner().invoke(
        app, ["reference-set", "import", str(tmp_path), "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "no verify.json" in " ".join(result.output.split())


def test_committed_set_already_holds_the_committed_runs():
    ids = {a.info["config_id"] for a in read_frames(Path(DEFAULT_DIR) / REFERENCE)}
    assert sum(c.startswith("verified/default_run/") for c in ids) == 19
    assert sum(c.startswith("verified/LiCl/") for c in ids) == 19
