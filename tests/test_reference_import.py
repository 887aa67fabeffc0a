"""Growing the reference set from verified runs: real GPAW points of a committed run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import RELAXATION
from typer.testing import CliRunner

from lis_dft.cli import app
from lis_dft.dft_workflows.reference_counterpoise import corrections
from lis_dft.dft_workflows.reference_import import (
    import_relaxation,
    import_verified,
    relaxation_steps,
    site_of,
)
from lis_dft.dft_workflows.reference_set import DEFAULT_DIR, REFERENCE, read_frames, status
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


# ------------------------------------------------------------- DFT relaxation steps


def test_import_of_a_gpaw_relaxation(empty_set):
    from ase.io import read

    steps = read(RELAXATION, index=":")
    kept = relaxation_steps(steps, 0.05)
    assert kept[0] == 0 and kept[-1] == len(steps) - 1 and len(kept) < len(steps)
    assert relaxation_steps(steps, 0.0) == list(range(len(steps)))
    s = import_relaxation(RELAXATION, "S8", "top_I", empty_set, log=lambda m: None)
    assert len(s.added) == len(kept)
    frames = read_frames(empty_set / REFERENCE)
    for a, i in zip(frames, kept, strict=True):
        assert a.info["config_id"].endswith(f"/step{i:03d}")
        assert a.info["kind"] == "relaxation" and a.info["family"] == "S8@LiI_100/top_I"
        # the SCF force criterion is not the Hamiltonian: the set's own settings hash
        assert a.info["settings_hash"] == "08ae99ff0138"
        assert a.info["hamiltonian"].startswith("PBE + D3(zero), GPAW PBE, LCAO dzp")
        assert a.info["energy_pbe"] + a.info["energy_d3"] == pytest.approx(
            steps[i].get_potential_energy()
        )
        assert np.allclose(a.get_forces(), steps[i].get_forces())
        assert len(a) - a.info["n_slab"] == 8
    again = import_relaxation(RELAXATION, "S8", "top_I", empty_set, log=lambda m: None)
    assert not again.added and len(again.skipped_present) == len(kept)
    shutil.copy(DEFAULT_DIR / "configurations.extxyz", empty_set)
    row = status(empty_set)["kinds"]["relaxation/default_run_ft4"]
    assert row["computed"] == len(kept) and row["atoms"] == [72]


def test_relaxation_steps_train_forces_only_and_stay_out_of_the_scores(empty_set):
    from lis_dft.dft_workflows.finetune import labels, scoring_frames, split

    import_relaxation(RELAXATION, "S8", "top_I", empty_set, log=lambda m: None)
    frames = read_frames(empty_set / REFERENCE)
    assert all(lab.energy_weight == 0.0 and lab.references is None for lab in labels(frames, {}))
    assert scoring_frames(frames, []) == []  # training frames: no held-out score
    train, held = split(frames, ("S8@LiI_100/top_I",))
    assert not train and scoring_frames(frames, held) == frames


@pytest.mark.parametrize(
    ("edit", "args", "message"),
    [
        (None, ("Li2S2", "top_I"), "not Li2S2"),
        ('"basis": "dzp"', ("S8", "top_I"), "one Hamiltonian"),
        ('"name": "gpaw"', ("S8", "top_I"), "GPAW PBE \\+ D3\\(zero\\) only"),
    ],
)
def test_import_relaxation_refuses_bad_input(empty_set, tmp_path, edit, args, message):
    shutil.copy(DEFAULT_DIR / REFERENCE, empty_set / REFERENCE)
    src = tmp_path / "relax.extxyz"
    text = RELAXATION.read_text()
    if edit == '"basis": "dzp"':
        text = text.replace('\\"basis\\": \\"dzp\\"', '\\"basis\\": \\"szp\\"')
    elif edit == '"name": "gpaw"':
        text = text.replace('\\"name\\": \\"gpaw\\"', '\\"name\\": \\"emt\\"')
    src.write_text(text)
    before = (empty_set / REFERENCE).read_bytes()
    with pytest.raises(ParameterError, match=message):
        import_relaxation(src, *args, empty_set, log=lambda m: None)
    assert (empty_set / REFERENCE).read_bytes() == before  # nothing written


def test_import_relaxation_cli_missing_file(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            *("reference-set", "import-relaxation", str(tmp_path / "none.extxyz")),
            *("--adsorbate", "S8", "--site", "top_I", "--out", str(tmp_path)),
        ],
    )
    assert result.exit_code != 0
    assert "no such relaxation file" in " ".join(result.output.split())
