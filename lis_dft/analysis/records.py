"""The energy record: the typed boundary between the workflows and the analysis.

Both sources, the local study (``collect_energies``) and a parsed VASP campaign
(:func:`lis_dft.vasp.results.energy_record`), hand the analysis one record of
this shape; :func:`validate_record` checks it (pydantic) before any number is derived,
so a malformed record fails with the field that is wrong instead of a KeyError deep in
the energetics. The analysis functions read the validated plain form
(``EnergyRecord.model_dump``), which is what results.json is built from.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lis_dft.errors import LisDftError


class Relaxation(BaseModel):
    """One relaxed (or single-point) structure and its total energy."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    energy: float = Field(description="Total energy, eV.")
    structure: Any = Field(
        default=None, description="pymatgen Structure (or its dict) of the final geometry."
    )
    converged: bool | None = None
    n_steps: int | None = None
    n_atoms: int | None = None

    @field_validator("energy")
    @classmethod
    def _finite(cls, v: float) -> float:
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("energy must be a finite number")
        return v


class AdsorbateConfig(BaseModel):
    """One placement of an adsorbate: screened, maybe raced, maybe relaxed."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    id: str
    site: str | None = None
    orientation: str | None = None
    screen_energy: float | None = None
    race_energy: float | None = None
    relaxed: bool = False
    energy: float | None = None
    structure: Any = None
    converged: bool | None = None


class AdsorbateRecord(BaseModel):
    """Every configuration tried for one adsorbate."""

    model_config = ConfigDict(extra="allow")

    configs: list[AdsorbateConfig]


class CatalystInfo(BaseModel):
    """Which surface the record is on (:meth:`lis_dft.system.Catalyst.as_dict`)."""

    model_config = ConfigDict(extra="allow")

    name: str
    slab: str
    label: str
    halogen: str | None = None
    reference: str | None = None


class EnergyRecord(BaseModel):
    """Every energy of a study, whatever computed it (see :mod:`lis_dft.analysis.energetics`)."""

    model_config = ConfigDict(extra="allow")

    bulk: dict[str, Relaxation]
    molecules: dict[str, Relaxation]
    slab: Relaxation | None = None
    adsorbates: dict[str, AdsorbateRecord] = Field(default_factory=dict)
    catalyst: CatalystInfo | None = None


class RecordError(LisDftError):
    """An energy record that does not have the documented shape."""


def validate_record(record: dict[str, Any] | EnergyRecord) -> dict[str, Any]:
    """Check ``record`` against :class:`EnergyRecord`; return it as a plain dict.

    A dict is returned *itself*, checked, not a copy: the analysis annotates its
    configurations in place (integrity flags), and callers such as ``verify`` read those
    annotations afterwards. An :class:`EnergyRecord` is dumped to its plain form.

    Raises
    ------
    RecordError
        Naming each wrong field (``bulk.Li2S.energy: Input should be a valid number``).

    """
    if isinstance(record, EnergyRecord):
        return record.model_dump(exclude_unset=True)
    try:
        EnergyRecord.model_validate(record)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:8]
        )
        raise RecordError(f"The energy record is malformed: {problems}.") from None
    return record
