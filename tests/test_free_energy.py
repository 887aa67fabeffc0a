"""Free-energy ladder: ASE thermochemistry on the run's potential, against potential."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import molecule
from ase.thermochemistry import IdealGasThermo
from conftest import mock_run_args
from typer.testing import CliRunner

from lis_dft.analysis import free_energy as fe
from lis_dft.cli import app

runner = CliRunner()


def test_gas_correction_is_ase_ideal_gas():
    atoms = molecule("H2O")
    modes = np.array([0.0, 0.0, 0.001, 0.002, 0.003, 0.004, 0.198, 0.459, 0.472])
    c = fe.gas_correction(modes, atoms, symmetry_number=2, temperature=298.15)
    ref = IdealGasThermo(modes, "nonlinear", atoms=atoms, symmetrynumber=2, spin=0)
    assert c.G_corr_eV == pytest.approx(ref.get_gibbs_energy(298.15, 1e5, verbose=False))
    assert c.zpe_eV == pytest.approx(0.5 * (0.198 + 0.459 + 0.472))
    assert c.n_modes == 3 and c.n_imaginary == 0  # translations and rotations are not modes
    assert c.minus_TS_eV < 0


def test_adsorbate_correction_subtracts_the_surface_modes():
    surface = [0.01, 0.02, 0.03]
    same = fe.adsorbate_correction(surface, surface, 298.15)
    assert same.G_corr_eV == pytest.approx(0.0) and same.zpe_eV == pytest.approx(0.0)
    with_ads = fe.adsorbate_correction([*surface, 0.05, 0.06, 0.2j], surface, 298.15)
    assert with_ads.n_imaginary == 1  # dropped, counted
    assert with_ads.zpe_eV == pytest.approx(0.5 * (0.05 + 0.06))


def test_ladder_at_potential_is_downhill_at_the_onset():
    land = {
        "states": [
            {"label": "Li2S", "li_per_s": 2.0},
            {"label": "Li2S2", "li_per_s": 1.0},
            {"label": "S8", "li_per_s": 0.0},
        ],
        "steps": [{"dE_eV_per_Li": 1.9}, {"dE_eV_per_Li": 2.3}],
        "onset_potential_V_vs_Li": 2.3,
    }
    at0 = fe.at_potential(land, 0.0)
    assert at0["levels_per_S_eV"] == pytest.approx([0.0, 1.9, 4.2]) and not at0["all_downhill"]
    onset = fe.at_potential(land, 2.3)
    assert onset["all_downhill"]
    assert [s["dG_eV_per_Li"] for s in onset["steps"]] == pytest.approx([-0.4, 0.0])


@pytest.fixture(scope="module")
def mock_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fe") / "run"
    args = mock_run_args(out)
    args += ["--supercell", "2", "2", "1", "--fixed-layers", "1", "--steps", "40"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def test_free_energy_command_end_to_end(mock_run):
    result = runner.invoke(app, ["free-energy", str(mock_run), "--temperature", "350"])
    assert result.exit_code == 0, result.output
    block = json.loads((mock_run / "free_energy.json").read_text())
    res = json.loads((mock_run / "results.json").read_text())
    assert res["free_energy"]["temperature_K"] == 350.0 == block["temperature_K"]
    assert set(block["corrections"]) == {"vacuum", "LiI_100"}
    assert set(block["corrections"]["LiI_100"]) == {"Li2S", "Li2S2", "S8"}
    # ΔG steps are the E steps plus the corrections, per S and per Li removed
    corr = block["corrections"]["vacuum"]
    e_step = res["landscape"]["vacuum"]["steps"][0]["dE_eV_per_Li"]
    g_step = block["landscape"]["vacuum"]["steps"][0]["dE_eV_per_Li"]
    assert g_step - e_step == pytest.approx(
        corr["Li2S2"]["G_corr_eV"] / 2 - corr["Li2S"]["G_corr_eV"]
    )
    assert block["at_onset"]["LiI_100"]["all_downhill"]
    for ads in ("Li2S", "Li2S2", "S8"):  # the vibrations are of the minimum the run reports
        assert (
            block["modes"][f"adslab/{ads}"]["config"]
            == res["adsorption_energies"][ads]["best_config"]
        )
    assert (mock_run / "figures" / "free_energy_ladder.png").stat().st_size > 0
    assert "## Free energies (T = 350.00 K" in (mock_run / "report.md").read_text()
    # resumable: the second call reuses every cached displacement
    n_cached = len(list((mock_run / "vibrations").rglob("*.json")))
    again = runner.invoke(app, ["free-energy", str(mock_run), "--temperature", "350"])
    assert again.exit_code == 0 and len(list((mock_run / "vibrations").rglob("*.json"))) == n_cached
    assert (
        json.loads((mock_run / "free_energy.json").read_text())["landscape"] == block["landscape"]
    )


def test_free_energy_refuses_bad_input(tmp_path, mock_run):
    bad = runner.invoke(app, ["free-energy", str(mock_run), "--temperature", "-5"])
    assert bad.exit_code == 2 and "temperature must be positive" in bad.output
    missing = runner.invoke(app, ["free-energy", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "no results.json" in missing.output


def test_build_results_annotates_the_record_in_place(mock_run):
    """verify and free-energy read the integrity flags build_results puts on the record."""
    from lis_dft.analysis.energetics import best_config
    from lis_dft.analysis.results import build_results
    from lis_dft.dft_workflows.verify import load_run

    _, record, _ = load_run(mock_run)
    relaxed = [c for d in record["adsorbates"].values() for c in d["configs"] if c.get("relaxed")]
    assert relaxed and not any("surface_intact" in c for c in relaxed)
    res = build_results(record, calculator={}, settings={}, provenance={})
    assert all("surface_intact" in c and "intact" in c for c in relaxed)
    for ads, data in record["adsorbates"].items():
        assert best_config(data["configs"])["id"] == res["adsorption_energies"][ads]["best_config"]


def test_an_interrupted_displacement_is_recomputed(tmp_path):
    """A displacement claimed (null) by a killed run is dropped and computed again."""
    from ase.build import molecule as build

    from lis_dft.dft_workflows.mock import MockCalculator
    from lis_dft.dft_workflows.vibrations import drop_unfinished, vibrational_energies

    atoms = build("H2O")
    cache = tmp_path / "vib" / "h2o"
    first = vibrational_energies(atoms, MockCalculator(), None, cache)
    victim = sorted(cache.glob("cache.*.json"))[3]
    victim.write_text("null")  # what ASE leaves when the process is killed mid-displacement
    (cache / "cache.0x+.json").write_text("{trunc")  # a torn write
    again = vibrational_energies(atoms, MockCalculator(), None, cache)
    assert np.allclose(np.asarray(again), np.asarray(first))
    assert json.loads(victim.read_text()) is not None
    assert drop_unfinished(cache) == []
