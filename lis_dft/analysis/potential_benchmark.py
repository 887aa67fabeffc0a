"""How well a potential reproduces the DFT reference set: pure metrics over frame pairs.

A :class:`FramePair` holds one reference configuration with the energy and forces of
DFT (GPAW PBE + D3(zero), ``benchmarks/dft_reference``) and of the potential, on the
same geometry. :func:`score` turns the pairs of one potential into a
:class:`PotentialScore`:

- **Adsorption energies** E_A = E(slab + X) - E(relaxed clean slab) - E(X as built), for
  every adsorbate frame, by both methods; error = potential - DFT (negative: the
  potential overbinds). Means are given over all frames (raw placements included) and
  over the *sound* frames: relaxed (slab frozen or free) with adsorbate and surface
  intact, where neither artifacts nor unrelaxed close contacts weigh.
- **Relative energies** per adsorbate: each frame's energy relative to the lowest-DFT
  frame of that adsorbate; the ranking (Spearman) of the relaxed frames; whether the
  lowest relaxed frame is the same for both; and for S8 whether the potential's lowest is
  the intact ring where DFT's is.
- **Artifacts stabilised**: frames where DFT finds the adsorbate unbound (E_A > 0) but
  the potential binds it (E_A < 0), counted separately for torn/opened geometries.
- **Bulk**: formation energies (eV/atom) at the experimental cells against bcc Li,
  alpha-S and I2; the Li2S2 height above the S-Li2S tie line; the lattice scale factor
  at the minimum of a parabola through the -2/0/+2 % E(V) points (None where DFT's
  curve has no minimum inside, e.g. alpha-S with LCAO dzp).
- **Surface**: the clean slab's energy above bulk LiI with the same atoms,
  E(slab) - N_fu E(LiI)/fu (eV per slab, both faces), by both methods. Adsorption
  energies do not see it; a potential whose slab and bulk drift apart (a fine-tune that
  fits adsorption energies alone, say) does.
- **Forces**: mean absolute error per component, per kind.

Raw LCAO DFT adsorption energies carry basis-set superposition (0.6-0.8 eV for Li2S and
Li2S2 in ``lis-dft verify``); relative energies of one adsorbate share most of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lis_dft.analysis.verification import formation_verification, li2s2_tie_line

#: ``minimum``: a frame imported from a verified run (the minimum that run reported).
RELAXED_VARIANTS = ("frozen", "free", "minimum")
#: The clean slab adsorption energies of the built set are taken against.
DEFAULT_SLAB = "slab/relaxed"


def adsorption_references(
    adsorbate: str, slab_ref: str | None = None, molecule_ref: str | None = None
) -> tuple[str, str]:
    """Config ids of the clean slab and the molecule an adsorbate frame's E_A is taken against.

    Frames of the built set use the set's relaxed slab and molecule; frames imported from
    a verified run name their own (``info["slab_ref"]``, ``info["molecule_ref"]``).
    """
    return slab_ref or DEFAULT_SLAB, molecule_ref or f"molecule/{adsorbate}"


@dataclass
class FramePair:
    """One reference configuration by both methods, on the same geometry."""

    config_id: str
    family: str
    kind: str
    formula: str
    n_atoms: int
    e_dft: float
    e_pot: float
    f_dft: np.ndarray
    f_pot: np.ndarray
    adsorbate: str | None = None
    intact: bool | None = None
    surface_intact: bool | None = None
    slab_ref: str | None = None
    molecule_ref: str | None = None
    #: a frame's own ``info["variant"]`` (height scans: ``scan``), overriding the id's
    declared_variant: str | None = None

    @property
    def references(self) -> tuple[str, str]:
        """Clean slab and molecule of this frame's E_A (:func:`adsorption_references`)."""
        return adsorption_references(str(self.adsorbate), self.slab_ref, self.molecule_ref)

    @property
    def variant(self) -> str:
        """Last part of an adsorbate id: placement, frozen or free; ``minimum`` if imported.

        A frame that declares its variant (a height-scan point: ``scan``) keeps it.
        """
        if self.declared_variant:
            return self.declared_variant
        return "minimum" if self.slab_ref else self.config_id.rsplit("/", 1)[-1]

    @property
    def sound(self) -> bool:
        """Adsorbate and surface both intact (False for artifacts)."""
        return self.intact is not False and self.surface_intact is not False


@dataclass
class AdsorptionPoint:
    """E_A of one adsorbate frame by both methods."""

    config_id: str
    adsorbate: str
    variant: str
    sound: bool
    dft_eV: float
    potential_eV: float

    @property
    def error_eV(self) -> float:
        """Potential - DFT (negative: the potential overbinds)."""
        return self.potential_eV - self.dft_eV


@dataclass
class AdsorbateRanking:
    """Relative energies and ranking of one adsorbate's frames."""

    adsorbate: str
    relative_mae_eV: float
    spearman_relaxed: float | None
    lowest_dft: str
    lowest_potential: str
    lowest_dft_sound: bool
    lowest_potential_sound: bool

    @property
    def same_lowest(self) -> bool:
        """Both methods pick the same relaxed frame as the lowest."""
        return self.lowest_dft == self.lowest_potential


@dataclass
class PotentialScore:
    """Everything :func:`score` measures for one potential."""

    label: str
    n_frames: int
    adsorption: list[AdsorptionPoint] = field(default_factory=list)
    rankings: dict[str, AdsorbateRanking] = field(default_factory=dict)
    formation: dict[str, Any] = field(default_factory=dict)
    tie_line: dict[str, float | None] = field(default_factory=dict)
    lattice: dict[str, dict[str, float | None]] = field(default_factory=dict)
    force_mae: dict[str, float] = field(default_factory=dict)
    ring_opening: dict[str, dict[str, float]] = field(default_factory=dict)
    surface: dict[str, dict[str, float]] = field(default_factory=dict)

    def _errors(self, sound_only: bool) -> np.ndarray:
        """E_A errors of every frame, or of the relaxed frames with everything intact."""
        keep = [
            p
            for p in self.adsorption
            if not sound_only or (p.sound and p.variant in RELAXED_VARIANTS)
        ]
        return np.array([p.error_eV for p in keep], dtype=float)

    @property
    def ads_mae_eV(self) -> float | None:
        """Mean |E_A error| over every adsorbate frame."""
        e = self._errors(False)
        return float(np.abs(e).mean()) if e.size else None

    @property
    def ads_max_eV(self) -> float | None:
        """Largest |E_A error| over every adsorbate frame."""
        e = self._errors(False)
        return float(np.abs(e).max()) if e.size else None

    @property
    def ads_mae_sound_eV(self) -> float | None:
        """Mean |E_A error| over relaxed frames with intact adsorbate and surface."""
        e = self._errors(True)
        return float(np.abs(e).mean()) if e.size else None

    @property
    def ads_mean_error_sound_eV(self) -> float | None:
        """Signed mean E_A error over relaxed sound frames (negative: overbinding)."""
        e = self._errors(True)
        return float(e.mean()) if e.size else None

    @property
    def artifacts_stabilised(self) -> int:
        """Frames DFT finds unbound (E_A > 0) that the potential binds (E_A < 0)."""
        return sum(1 for p in self.adsorption if p.dft_eV > 0 > p.potential_eV)

    @property
    def formation_mae_eV_per_atom(self) -> float | None:
        """Mean |E_f error| of the bulk compounds, eV/atom."""
        errs = [
            abs(v["error_eV_per_atom"])
            for v in self.formation.values()
            if v.get("error_eV_per_atom") is not None
        ]
        return float(np.mean(errs)) if errs else None

    @property
    def lattice_max_error_pct(self) -> float | None:
        """Largest |lattice error| in %, over phases where both curves have a minimum."""
        errs = [abs(v["error_pct"]) for v in self.lattice.values() if v["error_pct"] is not None]
        return float(max(errs)) if errs else None

    @property
    def same_lowest(self) -> int:
        """Adsorbates whose lowest relaxed frame is the same for both methods."""
        return sum(r.same_lowest for r in self.rankings.values())

    def summary(self) -> dict[str, Any]:
        """The headline numbers, for tables."""
        return {
            "label": self.label,
            "n_frames": self.n_frames,
            "ads_mae_eV": self.ads_mae_eV,
            "ads_max_eV": self.ads_max_eV,
            "ads_mae_sound_eV": self.ads_mae_sound_eV,
            "ads_mean_error_sound_eV": self.ads_mean_error_sound_eV,
            "relative_mae_eV": (
                float(np.mean([r.relative_mae_eV for r in self.rankings.values()]))
                if self.rankings
                else None
            ),
            "same_lowest": self.same_lowest,
            "n_adsorbates": len(self.rankings),
            "artifacts_stabilised": self.artifacts_stabilised,
            "formation_mae_eV_per_atom": self.formation_mae_eV_per_atom,
            "li2s2_above_tie_line_eV_per_atom": self.tie_line.get("mlip"),
            "lattice_max_error_pct": self.lattice_max_error_pct,
            "force_mae_eV_per_A": self.force_mae.get("all"),
            "surface_excess_error_eV": (self.surface.get("slab/relaxed") or {}).get("error_eV"),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: summary plus every detail."""
        return {
            "summary": self.summary(),
            "adsorption": [{**asdict(p), "error_eV": p.error_eV} for p in self.adsorption],
            "rankings": {
                k: {**asdict(r), "same_lowest": r.same_lowest} for k, r in self.rankings.items()
            },
            "formation": self.formation,
            "tie_line": self.tie_line,
            "lattice": self.lattice,
            "force_mae": self.force_mae,
            "ring_opening": self.ring_opening,
            "surface": self.surface,
        }


def adsorption_points(pairs: dict[str, FramePair]) -> list[AdsorptionPoint]:
    """E_A of every adsorbate frame whose clean slab and molecule are in ``pairs``."""
    out = []
    for p in pairs.values():
        if p.kind != "adslab":
            continue
        slab, mol = (pairs.get(r) for r in p.references)
        if slab is None or mol is None:
            continue
        out.append(
            AdsorptionPoint(
                p.config_id,
                str(p.adsorbate),
                p.variant,
                p.sound,
                p.e_dft - slab.e_dft - mol.e_dft,
                p.e_pot - slab.e_pot - mol.e_pot,
            )
        )
    return out


def _spearman(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def rankings(pairs: dict[str, FramePair]) -> dict[str, AdsorbateRanking]:
    """Relative energies and ranking per adsorbate on one slab (frames that share atoms).

    Frames on the set's own slab are keyed by the adsorbate (``S8``); frames imported from
    a run, on that run's slab, by ``S8@<slab id>``, and only where that slab carries two
    or more relaxed frames of the adsorbate (one frame ranks nothing).
    """
    by_ads: dict[str, list[FramePair]] = {}
    for p in pairs.values():
        if p.kind == "adslab":
            key = str(p.adsorbate) if p.slab_ref is None else f"{p.adsorbate}@{p.slab_ref}"
            by_ads.setdefault(key, []).append(p)
    out = {}
    for ads, frames in sorted(by_ads.items()):
        relaxed = [p for p in frames if p.variant in RELAXED_VARIANTS]
        if not relaxed or (frames[0].slab_ref and len(relaxed) < 2):
            continue
        ref = min(frames, key=lambda p: p.e_dft)
        rel = [abs((p.e_pot - ref.e_pot) - (p.e_dft - ref.e_dft)) for p in frames]
        lo_d = min(relaxed, key=lambda p: p.e_dft)
        lo_p = min(relaxed, key=lambda p: p.e_pot)
        out[ads] = AdsorbateRanking(
            ads,
            float(np.mean(rel)),
            _spearman([p.e_dft for p in relaxed], [p.e_pot for p in relaxed]),
            lo_d.config_id,
            lo_p.config_id,
            lo_d.sound,
            lo_p.sound,
        )
    return out


def parabola_minimum(scales: list[float], energies: list[float]) -> float | None:
    """Scale at the minimum of the parabola through the points (None: no inner minimum)."""
    if len(scales) < 3:
        return None
    c2, c1, _ = np.polyfit(scales, energies, 2)
    if c2 <= 0:
        return None
    s = -c1 / (2 * c2)
    lo, hi = min(scales), max(scales)
    return float(s) if lo - 0.02 <= s <= hi + 0.02 else None


def lattice(pairs: dict[str, FramePair]) -> dict[str, dict[str, float | None]]:
    """Lattice scale at the E(V) minimum per bulk phase, both methods, and the error in %."""
    by_phase: dict[str, list[FramePair]] = {}
    for p in pairs.values():
        # the strained cells of the built set (bulk/<phase>/a0.98 ...), not imported frames
        if p.kind == "bulk" and p.config_id.startswith("bulk/") and "/a" in p.config_id:
            by_phase.setdefault(p.family.split("/", 1)[1], []).append(p)
    out = {}
    for phase, frames in sorted(by_phase.items()):
        scales = [float(p.config_id.rsplit("/a", 1)[1]) for p in frames]
        d = parabola_minimum(scales, [p.e_dft for p in frames])
        m = parabola_minimum(scales, [p.e_pot for p in frames])
        err = None if d is None or m is None else 100 * (m / d - 1)
        out[phase] = {"dft_scale": d, "potential_scale": m, "error_pct": err}
    return out


def formation(pairs: dict[str, FramePair]) -> dict[str, Any]:
    """Bulk formation energies at the experimental cells, both methods (eV/atom)."""
    energies: dict[str, dict[str, Any]] = {}
    for p in pairs.values():
        key = None
        if p.kind == "bulk" and p.config_id.endswith("/a1.00"):
            key = p.family
        elif p.config_id == "molecule/I2":
            key = "molecule/I2"
        if key:
            energies[key] = {
                "formula": p.formula,
                "dft": {"energy": p.e_dft},
                "mlip": {"energy": p.e_pot},
            }
    return formation_verification(energies)


def force_mae(pairs: dict[str, FramePair]) -> dict[str, float]:
    """Mean absolute force-component error (eV/Å) per kind and over all frames."""
    groups: dict[str, list[np.ndarray]] = {}
    for p in pairs.values():
        d = np.abs(np.asarray(p.f_pot) - np.asarray(p.f_dft)).ravel()
        groups.setdefault(p.kind, []).append(d)
        groups.setdefault("all", []).append(d)
    return {k: float(np.concatenate(v).mean()) for k, v in groups.items()}


def ring_opening(pairs: dict[str, FramePair]) -> dict[str, dict[str, float]]:
    """Energy of each opened S8 chain above the intact ring, isolated, both methods (eV)."""
    ring = pairs.get("molecule/S8")
    out = {}
    if ring is None:
        return out
    for p in pairs.values():
        if p.family == "molecule/S8-opened":
            out[p.config_id] = {
                "dft_eV": p.e_dft - ring.e_dft,
                "potential_eV": p.e_pot - ring.e_pot,
            }
    return out


def surface_excess(pairs: dict[str, FramePair]) -> dict[str, dict[str, float]]:
    """E(slab) - N_fu E(bulk LiI per f.u.) of each clean slab frame, both methods (eV)."""
    bulk = pairs.get("bulk/LiI/a1.00")
    out: dict[str, dict[str, float]] = {}
    if bulk is None:
        return out
    per_atom = {"dft": bulk.e_dft / bulk.n_atoms, "pot": bulk.e_pot / bulk.n_atoms}
    for p in pairs.values():
        if p.kind == "slab" and p.config_id.startswith("slab/"):  # the set's own LiI slabs
            d = p.e_dft - p.n_atoms * per_atom["dft"]
            m = p.e_pot - p.n_atoms * per_atom["pot"]
            out[p.config_id] = {"dft_eV": d, "potential_eV": m, "error_eV": m - d}
    return out


def score(label: str, pairs: list[FramePair]) -> PotentialScore:
    """Every metric of one potential against DFT over the frames both have."""
    by_id = {p.config_id: p for p in pairs}
    form = formation(by_id)
    return PotentialScore(
        label=label,
        n_frames=len(by_id),
        adsorption=adsorption_points(by_id),
        rankings=rankings(by_id),
        formation=form,
        tie_line=li2s2_tie_line(form),
        lattice=lattice(by_id),
        force_mae=force_mae(by_id),
        ring_opening=ring_opening(by_id),
        surface=surface_excess(by_id),
    )
