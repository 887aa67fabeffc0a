"""Counterpoise corrections of the reference set: bookkeeping, reuse, resume, scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from lis_dft.dft_workflows import reference_counterpoise as cp
from lis_dft.dft_workflows.potential_comparison import counterpoise_pairs
from lis_dft.errors import ParameterError

GHOST_COST = 0.01  # eV per ghost atom: the fake basis-set superposition


class FakeLcao(Calculator):
    """-1 eV per real atom; every ghost atom lowers the energy by GHOST_COST (a fake BSSE)."""

    implemented_properties = ("energy", "forces")
    calls: list[int] = []

    def __init__(self, ghosts=None):
        super().__init__()
        self.ghosts = list(ghosts or [])

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        n = len(self.atoms)
        FakeLcao.calls.append(n)
        energy = -1.0 * (n - len(self.ghosts)) - GHOST_COST * len(self.ghosts)
        self.results = {"energy": energy, "forces": np.zeros((n, 3))}


def _frame(cid, kind, atoms, n_slab, **info):
    a = atoms.copy()
    a.info.update(
        {
            "config_id": cid,
            "family": cid,
            "kind": kind,
            "n_slab": n_slab,
            "gpaw_settings": json.dumps({"mode": "lcao", "basis": "dzp"}),
            "settings_hash": "h",
            "energy_pbe": -1.0 * len(a),
            "energy_d3": 0.0,
            **info,
        }
    )
    a.calc = SinglePointCalculator(a, energy=-1.0 * len(a), forces=np.zeros((len(a), 3)))
    return a


@pytest.fixture
def refset(tmp_path, monkeypatch):
    from lis_dft.dft_workflows import calculators

    FakeLcao.calls = []
    monkeypatch.setattr(
        calculators, "build_calculator", lambda *a, ghosts=None, **k: FakeLcao(ghosts)
    )
    cell = [8.0, 8.0, 20.0]
    slab = Atoms("Li2I2", [[0, 0, 5], [3, 3, 5], [3, 0, 5], [0, 3, 5]], cell=cell, pbc=True)
    mol = Atoms("Li2S", [[1, 1, 8], [2.5, 1, 8], [1.7, 1, 9]])
    frozen = slab + mol
    free = frozen.copy()
    free.positions[0, 2] += 0.3  # the slab relaxed under the adsorbate
    frames = [
        _frame("slab/relaxed", "slab", slab, 4),
        _frame("adslab/Li2S/a/placement", "adslab", frozen, 4, adsorbate="Li2S"),
        _frame("adslab/Li2S/a/frozen", "adslab", frozen, 4, adsorbate="Li2S", intact=True),
        _frame("adslab/Li2S/a/free", "adslab", free, 4, adsorbate="Li2S", intact=True),
    ]
    write(tmp_path / "reference.extxyz", frames, format="extxyz")
    return tmp_path


def test_bsse_of_every_relaxed_frame(refset):
    out = cp.compute(refset, log=lambda *_: None)
    assert out == {"done": 2, "total": 2, "finished": 2, "remaining": 0}
    points = cp.load(refset)["points"]
    assert set(points) == {"adslab/Li2S/a/frozen", "adslab/Li2S/a/free"}  # no raw placement
    for p in points.values():  # every ghost atom on each side: 4 + 3 of them
        assert p["bsse"] == pytest.approx(GHOST_COST * 7)
    # the frozen slab is exactly slab/relaxed: its energy is reused, not recomputed
    assert points["adslab/Li2S/a/frozen"]["slab_own_from"] == "slab/relaxed"
    assert points["adslab/Li2S/a/free"]["slab_own_from"] == "computed"
    assert len(FakeLcao.calls) == 3 + 4


def test_resumes_from_finished_fragments(refset):
    assert cp.compute(refset, max_minutes=0, log=lambda *_: None)["done"] == 0
    cp.compute(refset, log=lambda *_: None)
    n_calls = len(FakeLcao.calls)
    (refset / cp.COUNTERPOISE).unlink()  # lost: rebuilt from the cached fragments
    assert cp.compute(refset, log=lambda *_: None)["done"] == 2
    assert len(FakeLcao.calls) == n_calls
    assert cp.corrections(refset)["adslab/Li2S/a/free"] == pytest.approx(0.07)


def test_refuses_plane_wave_and_missing_sets(tmp_path, refset):
    with pytest.raises(ParameterError, match="reference-set compute"):
        cp.compute(tmp_path / "nowhere")
    frames = __import__("ase.io").io.read(refset / "reference.extxyz", ":")
    for f in frames:
        f.info["gpaw_settings"] = json.dumps({"mode": "pw", "ecut": 500})
    write(refset / "reference.extxyz", frames, format="extxyz")
    with pytest.raises(ParameterError, match="LCAO"):
        cp.compute(refset)


def test_scoring_uses_corrected_frames_only():
    from lis_dft.analysis.potential_benchmark import FramePair

    z = np.zeros((1, 3))
    pairs = [
        FramePair("slab/relaxed", "slab", "slab", "Li", 1, -1.0, -1.0, z, z),
        FramePair("adslab/X/a/frozen", "X", "adslab", "Li", 1, -5.0, -5.0, z, z, "X"),
        FramePair("adslab/X/b/frozen", "X", "adslab", "Li", 1, -6.0, -6.0, z, z, "X"),
    ]
    out = counterpoise_pairs(pairs, {"adslab/X/a/frozen": 0.7})
    assert [p.config_id for p in out] == ["slab/relaxed", "adslab/X/a/frozen"]
    assert out[1].e_dft == pytest.approx(-4.3) and out[1].e_pot == -5.0
    assert pairs[1].e_dft == -5.0  # the input is not modified
