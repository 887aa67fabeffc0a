"""Delithiation barriers: path checks, end points, and CI-NEB end to end on the mock."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from conftest import mock_run_args
from pymatgen.core import Structure
from typer.testing import CliRunner

from lis_dft.analysis.barriers import RIPPLE, analyse_path, path_coordinate
from lis_dft.cli import app
from lis_dft.errors import ParameterError
from lis_dft.structures.adsorbates import adsorbate_placements
from lis_dft.structures.delithiation import (
    DETACHED_LI_S,
    li_detached,
    reaction_label,
    surface_final_states,
    vacuum_final_state,
)
from lis_dft.structures.molecules import boxed, build_molecule

runner = CliRunner()
R = "Li2S -> LiS + Li"


def _analyse(energies, ts_force=0.01, **kw):
    return analyse_path(R, "LiI_100", energies, energies[0], energies[-1], ts_force, 0.05, **kw)


def test_a_converged_interior_maximum_is_a_saddle():
    r = _analyse([-10.0, -9.6, -9.2, -9.5, -9.8], imaginary_modes_cm=[412.0])
    assert r.is_saddle and r.ts_index == 2
    assert r.forward_eV == pytest.approx(0.8) and r.reverse_eV == pytest.approx(0.6)
    assert r.reaction_eV == pytest.approx(0.2)
    assert "412i" in r.verdict


@pytest.mark.parametrize(("overlap", "saddle"), [(0.9, True), (0.6, True), (0.02, False)])
def test_the_one_imaginary_mode_must_lie_along_the_path(overlap, saddle):
    r = _analyse([0.0, 0.4, 0.8, 0.3], imaginary_modes_cm=[74.0], mode_path_overlap=overlap)
    assert r.is_saddle is saddle
    assert r.mode_path_overlap == overlap
    if not saddle:
        assert "lies across the path" in r.verdict


@pytest.mark.parametrize(
    ("energies", "ts_force", "modes", "why"),
    [
        ([0.0, 0.5, 0.5, 0.2], 0.01, None, "not above both neighbours"),  # a plateau
        ([0.0, 0.3, 0.6, 0.9], 0.01, None, "rises to the final state"),  # highest = end point
        ([0.0, 1.0, 3.03, 3.02], 0.01, [300.0], "rises to the final state"),  # a 10 meV ripple
        ([0.0, -0.2, -0.4, -0.1], 0.01, None, "below the initial state"),
        ([0.0, 0.4, 0.8, 0.3], 0.40, None, "not converged"),  # climbing image not converged
        ([0.0, 0.4, 0.8, 0.3], 0.01, [400.0, 150.0], "2 imaginary modes"),
    ],
)
def test_a_non_maximum_or_unconverged_climbing_image_is_no_saddle(energies, ts_force, modes, why):
    r = _analyse(energies, ts_force, imaginary_modes_cm=modes)
    assert not r.is_saddle
    assert why in r.verdict


@pytest.mark.parametrize(
    ("energies", "climb"),
    [
        ([0.0, 0.4, 0.8, 0.3], True),  # an interior maximum
        ([0.0, 0.3, 0.6, 0.9], False),  # rises to the final state
        ([0.0, 1.0, 3.03, 3.02], False),  # a 10 meV ripple above the final state
        ([0.0, 0.02, 0.03, -0.5], True),  # a small but real maximum, then downhill
        ([0.0, -0.2, -0.4, -0.1], False),  # every image below the initial state
    ],
)
def test_the_climbing_stage_runs_only_when_the_path_has_a_maximum(energies, climb):
    from lis_dft.dft_workflows.barriers import has_interior_maximum

    assert has_interior_maximum(energies) is climb
    # the same rule as the analysis: a climbed path can be a saddle, a skipped one cannot
    assert _analyse(energies).ts_index not in (0, len(energies) - 1) or not climb


def test_an_unknown_neb_optimizer_is_refused():
    from lis_dft.dft_workflows.barriers import BarrierSettings

    with pytest.raises(ParameterError, match="NEB optimizer must be one of"):
        BarrierSettings(optimizer="Adam")
    assert BarrierSettings(optimizer="ODE").optimizer == "ODE"
    with pytest.raises(ParameterError, match="climbing-image optimizer must be one of"):
        BarrierSettings(climb_optimizer="Adam")


class _Valley(Calculator):
    """One atom on a bent, tilted double well: the minimum-energy path is curved."""

    implemented_properties = ("energy", "forces")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        x, y, z = self.atoms.positions[0]
        v = y - 0.8 * (1 - x * x)
        e = (x * x - 1) ** 2 + 0.4 * x + 2 * v * v + z * z
        fx = -(4 * x * (x * x - 1) + 0.4 + 6.4 * v * x)
        self.results = {"energy": e, "forces": np.array([[fx, -4 * v, -2 * z]])}


def test_the_ode_climbing_stage_converges_the_climbing_image():
    """ASE's NEBOptimizer alone stops at once on a relaxed band: its residual skips the
    climbing image. lis-dft's ODE tests every image's NEB forces and climbs to the saddle."""
    from ase import Atoms
    from ase.mep.neb import NEB, NEBOptimizer

    from lis_dft.dft_workflows.barriers import _max_atom_force, _neb_optimizers

    def relaxed_band():
        images = []
        for x in np.linspace(-1.05, 0.95, 7):
            atoms = Atoms("H", positions=[[x, 0.0, 0.0]], cell=[20, 20, 20])
            atoms.calc = _Valley()
            images.append(atoms)
        plain = NEB(images, k=0.1, method="improvedtangent")
        NEBOptimizer(plain, logfile=None).run(fmax=1e-3, steps=500)
        return images

    def climb(optimizer):
        images = relaxed_band()
        neb = NEB(images, k=0.1, climb=True, method="improvedtangent")
        optimizer(neb, logfile=None).run(fmax=0.01, steps=500)
        top = neb.get_forces().reshape(len(images) - 2, 3)[neb.imax - 1]
        return _max_atom_force(top), images[neb.imax].get_forces()

    ase_residual, _ = climb(NEBOptimizer)
    assert ase_residual > 0.1  # the failure this guards against: "converged" at step 0
    lis_residual, true_force = climb(_neb_optimizers()["ODE"])
    assert lis_residual < 0.01
    assert _max_atom_force(true_force) < 0.01  # the climbing image sits on the saddle


class _ScriptedNeb:
    """A stand-in NEB whose energies an optimizer step sets from a script."""

    energies = None


def _scripted_optimizer(paths):
    class Scripted:
        def __init__(self, neb, logfile=None):
            self.neb, self.nsteps = neb, 0

        def call_observers(self):
            pass

        def run(self, fmax=0.05, steps=100):
            for energies in paths:
                self.neb.energies = np.array(energies)
                self.nsteps += 1
                self.call_observers()
            return True

    return Scripted


def test_the_climbing_stage_stops_once_the_top_image_reaches_the_final_state():
    """The budget run's Li2S2/LiI(100) climb spent 1054 calls dragging a ripple onto the
    final state; the stage now stops at the first step whose path has no maximum left."""
    from lis_dft.dft_workflows.barriers import stop_when_no_maximum

    paths = [
        [0.0, 0.5, 1.2, 1.0],  # a maximum 0.2 eV above the final state: climb on
        [0.0, 0.5, 1.0 + RIPPLE / 2, 1.0],  # within the ripple: nothing left to climb to
        [0.0, 0.5, 1.01, 1.0],  # never reached
    ]
    stopped = {}
    optimizer = stop_when_no_maximum(_scripted_optimizer(paths), stopped)(_ScriptedNeb())
    assert optimizer.run() is False  # stopped, not converged
    assert optimizer.nsteps == 2
    assert stopped == {"step": 2, "energies": paths[1]}

    kept = {}
    steady = [[0.0, 0.5, 1.2, 1.0], [0.0, 0.6, 1.3, 1.0]]
    optimizer = stop_when_no_maximum(_scripted_optimizer(steady), kept)(_ScriptedNeb())
    assert optimizer.run() is True and optimizer.nsteps == 2 and kept == {}


def test_the_stopping_climb_still_climbs_to_a_real_saddle():
    from ase import Atoms
    from ase.mep.neb import NEB, NEBOptimizer

    from lis_dft.dft_workflows.barriers import (
        _max_atom_force,
        _neb_optimizers,
        stop_when_no_maximum,
    )

    images = []
    for x in np.linspace(-1.05, 0.95, 7):
        atoms = Atoms("H", positions=[[x, 0.0, 0.0]], cell=[20, 20, 20])
        atoms.calc = _Valley()
        images.append(atoms)
    NEBOptimizer(NEB(images, k=0.1, method="improvedtangent"), logfile=None).run(
        fmax=1e-3, steps=500
    )
    stopped = {}
    neb = NEB(images, k=0.1, climb=True, method="improvedtangent")
    optimizer = stop_when_no_maximum(_neb_optimizers()["ODE"], stopped)
    assert optimizer(neb, logfile=None).run(fmax=0.01, steps=500)
    assert stopped == {}
    assert _max_atom_force(images[neb.imax].get_forces()) < 0.01


def test_swapped_end_points_are_refused():
    energies = [-9.8, -9.5, -9.2, -9.6, -10.0]  # runs from the final state to the initial one
    with pytest.raises(ParameterError, match="swapped"):
        analyse_path(R, "vacuum", energies, -10.0, -9.8, 0.01, 0.05)


@pytest.mark.parametrize("energies", [[-10.0, -9.8], [-10.0, None, -9.8], []])
def test_a_missing_end_point_or_image_is_refused(energies):
    with pytest.raises(ParameterError, match="both end points"):
        analyse_path(R, "vacuum", energies, -10.0, -9.8, 0.01, 0.05)


def test_a_path_from_other_end_points_is_refused():
    with pytest.raises(ParameterError, match="not the relaxed end point"):
        analyse_path(R, "vacuum", [-10.0, -9.0, -9.5], -10.0, -9.8, 0.01, 0.05)


def test_path_coordinate_is_cumulative_distance():
    pos = [
        np.zeros((2, 3)),
        np.array([[3.0, 0, 0], [0, 4.0, 0]]),
        np.array([[3.0, 0, 0], [0, 4.0, 1.0]]),
    ]
    assert path_coordinate(pos) == pytest.approx([0.0, 5.0, 6.0])


def test_vacuum_final_state_pulls_one_li_away_and_holds_it():
    mol = boxed(build_molecule("Li2S"), 15.0)
    fs = vacuum_final_state(mol, separation=5.0)
    assert li_detached(fs.structure, fs.li_index) == pytest.approx(5.0, abs=1e-6)
    sd = fs.structure.site_properties["selective_dynamics"]
    held = {i for i, x in enumerate(sd) if not any(x)}
    s_idx = {i for i, site in enumerate(fs.structure) if site.specie.symbol == "S"}
    assert held == {fs.li_index} | s_idx  # the other Li relaxes
    assert reaction_label("Li2S2") == "Li2S2 -> LiS2 + Li"
    with pytest.raises(KeyError, match="known"):
        reaction_label("S8")


def test_surface_final_states_detach_the_li_nearest_first(small_slab):
    n_slab = len(small_slab)
    placement = adsorbate_placements(small_slab, build_molecule("Li2S"), "Li2S")[0]
    cands = surface_final_states(placement.structure, n_slab)
    assert cands
    disp = [c.displacement for c in cands]
    assert disp == sorted(disp)
    for c in cands:
        s = c.structure
        assert li_detached(s, c.li_index, n_slab) >= 5.5 > DETACHED_LI_S
        others = [k for k in range(len(s)) if k != c.li_index]
        assert min(s.get_distance(c.li_index, k) for k in others) >= 2.2 - 1e-6
    with pytest.raises(ValueError, match="no Li"):
        surface_final_states(
            Structure.from_sites([*placement.structure.sites[:n_slab], placement.structure[-1]]),
            n_slab,
        )


def test_surface_final_states_fall_back_to_the_farthest_site(small_slab):
    n_slab = len(small_slab)
    placement = adsorbate_placements(small_slab, build_molecule("Li2S"), "Li2S")[0]
    assert all(c.rule == "nearest site" for c in surface_final_states(placement.structure, n_slab))
    cands = surface_final_states(placement.structure, n_slab, min_li_s=100.0)  # none that far
    assert cands and all(c.rule.startswith("fallback") for c in cands)
    d = [li_detached(c.structure, c.li_index, n_slab) for c in cands]
    assert d == sorted(d, reverse=True) and d[-1] > DETACHED_LI_S
    assert cands[0].as_dict()["rule"] == "fallback: farthest site"
    with pytest.raises(ValueError, match="larger supercell"):
        surface_final_states(placement.structure, n_slab, min_li_s=100.0, min_contact=100.0)


def test_when_every_li_falls_back_the_error_names_an_option_that_exists(small_slab, monkeypatch):
    from lis_dft.dft_workflows import barriers

    n_slab = len(small_slab)
    placement = adsorbate_placements(small_slab, build_molecule("Li2S"), "Li2S")[0]
    cands = surface_final_states(placement.structure, n_slab)
    monkeypatch.setattr(barriers, "li_detached", lambda *a: 2.1)  # every Li falls back
    settings = barriers.BarrierSettings(max_tries=2, steps=2)
    monkeypatch.setattr(barriers, "PROBE_STEPS", 1)
    assert len(cands) > 4
    with pytest.raises(ParameterError, match=r"tried \(2 of \d+.*--max-tries 4") as err:
        barriers.relax_final_state(cands, {"name": "mock", "d3": "none"}, n_slab, settings)
    assert "--slab full" in str(err.value)
    every = barriers.BarrierSettings(max_tries=len(cands), steps=2)
    with pytest.raises(ParameterError, match="no more candidates") as err:
        barriers.relax_final_state(cands, {"name": "mock", "d3": "none"}, n_slab, every)
    assert "--max-tries" not in str(err.value)
    # and the option it names is there
    result = runner.invoke(app, ["barriers", "--help"])
    assert "--max-tries" in result.output
    with pytest.raises(ParameterError, match="max-tries"):
        barriers.BarrierSettings(max_tries=0)


def test_surface_paths_start_on_the_reduced_model(paper_slab):
    from lis_dft.dft_workflows.barriers import reduced_initial
    from lis_dft.structures.reduced import ReducedModel

    placement = adsorbate_placements(paper_slab, build_molecule("Li2S"), "Li2S")[0]
    red, n_slab = reduced_initial(placement.structure, paper_slab, ReducedModel((3, 3)), 2)
    assert n_slab == 64 and len(red) == 67
    sd = red.site_properties["selective_dynamics"]
    assert sum(not any(x) for x in sd) == 32  # two of the four layers held
    assert all(all(x) for x in sd[n_slab:])  # the adsorbate is free
    assert red.composition["S"] == 1 and red.composition["I"] == 32


@pytest.fixture(scope="module")
def mock_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("barriers") / "run"
    args = mock_run_args(out, "--supercell", "2", "2", "2", "--fixed-layers", "1")
    args += ["--species", "Li2S"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def test_barriers_end_to_end_on_the_mock(mock_run):
    args = [
        "barriers",
        str(mock_run),
        "--images",
        "3",
        "--steps",
        "40",
        "--no-modes",
        "--no-progress",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    res = json.loads((mock_run / "results.json").read_text())
    rows = {r["environment"]: r for r in res["barriers"]}
    assert set(rows) == {"vacuum", "LiI_100"}
    for r in rows.values():
        assert r["reaction"] == R and len(r["energies"]) == 5 and r["energies"][0] == 0.0
        assert r["forward_eV"] == pytest.approx(r["energies"][r["ts_index"]])
        assert max(r["energies"]) - r["forward_eV"] < RIPPLE  # at most a ripple above it
        assert r["reaction_eV"] == pytest.approx(r["energies"][-1])
        assert r["calculator"]["name"] == "mock" and r["settings"]["n_images"] == 3
        for key in ("path", "initial", "ts", "final"):
            assert (mock_run / r["files"][key]).is_file()
        assert (mock_run / r["files"]["ts"]).with_suffix(".POSCAR").is_file()
        assert r["final_state"]["chosen"]["relaxed_li_s_A"] >= DETACHED_LI_S
        # plain NEB first; the climbing stage only if that path has a maximum to climb to
        assert r["neb_stages"][0]["climb"] is False and r["neb_stages"][0]["force_calls"] > 0
        assert r["climbed"] == (len(r["neb_stages"]) == 2)
    assert rows["LiI_100"]["initial_config"] == res["adsorption_energies"]["Li2S"]["best_config"]
    # the mock's 40 steps do not converge a climbing image: said, not hidden
    assert all(r["is_saddle"] == r["verdict"].startswith("saddle") for r in rows.values())
    assert (mock_run / "figures" / "neb_Li2S.png").stat().st_size > 0
    report = (mock_run / "report.md").read_text()
    assert "## Delithiation barriers" in report and "figures/neb_Li2S.png" in report
    assert ("No climbing stage" in report) == any(not r["climbed"] for r in rows.values())
    # resumable: a second call recomputes nothing and keeps the block
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert json.loads((mock_run / "results.json").read_text())["barriers"] == res["barriers"]


def test_vasp_neb_inputs_from_the_computed_paths(mock_run, tmp_path):
    from pymatgen.io.vasp import Incar, Poscar

    args = ["barriers", str(mock_run), "--images", "3", "--steps", "40", "--no-modes"]
    result = runner.invoke(app, [*args, "--no-progress", "--vasp-inputs", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "c" / "neb" / "neb.json").read_text())
    assert set(manifest["paths"]) == {"Li2S_vacuum", "Li2S_LiI_100"}
    for name, m in manifest["paths"].items():
        folder = tmp_path / "c" / m["folder"]
        incar = Incar.from_file(folder / "INCAR")
        assert incar["IMAGES"] == 3 and incar["LCLIMB"] and incar["IBRION"] == 3
        assert incar["IVDW"] == 11 and incar["ENCUT"] == 600
        posc = [Poscar.from_file(folder / f"{i:02d}" / "POSCAR") for i in range(5)]
        assert len({len(p.structure) for p in posc}) == 1
        if name.endswith("LiI_100"):  # the fixed slab layers stay fixed in VASP
            assert posc[2].selective_dynamics is not None
    plain = runner.invoke(
        app, [*args, "--no-progress", "--vasp-inputs", str(tmp_path / "p"), "--no-vtst"]
    )
    assert plain.exit_code == 0, plain.output
    incar = Incar.from_file(tmp_path / "p" / "neb" / "Li2S_vacuum" / "INCAR")
    assert "LCLIMB" not in incar and incar["IBRION"] == 2


def test_parse_neb_reads_image_runs_and_flags_a_missing_end_point(tmp_path):
    import shutil
    from pathlib import Path

    from lis_dft.vasp.neb import parse_neb

    real = Path(__file__).parent / "test_data" / "vasp_outputs" / "completed" / "vasprun.xml.gz"
    neb = tmp_path / "neb" / "Li2S_vacuum"
    for i in range(5):  # byte copies of one real run (atomate2's mock-VASP way)
        (neb / f"{i:02d}").mkdir(parents=True)
        shutil.copy(real, neb / f"{i:02d}" / "vasprun.xml.gz")
    p = parse_neb(neb, R, "vacuum")
    assert [i["verdict"] for i in p["images"]] == ["ok"] * 5
    assert p["barrier"] is not None and not p["barrier"]["is_saddle"]  # a flat path is no saddle
    (neb / "00" / "vasprun.xml.gz").unlink()
    p = parse_neb(neb, R, "vacuum")
    assert p["barrier"] is None and "00: end point missing" in p["verdict"]


def test_verify_checks_the_barriers_on_the_same_geometries(mock_run):
    args = ["barriers", str(mock_run), "--images", "3", "--steps", "40", "--no-modes"]
    assert runner.invoke(app, [*args, "--no-progress"]).exit_code == 0
    result = runner.invoke(
        app, ["verify", str(mock_run), "-c", "mock", "--lateral", "1", "1", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    ver = json.loads((mock_run / "verify.json").read_text())
    rows = {b["environment"]: b for b in ver["barriers"]}
    assert set(rows) == {"vacuum", "LiI_100"}
    for b in rows.values():  # the same potential on both sides: the same barrier
        assert b["forward_error_eV"] == pytest.approx(0.0, abs=1e-9)
        assert b["status"] == "agrees"
    # in vacuum the single points are the path's own geometries: the run's barrier again
    assert rows["vacuum"]["dft_forward_eV"] == pytest.approx(rows["vacuum"]["run_forward_eV"])
    # all three surface points hold the same atoms (one reduced-model window)
    keys = [f"neb/Li2S/LiI_100/{p}" for p in ("initial", "ts", "final")]
    assert len({ver["energies"][k]["n_atoms"] for k in keys}) == 1
    assert "Barriers at the potential's path" in (mock_run / "report.md").read_text()


def test_barriers_refuse_a_folder_that_is_not_a_run(tmp_path):
    result = runner.invoke(app, ["barriers", str(tmp_path)])
    assert result.exit_code != 0 and "results.json" in result.output


def test_verify_computes_a_geometry_once_when_the_ts_is_an_end_point():
    from lis_dft.dft_workflows.calculators import CalculatorSpec
    from lis_dft.dft_workflows.verify import Task, verify_flow

    mol = boxed(build_molecule("Li2S"), 10.0)
    tasks = [
        Task("neb/Li2S/vacuum/initial", "neb", mol.copy()),
        Task("neb/Li2S/vacuum/ts", "neb", vacuum_final_state(mol).structure),
        Task("neb/Li2S/vacuum/final", "neb", vacuum_final_state(mol).structure),
    ]
    spec = CalculatorSpec("mock", "none")
    flow, index = verify_flow(tasks, spec, spec)
    assert len(flow.jobs) == 2 * 2  # mlip + dft, for two distinct geometries
    for m in ("mlip", "dft"):
        assert index[("neb/Li2S/vacuum/ts", m)] == index[("neb/Li2S/vacuum/final", m)]


def test_a_final_state_on_another_periodic_image_joins_the_path():
    from pymatgen.core import Lattice

    from lis_dft.dft_workflows.barriers import continuous

    lat = Lattice.from_parameters(10, 10, 20, 90, 90, 90)
    frac = [[0.50, 0.5, 0.3], [0.90, 0.5, 0.3]]
    images = [Structure(lat, ["S", "Li"], frac)]
    for x in (0.94, 0.98):
        images.append(Structure(lat, ["S", "Li"], [[0.50, 0.5, 0.3], [x, 0.5, 0.3]]))
    # the relaxed final state holds the Li on the next periodic image (wrapped into the cell)
    images.append(Structure(lat, ["S", "Li"], [[0.50, 0.5, 0.3], [0.02, 0.5, 0.3]]))
    raw = path_coordinate([im.cart_coords for im in images])
    assert raw[-1] - raw[-2] == pytest.approx(9.6)  # the jump across the cell
    joined = continuous(images)
    path = path_coordinate([im.cart_coords for im in joined])
    assert np.diff(path) == pytest.approx([0.4, 0.4, 0.4])
    assert joined[-1][1].frac_coords[0] == pytest.approx(1.02)
    # the same configuration: every distance is unchanged
    assert joined[-1].distance_matrix == pytest.approx(images[-1].distance_matrix)


def test_a_wrapped_final_state_is_interpolated_the_short_way(tmp_path, monkeypatch):
    """The relaxed final state may hold the moving Li wrapped into the cell; the band must
    still take the Li the short way (benchmarks/default_run_ft4's Li2S2/LiI(100) path
    dragged it 19 Å across the cell for a 4.7 Å move and never converged)."""
    from pymatgen.core import Lattice

    from lis_dft.dft_workflows.barriers import BarrierSettings, neb_path

    monkeypatch.chdir(tmp_path)  # where ASE's IDPP would write its log and trajectory
    lat = Lattice.from_parameters(12, 12, 20, 90, 90, 90)
    initial = Structure(
        lat, ["S", "S", "Li"], [[0.5, 0.5, 0.5], [0.5, 0.5 + 2.1 / 12, 0.5], [0.90, 0.5, 0.5]]
    )
    # the Li 0.24 (2.9 Å) further along x, stored wrapped into the cell at x = 0.14
    final = Structure(
        lat, ["S", "S", "Li"], [[0.5, 0.5, 0.5], [0.5, 0.5 + 2.1 / 12, 0.5], [0.14, 0.5, 0.5]]
    )
    s = BarrierSettings(n_images=3, steps=2)
    path = neb_path(initial, final, {"name": "mock"}, s)
    coord = path_coordinate([im.cart_coords for im in path.images])
    assert coord[-1] == pytest.approx(2.88, abs=0.3)  # not 9.1 Å back across the cell
    assert path.images[-1][2].frac_coords[0] == pytest.approx(1.14)
    assert path.images[-1].distance_matrix == pytest.approx(final.distance_matrix)
    assert not list(tmp_path.iterdir())  # no idpp.traj / idpp.log left behind


def test_paths_in_parallel_processes_give_the_sequential_result(mock_run, tmp_path):
    import shutil

    seq, par = tmp_path / "seq", tmp_path / "par"
    for d in (seq, par):
        shutil.copytree(mock_run, d)  # these settings (--steps 20) are new to both
    common = ["--images", "3", "--steps", "20", "--no-modes", "--no-progress"]
    for d, workers in ((seq, "1"), (par, "2")):
        result = runner.invoke(app, ["barriers", str(d), *common, "--workers", workers])
        assert result.exit_code == 0, result.output
    rows = {
        d: {
            (r["reaction"], r["environment"]): r
            for r in json.loads((d / "results.json").read_text())["barriers"]
        }
        for d in (seq, par)
    }
    assert set(rows[par]) == set(rows[seq]) and len(rows[seq]) == 2
    for key, r in rows[seq].items():
        assert rows[par][key]["energies"] == pytest.approx(r["energies"], abs=1e-8)
        assert rows[par][key]["verdict"] == r["verdict"]
    # a second call finds every path in the store: nothing recomputed, same block
    again = runner.invoke(app, ["barriers", str(par), *common, "--workers", "2"])
    assert again.exit_code == 0
    assert json.loads((par / "results.json").read_text())["barriers"] == list(rows[par].values())


class _Saddle(Calculator):
    """E = -x^2 + y^2 + z^2 around (5, 5, 5): one negative curvature, along x."""

    implemented_properties = ("energy", "forces")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        d = self.atoms.positions[0] - 5.0
        sign = np.array([-1.0, 1.0, 1.0])
        self.results = {"energy": float((sign * d * d).sum()), "forces": np.array([-2 * sign * d])}


def test_ts_modes_finds_the_imaginary_mode_and_its_direction():
    from pymatgen.core import Lattice

    from lis_dft.dft_workflows.barriers import ts_modes

    ts = Structure(Lattice.cubic(10.0), ["H"], [[0.5, 0.5, 0.5]])
    modes, along = ts_modes(ts, _Saddle(), [0], tangent=np.array([[1.0, 0.0, 0.0]]))
    assert len(modes) == 1 and modes[0] > 500  # sqrt(2 eV/Å² / 1 u): about 730 cm^-1
    assert along == pytest.approx(1.0, abs=1e-3)
    _, across = ts_modes(ts, _Saddle(), [0], tangent=np.array([[0.0, 1.0, 0.0]]))
    assert across == pytest.approx(0.0, abs=1e-3)


def test_the_ts_modes_include_the_free_surface_neighbours(small_slab):
    from lis_dft.dft_workflows.barriers import MODE_RADIUS, mode_atoms

    n_slab = len(small_slab)
    adslab = adsorbate_placements(small_slab, build_molecule("Li2S"), "Li2S")[0].structure
    atoms = mode_atoms(adslab, n_slab)
    ads = list(range(n_slab, len(adslab)))
    assert atoms[: len(ads)] == ads
    sd = adslab.site_properties["selective_dynamics"]
    for i in range(n_slab):
        near = any(adslab.get_distance(i, j) < MODE_RADIUS for j in ads) and any(sd[i])
        assert (i in atoms) == near  # the free neighbours, and no fixed atom
    assert len(atoms) > len(ads)
