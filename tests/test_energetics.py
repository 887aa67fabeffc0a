"""Energetics against hand calculations on a made-up energy record."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Molecule, Structure

from lis_dft.analysis import energetics as en
from lis_dft.analysis.results import build_results, results_rows


def _s(formula_species, n=1):
    species = [sp for sp, k in formula_species for _ in range(k)] * n
    coords = [[i / len(species), 0.3 * (i % 2), 0.1 * (i % 3)] for i in range(len(species))]
    return Structure(Lattice.cubic(3.0 * len(species)), species, coords)


def _mol(species):
    return Molecule(species, [[2.5 * i, 0, 0] for i in range(len(species))]).get_boxed_structure(
        30, 20, 20
    )


@pytest.fixture
def record():
    # mu_Li = -1.9, mu_S = -4.1, mu_I = -1.5
    return {
        "bulk": {
            "Li": {"energy": -3.8, "structure": _s([("Li", 2)])},
            "S": {"energy": -4.1 * 32, "structure": _s([("S", 32)])},
            "Li2S": {"energy": 3 * -4.0, "structure": _s([("Li", 2), ("S", 1)])},  # 1 f.u.
            "Li2S2": {
                "energy": 2 * (2 * -1.9 + 2 * -4.1 - 1.6),
                "structure": _s([("Li", 2), ("S", 2)], 2),
            },
            "LiI": {"energy": 2 * (-1.9 - 1.5 - 2.7), "structure": _s([("Li", 1), ("I", 1)], 2)},
        },
        "molecules": {
            "Li2S": {"energy": 2 * -1.9 - 4.1 - 1.2, "structure": _mol(["Li", "S", "Li"])},
            "Li2S2": {
                "energy": 2 * -1.9 + 2 * -4.1 - 0.8,
                "structure": _mol(["Li", "S", "S", "Li"]),
            },
            "S8": {"energy": 8 * -4.1 + 0.4, "structure": _mol(["S"] * 8)},
            "I2": {"energy": -3.0, "structure": _mol(["I", "I"])},
        },
        "slab": {"energy": -500.0},
        "adsorbates": {
            "Li2S": {
                "configs": [
                    {
                        "id": "a",
                        "site": "top_I",
                        "orientation": "flat-r0",
                        "screen_energy": -1.0,
                        "relaxed": True,
                        "energy": -500.0 + (2 * -1.9 - 4.1 - 1.2) - 1.5,
                    },
                    {
                        "id": "b",
                        "site": "hollow",
                        "orientation": "flat-r0",
                        "screen_energy": -0.5,
                        "relaxed": True,
                        "energy": -500.0 + (2 * -1.9 - 4.1 - 1.2) - 1.1,
                    },
                    {
                        "id": "c",
                        "site": "top_Li",
                        "orientation": "flat-r0",
                        "screen_energy": 0.2,
                        "relaxed": False,
                    },
                ]
            },
            "Li2S2": {
                "configs": [
                    {
                        "id": "x",
                        "site": "hollow",
                        "orientation": "flat-r0",
                        "screen_energy": -1.0,
                        "relaxed": True,
                        "energy": -500.0 + (2 * -1.9 + 2 * -4.1 - 0.8) - 0.9,
                    },
                ]
            },
            "S8": {
                "configs": [
                    {
                        "id": "y",
                        "site": "hollow",
                        "orientation": "flat-r0",
                        "screen_energy": -0.3,
                        "relaxed": True,
                        "energy": -500.0 + 8 * -4.1 + 0.4 - 0.6,
                    },
                ]
            },
        },
    }


def test_chemical_potentials(record):
    mu = en.chemical_potentials(record)
    assert mu == pytest.approx({"Li": -1.9, "S": -4.1, "I": -1.5})


def test_bulk_formation_energies_by_hand(record):
    ef = en.bulk_formation_energies(record, en.chemical_potentials(record))
    # Li2S: E = -12 for Li2S; E_f = -12 - (2 * -1.9 - 4.1) = -4.1 eV/f.u.
    assert ef["Li2S"]["eV_per_fu"] == pytest.approx(-4.1)
    assert ef["Li2S"]["eV_per_atom"] == pytest.approx(-4.1 / 3)
    # Li2S2: two f.u. each 1.6 eV below the elements: per f.u. is Li2S2, not LiS
    assert ef["Li2S2"]["eV_per_fu"] == pytest.approx(-1.6)
    assert ef["Li2S2"]["eV_per_atom"] == pytest.approx(-0.4)
    assert ef["LiI"]["eV_per_fu"] == pytest.approx(-2.7)


def test_adsorption_energy_picks_lowest_relaxed(record):
    ea = en.adsorption_energies(record)
    assert ea["Li2S"]["eV"] == pytest.approx(-1.5)
    assert ea["Li2S"]["best_config"] == "a"
    assert len(ea["Li2S"]["configs"]) == 3
    assert ea["Li2S"]["configs"][2]["energy"] is None  # not relaxed
    assert ea["S8"]["eV"] == pytest.approx(-0.6)


def test_near_degenerate_configurations_report_the_first_placement():
    def cfg(cid, energy):
        return {"id": cid, "relaxed": True, "energy": energy, "intact": True}

    # 3 meV apart: degenerate, the first placement is reported whichever is lower
    tied = [cfg("hollow-flat-r0", -100.000), cfg("hollow-flat-r45", -100.003)]
    assert en.best_config(tied)["id"] == "hollow-flat-r0"
    assert en.best_config(tied[::-1])["id"] == "hollow-flat-r45"  # order, not energy
    assert [c["id"] for c in en.degenerate_configs(tied)] == ["hollow-flat-r0", "hollow-flat-r45"]
    # beyond the tolerance the lowest wins, and nothing is degenerate with it
    apart = [cfg("top_Li", -100.0), cfg("hollow", -100.0 - 2 * en.DEGENERATE_EV)]
    assert en.best_config(apart)["id"] == "hollow"
    assert en.best_config(tied, tolerance=0.0)["id"] == "hollow-flat-r45"
    # an unsound configuration is never degenerate with a sound one
    broken = [{**cfg("torn", -100.005), "surface_intact": False}, cfg("ok", -100.0)]
    assert [c["id"] for c in en.degenerate_configs(broken)] == ["ok"]


def test_results_list_the_configurations_degenerate_with_the_reported_one(record):
    assert en.adsorption_energies(record)["Li2S"]["degenerate_configs"] == []
    a, b = record["adsorbates"]["Li2S"]["configs"][:2]
    b["energy"] = a["energy"] - en.DEGENERATE_EV / 2  # b now 5 meV below a
    ea = en.adsorption_energies(record)["Li2S"]
    assert ea["best_config"] == "a" and ea["degenerate_configs"] == ["b"]
    assert ea["eV"] == pytest.approx(-1.5)  # the reported configuration's own E_A


def test_report_names_the_degenerate_configurations():
    import json
    from pathlib import Path

    from lis_dft.analysis.report import render_report

    run = Path(__file__).parents[1] / "benchmarks" / "default_run_ft7" / "results.json"
    results = json.loads(run.read_text())
    li2s2 = results["adsorption_energies"]["Li2S2"]
    li2s2["best_config"], li2s2["degenerate_configs"] = "hollow-flat-r0", ["hollow-flat-r45"]
    text = render_report(results, {})
    assert "| hollow-flat-r0 (degenerate within 0.01 eV: hollow-flat-r45) |" in text
    li2s2["degenerate_configs"] = []
    assert "degenerate within" not in render_report(results, {})


def test_vacuum_and_surface_formation(record):
    mu = en.chemical_potentials(record)
    vac = en.molecule_formation_energies(record, mu)
    assert vac["Li2S"]["eV_per_fu"] == pytest.approx(-1.2)
    assert vac["S8"]["eV_per_atom"] == pytest.approx(0.05)
    surf = en.surface_formation_energies(record, mu)
    # on the surface: vacuum value + adsorption energy
    assert surf["Li2S"]["eV_per_fu"] == pytest.approx(-1.2 - 1.5)
    assert surf["Li2S"]["eV_per_atom"] == pytest.approx((-1.2 - 1.5) / 3)
    assert surf["Li2S2"]["eV_per_fu"] == pytest.approx(-0.8 - 0.9)


def test_landscape_by_hand(record):
    mu = en.chemical_potentials(record)
    bulk = en.bulk_formation_energies(record, mu)
    land = en.landscapes(
        bulk, en.molecule_formation_energies(record, mu), en.surface_formation_energies(record, mu)
    )
    b = land["bulk"]
    # per S: g(Li2S) = -4.1, g(Li2S2) = -0.8, g(S) = 0
    assert [s["energy_per_S"] for s in b["states"]] == pytest.approx([0.0, 3.3, 4.1])
    assert [s["dE_eV_per_Li"] for s in b["steps"]] == pytest.approx([3.3, 0.8])
    assert b["limiting_step"] == "Li2S -> Li2S2"
    assert b["onset_potential_V_vs_Li"] == pytest.approx(3.3)
    v = land["LiI_100"]
    # g(Li2S) = -2.7, g(Li2S2) = -1.7 / 2 = -0.85, g(S8) = (0.4 - 0.6) / 8 = -0.025
    assert [s["dE_eV_per_Li"] for s in v["steps"]] == pytest.approx([1.85, 0.825])


def test_missing_reference_gives_no_landscape():
    assert en.oxidation_landscape({"Li2S": -1.0, "Li2S2": -1.0}) is None


def test_results_schema_and_csv(record):
    res = build_results(
        record,
        {"name": "x", "model": "m", "version": "1", "d3": {"damping": "none"}},
        {},
        {"packages": {}},
    )
    for key in (
        "schema_version",
        "calculator",
        "references",
        "formation_energies",
        "adsorption_energies",
        "surface_formation_energies",
        "landscape",
        "definitions",
        "provenance",
    ):
        assert key in res
    assert set(res["references"]["Li2S"]) >= {"energy_per_atom", "volume_per_atom", "lattice"}
    rows = results_rows(res)
    assert any(
        r["quantity"] == "adsorption_energy"
        and r["species"] == "Li2S"
        and r["value"] == pytest.approx(-1.5)
        for r in rows
    )


def test_decomposed_adsorbate_is_flagged_and_not_preferred():
    """An S8 whose ring opened must not be reported as S8 adsorption when an intact one exists."""
    from pymatgen.core import Lattice, Structure

    from lis_dft.structures.molecules import s8_crown

    slab = Structure(Lattice.tetragonal(20.0, 30.0), ["Li", "I"], [[0, 0, 0.1], [0.15, 0, 0.1]])
    ring = s8_crown()
    intact = slab.copy()
    for site in ring:
        intact.append("S", site.coords + np.array([10, 10, 12]), coords_are_cartesian=True)
    broken = slab.copy()
    for i, site in enumerate(ring):
        shift = [10, 10, 12] if i < 4 else [14, 14, 12]  # half the ring moved 5.7 Å away
        broken.append("S", site.coords + np.array(shift), coords_are_cartesian=True)
    record = {
        "slab": {"energy": -10.0, "structure": slab},
        "molecules": {"S8": {"energy": -33.0, "structure": intact}},
        "adsorbates": {
            "S8": {
                "configs": [
                    {
                        "id": "ok",
                        "site": "hollow",
                        "orientation": "flat-r0",
                        "screen_energy": -0.5,
                        "relaxed": True,
                        "energy": -44.0,
                        "structure": intact,
                    },
                    {
                        "id": "opened",
                        "site": "top_Li",
                        "orientation": "flat-r0",
                        "screen_energy": -0.2,
                        "relaxed": True,
                        "energy": -48.0,
                        "structure": broken,
                    },
                ]
            }
        },
    }
    ea = en.adsorption_energies(record)["S8"]
    assert ea["best_config"] == "ok" and ea["best_config_intact"] is True
    assert ea["eV"] == pytest.approx(-1.0)
    flags = {c["id"]: c["intact"] for c in ea["configs"]}
    assert flags == {"ok": True, "opened": False}
    # with only the broken one relaxed, it is reported but flagged
    record["adsorbates"]["S8"]["configs"] = record["adsorbates"]["S8"]["configs"][1:]
    for c in record["adsorbates"]["S8"]["configs"]:
        c.pop("intact", None)
    only = en.adsorption_energies(record)["S8"]
    assert only["best_config"] == "opened" and only["best_config_intact"] is False


def test_energy_record_is_checked_at_the_boundary():
    from lis_dft.analysis.records import RecordError, validate_record
    from lis_dft.analysis.results import build_results

    good = {"bulk": {"Li": {"energy": -1.9, "composition": "Li"}}, "molecules": {}}
    out = validate_record(good)
    assert out is good  # checked in place: the analysis annotates it, verify reads that
    for bad, where in (
        ({"bulk": {"Li": {"energy": "lots"}}, "molecules": {}}, "bulk.Li.energy"),
        ({"bulk": {}, "molecules": {}, "adsorbates": {"S8": {"configs": [{}]}}}, "configs.0.id"),
        ({"molecules": {}}, "bulk"),
        ({"bulk": {"Li": {"energy": float("nan")}}, "molecules": {}}, "finite"),
    ):
        with pytest.raises(RecordError, match=where):
            validate_record(bad)
        with pytest.raises(RecordError):
            build_results(bad, calculator={}, settings={}, provenance={})
