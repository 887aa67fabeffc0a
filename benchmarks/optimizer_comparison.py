"""Does another optimizer make a cheap screen possible? The exhaustive way, per optimizer.

Relaxes every AdsorbateSiteFinder placement of one adsorbate (the exhaustive way of
``python -m benchmarks``) on a finished study's relaxed slab once per ASE optimizer,
through atomate2's ForceFieldRelaxMaker, and reports for each the force calls, the
deepest E_A, what relaxing only the winner costs and the cheapest race in hindsight
(:func:`benchmarks.screening_trajectories.hindsight_limits`). Only optimizers with one
force call per step are offered, so trajectory entries count force calls.

    python -m benchmarks.optimizer_comparison lis-dft-run --adsorbate Li2S

Writes ``benchmarks/optimizer_comparison_<adsorbate>.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.suite import adslab_relax_maker, load_study, relax_every_asf_placement

HERE = Path(__file__).parent
#: atomate2 optimizer names that make exactly one force call per step
ONE_CALL_PER_STEP = ("BFGS", "FIRE", "LBFGS")


def compare(run_dir: Path, adsorbate: str, optimizers: list[str]) -> dict[str, Any]:
    """The exhaustive way for ``adsorbate`` with each optimizer, on one study's slab."""
    study = load_study(run_dir)
    rows = {}
    for name in optimizers:
        maker = adslab_relax_maker(study, optimizer=name)
        res = relax_every_asf_placement(study, adsorbate, maker)
        lim = res["limits"]
        rows[name] = {
            "force_calls": res["force_calls"],
            "wall_s": res["wall_s"],
            "best_E_A_eV": res["best_E_A_eV"],
            "winner_alone_force_calls": lim["oracle_force_calls"],
            "cheapest_race_force_calls": lim["best_race"]["force_calls"],
            "cheapest_race_ratio": lim["best_race_ratio"],
            "cheapest_race": lim["best_race"],
            "E_A_by_step": res["E_A_by_step"],
        }
        print(
            f"{name:6s} all {res['force_calls']:4d} calls, best E_A {res['best_E_A_eV']:.3f} eV; "
            f"winner alone {lim['oracle_force_calls']}; cheapest race in hindsight "
            f"{lim['best_race']['force_calls']} ({lim['best_race_ratio']:.1f}x)",
            flush=True,
        )
    calculator = study["results"]["settings"]["calculator"]
    return {"adsorbate": adsorbate, "calculator": calculator, "optimizers": rows}


def main(argv: list[str] | None = None) -> None:
    """Run the comparison and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="finished `lis-dft run` folder")
    parser.add_argument("--adsorbate", default="Li2S", choices=["Li2S", "Li2S2", "S8"])
    parser.add_argument(
        "--optimizers", nargs="+", default=list(ONE_CALL_PER_STEP), choices=ONE_CALL_PER_STEP
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not (args.run_dir / "store" / "jobs.json").is_file():
        parser.error(
            f"{args.run_dir} is not a finished `lis-dft run` folder (no store/jobs.json); "
            "run `lis-dft run --out DIR` first"
        )
    data = compare(args.run_dir, args.adsorbate, args.optimizers)
    out = args.out or HERE / f"optimizer_comparison_{args.adsorbate}.json"
    out.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
