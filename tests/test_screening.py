"""The screening race: exact continuation, elimination, single-point ranking, CLI parsing."""

from __future__ import annotations

import pytest
from ase.build import molecule
from ase.constraints import FixAtoms
from ase.optimize import BFGS
from typer.testing import CliRunner

from lis_dft.cli import app
from lis_dft.dft_workflows.mock import MockCalculator
from lis_dft.dft_workflows.screening import (
    DEEP_RACE,
    SINGLE_POINT,
    RaceSchedule,
    parse_race_rounds,
    race_relaxations,
)
from lis_dft.errors import ParameterError


def _placements(n: int = 4) -> dict:
    """n distorted copies of a small molecule, one atom fixed (like a slab's bottom layers)."""
    out = {}
    for i in range(n):
        atoms = molecule("CH4")
        atoms.center(vacuum=6.0)
        atoms.rattle(stdev=0.08 + 0.04 * i, seed=i)
        atoms.set_constraint(FixAtoms(indices=[0]))
        atoms.info["id"] = f"p{i}"
        out[f"p{i}"] = atoms
    return out


def _uninterrupted(atoms, fmax=0.05, steps=200):
    atoms = atoms.copy()
    atoms.calc = MockCalculator()
    energies = []
    opt = BFGS(atoms, logfile=None)
    opt.attach(lambda: energies.append(atoms.get_potential_energy()))
    opt.run(fmax=fmax, steps=steps)
    return energies


def test_a_finalist_follows_the_uninterrupted_trajectory():
    placements = _placements()
    result = race_relaxations(
        placements, MockCalculator(), top_k=1, schedule=RaceSchedule((2, 3), keep=0.5)
    )
    winner = result.finalists[0]
    reference = _uninterrupted(placements[winner.config_id])
    assert winner.energies == pytest.approx(reference, abs=1e-10)
    assert winner.converged


def test_elimination_bookkeeping_and_force_calls():
    result = race_relaxations(
        _placements(4),
        MockCalculator(),
        top_k=1,
        schedule=RaceSchedule((2,), keep=0.5),
        finish=False,
    )
    summary = {r["id"]: r for r in result.summary()}
    dropped_first = [k for k, r in summary.items() if r["eliminated_after_round"] == 1]
    # ceil(0.5 * 4) = 2 survive round 1, and of those the top_k = 1 is the finalist
    assert len(dropped_first) == 3
    assert sum(r["finalist"] for r in summary.values()) == 1
    for k in dropped_first:
        assert summary[k]["force_calls"] <= 3  # step 0 + at most 2 steps
    # the kept ones were the lowest after round 1
    kept_energy = max(r.energy for r in result.racers if r.eliminated_after_round != 1)
    assert all(summary[k]["last_energy"] >= kept_energy for k in dropped_first)
    assert result.force_calls == sum(r["force_calls"] for r in summary.values())


def test_single_point_ranking_costs_one_call_per_placement():
    placements = _placements(5)
    result = race_relaxations(
        placements, MockCalculator(), top_k=2, schedule=SINGLE_POINT, finish=False
    )
    assert result.force_calls == 5
    energies = sorted(r.energies[0] for r in result.racers)
    assert [f.energy for f in result.finalists] == energies[:2]


def test_top_k_larger_than_survivors_keeps_top_k():
    result = race_relaxations(
        _placements(3), MockCalculator(), top_k=3, schedule=RaceSchedule((1,), keep=0.1)
    )
    assert len(result.finalists) == 3


@pytest.mark.parametrize("bad", ["", "a,b", "-5", "0,10", "10,,x"])
def test_bad_race_rounds_are_refused(bad):
    with pytest.raises(ParameterError, match="--race-rounds"):
        parse_race_rounds(bad)


def test_race_rounds_parse():
    assert parse_race_rounds("0") == SINGLE_POINT
    assert parse_race_rounds("20,10") == DEEP_RACE
    assert parse_race_rounds("5", keep=0.5) == RaceSchedule((5,), 0.5)


def test_cli_rejects_bad_race_rounds(tmp_path):
    out = tmp_path / "o"
    result = CliRunner().invoke(
        app, ["run", "-c", "mock", "--out", str(out), "--race-rounds", "ten"]
    )
    assert result.exit_code == 2
    assert "--race-rounds 'ten'" in result.output.replace("\n", " ")
    assert not out.exists()


def test_the_race_spends_its_finalists_on_sound_placements():
    """With a soundness test, sound racers rank before lower unsound ones."""
    plain = race_relaxations(
        _placements(4), MockCalculator(), top_k=2, schedule=RaceSchedule((2,)), finish=False
    )
    lowest = [r.config_id for r in plain.finalists]
    torn = set(lowest[:1])  # pretend the lowest one fell apart
    result = race_relaxations(
        _placements(4),
        MockCalculator(),
        top_k=2,
        schedule=RaceSchedule((2,)),
        finish=False,
        sound=lambda atoms: atoms.info["id"] not in torn,
    )
    chosen = [r.config_id for r in result.finalists]
    assert chosen[0] == lowest[1] and chosen[1] not in torn  # sound ones first
    summary = {r["id"]: r for r in result.summary()}
    assert all(summary[k]["sound"] is (k not in torn) for k in summary)
    assert all(r["sound"] is None for r in plain.summary())  # no test, no verdict
