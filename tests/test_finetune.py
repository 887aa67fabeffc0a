"""Fine-tuning on the reference set: labels, split, energy scale, and a real SevenNet epoch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from lis_dft.dft_workflows import finetune as ft
from lis_dft.dft_workflows.reference_set import DEFAULT_DIR, REFERENCE
from lis_dft.errors import ParameterError


def _frame(cid, family, kind, symbols, e_pbe):
    n = len(Atoms(symbols))
    a = Atoms(symbols, positions=np.arange(3 * n).reshape(-1, 3) * 1.5)
    a.info.update({"config_id": cid, "family": family, "kind": kind, "energy_pbe": e_pbe})
    a.arrays["forces_d3"] = np.full((len(a), 3), 0.1)
    a.calc = SinglePointCalculator(a, energy=e_pbe - 1.0, forces=np.full((len(a), 3), 0.3))
    return a


def test_labels_correct_adsorbates_or_train_them_on_forces_only():
    frames = [
        _frame("slab/relaxed", "slab", "slab", "LiI", -5.0),
        _frame("adslab/S8/a/frozen", "S8@x/a", "adslab", "LiIS", -9.0),
        _frame("adslab/S8/b/frozen", "S8@x/b", "adslab", "LiIS", -9.5),
    ]
    labs = ft.labels(frames, {"adslab/S8/a/frozen": 0.8})
    assert [lab.energy for lab in labs] == pytest.approx([-5.0, -8.2, -9.5])
    assert [lab.energy_weight for lab in labs] == [1.0, 1.0, 0.0]  # raw LCAO E_A never taught
    assert labs[1].counterpoise and not labs[2].counterpoise
    assert labs[0].forces == pytest.approx(np.full((2, 3), 0.2))  # PBE part: D3 removed


def test_families_are_held_out_whole_and_unknown_ones_refused():
    frames = [
        _frame("a1", "S8@x/a", "adslab", "S", -1.0),
        _frame("a2", "S8@x/a", "adslab", "S", -1.0),
        _frame("b1", "S8@x/b", "adslab", "S", -1.0),
        _frame("a1/frag", "S8@x/a/fragments", "slab", "S", -1.0),  # a1's counterpoise fragment
    ]
    train, held = ft.split(frames, ("S8@x/a",))
    assert [f.info["config_id"] for f in held] == ["a1", "a2", "a1/frag"]
    assert [f.info["config_id"] for f in train] == ["b1"]
    with pytest.raises(ParameterError, match=r"S8@x/zz.*choose from"):
        ft.split(frames, ("S8@x/zz",))
    with pytest.raises(ParameterError, match="at least one"):
        ft.split(frames, ())


def test_element_offsets_recover_a_per_element_scale():
    true = {"Li": -0.3, "S": 0.7}
    frames = [
        _frame(f"f{i}", "bulk", "bulk", sym, 0.0) for i, sym in enumerate(("Li2S", "LiS2", "Li3S"))
    ]
    labs = ft.labels(frames, {})
    predicted = [-2.0, -3.0, -4.0]
    for lab, p in zip(labs, predicted, strict=True):
        lab.energy = p + sum(true[s] for s in lab.atoms.get_chemical_symbols())
    got = ft.element_offsets(labs, predicted)
    assert got == pytest.approx(true)
    assert ft.shifted(labs[0], got) == pytest.approx(predicted[0])


def test_adsorption_triples_pair_each_labelled_complex_with_its_slab_and_molecule():
    frames = [
        _frame("slab/relaxed", "slab", "slab", "LiI", -5.0),
        _frame("molecule/S8", "molecule/S8", "molecule", "S", -1.0),
        _frame("adslab/S8/a/frozen", "S8@x/a", "adslab", "LiIS", -9.0),
        _frame("adslab/S8/b/frozen", "S8@x/b", "adslab", "LiIS", -9.5),  # no label
        _frame("adslab/Li2S/c/frozen", "Li2S@x/c", "adslab", "LiIS", -9.5),  # no molecule
    ]
    labs = ft.labels(frames, {c: 0.5 for c in ("adslab/S8/a/frozen", "adslab/Li2S/c/frozen")})
    assert ft.adsorption_triples(labs, range(len(labs))) == [(2, 0, 1)]
    assert ft.adsorption_triples(labs, [3, 4]) == []


def _imported_references(p: str, x: str) -> list:
    """A verified run's own references as ``reference-set import`` writes them: Li, S, X2, LiX."""
    return [
        _frame(f"{p}/bulk/Li", "bulk/Li", "bulk", "Li", -1.9),
        _frame(f"{p}/bulk/S", "bulk/S", "bulk", "S", -4.0),
        _frame(f"{p}/molecule/{x}2", f"molecule/{x}2", "molecule", f"{x}2", -3.0),
        _frame(f"{p}/bulk/Li{x}", f"bulk/Li{x}", "bulk", f"Li{x}", -7.0),
    ]


def test_frames_imported_from_a_run_pair_with_that_runs_slab_and_molecule():
    p = "verified/run"
    frames = [
        _frame("slab/relaxed", "slab", "slab", "LiI", -5.0),
        _frame("molecule/S8", "molecule/S8", "molecule", "S", -1.0),
        _frame(f"{p}/slab", "slab/LiCl_100", "slab", "LiCl", -4.0),
        _frame(f"{p}/molecule/S8", "molecule/S8", "molecule", "S", -1.1),
        _frame(f"{p}/adslab/S8/hollow-upright-r0", "S8@LiCl_100/hollow", "adslab", "LiClS", -8),
        *_imported_references(p, "Cl"),
    ]
    frames[4].info.update(adsorbate="S8", slab_ref=f"{p}/slab", molecule_ref=f"{p}/molecule/S8")
    labs = ft.labels(frames, {f"{p}/adslab/S8/hollow-upright-r0": 0.4})
    assert ft.adsorption_triples(labs, range(len(labs))) == [(4, 2, 3)]
    terms = {t.name: t for t in ft.difference_terms(labs, range(len(labs)), bulk_weight=3.0)}
    # the run's crystal against its own Li and Cl2 (the built set holds no LiCl)
    f = terms[f"formation {p}/bulk/LiCl"]
    assert f.frames == (8, 7, 5) and f.weight == 3.0  # Cl2, then Li
    assert f.coefficients == pytest.approx((1.5, -0.75, -1.5))
    assert terms[f"E_A {p}/adslab/S8/hollow-upright-r0"].weight == 1.0
    # its slab against its own crystal only when asked: that crystal is at the run's lattice
    assert f"surface {p}/slab" not in terms
    every = ft.difference_terms(labs, range(len(labs)), bulk_weight=3.0, imported_catalyst=True)
    assert {t.name: t for t in every}[f"surface {p}/slab"].frames == (2, 8)


def test_an_imported_catalyst_crystal_the_built_set_holds_is_not_trained_by_default():
    """The feedback loop: a run's LiI crystal sits at its potential's lattice (docs/methods.md)."""
    p = "verified/run"
    frames = [
        _frame("bulk/Li/a1.00", "bulk/Li", "bulk", "Li", -1.9),
        _frame("bulk/S/a1.00", "bulk/S", "bulk", "S4", -16.4),
        _frame("bulk/LiI/a1.00", "bulk/LiI", "bulk", "LiI", -6.0),
        _frame("molecule/I2", "molecule/I2", "molecule", "I2", -3.0),
        _frame("slab/relaxed", "slab", "slab", "Li4I4", -23.0),
        *_imported_references(p, "I"),
        _frame(f"{p}/slab", "slab/LiI_100", "slab", "Li4I4", -23.5),
    ]
    labs = ft.labels(frames, {})
    kept = {t.name for t in ft.difference_terms(labs, range(len(labs)))}
    assert {"formation bulk/LiI/a1.00", "surface slab/relaxed"} <= kept  # the built set's
    assert not {f"formation {p}/bulk/LiI", f"surface {p}/slab"} & kept
    every = {t.name for t in ft.difference_terms(labs, range(len(labs)), imported_catalyst=True)}
    assert every - kept == {f"formation {p}/bulk/LiI", f"surface {p}/slab"}


def test_difference_terms_are_the_studys_energy_differences():
    frames = [
        _frame("bulk/Li/a1.00", "bulk/Li", "bulk", "Li", -1.9),
        _frame("bulk/S/a1.00", "bulk/S", "bulk", "S4", -16.4),
        _frame("bulk/S/a1.02", "bulk/S", "bulk", "S4", -16.3),
        _frame("bulk/Li2S/a1.00", "bulk/Li2S", "bulk", "Li2S", -12.0),
        _frame("bulk/Li2S/a1.02", "bulk/Li2S", "bulk", "Li2S", -11.9),
        _frame("bulk/LiI/a1.00", "bulk/LiI", "bulk", "LiI", -6.0),
        _frame("molecule/I2", "molecule/I2", "molecule", "I2", -3.0),
        _frame("slab/relaxed", "slab", "slab", "Li4I4", -23.0),
        _frame("molecule/Li2S", "molecule/Li2S", "molecule", "Li2S", -10.0),
        _frame("adslab/Li2S/a/frozen", "Li2S@x/a", "adslab", "Li6I4S", -34.0),
    ]
    labs = ft.labels(frames, {"adslab/Li2S/a/frozen": 0.5})
    terms = {t.name: t for t in ft.difference_terms(labs, range(len(labs)))}
    assert set(terms) == {
        "E_A adslab/Li2S/a/frozen",
        "surface slab/relaxed",
        "formation bulk/Li2S/a1.00",
        "formation bulk/LiI/a1.00",
        "E(V) bulk/Li2S/a1.02",  # alpha-S E(V) is not trained (no LCAO minimum)
    }

    def value(name):
        t = terms[name]
        return sum(c * labs[i].energy for c, i in zip(t.coefficients, t.frames, strict=True))

    assert value("E_A adslab/Li2S/a/frozen") == pytest.approx(-34.0 + 0.5 + 23.0 + 10.0)
    assert value("surface slab/relaxed") == pytest.approx(-23.0 + 4 * 6.0)
    # per 3 atoms: (E(Li2S) - 2 E(Li) - E(S4)/4) for a 3-atom cell
    assert value("formation bulk/Li2S/a1.00") == pytest.approx(-12.0 + 3.8 + 4.1)
    assert value("formation bulk/LiI/a1.00") == pytest.approx(1.5 * (-6.0 + 1.9 + 1.5))


def test_deformation_terms_split_each_corrected_adsorption_energy():
    frames = [
        _frame("slab/relaxed", "slab", "slab", "LiI", -5.0),
        _frame("molecule/S8", "molecule/S8", "molecule", "S", -1.0),
        _frame("adslab/S8/a/free", "S8@x/a", "adslab", "LiIS", -9.0),
        _frame("adslab/S8/b/frozen", "S8@x/b", "adslab", "LiIS", -9.5),
        _frame("adslab/S8/c/free", "S8@x/c", "adslab", "LiIS", -9.5),  # no fragments known
    ]
    for f in frames[2:]:
        f.info["n_slab"] = 2
    calc = frames[2].calc
    frames[2].calc = None
    frames[2].positions[0] += 0.3  # a surface atom lifted under the molecule
    frames[2].calc = SinglePointCalculator(frames[2], **calc.results)
    labs = ft.labels(frames, {f.info["config_id"]: 0.5 for f in frames[2:]})
    energies = {
        "adslab/S8/a/free": {"slab_own": -4.6, "molecule_own": -0.8},
        "adslab/S8/b/frozen": {"slab_own": -5.0, "molecule_own": -0.9},
    }
    extra, terms = ft.deformation_terms(labs, range(len(labs)), energies)
    assert [t.name for t in terms] == [
        "slab deformation adslab/S8/a/free",
        "molecule deformation adslab/S8/a/free",
        "molecule deformation adslab/S8/b/frozen",  # its frozen slab is the clean one: no term
    ]
    every = labs + extra
    values = [
        sum(c * every[i].energy for c, i in zip(t.coefficients, t.frames, strict=True))
        for t in terms
    ]
    assert values == pytest.approx([0.4, 0.2, 0.1])
    assert {t.weight for t in terms} == {1.0}
    weighted = ft.deformation_terms(labs, range(len(labs)), energies, weight=3.0)[1]
    assert [t.weight for t in weighted] == [3.0, 3.0, 3.0]  # --deformation-weight
    # the fragments are the complex's own atoms, in its cell, outside the per-frame loss
    assert extra[0].atoms.positions == pytest.approx(frames[2].positions[:2])
    assert extra[1].atoms.get_chemical_symbols() == ["S"]
    assert all(x.energy_weight == 0 for x in extra)
    # a held-out complex adds nothing; neither does an unknown fragment set
    assert ft.deformation_terms(labs, range(2), energies) == ([], [])
    assert ft.deformation_terms(labs, range(len(labs)), {}) == ([], [])


def test_barrier_paths_train_their_relative_energies_not_their_absolute_ones():
    p = "verified/run/neb/Li2S"
    frames = [
        _frame(f"{p}/LiI_100/initial", "Li2S@LiI_100/delithiation", "neb", "Li3I2S", -20.0),
        _frame(f"{p}/LiI_100/ts", "Li2S@LiI_100/delithiation", "neb", "Li3I2S", -18.0),
        _frame(f"{p}/LiI_100/final", "Li2S@LiI_100/delithiation", "neb", "Li3I2S", -17.5),
        _frame(f"{p}/vacuum/initial", "Li2S@vacuum/delithiation", "neb", "Li2S", -6.0),
        _frame(f"{p}/vacuum/ts", "Li2S@vacuum/delithiation", "neb", "Li2S", -3.0),
        _frame(f"{p}/vacuum/final", "Li2S@vacuum/delithiation", "neb", "Li2S", -3.0),
    ]
    # the surface TS is its own geometry; the vacuum TS is the final state itself
    for k, shift in ((1, 1.0), (2, 2.0), (4, 3.0), (5, 3.0)):
        calc = frames[k].calc
        frames[k].calc = None
        frames[k].positions[0] += shift
        frames[k].calc = SinglePointCalculator(
            frames[k], energy=calc.results["energy"], forces=calc.results["forces"]
        )
    labs = ft.labels(frames, {})
    # near the surface the raw LCAO energies are not taught one by one
    assert [lab.energy_weight for lab in labs] == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    terms = {t.name: t for t in ft.difference_terms(labs, range(len(labs)))}
    assert set(terms) == {
        f"delithiation {p}/LiI_100/final",
        f"delithiation {p}/LiI_100/ts",
        f"delithiation {p}/vacuum/final",  # no second term for the same geometry
    }
    t = terms[f"delithiation {p}/LiI_100/final"]
    assert t.frames == (2, 0) and t.coefficients == (1.0, -1.0)
    # a path with a point outside the training frames adds only what it has
    assert {t.name for t in ft.difference_terms(labs, range(1, 6))} == {
        f"delithiation {p}/vacuum/final"
    }


def test_settings_refuse_nonsense():
    with pytest.raises(ParameterError, match="epochs"):
        ft.FinetuneSettings(epochs=0)
    with pytest.raises(ParameterError, match="lr"):
        ft.FinetuneSettings(lr=5.0)
    with pytest.raises(ParameterError, match="difference-weight"):
        ft.FinetuneSettings(difference_weight=-1.0)
    with pytest.raises(ParameterError, match="loss"):
        ft.FinetuneSettings(loss="l1")
    with pytest.raises(ParameterError, match="schedule"):
        ft.FinetuneSettings(schedule="warm")
    with pytest.raises(ParameterError, match="--keep must be one of best, last, average"):
        ft.FinetuneSettings(keep="worst")
    with pytest.raises(ParameterError, match="--average-from"):
        ft.FinetuneSettings(keep="average", epochs=4, average_from=5)
    with pytest.raises(ParameterError, match="--ev-weight"):
        ft.FinetuneSettings(ev_weight=-1.0)
    with pytest.raises(ParameterError, match="--deformation-weight"):
        ft.FinetuneSettings(deformation_weight=-1.0)
    with pytest.raises(ParameterError, match="--term-weight"):
        ft.FinetuneSettings(term_weights=(("E(V) *", -2.0),))
    with pytest.raises(ParameterError, match="--difference-weight 0 trains none"):
        ft.FinetuneSettings(term_weights=(("E(V) *", 2.0),), difference_weight=0.0)


def test_term_weights_multiply_the_differences_they_name():
    cells = [("Li", "1.00", -3.8), ("LiI", "1.00", -6.0), ("LiI", "0.98", -5.9)]
    cells += [("LiI", "1.02", -5.95), ("Li2S", "1.00", -8.0), ("Li2S", "0.98", -7.9)]
    frames = [_frame(f"bulk/{p}/a{a}", f"bulk/{p}", "bulk", p, e) for p, a, e in cells]
    labs = ft.labels(frames, {})
    terms = ft.difference_terms(labs, range(len(labs)), bulk_weight=3.0)
    out = {t.name: t.weight for t in ft.reweighted(terms, (("E(V) bulk/LiI/*", 2.0),))}
    assert out == {
        "E(V) bulk/LiI/a0.98": 6.0,
        "E(V) bulk/LiI/a1.02": 6.0,
        "E(V) bulk/Li2S/a0.98": 3.0,  # other phases untouched
    }
    # rules compose; the other fields of a term are kept
    both = ft.reweighted(terms, (("E(V) *", 2.0), ("*LiI/a0.98", 0.5)))
    assert {t.name: t.weight for t in both}["E(V) bulk/LiI/a0.98"] == 3.0
    assert [t.frames for t in both] == [t.frames for t in terms]
    # a factor of 0 leaves the term out (Adam would still step a zero-weight term)
    out = ft.reweighted(terms, (("E(V) bulk/LiI/*", 0.0),))
    assert [t.name for t in out] == ["E(V) bulk/Li2S/a0.98"]
    # a pattern that names nothing is refused, with the names it could have meant
    with pytest.raises(ParameterError, match=r"matches no training difference.*E\(V\) bulk"):
        ft.reweighted(terms, (("E(V) bulk/LiBr/*", 3.0),))


def test_term_weight_text_parses_or_says_what_it_expected():
    assert ft.parse_term_weight("E(V) bulk/LiI/*=3") == ("E(V) bulk/LiI/*", 3.0)
    assert ft.parse_term_weight("a=b=0.5") == ("a=b", 0.5)  # the last '=' splits
    for bad in ("E(V) bulk/LiI/*", "=3", "E(V)=three"):
        with pytest.raises(ParameterError, match="NAME-PATTERN=FACTOR"):
            ft.parse_term_weight(bad)


def test_running_mean_weighs_every_epoch_equally():
    torch = pytest.importorskip("torch")
    states = [{"w": torch.tensor([1.0, 2.0]) * k, "n": torch.tensor([k])} for k in (1, 2, 6)]
    mean = None
    for n, state in enumerate(states):
        mean = ft._running_mean(mean, n, state)
    assert mean["w"].tolist() == pytest.approx([3.0, 6.0])
    assert mean["n"].tolist() == [1]  # integer tensors are not averaged
    assert states[0]["w"].tolist() == [1.0, 2.0]  # the epochs' own weights are untouched


def test_kept_weights_says_which_weights_model_pth_holds():
    losses = {"energy_mae_eV_per_atom": 0.01, "force_mae_eV_per_A": 0.05}
    curve = [{"epoch": 0, **losses, "ads_mae_eV": 0.7}]
    curve += [{"epoch": e, **losses, "ads_mae_eV": m} for e, m in ((1, 0.3), (2, 0.1), (3, 0.2))]
    assert ft.kept_weights(curve, ft.FinetuneSettings(epochs=3)) == (
        2,
        "epoch 2 of 3 (lowest held-out loss)",
    )
    assert ft.kept_weights(curve, ft.FinetuneSettings(epochs=3, keep="last"))[0] == 3
    avg = ft.FinetuneSettings(epochs=3, keep="average", average_from=2)
    assert ft.kept_weights(curve, avg)[0] == 3  # stopped before averaging began: the last
    for c in curve[2:]:
        c["average"] = {"epochs": [2, c["epoch"]]}
    assert ft.kept_weights(curve, avg) == (None, "mean of the weights of epochs 2-3 of 3")


def _reference_subset(tmp_path, config_ids):
    """A reference set of the committed set's frames with these config ids."""
    frames = [f for f in read(DEFAULT_DIR / REFERENCE, ":") if f.info["config_id"] in config_ids]
    ref = tmp_path / "ref"
    ref.mkdir()
    write(ref / REFERENCE, frames, format="extxyz")
    return ref, frames


def test_one_real_epoch_writes_a_loadable_model_with_provenance(tmp_path):
    pytest.importorskip("sevenn")
    from lis_dft.dft_workflows.calculators import build_calculator

    keep = {
        "bulk/Li/a1.00",
        "bulk/S/a1.00",
        "bulk/Li2S/a1.00",
        "bulk/Li2S2/a1.00",
        "bulk/LiI/a1.00",
        "molecule/Li2S",
        "molecule/I2",
        "slab/relaxed",
        "adslab/Li2S/bridge_I-Li-flat-r0/frozen",
        "adslab/Li2S/top_I-flat-r0/frozen",
    }
    ref, frames = _reference_subset(tmp_path, keep)
    top = "adslab/Li2S/top_I-flat-r0/frozen"
    real = json.loads((DEFAULT_DIR / "counterpoise.json").read_text())["points"][top]
    parts = {k: real[k] for k in ("slab_own", "molecule_own")}
    (ref / "counterpoise.json").write_text(json.dumps({"points": {top: {"bsse": 0.7, **parts}}}))
    # two points of the committed plane-wave alpha-S scan, in the set's ev_scans folder
    ev = [a for a in read(DEFAULT_DIR / "ev_scans" / REFERENCE, ":")]
    (ref / "ev_scans").mkdir()
    write(
        ref / "ev_scans" / REFERENCE,
        [a for a in ev if a.info["config_id"] in ("ev/S/v1.000", "ev/S/v1.060")],
    )
    settings = ft.FinetuneSettings(
        epochs=2,
        lr=1e-6,
        hold_out=("Li2S@LiI_100/bridge_I-Li",),
        threads=1,
        schedule="cosine",
    )
    said = []
    res = ft.finetune(ref, tmp_path / "out", settings, log=said.append)
    assert any("E(V) ev/S/v1.060" in s for s in said)  # trained against its own v1.000
    # its slab was frozen (no slab term); the molecule's deformation is trained
    assert any(f"molecule deformation {top}" in s and "slab deformation" not in s for s in said)
    assert json.loads((tmp_path / "out" / "training_data.json").read_text())["fragments_eV"] == {
        top: parts
    }
    rec = json.loads((tmp_path / "out" / "finetune.json").read_text())
    assert rec["data"]["held_out_frames"] == 1 and rec["data"]["train_frames"] == 11
    assert rec["data"]["counterpoise_labels"] == 1 and "reference.extxyz" in rec["data"]["sha256"]
    assert "ev_scans/reference.extxyz" in rec["data"]["sha256"]
    assert rec["base"]["model"].startswith("SevenNet-MF-0")
    assert [c["epoch"] for c in rec["curve"]] == [0, 1, 2]
    # the cosine schedule: the full rate in the first epoch, half of it in the second
    assert [c["lr"] for c in rec["curve"][1:]] == pytest.approx([1e-6, 0.5e-6])
    # the one labelled training complex (top_I) was trained on its adsorption energy
    assert rec["curve"][1]["train_difference_rmse_eV"] > 0
    scores = rec["held_out_scores"]
    assert set(scores) == {"base", "finetuned"} and "counterpoise" in scores["base"]
    # a tiny step: the held-out numbers barely move, and the weights load as a model
    assert scores["finetuned"]["raw_lcao"]["ads_mae_eV"] == pytest.approx(
        scores["base"]["raw_lcao"]["ads_mae_eV"], abs=0.05
    )
    atoms = frames[0].copy()
    atoms.calc = build_calculator("sevennet", "none", model=res.model_path)
    assert np.isfinite(atoms.get_potential_energy())
    # resuming with the same epoch count does no new training
    again = ft.finetune(ref, tmp_path / "out", settings, log=lambda *_: None)
    assert len(again.record["curve"]) == 3
    # shipping it: lean weights + record in a models folder, loadable by name
    from lis_dft.models import shipped_models

    models = tmp_path / "models"
    dest = ft.ship(tmp_path / "out", "test-ft", "a test model", models_dir=models)
    shipped = shipped_models(models)["test-ft"]
    assert shipped.base == "7net-mf-0" and shipped.description == "a test model"
    prov = shipped.provenance()
    assert prov["held_out_families"] == ["Li2S@LiI_100/bridge_I-Li"]
    assert prov["data_sha256"] == rec["data"]["sha256"]
    assert dest.stat().st_size < (tmp_path / "out" / "model.pth").stat().st_size  # no optimizer
    atoms.calc = build_calculator("sevennet", "none", model=str(dest))
    e_lean = atoms.get_potential_energy()
    atoms.calc = build_calculator("sevennet", "none", model=res.model_path)
    assert e_lean == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
    # a tampered weights file is refused, so is a bad name or an unfinished run
    dest.write_bytes(dest.read_bytes() + b"x")
    with pytest.raises(Exception, match="does not match its record"):
        shipped.provenance()
    with pytest.raises(ParameterError, match="Model name"):
        ft.ship(tmp_path / "out", "../evil", models_dir=models)
    with pytest.raises(ParameterError, match=r"no finetune\.json"):
        ft.ship(tmp_path / "nothing", "x", models_dir=models)


def test_a_term_weight_that_names_nothing_stops_finetune_before_it_writes(tmp_path):
    pytest.importorskip("sevenn")
    keep = {"bulk/Li/a1.00", "bulk/LiI/a1.00", "bulk/LiI/a0.98", "molecule/I2"}
    ref, _ = _reference_subset(tmp_path, keep)
    out = tmp_path / "out"
    bad = ft.FinetuneSettings(
        epochs=1, hold_out=("molecule/I2",), term_weights=(("E(V) bulk/LiBr/*", 3.0),)
    )
    with pytest.raises(ParameterError, match=r"LiBr.*matches no training difference"):
        ft.finetune(ref, out, bad, log=lambda *_: None)
    assert not out.exists()


def test_keep_average_writes_and_scores_the_mean_of_the_epochs(tmp_path):
    pytest.importorskip("sevenn")
    import torch

    keep = {"bulk/Li/a1.00", "bulk/Li2S/a1.00", "molecule/Li2S", "slab/relaxed"}
    keep |= {"adslab/Li2S/bridge_I-Li-flat-r0/frozen", "adslab/Li2S/top_I-flat-r0/frozen"}
    ref, _ = _reference_subset(tmp_path, keep)
    hold_out = ("Li2S@LiI_100/bridge_I-Li",)
    settings = ft.FinetuneSettings(
        epochs=2, lr=1e-5, hold_out=hold_out, threads=1, keep="average", average_from=1
    )
    res = ft.finetune(ref, tmp_path / "out", settings, log=lambda *_: None)
    curve = res.record["curve"]
    assert [c["average"]["epochs"] for c in curve[1:]] == [[1, 1], [1, 2]]
    # a mean of one epoch is that epoch: the scored mean is the weights it says
    assert curve[1]["average"]["force_mae_eV_per_A"] == pytest.approx(
        curve[1]["force_mae_eV_per_A"], abs=1e-9
    )
    assert curve[2]["average"]["force_mae_eV_per_A"] != curve[2]["force_mae_eV_per_A"]
    assert res.record["kept_epoch"] is None
    assert res.record["kept"] == "mean of the weights of epochs 1-2 of 2"
    model = torch.load(tmp_path / "out" / "model.pth", map_location="cpu", weights_only=False)
    last = torch.load(tmp_path / "out" / "last.pth", map_location="cpu", weights_only=False)
    assert last["n_averaged"] == 2
    moved = 0
    for k, v in model["model_state_dict"].items():
        assert torch.equal(v, last["average_state"][k])
        moved += not torch.equal(v, last["model_state_dict"][k])
    assert moved > 0  # the mean is not the last epoch


def test_plane_wave_ev_scans_train_differences_within_the_scan_only():
    frames = [
        _frame("bulk/S/a1.00", "bulk/S", "bulk", "S4", -16.4),
        _frame("ev/S/v1.000", "bulk/S", "ev_scan", "S4", -20.0),
        _frame("ev/S/v1.060", "bulk/S", "ev_scan", "S4", -20.3),
        _frame("ev/S/v0.940", "bulk/S", "ev_scan", "S4", -19.6),
    ]
    labs = ft.labels(frames, {})
    # absolute plane-wave energies never meet LCAO ones (per-frame loss, element offsets)
    assert [lab.energy_weight for lab in labs] == [1.0, 0.0, 0.0, 0.0]
    terms = {t.name: t for t in ft.difference_terms(labs, range(len(labs)), bulk_weight=3.0)}
    assert set(terms) == {"E(V) ev/S/v0.940", "E(V) ev/S/v1.060"}  # each against v1.000 only
    t = terms["E(V) ev/S/v1.060"]
    assert t.frames == (2, 1) and t.weight == 3.0
    weighted = ft.difference_terms(labs, range(len(labs)), bulk_weight=3.0, ev_weight=2.0)
    assert {w.weight for w in weighted} == {6.0}  # --ev-weight on top of --bulk-weight
    value = sum(c * labs[i].energy for c, i in zip(t.coefficients, t.frames, strict=True))
    assert value == pytest.approx(0.75 * (-20.3 + 20.0))  # per 3 atoms of a 4-atom cell
    # a scan without its experimental-volume point trains nothing
    assert not ft.difference_terms(labs[2:], range(2))


def test_a_plane_wave_scan_replaces_the_phases_lcao_strain_steps():
    lcao = [("LiI", "1.00", -6.0), ("LiI", "0.98", -5.99), ("Li2S", "1.00", -8.0)]
    lcao += [("Li2S", "0.98", -7.9)]
    frames = [_frame(f"bulk/{p}/a{a}", f"bulk/{p}", "bulk", p, e) for p, a, e in lcao]
    frames += [
        _frame(f"ev/LiI/v{v}", "bulk/LiI", "ev_scan", "LiI", e)
        for v, e in (("1.000", -6.20), ("0.970", -6.21))
    ]
    labs = ft.labels(frames, {})
    names = {t.name for t in ft.difference_terms(labs, range(len(labs)))}
    # LiI's volume comes from plane waves only; Li2S, without a scan, keeps its LCAO step
    assert names == {"E(V) ev/LiI/v0.970", "E(V) bulk/Li2S/a0.98"}
    # held-out scan frames are not training frames: LCAO's step stays
    names = {t.name for t in ft.difference_terms(labs, range(len(lcao)))}
    assert names == {"E(V) bulk/LiI/a0.98", "E(V) bulk/Li2S/a0.98"}


def test_data_hash_covers_the_plane_wave_scans(tmp_path):
    write(tmp_path / REFERENCE, [_frame("bulk/S/a1.00", "bulk/S", "bulk", "S4", -16.4)])
    assert set(ft.data_hash(tmp_path)) == {REFERENCE}
    (tmp_path / "ev_scans").mkdir()
    write(tmp_path / "ev_scans" / REFERENCE, [_frame("ev/S/v1.000", "bulk/S", "ev_scan", "S4", -2)])
    assert set(ft.data_hash(tmp_path)) == {REFERENCE, f"ev_scans/{REFERENCE}"}
    assert set(ft.data_hash(tmp_path, ev_scans=False)) == {REFERENCE}  # --no-ev-scans


def test_finetune_command_passes_its_options_into_the_settings(tmp_path, monkeypatch):
    pytest.importorskip("sevenn")
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from lis_dft.cli import app

    seen = {}

    def fake(reference, out, settings, max_minutes, log):
        seen["settings"] = settings
        return SimpleNamespace(record={"held_out_scores": {}, "kept": "last"}, model_path=out)

    monkeypatch.setattr(ft, "finetune", fake)
    args = ["finetune", "--out", str(tmp_path), "--seed", "3", "--deformation-weight", "2.5"]
    args += ["--term-weight", "E(V) bulk/LiI/*=3", "--term-weight", "E_A *=0.5"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert seen["settings"].seed == 3 and seen["settings"].deformation_weight == 2.5
    assert seen["settings"].term_weights == (("E(V) bulk/LiI/*", 3.0), ("E_A *", 0.5))
    r = CliRunner().invoke(app, ["finetune", "--out", str(tmp_path), "--term-weight", "LiI"])
    assert r.exit_code != 0 and "NAME-PATTERN=FACTOR" in r.output
    r = CliRunner().invoke(app, ["finetune", "--out", str(tmp_path), "--deformation-weight", "-1"])
    assert r.exit_code == 2


def test_average_runs_writes_the_mean_of_the_runs_weights_scored_and_shippable(tmp_path):
    pytest.importorskip("sevenn")
    import hashlib
    import shutil

    import torch

    keep = {"bulk/Li/a1.00", "bulk/Li2S/a1.00", "molecule/Li2S", "slab/relaxed"}
    keep |= {"adslab/Li2S/bridge_I-Li-flat-r0/frozen", "adslab/Li2S/top_I-flat-r0/frozen"}
    ref, _ = _reference_subset(tmp_path, keep)
    settings = ft.FinetuneSettings(
        epochs=1, lr=1e-5, hold_out=("Li2S@LiI_100/bridge_I-Li",), threads=1
    )
    a, b = tmp_path / "a", tmp_path / "b"
    ft.finetune(ref, a, settings, log=lambda *_: None)
    # a second run of the recipe: another seed, its weights moved (written as finetune does)
    shutil.copytree(a, b)
    state = torch.load(b / "model.pth", map_location="cpu", weights_only=False)
    name = next(k for k, v in state["model_state_dict"].items() if v.is_floating_point())
    state["model_state_dict"][name] = state["model_state_dict"][name] + 1.0
    torch.save(state, b / "model.pth")
    rec = json.loads((b / "finetune.json").read_text())
    rec["model_sha256"] = hashlib.sha256((b / "model.pth").read_bytes()).hexdigest()
    rec["settings"]["seed"] = 2
    (b / "finetune.json").write_text(json.dumps(rec))

    res = ft.average_runs([a, b], tmp_path / "mean", ref)
    mean = torch.load(tmp_path / "mean" / "model.pth", map_location="cpu", weights_only=False)
    one = torch.load(a / "model.pth", map_location="cpu", weights_only=False)
    assert "optimizer_state_dict" not in mean
    for k, v in mean["model_state_dict"].items():
        shift = 0.5 if k == name else 0.0
        assert torch.allclose(v, one["model_state_dict"][k] + shift, atol=1e-6)
    out = res.record
    assert out["kept"] == "mean of the weights of 2 fine-tunes (a, b)" and out["kept_epoch"] is None
    assert [m["settings_differing_from_the_first"] for m in out["members"]] == [{}, {"seed": 2}]
    assert set(out["held_out_scores"]) == {"base", "finetuned"}
    # what ship takes: the record describes the weights
    dest = ft.ship(tmp_path / "mean", "test-mean", models_dir=tmp_path / "models")
    assert dest.is_file()

    # refused, nothing written: one run, a run twice, out among the runs, another footing
    with pytest.raises(ParameterError, match="at least two"):
        ft.average_runs([a], tmp_path / "x", ref)
    with pytest.raises(ParameterError, match="twice"):
        ft.average_runs([a, a], tmp_path / "x", ref)
    with pytest.raises(ParameterError, match="is one of the runs"):
        ft.average_runs([a, b], b, ref)
    rec["settings"]["hold_out"] = ["S8@LiI_100/bridge_I-Li"]
    (b / "finetune.json").write_text(json.dumps(rec))
    with pytest.raises(ParameterError, match=r"differs from .* in settings\.hold_out"):
        ft.average_runs([a, b], tmp_path / "x", ref)
    (b / "model.pth").write_bytes(b"changed")
    with pytest.raises(ParameterError, match="changed after the scores"):
        ft.average_runs([a, b], tmp_path / "x", ref)
    assert not (tmp_path / "x").exists()
