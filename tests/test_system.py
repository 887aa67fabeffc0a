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
    lif = system.Catalyst("LiF", "F", a=4.03, source="test entry")
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


@pytest.fixture(scope="module")
def halide_runs(tmp_path_factory):
    """Mock runs on LiBr(100) and LiCl(100) through the CLI (small slab, short relaxations)."""
    root = tmp_path_factory.mktemp("halides")
    outputs = {}
    for cat in ("LiBr", "LiCl"):
        out = root / cat
        args = [
            "run",
            "-c",
            "mock",
            "--catalyst",
            cat,
            "--out",
            str(out),
            "--no-progress",
            "--no-barriers",
        ]
        args += ["--supercell", "2", "2", "1", "--fixed-layers", "1", "--top-k", "1"]
        result = runner.invoke(app, [*args, "--steps", "40"])
        assert result.exit_code == 0, result.output
        outputs[cat] = (out, result.output)
    return outputs


def test_cli_run_on_libr(halide_runs):
    out, output = halide_runs["LiBr"]
    assert "LiBr(100)" in output
    res = json.loads((out / "results.json").read_text())
    assert res["catalyst"]["name"] == "LiBr" and res["settings"]["catalyst"] == "LiBr"
    assert "LiBr" in res["formation_energies"] and "Br2(g)" in res["references"]
    assert (out / "figures" / "activation_diagram.png").stat().st_size > 0


def test_compare_across_halides(halide_runs, tmp_path):
    libr, licl = (halide_runs[c][0] for c in ("LiBr", "LiCl"))
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", str(libr), str(licl), "--out", str(out)])
    assert result.exit_code == 0, result.output
    comp = json.loads((out / "compare.json").read_text())
    assert [r["surface"] for r in comp["runs"]] == ["LiBr(100)", "LiCl(100)"]
    assert comp["species"] == ["Li2S", "Li2S2", "S8"] and not comp["mixed_calculators"]
    by = {r["catalyst"]: r for r in comp["runs"]}
    for cat, run in by.items():  # the numbers are the runs' own
        res = json.loads((halide_runs[cat][0] / "results.json").read_text())
        assert run["adsorption_eV"]["S8"] == res["adsorption_energies"]["S8"]["eV"]
        assert run["onset_V"] == res["landscape"][f"{cat}_100"]["onset_potential_V_vs_Li"]
    assert comp["easiest"] == min(comp["runs"], key=lambda r: r["onset_V"])["surface"]
    for run in comp["runs"]:  # a limiting step through a flagged (mock) minimum is called out
        through = [sp for sp in run["limiting_step"].split(" -> ") if run["flags"].get(sp)]
        called_out = any(
            n.startswith(f"{run['surface']}: its limiting step") for n in comp["notes"]
        )
        assert called_out == bool(through)
    assert (out / "figures" / "compare.png").stat().st_size > 0
    assert "| LiCl(100) |" in (out / "compare.md").read_text()


def test_compare_refuses_mixed_calculators_and_duplicates(halide_runs, tmp_path):
    libr, licl = (halide_runs[c][0] for c in ("LiBr", "LiCl"))
    other = tmp_path / "other"
    other.mkdir()
    res = json.loads((licl / "results.json").read_text())
    res["calculator"]["model"] = "another potential"
    (other / "results.json").write_text(json.dumps(res))
    refused = runner.invoke(app, ["compare", str(libr), str(other), "--out", str(tmp_path / "x")])
    assert refused.exit_code == 2 and "different calculators" in refused.output
    assert not (tmp_path / "x").exists()
    mixed = runner.invoke(
        app, ["compare", str(libr), str(other), "--allow-mixed", "--out", str(tmp_path / "m")]
    )
    assert (
        mixed.exit_code == 0 and "MIXED CALCULATORS" in (tmp_path / "m" / "compare.md").read_text()
    )
    twice = runner.invoke(app, ["compare", str(libr), str(libr), "--out", str(tmp_path / "t")])
    assert twice.exit_code == 2 and "same surface" in twice.output


def test_cli_refuses_an_unknown_catalyst(tmp_path):
    result = runner.invoke(app, ["run", "-c", "mock", "--catalyst", "NaCl", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "Unknown catalyst 'NaCl'" in result.output and "LiBr" in result.output
    assert not (tmp_path / "results.json").exists()


def test_user_cif_catalyst_on_another_facet(tmp_path):
    """--catalyst FILE --miller h k l: the user's crystal, enumerated and validated facets."""
    cif = tmp_path / "my_licl.cif"
    system.catalyst("LiCl").bulk(conventional=True).to(filename=str(cif))
    cat = system.resolve_catalyst(str(cif), (1, 1, 0))
    assert (cat.name, cat.halogen, cat.reference, cat.slab_name) == (
        "LiCl",
        "Cl",
        "Cl2",
        "LiCl_110",
    )
    study = build_study_structures(settings=SMALL, catalyst_name=cat)
    assert check_slab(study.slab, bulk_formula="LiCl", vacuum=15.0).ok
    assert all("@LiCl_110/" in p.name for ps in study.placements.values() for p in ps)
    # rocksalt (111) is polar: refused with the reason and what to do
    with pytest.raises(Exception, match=r"LiCl\(111\) termination .*polar.*--miller"):
        build_study_structures(
            settings=SMALL, catalyst_name=system.resolve_catalyst(str(cif), (1, 1, 1))
        )
    with pytest.raises(ParameterError, match="does not exist"):
        system.resolve_catalyst(str(tmp_path / "missing.cif"))
    with pytest.raises(ParameterError, match="not all zero"):
        system.resolve_catalyst("LiI", (0, 0, 0))


def test_cli_build_with_user_cif(tmp_path):
    cif = tmp_path / "libr.cif"
    system.catalyst("LiBr").bulk(conventional=True).to(filename=str(cif))
    out = tmp_path / "out"
    args = ["build", "--catalyst", str(cif), "--miller", "1", "1", "0", "--out", str(out)]
    result = runner.invoke(app, [*args, "--supercell", "2", "2", "1", "--fixed-layers", "1"])
    assert result.exit_code == 0, result.output
    names = {e["name"] for e in json.loads((out / "manifest.json").read_text())}
    assert {"slab/LiBr_110", "bulk/LiBr", "molecule/Br2"} <= names
    polar = runner.invoke(app, [*args[:4], "1", "1", "1", "--out", str(tmp_path / "p")])
    assert polar.exit_code == 2 and "polar" in polar.output
    assert not (tmp_path / "p").exists()
