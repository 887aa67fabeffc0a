"""Fine-tuned models shipped in lis_dft/models: intact, documented, loadable offline."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.io import read

from lis_dft.dft_workflows.calculators import BACKENDS, CalculatorSpec, build_calculator
from lis_dft.dft_workflows.reference_set import DEFAULT_DIR, REFERENCE
from lis_dft.models import MODELS_DIR, shipped_models

SHIPPED = sorted(shipped_models())


def test_every_model_file_has_its_record():
    pth = {p.stem for p in MODELS_DIR.glob("*.pth")}
    rec = {p.stem for p in MODELS_DIR.glob("*.json")}
    assert pth == rec == set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_is_registered_with_provenance(name):
    model = shipped_models()[name]
    assert name in BACKENDS[model.backend].models
    prov = model.provenance()  # also checks the weights' sha256 against the record
    assert prov["base"]["model"] and prov["data_sha256"]["reference.extxyz"]
    assert prov["held_out_families"]
    scores = prov["held_out_scores"]
    assert {"base", "finetuned"} <= set(scores)
    record = model.record()
    assert record["data"]["counterpoise_labels"] > 0  # adsorption trained on corrected DFT
    described = CalculatorSpec(model.backend, "zero", {"model": name}).describe()
    assert described["model_file"]["weights_sha256"] == prov["weights_sha256"]


@pytest.mark.mlip
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reproduces_its_recorded_held_out_score(name):
    """The weights in the package are the ones that were scored (same held-out E_A)."""
    pytest.importorskip("sevenn")
    model = shipped_models()[name]
    record = model.record()
    frames = {f.info["config_id"]: f for f in read(DEFAULT_DIR / REFERENCE, ":")}
    if record["data"]["sha256"].get("reference.extxyz") is None:
        pytest.fail("record without the reference data hash")
    calc = build_calculator(model.backend, "none", model=name)
    point = next(
        p for p in record["held_out_scores"]["finetuned"]["points"] if p["config_id"] in frames
    )
    ids = (point["config_id"], "slab/relaxed", f"molecule/{point['adsorbate']}")
    energies = []
    for cid in ids:
        atoms = frames[cid].copy()
        atoms.calc = calc
        energies.append(atoms.get_potential_energy() + frames[cid].info["energy_d3"])
    e_a = energies[0] - energies[1] - energies[2]
    assert np.isclose(e_a, point["potential_eV"], atol=1e-3), json.dumps(point)


@pytest.mark.parametrize("name", SHIPPED)
def test_comparison_pages_say_a_shipped_model_was_trained_on_the_set(name):
    from lis_dft.dft_workflows.potential_comparison import finetuned_notes, held_out_table

    table = "\n".join(held_out_table(name))
    assert "≤ 0.10" in table and "held-out frame" in table
    for p in shipped_models()[name].record()["held_out_scores"]["finetuned"]["points"]:
        assert p["config_id"] in table
    notes = "\n".join(finetuned_notes({"ranking": [f"sevennet/{name}+D3(zero)"]}))
    assert f"{name} was trained on this set" in notes
    assert finetuned_notes({"ranking": ["sevennet/7net-mf-0+D3(zero)"]}) == []


def test_untrained_elements_are_reported_loudly():
    """A study with elements the shipped model never saw gets a warning in results."""
    from lis_dft.analysis.results import potential_warnings
    from lis_dft.models import shipped_models

    prov = shipped_models()["lis-dft-mf-0-ft"].provenance()
    assert set(prov["trained_on"]["elements"]) == {"Li", "S", "I"}
    results = {
        "calculator": {"model_file": prov},
        "references": {"Li": {}, "S": {}, "LiBr": {}, "Br2(g)": {}},
        "catalyst": {"label": "LiBr(100)"},
    }
    (note,) = potential_warnings(results)
    assert "without Br" in note and "LiBr(100)" in note and "lis-dft verify" in note
    results["references"] = {"Li": {}, "S": {}, "LiI": {}, "I2(g)": {}}
    assert potential_warnings(results) == []


def test_dft_checks_of_a_run_become_warnings_of_later_runs(tmp_path):
    """verify's disagreements on a model's own run are kept with the model and said loudly."""
    import shutil

    from lis_dft.analysis.results import potential_warnings
    from lis_dft.errors import ParameterError

    folder = tmp_path / "models"
    folder.mkdir()
    for suffix in (".pth", ".json"):
        shutil.copy(MODELS_DIR / f"lis-dft-mf-0-ft2{suffix}", folder / f"m{suffix}")
    rec = json.loads((folder / "m.json").read_text())
    rec.pop("dft_checks", None)
    (folder / "m.json").write_text(json.dumps(rec))
    model = shipped_models.__wrapped__(folder)["m"]
    run = tmp_path / "run"
    run.mkdir()
    prov = model.provenance()
    results = {"calculator": {"model_file": prov}, "catalyst": {"slab": "LiI_100"}}
    (run / "results.json").write_text(json.dumps(results))

    def config(cid, mlip, dft):
        return {"id": cid, "mlip_eV": mlip, "dft_eV": dft, "error_eV": mlip - dft}

    verify = {
        "provenance": {"created_utc": "2026-12-05T00:00:00+00:00"},
        "adsorption": {
            "S8": {
                "reported_config": "flat",
                "status": "not_confirmed",
                "verdict": "minimum not confirmed: unbound in DFT",
                "configs": [config("flat", -1.4, 0.01)],
            },
            "Li2S": {
                "reported_config": "top",
                "status": "agrees",
                "verdict": "agrees",
                "configs": [config("top", -1.6, -1.7)],
            },
            "Li2S2": {"reported_config": "x", "status": "incomplete", "verdict": "", "configs": []},
        },
        "formation_energies": {
            "Li2S": {"mlip_eV_per_atom": -1.39, "dft_eV_per_atom": -1.45, "error_eV_per_atom": 0.06}
        },
        "settings": {"dft": {"model": "GPAW LCAO", "d3": {"damping": "zero"}}},
    }
    with pytest.raises(ParameterError, match=r"no verify\.json"):
        model.record_dft_checks(run)
    (run / "verify.json").write_text(json.dumps(verify))
    new = model.record_dft_checks(run)
    assert {c["adsorbate"] for c in new} == {"S8", "Li2S"}  # Li2S2 has no DFT energy yet
    model.record_dft_checks(run)  # again: replaced, not appended
    checks = model.record()["dft_checks"]
    assert len(checks) == 2 and model.provenance()["dft_checks"] == checks
    (bulk,) = model.provenance()["dft_formation_checks"]
    assert bulk["compound"] == "Li2S" and bulk["dft"] == "GPAW LCAO + D3(zero)"
    # every later run's report says how its potential was verified, bulk included
    from lis_dft.analysis.report import _model_checks

    text = "\n".join(_model_checks({"calculator": {"model_file": model.provenance()}}))
    assert "run run (2026-12-05): S8 -1.40 / +0.01 eV, not_confirmed" in text
    assert "Li2S -1.390 / -1.450 (+0.060)" in text and "GPAW LCAO + D3(zero)" in text
    assert (
        "has not been checked"
        in _model_checks({"calculator": {"model_file": {"shipped_model": "x"}}})[0]
    )
    assert _model_checks({"calculator": {}}) == []  # a foundation model: no record

    later = {
        "calculator": {"model_file": model.provenance()},
        "catalyst": {"slab": "LiI_100", "label": "LiI(100)"},
        "references": {"Li": {}, "S": {}, "LiI": {}, "I2(g)": {}},
        "adsorption_energies": {"S8": {}, "Li2S": {}},
    }
    (note,) = potential_warnings(later)  # the agreeing Li2S is not a warning
    assert "S8" in note and "-1.40" in note and "+0.01" in note and "unconfirmed" in note
    later["catalyst"] = {"slab": "LiBr_100", "label": "LiBr(100)"}  # checked on LiI only
    later["references"] = {"Li": {}, "S": {}, "LiI": {}, "I2(g)": {}}
    assert potential_warnings(later) == []
    other = tmp_path / "other"
    shutil.copytree(run, other)
    results["calculator"]["model_file"] = {**prov, "weights_sha256": "0" * 64}
    (other / "results.json").write_text(json.dumps(results))
    with pytest.raises(ParameterError, match="not run with m"):
        model.record_dft_checks(other)
    # a run of the fine-tune's own checkpoint, before it was shipped: the same model
    checkpoint = {"path": "ft/model.pth", "bytes": 1, "sha256": rec["model_sha256"]}
    results["calculator"]["model_file"] = checkpoint
    (other / "results.json").write_text(json.dumps(results))
    assert {c["run"] for c in model.record_dft_checks(other)} == {"other"}
    results["calculator"]["model_file"] = {**checkpoint, "sha256": "0" * 64}
    (other / "results.json").write_text(json.dumps(results))
    with pytest.raises(ParameterError, match="not run with m"):
        model.record_dft_checks(other)


def test_a_run_names_its_shipped_model_by_name_or_by_the_checkpoint_it_was_shipped_from():
    from lis_dft.models import model_of_run

    models = shipped_models()
    ft8 = models["lis-dft-mf-0-ft8"]
    assert model_of_run(ft8.provenance()) == ft8
    ckpt = {"path": "/x/model.pth", "sha256": ft8.record()["model_sha256"]}
    assert model_of_run(ckpt) == ft8
    assert model_of_run({"path": "/x/model.pth", "sha256": "0" * 64}) is None
    assert model_of_run({}) is None
    # a shipped file whose hash is not the record's is not that model's run
    assert not ft8.ran({**ft8.provenance(), "weights_sha256": ft8.record()["model_sha256"]})
