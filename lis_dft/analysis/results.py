"""results.json / results.csv: the stable, documented output of a study.

``SCHEMA_VERSION`` changes whenever a key changes meaning. Top-level keys:
``schema_version``, ``source`` (local or vasp), ``calculator`` (name, model, version,
d3), ``settings``, ``references`` (per phase: energy_per_atom, volume_per_atom,
lattice, converged), ``formation_energies`` (bulk; per compound: eV_per_atom,
eV_per_fu), ``vacuum_formation_energies``, ``adsorption_energies`` (per adsorbate: eV,
best_config, degenerate_configs, configs), ``surface_formation_energies`` (per compound: eV_per_atom),
``landscape`` (bulk, vacuum and the catalyst surface, e.g. LiI_100: states, steps,
limiting step), ``catalyst`` (name, slab key, label, halogen reference), ``validation``,
``definitions``, ``timing``, ``provenance``. Added by later commands (kept when results
are re-derived): ``barriers`` (``lis-dft barriers``: a list of
:class:`lis_dft.analysis.barriers.BarrierResult` dicts), ``verification`` (``lis-dft
verify``), ``free_energy`` (``lis-dft free-energy``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from pymatgen.core import Composition, Structure

from lis_dft.analysis import energetics as en
from lis_dft.analysis.energetics import _structure
from lis_dft.analysis.records import validate_record
from lis_dft.fileio import atomic_write_text
from lis_dft.structures.validation import check_bulk, check_molecule
from lis_dft.system import DEFAULT_CATALYST, catalyst, catalyst_of_slab

SCHEMA_VERSION = "1.0"


def reference_table(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-phase energy, volume and lattice of the relaxed references."""
    out = {}
    for group in ("bulk", "molecules"):
        for name, r in record.get(group, {}).items():
            s = _structure(r)
            key = name if group == "bulk" else f"{name}(g)"
            entry = {
                "kind": "bulk" if group == "bulk" else "molecule",
                "energy_eV": r["energy"],
                "energy_per_atom": r["energy"] / len(s) if s is not None else None,
                "n_atoms": len(s) if s is not None else r.get("n_atoms"),
                "converged": r.get("converged"),
            }
            if group == "bulk" and s is not None:
                entry["volume_per_atom"] = s.volume / len(s)
                a, b, c = s.lattice.abc
                al, be, ga = s.lattice.angles
                entry["lattice"] = {"a": a, "b": b, "c": c, "alpha": al, "beta": be, "gamma": ga}
                conv = _conventional_abc(s)
                if conv:
                    entry["lattice"]["conventional"] = conv
            out[key] = entry
    return out


def _conventional_abc(s: Structure) -> dict[str, float] | None:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        conv = SpacegroupAnalyzer(s, symprec=0.05).get_conventional_standard_structure()
    except Exception:
        return None
    a, b, c = conv.lattice.abc
    return {"a": a, "b": b, "c": c}


def validate_relaxed(record: dict[str, Any]) -> dict[str, Any]:
    """Physical checks of the relaxed references (S8 rings intact, S2 dimers, distances)."""
    out = {}
    for name, r in record.get("bulk", {}).items():
        s = _structure(r)
        if s is not None:
            out[name] = check_bulk(name, s, relaxed=True).as_dict()
    for name, r in record.get("molecules", {}).items():
        s = _structure(r)
        if s is not None:
            out[f"{name}(g)"] = check_molecule(name, s, relaxed=True).as_dict()
    return out


def build_results(
    record: dict[str, Any],
    calculator: dict[str, Any],
    settings: dict[str, Any],
    provenance: dict[str, Any],
    timing: dict[str, Any] | None = None,
    source: str = "local",
) -> dict[str, Any]:
    """Compute every derived quantity from an energy record and assemble results.json.

    The record is checked against :class:`lis_dft.analysis.records.EnergyRecord` first.
    """
    record = validate_record(record)
    mu = en.chemical_potentials(record)
    bulk_ef = en.bulk_formation_energies(record, mu)
    vac_ef = en.molecule_formation_energies(record, mu)
    surf_ef = en.surface_formation_energies(record, mu)
    surface = en.surface_key(record)
    cat = record.get("catalyst") or catalyst_of_slab(surface).as_dict()
    results = {
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "calculator": calculator,
        "settings": settings,
        "chemical_potentials": mu,
        "references": reference_table(record),
        "formation_energies": bulk_ef,
        "vacuum_formation_energies": vac_ef,
        "adsorption_energies": en.adsorption_energies(record),
        "surface_formation_energies": surf_ef,
        "catalyst": cat,
        "landscape": en.landscapes(bulk_ef, vac_ef, surf_ef, surface, en.study_path(record)),
        "validation": validate_relaxed(record),
        "definitions": en.DEFINITIONS,
        "timing": timing or {},
        "provenance": provenance,
    }
    results["warnings"] = potential_warnings(results)
    return results


def _shipped_record(model_file: dict[str, Any]) -> dict[str, Any]:
    """The installed record of the run's shipped weights (same sha256), else {}."""
    if not model_file.get("shipped_model"):
        return {}
    from lis_dft.models import shipped_models

    shipped = shipped_models().get(model_file["shipped_model"])
    rec = shipped.record() if shipped else {}
    return rec if rec.get("weights_sha256") == model_file.get("weights_sha256") else {}


def potential_warnings(results: dict[str, Any]) -> list[str]:
    """Loud notes on where the run's potential is outside what it was trained on or checked.

    A shipped fine-tuned model records the elements of its training set; a study with
    other elements (LiBr, LiCl, a user crystal) gets the base model's extrapolation there.
    It also records what ``lis-dft verify`` found on its own runs
    (:meth:`lis_dft.models.ShippedModel.record_dft_checks`): an adsorbate whose minimum DFT
    did not confirm on this surface is named, with the numbers.
    """
    model_file = (results.get("calculator") or {}).get("model_file") or {}
    if not model_file:
        return []
    model = model_file.get("shipped_model", "the potential")
    trained = set((model_file.get("trained_on") or {}).get("elements", []))
    checks = model_file.get("dft_checks")
    if not trained or checks is None:
        # results written before records said what they were trained on or checked: the
        # same weights (sha256) in this installation's models folder tell
        rec = _shipped_record(model_file)
        trained = trained or set((rec.get("trained_on") or {}).get("elements", []))
        checks = rec.get("dft_checks", []) if checks is None else checks
    warnings = []
    present = set()
    for name in results.get("references", {}):
        present |= {el.symbol for el in Composition(name.removesuffix("(g)"))}
    missing = sorted(present - trained) if trained else []
    if missing:
        warnings.append(
            f"{model} was fine-tuned on DFT data without {', '.join(missing)}: its numbers for "
            f"{surface_label(results)} rest on the base model there: trust only what "
            "'lis-dft verify' confirms."
        )
    surface = surface_of(results)
    disputed: dict[str, list[dict[str, Any]]] = {}
    for c in checks or []:
        if (
            c.get("status") != "agrees"
            and c.get("surface") == surface
            and c.get("adsorbate") in results.get("adsorption_energies", {})
        ):
            disputed.setdefault(c["adsorbate"], []).append(c)
    for ads, found in disputed.items():
        runs = "; ".join(
            f"run {c['run']}, {c['config']}: E_A {c['potential_eV']:+.2f} eV by the potential, "
            f"{c['dft_eV']:+.2f} eV by DFT ({c['verdict']})"
            for c in found
        )
        warnings.append(
            f"{model} disagrees with DFT on {ads} at {surface_label(results)} ({runs}). Treat "
            f"this run's {ads} adsorption energy as unconfirmed until 'lis-dft verify' agrees."
        )
    return warnings


def surface_of(results: dict[str, Any]) -> str:
    """Key of the catalyst surface in ``results`` (``LiI_100`` for results before catalysts)."""
    return (results.get("catalyst") or {}).get("slab") or catalyst(DEFAULT_CATALYST).slab_name


def surface_label(results: dict[str, Any]) -> str:
    """Human label of the catalyst surface in ``results`` (``LiI(100)``)."""
    return (results.get("catalyst") or {}).get("label") or catalyst(DEFAULT_CATALYST).label


def results_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten results into (quantity, species, environment, config, value, unit) rows."""
    rows = []

    def add(quantity, species, env, value, unit, config=""):
        if value is not None:
            rows.append(
                {
                    "quantity": quantity,
                    "species": species,
                    "environment": env,
                    "config": config,
                    "value": value,
                    "unit": unit,
                }
            )

    for name, ref in results["references"].items():
        add("energy_per_atom", name, ref["kind"], ref["energy_per_atom"], "eV/atom")
        if "volume_per_atom" in ref:
            add("volume_per_atom", name, "bulk", ref["volume_per_atom"], "A^3/atom")
    surface = surface_of(results)
    for env, table in (
        ("bulk", "formation_energies"),
        ("vacuum", "vacuum_formation_energies"),
        (surface, "surface_formation_energies"),
    ):
        for name, v in results[table].items():
            add("formation_energy", name, env, v["eV_per_atom"], "eV/atom", v.get("config", ""))
            add("formation_energy", name, env, v["eV_per_fu"], "eV/f.u.", v.get("config", ""))
    for ads, v in results["adsorption_energies"].items():
        add("adsorption_energy", ads, surface, v["eV"], "eV", v["best_config"] or "")
        for c in v["configs"]:
            add("screen_adsorption_energy", ads, surface, c["screen_eV"], "eV", c["id"])
            add("relaxed_adsorption_energy", ads, surface, c["energy"], "eV", c["id"])
    for env, land in results["landscape"].items():
        if land:
            for st in land["steps"]:
                add("oxidation_step", f"{st['from']}->{st['to']}", env, st["dE_eV_per_Li"], "eV/Li")
    return rows


def write_results(results: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write results.json and results.csv atomically; return their paths."""
    out_dir = Path(out_dir)
    json_path, csv_path = out_dir / "results.json", out_dir / "results.csv"
    atomic_write_text(json_path, json.dumps(results, indent=2, default=str))
    buf = io.StringIO()
    rows = results_rows(results)
    writer = csv.DictWriter(
        buf, fieldnames=["quantity", "species", "environment", "config", "value", "unit"]
    )
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(csv_path, buf.getvalue())
    return json_path, csv_path
