"""What does the surface's relaxation under an adsorbate cost? DFT against the potentials.

A counterpoise-corrected adsorption energy splits exactly into an interaction and two
deformation energies (:func:`lis_dft.dft_workflows.finetune.deformation_terms`):
E_A = E_int + (E(slab as in the complex) - E(clean slab)) + (E(molecule as in the
complex) - E(molecule)). The slab part is a PBE energy difference of two slabs with the
same atoms, known from the counterpoise step's own-basis fragment (``counterpoise.json``)
for every corrected complex whose slab moved. A potential that charges the surface too
much for relaxing under Li2S or Li2S2 prefers a frozen surface to the one DFT relaxes
to: the one held-out ordering every fine-tune gets wrong (docs/methods.md).

This script evaluates each potential (bare: the labels are PBE) on exactly the terms
fine-tuning trains, splits them into training families and the held-out families
(``--hold-out``, default :data:`lis_dft.dft_workflows.finetune.DEFAULT_HOLD_OUT`) and
reports the mean error (the sign says too stiff or too soft), MAE and largest error.

    python -m benchmarks.slab_deformation [--potential lis-dft-mf-0-ft6 ...] \\
        [--attempt NAME=PATH/model.pth ...]

writes ``benchmarks/slab_deformation.json``. ``--attempt`` scores a fine-tune attempt's
weights (``lis-dft finetune --out PATH``) under its name; the weights are not committed,
the numbers are.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from lis_dft.provenance import package_versions

HERE = Path(__file__).resolve().parent
OUT = HERE / "slab_deformation.json"
REFERENCE_DIR = HERE / "dft_reference"
DEFAULT_POTENTIALS = (
    "7net-mf-0",
    "lis-dft-mf-0-ft5",
    "lis-dft-mf-0-ft6",
    "lis-dft-mf-0-ft7",
    "lis-dft-mf-0-ft8",
    "lis-dft-mf-0-ft9",
)


def deformation_points(
    reference_dir: Path, hold_out: tuple[str, ...]
) -> tuple[list[Any], list[dict[str, Any]]]:
    """The slab-deformation terms fine-tuning trains, over every corrected complex.

    Returns the atoms of each term's two slabs and, per term, its complex, DFT's value
    (eV) and whether its family is held out.
    """
    from lis_dft.dft_workflows import reference_counterpoise
    from lis_dft.dft_workflows.finetune import deformation_terms, fragment_energies, labels
    from lis_dft.dft_workflows.reference_set import REFERENCE, read_frames

    frames = read_frames(Path(reference_dir) / REFERENCE)
    items = labels(frames, reference_counterpoise.corrections(reference_dir))
    extra, terms = deformation_terms(items, range(len(items)), fragment_energies(reference_dir))
    every = items + extra
    pairs, points = [], []
    for t in terms:
        if not t.name.startswith("slab deformation "):
            continue
        deformed, clean = (every[i] for i in t.frames)
        complex_id = t.name.removeprefix("slab deformation ")
        pairs.append((deformed.atoms, clean.atoms))
        points.append(
            {
                "config_id": complex_id,
                "family": deformed.family,
                "held_out": deformed.family in hold_out,
                "dft_eV": deformed.energy - clean.energy,
            }
        )
    return pairs, points


def summary(points: list[dict[str, Any]]) -> dict[str, float | int | None]:
    """Mean error, MAE and largest error (eV) of some points."""
    err = np.array([p["error_eV"] for p in points])
    if not len(err):
        return {"n": 0, "mean_error_eV": None, "mae_eV": None, "max_eV": None}
    return {
        "n": len(err),
        "mean_error_eV": float(err.mean()),
        "mae_eV": float(np.abs(err).mean()),
        "max_eV": float(np.abs(err).max()),
    }


def score(calc: Any, pairs: list[Any], points: list[dict[str, Any]]) -> dict[str, Any]:
    """Each term under ``calc``, and the summaries over training and held-out families."""
    out = []
    for (deformed, clean), p in zip(pairs, points, strict=True):
        e = []
        for atoms in (deformed, clean):
            a = atoms.copy()
            a.calc = calc
            e.append(float(a.get_potential_energy()))
        value = e[0] - e[1]
        out.append({**p, "potential_eV": value, "error_eV": value - p["dft_eV"]})
    return {
        "training": summary([p for p in out if not p["held_out"]]),
        "held_out": summary([p for p in out if p["held_out"]]),
        "points": out,
    }


def _shown(path: Path) -> str:
    """The path relative to the repository when inside it (no machine paths in the JSON)."""
    try:
        return str(Path(path).resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from lis_dft.dft_workflows.calculators import build_calculator, check_model
    from lis_dft.dft_workflows.finetune import DEFAULT_HOLD_OUT
    from lis_dft.errors import CalculatorError
    from lis_dft.fileio import atomic_write_text

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--potential", action="append", help="SevenNet model (repeatable)")
    p.add_argument("--attempt", action="append", default=[], help="NAME=PATH of fine-tuned weights")
    p.add_argument("--hold-out", action="append", help="held-out family (repeatable)")
    p.add_argument("--reference", type=Path, default=REFERENCE_DIR)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    models = {m: m for m in args.potential or DEFAULT_POTENTIALS}
    for spec in args.attempt:
        name, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            raise SystemExit(f"--attempt {spec!r}: give NAME=PATH to an existing model.pth.")
        models[name] = path
    for model in models.values():  # a wrong name stops here, before any work
        try:
            check_model("sevennet", model)
        except CalculatorError as err:
            raise SystemExit(f"--potential: {err}") from None
    hold_out = tuple(args.hold_out or DEFAULT_HOLD_OUT)
    pairs, points = deformation_points(args.reference, hold_out)
    if not points:
        raise SystemExit(f"No corrected complex with a relaxed slab in {args.reference}.")
    out: dict[str, Any] = {
        "what": "slab deformation energy E(slab as in the complex) - E(clean slab), bare "
        "potential against GPAW PBE (counterpoise own-basis fragments), eV",
        "reference": _shown(args.reference),
        "hold_out": list(hold_out),
    }
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    # earlier potentials stay, re-scored ones are replaced
    out["potentials"] = {k: v for k, v in old.get("potentials", {}).items() if k not in models}
    for name, model in models.items():
        calc = build_calculator("sevennet", d3="none", model=model)
        res = score(calc, pairs, points)
        out["potentials"][name] = {"model": model, **res}
        t, h = res["training"], res["held_out"]
        print(
            f"{name}: training n={t['n']} mean {t['mean_error_eV']:+.3f} MAE {t['mae_eV']:.3f} "
            f"max {t['max_eV']:.3f}; held out n={h['n']} mean {h['mean_error_eV']:+.3f} "
            f"MAE {h['mae_eV']:.3f} max {h['max_eV']:.3f} eV"
            if h["n"]
            else f"{name}: training n={t['n']} mean {t['mean_error_eV']:+.3f} eV"
        )
    out["provenance"] = {"versions": package_versions()}
    atomic_write_text(args.out, json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
