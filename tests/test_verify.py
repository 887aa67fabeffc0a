from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import mock_run_args, needs_gpaw
from typer.testing import CliRunner

from lis_dft.analysis.energetics import best_config
from lis_dft.analysis.verification import config_energies, summarize
from lis_dft.cli import app
from lis_dft.structures.adsorbates import adsorbate_placements
from lis_dft.structures.molecules import build_molecule
from lis_dft.structures.reduced import ReducedModel, reduce_slab, reduced_height
from lis_dft.structures.validation import surface_integrity

runner = CliRunner()


def _local_distances(structure, n_slab, cutoff=4.5):
    """Sorted adsorbate-slab distances below ``cutoff`` (periodic)."""
    out = []
    for i in range(n_slab, len(structure)):
        for nb in structure.get_neighbors(structure[i], cutoff):
            if nb.index < n_slab:
                out.append(round(nb.nn_distance, 4))
    return sorted(out)


@pytest.fixture(scope="module")
def s8_placements(paper_slab):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return adsorbate_placements(paper_slab, build_molecule("S8"), "S8")


def test_reduced_model_keeps_the_local_geometry(paper_slab, s8_placements):
    n = len(paper_slab)
    model = ReducedModel()
    h = reduced_height(paper_slab, n, model)
    clean = reduce_slab(paper_slab, n, model, height=h)
    assert len(clean) == 64 and clean.composition.reduced_formula == "LiI"
    assert np.allclose(clean.lattice.abc[:2], np.array(paper_slab.lattice.abc[:2]) * 2 / 3)
    for p in s8_placements:
        red = reduce_slab(p.structure, n, model, height=h)
        assert len(red) == 72
        assert red.lattice.c == pytest.approx(clean.lattice.c)
        # every adsorbate-surface contact of the full slab is still there, same length
        assert _local_distances(red, 64) == _local_distances(p.structure, n)


def test_reduced_model_keeps_an_atom_pulled_out_of_the_surface(paper_slab):
    n = len(paper_slab)
    s = paper_slab.copy()
    top = int(np.argmax(s.cart_coords[:, 2]))
    s.translate_sites([top], [0, 0, 2.2], frac_coords=False)
    centre = s[top].frac_coords[:2]
    red = reduce_slab(s, n, ReducedModel(), centre_frac=tuple(centre))
    assert len(red) == 64
    assert red.cart_coords[:, 2].max() - np.sort(red.cart_coords[:, 2])[-2] > 2.0


def test_reduced_model_refuses_a_window_larger_than_the_slab():
    from lis_dft.errors import ParameterError

    with pytest.raises(ParameterError, match="larger than the source slab"):
        ReducedModel(repeats=(2, 2), lateral=(3, 3))


def test_surface_integrity_flags_a_pulled_out_atom(paper_slab):
    n = len(paper_slab)
    ads = paper_slab.copy()
    ads.append("S", [0.5, 0.5, 0.9])
    assert surface_integrity(paper_slab, ads, n).intact
    top = int(np.argmax(ads.cart_coords[:n, 2]))
    ads.translate_sites([top], [0, 0, 2.2], frac_coords=False)  # the S8 artifact
    check = surface_integrity(paper_slab, ads, n)
    assert not check.intact and check.displaced == [top]
    assert "reconstructed" in check.detail
    ads.translate_sites([top], [0, 0, 1.0], frac_coords=False)  # torn out of the net
    assert top in surface_integrity(paper_slab, ads, n).undercoordinated
    ads.translate_sites([top], [0, 0, -2.9], frac_coords=False)  # 0.3 Å: a normal relaxation
    assert surface_integrity(paper_slab, ads, n).intact


def test_best_config_prefers_an_intact_surface():
    configs = [
        {"id": "torn", "relaxed": True, "energy": -5.0, "intact": True, "surface_intact": False},
        {"id": "ok", "relaxed": True, "energy": -1.0, "intact": True, "surface_intact": True},
        {"id": "open", "relaxed": True, "energy": -6.0, "intact": False, "surface_intact": True},
    ]
    assert best_config(configs)["id"] == "ok"
    assert best_config(configs[:1])["id"] == "torn"  # nothing better: reported, flagged


def _energies(dft_ads, mlip_ads, cp=None):
    """Synthetic single points: slab -100, molecule -10, so E_A = E(adslab) + 110."""
    e = {
        "slab": {"kind": "slab", "dft": {"energy": -100.0}, "mlip": {"energy": -100.0}},
        "molecule/X": {"kind": "molecule", "dft": {"energy": -10.0}, "mlip": {"energy": -10.0}},
    }
    for cid in dft_ads:
        e[f"adslab/X/{cid}"] = {
            "kind": "adslab",
            "adsorbate": "X",
            "config_id": cid,
            **({"dft": {"energy": dft_ads[cid] - 110}} if dft_ads[cid] is not None else {}),
            "mlip": {"energy": mlip_ads[cid] - 110},
        }
    for key, val in (cp or {}).items():
        e[key] = {"kind": key.split("/")[0], "dft": {"energy": val[0]}, "mlip": {"energy": val[1]}}
    return e


def _results(best, ids):
    return {
        "adsorption_energies": {
            "X": {
                "eV": -1.0,
                "best_config": best,
                "configs": [{"id": i, "energy": -1.0} for i in ids],
            }
        }
    }


@pytest.mark.parametrize(
    ("dft", "mlip", "status", "text"),
    [
        ({"a": -1.05, "b": -0.5}, {"a": -1.0, "b": -0.4}, "agrees", "agrees"),
        ({"a": -0.5, "b": -0.4}, {"a": -1.0, "b": -0.2}, "overbinds", "overbinds by 0.50"),
        ({"a": -1.5, "b": -0.4}, {"a": -1.0, "b": -0.2}, "underbinds", "underbinds by 0.50"),
        ({"a": 2.85, "b": -0.47}, {"a": -3.09, "b": -1.98}, "not_confirmed", "unbound"),
        ({"a": -1.0, "b": -1.6}, {"a": -1.0, "b": -0.5}, "not_confirmed", "prefers b by 0.60"),
        ({"a": None, "b": -1.6}, {"a": -1.0, "b": -0.5}, "incomplete", "missing"),
    ],
)
def test_verdicts(dft, mlip, status, text):
    s = summarize(_energies(dft, mlip), _results("a", list(dft)), 0.2, counterpoise=False)
    v = s["adsorption"]["X"]
    assert v["status"] == status, v["verdict"]
    assert text in v["verdict"]
    if status != "incomplete":
        assert s["flagged"] == ([] if status == "agrees" else ["X"])


def test_counterpoise_and_decomposition_arithmetic():
    cp = {
        "frag/X/a/slab": (-99.5, -99.8),  # slab at the complex geometry, own basis
        "frag/X/a/molecule": (-9.9, -9.95),
        "cp/X/a/slab": (-99.7, 0.0),  # full basis (ghost molecule): lower by 0.2
        "cp/X/a/molecule": (-10.2, 0.0),  # lower by 0.3
    }
    e = _energies({"a": -1.0}, {"a": -1.2}, cp)
    c = config_energies(e, "X", "a", counterpoise=True)
    assert c["bsse_eV"] == pytest.approx(0.5)
    assert c["dft_eV"] == pytest.approx(-0.5) and c["dft_correction"] == "counterpoise"
    for m in ("dft", "mlip"):
        d = c[f"{m}_decomposition"]
        assert sum(d.values()) == pytest.approx(c[f"{m}_raw_eV"])
    assert c["dft_decomposition"]["slab_deformation_eV"] == pytest.approx(0.5)


# ------------------------------------------------------------------ commands end to end


@pytest.fixture(scope="module")
def mock_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify") / "run"
    args = mock_run_args(out)
    args += ["--supercell", "2", "2", "2", "--fixed-layers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def test_verify_end_to_end_with_the_mock_as_reference(mock_run):
    args = ["verify", str(mock_run), "-c", "mock", "--lateral", "1", "1", "--no-progress"]
    stopped = runner.invoke(app, [*args, "--max-minutes", "0"])  # a session at its limit
    assert stopped.exit_code == 0, stopped.output
    partial = json.loads((mock_run / "verify.json").read_text())
    assert not partial["complete"] and partial["timing"]["n_pending"] > 0
    assert {v["status"] for v in partial["adsorption"].values()} == {"incomplete"}
    assert "Run again to resume" in " ".join(stopped.output.split())
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    ver = json.loads((mock_run / "verify.json").read_text())
    assert ver["complete"] and set(ver["adsorption"]) == {"Li2S", "Li2S2", "S8"}
    for v in ver["adsorption"].values():
        c = v["configs"][0]
        assert c["error_eV"] == pytest.approx(0.0, abs=1e-9)  # same potential on both sides
        # the Morse mock may leave a molecule unbound: then (and only then) not confirmed
        assert v["status"] == ("not_confirmed" if c["dft_eV"] > 0 else "agrees"), v["verdict"]
        assert c["mlip_full_eV"] is not None and c["reduction_cost_eV"] is not None
    assert set(ver["formation_energies"]) >= {"Li2S", "Li2S2"}
    fe, tie = ver["formation_energies"], ver["li2s2_above_tie_line_eV_per_atom"]
    assert tie["dft"] == pytest.approx(
        fe["Li2S2"]["dft_eV_per_atom"] - 0.75 * fe["Li2S"]["dft_eV_per_atom"]
    )
    results = json.loads((mock_run / "results.json").read_text())
    assert results["verification"]["worst_status"] == ver["worst_status"]
    report = (mock_run / "report.md").read_text()
    assert "## DFT check" in report and "figures/verification.png" in report
    assert (mock_run / "figures" / "verification.png").stat().st_size > 0
    # resumable: a second verify runs no single point again
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    ver2 = json.loads((mock_run / "verify.json").read_text())
    assert ver2["timing"]["n_run"] == 0 and ver2["timing"]["n_skipped"] == ver["timing"]["n_jobs"]


def test_max_configs_one_checks_the_reported_configuration(mock_run):
    from lis_dft.dft_workflows.calculators import CalculatorSpec
    from lis_dft.dft_workflows.verify import (
        VerifySettings,
        _rederived,
        load_run,
        verification_tasks,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results, record, _ = load_run(mock_run)
    _rederived(results, record)  # flags every relaxed configuration
    configs = record["adsorbates"]["Li2S"]["configs"]
    reported = best_config(configs)
    reported.update(intact=True, surface_intact=True)
    torn = {**reported, "id": "torn", "energy": reported["energy"] - 5.0, "surface_intact": False}
    configs.append(torn)  # lower in energy, but the surface under it is torn
    settings = VerifySettings(
        dft=CalculatorSpec("mock"), model=ReducedModel((2, 2), (1, 1)), max_configs=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tasks = verification_tasks(record, settings)
    checked = [t.config_id for t in tasks if t.kind == "adslab" and t.adsorbate == "Li2S"]
    assert checked == [reported["id"]]


def test_verify_only_the_named_adsorbates(mock_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(mock_run, run)
    (run / "verify.json").unlink(missing_ok=True)
    args = ["verify", str(run), "-c", "mock", "--lateral", "1", "1", "--no-progress"]
    bad = runner.invoke(app, [*args, "--adsorbates", "S8,Li2S9"])
    assert bad.exit_code == 2
    assert "Li2S9 not in the run" in " ".join(bad.output.split())
    assert not (run / "verify.json").exists()  # nothing written
    empty = runner.invoke(app, [*args, "--adsorbates", ","])
    assert empty.exit_code == 2 and "No name" in empty.output
    assert not (run / "verify.json").exists()
    result = runner.invoke(app, [*args, "--adsorbates", "S8", "--no-bulk"])
    assert result.exit_code == 0, result.output
    ver = json.loads((run / "verify.json").read_text())
    keys = set(ver["energies"])
    assert keys == {"slab", "molecule/S8"} | {k for k in keys if k.startswith("adslab/S8/")}
    assert any(k.startswith("adslab/S8/") for k in keys)
    assert ver["adsorption"]["S8"]["configs"] and ver["adsorption"]["S8"]["status"] != "incomplete"
    for ads in ("Li2S", "Li2S2"):
        assert ver["adsorption"][ads]["status"] == "incomplete"
        assert ver["adsorption"][ads]["verdict"].startswith("not checked")
    assert "Li2S" in ver["flagged"]  # unchecked is not confirmed: said, not hidden
    # one process may take the bulk (and barriers) while others take the adsorbates
    (run / "verify.json").unlink()
    nothing = runner.invoke(app, [*args, "--no-adsorption", "--no-bulk", "--no-barriers"])
    assert nothing.exit_code == 2 and "nothing to check" in " ".join(nothing.output.split())
    assert not (run / "verify.json").exists()
    bulk_only = runner.invoke(app, [*args, "--no-adsorption"])
    assert bulk_only.exit_code == 0, bulk_only.output
    ver = json.loads((run / "verify.json").read_text())
    assert any(k.startswith("bulk/") for k in ver["energies"])
    assert not any(k.startswith(("slab", "adslab/", "frag/", "cp/")) for k in ver["energies"])
    assert {a["verdict"] for a in ver["adsorption"].values()} == {
        "not checked: left out of this verify (--no-adsorption)"
    }


def test_verify_barrier_selection():
    from lis_dft.dft_workflows.calculators import CalculatorSpec
    from lis_dft.dft_workflows.verify import VerifySettings, checked_barriers

    paths = [
        {"reaction": "Li2S -> LiS + Li", "environment": "vacuum"},
        {"reaction": "Li2S2 -> LiS2 + Li", "environment": "LiI_100"},
    ]
    spec = CalculatorSpec("mock")
    assert checked_barriers(paths, VerifySettings(dft=spec)) == paths
    assert checked_barriers(paths, VerifySettings(dft=spec, barriers=False)) == []
    only = VerifySettings(dft=spec, adsorbates=("Li2S2", "S8"))
    assert checked_barriers(paths, only) == paths[1:]
    with pytest.raises(Exception, match="at least one"):
        VerifySettings(dft=spec, adsorbates=())


def test_job_ids_ignore_the_last_bits_of_the_geometry(paper_slab):
    """A store computed on one processor is found on another (numpy's SIMD sums differ)."""
    from lis_dft.dft_workflows.calculators import CalculatorSpec
    from lis_dft.dft_workflows.verify import Task, _job_uuid, verify_flow

    calc = {"name": "gpaw", "d3": "zero", "mode": "lcao"}
    s = paper_slab.copy()
    noisy = s.copy()
    noisy.lattice = noisy.lattice.__class__(s.lattice.matrix * (1 + 1e-14))
    for i in range(len(noisy)):  # frac coords off in the last bits
        noisy.replace(i, noisy[i].species, s[i].frac_coords + 3e-15)
    moved = s.copy()
    moved.translate_sites([0], [0, 0, 1e-4], frac_coords=False)
    uid = lambda st, legacy=False: _job_uuid(Task("slab", "slab", st), "dft", calc, legacy)  # noqa: E731
    assert uid(noisy) == uid(s)  # the same geometry
    assert uid(noisy, legacy=True) != uid(s, legacy=True)  # what the old key did
    assert uid(moved) != uid(s)  # another geometry
    assert uid(s, legacy=True) != uid(s)
    # a point stored under the id of the old key is found, not computed again
    spec = CalculatorSpec("gpaw", "zero", {"mode": "lcao"})
    task = Task("slab", "slab", s)
    _, index = verify_flow([task], spec, spec, stored={uid(s, legacy=True)})
    assert index[("slab", "dft")] == uid(s, legacy=True)
    _, index = verify_flow([task], spec, spec, stored=set())
    assert index[("slab", "dft")] == uid(s)


def test_verify_refuses_a_folder_that_is_not_a_run(tmp_path):
    result = runner.invoke(app, ["verify", str(tmp_path)])
    assert result.exit_code == 2
    assert "no results.json" in " ".join(result.output.split())


def test_energy_command_on_files(tmp_path, paper_slab):
    from lis_dft.structures.bulk import lithium_iodide

    cif = tmp_path / "LiI.cif"
    lithium_iodide().to(filename=str(cif))
    xyz = tmp_path / "S8.xyz"
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    write(xyz, AseAtomsAdaptor.get_atoms(build_molecule("S8")), format="extxyz")
    result = runner.invoke(app, ["energy", str(cif), str(xyz), "-c", "mock", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["formula"] for r in data["structures"]] == ["Li1I1", "S8"]
    assert all(np.isfinite(r["energy_eV"]) for r in data["structures"])
    assert data["calculator"]["name"] == "mock"
    bad = runner.invoke(app, ["energy", str(tmp_path / "missing.cif"), "-c", "mock"])
    assert bad.exit_code == 2 and "not found" in " ".join(bad.output.split())


# ------------------------------------------------------------------------- real GPAW


@needs_gpaw
def test_gpaw_single_point_d3_and_counterpoise():
    """A real GPAW PBE + D3 LCAO calculation, and the ghost-atom basis lowering the energy."""
    from pymatgen.core import Lattice, Structure

    from lis_dft.dft_workflows.singlepoint import evaluate

    s = Structure(
        Lattice.orthorhombic(8.0, 8.0, 9.0),
        ["Li", "S", "Li"],
        [[0, 0, 0], [0, 0, 2.15], [0, 1.6, 3.5]],
        coords_are_cartesian=True,
    )
    calc = {"name": "gpaw", "d3": "zero", "mode": "lcao", "basis": "dzp"}
    whole = evaluate(s, calc)
    assert np.isfinite(whole["energy"]) and whole["max_force"] > 0
    frag = s.copy()
    frag.remove_sites([0])
    own = evaluate(frag, calc)["energy"]  # LiS radical: spin-polarised automatically
    ghosted = evaluate(s, calc, ghosts=[0])["energy"]  # same atoms + Li's basis functions
    bsse = own - ghosted
    assert 0 < bsse < 0.5  # more basis functions, variationally lower, by a little


def test_rankings_do_not_mix_corrected_and_raw_values():
    """Counterpoise done for 'a' only: ranking and verdict compare raw values."""
    cp = {
        "frag/X/a/slab": (-99.5, -99.5),
        "frag/X/a/molecule": (-10.0, -10.0),
        "cp/X/a/slab": (-99.9, 0.0),
        "cp/X/a/molecule": (-10.35, 0.0),  # BSSE 0.75: corrected E_A(a) = -1.35
    }
    e = _energies({"a": -2.1, "b": -1.6}, {"a": -1.9, "b": -1.7}, cp)
    v = summarize(e, _results("a", ["a", "b"]), 0.2, counterpoise=True)["adsorption"]["X"]
    assert v["ranking_basis"] == "dft_raw_eV" and v["ranking_dft"] == ["a", "b"]
    assert "prefers" not in v["verdict"] and "overbinds by 0.55" in v["verdict"]


def test_barriers_outside_the_tolerance_are_flagged():
    from lis_dft.analysis.verification import summarize

    def point(mlip, dft):
        return {"mlip": {"energy": mlip}, "dft": {"energy": dft}, "n_atoms": 68}

    energies = {
        "neb/Li2S/LiI_100/initial": point(0.0, 0.0),
        "neb/Li2S/LiI_100/ts": point(1.52, 2.27),  # the potential 0.75 eV lower
        "neb/Li2S/LiI_100/final": point(1.52, 2.27),
        "neb/Li2S/vacuum/initial": point(0.0, 0.0),
        "neb/Li2S/vacuum/ts": point(3.0, 2.9),  # within 0.2 eV
        "neb/Li2S/vacuum/final": point(3.0, 2.9),
    }
    results = {
        "adsorption_energies": {},
        "barriers": [
            {"reaction": "Li2S -> LiS + Li", "environment": env, "forward_eV": 1.0}
            for env in ("LiI_100", "vacuum")
        ],
    }
    s = summarize(energies, results, 0.2, counterpoise=False)
    assert s["flagged_barriers"] == ["Li2S -> LiS + Li (LiI_100): too low by 0.75 eV"]
    assert summarize(energies, results, 0.2, False, barriers=False)["flagged_barriers"] == []
