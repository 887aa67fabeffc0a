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


def test_rigid_ring_scan_of_alpha_s_keeps_every_ring_and_moves_them_apart(tmp_path):
    from lis_dft.dft_workflows.reference_ev import EV_DIR, add_ev_scan, scan_frames
    from lis_dft.structures.bulk import alpha_sulfur, molecules_of

    base = alpha_sulfur(conventional=False)
    frames = {f.config_id: f for f in scan_frames("S", (0.94, 1.0, 1.14))}
    assert list(frames) == ["ev/S/v0.940", "ev/S/v1.000", "ev/S/v1.140"]
    assert {f.family for f in frames.values()} == {"bulk/S"}

    def shapes(s):
        out = []
        for mol in molecules_of(s):
            xyz = np.array(list(mol.values()))
            out.append(np.linalg.norm(xyz[:, None] - xyz[None], axis=-1))
        return out

    def closest_between_rings(s):
        from ase.neighborlist import neighbor_list
        from pymatgen.io.ase import AseAtomsAdaptor

        ring = {i: k for k, mol in enumerate(molecules_of(s)) for i in mol}
        i, j, d = neighbor_list("ijd", AseAtomsAdaptor.get_atoms(s), 4.0)
        return min(x for a, b, x in zip(i, j, d, strict=True) if ring[a] != ring[b])

    for cid, f in frames.items():
        factor = float(cid.rsplit("/v", 1)[1])
        assert f.structure.volume == pytest.approx(base.volume * factor)
        assert [len(m) for m in molecules_of(f.structure)] == [8, 8, 8, 8]
        for a, b in zip(shapes(base), shapes(f.structure), strict=True):
            assert np.abs(a - b).max() < 1e-8  # every ring rigid, bonds 2.04-2.05 Å
    gaps = [closest_between_rings(f.structure) for f in frames.values()]
    assert gaps[0] < gaps[1] < gaps[2]  # only the rings move apart
    # into its own set (plane waves), idempotent; bad input writes nothing
    path, added = add_ev_scan(tmp_path, "S", (0.97, 1.0))
    assert path == tmp_path / EV_DIR / "configurations.extxyz" and len(added) == 2
    assert add_ev_scan(tmp_path, "S", (0.97, 1.0, 1.03))[1] == ["ev/S/v1.030"]
    for phase, scales, match in (
        ("Li2S", (1.0,), "not a molecular crystal"),
        ("S", (0.97,), "Include --scale 1.0"),
        ("Xx", (1.0,), "Unknown --phase"),
        ("S", (0.0, 1.0), "positive"),
    ):
        with pytest.raises(ParameterError, match=match):
            add_ev_scan(tmp_path / "bad", phase, scales)
    assert not (tmp_path / "bad").exists()


def test_ev_scan_command_adds_the_scan_and_refuses_bad_input(tmp_path):
    from typer.testing import CliRunner

    from lis_dft.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["reference-set", "ev-scan", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "7 configurations added" in r.output and "--mode pw" in r.output
    assert len(read(tmp_path / "ev_scans" / "configurations.extxyz", ":")) == 7
    r = runner.invoke(app, ["reference-set", "ev-scan", "--phase", "LiI", "--out", str(tmp_path)])
    assert (
        r.exit_code == 2 and "not a molecular crystal" in r.output and "--homogeneous" in r.output
    )
    args = ["reference-set", "ev-scan", "--phase", "LiI", "--homogeneous", "--out", str(tmp_path)]
    r = runner.invoke(app, [*args, "--scale", "0.97", "--scale", "1.0"])
    assert r.exit_code == 0, r.output
    lii = [
        a
        for a in read(tmp_path / "ev_scans" / "configurations.extxyz", ":")
        if "LiI" in a.info["config_id"]
    ]
    assert [a.info["config_id"] for a in lii] == ["ev/LiI/v0.970", "ev/LiI/v1.000"]
    assert lii[0].get_volume() == pytest.approx(0.97 * lii[1].get_volume())
    # uniform strain: every atom keeps its fractional coordinates
    assert np.allclose(lii[0].get_scaled_positions(), lii[1].get_scaled_positions())
    assert "uniform strain" in lii[0].info["source"]


def _set_with_relaxed_slab(tmp_path):
    """A set whose only configuration is the committed set's relaxed reduced slab."""
    slab = next(
        f for f in read(DEFAULT_DIR / CONFIGURATIONS, ":") if f.info["config_id"] == "slab/relaxed"
    )
    from ase.io import write

    write(tmp_path / CONFIGURATIONS, slab, format="extxyz")
    return slab


def test_pairs_relax_more_placements_on_the_sets_own_slab(tmp_path):
    from typer.testing import CliRunner

    from lis_dft.cli import app

    slab = _set_with_relaxed_slab(tmp_path)
    runner = CliRunner()
    args = ["reference-set", "pairs", "--out", str(tmp_path), "--generator", "mock"]
    r = runner.invoke(app, [*args, "--adsorbate", "Li2S", "--placement", "top_Li-flat-r45"])
    assert r.exit_code == 0, r.output
    frames = {f.info["config_id"]: f for f in read(tmp_path / CONFIGURATIONS, ":")}
    frozen = frames["adslab/Li2S/top_Li-flat-r45/frozen"]
    free = frames["adslab/Li2S/top_Li-flat-r45/free"]
    n = len(slab)
    for f in (frozen, free):
        assert f.info["family"] == "Li2S@LiI_100/top_Li"  # a training family, not held out
        assert f.info["kind"] == "adslab" and f.info["n_slab"] == n
        assert f.info["adsorbate"] == "Li2S" and "mock" in f.info["source"]
        assert sorted(f.get_chemical_symbols()[n:]) == ["Li", "Li", "S"]
    # frozen: the set's slab exactly; free: only the top two layers may have moved
    assert np.allclose(frozen.positions[:n], slab.positions)
    moved = np.linalg.norm(free.positions[:n] - slab.positions, axis=1) > 1e-6
    assert moved.any()
    z = slab.positions[:, 2]
    assert z[moved].min() > np.median(z)  # never the bottom layers
    # a second call adds nothing; the frames are not relaxed again
    r = runner.invoke(app, [*args, "--adsorbate", "Li2S", "--placement", "top_Li-flat-r45"])
    assert r.exit_code == 0 and "0 configurations added" in r.output
    assert len(read(tmp_path / CONFIGURATIONS, ":")) == 3


@pytest.mark.parametrize(
    ("adsorbate", "placement", "match"),
    [
        ("Li2S", "top_Li-flat-r90", "AdsorbateSiteFinder makes top_Li-flat-r0"),
        ("LiI", "top_Li-flat-r0", "not in the reference set"),
    ],
)
def test_pairs_refuse_what_they_cannot_make(tmp_path, adsorbate, placement, match):
    from typer.testing import CliRunner

    from lis_dft.cli import app

    runner = CliRunner()
    args = ["reference-set", "pairs", "--out", str(tmp_path), "--generator", "mock"]
    args += ["--adsorbate", adsorbate, "--placement", placement]
    r = runner.invoke(app, args)  # no set at all
    said = " ".join(r.output.split())
    assert r.exit_code == 2 and ("build' first" in said or match in said), said
    _set_with_relaxed_slab(tmp_path)
    before = (tmp_path / CONFIGURATIONS).read_bytes()
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and match in " ".join(r.output.split()), r.output
    assert (tmp_path / CONFIGURATIONS).read_bytes() == before
