from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from conftest import needs_gpaw
from pymatgen.core import Lattice, Structure

from lis_dft.dft_workflows.reference_set import (
    CONFIGURATIONS,
    DEFAULT_DIR,
    REFERENCE,
    Frame,
    _append_atomic,
    _spread,
    compute,
    read_frames,
    write_configurations,
)
from lis_dft.errors import ParameterError


def _frame(cid, species, coords, a=7.0, **kw):
    s = Structure(Lattice.cubic(a), species, coords, coords_are_cartesian=True)
    return Frame(cid, kw.pop("family", cid), kw.pop("kind", "molecule"), s, "test", **kw)


def test_frames_round_trip_through_extxyz(tmp_path):
    frames = [
        _frame("molecule/Li2", ["Li", "Li"], [[0, 0, 0], [0, 0, 2.7]]),
        _frame(
            "adslab/X/a/free",
            ["Li", "I", "S"],
            [[0, 0, 0], [3, 0, 0], [0, 0, 2.5]],
            kind="adslab",
            family="X@LiI_100/top",
            adsorbate="S",
            n_slab=2,
            intact=True,
            surface_intact=False,
        ),
    ]
    path = write_configurations(frames, tmp_path)
    back = read(path, ":")
    assert [a.info["config_id"] for a in back] == ["molecule/Li2", "adslab/X/a/free"]
    assert "intact" not in back[0].info and "adsorbate" not in back[0].info
    assert back[1].info["surface_intact"] is False and back[1].info["n_slab"] == 2
    with pytest.raises(ParameterError, match="unique"):
        write_configurations(frames + frames[:1], tmp_path)


def test_spread_takes_every_site_then_a_new_tilt():
    class P:
        def __init__(self, site, orientation):
            self.site, self.orientation = site, orientation

    ps = [P(s, o) for s in ("top", "bridge") for o in ("flat-r0", "flat-r45", "upright-r0")]
    got = _spread(ps, 3)
    assert [(p.site, p.orientation) for p in got] == [
        ("top", "flat-r0"),
        ("bridge", "flat-r0"),
        ("top", "upright-r0"),
    ]


def test_compute_refuses_a_folder_without_configurations(tmp_path):
    with pytest.raises(ParameterError, match="reference-set build"):
        compute(tmp_path)


@needs_gpaw
def test_compute_is_real_gpaw_and_resumable(tmp_path):
    frames = [_frame("molecule/Li2", ["Li", "Li"], [[3, 3, 2], [3, 3, 4.7]], a=6.0)]
    write_configurations(frames, tmp_path)
    first = compute(tmp_path, log=lambda *_: None)
    assert first == {"done": 1, "total": 1, "finished": 1, "remaining": 0}
    (frame,) = read_frames(tmp_path / REFERENCE)
    assert frame.get_potential_energy() == pytest.approx(
        frame.info["energy_pbe"] + frame.info["energy_d3"]
    )
    assert frame.info["energy_d3"] < 0 and np.isfinite(frame.get_forces()).all()
    assert "GPAW" in frame.info["hamiltonian"] and frame.info["seconds"] >= 0
    assert compute(tmp_path, log=lambda *_: None)["done"] == 0  # nothing twice
    # a frame imported from a run is no configuration: it does not count as one done
    imported = frame.copy()
    imported.calc = frame.calc
    imported.info["config_id"] = "verified/run/molecule/Li2"
    _append_atomic(tmp_path / REFERENCE, imported)
    again = compute(tmp_path, log=lambda *_: None)
    assert again == {"done": 0, "total": 1, "finished": 1, "remaining": 0}


def test_committed_reference_set_is_readable_and_consistent():
    """The reference set in the repository: every frame ASE-readable, labelled and known."""
    configs = read(DEFAULT_DIR / CONFIGURATIONS, ":")
    ids = [a.info["config_id"] for a in configs]
    assert len(ids) == len(set(ids)) >= 60
    kinds = {a.info["kind"] for a in configs}
    assert kinds == {"bulk", "molecule", "slab", "adslab"}
    assert {a.info.get("adsorbate") for a in configs if a.info["kind"] == "adslab"} == {
        "Li2S",
        "Li2S2",
        "S8",
    }
    ref_path = Path(DEFAULT_DIR / REFERENCE)
    frames = read(ref_path, ":") if ref_path.exists() else []
    for f in frames:  # built configurations, or imported from a verified run / relaxation
        assert f.info["config_id"] in ids or f.info["config_id"].startswith(
            ("verified/", "relaxation/")
        )
        assert np.isfinite(f.get_potential_energy())
        assert f.get_forces().shape == (len(f), 3)
        assert f.info["settings_hash"] and f.info["gpaw_settings"]
