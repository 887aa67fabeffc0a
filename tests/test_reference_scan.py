"""Height scans: DFT's minimum of an adsorbate moved along the surface normal."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from ase.io import read
from conftest import RELAXATION
from typer.testing import CliRunner

from lis_dft.analysis.potential_benchmark import FramePair, score
from lis_dft.cli import app
from lis_dft.dft_workflows.reference_scan import add_height_scan
from lis_dft.dft_workflows.reference_set import CONFIGURATIONS, DEFAULT_DIR, read_frames
from lis_dft.errors import ParameterError

PREFIX = "scan/t/S8/S8_top_I-flat-r0_potential"  # tag t: the committed set has its own


@pytest.fixture
def conf_set(tmp_path):
    out = tmp_path / "set"
    out.mkdir()
    shutil.copy(DEFAULT_DIR / CONFIGURATIONS, out)
    return out


def test_height_scan_moves_only_the_adsorbate(conf_set):
    added = add_height_scan(
        RELAXATION, "S8", "top_I", [0.4, -0.3], conf_set, tag="t", log=lambda m: None
    )
    assert added == [f"{PREFIX}/slab", f"{PREFIX}/dz-0.30", f"{PREFIX}/dz+0.40"]
    frames = {a.info["config_id"]: a for a in read_frames(conf_set / CONFIGURATIONS)}
    last = read(RELAXATION, index=-1)
    slab = frames[f"{PREFIX}/slab"]
    assert slab.info["kind"] == "slab" and len(slab) == 64
    assert np.allclose(slab.positions, last.positions[:64])
    for dz in (-0.3, 0.4):
        f = frames[f"{PREFIX}/dz{dz:+.2f}"]
        assert f.info["kind"] == "adslab" and f.info["family"] == "S8@LiI_100/top_I"
        assert f.info["slab_ref"] == f"{PREFIX}/slab" and f.info["variant"] == "scan"
        assert np.allclose(f.positions[:64], last.positions[:64])
        shift = f.positions[64:] - last.positions[64:]
        assert np.allclose(shift, [0.0, 0.0, dz])
    again = add_height_scan(RELAXATION, "S8", "top_I", [0.4], conf_set, tag="t", log=lambda m: None)
    assert again == []  # idempotent


def test_lift_scan_moves_only_the_slab_atoms_under_the_adsorbate(conf_set):
    added = add_height_scan(
        RELAXATION, "S8", "top_I", [0.4], conf_set, tag="t", log=lambda m: None, lift=4
    )
    assert added == [f"{PREFIX}/slab", f"{PREFIX}/lift4+0.40"]
    f = {a.info["config_id"]: a for a in read_frames(conf_set / CONFIGURATIONS)}[
        f"{PREFIX}/lift4+0.40"
    ]
    last = read(RELAXATION, index=-1)
    shift = f.positions - last.positions
    moved = np.flatnonzero(np.abs(shift).max(axis=1) > 1e-9)
    assert len(moved) == 4 and (moved < 64).all()  # slab atoms only, the adsorbate stays
    assert np.allclose(shift[moved], [0.0, 0.0, 0.4])
    assert set(f.get_chemical_symbols()[i] for i in moved) == {"Li"}  # the Li under the ring
    # they were the slab atoms closest to the ring, and now they are closer by up to 0.4 Å
    from ase.geometry import get_distances

    def closest(a):
        return get_distances(a.positions[64:], a.positions[:64], cell=a.cell, pbc=a.pbc)[1].min()

    assert 0.1 < closest(last) - closest(f) <= 0.4 + 1e-9
    assert f.info["slab_ref"] == f"{PREFIX}/slab"  # E_A includes the deformation
    before = (conf_set / CONFIGURATIONS).read_bytes()
    with pytest.raises(ParameterError, match="lift"):
        add_height_scan(RELAXATION, "S8", "top_I", [0.4], conf_set, log=lambda m: None, lift=-1)
    with pytest.raises(ParameterError, match=r"\(lift 4\).*from a slab atom"):
        add_height_scan(RELAXATION, "S8", "top_I", [2.5], conf_set, log=lambda m: None, lift=4)
    assert (conf_set / CONFIGURATIONS).read_bytes() == before


def test_height_scan_refuses_a_shift_into_the_surface(conf_set):
    before = (conf_set / CONFIGURATIONS).read_bytes()
    with pytest.raises(ParameterError, match="from a slab atom"):
        add_height_scan(RELAXATION, "S8", "top_I", [0.5, -2.5], conf_set, log=lambda m: None)
    assert (conf_set / CONFIGURATIONS).read_bytes() == before  # nothing written


def test_scan_cli_needs_a_shift_and_a_built_set(tmp_path, conf_set):
    runner = CliRunner()
    base = ["reference-set", "scan", str(RELAXATION), "--adsorbate", "S8", "--site", "top_I"]
    r = runner.invoke(app, [*base, "--out", str(tmp_path), "--dz", "0.4"])
    assert r.exit_code != 0 and "reference-set build" in " ".join(r.output.split())
    r = runner.invoke(app, [*base, "--out", str(conf_set), "--dz", "0.4", "--dz", "0.4"])
    assert r.exit_code != 0 and "repeat" in r.output


def test_scan_points_stay_out_of_the_relaxed_metrics():
    def pair(cid, e_dft, e_pot, **kw):
        n = 3 if kw.get("kind", "adslab") == "adslab" else 2
        return FramePair(
            cid,
            "S8@LiI_100/top_I",
            kw.pop("kind", "adslab"),
            "X",
            n,
            e_dft,
            e_pot,
            np.zeros((n, 3)),
            np.zeros((n, 3)),
            adsorbate="S8",
            **kw,
        )

    pairs = [
        pair("slab/relaxed", -10.0, -10.0, kind="slab"),
        pair("molecule/S8", -1.0, -1.0, kind="molecule"),
        pair("adslab/S8/top_I-flat-r0/frozen", -11.5, -11.6),
        pair("scan/x/S8/f/dz+1.00", -11.1, -12.1, declared_variant="scan"),
    ]
    s = score("p", pairs)
    assert {p.variant for p in s.adsorption} == {"frozen", "scan"}
    assert s.ads_max_eV == pytest.approx(1.0)  # every frame
    assert s.ads_mae_sound_eV == pytest.approx(0.1)  # the relaxed frame only
