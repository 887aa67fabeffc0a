"""Two sources for the same configurations: the potential that seeded VASP, and VASP.

A campaign written by ``lis-dft inputs --from-run`` records, per configuration it sends
to VASP, the adsorption energy the run's potential gave it
(``campaign.json["meta"]["seeded_from"]``). Once ``lis-dft parse`` has VASP's, this module
puts both per configuration, with the difference and whether both sources pick the same
lowest configuration. Pure functions on plain dicts.
"""

from __future__ import annotations

from typing import Any


def _vasp_configs(results: dict[str, Any], adsorbate: str) -> dict[str, float]:
    ads = (results.get("adsorption_energies") or {}).get(adsorbate) or {}
    return {
        c["id"]: c["energy"]
        for c in ads.get("configs", [])
        if c.get("relaxed") and c.get("energy") is not None
    }


def compare_seeded(seeded_from: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """Per seeded configuration: the potential's E_A, VASP's, and their difference (eV).

    Parameters
    ----------
    seeded_from
        ``campaign.json["meta"]["seeded_from"]`` (:class:`lis_dft.vasp.campaign.SeedSummary`).
    results
        The campaign's results (``build_results`` on the parsed VASP energies).

    Returns
    -------
    dict
        ``{"potential": calculator record, "rows": [...], "same_lowest": {adsorbate: bool
        or None}}``; a row without a trusted VASP energy has ``vasp_E_A_eV`` None.

    """
    rows, same = [], {}
    for ads, entry in (seeded_from.get("adsorbates") or {}).items():
        vasp = _vasp_configs(results, ads)
        written = entry.get("written", [])
        for w in written:
            pot = w.get("potential_E_A_eV")
            got = vasp.get(w["id"])
            rows.append(
                {
                    "adsorbate": ads,
                    "config": w["id"],
                    "potential_E_A_eV": pot,
                    "vasp_E_A_eV": got,
                    "difference_eV": None if pot is None or got is None else pot - got,
                }
            )
        scored = [w for w in written if w.get("potential_E_A_eV") is not None and w["id"] in vasp]
        if len(scored) < 2:
            same[ads] = None  # nothing to rank
            continue
        low_pot = min(scored, key=lambda w: w["potential_E_A_eV"])["id"]
        low_vasp = min(scored, key=lambda w: vasp[w["id"]])["id"]
        same[ads] = low_pot == low_vasp
    return {"potential": seeded_from.get("calculator", {}), "rows": rows, "same_lowest": same}


def seeded_section(comparison: dict[str, Any] | None) -> list[str]:
    """The report's markdown section for :func:`compare_seeded` (empty without one)."""
    if not comparison or not comparison.get("rows"):
        return []
    pot = comparison.get("potential") or {}

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    lines = [
        "",
        "## VASP against the potential that seeded it",
        "",
        f"Potential: {pot.get('model', pot.get('name', 'unknown'))}. E_A per configuration "
        "(eV), both on the configurations `lis-dft inputs --from-run` sent to VASP; "
        "difference = potential − VASP.",
        "",
        "| adsorbate | configuration | potential E_A | VASP E_A | difference |",
        "|---|---|---|---|---|",
    ]
    for r in comparison["rows"]:
        lines.append(
            f"| {r['adsorbate']} | {r['config']} | {fmt(r['potential_E_A_eV'])} | "
            f"{fmt(r['vasp_E_A_eV'])} | {fmt(r['difference_eV'])} |"
        )
    for ads, same in comparison.get("same_lowest", {}).items():
        if same is False:
            lines.append(
                f"\n**{ads}: VASP and the potential disagree on the lowest configuration.**"
            )
    return lines
