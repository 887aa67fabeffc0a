"""DFT hours: ionic steps from the potential's minima against raw placements (GPAW).

Target 4 of the performance issue. For a few configurations of a finished ``lis-dft
run``, the DFT relaxation is run twice on the reduced model that ``lis-dft verify``
uses (the run's slab cut to 2 x 2 cells and 4 layers around the adsorbate, bottom 2
layers fixed): once from the potential's relaxed minimum, once from the raw placement
of the same site and orientation on the relaxed clean slab (what a campaign without the
potential would start from). GPAW PBE + D3(zero), LCAO dzp, SCF forces converged to
0.01 eV/Å (with the energy criterion alone, the SCF of each ionic step, started from the
previous density, stopped after one or two iterations and the forces drifted by up to
0.2 eV/Å over 11 steps), ASE BFGS to ``--fmax``.

    python -m benchmarks.dft_hours benchmarks/default_run_ft4 --max-minutes 60   # resumable
    # or both cores, one start each (they share the JSON safely):
    python -m benchmarks.dft_hours RUN --starts potential &  python -m benchmarks.dft_hours RUN --starts raw

Each relaxation appends every ionic step (energy, forces, wall time) to
``benchmarks/dft_hours/<run folder>/<adsorbate>_<config>_<start>.extxyz`` as it is taken
and resumes from it (BFGS's Hessian rebuilt from the stored steps), so a session that
ends mid-way loses one SCF at most. ``benchmarks/dft_hours.json`` files the relaxations
per run (``by_run``: each run's starts come from its own potential) and is updated under
a lock after every step. GPAW's logs go to ``.work/`` beside the frames (not kept in git).
``--calculator mock`` runs the same machinery in seconds (tests).

The extrapolation to the paper's campaign (stated in the JSON and RESULTS.md): the
number of adsorbate calculations from the run's seeded campaign (``top_k`` per
adsorbate) against every placement the run enumerated; ionic steps per calculation =
the measured means; time per step on the paper's slab = the measured GPAW time per
step on the reduced model x (N_paper / N_reduced)^3 (cubic scaling of the
diagonalisation, an upper bound for LCAO; VASP's plane waves on 219 atoms differ by a
constant this benchmark cannot measure).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.suite import machine
from lis_dft.fileio import update_json
from lis_dft.provenance import package_versions

HERE = Path(__file__).parent
OUT = HERE / "dft_hours.json"
STARTS = ("potential", "raw")
FIXED_LAYERS = 2


def starting_geometries(run_dir: Path, adsorbate: str, config: str | None = None) -> dict[str, Any]:
    """The reduced-model start of each kind for one configuration of a finished run.

    ``config`` defaults to the configuration the run reports. Returns ``{"config",
    "n_slab", "potential": Structure, "raw": Structure}`` (bottom layers fixed).
    """
    from pymatgen.core import Structure

    from lis_dft.analysis.energetics import best_config
    from lis_dft.dft_workflows.jobs import molecule_from_boxed, transplant
    from lis_dft.dft_workflows.verify import VerifySettings, _structure, load_run
    from lis_dft.errors import ParameterError
    from lis_dft.structures.adsorbates import adsorbate_placements
    from lis_dft.structures.reduced import reduce_slab, reduced_height

    results, record, store = load_run(run_dir)
    data = record.get("adsorbates", {}).get(adsorbate)
    if data is None:
        raise ParameterError(
            f"{run_dir} has no {adsorbate}; it has {sorted(record['adsorbates'])}."
        )
    relaxed = [c for c in data["configs"] if c.get("relaxed") and c.get("structure")]
    chosen = (
        best_config(relaxed)
        if config is None
        else next((c for c in relaxed if c["id"] == config), None)
    )
    if chosen is None:
        raise ParameterError(
            f"{adsorbate} has no relaxed configuration {config!r}; relaxed: {[c['id'] for c in relaxed]}."
        )
    clean = _structure(record["slab"])
    n_slab = len(clean)
    # verify's reduced model, fitted to the run's supercell as verify fits it
    model = replace(
        VerifySettings().model, repeats=tuple(results["settings"]["slab"]["supercell"][:2])
    )
    molecule = molecule_from_boxed(_structure(record["molecules"][adsorbate]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # sites are found on the slab as cut, as the run found them (transplant below)
        built = store.docs_store.query_one({"metadata.lis_dft_key": "slab/build"})
        ideal = Structure.from_dict(store.get_output(built["uuid"], load=True)) if built else clean
        placements = {
            p.config_id: p
            for p in adsorbate_placements(ideal, molecule, adsorbate, deduplicate=False)
        }
        if chosen["id"] not in placements:
            raise ParameterError(
                f"No raw placement {chosen['id']} of {adsorbate} on the run's slab."
            )
        raw = transplant(placements[chosen["id"]].structure, clean, n_slab)
        height = reduced_height(clean, n_slab, model)
        starts = {
            "potential": reduce_slab(
                _structure(chosen), n_slab, model, height=height, reference=clean
            ),
            "raw": reduce_slab(raw, n_slab, model, height=height, reference=clean),
        }
    n_red = len(starts["raw"]) - len(molecule)
    return {
        "config": chosen["id"],
        "n_slab": n_red,
        **{k: _fix_bottom(v, n_red) for k, v in starts.items()},
    }


def _fix_bottom(structure: Any, n_slab: int) -> Any:
    """Fix the bottom :data:`FIXED_LAYERS` atomic layers of the slab part (adsorbate free)."""
    from lis_dft.structures.slab import layer_indices

    slab = structure.copy()
    slab.remove_sites(list(range(n_slab, len(structure))))
    fixed = {i for layer in layer_indices(slab)[:FIXED_LAYERS] for i in layer}
    out = structure.copy()
    out.add_site_property(
        "selective_dynamics", [[i not in fixed] * 3 for i in range(len(structure))]
    )
    return out


def relax_resumable(
    structure: Any,
    calculator: dict[str, Any],
    frames: Path,
    fmax: float,
    max_steps: int,
    deadline: float | None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """BFGS from ``structure`` (or from the last stored step), every step appended to ``frames``.

    Returns the relaxation's state: steps so far, converged, energies, max forces and
    seconds per step. Stops at convergence, ``max_steps`` or the ``deadline`` (epoch s).
    ``on_step`` gets the state after every step. The calculator runs in
    ``<frames dir>/.work/<frames stem>/`` (GPAW's log goes there, not to the caller's
    folder).
    """
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.constraints import FixAtoms
    from ase.io import read, write
    from ase.optimize import BFGS
    from pymatgen.io.ase import AseAtomsAdaptor

    from lis_dft.dft_workflows.calculators import build_calculator
    from lis_dft.dft_workflows.gpaw_calc import reduced_cell

    done = read(frames, index=":") if frames.is_file() else []
    settings = json.dumps(calculator, sort_keys=True)
    if done and done[0].info.get("calculator") != settings:
        from lis_dft.errors import ParameterError

        raise ParameterError(
            f"{frames} holds steps computed with other calculator settings "
            f"({done[0].info.get('calculator')}, now {settings}): move it away to start "
            "again, or run with those settings."
        )
    atoms = AseAtomsAdaptor.get_atoms(structure)
    fixed = [c for c in atoms.constraints if isinstance(c, FixAtoms)]
    atoms = reduced_cell(atoms) if calculator.get("name") == "gpaw" else atoms
    atoms.set_constraint(fixed)
    if done:  # the stored steps were taken in this cell: continue from the last, unwrapped
        atoms.positions = done[-1].positions
    work = frames.parent / ".work" / frames.stem
    work.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(work):  # GPAW opens its log here
        atoms.calc = build_calculator(
            **calculator, **({"atoms": atoms} if calculator.get("name") == "gpaw" else {})
        )

    def state() -> dict[str, Any]:
        frames_now = read(frames, index=":") if frames.is_file() else []
        fm = [float(f.info["fmax"]) for f in frames_now]
        return {
            "steps": max(len(frames_now) - 1, 0),
            "converged": bool(fm) and fm[-1] < fmax,
            "energies_eV": [float(f.get_potential_energy()) for f in frames_now],
            "max_force": fm,
            "seconds": [float(f.info["seconds"]) for f in frames_now],
            "n_atoms": len(atoms),
            # how far DFT moved the start: small from a potential minimum DFT agrees with
            "max_displacement_A": float(
                np.linalg.norm(frames_now[-1].positions - frames_now[0].positions, axis=1).max()
            )
            if frames_now
            else 0.0,
        }

    def free_fmax(forces: np.ndarray) -> float:
        mask = np.ones(len(atoms), bool)
        for c in fixed:
            mask[c.get_indices()] = False
        return float(np.linalg.norm(forces[mask], axis=1).max())

    opt = BFGS(atoms, logfile=None)
    if len(done) > 1:
        opt.replay_trajectory(done)  # the Hessian of the steps already taken
    clock = [time.perf_counter()]

    def record() -> None:
        forces = atoms.get_forces()
        snap = atoms.copy()
        snap.set_constraint()
        snap.calc = SinglePointCalculator(snap, energy=atoms.get_potential_energy(), forces=forces)
        snap.info.update(
            fmax=free_fmax(forces),
            seconds=time.perf_counter() - clock[0],
            threads=os.environ.get("OMP_NUM_THREADS", "unset"),  # the pieces may differ
            calculator=settings,
        )
        buf = io.StringIO()
        write(buf, snap, format="extxyz")
        with open(frames, "a") as fh:  # one write of the whole frame: a kill leaves no half
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        clock[0] = time.perf_counter()

    if not done:
        if deadline is not None and time.time() > deadline:
            return state()  # not started: the start's SCF alone takes minutes
        frames.parent.mkdir(parents=True, exist_ok=True)
        record()  # step 0: the start
    taken = max(len(done) - 1, 0)
    current = state()
    if on_step is not None and not done:
        on_step(current)  # the start is a step too (one SCF of several minutes)
    while not current["converged"] and taken < max_steps:
        if deadline is not None and time.time() > deadline:
            break
        opt.step()
        opt.nsteps += 1
        taken += 1
        record()
        current = state()
        if on_step is not None:
            on_step(current)
    return current


def compare_minima(potential_frames: Path, raw_frames: Path) -> dict[str, Any]:
    """Did the two starts end in the same minimum? (their last stored steps)

    pymatgen's StructureMatcher on the two final geometries (no scaling, no supercells,
    the slab's symmetry operations allowed: the raw start may settle on an equivalent
    site), and the energy of the raw start's end minus the potential start's. A raw
    start that ends higher in a different minimum is a campaign that would report the
    wrong one.
    """
    from ase.io import read
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.io.ase import AseAtomsAdaptor

    ends = {k: read(f, index=-1) for k, f in (("potential", potential_frames), ("raw", raw_frames))}
    a, b = (AseAtomsAdaptor.get_structure(ends[k]) for k in STARTS)
    # stol 0.15 of (V / N)^(1/3): about 0.5 Å in verify's slab cell, less than the
    # distance between two adsorption sites
    matcher = StructureMatcher(
        stol=0.15, primitive_cell=False, scale=False, attempt_supercell=False
    )
    rms = matcher.get_rms_dist(a, b)
    length = (a.volume / len(a)) ** (1 / 3)  # pymatgen's unit of rms and max distance
    return {
        "same_minimum": rms is not None,
        "rms_distance_A": None if rms is None else float(rms[0] * length),
        "max_distance_A": None if rms is None else float(rms[1] * length),
        "energy_raw_minus_potential_eV": float(
            ends["raw"].get_potential_energy() - ends["potential"].get_potential_energy()
        ),
    }


def extrapolate(
    rows: list[dict[str, Any]], campaign: dict[str, Any], n_paper: int
) -> dict[str, Any]:
    """Campaign ionic steps and hours, raw placements against the potential's minima (pure).

    From the pairs whose two starts converged. Before any has, a pair whose potential
    start converged gives a lower bound (``lower_bound``): the raw start's steps so far,
    which can only grow.
    """
    finished = [r for r in rows if all(r.get(k, {}).get("converged") for k in STARTS)]
    if finished:
        return {"finished_pairs": len(finished), **_campaign_estimate(finished, campaign, n_paper)}
    started = [
        r for r in rows if r.get("potential", {}).get("converged") and r.get("raw", {}).get("steps")
    ]
    if not started:
        return {"finished_pairs": 0}
    return {
        "finished_pairs": 0,
        "lower_bound": {
            "pairs": len(started),
            **_campaign_estimate(started, campaign, n_paper),
            "note": "raw starts not converged: their steps so far, so every raw figure is "
            "a lower bound",
        },
    }


def _campaign_estimate(
    pairs: list[dict[str, Any]], campaign: dict[str, Any], n_paper: int
) -> dict[str, Any]:
    """Mean steps per start, campaign steps and hours on the paper's slab from ``pairs``."""
    steps = {k: float(np.mean([r[k]["steps"] for r in pairs])) for k in STARTS}
    per_step = [s for r in pairs for k in STARTS for s in r[k]["seconds"][1:]]
    t_step = float(np.median(per_step)) if per_step else float("nan")
    n_red = int(np.median([r["potential"]["n_atoms"] for r in pairs]))
    scale = (n_paper / n_red) ** 3
    every, seeded = campaign["exhaustive"], campaign["seeded"]
    steps_raw = every * steps["raw"]
    steps_seeded = seeded * steps["potential"]
    hours = lambda n: n * t_step * scale / 3600  # noqa: E731
    return {
        "mean_steps": steps,
        "calculations": {"every_placement": every, "seeded": seeded},
        "campaign_ionic_steps": {"from_raw": steps_raw, "seeded": steps_seeded},
        "reduced_model_seconds_per_step": t_step,
        "reduced_model_atoms": n_red,
        "paper_slab_atoms": n_paper,
        "assumed_scaling": f"(N_paper / N_reduced)^3 = {scale:.1f}",
        "paper_hours_2_cores": {"from_raw": hours(steps_raw), "seeded": hours(steps_seeded)},
    }


def main(argv: list[str] | None = None) -> None:
    """Advance every relaxation (resumably) and write benchmarks/dft_hours.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--adsorbates", nargs="+", default=["Li2S2", "S8"])
    parser.add_argument("--calculator", default="gpaw", choices=["gpaw", "mock"])
    parser.add_argument("--fmax", type=float, default=0.05)
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument(
        "--starts",
        nargs="+",
        choices=STARTS,
        default=list(STARTS),
        help="which relaxations to advance (two calls with one start each use both cores)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from lis_dft.errors import ParameterError

    try:
        _advance(args)
    except ParameterError as exc:  # a wrong folder, adsorbate or settings: say so, exit 2
        parser.error(str(exc))


def _advance(args: argparse.Namespace) -> None:
    """Advance the relaxations ``args`` name, filing every step in ``args.out``."""
    from lis_dft.dft_workflows.verify import load_run
    from lis_dft.vasp.campaign import seeded_specs

    calc = (
        # SCF forces converged: an ionic step's forces are otherwise off by up to 0.2 eV/Å
        {"name": "gpaw", "d3": "zero", "mode": "lcao", "basis": "dzp", "convergence_forces": 0.01}
        if args.calculator == "gpaw"
        else {"name": "mock", "d3": "none"}
    )
    deadline = None if args.max_minutes is None else time.time() + 60 * args.max_minutes
    results, record, _ = load_run(args.run_dir)
    _, _, seed = seeded_specs(record, results["settings"].get("top_k", 2))
    campaign = {
        "exhaustive": seed.exhaustive_adsorbate_calculations,
        "seeded": seed.adsorbate_calculations,
    }
    n_paper = len(record["slab"]["structure"]["sites"])  # the paper's slab (adsorbate aside)
    run_key = str(args.run_dir)
    frames_dir = args.out.with_suffix("") / args.run_dir.name  # one folder per run
    settings = {"calculator": calc, "fmax": args.fmax}
    potential = (
        results["calculator"].get("kwargs", {}).get("model") or results["calculator"]["name"]
    )

    def record_step(ads: str, config: str, kind: str, state: dict[str, Any]) -> None:
        """File one relaxation's state under its run (several calls may share the file)."""
        pair = {k: frames_dir / f"{ads}_{config}_{k}.extxyz" for k in STARTS}
        minima = None
        if state["converged"] and all(f.is_file() for f in pair.values()):
            from ase.io import read

            if all(float(read(f, index=-1).info["fmax"]) < args.fmax for f in pair.values()):
                minima = compare_minima(pair["potential"], pair["raw"])

        def change(doc: dict[str, Any]) -> dict[str, Any]:
            runs = doc.setdefault("by_run", {})
            entry = runs.get(run_key)
            if entry is None or any(entry.get(k) != v for k, v in settings.items()):
                entry = {**settings, "rows": []}  # other settings: their frames stay on disk
            row = next((r for r in entry["rows"] if r["adsorbate"] == ads), None)
            if row is None:
                row = {"adsorbate": ads, "config": config}
                entry["rows"].append(row)
            row[kind] = state
            if minima is not None:
                row["minima"] = minima
            entry.update(
                potential=potential,
                summary=extrapolate(entry["rows"], campaign, n_paper),
                campaign=campaign,
                machine=machine(),
                threads=os.environ.get("OMP_NUM_THREADS", "unset"),
                packages=package_versions(),
                updated=time.strftime("%Y-%m-%d %H:%M:%S"),
            )
            runs[run_key] = entry
            return doc

        update_json(args.out, change)

    for ads in args.adsorbates:
        starts = starting_geometries(args.run_dir, ads)
        for kind in args.starts:
            frames = frames_dir / f"{ads}_{starts['config']}_{kind}.extxyz"
            where = str(
                frames.relative_to(HERE.parent) if frames.is_relative_to(HERE.parent) else frames
            )

            def progress(
                state: dict[str, Any], ads=ads, config=starts["config"], kind=kind, where=where
            ) -> None:
                record_step(ads, config, kind, {**state, "frames": where})

            state = relax_resumable(
                starts[kind], calc, frames, args.fmax, args.max_steps, deadline, progress
            )
            progress(state)
            print(
                f"{ads} {starts['config']} from {kind}: {state['steps']} steps, "
                f"converged {state['converged']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
