"""The study as one jobflow Flow: references, slab, screening, adsorption, collection.

Job identities are deterministic: each job's uuid is derived from a hash of the study
settings, the calculator and the input structures plus the job's role, so a re-run of
the same study finds its finished jobs in the store and skips them (see
:mod:`.runner`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from atomate2.forcefields.jobs import ForceFieldRelaxMaker
from jobflow import Flow, Job, Maker

from lis_dft.dft_workflows.calculators import CalculatorSpec
from lis_dft.dft_workflows.jobs import build_slab, collect_energies, relax_summary, screen_adsorbate
from lis_dft.dft_workflows.optimizers import optimizer_class
from lis_dft.dft_workflows.screening import DEFAULT_RACE, RaceSchedule
from lis_dft.errors import ParameterError
from lis_dft.structures.catalog import ADSORBATES, SlabSettings, StudyStructures
from lis_dft.structures.molecules import boxed
from lis_dft.structures.slab import screening_supercell
from lis_dft.system import DEFAULT_CATALYST

#: where the adsorbate screen runs: a smaller slab of the same surface, or the study's
SCREEN_SLABS = ("small", "study")
_NAMESPACE = uuid.UUID("5b0f3c1e-7d2a-4f1b-9a51-6c1f2b7e9d10")


@dataclass
class StudySettings:
    """Everything that defines a local study (and therefore its job identities)."""

    calculator: CalculatorSpec = field(default_factory=CalculatorSpec)
    slab: SlabSettings = field(default_factory=SlabSettings)
    fmax: float = 0.05
    steps: int = 300
    optimizer: str = "BFGS"
    top_k: int = 2
    race: RaceSchedule = field(default_factory=lambda: DEFAULT_RACE)
    screen_slab: str = "small"  # "small" (screening_supercell) or "study"
    box_vacuum: float = 15.0
    adsorbates: tuple[str, ...] = ADSORBATES
    catalyst: str = DEFAULT_CATALYST
    miller: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if self.screen_slab not in SCREEN_SLABS:
            raise ParameterError(
                f"--screen-slab must be one of {', '.join(SCREEN_SLABS)}, got {self.screen_slab!r}."
            )
        c = self.calculator
        if c.name == "gpaw" and "convergence_forces" not in c.kwargs:
            # a study relaxes everything: GPAW's SCF must converge the forces, or they
            # drift from step to step (GpawSettings.convergence_forces)
            kwargs = {**c.kwargs, "convergence_forces": round(self.fmax / 5, 6)}
            self.calculator = replace(c, kwargs=kwargs)

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for provenance and hashing."""
        d = asdict(self)
        d["calculator"] = self.calculator.as_dict()
        d["race"] = self.race.as_dict()
        return d


def study_fingerprint(settings: StudySettings, structures: StudyStructures) -> str:
    """Hash of the settings and input structures: the identity of a study."""
    payload = {
        "settings": settings.as_dict(),
        "bulk": {k: v.as_dict() for k, v in structures.bulk.items()},
        "molecules": {k: v.as_dict() for k, v in structures.molecules.items()},
        "slab": structures.slab.as_dict(),
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class LocalStudyMaker(Maker):
    """Build the Flow of the whole study on one calculator.

    Parameters
    ----------
    name
        Flow name.
    settings
        Study settings (calculator, slab, relaxation thresholds, screening depth).

    """

    name: str = "lis-dft local study"
    settings: StudySettings = field(default_factory=StudySettings)

    def _relax_maker(self, relax_cell: bool, label: str) -> ForceFieldRelaxMaker:
        s = self.settings
        return ForceFieldRelaxMaker(
            name=label,
            relax_cell=relax_cell,
            steps=s.steps,
            # emmet's trajectory model: the same energies and steps as pymatgen's, without
            # a pymatgen Structure per ionic step (half the overhead of a mock relaxation)
            relax_kwargs={"fmax": s.fmax, "use_emmet_models": True},
            optimizer_kwargs={"optimizer": optimizer_class(s.optimizer)},
            ionic_step_data=("energy",),
            **s.calculator.maker_kwargs(),
        )

    def make(self, structures: StudyStructures) -> Flow:
        """Return the study Flow for the given (calculation-cell) structures."""
        s = self.settings
        cat = structures.catalyst_entry
        fingerprint = study_fingerprint(s, structures)
        jobs: list[Job] = []

        def pin(job: Job, key: str) -> Job:
            job.set_uuid(str(uuid.uuid5(_NAMESPACE, f"{fingerprint}/{key}")))
            job.metadata = {**(job.metadata or {}), "lis_dft_key": key, "study": fingerprint}
            jobs.append(job)
            return job

        bulk_jobs = {
            name: pin(
                self._relax_maker(True, f"relax bulk {name}").make(structures.bulk[name]),
                f"bulk/{name}",
            )
            for name in structures.bulk
        }
        # every molecule the structures carry: adsorbates, vacuum-landscape species, X2
        molecules = list(dict.fromkeys([*structures.molecules, *s.adsorbates]))
        mol_jobs = {
            name: pin(
                self._relax_maker(False, f"relax molecule {name}").make(
                    boxed(structures.molecules[name], s.box_vacuum)
                ),
                f"molecule/{name}",
            )
            for name in molecules
        }
        slab_build = pin(
            build_slab(
                bulk_jobs[cat.name].output.structure,
                list(s.slab.supercell),
                s.slab.vacuum,
                s.slab.fixed_layers,
                list(cat.miller),
            ),
            "slab/build",
        )
        slab_build.name = f"build {cat.label} slab"
        slab_relax = pin(
            self._relax_maker(False, f"relax {cat.label} slab").make(slab_build.output),
            "slab/relax",
        )
        # the screen runs on a smaller slab of the same surface (its finalists are carried
        # onto the study's slab): lis_dft.structures.slab.screening_supercell
        screen_cell, screen_fixed = screening_supercell(s.slab.supercell, s.slab.fixed_layers)
        screen_slab = slab_build, slab_relax
        if s.screen_slab == "small" and screen_cell != tuple(s.slab.supercell):
            small_build = pin(
                build_slab(
                    bulk_jobs[cat.name].output.structure,
                    list(screen_cell),
                    s.slab.vacuum,
                    screen_fixed,
                    list(cat.miller),
                ),
                "slab/screen-build",
            )
            small_build.name = f"build {cat.label} screening slab"
            small_relax = pin(
                self._relax_maker(False, f"relax {cat.label} screening slab").make(
                    small_build.output
                ),
                "slab/screen-relax",
            )
            screen_slab = small_build, small_relax
        carried = screen_slab[0] is not slab_build
        screens, adslabs = {}, {}
        calc = {"name": s.calculator.name, "d3": s.calculator.d3, **s.calculator.kwargs}
        for ads in s.adsorbates:
            screen = pin(
                screen_adsorbate(
                    screen_slab[0].output,
                    screen_slab[1].output.structure,
                    screen_slab[1].output.output.energy,
                    mol_jobs[ads].output.structure,
                    mol_jobs[ads].output.output.energy,
                    ads,
                    calc,
                    s.top_k,
                    s.slab.ads_height,
                    s.slab.min_distance,
                    relax={"fmax": s.fmax, "steps": s.steps, "optimizer": s.optimizer},
                    race=s.race.as_dict(),
                    study_slab=slab_relax.output.structure if carried else None,
                    study_ideal_slab=slab_build.output if carried else None,
                ),
                f"screen/{ads}",
            )
            screen.name = f"screen {ads} placements"
            screens[ads] = screen.output
            adslabs[ads] = [
                relax_summary(
                    pin(
                        self._relax_maker(False, f"relax {ads}@{cat.label} #{i + 1}").make(
                            screen.output["candidates"][i]
                        ),
                        f"adslab/{ads}/{i}",
                    )
                )
                for i in range(s.top_k)
            ]
        pin(
            collect_energies(
                {k: relax_summary(v) for k, v in bulk_jobs.items()},
                {k: relax_summary(v) for k, v in mol_jobs.items()},
                relax_summary(slab_relax),
                screens,
                adslabs,
                cat.as_dict(),
            ),
            "collect",
        )
        return Flow(jobs, output=jobs[-1].output, name=self.name)
