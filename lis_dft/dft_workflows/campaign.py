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

from pymatgen.core import Structure

from lis_dft.dft_workflows.vasp_sets import VaspSettings, potcars_configured, write_vasp_inputs
from lis_dft.errors import LisDftError
from lis_dft.fileio import atomic_write_text, staged_directory
from lis_dft.provenance import provenance
from lis_dft.structures.catalog import StudyStructures
from lis_dft.structures.molecules import boxed

CAMPAIGN_FILE = "campaign.json"
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


def _calculation_specs(
    study: StudyStructures, box_vacuum: float
) -> list[tuple[Calculation, Structure]]:
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
                    name,
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
                depends_on=[slab_name, ads],
                n_slab=len(slab),
                adsorbate=ads,
                config_id=p.config_id,
                site=p.site,
                orientation=p.orientation,
            )
            specs.append((c, p.structure))
    return specs


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
    settings = settings or VaspSettings()
    out_dir = Path(out_dir).absolute()
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
        for calc, structure in _calculation_specs(study, box_vacuum):
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
        meta={
            "overrides": overrides_record or {},
            "structure_sources": study.sources,
            "catalyst": study.catalyst_entry.as_dict(),
            "provenance": provenance(),
        },
    )
    campaign.save()
    return campaign
