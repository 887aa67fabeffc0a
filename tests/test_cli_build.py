from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lis_dft.cli import app
from lis_dft.structures.bulk import lithium_sulfide
from lis_dft.structures.io import read_structure
from lis_dft.structures.validation import check_bulk, check_slab, spacegroup_number

runner = CliRunner()


def test_build_help_explains_options():
    result = runner.invoke(app, ["build", "--help"])
    assert result.exit_code == 0
    for opt in ("--out", "--supercell", "--vacuum", "--fixed-layers", "--structure"):
        assert opt in result.output


def test_build_small_slab_manifest(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["build", "--out", str(out), "--supercell", "2", "2", "1", "--fixed-layers", "1"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    names = [e["name"] for e in manifest]
    assert len(names) == len(set(names))  # unique keys: bulk Li2S is not molecule Li2S
    assert {"bulk/Li", "bulk/S", "molecule/S8", "bulk/Li2S", "molecule/Li2S", "bulk/Li2S2"} <= set(
        names
    )
    assert {"molecule/Li2S2", "bulk/LiI", "slab/LiI_100"} <= set(names)
    by_name = {e["name"]: e for e in manifest}
    assert by_name["bulk/Li2S2"]["formula_unit"] == "Li2S2"  # not pymatgen's reduced LiS
    assert by_name["molecule/Li2S2"]["formula"] == "Li2S2"
    adslabs = [e for e in manifest if e["kind"] == "adslab"]
    assert {e["name"].split("@")[0] for e in adslabs} == {"Li2S", "Li2S2", "S8"}
    assert all(e["name"].startswith(e["adsorbate"] + "@LiI_100/") for e in adslabs)
    for e in manifest:
        assert set(e) >= {"name", "kind", "formula", "n_atoms", "path", "spacegroup"}
        assert e["kind"] in {"bulk", "molecule", "slab", "adslab"}
        s = read_structure(out / e["path"])
        assert len(s) == e["n_atoms"]
        if e["kind"] == "bulk":
            assert check_bulk(e["phase"], s).ok
    slab_entry = by_name["slab/LiI_100"]
    assert check_slab(read_structure(out / slab_entry["path"]), vacuum=15.0).ok
    sulfur = by_name["bulk/S"]
    assert sulfur["n_atoms"] == 128 and sulfur["spacegroup"] == "Fddd"
    assert not list(out.glob(".lis-dft-build-*"))  # no temporary leftovers


def test_build_with_user_structure(tmp_path):
    path = tmp_path / "li2s.cif"
    s = lithium_sulfide(a=5.6, conventional=True)
    s.to(filename=str(path))
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "build",
            "--out",
            str(out),
            "--supercell",
            "1",
            "1",
            "1",
            "--fixed-layers",
            "1",
            "-s",
            f"Li2S={path}",
        ],
    )
    assert result.exit_code == 0, result.output
    written = read_structure(out / "bulk" / "Li2S.cif")
    assert written.lattice.a == pytest.approx(5.6)
    assert spacegroup_number(written) == 225


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "Li2S=missing.cif"], "not found"),
        (["-s", "Unobtainium=x.cif"], "unknown phase"),
        (["-s", "Li2S"], "PHASE=FILE"),
        (["--fixed-layers", "9"], "fixed_layers"),
    ],
)
def test_build_bad_input_exits_nonzero(tmp_path, args, message):
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", "--out", str(out), "--supercell", "1", "1", "1", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert not (out / "manifest.json").exists()


def test_build_wrong_composition_file(tmp_path):
    path = tmp_path / "li2s.cif"
    lithium_sulfide(conventional=True).to(filename=str(path))
    result = runner.invoke(app, ["build", "--out", str(tmp_path / "o"), "-s", f"LiI={path}"])
    assert result.exit_code == 2
    assert "expected LiI" in result.output


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["build", "--out", str(Path(blocker) / "sub")])
    assert result.exit_code == 2
    assert "Cannot write" in result.output
