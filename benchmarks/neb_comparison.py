"""Which NEB optimizer and how many images: force calls to a converged climbing image.

Runs the NEB stages of ``lis-dft barriers`` (:func:`lis_dft.dft_workflows.barriers.neb_path`:
IDPP images, plain NEB to ``pre_fmax``, climbing image to ``fmax``) between the relaxed
end points a finished run wrote to ``RUN/barriers/<path>/{initial,final}.POSCAR``, once
per variant (optimizer x number of images), on the run's calculator. Each variant records
its force calls, wall time, barriers and whether the climbing image converged; the file
is rewritten after every variant and finished variants are skipped, so an interrupted
comparison resumes.

    python -m benchmarks.neb_comparison benchmarks/default_run --path Li2S_LiI_100 \\
        --variant FIRE:5 --variant ODE:5 --variant ODE:3

Writes ``benchmarks/neb_comparison.json`` (or ``--out``), keyed by path then variant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
#: OPTIMIZER[/CLIMB_OPTIMIZER]:IMAGES (the climbing stage uses FIRE unless named)
DEFAULT_VARIANTS = ("FIRE:5", "ODE/FIRE:5", "ODE/BFGS:5", "ODE/FIRE:3")


def run_variant(
    run_dir: Path, path: str, optimizer: str, n_images: int, climb_optimizer: str = "FIRE"
) -> dict[str, Any]:
    """One NEB between the stored end points of ``path``; its cost and result."""
    import numpy as np
    from pymatgen.core import Structure

    from lis_dft.analysis.barriers import analyse_path
    from lis_dft.dft_workflows.barriers import BarrierSettings, _atoms, _calc, neb_path
    from lis_dft.dft_workflows.calculators import CALC_TIMER, build_calculator

    results = json.loads((run_dir / "results.json").read_text())
    paths = {b["files"]["path"].split("/")[1]: b for b in results.get("barriers") or []}
    if path not in paths:
        raise SystemExit(
            f"{run_dir} has no barrier path {path!r}; it has: {', '.join(paths) or 'none'} "
            "(run 'lis-dft barriers RUN' first)."
        )
    record = paths[path]
    folder = run_dir / "barriers" / path
    initial = Structure.from_file(folder / "initial.POSCAR")
    final = Structure.from_file(folder / "final.POSCAR")
    base = {
        k: v for k, v in record["settings"].items() if k in BarrierSettings.__dataclass_fields__
    }
    s = BarrierSettings(
        **base
        | {
            "optimizer": optimizer,
            "climb_optimizer": climb_optimizer,
            "n_images": n_images,
            "modes": False,
        }
    )
    spec = _calc(results)
    calc = build_calculator(**spec)
    ends = []
    for st in (initial, final):
        a = _atoms(st)
        a.calc = calc
        ends.append(float(a.get_potential_energy()))
    calls0, t0 = CALC_TIMER.calls, time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):  # IDPP's idpp.traj/log
        p = neb_path(initial, final, spec, s)
    seconds, calls = time.perf_counter() - t0, CALC_TIMER.calls - calls0
    i = int(np.argmax(p.energies))
    ts = _atoms(p.images[i])
    ts.calc = calc
    force = float(np.linalg.norm(ts.get_forces(), axis=1).max())
    r = analyse_path(
        record["reaction"],
        record["environment"],
        p.energies,
        ends[0],
        ends[1],
        force,
        s.fmax,
        converged=p.converged,
    )
    return {
        "optimizer": optimizer,
        "climb_optimizer": climb_optimizer,
        "n_images": n_images,
        "force_calls": calls,
        "seconds": round(seconds, 1),
        "seconds_per_call": round(seconds / max(calls, 1), 4),
        "forward_eV": r.forward_eV,
        "reverse_eV": r.reverse_eV,
        "reaction_eV": r.reaction_eV,
        "energies": r.energies,
        "ts_max_force": force,
        "converged": p.converged,
        "climbed": p.climbed,
        "is_saddle": r.is_saddle,
        "verdict": r.verdict,
        "stages": p.stages,
        "settings": s.as_dict(),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the variants not yet in the output file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="finished run with computed barriers")
    parser.add_argument("--path", default="Li2S_LiI_100", help="RUN/barriers/<path>")
    parser.add_argument(
        "--variant", action="append", help="OPTIMIZER:IMAGES (repeatable)", default=None
    )
    parser.add_argument("--out", type=Path, default=HERE / "neb_comparison.json")
    args = parser.parse_args(argv)
    from lis_dft.fileio import atomic_write_text

    data = json.loads(args.out.read_text()) if args.out.exists() else {}
    rows = data.setdefault(args.path, {})
    for v in args.variant or DEFAULT_VARIANTS:
        if ":" not in v or not v.rpartition(":")[2].isdigit():
            parser.error(
                f"--variant {v!r}: give OPTIMIZER[/CLIMB_OPTIMIZER]:IMAGES, e.g. ODE/FIRE:5"
            )
        if v in rows:
            continue
        opts, n = v.split(":")
        opt, _, climb = opts.partition("/")
        rows[v] = run_variant(args.run_dir, args.path, opt, int(n), climb or "FIRE")
        import torch

        rows[v]["machine"] = {
            "torch_threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "load_1min": os.getloadavg()[0],
            "python": platform.python_version(),
        }
        r = rows[v]
        print(
            f"{args.path} {v}: {r['force_calls']} calls, {r['seconds']} s, forward "
            f"{r['forward_eV']:.3f} eV, {r['verdict']}",
            flush=True,
        )
        atomic_write_text(args.out, json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
