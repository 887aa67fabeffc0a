from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from lis_dft.dft_workflows.calculators import (
    CALC_TIMER,
    CalculatorSpec,
    build_calculator,
    check_elements,
    resolve_d3,
)
from lis_dft.dft_workflows.mock import MockCalculator
from lis_dft.errors import CalculatorError


def test_mock_forces_and_stress_are_exact_derivatives():
    atoms = bulk("LiI", "rocksalt", a=5.6).repeat((2, 1, 1))
    atoms.rattle(0.05, seed=3)
    atoms.calc = MockCalculator()
    assert np.allclose(atoms.get_forces(), calculate_numerical_forces(atoms, eps=1e-5), atol=1e-6)
    assert np.allclose(atoms.get_stress(), calculate_numerical_stress(atoms, eps=1e-6), atol=1e-6)


def test_mock_is_deterministic_and_defined_for_every_element():
    for symbol in ("Li", "S", "I", "Xe", "U"):
        a = molecule("H2")
        a.set_chemical_symbols([symbol, symbol])
        a.calc = MockCalculator()
        e1 = a.get_potential_energy()
        a.calc = MockCalculator()
        assert a.get_potential_energy() == e1
        assert np.isfinite(e1)


def test_mock_has_a_real_minimum():
    from ase import Atoms
    from ase.optimize import BFGS

    dimer = Atoms("S2", positions=[[0, 0, 0], [0, 0, 2.6]])
    dimer.calc = MockCalculator()
    assert BFGS(dimer, logfile=None).run(fmax=1e-3, steps=100)
    assert dimer.get_distance(0, 1) == pytest.approx(2.1, abs=0.05)  # 2 x covalent radius of S


def test_emt_refuses_li_s_i_before_any_work():
    with pytest.raises(CalculatorError) as err:
        check_elements("emt", {"Li", "S", "I", "Cu"})
    message = str(err.value)
    assert "I, Li, S" in message and "chgnet" in message
    check_elements("emt", {"Cu", "Pt"})  # supported elements pass


def test_unknown_calculator_and_d3():
    with pytest.raises(CalculatorError, match="Unknown calculator"):
        CalculatorSpec("vasp-but-free")
    with pytest.raises(CalculatorError, match="D3"):
        resolve_d3("chgnet", "d5")


def test_d3_policy_is_recorded():
    assert CalculatorSpec("chgnet").d3 == "zero"
    assert CalculatorSpec("chgnet", "bj").d3 == "bj"
    assert CalculatorSpec("mock").d3 == "none"
    assert CalculatorSpec("xtb").d3 == "none"
    desc = CalculatorSpec("sevennet").describe()
    assert desc["d3"]["damping"] == "zero" and desc["d3"]["functional"] == "PBE"
    assert set(desc) >= {"name", "model", "version", "d3"}
    assert CalculatorSpec("mock").describe()["is_mock"] is True


def test_calls_are_timed():
    CALC_TIMER.reset()
    atoms = bulk("Li", "bcc", a=3.5)
    atoms.calc = build_calculator("mock")
    atoms.get_potential_energy()
    assert CALC_TIMER.calls == 1 and CALC_TIMER.seconds > 0


@pytest.mark.mlip
def test_d3_adds_dispersion_to_chgnet():
    pytest.importorskip("chgnet")
    pytest.importorskip("dftd3")
    atoms = bulk("Li", "bcc", a=3.51)
    atoms.calc = build_calculator("chgnet", d3="none")
    e_plain = atoms.get_potential_energy()
    atoms.calc = build_calculator("chgnet", d3="zero")
    e_d3 = atoms.get_potential_energy()
    assert e_d3 < e_plain  # dispersion is attractive
    assert -0.5 < e_d3 - e_plain < 0


def test_xtb_and_gpaw_are_optional():
    for name, module in (("xtb", "tblite"), ("gpaw", "gpaw")):
        try:
            __import__(module)
        except ImportError:
            with pytest.raises(CalculatorError, match=f"lis-dft\\[{name}\\]"):
                build_calculator(name)


def test_xtb_gfn2_on_a_molecule():
    pytest.importorskip("tblite")
    from ase.optimize import BFGS
    from pymatgen.io.ase import AseAtomsAdaptor

    from lis_dft.structures.molecules import build_molecule

    atoms = AseAtomsAdaptor.get_atoms(build_molecule("Li2S"))
    atoms.calc = build_calculator("xtb")
    assert CalculatorSpec("xtb").describe()["d3"]["damping"] == "none"  # GFN2 has its own D4
    e0 = atoms.get_potential_energy()
    BFGS(atoms, logfile=None).run(fmax=0.05, steps=50)
    assert atoms.get_potential_energy() <= e0
    assert 1.9 < atoms.get_distance(0, 1) < 2.4  # Li-S bond stays a bond


def test_gpaw_pbe_if_installed():
    pytest.importorskip("gpaw")
    from ase import Atoms

    atoms = Atoms("Li", cell=[3.51, 3.51, 3.51], pbc=True)
    atoms.calc = build_calculator("gpaw", d3="none", ecut=200, kpt_density=1.0)
    assert atoms.get_potential_energy() < 0


def test_gpaw_force_convergence_is_opt_in_and_keeps_job_identities():
    from lis_dft.dft_workflows.gpaw_calc import GpawSettings, gpaw_calculator
    from lis_dft.errors import ParameterError

    plain, tight = GpawSettings(), GpawSettings(convergence_forces=0.01)
    assert "convergence_forces" not in plain.as_dict()  # the hashes of stored jobs hold
    assert tight.as_dict()["convergence_forces"] == 0.01
    assert "SCF forces to 0.01 eV/Å" in tight.describe()
    assert "forces" not in plain.describe()
    with pytest.raises(ParameterError, match="convergence_forces must be positive"):
        GpawSettings(convergence_forces=0.0)
    pytest.importorskip("gpaw")
    conv = gpaw_calculator(tight, txt=None).params.convergence
    assert conv["forces"] == 0.01 and conv["energy"] == 1e-5
    assert "forces" not in gpaw_calculator(plain, txt=None).params.convergence


def test_bare_sevennet_is_the_shipped_default():
    """build_calculator("sevennet") must be the default model the study records, not 7net-0."""
    pytest.importorskip("sevenn")
    atoms = bulk("Li", "bcc", a=3.44, cubic=True)
    energies = {}
    for model in (None, "lis-dft-mf-0-ft9", "lis-dft-mf-0-ft7", "7net-mf-0"):
        kw = {"model": model} if model else {}
        a = atoms.copy()
        a.calc = build_calculator("sevennet", d3="none", **kw)
        energies[model] = a.get_potential_energy()
    assert energies[None] == pytest.approx(energies["lis-dft-mf-0-ft9"], abs=1e-9)
    for other in ("lis-dft-mf-0-ft7", "7net-mf-0"):  # really different models
        assert abs(energies[None] - energies[other]) > 1e-4


def test_model_help_lists_every_model_with_the_default_first():
    """--model's help comes from the registry: a newly shipped model is listed, no edit."""
    from lis_dft.dft_workflows.calculators import BACKENDS, DEFAULT_SEVENNET_MODEL, model_help

    text = model_help()
    assert f"sevennet {DEFAULT_SEVENNET_MODEL} (default), " in text
    assert "chgnet 0.3.0 (default), r2scan;" in text
    for model in BACKENDS["sevennet"].models:
        assert model in text
    assert "morse" not in text and "gfn2" not in text  # no choice to make there


def test_sevennet_calculators_share_the_model_but_not_their_results():
    """NEB images run in threads: each image's calculator must keep its own results."""
    pytest.importorskip("sevenn")
    import threading

    one = build_calculator("sevennet", d3="none")
    two = build_calculator("sevennet", d3="none")
    assert one is not two and one.model is two.model  # loaded once per process
    a = bulk("Li", "bcc", a=3.44, cubic=True)
    b = a.copy()
    b.rattle(0.1, seed=1)
    a.calc, b.calc = one, two
    alone = [a.get_potential_energy(), b.get_potential_energy()]
    assert alone[0] != pytest.approx(alone[1])
    a.calc, b.calc = (
        build_calculator("sevennet", d3="none"),
        build_calculator("sevennet", d3="none"),
    )
    got = [None, None]

    def run(k, atoms):
        got[k] = atoms.get_potential_energy()

    threads = [threading.Thread(target=run, args=(k, x)) for k, x in enumerate((a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == pytest.approx(alone, abs=1e-6)
    assert one.results["energy"] == pytest.approx(alone[0])  # not overwritten by two


def test_a_recorded_spec_is_rebuilt_and_changed_weights_are_refused(tmp_path):
    """A run's ``settings.calculator`` gives its spec back; other weights under its name do not."""
    spec = CalculatorSpec("mock", "none")
    assert CalculatorSpec.from_dict(spec.as_dict()) == spec
    pytest.importorskip("sevenn")
    shipped = CalculatorSpec("sevennet", "zero", {"model": "lis-dft-mf-0-ft2"})
    record = shipped.as_dict()
    assert "model_sha256" in record and CalculatorSpec.from_dict(record) == shipped
    with pytest.raises(CalculatorError, match="changed since that run"):
        CalculatorSpec.from_dict({**record, "model_sha256": "0" * 64})


def test_a_weights_file_given_relative_is_found_from_any_folder(tmp_path, monkeypatch):
    """``--model ft/model.pth`` keeps working in the job folders a run changes into."""
    pytest.importorskip("sevenn")
    from lis_dft.models import resolve

    (tmp_path / "ft").mkdir()
    weights = tmp_path / "ft" / "model.pth"
    weights.write_bytes(Path(resolve("lis-dft-mf-0-ft4")).read_bytes())
    monkeypatch.chdir(tmp_path)
    spec = CalculatorSpec("sevennet", "zero", {"model": "ft/model.pth"})
    assert spec.kwargs["model"] == str(weights)
    monkeypatch.chdir(tmp_path / "ft")  # where a job would run
    assert CalculatorSpec.from_dict(spec.as_dict()) == spec
    named = CalculatorSpec("sevennet", "zero", {"model": "lis-dft-mf-0-ft4"})
    assert named.kwargs["model"] == "lis-dft-mf-0-ft4"  # shipped names stay names


def _relaxed_trajectory():
    from ase.calculators.emt import EMT
    from atomate2.ase.utils import AseRelaxer

    atoms = bulk("Cu", cubic=True).repeat(2)
    atoms.rattle(0.05, seed=1)
    start = atoms.copy()
    result = AseRelaxer(EMT(), relax_cell=False).relax(
        atoms, fmax=0.01, steps=40, use_emmet_models=True, final_atoms_object_file=None
    )
    return result.trajectory, start


def test_emmet_first_frame_bug_is_still_there_upstream():
    """emmet's to_pmg(indices=0) gives every frame; when this fails, delete compat.py."""
    traj, _ = _relaxed_trajectory()
    to_pmg = getattr(type(traj).to_pmg, "__wrapped__", type(traj).to_pmg)
    assert len(traj) > 2
    assert len(to_pmg(traj, frame_props=(), indices=0)) == len(traj)


def test_emmet_first_frame_patch_gives_the_one_frame():
    from lis_dft.dft_workflows.compat import emmet_first_frame

    traj, start = _relaxed_trajectory()
    every = traj.to_pmg(frame_props=())
    emmet_first_frame()
    emmet_first_frame()  # idempotent: one wrapper, not two
    assert not hasattr(type(traj).to_pmg.__wrapped__, "__wrapped__")
    for k in (0, 3, -1):
        one = traj.to_pmg(frame_props=(), indices=k)
        assert len(one) == 1
        assert np.allclose(one[0].cart_coords, every[k].cart_coords)
    assert np.allclose(every[0].lattice.matrix, start.cell.array)


def test_quick_state_check_agrees_with_ase():
    from lis_dft.dft_workflows.state import bitwise_unchanged

    atoms = bulk("Cu", cubic=True).repeat(2)
    atoms.calc = MockCalculator()
    atoms.get_potential_energy()
    calc = atoms.calc
    assert calc.check_state(atoms) == []
    assert bitwise_unchanged(calc.atoms, atoms)
    moved = atoms.copy()
    moved.positions[0, 0] += 1e-9
    assert calc.check_state(moved) == ["positions"]
    charged = atoms.copy()
    charged.set_initial_charges([0.1] * len(atoms))
    assert not bitwise_unchanged(calc.atoms, charged)
    assert "initial_charges" in calc.check_state(charged)
    e0 = atoms.get_potential_energy()
    atoms.positions[1] += 0.05
    assert atoms.get_potential_energy() != e0  # a real change is still seen


def test_torch_gets_the_free_cores(monkeypatch):
    import multiprocessing
    import time as _time

    pytest.importorskip("torch")
    import torch

    from lis_dft.dft_workflows import threads
    from lis_dft.errors import ParameterError

    assert threads.choose_threads(2, 0.0) == 2
    assert threads.choose_threads(2, 0.9) == 1
    assert threads.choose_threads(2, 3.0) == 1  # never fewer than one
    assert threads.choose_threads(8, 2.2) == 6

    stop = multiprocessing.Event()
    spinner = multiprocessing.Process(target=_spin, args=(stop,))
    spinner.start()
    try:
        _time.sleep(0.3)
        assert threads.other_busy_cores(0.5) >= 0.5  # the spinning neighbour is seen
    finally:
        stop.set()
        spinner.join()

    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_last", {})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv(threads.ENV, "1")
    try:
        assert threads.set_torch_threads()["threads"] == 1
        assert torch.get_num_threads() == 1
        assert threads.last_choice()["source"] == threads.ENV
        monkeypatch.setattr(threads, "_last", {})
        monkeypatch.setenv(threads.ENV, "two")
        with pytest.raises(ParameterError, match="whole number"):
            threads.set_torch_threads()
    finally:
        torch.set_num_threads(before)


def test_gpaw_gets_one_blas_thread_unless_told(monkeypatch):
    """Every BLAS copy in a GPAW process (GPAW's, numpy's, scipy's) is limited; a told one is not."""
    pytest.importorskip("gpaw")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from lis_dft.dft_workflows import threads

    def blas_threads():
        return {
            lib["num_threads"]
            for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"
        }

    for env in threads.BLAS_ENVS:
        monkeypatch.delenv(env, raising=False)
    monkeypatch.delenv(threads.ENV, raising=False)
    try:
        threadpoolctl.threadpool_limits(limits=2, user_api="blas")
        assert threads.set_blas_threads() == {"threads": 1, "source": "one per GPAW process"}
        assert "gpaw.cgpaw" in sys.modules or "_gpaw" in sys.modules  # GPAW's own BLAS
        assert blas_threads() == {1}
        monkeypatch.setenv(threads.ENV, "2")
        assert threads.set_blas_threads() == {"threads": 2, "source": threads.ENV}
        assert blas_threads() == {2}
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
        monkeypatch.delenv(threads.ENV)
        assert threads.set_blas_threads()["source"] == "OPENBLAS_NUM_THREADS"
        assert blas_threads() == {2}  # left alone
    finally:
        threadpoolctl.threadpool_limits(limits=threads.available_cores(), user_api="blas")


def _spin(stop):
    x = 0
    while not stop.is_set():
        x += 1
