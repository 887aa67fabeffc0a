"""A VASP campaign on disk: one folder per calculation plus ``campaign.json``.

``campaign.json`` lists every calculation with its folder, kind, dependencies and (once
submitted) scheduler job id. It is rewritten atomically after every change, so an
interrupted ``lis-dft submit`` never loses a recorded job id.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pymatgen.core import Molecule, Structure

from lis_dft.errors import LisDftError
from lis_dft.fileio import atomic_write_text, staged_directory
from lis_dft.provenance import provenance
from lis_dft.structures.catalog import StudyStructures
from lis_dft.structures.molecules import boxed
from lis_dft.vasp.sets import VaspSettings, potcars_configured, write_vasp_inputs

CAMPAIGN_FILE = "campaign.json"
#: suffix of gas-phase calculation names: the bulk Li2S and the molecule Li2S are both
#: studied, and a campaign's names must be unique (submission, status, parse)
GAS = "(g)"
SCHEMA_VERSION = "1.0"


@dataclass
class Calculation:
    """One VASP calculation of a campaign."""

    name: str
    kind: str  # bulk | molecule | slab | adslab | analysis
    path: str
    formula: str = ""
    n_atoms: int = 0
    depends_on: list[str] = field(default_factory=list)
    n_slab: int | None = None
    adsorbate: str | None = None
    config_id: str | None = None
    site: str | None = None
    orientation: str | None = None
    job_id: str | None = None
    scheduler: str | None = None
    incar: dict[str, Any] = field(default_factory=dict)


@dataclass
class Campaign:
    """All calculations of a study plus the settings that generated them."""

    root: Path
    calculations: list[Calculation]
    settings: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def by_name(self) -> dict[str, Calculation]:
        """Calculations keyed by name."""
        return {c.name: c for c in self.calculations}

    def ordered(self) -> list[Calculation]:
        """Calculations in dependency order (dependencies first), stable otherwise."""
        done: set[str] = set()
        order: list[Calculation] = []
        pending = list(self.calculations)
        while pending:
            progressed = False
            for c in list(pending):
                if all(d in done for d in c.depends_on):
                    order.append(c)
                    done.add(c.name)
                    pending.remove(c)
                    progressed = True
            if not progressed:
                names = [c.name for c in pending]
                raise LisDftError(
                    f"campaign.json has circular or unknown dependencies among {names}."
                )
        return order

    def save(self) -> Path:
        """Write campaign.json atomically."""
        data = {
            "schema_version": SCHEMA_VERSION,
            "code": "vasp",
            "settings": self.settings,
            "meta": self.meta,
            "calculations": [asdict(c) for c in self.calculations],
        }
        return atomic_write_text(self.root / CAMPAIGN_FILE, json.dumps(data, indent=2, default=str))


def load_campaign(root: str | Path) -> Campaign:
    """Read ``root/campaign.json`` with clear errors."""
    root = Path(root)
    path = root / CAMPAIGN_FILE
    if not path.exists():
        raise LisDftError(
            f"No {CAMPAIGN_FILE} in {root}; create one with 'lis-dft inputs --code vasp --out {root}'."
        )
    try:
        data = json.loads(path.read_text())
        calcs = [Calculation(**c) for c in data["calculations"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise LisDftError(f"{path} is not a valid lis-dft campaign file: {exc}.") from exc
    return Campaign(root.absolute(), calcs, data.get("settings", {}), data.get("meta", {}))


def campaign_specs(
    study: StudyStructures, box_vacuum: float = 15.0
) -> list[tuple[Calculation, Structure]]:
    """Every calculation of the exhaustive study (each raw placement) and its structure."""
    specs: list[tuple[Calculation, Structure]] = []
    refs: list[str] = []
    for name, s in study.bulk.items():
        specs.append(
            (Calculation(name, "bulk", f"bulk/{name}", s.composition.reduced_formula, len(s)), s)
        )
        refs.append(name)
    for name, mol in study.molecules.items():
        s = boxed(mol, box_vacuum)
        specs.append(
            (
                Calculation(
                    f"{name}{GAS}",
                    "molecule",
                    f"molecules/{name}",
                    mol.composition.formula.replace(" ", ""),
                    len(s),
                ),
                s,
            )
        )
        refs.append(name)
    slab = study.slab
    slab_name = study.catalyst_entry.slab_name
    specs.append(
        (
            Calculation(
                slab_name, "slab", f"slab/{slab_name}", slab.composition.reduced_formula, len(slab)
            ),
            slab,
        )
    )
    for ads, placements in study.placements.items():
        for p in placements:
            c = Calculation(
                p.name,
                "adslab",
                f"adslabs/{ads}/{p.config_id}",
                p.structure.composition.formula.replace(" ", ""),
                len(p.structure),
                depends_on=[slab_name, f"{ads}{GAS}"],
                n_slab=len(slab),
                adsorbate=ads,
                config_id=p.config_id,
                site=p.site,
                orientation=p.orientation,
            )
            specs.append((c, p.structure))
    return specs


def _as_structure(data: Any) -> Structure:
    return Structure.from_dict(data) if isinstance(data, dict) else data


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class SeedSummary:
    """What a campaign seeded from a local run sends to VASP, and what it leaves out."""

    run_dir: str
    top_k: int
    calculator: dict[str, Any]
    adsorbate_calculations: int  # written, from the run's relaxed geometries
    exhaustive_adsorbate_calculations: int  # every placement the run enumerated
    #: per adsorbate: placements, the chosen configuration ids with their potential
    #: energies and integrity flags, and the potential's steps from a raw placement
    adsorbates: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ionic steps VASP does not take for the placements left out, estimated with the
    #: potential's mean steps from a raw placement (a proxy for VASP's; a lower bound of the
    #: saving, which also shortens the kept relaxations, since they start at a minimum)
    ionic_steps_saved_estimate: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def saved(self) -> int:
        """Adsorbate calculations not sent to VASP."""
        return self.exhaustive_adsorbate_calculations - self.adsorbate_calculations

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (campaign.json meta)."""
        return asdict(self) | {"saved_adsorbate_calculations": self.saved}


def _rank(config: dict[str, Any]) -> tuple[int, float]:
    """The preference of :func:`lis_dft.analysis.energetics.best_config`, then energy."""
    from lis_dft.analysis.energetics import soundness

    return (soundness(config), config["energy"])


def seeded_specs(
    record: dict[str, Any], top_k: int, box_vacuum: float = 15.0
) -> tuple[list[tuple[Calculation, Structure]], dict[str, Any], SeedSummary]:
    """The calculations of a campaign that starts from a finished local run's minima.

    References (bulk cells and molecules as the run relaxed them), the run's relaxed
    clean slab and, per adsorbate, the ``top_k`` lowest relaxed configurations, sound
    ones first (adsorbate and surface intact, the flags of
    :func:`lis_dft.analysis.energetics.annotate_integrity`), as POSCARs of their relaxed
    geometries.

    Returns (calculation specs, catalyst record, summary).

    Raises
    ------
    LisDftError
        If ``top_k`` < 1, or the run holds no relaxed slab or no relaxed configuration.

    """
    from lis_dft.analysis.energetics import annotate_integrity

    if top_k < 1:
        raise LisDftError(f"--top-k must be at least 1, got {top_k}.")
    slab_rec = record.get("slab") or {}
    if not slab_rec.get("structure"):
        raise LisDftError("The run holds no relaxed slab: finish it ('lis-dft run') first.")
    annotate_integrity(record)
    catalyst = dict(record.get("catalyst") or {})
    slab = _as_structure(slab_rec["structure"])
    slab_name = catalyst.get("slab") or "slab"
    specs: list[tuple[Calculation, Structure]] = []
    for name, r in record["bulk"].items():
        s = _as_structure(r["structure"])
        specs.append(
            (Calculation(name, "bulk", f"bulk/{name}", s.composition.reduced_formula, len(s)), s)
        )
    for name, r in record["molecules"].items():
        data = r["structure"]
        s = (
            _as_structure(data)
            if not isinstance(data, dict) or "lattice" in data
            else boxed(Molecule.from_dict(data), box_vacuum)
        )
        formula = s.composition.formula.replace(" ", "")
        specs.append(
            (Calculation(f"{name}{GAS}", "molecule", f"molecules/{name}", formula, len(s)), s)
        )
    specs.append(
        (
            Calculation(
                slab_name, "slab", f"slab/{slab_name}", slab.composition.reduced_formula, len(slab)
            ),
            slab,
        )
    )
    summary = SeedSummary("", top_k, {}, 0, 0)
    for ads, data in record.get("adsorbates", {}).items():
        configs = data["configs"]
        relaxed = [c for c in configs if c.get("relaxed") and c.get("structure") is not None]
        if not relaxed:
            raise LisDftError(
                f"The run relaxed no configuration of {ads}: nothing to seed VASP with. "
                "Resume or rerun it ('lis-dft run')."
            )
        chosen = sorted(relaxed, key=_rank)[:top_k]
        if len(relaxed) < top_k:
            summary.notes.append(
                f"{ads}: the run relaxed {len(relaxed)} configurations, fewer than --top-k "
                f"{top_k}; all of them are written (rerun with a larger --top-k to relax more)."
            )
        unsound = [c["id"] for c in chosen if _rank(c)[0]]
        if unsound:
            summary.notes.append(
                f"{ads}: {', '.join(unsound)} broke the adsorbate or the surface in the "
                "potential's relaxation and is written for lack of sound ones; check it."
            )
        steps = [c["n_steps"] for c in relaxed if c.get("n_steps") is not None]
        mean_steps = _mean(steps)
        summary.adsorbates[ads] = {
            "placements": len(configs),
            "written": [
                {
                    "id": c["id"],
                    "energy_eV": c["energy"],
                    "intact": c.get("intact"),
                    "surface_intact": c.get("surface_intact"),
                    "potential_steps": c.get("n_steps"),
                }
                for c in chosen
            ],
            "potential_steps_from_raw_mean": mean_steps,
        }
        summary.exhaustive_adsorbate_calculations += len(configs)
        summary.adsorbate_calculations += len(chosen)
        if mean_steps is not None:
            summary.ionic_steps_saved_estimate += round((len(configs) - len(chosen)) * mean_steps)
        for c in chosen:
            s = _as_structure(c["structure"])
            calc = Calculation(
                f"{ads}@{slab_name}/{c['id']}",
                "adslab",
                f"adslabs/{ads}/{c['id']}",
                s.composition.formula.replace(" ", ""),
                len(s),
                depends_on=[slab_name, f"{ads}{GAS}"],
                n_slab=len(slab),
                adsorbate=ads,
                config_id=c["id"],
                site=c.get("site"),
                orientation=c.get("orientation"),
            )
            specs.append((calc, s))
    return specs, catalyst, summary


def write_campaign(
    study: StudyStructures,
    out_dir: str | Path,
    settings: VaspSettings | None = None,
    box_vacuum: float = 15.0,
    real_potcars: bool = False,
    overrides_record: dict[str, Any] | None = None,
) -> Campaign:
    """Write one input folder per calculation and campaign.json (all or nothing).

    Inputs are generated into a temporary folder and moved into ``out_dir`` only when
    all of them were written.
    """
    meta = {
        "overrides": overrides_record or {},
        "structure_sources": study.sources,
        "catalyst": study.catalyst_entry.as_dict(),
    }
    return write_specs(campaign_specs(study, box_vacuum), out_dir, settings, real_potcars, meta)


def add_potential_adsorption_energies(summary: SeedSummary, results: dict[str, Any]) -> None:
    """Record the run's E_A of every written configuration (for the VASP comparison)."""
    for ads, entry in summary.adsorbates.items():
        configs = (results.get("adsorption_energies") or {}).get(ads, {}).get("configs", [])
        e_a = {c["id"]: c.get("energy") for c in configs}
        for w in entry["written"]:
            w["potential_E_A_eV"] = e_a.get(w["id"])


def write_seeded_campaign(
    run_dir: str | Path,
    out_dir: str | Path,
    top_k: int = 2,
    settings: VaspSettings | None = None,
    box_vacuum: float = 15.0,
    real_potcars: bool = False,
    overrides_record: dict[str, Any] | None = None,
) -> tuple[Campaign, SeedSummary]:
    """The VASP campaign of a finished local run: its relaxed geometries, top ``top_k``.

    See :func:`seeded_specs`; the summary (what was written, what it saves) goes into
    ``campaign.json["meta"]["seeded_from"]``.
    """
    from lis_dft.dft_workflows.verify import load_run

    results, record, _ = load_run(run_dir)
    specs, catalyst, summary = seeded_specs(record, top_k, box_vacuum)
    summary.run_dir = str(Path(run_dir).absolute())
    summary.calculator = results.get("calculator", {})
    add_potential_adsorption_energies(summary, results)
    meta = {
        "overrides": overrides_record or {},
        "structure_sources": {"run": summary.run_dir},
        "catalyst": results.get("catalyst") or catalyst,
        "seeded_from": summary.as_dict(),
    }
    return write_specs(specs, out_dir, settings, real_potcars, meta), summary


def write_specs(
    specs: list[tuple[Calculation, Structure]],
    out_dir: str | Path,
    settings: VaspSettings | None = None,
    real_potcars: bool = False,
    meta: dict[str, Any] | None = None,
) -> Campaign:
    """Write one input folder per calculation and campaign.json (all or nothing)."""
    settings = settings or VaspSettings()
    out_dir = Path(out_dir).absolute()
    names = [c.name for c, _ in specs]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise LisDftError(f"Calculation names must be unique in a campaign; twice: {twice}.")
    if real_potcars and not potcars_configured():
        raise LisDftError(
            "--potcars asked for real POTCAR files but pymatgen has no PMG_VASP_PSP_DIR configured "
            "(pmg config --add PMG_VASP_PSP_DIR /path/to/potcars); without it POTCAR.spec is written."
        )
    if (out_dir / CAMPAIGN_FILE).exists():
        raise LisDftError(
            f"{out_dir} already holds a campaign; choose a new --out (existing job ids would be lost)."
        )
    calcs = []
    with staged_directory(out_dir, ".lis-dft-inputs-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for calc, structure in specs:
            folder = tmp / calc.path
            folder.mkdir(parents=True, exist_ok=True)
            calc.incar = write_vasp_inputs(
                folder, calc.kind, structure, settings, calc.n_slab, real_potcars
            )
            calcs.append(calc)
    calcs.append(Calculation("analysis", "analysis", ".", depends_on=[c.name for c in calcs]))
    campaign = Campaign(
        out_dir,
        calcs,
        settings=settings.as_dict(),
        meta={**(meta or {}), "provenance": provenance()},
    )
    campaign.save()
    return campaign
