"""Scale: the adsorbate stage of a catalyst comparison, 3 catalysts x 6 species.

Target 3 of the performance issue: the adsorbate stage (screen + relaxations of every
species) grows linearly with the number of systems and keeps both cores busy; wall time
per system reported. Each catalyst is one real ``lis-dft run --catalyst X --species
ladder --no-barriers`` (the default screen and the paper's slab, its own process, timed
from outside):

    python -m benchmarks.scale                       # LiI, LiBr, LiCl
    python -m benchmarks.scale --catalysts LiI LiBr  # fewer

A system is one (catalyst, species): its ``screen/<species>`` job and its
``adslab/<species>/*`` relaxations. Linear: the adsorbate stage's cumulative wall after
each catalyst against the systems so far (a least-squares line through the origin, and
its worst relative residual); within a catalyst the per-system times spread with the
species' sizes (Li2S to Li2S8), which is physics, not the code. Core
utilisation is the process's CPU time over its wall time and the cores. Writes
``benchmarks/scale.json`` after every catalyst (resumable: a catalyst measured with the
same potential is not run again). The runs are filed per default potential, as the
budget's repeats are: when the default changes, the old runs stay under their own key
and the new default is measured afresh.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.budget import default_model, lis_dft_command, refuse_other_model, timed
from benchmarks.suite import machine
from lis_dft.fileio import atomic_write_text
from lis_dft.provenance import package_versions

HERE = Path(__file__).parent
OUT = HERE / "scale.json"
CATALYSTS = ("LiI", "LiBr", "LiCl")


def systems(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per species of one run: its screen, its relaxations and the configurations (pure)."""
    jobs = results["timing"]["job_seconds"]
    catalyst = results["catalyst"]["label"]
    out = []
    for sp, ae in results["adsorption_energies"].items():
        relax = [v for k, v in jobs.items() if k.startswith(f"adslab/{sp}/")]
        screen = jobs.get(f"screen/{sp}", 0.0)
        out.append(
            {
                "system": f"{sp} on {catalyst}",
                "screen_s": round(screen, 1),
                "relaxations_s": round(sum(relax), 1),
                "wall_s": round(screen + sum(relax), 1),
                "placements": len(ae["configs"]),
                "relaxed": len(relax),
                "E_A_eV": round(ae["eV"], 3),
            }
        )
    return out


def linearity(points: list[tuple[int, float]]) -> dict[str, float]:
    """(systems so far, cumulative wall) after each catalyst: slope through 0, worst residual.

    Points are taken per catalyst (each runs the same species), so the spread of the
    species' sizes within one catalyst does not read as non-linearity.
    """
    slope = sum(k * c for k, c in points) / sum(k * k for k, _ in points)
    worst = max(abs(c - slope * k) / c for k, c in points)
    return {"seconds_per_system": round(slope, 1), "worst_relative_residual": round(worst, 3)}


def run_catalyst(catalyst: str) -> dict[str, Any]:
    """One ladder run of ``catalyst`` (no barriers): wall, CPU and its systems."""
    with tempfile.TemporaryDirectory(prefix=f"scale-{catalyst}-") as tmp:
        out = Path(tmp) / "run"
        cmd = lis_dft_command(
            "run",
            "--catalyst",
            catalyst,
            "--species",
            "ladder",
            "--no-barriers",
            "--no-progress",
            "--out",
            str(out),
        )
        wall, usage = timed(cmd)
        res = json.loads((out / "results.json").read_text())
    cpu = usage.ru_utime + usage.ru_stime
    rows = systems(res)
    return {
        "catalyst": catalyst,
        "command_wall_s": round(wall, 1),
        "study_flow_s": res["timing"]["wall_seconds"],
        "adsorbate_stage_s": round(sum(r["wall_s"] for r in rows), 1),
        "core_utilisation": round(cpu / wall / (os.cpu_count() or 1), 3),
        "calculator_fraction": res["timing"]["calculator_fraction"],
        "systems": rows,
        "calculator": res["calculator"].get("model"),
        "model_name": (res["calculator"].get("kwargs") or {}).get("model"),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The comparison's totals and linearity (pure; tested)."""
    walls = [s["wall_s"] for r in runs for s in r["systems"]]
    if not walls:
        return {}
    points, n, total = [], 0, 0.0
    for r in runs:
        n += len(r["systems"])
        total += sum(s["wall_s"] for s in r["systems"])
        points.append((n, total))
    return {
        "systems": len(walls),
        "adsorbate_stage_s": round(sum(walls), 1),
        "per_system_s": {
            "min": min(walls),
            "max": max(walls),
            "mean": round(sum(walls) / len(walls), 1),
        },
        "core_utilisation": {r["catalyst"]: r["core_utilisation"] for r in runs},
        "per_catalyst_s": {r["catalyst"]: r["adsorbate_stage_s"] for r in runs},
        "cumulative": points,
        **linearity(points),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the catalysts still missing for the default potential and write scale.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalysts", nargs="+", default=list(CATALYSTS))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
    model = default_model("default")
    section = doc.setdefault("by_model", {}).setdefault(model, {"runs": []})
    for cat in args.catalysts:
        if any(r["catalyst"] == cat for r in section["runs"]):
            continue
        row = run_catalyst(cat)
        refuse_other_model(row, model, f"The {cat} run", "its runs are filed under", "this run")
        section["runs"].append(row)
        section["summary"] = summary(section["runs"])
        doc.update(machine=machine(), packages=package_versions())
        atomic_write_text(args.out, json.dumps(doc, indent=1, default=str))
        print(f"{cat} ({model}): adsorbate stage {row['adsorbate_stage_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
