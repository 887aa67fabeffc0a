"""Scoring potentials against the DFT reference set (pure metrics and the compare command)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lis_dft.analysis.potential_benchmark import FramePair, score
from lis_dft.errors import CalculatorError, ParameterError


def _pair(cid, kind, formula, n, e, family=None, ads=None, intact=True, surf=True, shift=0.0):
    f = np.zeros((n, 3))
    return FramePair(
        cid, family or cid, kind, formula, n, e, e + shift * n, f, f + 0.01, ads, intact, surf
    )


def _set(shift=0.0, bump=None):
    """A small consistent set; ``shift`` eV/atom on the potential; ``bump`` {id: dE}."""
    bump = bump or {}
    # formulas are of the whole cell, as ase's get_chemical_formula(mode="metal") gives
    rows = [
        ("bulk/Li/a0.98", "bulk", "Li2", 2, -3.78, "bulk/Li"),
        ("bulk/Li/a1.00", "bulk", "Li2", 2, -3.80, "bulk/Li"),
        ("bulk/Li/a1.02", "bulk", "Li2", 2, -3.79, "bulk/Li"),
        ("bulk/S/a1.00", "bulk", "S32", 32, -32 * 4.1, "bulk/S"),
        ("bulk/Li2S/a1.00", "bulk", "Li8S4", 12, 8 * -1.9 + 4 * -4.1 - 12 * 1.4, "bulk/Li2S"),
        ("bulk/Li2S2/a1.00", "bulk", "Li4S4", 8, 4 * -1.9 + 4 * -4.1 - 8 * 1.0, "bulk/Li2S2"),
        ("molecule/Li2S", "molecule", "Li2S1", 3, -10.0, "molecule/Li2S"),
        ("slab/relaxed", "slab", "Li32I32", 64, -200.0, "slab"),
    ]
    pairs = [_pair(*r[:5], family=r[5], shift=shift) for r in rows]
    for cid, e, surf in (
        ("adslab/Li2S/top_Li/frozen", -211.5, True),
        ("adslab/Li2S/top_Li/free", -212.0, True),
        ("adslab/Li2S/hollow/free", -211.8, False),
        ("adslab/Li2S/hollow/placement", -209.0, True),
    ):
        p = _pair(cid, "adslab", "Li2S", 67, e, "Li2S@", "Li2S", True, surf, shift)
        p.e_pot += bump.get(cid, 0.0)
        pairs.append(p)
    return pairs


def test_per_atom_offset_cancels_everywhere():
    s = score("offset", _set(shift=0.37))
    assert s.ads_mae_eV == pytest.approx(0, abs=1e-9)
    assert all(abs(r.relative_mae_eV) < 1e-9 for r in s.rankings.values())
    assert s.formation_mae_eV_per_atom == pytest.approx(0, abs=1e-9)
    assert s.force_mae["all"] == pytest.approx(0.01)
    # DFT side of the toy set: E_f(Li2S) -1.4, Li2S2 -1.0, so +0.05 above the tie line
    assert s.tie_line["dft"] == pytest.approx(-1.0 - 0.75 * -1.4)
    assert s.rankings["Li2S"].same_lowest


def test_errors_land_where_they_are_put():
    s = score("bumped", _set(bump={"adslab/Li2S/hollow/free": -0.5}))
    errs = {p.config_id: p.error_eV for p in s.adsorption}
    assert errs["adslab/Li2S/hollow/free"] == pytest.approx(-0.5)
    # the torn-surface frame is not "sound": the sound MAE ignores it, the total does not
    assert s.ads_mae_sound_eV == pytest.approx(0, abs=1e-9)
    assert s.ads_mae_eV == pytest.approx(0.5 / 4)
    assert s.rankings["Li2S"].lowest_potential == "adslab/Li2S/hollow/free"
    assert not s.rankings["Li2S"].same_lowest
    assert s.rankings["Li2S"].lowest_potential_sound is False


def test_artifact_bound_is_counted():
    # DFT E_A of the torn frame made positive; the potential keeps binding it
    pairs = _set()
    torn = next(p for p in pairs if p.config_id == "adslab/Li2S/hollow/free")
    torn.e_dft += 3.0
    s = score("artifact", pairs)
    assert s.artifacts_stabilised == 1


def test_lattice_minimum_from_the_three_cells():
    s = score("lat", _set())
    # E = -3.78, -3.80, -3.79 at 0.98, 1.00, 1.02: parabola c2 = 0.015, c1 = -0.005 per
    # 0.02 step, minimum at 1/6 of a step
    assert s.lattice["Li"]["dft_scale"] == pytest.approx(1 + 0.02 / 6)
    assert s.lattice["Li"]["error_pct"] == pytest.approx(0, abs=1e-9)


def test_frames_imported_from_a_verified_run_score_against_their_own_slab():
    p = "verified/run"
    extra = [
        _pair(f"{p}/bulk/Li", "bulk", "Li2", 2, -3.8, family="bulk/Li"),  # no /a: no E(V)
        _pair(f"{p}/slab", "slab", "Li32I32", 64, -190.0, family="slab/LiI_100"),
        _pair(f"{p}/molecule/Li2S", "molecule", "Li2S1", 3, -10.5, family="molecule/Li2S"),
    ]
    ads = _pair(f"{p}/adslab/Li2S/top_Li-flat-r0", "adslab", "Li34I32S1", 67, -202.0, ads="Li2S")
    ads.slab_ref, ads.molecule_ref = f"{p}/slab", f"{p}/molecule/Li2S"
    s = score("imp", [*_set(), *extra, ads])
    pts = {a.config_id: a for a in s.adsorption}
    assert pts[ads.config_id].dft_eV == pytest.approx(-202.0 + 190.0 + 10.5)
    assert pts[ads.config_id].variant == "minimum"
    assert s.lattice == score("set", _set()).lattice  # the imported bulk frame is no E(V) point
    assert "Li2S" in s.rankings and f"Li2S@{p}/slab" not in s.rankings  # one frame ranks nothing


def test_candidates_and_bad_names():
    from lis_dft.dft_workflows.potential_comparison import offline_candidates, parse_candidate

    keys = {c.key for c in offline_candidates()}
    assert keys == {
        "chgnet/0.3.0",
        "chgnet/r2scan",
        "sevennet/7net-0",
        "sevennet/7net-l3i5",
        "sevennet/7net-mf-0",
        "sevennet/lis-dft-mf-0-ft",  # shipped in lis_dft/models: offline too
        "sevennet/lis-dft-mf-0-ft2",
        "sevennet/lis-dft-mf-0-ft4",
        "sevennet/lis-dft-mf-0-ft5",
        "sevennet/lis-dft-mf-0-ft6",
        "sevennet/lis-dft-mf-0-ft7",
        "sevennet/lis-dft-mf-0-ft8",
        "sevennet/lis-dft-mf-0-ft9",
    }
    assert parse_candidate("sevennet/7net-l3i5").model == "7net-l3i5"
    with pytest.raises(ParameterError, match="backend/model"):
        parse_candidate("chgnet")
    with pytest.raises(CalculatorError, match="no model 'mace'"):
        parse_candidate("chgnet/mace")
    with pytest.raises(CalculatorError, match="Unknown calculator"):
        parse_candidate("vasp/pbe")
    # fine-tunes all write model.pth: each row keeps its folder, and twins are refused
    from lis_dft.dft_workflows.potential_comparison import Candidate, compare

    a, b = Candidate("mock", "/x/ft4A/model.pth"), Candidate("mock", "/y/ft4C/model.pth")
    assert (a.key, b.key) == ("mock/ft4A/model.pth", "mock/ft4C/model.pth")
    with pytest.raises(ParameterError, match=r"share the row 'mock/ft4A/model\.pth'"):
        compare(Path("unused"), Path("unused"), [a, Candidate("mock", "/z/ft4A/model.pth")])


def test_compare_on_the_committed_reference_set(tmp_path):
    """The whole command on the repository's reference set, with the mock potential."""
    from lis_dft.dft_workflows.potential_comparison import Candidate, compare
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR

    result = compare(DEFAULT_DIR, tmp_path, [Candidate("mock", "morse")])
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert saved["ranking"] == result["ranking"] and len(saved["ranking"]) == 2
    ref = saved["reference"]
    assert ref["n_frames"] >= 40
    # DFT (PBE+D3, LCAO) puts Li2S2 above the S-Li2S tie line, as the phase diagram does
    assert ref["dft_li2s2_above_tie_line_eV_per_atom"] > 0
    assert -1.6 < ref["dft_formation_eV_per_atom"]["Li2S"] < -1.3
    mock = saved["potentials"]["mock/morse"]
    assert mock["calculator"]["name"] == "mock" and mock["summary"]["n_frames"] == ref["n_frames"]
    assert mock["adsorption"], "adsorption energies were scored"
    md = (tmp_path / "COMPARISON.md").read_text()
    assert "| mock/morse |" in md and "sound" in md


def test_compare_scores_held_out_families_only_when_asked(tmp_path):
    """--hold-out: the families' adsorbate frames beside every non-adsorbate frame."""
    from ase.io import read

    from lis_dft.dft_workflows.potential_comparison import Candidate, compare
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR, REFERENCE

    family = "Li2S@LiI_100/bridge_I-Li"
    frames = read(DEFAULT_DIR / REFERENCE, ":")
    ads = [f for f in frames if f.info["kind"] == "adslab" and f.info["family"] == family]
    others = [f for f in frames if f.info["kind"] != "adslab"]
    result = compare(DEFAULT_DIR, tmp_path, [Candidate("mock", "morse")], hold_out=(family,))
    ref = result["reference"]
    assert ref["held_out_families"] == [family]
    assert ref["n_frames"] == len(ads) + len(others) < len(frames)
    scored = {p["config_id"] for p in result["potentials"]["mock/morse"]["adsorption"]}
    assert scored and scored <= {f.info["config_id"] for f in ads}
    # the counterpoise count is of the frames scored, not of the whole set
    assert set(result["counterpoise"]["bsse_eV"]) <= {f.info["config_id"] for f in ads}
    assert family in (tmp_path / "COMPARISON.md").read_text()
    with pytest.raises(ParameterError, match="Unknown --hold-out family"):
        compare(DEFAULT_DIR, tmp_path / "x", [Candidate("mock", "morse")], hold_out=("nope",))
    assert not (tmp_path / "x").exists()


def test_compare_refuses_an_empty_reference(tmp_path):
    from lis_dft.dft_workflows.potential_comparison import compare

    with pytest.raises(ParameterError, match="reference-set compute"):
        compare(tmp_path, tmp_path / "out")


@pytest.mark.mlip
def test_chgnet_model_choice_reaches_the_calculator():
    pytest.importorskip("chgnet")
    from ase.build import bulk

    from lis_dft.dft_workflows.calculators import CalculatorSpec, build_calculator

    atoms = bulk("Li", "bcc", a=3.44)
    energies = {}
    for model in ("0.3.0", "r2scan"):
        atoms.calc = build_calculator("chgnet", d3="none", model=model)
        energies[model] = atoms.get_potential_energy()
    assert energies["0.3.0"] != pytest.approx(energies["r2scan"], abs=1e-3)
    assert "r2SCAN" in CalculatorSpec("chgnet", "none", {"model": "r2scan"}).describe()["model"]


def test_rank_puts_the_right_minimum_first():
    from lis_dft.dft_workflows.potential_comparison import rank

    right = score("right-minimum", _set(bump={"adslab/Li2S/top_Li/frozen": 0.3}))
    wrong = score("wrong-minimum", _set(bump={"adslab/Li2S/hollow/free": -0.5}))
    # 'wrong' has the smaller sound-frame error (0) but the wrong lowest configuration
    assert wrong.ads_mae_sound_eV < right.ads_mae_sound_eV
    assert rank({"w": wrong, "r": right}) == ["r", "w"]


def test_surface_excess_sees_a_slab_that_drifts_from_bulk():
    pairs = [
        _pair("bulk/LiI/a1.00", "bulk", "Li1I1", 2, -6.0, family="bulk/LiI"),
        _pair("slab/relaxed", "slab", "Li32I32", 64, -32 * 6.0 + 1.5, family="slab"),
    ]
    s = score("same", pairs)
    assert s.surface["slab/relaxed"]["dft_eV"] == pytest.approx(1.5)
    assert s.summary()["surface_excess_error_eV"] == pytest.approx(0, abs=1e-9)
    pairs[1].e_pot -= 0.8  # the slab alone moves: E_A cannot see it, this does
    assert score("drift", pairs).summary()["surface_excess_error_eV"] == pytest.approx(-0.8)
