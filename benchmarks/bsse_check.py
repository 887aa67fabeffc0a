"""Is LCAO dzp + counterpoise right? Calibrate against plane waves on a cluster.

The counterpoise correction lis-dft verify applies to LCAO dzp adsorption energies is
large for Li2S on LiI(100) (0.76 eV on the default run's minimum). Plane waves have no
basis-set superposition, but a plane-wave slab is too costly here, so this script cuts
a neutral cluster from a verified geometry (the adsorbate plus the Li2I2 square of
surface atoms closest to it), puts it in a box, and computes its interaction energy
three ways with GPAW PBE: raw LCAO dzp, counterpoise-corrected LCAO dzp, and plane
waves (``--ecut``). D3 is left out: it is identical in all three.

    python -m benchmarks.bsse_check RUN --adsorbate Li2S [--config ID] [--ecut 500]

writes ``benchmarks/bsse_check.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from lis_dft.dft_workflows.singlepoint import evaluate
from lis_dft.dft_workflows.verify import _structure, load_run
from lis_dft.provenance import package_versions

HERE = Path(__file__).resolve().parent


def cluster(adslab: Structure, n_slab: int, box: float = 14.0) -> tuple[Structure, int]:
    """Adsorbate + the two Li and two I of the top layer nearest to it, centred in a box."""
    ads = list(range(n_slab, len(adslab)))
    centre = adslab.cart_coords[ads].mean(axis=0)
    z_top = np.sort(adslab.cart_coords[:n_slab, 2])[-n_slab // 8 :].min() - 0.5
    picked = []
    for el in ("Li", "I"):
        cands = [
            (np.linalg.norm(adslab.lattice.get_cartesian_coords(d - np.round(d))), i)
            for i in range(n_slab)
            if adslab[i].specie.symbol == el and adslab.cart_coords[i, 2] > z_top
            for d in [adslab[i].frac_coords - adslab.lattice.get_fractional_coords(centre)]
        ]
        picked += [i for _, i in sorted(cands)[:2]]
    frac0 = adslab.lattice.get_fractional_coords(centre)
    cart = []
    for i in picked + ads:
        d = adslab[i].frac_coords - frac0
        cart.append(adslab.lattice.get_cartesian_coords(d - np.round(d)))
    cart = np.array(cart) + box / 2
    species = [adslab[i].specie for i in picked + ads]
    return Structure(Lattice.cubic(box), species, cart, coords_are_cartesian=True), len(picked)


def interaction(structure: Structure, n_a: int, calc: dict, cp: bool) -> dict:
    """E(AB) - E(A) - E(B) at the complex geometry; with ``cp`` in the full basis."""
    a_idx, b_idx = list(range(n_a)), list(range(n_a, len(structure)))
    e_ab = evaluate(structure, calc)["energy"]
    if cp:
        e_a = evaluate(structure, calc, ghosts=b_idx)["energy"]
        e_b = evaluate(structure, calc, ghosts=a_idx)["energy"]
    else:
        a, b = structure.copy(), structure.copy()
        a.remove_sites(b_idx)
        b.remove_sites(a_idx)
        e_a, e_b = evaluate(a, calc)["energy"], evaluate(b, calc)["energy"]
    return {"E_int_eV": e_ab - e_a - e_b, "E_AB": e_ab, "E_A": e_a, "E_B": e_b}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--adsorbate", default="Li2S")
    p.add_argument("--config", default=None, help="default: the run's reported configuration")
    p.add_argument("--ecut", type=float, default=500.0)
    p.add_argument("--out", type=Path, default=HERE / "bsse_check.json")
    args = p.parse_args(argv)
    results, record, _ = load_run(args.run)
    cid = args.config or results["adsorption_energies"][args.adsorbate]["best_config"]
    cfg = next(c for c in record["adsorbates"][args.adsorbate]["configs"] if c["id"] == cid)
    n_slab = len(_structure(record["slab"]))
    cl, n_a = cluster(_structure(cfg), n_slab)
    out = {
        "adsorbate": args.adsorbate,
        "config": cid,
        "cluster": cl.composition.formula,
        "what": "E_int = E(cluster) - E(Li2I2 square) - E(adsorbate), complex geometry, PBE without D3",
    }
    methods = {
        "lcao_dzp_raw": ({"name": "gpaw", "d3": "none", "mode": "lcao", "basis": "dzp"}, False),
        "lcao_dzp_counterpoise": (
            {"name": "gpaw", "d3": "none", "mode": "lcao", "basis": "dzp"},
            True,
        ),
        f"pw_{args.ecut:.0f}eV": (
            {"name": "gpaw", "d3": "none", "mode": "pw", "ecut": args.ecut},
            False,
        ),
    }
    for label, (calc, cp) in methods.items():
        t0 = time.perf_counter()
        out[label] = interaction(cl, n_a, calc, cp)
        out[label]["seconds"] = round(time.perf_counter() - t0, 1)
        print(label, round(out[label]["E_int_eV"], 3), "eV", out[label]["seconds"], "s", flush=True)
    pw = out[f"pw_{args.ecut:.0f}eV"]["E_int_eV"]
    out["error_vs_pw_eV"] = {
        k: out[k]["E_int_eV"] - pw for k in ("lcao_dzp_raw", "lcao_dzp_counterpoise")
    }
    out["versions"] = package_versions(("gpaw", "ase", "lis-dft"))
    args.out.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
