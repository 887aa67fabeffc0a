"""How many BLAS threads should a GPAW worker get? One reference frame, four ways.

GPAW's LCAO single points spend their time in OpenBLAS, which starts one thread per
core and spins while it waits. This benchmark computes the same reference-set frame
(GPAW PBE, the set's own settings) as ``P`` processes side by side with ``T`` BLAS
threads each, for P, T in {1, 2}, and records each process's wall time and energy
(the energies must agree: threads change the speed, not the number). lis-dft's GPAW
calculators give BLAS one thread (``lis_dft.dft_workflows.threads.set_blas_threads``)
because of what this measures. Run it on an otherwise idle machine.

    python -m benchmarks.gpaw_threads [--config ID] [--case 2x1 ...]

writes ``benchmarks/gpaw_threads.json`` after each case (a case already there is kept:
run again to finish the rest).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "gpaw_threads.json"
DEFAULT_CONFIG = "adslab/Li2S2/hollow-flat-r45/frozen"
CASES = ("1x1", "1x2", "2x1", "2x2")


def parse_case(case: str) -> tuple[int, int]:
    """``"PxT"`` -> (processes, BLAS threads per process)."""
    try:
        p, t = (int(x) for x in case.split("x"))
    except ValueError as exc:
        raise SystemExit(f"--case takes PROCESSESxTHREADS such as 2x1, got {case!r}") from exc
    if p < 1 or t < 1:
        raise SystemExit(f"--case needs at least one process and one thread, got {case!r}")
    return p, t


def frame(config_id: str, reference: Path) -> object:
    """The reference frame ``config_id`` (a clear exit if the set has no such frame)."""
    from lis_dft.dft_workflows.reference_set import read_frames

    for atoms in read_frames(reference / "reference.extxyz"):
        if atoms.info["config_id"] == config_id:
            return atoms
    raise SystemExit(f"No frame {config_id!r} in {reference}/reference.extxyz")


def worker(config_id: str, reference: Path) -> dict:
    """One GPAW PBE single point of the frame, in this process (its BLAS as set by env)."""
    from lis_dft.dft_workflows.calculators import build_calculator
    from lis_dft.dft_workflows.gpaw_calc import reduced_cell
    from lis_dft.dft_workflows.reference_set import sdict_kwargs
    from lis_dft.dft_workflows.threads import set_blas_threads

    atoms = reduced_cell(frame(config_id, reference))
    sdict = json.loads(atoms.info["gpaw_settings"])
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        atoms.calc = build_calculator("gpaw", "none", atoms=atoms, **sdict_kwargs(sdict))
        energy = float(atoms.get_potential_energy())
    return {
        "energy": energy,
        "seconds": round(time.perf_counter() - t0, 1),
        "blas": set_blas_threads(),  # what the calculator got (same environment)
    }


def run_case(case: str, config_id: str, reference: Path) -> dict:
    """P processes at once, T BLAS threads each; their wall times and energies."""
    from lis_dft.dft_workflows.threads import BLAS_ENVS, ENV, other_busy_cores

    processes, blas = parse_case(case)
    # the workers' BLAS is limited by set_blas_threads (LIS_DFT_THREADS), as in lis-dft
    env = {k: v for k, v in os.environ.items() if k not in BLAS_ENVS}
    env[ENV] = str(blas)
    busy_before = other_busy_cores(1.0)
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.gpaw_threads",
        "--worker",
        "--config",
        config_id,
        "--reference",
        str(reference),
    ]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, env=env, cwd=HERE.parent, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    outs = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"case {case}: a worker failed (exit {p.returncode})")
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    wall = time.perf_counter() - t0
    return {
        "processes": processes,
        "blas_threads": blas,
        "other_busy_cores_before": round(busy_before, 2),
        "wall_s": round(wall, 1),
        "seconds_per_point": [o["seconds"] for o in outs],
        "points_per_hour": round(3600 * processes / wall, 2),
        "energies_eV": [o["energy"] for o in outs],
        "blas_choice": outs[0]["blas"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="reference frame to compute")
    parser.add_argument("--case", action="append", help="PROCESSESxTHREADS (repeatable)")
    parser.add_argument("--reference", type=Path, default=HERE / "dft_reference")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.config, args.reference.resolve())))
        return
    cases = args.case or list(CASES)
    for case in cases:
        parse_case(case)
    frame(args.config, args.reference)  # a bad --config stops here, before any work
    from lis_dft.fileio import atomic_write_text
    from lis_dft.provenance import package_versions

    data = json.loads(args.out.read_text()) if args.out.exists() else {}
    if data.get("config") not in (None, args.config):
        raise SystemExit(f"{args.out} holds {data['config']}; give another --out for {args.config}")
    data |= {"config": args.config, "cores": os.cpu_count(), "versions": package_versions()}
    data.setdefault("cases", {})
    for case in cases:
        if case in data["cases"]:
            print(f"{case}: kept from {args.out.name}")
            continue
        data["cases"][case] = run_case(case, args.config, args.reference.resolve())
        atomic_write_text(args.out, json.dumps(data, indent=1))
        print(f"{case}: {data['cases'][case]}")


if __name__ == "__main__":
    main()
