"""The system as data: species and catalysts are one registry entry each."""

from __future__ import annotations

import json

import pytest
from pymatgen.core import Molecule
from typer.testing import CliRunner

from lis_dft import system
from lis_dft.analysis import energetics as en
from lis_dft.cli import app
from lis_dft.dft_workflows.calculators import CalculatorSpec
from lis_dft.dft_workflows.flows import StudySettings
from lis_dft.dft_workflows.local import run_local_study
from lis_dft.errors import ParameterError
from lis_dft.structures.catalog import SlabSettings, build_study_structures
from lis_dft.structures.validation import check_bulk, check_slab

runner = CliRunner()
SMALL = SlabSettings((2, 2, 1), 15.0, 1)


def test_species_registry_derives_the_ladder():
    assert system.oxidation_path(["S8", "I2", "Li2S2", "Li2S"]) == ("Li2S", "Li2S2", "S8")
    assert system.SPECIES["Li2S2"].li_per_s == 1.0 and system.SPECIES["S8"].n_s == 8
    assert system.reaction("Li2S", "Li2S2") == "Li2S -> 1/2 Li2S2 + Li"
    assert system.reaction("Li2S2", "S8") == "1/2 Li2S2 -> 1/8 S8 + Li"
    with pytest.raises(ParameterError, match="Unknown sulfur species 'Li2S9'"):
        system.species("Li2S9")
    with pytest.raises(ParameterError, match="Unknown catalyst 'NaCl'"):
        system.catalyst("NaCl")


@pytest.mark.parametrize("name", sorted(system.CATALYSTS))
def test_every_catalyst_builds_a_valid_slab(name):
    cat = system.catalyst(name)
    study = build_study_structures(settings=SMALL, catalyst_name=name)
    assert check_bulk(name, study.bulk[name]).ok  # rocksalt, Fm-3m
    assert check_slab(study.slab, bulk_formula=name, vacuum=15.0).ok  # stoichiometric, non-polar
    assert cat.reference in study.molecules and set(study.placements) == {"Li2S", "Li2S2", "S8"}
    names = [p.name for ps in study.placements.values() for p in ps]
    assert all(f"@{cat.slab_name}/" in n for n in names)
    assert any(f"top_{cat.halogen}" in n for n in names)  # sites named by the surface atoms


def _lif_registered(monkeypatch):
    """A catalyst the code has never seen, added the way the docs say: one entry."""
    lif = system.Catalyst("LiF", "F", a=4.03, x2_bond=1.42, source="test entry")
    monkeypatch.setitem(system.CATALYSTS, "LiF", lif)
    return lif


def test_a_new_catalyst_is_one_entry(tmp_path, monkeypatch):
    lif = _lif_registered(monkeypatch)
    settings = StudySettings(
        calculator=CalculatorSpec("mock"), slab=SMALL, top_k=1, catalyst="LiF", steps=40
    )
    results, _ = run_local_study(tmp_path / "run", settings, progress=False)
    assert results["catalyst"]["slab"] == "LiF_100" == lif.slab_name
    assert "LiF" in results["formation_energies"]  # mu_F from the F2 molecule
    assert "F" in results["chemical_potentials"]
    assert set(results["landscape"]) == {"bulk", "vacuum", "LiF_100"}
    assert results["landscape"]["LiF_100"]["steps"][0]["reaction"] == "Li2S -> 1/2 Li2S2 + Li"
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Adsorption on LiF(100)" in report and "LiI" not in report.split("## Figures")[0]
    rows = (tmp_path / "run" / "results.csv").read_text()
    assert "adsorption_energy,S8,LiF_100" in rows


def test_a_new_species_is_one_entry(monkeypatch):
    """A polysulfide-like entry joins the ladder, the placements and the landscape."""

    def li2s4() -> Molecule:  # Li bridging the ends of a zig-zag S4 chain
        return Molecule(
            ["S", "S", "S", "S", "Li", "Li"],
            [
                [0, 0, 0],
                [2.05, 0, 0],
                [2.7, 1.95, 0],
                [4.75, 1.95, 0],
                [-0.6, 2.1, 0],
                [5.35, -0.15, 0],
            ],
        )

    monkeypatch.setitem(system.SPECIES, "Li2S4", system.Species("Li2S4", "Li$_2$S$_4$", li2s4))
    assert system.oxidation_path(["S8", "Li2S4", "Li2S2", "Li2S"]) == (
        "Li2S",
        "Li2S2",
        "Li2S4",
        "S8",
    )
    assert system.reaction("Li2S2", "Li2S4") == "Li2S2 -> 1/2 Li2S4 + Li"
    study = build_study_structures(settings=SMALL, adsorbates=("Li2S", "Li2S4"))
    assert "Li2S4" in study.molecules and study.placements["Li2S4"]
    # per-Li steps by hand: g = E_f per S; Li2S2 -> Li2S4 removes 1/2 Li per S
    ef = {"Li2S": -4.0, "Li2S2": -6.0, "Li2S4": -8.0, "S8": 0.0}
    land = en.oxidation_landscape(ef, system.oxidation_path(ef))
    steps = {(s["from"], s["to"]): s["dE_eV_per_Li"] for s in land["steps"]}
    assert steps[("Li2S", "Li2S2")] == pytest.approx(-3.0 - -4.0)
    assert steps[("Li2S2", "Li2S4")] == pytest.approx((-2.0 - -3.0) / 0.5)
    assert steps[("Li2S4", "S8")] == pytest.approx((0.0 - -2.0) / 0.5)
    assert land["limiting_step"] == "Li2S4 -> S8"


def test_cli_run_on_libr(tmp_path):
    out = tmp_path / "libr"
    args = ["run", "-c", "mock", "--catalyst", "LiBr", "--out", str(out), "--no-progress"]
    args += ["--supercell", "2", "2", "1", "--fixed-layers", "1", "--top-k", "1", "--steps", "40"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "LiBr(100)" in result.output
    res = json.loads((out / "results.json").read_text())
    assert res["catalyst"]["name"] == "LiBr" and res["settings"]["catalyst"] == "LiBr"
    assert "LiBr" in res["formation_energies"] and "Br2(g)" in res["references"]
    assert (out / "figures" / "activation_diagram.png").stat().st_size > 0


def test_cli_refuses_an_unknown_catalyst(tmp_path):
    result = runner.invoke(app, ["run", "-c", "mock", "--catalyst", "NaCl", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "Unknown catalyst 'NaCl'" in result.output and "LiBr" in result.output
    assert not (tmp_path / "results.json").exists()
