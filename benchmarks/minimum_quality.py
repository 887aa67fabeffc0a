"""Does the default run report the right adsorption minimum? The run against the exhaustive way.

Target 1 of the performance issue: for every adsorbate of a finished ``lis-dft run``,
the minimum the run reports must be within ``TOLERANCE_EV`` of, or below, the lowest
*sound* minimum of the exhaustive way: every AdsorbateSiteFinder placement
(``generate_adsorption_structures``, as atomate2's adsorption workflow enumerates them)
relaxed to convergence with the run's own potential, slab and relaxation settings through
atomate2's ForceFieldRelaxMaker. Sound = the adsorbate is intact and the surface is not
destroyed, by the same checks the run applies (``adsorbate_integrity``,
``surface_integrity``); a lower minimum that tore the molecule or the surface apart does
not count against the run, but is listed.

    python -m benchmarks.minimum_quality benchmarks/default_run

    python -m benchmarks.minimum_quality benchmarks/default_run /tmp/other-run  # several runs

Writes ``benchmarks/minimum_quality.json`` (or ``--out``) and the relaxed placements to
``benchmarks/minimum_quality/<adsorbate>-<id>.extxyz``. Resumable: the exhaustive way of an
adsorbate is relaxed once per potential, slab and molecule (:func:`exhaustive_id`, the key
it is filed under, so the exhaustive ways of several default potentials stand side by
side) and written as soon as it is done, so an interrupted benchmark loses at most the
adsorbate it was on; every run given is judged against its own (cheap), and its verdicts
name the exhaustive way they were judged against.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from benchmarks.suite import adslab_relax_maker, load_study, machine
from lis_dft.fileio import atomic_write_text
from lis_dft.provenance import package_versions

HERE = Path(__file__).parent
#: eV: the run's minimum may lie at most this far above the exhaustive sound minimum
TOLERANCE_EV = 0.05


def asf_placements(study: dict[str, Any], ads: str) -> list[Any]:
    """Every ASF placement of ``ads`` on the run's relaxed slab, the bottom layers held."""
    from pymatgen.analysis.adsorption import AdsorbateSiteFinder
    from pymatgen.core import Structure

    from lis_dft.dft_workflows.jobs import molecule_from_boxed

    by_key = study["by_key"]
    slab = Structure.from_dict(by_key["slab/relax"]["output"]["structure"])
    mol = molecule_from_boxed(Structure.from_dict(by_key[f"molecule/{ads}"]["output"]["structure"]))
    fixed = study["ideal_slab"].site_properties.get("selective_dynamics")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        placements = AdsorbateSiteFinder(slab).generate_adsorption_structures(mol, translate=True)
    for p in placements:  # ASF appends the adsorbate after the slab atoms
        if fixed is not None:
            p.add_site_property(
                "selective_dynamics", list(fixed) + [[True] * 3] * (len(p) - len(fixed))
            )
    return placements


def relax_and_judge(study: dict[str, Any], ads: str, frames: Path | None = None) -> dict[str, Any]:
    """Relax every ASF placement of ``ads``; E_A, steps and soundness of each minimum.

    ``frames``: an extxyz file that gets every relaxed placement (info: placement, E_A),
    so the minima can be inspected.
    """
    from jobflow import Flow
    from pymatgen.core import Structure

    from lis_dft.analysis.energetics import adsorbate_integrity
    from lis_dft.dft_workflows.runner import run_flow
    from lis_dft.dft_workflows.stores import local_job_store
    from lis_dft.structures.validation import surface_integrity

    by_key = study["by_key"]
    slab_doc, mol_doc = by_key["slab/relax"]["output"], by_key[f"molecule/{ads}"]["output"]
    clean = Structure.from_dict(slab_doc["structure"])
    e_ref = slab_doc["output"]["energy"] + mol_doc["output"]["energy"]
    n_slab = len(clean)
    maker = adslab_relax_maker(study)
    jobs = [maker.make(p) for p in asf_placements(study, ads)]
    rows, finals = [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = local_job_store(Path(tmp) / "store")
        stats = run_flow(Flow(jobs), store, Path(tmp) / "jobs", progress=False)
        for i, j in enumerate(jobs):
            doc = store.get_output(j.uuid, load=True)
            final = Structure.from_dict(doc["structure"])
            finals.append(final)
            intact, why = adsorbate_integrity(final, n_slab, ads)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                surface = surface_integrity(clean, final, n_slab)
            rows.append(
                {
                    "placement": f"asf{i}",
                    "E_A_eV": doc["output"]["energy"] - e_ref,
                    "n_steps": doc["output"]["n_steps"],
                    "converged": doc["is_force_converged"],
                    "intact": intact,
                    "integrity": why,
                    "surface_intact": surface.intact,
                    "surface_detail": surface.detail,
                }
            )
    if frames is not None:
        from ase.io import write
        from pymatgen.io.ase import AseAtomsAdaptor

        images = []
        for row, final in zip(rows, finals, strict=True):
            atoms = AseAtomsAdaptor.get_atoms(final)
            atoms.info.update(placement=row["placement"], E_A_eV=row["E_A_eV"])
            images.append(atoms)
        frames.parent.mkdir(parents=True, exist_ok=True)
        write(frames, images, format="extxyz")
    return {
        "placements": rows,
        "force_calls": stats.calculator_calls,
        "wall_s": stats.wall_seconds,
    }


def judge(reported: dict[str, Any], exhaustive: dict[str, Any]) -> dict[str, Any]:
    """The run's reported minimum against the exhaustive sound minimum (pure; tested)."""
    sound = [
        r
        for r in exhaustive["placements"]
        if r["intact"] and r["surface_intact"] and r["converged"]
    ]
    lowest_any = min(exhaustive["placements"], key=lambda r: r["E_A_eV"])
    out: dict[str, Any] = {
        "reported_E_A_eV": reported["eV"],
        "reported_config": reported["best_config"],
        "reported_sound": bool(
            reported.get("best_config_intact") and reported.get("best_config_surface_intact")
        ),
        "exhaustive_sound": len(sound),
        "exhaustive_lowest_any_eV": lowest_any["E_A_eV"],
        "exhaustive_lowest_any_sound": lowest_any in sound,
    }
    if not sound:
        out.update(exhaustive_best_sound_eV=None, difference_eV=None, met=None)
        out["verdict"] = "no sound exhaustive minimum to compare with"
        return out
    best = min(sound, key=lambda r: r["E_A_eV"])
    diff = reported["eV"] - best["E_A_eV"]
    met = out["reported_sound"] and diff <= TOLERANCE_EV
    out.update(
        exhaustive_best_sound_eV=best["E_A_eV"],
        exhaustive_best_placement=best["placement"],
        difference_eV=diff,
        met=met,
        verdict=(
            f"met: {diff:+.3f} eV against the exhaustive sound minimum"
            if met
            else (
                "missed: the reported minimum is not sound"
                if not out["reported_sound"]
                else f"missed: {diff:+.3f} eV above the exhaustive sound minimum"
            )
        ),
    )
    return out


def exhaustive_id(study: dict[str, Any], ads: str) -> str:
    """What the exhaustive way of ``ads`` depends on: potential, relaxed slab and molecule.

    Two runs with the same potential and relaxation settings share their reference jobs
    (same slab, same molecule), so the exhaustive relaxations measured on one judge the
    minima the other reports, whatever its screen.
    """
    by_key, settings = study["by_key"], study["results"]["settings"]
    key = {
        "calculator": settings["calculator"],
        "relax": [settings[k] for k in ("fmax", "steps", "optimizer")],
        "slab_energy": round(by_key["slab/relax"]["output"]["output"]["energy"], 4),
        "molecule_energy": round(by_key[f"molecule/{ads}"]["output"]["output"]["energy"], 4),
        "slab_atoms": len(by_key["slab/relax"]["output"]["structure"]["sites"]),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_summary(run_dir: Path) -> dict[str, Any]:
    """How a run screened and what its study cost (for the table beside the verdicts)."""
    res = json.loads((run_dir / "results.json").read_text())
    s, t = res["settings"], res["timing"]
    return {
        "race": s.get("race"),
        "screen_slab": s.get("screen_slab", "study"),
        "top_k": s.get("top_k"),
        "study_wall_s": t.get("wall_seconds"),
        "study_calculator_calls": t.get("calculator_calls"),
        "adsorbate_jobs_s": sum(
            v
            for k, v in (t.get("job_seconds") or {}).items()
            if k.startswith(("screen/", "adslab/"))
        ),
    }


def main(argv: list[str] | None = None) -> None:
    """Relax (resumably) what is missing, judge every given run, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, nargs="+", help="finished `lis-dft run` folders")
    parser.add_argument("--out", type=Path, default=HERE / "minimum_quality.json")
    parser.add_argument("--adsorbate", nargs="+", default=None)
    args = parser.parse_args(argv)
    for run_dir in args.run_dir:
        if not ((run_dir / "results.json").is_file() and (run_dir / "store").is_dir()):
            parser.error(
                f"{run_dir} is not a finished 'lis-dft run' folder (no results.json and "
                "store/ in it): give the folder 'lis-dft run --out' wrote."
            )
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
    doc.setdefault("exhaustive", {})
    doc.setdefault("runs", {})
    doc.update({"tolerance_eV": TOLERANCE_EV, "machine": machine(), "packages": package_versions()})
    for run_dir in args.run_dir:
        study = load_study(run_dir)
        reported = study["results"]["adsorption_energies"]
        verdicts = {}
        for ads in args.adsorbate or list(reported):
            ex_id = exhaustive_id(study, ads)
            exhaustive = doc["exhaustive"].get(ex_id)
            if exhaustive is None:
                t0 = time.perf_counter()
                frames = args.out.with_suffix("") / f"{ads}-{ex_id}.extxyz"
                exhaustive = relax_and_judge(study, ads, frames)
                exhaustive.update(
                    adsorbate=ads,
                    frames=str(
                        frames.relative_to(HERE.parent)
                        if frames.is_relative_to(HERE.parent)
                        else frames
                    ),
                    from_run=str(run_dir),
                    calculator=study["results"]["settings"]["calculator"],
                    created=time.strftime("%Y-%m-%d %H:%M:%S"),
                )
                doc["exhaustive"][ex_id] = exhaustive
                atomic_write_text(args.out, json.dumps(doc, indent=1, default=str))
                print(
                    f"{ads}: exhaustive way relaxed ({time.perf_counter() - t0:.0f} s)", flush=True
                )
            verdicts[ads] = {**judge(reported[ads], exhaustive), "exhaustive_id": ex_id}
            print(f"{run_dir} {ads}: {verdicts[ads]['verdict']}", flush=True)
        doc["runs"][str(run_dir)] = {**run_summary(run_dir), "adsorbates": verdicts}
        atomic_write_text(args.out, json.dumps(doc, indent=1, default=str))


if __name__ == "__main__":
    main()
