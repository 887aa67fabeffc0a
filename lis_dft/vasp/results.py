"""From a parsed VASP campaign to the same results, figures and report as a local run.

Only calculations with status ``ok`` contribute energies; everything else is listed in
``parsed.json`` with its reason and left out of the energetics (quantities that need a
missing energy are simply absent).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lis_dft.fileio import atomic_write_text
from lis_dft.system import CATALYSTS, catalyst_of_slab
from lis_dft.vasp.campaign import GAS, Campaign
from lis_dft.vasp.parse import ParsedCalculation, parse_calculation

PARSED_FILE = "parsed.json"


def parse_campaign(campaign: Campaign) -> list[ParsedCalculation]:
    """Parse every VASP calculation of the campaign (the analysis entry is skipped)."""
    return [
        parse_calculation(campaign.root / c.path, name=c.name, formula=c.formula or None)
        for c in campaign.calculations
        if c.kind != "analysis"
    ]


def write_parsed(root: Path, parsed: list[ParsedCalculation]) -> Path:
    """Write parsed.json atomically: one entry per calculation."""
    return atomic_write_text(
        Path(root) / PARSED_FILE, json.dumps([p.as_dict() for p in parsed], indent=2)
    )


def energy_record(campaign: Campaign, parsed: list[ParsedCalculation]) -> dict[str, Any]:
    """Build the source-independent energy record from the trusted calculations."""
    # keyed by folder, not by name: campaigns written before 2026-12-02 named the bulk
    # and the gas-phase Li2S both "Li2S", and the second parse overwrote the first
    ok = {Path(p.path).resolve(): p for p in parsed if p.status == "ok"}
    record: dict[str, Any] = {"bulk": {}, "molecules": {}, "slab": None, "adsorbates": {}}
    for c in campaign.calculations:
        p = ok.get((campaign.root / c.path).resolve())
        if p is None:
            continue
        entry = {
            "energy": p.energy,
            "structure": p.structure,
            "converged": True,
            "n_atoms": p.n_atoms,
        }
        if c.kind == "bulk":
            record["bulk"][c.name] = entry
        elif c.kind == "molecule":
            record["molecules"][molecule_key(c.name)] = entry
        elif c.kind == "slab":
            record["slab"] = entry
            if campaign.meta.get("catalyst"):  # written by lis-dft inputs
                record["catalyst"] = campaign.meta["catalyst"]
            elif c.name in {cat.slab_name for cat in CATALYSTS.values()}:  # older campaigns
                record["catalyst"] = catalyst_of_slab(c.name).as_dict()
    if record["slab"] is not None:
        for c in campaign.calculations:
            p = ok.get((campaign.root / c.path).resolve())
            if c.kind != "adslab" or p is None or c.adsorbate not in record["molecules"]:
                continue
            record["adsorbates"].setdefault(c.adsorbate, {"configs": []})["configs"].append(
                {
                    "id": c.config_id,
                    "site": c.site,
                    "orientation": c.orientation,
                    "screen_energy": None,
                    "relaxed": True,
                    "energy": p.energy,
                    "structure": p.structure,
                    "converged": True,
                }
            )
    return record


def molecule_key(name: str) -> str:
    """The record's key of a gas-phase calculation: ``Li2S(g)`` (or, before, ``Li2S``) -> ``Li2S``."""
    return name.removesuffix(GAS)


def vasp_calculator_info(campaign: Campaign) -> dict[str, Any]:
    """Provenance of the VASP Hamiltonian from the campaign settings."""
    ivdw = campaign.settings.get("ivdw", 11)
    damping = {11: "zero", 12: "bj", 0: "none"}.get(ivdw, str(ivdw))
    return {
        "name": "vasp",
        "model": f"VASP PBE + D3 (IVDW={ivdw}), ENCUT={campaign.settings.get('encut')} eV",
        "version": "see vasprun.xml",
        "d3": {"damping": damping, "functional": "PBE", "package": "VASP IVDW"},
        "is_mock": False,
        "settings": campaign.settings,
    }


def missing_for_results(record: dict[str, Any]) -> list[str]:
    """Which references are needed before any formation energy can be computed."""
    return [name for name in ("Li", "S") if name not in record["bulk"]]
