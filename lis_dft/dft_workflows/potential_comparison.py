"""Every offline potential on the DFT reference set: evaluate, score, write the table.

``lis-dft potentials compare`` evaluates each candidate potential (every model of the
machine-learned backends in :data:`~lis_dft.dft_workflows.calculators.BACKENDS`, or the
ones named) on every computed frame of ``benchmarks/dft_reference/reference.extxyz``,
scores it with :mod:`lis_dft.analysis.potential_benchmark` and writes
``comparison.json`` and ``COMPARISON.md``.

Each potential is evaluated once, without dispersion. Its ``+D3(zero)`` variant adds the
reference frame's own D3(zero) part (``info["energy_d3"]``, ``arrays["forces_d3"]``),
which is exactly what ``build_calculator(..., d3="zero")`` adds: the same ``dftd3``
PBE parameters on the same geometry. Both variants are scored against the reference's
PBE + D3(zero) energies and forces, the paper's Hamiltonian.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lis_dft.analysis.potential_benchmark import FramePair, PotentialScore, score
from lis_dft.dft_workflows.calculators import BACKENDS, CalculatorSpec, build_calculator
from lis_dft.dft_workflows.reference_set import DEFAULT_DIR, REFERENCE, read_frames
from lis_dft.errors import ParameterError

DEFAULT_OUT = DEFAULT_DIR.parent / "potentials"


@dataclass(frozen=True)
class Candidate:
    """A potential to compare: backend and model, evaluated without D3."""

    name: str
    model: str

    @property
    def spec(self) -> CalculatorSpec:
        """The bare potential (D3 is added from the reference frames)."""
        return CalculatorSpec(self.name, "none", {"model": self.model})

    @property
    def key(self) -> str:
        """``backend/model``, e.g. ``sevennet/7net-l3i5``.

        A weights file keeps its folder (``sevennet/ft4/model.pth``): fine-tunes all
        write ``model.pth``.
        """
        path = Path(self.model)
        if len(path.parts) > 1:
            return f"{self.name}/{path.parent.name}/{path.name}"
        return f"{self.name}/{path.name}"


def offline_candidates() -> list[Candidate]:
    """Every model of the machine-learned backends whose weights ship in their wheels."""
    return [Candidate(b.name, m) for b in BACKENDS.values() if b.extra == "mlip" for m in b.models]


def parse_candidate(text: str) -> Candidate:
    """``backend/model`` (or ``backend:path`` for fine-tuned weights) -> Candidate."""
    sep = ":" if ":" in text else "/"
    name, _, model = text.partition(sep)
    if not model:
        raise ParameterError(
            f"--potential {text!r}: give backend/model, e.g. chgnet/0.3.0 or "
            "sevennet/7net-l3i5, or backend:PATH for fine-tuned weights."
        )
    cand = Candidate(name, model)
    cand.spec  # noqa: B018 - validates backend and model
    return cand


def reference_frames(reference_dir: Path) -> list[Any]:
    """The computed reference frames, or a clear error if there are none."""
    path = Path(reference_dir) / REFERENCE
    frames = read_frames(path)
    if not frames:
        raise ParameterError(
            f"No computed reference frames in {path}: run 'lis-dft reference-set compute' "
            "(or point --reference at a folder with reference.extxyz)."
        )
    return frames


def evaluate(cand: Candidate, frames: list[Any]) -> tuple[list[tuple[float, np.ndarray]], float]:
    """Energy and forces of the bare potential on every frame; and the median seconds per frame.

    The median, not the mean: the first call pays for model compilation and warm-up.
    """
    calc = build_calculator(cand.name, d3="none", model=cand.model)
    out, seconds = [], []
    for ref in frames:
        atoms = ref.copy()
        atoms.calc = calc
        start = time.perf_counter()
        out.append((float(atoms.get_potential_energy()), np.array(atoms.get_forces())))
        seconds.append(time.perf_counter() - start)
    return out, float(np.median(seconds))


def pairs_for(frames: list[Any], predictions: list[tuple[float, np.ndarray]], d3: bool):
    """FramePairs of the potential (``d3``: plus the frame's D3(zero) part) and DFT."""
    out = []
    for ref, (e, f) in zip(frames, predictions, strict=True):
        info = ref.info
        if d3:
            e, f = e + float(info["energy_d3"]), f + np.asarray(ref.arrays["forces_d3"])
        out.append(
            FramePair(
                config_id=info["config_id"],
                family=info["family"],
                kind=info["kind"],
                formula=ref.get_chemical_formula(mode="metal"),
                n_atoms=len(ref),
                e_dft=float(ref.get_potential_energy()),
                e_pot=e,
                f_dft=np.asarray(ref.get_forces()),
                f_pot=f,
                adsorbate=info.get("adsorbate") or None,
                intact=info.get("intact"),
                surface_intact=info.get("surface_intact"),
                slab_ref=info.get("slab_ref"),
                molecule_ref=info.get("molecule_ref"),
                declared_variant=info.get("variant"),
            )
        )
    return out


def counterpoise_pairs(pairs: list[FramePair], bsse: dict[str, float]) -> list[FramePair]:
    """The pairs with DFT adsorbate-frame energies counterpoise-corrected (E + BSSE).

    Adsorbate frames without a correction are left out, so every adsorption energy in
    the result is on the corrected footing; bulk, molecule and slab frames stay.
    """
    from dataclasses import replace

    out = []
    for p in pairs:
        if p.kind != "adslab":
            out.append(p)
        elif p.config_id in bsse:
            out.append(replace(p, e_dft=p.e_dft + bsse[p.config_id]))
    return out


def compare(
    reference_dir: Path = DEFAULT_DIR,
    out_dir: Path = DEFAULT_OUT,
    candidates: list[Candidate] | None = None,
    progress: Any = None,
    hold_out: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Score every candidate, with and without D3, and write comparison.json + COMPARISON.md.

    ``hold_out`` (configuration families, as ``lis-dft finetune --hold-out``) keeps only
    those families' adsorbate frames beside the bulk, molecule and slab frames: the
    held-out score of a fine-tuning run, for any potential (fine-tuned runs with other
    recipes, the shipped models, the foundation models) on the same frames.
    """
    from lis_dft.dft_workflows import reference_counterpoise
    from lis_dft.dft_workflows.finetune import scoring_frames, split
    from lis_dft.provenance import provenance

    candidates = candidates or offline_candidates()
    keys = [c.key for c in candidates]
    twins = sorted({k for k in keys if keys.count(k) > 1})
    if twins:
        raise ParameterError(
            f"Two --potential entries would share the row {twins[0]!r}: "
            + ", ".join(c.model for c in candidates if c.key == twins[0])
            + ". Give each weights file a folder or name of its own."
        )
    frames = reference_frames(reference_dir)
    if hold_out:  # unknown families: refused before anything is computed
        frames = scoring_frames(frames, split(frames, tuple(hold_out))[1])
    ids = {f.info["config_id"] for f in frames}  # corrections of the frames scored only
    bsse = {k: v for k, v in reference_counterpoise.corrections(reference_dir).items() if k in ids}
    cp_frames = reference_counterpoise.candidates(frames)
    n_cp_total = len(cp_frames)
    cp_complete = bool(bsse) and len(bsse) >= n_cp_total
    # the ranking's E_A term is over sound frames: once every sound relaxed frame is
    # corrected it can be ranked on the corrected footing (a correction only raises a
    # DFT E_A, so frames unbound raw stay unbound and the artifact count is unchanged)
    sound_ids = {
        a.info["config_id"]
        for a in cp_frames
        if a.info.get("intact") is True and a.info.get("surface_intact") is True
    }
    cp_sound_complete = bool(bsse) and sound_ids <= set(bsse)
    cp_scores: dict[str, PotentialScore] = {}
    scores: dict[str, PotentialScore] = {}
    records: dict[str, Any] = {}
    for cand in candidates:
        if progress:
            progress(f"{cand.key}: {len(frames)} frames")
        predictions, seconds = evaluate(cand, frames)
        for d3 in (False, True):
            label = cand.key + ("+D3(zero)" if d3 else "")
            pairs = pairs_for(frames, predictions, d3)
            s = score(label, pairs)
            scores[label] = s
            spec = CalculatorSpec(cand.name, "zero" if d3 else "none", {"model": cand.model})
            records[label] = {
                "calculator": spec.describe(),
                "seconds_per_frame": seconds,
                **s.as_dict(),
            }
            if bsse:
                cp = score(label, counterpoise_pairs(pairs, bsse))
                cp_scores[label] = cp
                records[label]["counterpoise"] = cp.as_dict()
    dft_ref = next(iter(scores.values()))
    result = {
        "reference": {
            "path": _shown(Path(reference_dir) / REFERENCE),
            "n_frames": len(frames),
            "held_out_families": list(hold_out),
            "hamiltonian": frames[0].info.get("hamiltonian", "PBE+D3(zero)"),
            "settings_hash": sorted({str(f.info.get("settings_hash")) for f in frames}),
            "dft_formation_eV_per_atom": {
                k: v.get("dft_eV_per_atom") for k, v in dft_ref.formation.items()
            },
            "dft_li2s2_above_tie_line_eV_per_atom": dft_ref.tie_line.get("dft"),
            "dft_lattice_scale": {k: v["dft_scale"] for k, v in dft_ref.lattice.items()},
        },
        "counterpoise": {
            "frames": len(bsse),
            "relaxed_adsorbate_frames": n_cp_total,
            "complete": cp_complete,
            "sound_frames": len(sound_ids),
            "sound_complete": cp_sound_complete,
            "ranked_on": "counterpoise" if cp_sound_complete else "raw LCAO",
            "bsse_eV": dict(sorted(bsse.items())),
        },
        "ranking": rank(cp_scores if cp_sound_complete else scores),
        "potentials": records,
        "provenance": {**provenance(), "machine": platform.machine(), "cpus": os.cpu_count()},
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / "comparison.json", json.dumps(result, indent=1, default=_jsonable))
    _write_atomic(out_dir / "COMPARISON.md", markdown(result))
    return result


def rank(scores: dict[str, PotentialScore]) -> list[str]:
    """Labels best first.

    The qualitative answer comes first: how many adsorbates get DFT's lowest relaxed
    configuration (what the study reports). Then the sound-frame E_A MAE, the number of
    DFT-unbound frames the potential binds, and the bulk E_f MAE.
    """

    def key(label: str) -> tuple[float, float, float, float]:
        s = scores[label]
        return (
            -s.same_lowest,
            s.ads_mae_sound_eV if s.ads_mae_sound_eV is not None else np.inf,
            s.artifacts_stabilised,
            s.formation_mae_eV_per_atom if s.formation_mae_eV_per_atom is not None else np.inf,
        )

    return sorted(scores, key=key)


def _shown(path: Path) -> str:
    """The path relative to the repository when it is inside it (stable across clones)."""
    root = DEFAULT_DIR.resolve().parents[1]
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _f(v: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def headline_table(result: dict[str, Any]) -> list[str]:
    """The one-row-per-potential markdown table, best first (also in RESULTS.md)."""
    lines = [
        "| potential | E_A MAE, sound (eV) | E_A mean err, sound | E_A MAE, all | "
        "E_A max, all | rel. E MAE (eV) | same lowest | artifacts bound | "
        "E_f MAE (eV/atom) | Li2S2 vs tie line (eV/atom) | lattice max err (%) | "
        "force MAE (eV/Å) | slab − bulk err (eV) | s/frame |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label in result["ranking"]:
        r = result["potentials"][label]
        s = r["summary"]
        lines.append(
            f"| {label} | {_f(s['ads_mae_sound_eV'])} | {_f(s['ads_mean_error_sound_eV'], '{:+.2f}')} "
            f"| {_f(s['ads_mae_eV'])} | {_f(s['ads_max_eV'])} | {_f(s['relative_mae_eV'])} "
            f"| {s['same_lowest']}/{s['n_adsorbates']} | {s['artifacts_stabilised']} "
            f"| {_f(s['formation_mae_eV_per_atom'], '{:.3f}')} "
            f"| {_f(s['li2s2_above_tie_line_eV_per_atom'], '{:+.3f}')} "
            f"| {_f(s['lattice_max_error_pct'], '{:.1f}')} "
            f"| {_f(s['force_mae_eV_per_A'], '{:.3f}')} "
            f"| {_f(s.get('surface_excess_error_eV'), '{:+.2f}')} | {r['seconds_per_frame']:.2f} |"
        )
    return lines


def counterpoise_table(result: dict[str, Any]) -> list[str]:
    """Adsorption errors against counterpoise-corrected DFT (empty before any correction)."""
    cp = result.get("counterpoise") or {}
    if not cp.get("frames"):
        return []
    per_ads: dict[str, list[float]] = {}
    for cid, b in cp["bsse_eV"].items():
        # adslab/<ads>/... (the built set) or verified/<run>/adslab/<ads>/... (imported)
        parts = cid.split("/")
        ads = parts[parts.index("adslab") + 1] if "adslab" in parts[:-1] else parts[1]
        per_ads.setdefault(ads, []).append(b)
    spread = "; ".join(
        f"{ads} {min(v):.2f}–{max(v):.2f} eV ({len(v)})" for ads, v in sorted(per_ads.items())
    )
    lines = [
        f"Against counterpoise-corrected DFT ({cp['frames']} of "
        f"{cp['relaxed_adsorbate_frames']} relaxed adsorbate frames corrected so far; BSSE "
        f"{spread}; `lis-dft reference-set counterpoise`). Only corrected frames count here; "
        f"rows ranked on {cp['ranked_on']}.",
        "",
        "| potential | E_A MAE, sound (eV) | E_A mean err, sound | E_A MAE, corrected | "
        "E_A max, corrected | same lowest | artifacts bound |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in result["ranking"]:
        c = result["potentials"][label].get("counterpoise")
        if not c:
            continue
        s = c["summary"]
        lines.append(
            f"| {label} | {_f(s['ads_mae_sound_eV'])} | {_f(s['ads_mean_error_sound_eV'], '{:+.2f}')} "
            f"| {_f(s['ads_mae_eV'])} | {_f(s['ads_max_eV'])} "
            f"| {s['same_lowest']}/{s['n_adsorbates']} | {s['artifacts_stabilised']} |"
        )
    return lines


def finetuned_notes(result: dict[str, Any]) -> list[str]:
    """A warning per fine-tuned model compared: its rows are largely in-sample."""
    from lis_dft.models import shipped_models

    out = []
    for name, model in shipped_models().items():
        labels = [lab for lab in result["ranking"] if lab.split("+")[0].endswith("/" + name)]
        if not labels:
            continue
        rec = model.record()
        held = rec["held_out_scores"]["finetuned"].get("counterpoise") or {}
        base = rec["held_out_scores"]["base"].get("counterpoise") or {}
        out += [
            "",
            f"**{name} was trained on this set** (all but the held-out families "
            f"{', '.join(rec['settings']['hold_out'])}): its rows above are mostly "
            "in-sample. On the held-out families, counterpoise footing, + D3(zero): E_A MAE "
            f"{_f(held.get('ads_mae_eV'))} eV, largest {_f(held.get('ads_max_eV'))} eV "
            f"(base {rec['settings']['base']}: {_f(base.get('ads_mae_eV'))} / "
            f"{_f(base.get('ads_max_eV'))} eV); `lis_dft/models/{name}.json`.",
            "",
            *held_out_table(name),
        ]
    return out


def held_out_table(name: str) -> list[str]:
    """Base vs fine-tuned on a shipped model's held-out families, against the targets."""
    from lis_dft.models import shipped_models

    rec = shipped_models()[name].record()
    sc = rec["held_out_scores"]
    base, ft = sc["base"]["counterpoise"], sc["finetuned"]["counterpoise"]

    def ef(entry: dict[str, Any]) -> str:
        return " / ".join(
            _f(v.get("error_eV_per_atom"), "{:+.3f}") for v in entry["formation"].values()
        )

    def lat(entry: dict[str, Any]) -> str:
        return " / ".join(
            f"{k} {_f(v['error_pct'], '{:+.2f}')}"
            for k, v in entry["lattice"].items()
            if v["error_pct"] is not None
        )

    rows = [
        ("E_A MAE (eV)", _f(base["ads_mae_eV"]), _f(ft["ads_mae_eV"]), "≤ 0.10"),
        ("E_A largest error (eV)", _f(base["ads_max_eV"]), _f(ft["ads_max_eV"]), "≤ 0.25"),
        (
            "E_A mean error (eV)",
            _f(base["ads_mean_error_sound_eV"], "{:+.2f}"),
            _f(ft["ads_mean_error_sound_eV"], "{:+.2f}"),
            "",
        ),
        (
            "DFT-unbound frames bound",
            str(base["artifacts_stabilised"]),
            str(ft["artifacts_stabilised"]),
            "0",
        ),
        (
            f"E_f error, {' / '.join(sc['base']['formation'])} (eV/atom)",
            ef(sc["base"]),
            ef(sc["finetuned"]),
            "≤ 0.03",
        ),
        (
            "Li2S2 above the S–Li2S tie line (eV/atom)",
            _f(base["li2s2_above_tie_line_eV_per_atom"], "{:+.3f}"),
            _f(ft["li2s2_above_tie_line_eV_per_atom"], "{:+.3f}"),
            "> 0",
        ),
        ("lattice error (%)", lat(sc["base"]), lat(sc["finetuned"]), "≤ 1"),
        (
            "slab above bulk LiI, error (eV)",
            _f(base.get("surface_excess_error_eV"), "{:+.2f}"),
            _f(ft.get("surface_excess_error_eV"), "{:+.2f}"),
            "",
        ),
        (
            "force MAE (eV/Å)",
            _f(base["force_mae_eV_per_A"], "{:.3f}"),
            _f(ft["force_mae_eV_per_A"], "{:.3f}"),
            "",
        ),
    ]
    lines = [
        f"Held-out families of `{name}` ({', '.join(rec['settings']['hold_out'])}; "
        f"{len(sc['finetuned']['points'])} counterpoise-corrected adsorbate frames, + D3(zero) "
        f"against GPAW PBE + D3(zero); bulk, molecule and slab frames are training frames). "
        "Kept: " + rec.get("kept", f"epoch {rec['kept_epoch']} of {len(rec['curve']) - 1}") + ".",
        "",
        f"| | {rec['settings']['base']} (base) | {name} | target |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        "| held-out frame | DFT E_A (eV) | base | fine-tuned |",
        "|---|---|---|---|",
    ]
    base_pts = {p["config_id"]: p for p in sc["base"]["points"]}
    for p in sc["finetuned"]["points"]:
        b = base_pts.get(p["config_id"], {})
        lines.append(
            f"| {p['config_id']} | {p['dft_eV']:+.2f} | {_f(b.get('potential_eV'), '{:+.2f}')} "
            f"| {p['potential_eV']:+.2f} |"
        )
    return lines


def markdown(result: dict[str, Any]) -> str:
    """The comparison as a markdown page (headline table, then per-adsorbate details)."""
    ref = result["reference"]
    lines = [
        "# Offline potentials against the DFT reference set",
        "",
        f"Reference: `{ref['path']}` ({ref['n_frames']} frames, {ref['hamiltonian']}). "
        "Made by `lis-dft potentials compare`; every number is potential − DFT on the same "
        "geometry. `+D3(zero)` adds the reference's own D3(zero) part to the bare potential.",
        "",
        *(
            [
                "Adsorbate frames of the held-out families only ("
                + ", ".join(ref["held_out_families"])
                + "; `--hold-out`), beside every bulk, molecule and slab frame.",
                "",
            ]
            if ref.get("held_out_families")
            else []
        ),
        "E_A errors in the first table are against raw LCAO dzp DFT, which overbinds by "
        "basis-set superposition (0.4–0.8 eV here, `counterpoise.json`): a potential that "
        "matches PBE+D3 at the basis-set limit shows up there as *underbinding* by about "
        "that much. Relative energies, rankings, forces and bulk numbers are not affected. "
        "The second table is against counterpoise-corrected DFT.",
        "",
        "Rows best first (ranked on "
        f"{result['counterpoise'].get('ranked_on', 'raw LCAO')} E_A): adsorbates with DFT's "
        "lowest configuration, then the sound-frame E_A MAE, then DFT-unbound frames bound, "
        "then the E_f MAE.",
        "",
        *headline_table(result),
        "",
        *counterpoise_table(result),
    ]
    lines += finetuned_notes(result)
    tie = ref["dft_li2s2_above_tie_line_eV_per_atom"]
    ef = ", ".join(f"{k} {_f(v, '{:.3f}')}" for k, v in ref["dft_formation_eV_per_atom"].items())
    lines += [
        "",
        f"DFT on the same cells: E_f {ef} eV/atom; Li2S2 {_f(tie, '{:+.3f}')} eV/atom "
        "relative to the S–Li2S tie line (positive: metastable).",
        "",
        "Columns: *sound* = relaxed frames (slab frozen or free) with adsorbate and surface "
        "intact; *all* includes raw placements and artifacts; *rel. E* = energies of one "
        "adsorbate's frames relative to its lowest-DFT frame; *same lowest* = adsorbates "
        "whose lowest relaxed frame is the same by both methods; *artifacts bound* = frames "
        "DFT finds unbound (E_A > 0) that the potential binds; E_f at the experimental cells "
        "against bcc Li, alpha-S and I2; lattice from a parabola through −2/0/+2 % cells "
        "(phases where DFT's curve has a minimum); *slab − bulk* = error of the relaxed clean "
        "slab's energy above bulk LiI with the same atoms (surface energy, both faces); "
        "*s/frame* = median wall seconds of one "
        "bare-potential call (energy + forces, D3 not included) on 2 cores.",
        "",
        "## Lowest relaxed configuration per adsorbate",
        "",
        "| potential | adsorbate | DFT's lowest | potential's lowest | Spearman (relaxed) |",
        "|---|---|---|---|---|",
    ]
    for label in result["ranking"]:
        for ads, rk in result["potentials"][label]["rankings"].items():
            mark = "" if rk["same_lowest"] else " ✗"
            lines.append(
                f"| {label} | {ads} | {rk['lowest_dft']} | {rk['lowest_potential']}{mark} "
                f"| {_f(rk['spearman_relaxed'])} |"
            )
    return "\n".join(lines) + "\n"
