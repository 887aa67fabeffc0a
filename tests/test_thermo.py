"""Thermodynamics against independent hand calculations."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lis_dft.analysis import cell, thermo
from lis_dft.analysis.mixture import discharge_mixture
from lis_dft.cli import app
from lis_dft.errors import ParameterError

F = 96485.33212  # C/mol
M_S, M_LI = 32.06, 6.94
runner = CliRunner()


def test_capacities_by_hand():
    caps = thermo.theoretical_capacities()
    assert caps["S -> Li2S2 (per g S)"]["mAh_per_g"] == pytest.approx(F / (3.6 * M_S), rel=1e-3)
    assert caps["S -> Li2S (per g S)"]["mAh_per_g"] == pytest.approx(2 * F / (3.6 * M_S), rel=1e-3)
    assert caps["Li2S (per g Li2S)"]["mAh_per_g"] == pytest.approx(
        2 * F / (3.6 * (2 * M_LI + M_S)), rel=1e-3
    )
    assert caps["Li2S2 (per g Li2S2)"]["mAh_per_g"] == pytest.approx(
        2 * F / (3.6 * (2 * M_LI + 2 * M_S)), rel=1e-3
    )
    assert 1670 < caps["S -> Li2S (per g S)"]["mAh_per_g"] < 1674


@pytest.fixture
def refs():
    # mu_Li = -2, mu_S = -4; E_f(Li2S) = -4.5 eV/f.u., E_f(Li2S2) = -4.4 eV/f.u.
    return {
        "Li": {"energy_per_atom": -2.0, "volume_per_atom": 20.0},
        "S": {"energy_per_atom": -4.0, "volume_per_atom": 25.0},
        "Li2S": {"energy_per_atom": (2 * -2.0 - 4.0 - 4.5) / 3, "volume_per_atom": 15.0},
        "Li2S2": {"energy_per_atom": (2 * -2.0 + 2 * -4.0 - 4.4) / 4, "volume_per_atom": 16.0},
    }


def test_step_voltages_by_hand(refs):
    v = thermo.step_voltages(refs, counter_vs_li=0.62)
    assert v["S -> Li2S2"]["V_vs_Li"] == pytest.approx(4.4 / 2)  # 2 Li + 2 S -> Li2S2
    assert v["Li2S2 -> Li2S"]["V_vs_Li"] == pytest.approx(
        (2 * 4.5 - 4.4) / 2
    )  # Li2S2 + 2 Li -> 2 Li2S
    assert v["S -> Li2S"]["V_vs_Li"] == pytest.approx(4.5 / 2)
    assert v["S -> Li2S"]["V_vs_counter"] == pytest.approx(4.5 / 2 - 0.62)


def test_hull_metastable_li2s2(refs):
    _, table = thermo.hull(refs)
    assert table["Li2S"]["stable"] and table["Li"]["stable"] and table["S"]["stable"]
    # Li2S2 at x_Li = 0.5: the hull there is half way between S (0) and Li2S (-1.5 at x = 2/3)
    hull_at_half = -1.5 * 0.5 / (2 / 3)
    assert table["Li2S2"]["e_above_hull_eV_per_atom"] == pytest.approx(-4.4 / 4 - hull_at_half)
    assert not table["Li2S2"]["stable"]
    refs["Li2S2"]["energy_per_atom"] -= 0.2
    assert thermo.hull(refs)[1]["Li2S2"]["stable"]


def test_volume_change_by_hand(refs):
    dv = thermo.volume_changes(refs)
    assert dv["S -> Li2S"]["change_pct"] == pytest.approx(100 * (3 * 15.0 / 25.0 - 1))
    assert dv["S -> Li2S2"]["change_pct"] == pytest.approx(100 * (2 * 16.0 / 25.0 - 1))


def test_composite_volume_change_by_hand(refs):
    p = thermo.CompositeParameters(
        electrolyte_wt=50, carbon_wt=20, electrolyte_density=1.64, carbon_density=2.0
    )
    rho_s = thermo.density_g_cm3(25.0, "S")
    w_s, w_se, w_c = 0.3, 0.5, 0.2
    v0 = w_s / rho_s + w_se / 1.64 + w_c / 2.0
    v1 = v0 + w_s / rho_s * (45.0 / 25.0 - 1)
    assert thermo.composite_volume_change(30, refs, p) == pytest.approx(100 * (v1 / v0 - 1))
    with pytest.raises(ParameterError, match="0 and 100"):
        thermo.composite_volume_change(120, refs, p)


def test_density_of_alpha_sulfur_from_volume():
    from lis_dft.structures.bulk import alpha_sulfur

    s = alpha_sulfur()
    assert thermo.density_g_cm3(s.volume / len(s), "S") == pytest.approx(s.density, rel=1e-6)


@pytest.mark.parametrize(
    ("q", "x"),
    [
        (979.6, 979.6 / (F / (3.6 * M_S)) - 1),
        (1496.9, 1496.9 / (F / (3.6 * M_S)) - 1),
        (1136.8, 1136.8 / (F / (3.6 * M_S)) - 1),
    ],
)
def test_mixture_by_hand(q, x):
    m = discharge_mixture(q)
    assert m.li2s_fraction == pytest.approx(x, abs=2e-3)  # hand value uses M(S) = 32.06
    assert m.li2s_fraction + m.li2s2_fraction == pytest.approx(1.0)
    assert 2 * m.li2s_fraction + m.li2s2_fraction == pytest.approx(m.electrons_per_s)


def test_mixture_limits():
    with pytest.raises(ParameterError, match="below"):
        discharge_mixture(336)
    m = discharge_mixture(336, allow_unreacted=True)
    assert m.li2s_fraction == 0 and m.unreacted_s_fraction == pytest.approx(
        1 - 336 / (F / (3.6 * M_S)), rel=1e-3
    )
    with pytest.raises(ParameterError, match="exceeds"):
        discharge_mixture(1700)
    with pytest.raises(ParameterError, match="non-negative"):
        discharge_mixture(-1)
    fixed = discharge_mixture(1000, unreacted_fraction=0.2)
    assert fixed.li2s_fraction + fixed.li2s2_fraction == pytest.approx(0.8)
    with pytest.raises(ParameterError, match="outside"):
        discharge_mixture(1600, unreacted_fraction=0.5)


@pytest.mark.parametrize("quoted", [1672.0, 1675.0])
def test_mixture_accepts_quoted_theoretical_capacity(quoted):
    """Papers quote 1672 or 1675 mAh/g S for all Li2S; 1671.7 is computed here."""
    m = discharge_mixture(quoted)
    assert m.li2s_fraction == pytest.approx(1.0) and m.li2s2_fraction == pytest.approx(0.0)
    assert m.capacity == quoted and "rounding" in m.note
    # Inside the range nothing is moved, and far outside it is still refused.
    inside = discharge_mixture(1670.0)
    assert inside.li2s_fraction < 1 and "rounding" not in inside.note
    with pytest.raises(ParameterError, match="exceeds"):
        discharge_mixture(1690.0)
    low = discharge_mixture(835.0)  # just below Q1 = 835.85: all Li2S2
    assert low.li2s2_fraction == pytest.approx(1.0) and "rounding" in low.note


def test_mixture_cli_json():
    result = runner.invoke(app, ["mixture", "--capacity", "979.6", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert set(data) >= {"capacity", "li2s_fraction", "li2s2_fraction", "unreacted_s_fraction"}
    assert data["li2s_fraction"] == pytest.approx(0.172, abs=1e-3)
    bad = runner.invoke(app, ["mixture", "--capacity", "5000"])
    assert bad.exit_code == 2 and "exceeds" in bad.output


def test_cell_energy_density_by_hand():
    p = cell.CellParameters(
        cathode_active_wt_pct=30,
        areal_capacity_mAh_cm2=5,
        average_voltage_V=2.1,
        separator_thickness_um=50,
        li_excess=1.0,
    )
    e = cell.energy_density("S", "Li metal", p)
    c_s = 2 * F / (3.6 * M_S)
    composite = 5 / c_s / 0.3 * 1e3
    li = 5 * 2 / (F / (3.6 * M_LI)) * 1e3
    sep = 1.64 * 50e-4 * 1e3
    cc = 2.70 * 15e-4 * 1e3 + 8.96 * 10e-4 * 1e3
    total = composite + li + sep + cc  # the active mass is inside the composite
    assert e["total_mg_cm2"] == pytest.approx(total, rel=1e-3)
    assert e["Wh_per_kg"] == pytest.approx(5 * 2.1 / total * 1e3, rel=1e-3)
    li_in = cell.energy_density("S", "Li-In", p)
    assert li_in["cell_voltage_V"] == pytest.approx(2.1 - 0.62)
    assert li_in["Wh_per_kg"] < e["Wh_per_kg"]
    with pytest.raises(ParameterError, match="anode-free"):
        cell.energy_density("S", "anode-free", p)
    with pytest.raises(ParameterError, match="0-100"):
        cell.energy_density("S", "Li metal", cell.CellParameters(cathode_active_wt_pct=150))


def test_cell_parameters_file(tmp_path):
    f = tmp_path / "cell.yaml"
    f.write_text("areal_capacity_mAh_cm2: 8\nseparator_thickness_um: 30\n")
    assert cell.CellParameters.from_file(f).areal_capacity_mAh_cm2 == 8
    f.write_text("areal_capacity: 8\n")
    with pytest.raises(ParameterError, match="Unknown cell parameters"):
        cell.CellParameters.from_file(f)
    f.write_text("areal_capacity_mAh_cm2: lots\n")  # wrong type: pydantic says where
    with pytest.raises(ParameterError, match=r"Invalid values in .*areal_capacity_mAh_cm2"):
        cell.CellParameters.from_file(f)
    f.write_text("- just\n- a list\n")
    with pytest.raises(ParameterError, match="mapping"):
        cell.CellParameters.from_file(f)


def test_thermo_cli_on_mock_results(tmp_path):

    results_path = tmp_path / "results.json"
    # a minimal results file with the four references
    res = {
        "calculator": {"name": "mock", "model": "m", "d3": {"damping": "none"}, "is_mock": True},
        "references": {
            "Li": {"energy_per_atom": -2.0, "volume_per_atom": 20.0},
            "S": {"energy_per_atom": -4.0, "volume_per_atom": 25.0},
            "Li2S": {"energy_per_atom": -4.1667, "volume_per_atom": 15.0},
            "Li2S2": {"energy_per_atom": -4.15, "volume_per_atom": 16.0},
        },
    }
    results_path.write_text(json.dumps(res))
    out = tmp_path / "thermo"
    result = runner.invoke(app, ["thermo", str(results_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "thermo.json").read_text())
    assert set(data) >= {
        "hull_Li_S",
        "voltages",
        "capacities_mAh_per_g",
        "volume_change_per_S",
        "cell_energy_density",
    }
    for fig in (
        "hull",
        "voltage_profile",
        "volume_change",
        "energy_density_contour",
        "energy_density_bars",
    ):
        assert (out / "figures" / f"{fig}.png").exists()
    missing = runner.invoke(app, ["thermo", str(tmp_path / "nope.json"), "--out", str(out)])
    assert missing.exit_code == 2 and "No results file" in missing.output
