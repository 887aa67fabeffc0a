"""How large is alpha-S under PBE + D3(zero)? The rigid-ring scan, DFT against the potentials.

The alpha-S -> Li2S volume expansion (experiment about 79 % per S) follows the volume of
alpha-S, a crystal of S8 rings bound by dispersion. LCAO dzp cannot say what volume
PBE + D3 wants (no E(V) minimum: basis-set superposition between the rings), so the
reference set holds a plane-wave scan of the one coordinate that matters: the
experimental cell scaled isotropically with every ring rigid
(``lis-dft reference-set ev-scan``, then ``compute --out .../ev_scans --mode pw``;
:mod:`lis_dft.dft_workflows.reference_ev`).

This script puts the potentials (+ D3(zero)) on the same path, and optionally GPAW LCAO
dzp + D3(zero) (``--lcao``: the reference set's basis, to show its superposition
error), and gives each curve's minimum V0 from a parabola through its lowest point and
its two neighbours. The path is not a full relaxation (cell shape and ring orientations
fixed): V0 is compared between methods on the same path. With each method's Li2S volume
(DFT: the minimum of the reference set's Li2S E(V); a potential: its relaxed cell) it
gives the alpha-S -> Li2S expansion per S.

    python -m benchmarks.alpha_s_volume [--potential lis-dft-mf-0-ft5 ...] [--lcao]

writes ``benchmarks/alpha_s_volume.json`` (the LCAO points are kept there and not
recomputed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from lis_dft.provenance import package_versions

HERE = Path(__file__).resolve().parent
OUT = HERE / "alpha_s_volume.json"
EV_SET = HERE / "dft_reference" / "ev_scans" / "reference.extxyz"
LI2S_SET = HERE / "dft_reference" / "reference.extxyz"
DEFAULT_POTENTIALS = (
    "lis-dft-mf-0-ft5",
    "lis-dft-mf-0-ft6",
    "lis-dft-mf-0-ft7",
    "lis-dft-mf-0-ft8",
    "lis-dft-mf-0-ft9",
    "lis-dft-mf-0-ft4",
    "7net-mf-0",
    "7net-l3i5",
)


def v0_parabola(volumes: list[float], energies: list[float]) -> float | None:
    """Volume at the minimum of a parabola through the lowest point and its two neighbours."""
    order = np.argsort(volumes)
    v, e = np.asarray(volumes)[order], np.asarray(energies)[order]
    k = int(np.argmin(e))
    if k == 0 or k == len(e) - 1:
        return None  # no minimum inside the scan
    a, b, _ = np.polyfit(v[k - 1 : k + 2], e[k - 1 : k + 2], 2)
    return float(-b / (2 * a))


def dft_li2s_volume_per_s() -> float | None:
    """Li2S volume per S at the minimum of the reference set's LCAO E(V) (lattice 0.98-1.02).

    The lattice scale is the one ``lis-dft potentials compare`` takes as DFT's
    (:func:`~lis_dft.analysis.potential_benchmark.parabola_minimum`).
    """
    from ase.io import read

    from lis_dft.analysis.potential_benchmark import parabola_minimum

    cells = {
        float(a.info["config_id"].rsplit("/a", 1)[1]): a
        for a in read(LI2S_SET, ":")
        if a.info["config_id"].startswith("bulk/Li2S/a")
    }
    scale = parabola_minimum(list(cells), [a.get_potential_energy() for a in cells.values()])
    if scale is None:
        return None
    ref = cells[1.0]
    return float(ref.get_volume() * scale**3 / ref.get_chemical_symbols().count("S"))


def potential_li2s_volume_per_s(calc: Any) -> float:
    """Li2S volume per S after a full cell relaxation with ``calc`` (atomate2's relaxer)."""
    import os

    from atomate2.ase.utils import AseRelaxer
    from pymatgen.io.ase import AseAtomsAdaptor

    from lis_dft.structures.bulk import build_bulk

    result = AseRelaxer(calc, optimizer="BFGS", relax_cell=True).relax(
        AseAtomsAdaptor.get_atoms(build_bulk("Li2S")),
        fmax=0.01,
        steps=300,
        traj_file=None,
        final_atoms_object_file=os.devnull,
    )
    s = result.final_mol_or_struct
    return s.volume / s.composition["S"]


def curve(points: list[tuple[float, float]], v_exp: float, v_li2s: float | None) -> dict:
    """Points, V0 and the implied expansion of one method."""
    v, e = zip(*sorted(points), strict=True)
    v0 = v0_parabola(list(v), list(e))
    return {
        "points": [{"volume_per_atom": x, "energy_per_atom": y} for x, y in zip(v, e, strict=True)],
        "v0_per_atom": v0,
        "v0_over_experiment": None if v0 is None else v0 / v_exp,
        "li2s_volume_per_S": v_li2s,
        "expansion_pct": None if v0 is None or v_li2s is None else 100 * (v_li2s / v0 - 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    from lis_dft.dft_workflows.calculators import build_calculator, check_model
    from lis_dft.dft_workflows.singlepoint import evaluate
    from lis_dft.errors import CalculatorError

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--potential", action="append", help="SevenNet model (repeatable)")
    p.add_argument("--lcao", action="store_true", help="also GPAW LCAO dzp + D3(zero)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    models = args.potential or list(DEFAULT_POTENTIALS)
    for model in models:  # a wrong name stops here, before any DFT
        try:
            check_model("sevennet", model)
        except CalculatorError as err:
            raise SystemExit(f"--potential: {err}") from None
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    # the alpha-S scan only: the folder also holds the uniform-strain scans (bulk_lattice)
    frames = [a for a in read(EV_SET, ":") if a.info["config_id"].startswith("ev/S/")]
    if not frames:
        raise SystemExit(f"No plane-wave scan in {EV_SET}: run 'lis-dft reference-set ev-scan'.")
    ref = next(a for a in frames if a.info["config_id"].endswith("/v1.000"))
    v_exp = ref.get_volume() / len(ref)
    settings = json.loads(ref.info["gpaw_settings"])
    out: dict[str, Any] = {
        "what": "alpha-S along a rigid-ring isotropic scaling of the experimental 32-atom "
        "primitive cell (benchmarks/dft_reference/ev_scans); eV and Å³ per atom",
        "v_experiment_per_atom": v_exp,
        "methods": {},
    }
    label = f"GPAW PBE + D3(zero), plane waves {settings['ecut']:.0f} eV"
    v_li2s_dft = dft_li2s_volume_per_s()
    out["methods"][label] = curve(
        [(a.get_volume() / len(a), a.get_potential_energy() / len(a)) for a in frames],
        v_exp,
        v_li2s_dft,
    )
    out["methods"][label]["li2s_from"] = "LCAO dzp E(V) of the reference set (3 points)"
    if args.lcao or "GPAW PBE + D3(zero), LCAO dzp" in old.get("methods", {}):
        lcao = "GPAW PBE + D3(zero), LCAO dzp"
        done = {
            round(pt["volume_per_atom"], 6): pt["energy_per_atom"]
            for pt in old.get("methods", {}).get(lcao, {}).get("points", [])
        }
        pts = []
        for a in frames:
            v = a.get_volume() / len(a)
            if round(v, 6) not in done and args.lcao:
                t0 = time.perf_counter()
                s = AseAtomsAdaptor.get_structure(a)
                with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):  # gpaw.txt
                    e = evaluate(s, {"name": "gpaw", "d3": "zero"})["energy"]
                done[round(v, 6)] = e / len(a)
                print(lcao, f"{v:.2f}", f"{time.perf_counter() - t0:.0f} s", flush=True)
            if round(v, 6) in done:
                pts.append((v, done[round(v, 6)]))
                out["methods"][lcao] = curve(pts, v_exp, v_li2s_dft)
                _write(args.out, out)  # each LCAO point kept at once (1.5 min each)
    for model in models:
        calc = build_calculator("sevennet", d3="zero", model=model)
        pts = []
        for a in frames:
            b = a.copy()
            b.calc = calc
            pts.append((b.get_volume() / len(b), b.get_potential_energy() / len(b)))
        out["methods"][f"{model} + D3(zero)"] = curve(pts, v_exp, potential_li2s_volume_per_s(calc))
    for name, m in out["methods"].items():
        v0 = m["v0_per_atom"]
        print(
            f"{name}: V0 {v0:.2f} Å³/atom ({100 * (m['v0_over_experiment'] - 1):+.1f} % of "
            f"experiment), expansion {m['expansion_pct']:+.1f} %"
            if v0
            else f"{name}: no minimum inside the scan"
        )
    _write(args.out, out)
    return out


def _write(path: Path, out: dict[str, Any]) -> None:
    """The JSON, with the package versions, written atomically."""
    from lis_dft.fileio import atomic_write_text

    out["versions"] = package_versions(("gpaw", "ase", "sevenn", "lis-dft"))
    atomic_write_text(path, json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
