"""VASP NEB folders from a run's computed paths, and their outputs read back.

:func:`write_vasp_neb` writes ``OUT/neb/<reactant>_<env>/`` (atomate2's NEB input set on
the paper's settings, :func:`lis_dft.vasp.sets.write_neb_inputs`) from the CI-NEB images
``lis-dft barriers`` computed; :func:`parse_neb` reads a finished folder back with a
verdict per image and the barrier checked by :func:`lis_dft.analysis.barriers.analyse_path`,
the same checks as the local paths.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lis_dft.analysis.barriers import analyse_path
from lis_dft.dft_workflows.barriers import BarrierSettings, computed_paths
from lis_dft.fileio import atomic_write_text
from lis_dft.vasp.parse import parse_calculation
from lis_dft.vasp.sets import VaspSettings, write_neb_inputs


def write_vasp_neb(
    run_dir: str | Path,
    out_dir: str | Path,
    settings: BarrierSettings | None = None,
    vtst: bool = True,
    vasp: VaspSettings | None = None,
) -> dict[str, Any]:
    """VASP NEB folders ``OUT/neb/<reactant>_<env>/`` from a run's computed paths.

    The images are the run's converged CI-NEB images (the potential's path as the starting
    guess, so VASP starts near the saddle); ``neb.json`` lists each folder with its
    reaction, environment and the potential's energies for comparison after ``parse``.
    """
    settings = settings or BarrierSettings()
    run_dir, out_dir = Path(run_dir).absolute(), Path(out_dir)
    done = computed_paths(run_dir, settings)
    vasp = vasp or VaspSettings()
    manifest: dict[str, Any] = {"vtst": vtst, "run": str(run_dir), "paths": {}}
    for t, o, images in done:
        name = f"{t.reactant}_{t.environment}"
        kind = "molecule" if t.environment == "vacuum" else "adslab"
        incar = write_neb_inputs(
            out_dir / "neb" / name, images, kind, vasp, t.n_slab or None, vtst=vtst
        )
        r = o["result"]
        manifest["paths"][name] = {
            "reaction": r["reaction"],
            "environment": t.environment,
            "folder": f"neb/{name}",
            "images": len(images),
            "mlip_energies_eV": r["energies"],
            "mlip_forward_eV": r["forward_eV"],
            "incar": incar,
        }
    atomic_write_text(out_dir / "neb" / "neb.json", json.dumps(manifest, indent=2, default=str))
    return manifest


def parse_neb(
    directory: str | Path, reaction: str, environment: str, fmax: float = 0.05
) -> dict[str, Any]:
    """Read a finished VASP NEB folder back: a verdict per image and the barrier.

    Every image folder ``00 ... NN`` is parsed by
    :func:`lis_dft.vasp.parse.parse_calculation`. VASP computes only the
    intermediate images; the end points' energies come from the relaxed end-point runs,
    whose outputs belong in ``00/`` and ``NN/`` (as the VTST scripts expect). A
    non-climbing image keeps the force along the path, so its "forces too large" is
    expected and not held against it; the highest image must be converged.
    """
    directory = Path(directory)
    folders = sorted(p for p in directory.iterdir() if p.is_dir() and p.name.isdigit())
    images = []
    for k, folder in enumerate(folders):
        p = parse_calculation(folder, f"{directory.name}/{folder.name}")
        end = k in (0, len(folders) - 1)
        if p.status == "missing" and end:
            verdict = "end point missing: copy the relaxed end-point run's outputs here"
        elif p.status == "forces_too_large" and not end:
            verdict = "ok (force along the path, expected for a non-climbing image)"
        else:
            verdict = p.status if p.status != "ok" else "ok"
        images.append({**p.as_dict(), "image": folder.name, "verdict": verdict})
    usable = all(
        i["energy"] is not None
        and not i["verdict"].startswith(("corrupt", "unconverged", "end point", "missing"))
        for i in images
    )
    out: dict[str, Any] = {"folder": str(directory), "images": images, "barrier": None}
    if not usable:
        bad = [f"{i['image']}: {i['verdict']}" for i in images if not i["verdict"].startswith("ok")]
        out["verdict"] = "not usable yet: " + "; ".join(bad)
        return out
    energies = [i["energy"] for i in images]
    i_ts = int(np.argmax(energies))
    result = analyse_path(
        reaction,
        environment,
        energies,
        energies[0],
        energies[-1],
        images[i_ts]["max_force"],
        fmax,
    )
    out["barrier"] = result.as_dict()
    out["verdict"] = result.verdict
    return out
