"""DFT vs the study's potential on the same geometries: adsorption energies, rankings, verdicts.

Pure functions over the single-point energies ``lis-dft verify`` computed
(:func:`lis_dft.dft_workflows.verify.gather`)::

    {task key: {"kind", "adsorbate", "config_id", "dft": {"energy", ...}, "mlip": {...}}}

Definitions (every energy on the reduced model, both methods on the same geometry):

- E_A(m) = E_m(slab + X) - E_m(slab) - E_m(X) for method m (``dft`` or ``mlip``).
- Counterpoise (LCAO only): BSSE = sum over the fragments F (slab, molecule) of
  E(F at its complex geometry, own basis) - E(F at its complex geometry, full basis);
  E_A(dft) = E_A(dft, raw) + BSSE.
- Decomposition (when the fragments were computed): slab deformation
  E(slab at complex geometry) - E(relaxed clean slab), molecule deformation likewise,
  interaction E(slab + X) - E(slab fragment) - E(molecule fragment); the three add up
  to E_A (raw, per method).
- Error = E_A(mlip) - E_A(dft): negative = the potential overbinds.
- Reduction cost = E_A(mlip, reduced model) - E_A(mlip, the run's full slab).

Verdict per adsorbate, for the configuration the run reports (its ``best_config``):
``not_confirmed`` if DFT finds it unbound (E_A > 0) or prefers another checked
configuration by more than the tolerance; else ``overbinds``/``underbinds`` if the
error exceeds the tolerance; else ``agrees``. ``incomplete`` while DFT energies are
missing.
"""

from __future__ import annotations

from typing import Any

from pymatgen.core import Composition

from lis_dft.system import halogen_references

STATUS_ORDER = ("agrees", "underbinds", "overbinds", "not_confirmed", "incomplete")


def _e(entry: dict[str, Any] | None, method: str) -> float | None:
    if not entry or method not in entry:
        return None
    return entry[method]["energy"]


def _sub(*terms: float | None) -> float | None:
    """terms[0] - sum(terms[1:]), or None if any term is missing."""
    if any(t is None for t in terms):
        return None
    return terms[0] - sum(terms[1:])  # type: ignore[operator]


def config_energies(
    energies: dict[str, dict[str, Any]], ads: str, cid: str, counterpoise: bool
) -> dict[str, Any]:
    """Adsorption energy of one configuration by both methods, BSSE and decomposition."""
    ad = energies.get(f"adslab/{ads}/{cid}")
    slab = energies.get("slab")
    mol = energies.get(f"molecule/{ads}")
    fs, fm = energies.get(f"frag/{ads}/{cid}/slab"), energies.get(f"frag/{ads}/{cid}/molecule")
    out: dict[str, Any] = {"id": cid}
    for m in ("mlip", "dft"):
        out[f"{m}_raw_eV"] = _sub(_e(ad, m), _e(slab, m), _e(mol, m))
        out[f"{m}_decomposition"] = (
            {
                "slab_deformation_eV": _sub(_e(fs, m), _e(slab, m)),
                "molecule_deformation_eV": _sub(_e(fm, m), _e(mol, m)),
                "interaction_eV": _sub(_e(ad, m), _e(fs, m), _e(fm, m)),
            }
            if fs and fm
            else None
        )
    out["mlip_eV"] = out["mlip_raw_eV"]
    bsse = None
    if counterpoise:
        cs, cm = energies.get(f"cp/{ads}/{cid}/slab"), energies.get(f"cp/{ads}/{cid}/molecule")
        own = [_e(fs, "dft"), _e(fm, "dft")]
        full = [_e(cs, "dft"), _e(cm, "dft")]
        if None not in own and None not in full:
            bsse = (own[0] - full[0]) + (own[1] - full[1])  # type: ignore[operator]
    out["bsse_eV"] = bsse
    raw = out["dft_raw_eV"]
    if raw is not None and bsse is not None:
        out["dft_eV"], out["dft_correction"] = raw + bsse, "counterpoise"
    else:
        out["dft_eV"] = raw
        out["dft_correction"] = "none (counterpoise pending)" if counterpoise else "none"
    out["error_eV"] = _sub(out["mlip_eV"], out["dft_eV"])
    return out


def _ranking(configs: list[dict[str, Any]]) -> list[str]:
    done = [c for c in configs if c["dft_eV"] is not None]
    key = _ranking_key(done)
    return [c["id"] for c in sorted(done, key=lambda c: c[key])]


def _ranking_key(done: list[dict[str, Any]]) -> str:
    """Rank configurations on one footing: corrected E_A only if every one is corrected."""
    corrected = bool(done) and all(c.get("dft_correction") == "counterpoise" for c in done)
    return "dft_eV" if corrected else "dft_raw_eV"


def _verdict(
    configs: list[dict[str, Any]], reported: str | None, tolerance: float
) -> tuple[str, str, str | None]:
    done = [c for c in configs if c["dft_eV"] is not None]
    if not done or reported is None:
        return "incomplete", "DFT energies not computed yet (run verify again to resume)", None
    key = _ranking_key(done)
    dft_best = min(done, key=lambda c: c[key])
    rep = next((c for c in done if c["id"] == reported), None)
    if rep is None:
        return (
            "incomplete",
            f"DFT energy of the reported configuration {reported} is missing",
            dft_best["id"],
        )
    notes, status = [], "agrees"
    if rep["dft_eV"] > 0:
        status = "not_confirmed"
        notes.append(
            f"minimum not confirmed: DFT finds {reported} unbound (E_A = {rep['dft_eV']:+.2f} eV)"
        )
    elif dft_best["id"] != reported and rep[key] - dft_best[key] > tolerance:
        status = "not_confirmed"
        notes.append(
            f"minimum not confirmed: DFT prefers {dft_best['id']} by {rep[key] - dft_best[key]:.2f} eV"
        )
    err = rep["error_eV"]
    if err < -tolerance:
        notes.append(f"overbinds by {-err:.2f} eV")
        status = status if status == "not_confirmed" else "overbinds"
    elif err > tolerance:
        notes.append(f"underbinds by {err:.2f} eV")
        status = status if status == "not_confirmed" else "underbinds"
    if not notes:
        notes.append(f"agrees (|error| {abs(err):.2f} eV <= {tolerance} eV)")
    if rep["dft_correction"].startswith("none (counterpoise"):
        notes.append("DFT value not yet counterpoise-corrected")
    return status, "; ".join(notes), dft_best["id"]


def adsorption_verification(
    energies: dict[str, dict[str, Any]],
    results: dict[str, Any],
    tolerance: float,
    counterpoise: bool,
) -> dict[str, Any]:
    """Per adsorbate: every checked configuration by both methods, rankings and a verdict."""
    out = {}
    for ads, ae in results.get("adsorption_energies", {}).items():
        full = {c["id"]: c for c in ae["configs"]}
        ids = [
            v["config_id"]
            for v in energies.values()
            if v["kind"] == "adslab" and v["adsorbate"] == ads
        ]
        configs = []
        for cid in ids:
            c = config_energies(energies, ads, cid, counterpoise)
            f = full.get(cid, {})
            c["mlip_full_eV"] = f.get("energy")
            c["reduction_cost_eV"] = _sub(c["mlip_eV"], c["mlip_full_eV"])
            c["intact"] = f.get("intact")
            c["surface_intact"] = f.get("surface_intact")
            configs.append(c)
        status, verdict, dft_best = _verdict(configs, ae.get("best_config"), tolerance)
        errors = [abs(c["error_eV"]) for c in configs if c["error_eV"] is not None]
        out[ads] = {
            "reported_config": ae.get("best_config"),
            "reported_eV": ae.get("eV"),
            "dft_best_config": dft_best,
            "ranking_mlip": [
                c["id"]
                for c in sorted(
                    configs, key=lambda c: c["mlip_eV"] if c["mlip_eV"] is not None else 1e9
                )
            ],
            "ranking_dft": _ranking(configs),
            "ranking_basis": _ranking_key([c for c in configs if c["dft_eV"] is not None]),
            "largest_error_eV": max(errors) if errors else None,
            "status": status,
            "verdict": verdict,
            "configs": configs,
        }
    return out


def formation_verification(energies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Bulk formation energies (eV/atom) by both methods on the run's relaxed cells."""
    out: dict[str, Any] = {}
    for m in ("mlip", "dft"):
        mu = {}
        refs = {"Li": "bulk/Li", "S": "bulk/S"}
        refs.update({el: f"molecule/{x2}" for el, x2 in halogen_references().items()})
        for el, key in refs.items():
            e = energies.get(key)
            if e and m in e:
                mu[el] = e[m]["energy"] / Composition(e["formula"]).num_atoms
        for key, e in energies.items():
            if not key.startswith("bulk/") or m not in e:
                continue
            name = key.removeprefix("bulk/")
            comp = Composition(e["formula"])
            if len(comp.elements) < 2 or any(el.symbol not in mu for el in comp):
                continue
            excess = e[m]["energy"] - sum(n * mu[el.symbol] for el, n in comp.items())
            out.setdefault(name, {})[f"{m}_eV_per_atom"] = excess / comp.num_atoms
    for v in out.values():
        v["error_eV_per_atom"] = _sub(v.get("mlip_eV_per_atom"), v.get("dft_eV_per_atom"))
    return out


def li2s2_tie_line(formation: dict[str, Any]) -> dict[str, float | None]:
    """Height of Li2S2 above the alpha-S - Li2S tie line, eV/atom, per method.

    Li2S2 (x_S = 1/2) lies on the line from Li2S (x_S = 1/3) to S (x_S = 1, E_f = 0)
    at 3/4 E_f(Li2S); positive = metastable (above the hull), as the Li-S phase
    diagram says.
    """
    out: dict[str, float | None] = {}
    for m in ("mlip", "dft"):
        a = formation.get("Li2S", {}).get(f"{m}_eV_per_atom")
        b = formation.get("Li2S2", {}).get(f"{m}_eV_per_atom")
        out[m] = None if a is None or b is None else b - 0.75 * a
    return out


#: end points and TS of a path that verify evaluates
BARRIER_POINTS = ("initial", "ts", "final")


def barrier_verification(
    energies: dict[str, dict[str, Any]], barriers: list[dict[str, Any]], tolerance: float
) -> list[dict[str, Any]]:
    """Forward/reverse barriers and reaction energy by both methods on the same geometries.

    For each path of the run, the initial state, TS and final state (carried onto the
    reduced model on the surface, as they are in vacuum) have single points by the run's
    potential and by DFT: ``neb/<reactant>/<environment>/<point>``. The barrier is E_TS -
    E_IS on each side; raw LCAO (no counterpoise: the three geometries hold the same atoms
    and their basis-set superposition largely cancels; say so where it matters).
    """
    out = []
    for b in barriers:
        reactant = b["reaction"].split(" ->")[0]
        base = f"neb/{reactant}/{b['environment']}"
        row: dict[str, Any] = {
            "reaction": b["reaction"],
            "environment": b["environment"],
            "is_saddle": b.get("is_saddle"),
            "run_forward_eV": b.get("forward_eV"),
        }
        for m in ("mlip", "dft"):
            e = {p: _e(energies.get(f"{base}/{p}"), m) for p in BARRIER_POINTS}
            row[f"{m}_forward_eV"] = _sub(e["ts"], e["initial"])
            row[f"{m}_reverse_eV"] = _sub(e["ts"], e["final"])
            row[f"{m}_reaction_eV"] = _sub(e["final"], e["initial"])
        err = _sub(row["mlip_forward_eV"], row["dft_forward_eV"])
        row["forward_error_eV"] = err
        row["status"] = (
            "incomplete"
            if err is None
            else "agrees"
            if abs(err) <= tolerance
            else ("too low" if err < 0 else "too high")
        )
        out.append(row)
    return out


def summarize(
    energies: dict[str, dict[str, Any]],
    results: dict[str, Any],
    tolerance: float,
    counterpoise: bool,
    adsorbates: tuple[str, ...] | None = None,
    barriers: bool = True,
    adsorption: bool = True,
) -> dict[str, Any]:
    """The whole verification: adsorption, formation energies, overall verdict, raw energies.

    ``adsorbates`` (the ones this verify was asked to check; ``None`` = all),
    ``barriers`` and ``adsorption`` say what was left out on purpose: those adsorbates and
    paths are reported as not checked instead of as waiting for DFT.
    """
    ads = adsorption_verification(energies, results, tolerance, counterpoise)
    for name, a in ads.items():
        if not adsorption:
            a["status"] = "incomplete"
            a["verdict"] = "not checked: left out of this verify (--no-adsorption)"
        elif adsorbates is not None and name not in adsorbates:
            a["status"] = "incomplete"
            a["verdict"] = "not checked: left out of this verify (--adsorbates)"
    paths = barrier_verification(energies, results.get("barriers") or [], tolerance)
    for row in paths:
        reactant = row["reaction"].split(" ->")[0]
        if not barriers or (adsorbates is not None and reactant not in adsorbates):
            row["status"] = "not checked (left out of this verify)"
    errors = [a["largest_error_eV"] for a in ads.values() if a["largest_error_eV"] is not None]
    statuses = [a["status"] for a in ads.values()]
    n_dft = sum(1 for e in energies.values() if "dft" in e)
    return {
        "schema_version": "1.0",
        "tolerance_eV": tolerance,
        "counterpoise": counterpoise,
        "complete": n_dft == len(energies),
        "dft_single_points": f"{n_dft} of {len(energies)}",
        "adsorption": ads,
        "formation_energies": (fe := formation_verification(energies)),
        "li2s2_above_tie_line_eV_per_atom": li2s2_tie_line(fe),
        "largest_error_eV": max(errors) if errors else None,
        "worst_status": max(statuses, key=STATUS_ORDER.index) if statuses else "incomplete",
        "flagged": [a for a, v in ads.items() if v["status"] not in ("agrees",)],
        # paths DFT puts outside the tolerance (raw LCAO, see barrier_verification)
        "flagged_barriers": [
            f"{r['reaction']} ({r['environment']}): {r['status']} by "
            f"{abs(r['forward_error_eV']):.2f} eV"
            for r in paths
            if r["status"] in ("too low", "too high")
        ],
        "barriers": paths,
        "energies": energies,
    }
