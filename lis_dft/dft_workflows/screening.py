"""Adsorbate screening as a race of relaxations (successive halving).

A single-point energy a couple of Å above the surface says little about where a
placement ends up: on LiI(100) the deepest minima come from the surface rearranging
around the adsorbate, which only a relaxation with the slab free can find (see
``benchmarks/RESULTS.md``). Relaxing every placement to convergence finds them but
costs a full relaxation per placement. The race relaxes all placements together and
drops the worst after each round:

1. every placement starts the study's relaxation (same optimizer, same free atoms,
   same ``fmax``) and runs ``rounds[0]`` steps;
2. placements are ranked by their current energy; the best ``keep`` fraction (never
   fewer than ``top_k``) runs ``rounds[1]`` more steps, and so on;
3. after the last round the ``top_k`` best are the finalists; the study relaxes them
   to convergence with atomate2's ForceFieldRelaxMaker (``finish=True`` does it here).

Every racer keeps its own optimizer (BFGS Hessian included), so while the race lasts a
placement follows exactly the trajectory of an uninterrupted relaxation: racing changes
which placements are finished, never how.

``SINGLE_POINT`` (the default: no rounds, rank by the energy of the placement as
built) is the cheap screen; ``DEEP_RACE`` is the deeper search. On CHGNet + D3 the
Li2S minima that come from surface reconstruction only pull ahead after 20-30 BFGS
steps, so shorter rounds drop them (numbers in ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.optimize.optimize import Optimizer

from lis_dft.dft_workflows.optimizers import optimizer_class
from lis_dft.errors import ParameterError


@dataclass(frozen=True)
class RaceSchedule:
    """Steps per round and the fraction of placements kept after each round.

    Parameters
    ----------
    rounds
        Optimizer steps every surviving placement runs in each round.
    keep
        Fraction of the placements of a round that go on to the next (rounded up).

    """

    rounds: tuple[int, ...] = ()
    keep: float = 1.0

    def __post_init__(self) -> None:
        if any(n < 1 for n in self.rounds):
            raise ValueError(f"Every race round needs at least one step, got {self.rounds}.")
        if not 0.0 < self.keep <= 1.0:
            raise ValueError(f"keep must be in (0, 1], got {self.keep}.")

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (recorded in the screening output and hashed into job ids)."""
        return {"rounds": list(self.rounds), "keep": self.keep}


#: Rank by the single-point energy of each placement (lis-dft's default screen).
SINGLE_POINT = RaceSchedule()
#: 20 steps for every placement, the best third 10 more, then the finalists.
DEEP_RACE = RaceSchedule(rounds=(20, 10), keep=0.34)
#: The study's default: 10 steps for every placement, the best third 10 more, on the
#: small screening slab (benchmarks/minimum_quality.json, docs/methods.md).
DEFAULT_RACE = RaceSchedule(rounds=(10, 10), keep=0.34)


@dataclass
class Racer:
    """One placement's relaxation, paused between rounds."""

    config_id: str
    atoms: Atoms
    optimizer: Optimizer
    energy_by_step: dict[int, float] = field(default_factory=dict)
    converged: bool = False
    eliminated_after_round: int | None = None
    sound: bool | None = None  # judged at each ranking when the race has a soundness test

    def record(self) -> None:
        """Optimizer observer: the energy of the geometry of the current step.

        Keyed by step because a paused optimizer reports its current geometry again
        when it resumes (from the calculator's cache, not a new evaluation).
        """
        self.energy_by_step[self.optimizer.nsteps] = float(self.atoms.get_potential_energy())

    @property
    def energies(self) -> list[float]:
        """Energy of every geometry evaluated, step 0 first."""
        return [self.energy_by_step[k] for k in sorted(self.energy_by_step)]

    @property
    def energy(self) -> float:
        """Energy at the current geometry (the last step taken)."""
        return self.energies[-1]

    @property
    def force_calls(self) -> int:
        """Energy/force evaluations spent on this placement."""
        return len(self.energies)

    def advance(self, fmax: float, steps: int) -> None:
        """Run up to ``steps`` more optimizer steps (nothing if already converged)."""
        if not self.converged:
            self.converged = bool(self.optimizer.run(fmax=fmax, steps=steps))


@dataclass
class RaceResult:
    """What the race did: every racer, and which ones finished."""

    racers: list[Racer]
    finalists: list[Racer]
    schedule: RaceSchedule

    @property
    def force_calls(self) -> int:
        """Energy/force evaluations of the whole race."""
        return sum(r.force_calls for r in self.racers)

    def summary(self) -> list[dict[str, Any]]:
        """Per placement: energies along the race, steps, elimination round, convergence."""
        finalists = {id(r) for r in self.finalists}
        return [
            {
                "id": r.config_id,
                "initial_energy": r.energies[0],
                "last_energy": r.energy,
                "force_calls": r.force_calls,
                "eliminated_after_round": r.eliminated_after_round,
                "finalist": id(r) in finalists,
                "converged": r.converged,
                "sound": r.sound,
            }
            for r in self.racers
        ]


def _start(config_id: str, atoms: Atoms, calculator: Calculator, optimizer: str) -> Racer:
    atoms = atoms.copy()
    atoms.calc = calculator
    racer = Racer(config_id, atoms, optimizer_class(optimizer)(atoms, logfile=None))
    racer.optimizer.attach(racer.record)  # after every evaluated geometry, step 0 included
    return racer


def race_relaxations(
    placements: dict[str, Atoms],
    calculator: Calculator,
    top_k: int,
    schedule: RaceSchedule | None = None,
    fmax: float = 0.05,
    max_steps: int = 300,
    optimizer: str = "BFGS",
    finish: bool = True,
    sound: Callable[[Atoms], bool] | None = None,
) -> RaceResult:
    """Race the relaxations of ``placements``; return the ``top_k`` best as finalists.

    Parameters
    ----------
    placements
        Config id -> adsorbate-on-slab Atoms (constraints, e.g. fixed bottom layers,
        are respected). Insertion order breaks ties.
    calculator
        ASE calculator shared by all racers (evaluated one geometry at a time).
    top_k
        Placements relaxed to convergence at the end.
    schedule
        Steps per round and fraction kept; ``RaceSchedule(rounds=())`` ranks by the
        single-point energy alone.
    fmax, max_steps, optimizer
        The relaxation every racer runs (the study's, so that a finalist's energy is
        that of a full relaxation). ``max_steps`` counts every step of a placement.
    finish
        Relax the finalists to convergence here (keeping their optimizer state);
        False leaves them where the race stopped, for a relaxation job to finish.
    sound
        Whether a racer's current geometry is still sound (adsorbate intact, surface
        not torn). Rankings then put sound racers first, by energy, and unsound ones
        after them: the study reports sound minima first (``best_config``), so the race
        must not spend its finalists on placements that have already fallen apart.

    Returns
    -------
    RaceResult
        Finalists first by energy.

    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}.")
    if not placements:
        raise ValueError("No placements to screen.")
    schedule = schedule or RaceSchedule()
    racers = [_start(cid, atoms, calculator, optimizer) for cid, atoms in placements.items()]
    alive = list(racers)
    for racer in alive:
        racer.advance(fmax, 0)  # step 0: the single-point energy of the placement

    def rank(racers: list[Racer]) -> None:
        if sound is not None:
            for r in racers:
                r.sound = bool(sound(r.atoms))
        racers.sort(key=lambda r: (r.sound is False, r.energy))

    for round_no, steps in enumerate(schedule.rounds, start=1):
        for racer in alive:
            racer.advance(fmax, min(steps, max_steps - racer.optimizer.nsteps))
        rank(alive)
        n_keep = max(top_k, math.ceil(schedule.keep * len(alive)))
        for racer in alive[n_keep:]:
            racer.eliminated_after_round = round_no
        alive = alive[:n_keep]
    rank(alive)
    for racer in alive[top_k:]:
        racer.eliminated_after_round = len(schedule.rounds)
    finalists = alive[:top_k]
    if finish:
        for racer in finalists:
            racer.advance(fmax, max_steps - racer.optimizer.nsteps)
        finalists.sort(key=lambda r: r.energy)
    return RaceResult(racers, finalists, schedule)


def parse_race_rounds(text: str, keep: float = DEEP_RACE.keep) -> RaceSchedule:
    """Schedule from the CLI's ``--race-rounds`` ('20,10'; '0' = single-point ranking).

    Raises
    ------
    ParameterError
        If the text is not a comma-separated list of non-negative integers.

    """
    try:
        rounds = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        rounds = (-1,)
    if not rounds or any(n < 0 for n in rounds) or (0 in rounds and len(rounds) > 1):
        raise ParameterError(
            f"--race-rounds {text!r}: give optimizer steps per round as positive integers "
            "separated by commas (e.g. 20,10), or 0 for single-point ranking."
        )
    try:
        if rounds == (0,):
            return SINGLE_POINT
        return RaceSchedule(rounds=rounds, keep=keep)
    except ValueError as exc:
        raise ParameterError(f"--race-keep {keep}: {exc}") from exc


def schedule_from_dict(d: dict[str, Any] | None) -> RaceSchedule:
    """Inverse of :meth:`RaceSchedule.as_dict` (``None`` gives the default schedule)."""
    if d is None:
        return RaceSchedule()
    return RaceSchedule(rounds=tuple(int(n) for n in d["rounds"]), keep=float(d["keep"]))
