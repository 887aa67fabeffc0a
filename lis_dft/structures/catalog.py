"""Every structure of the study in one place, and writing them with a manifest.

``build_study_structures`` assembles bulk phases, molecules, the slab and adsorbate
placements (any phase can come from the user's file instead); ``write_structures``
writes CIF + POSCAR files and ``manifest.json`` atomically: files go to a temporary
folder first and are moved into place only when everything was written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pymatgen.core import Composition, Molecule, Structure
from pymatgen.io.vasp import Poscar

from lis_dft.errors import StructureInputError
from lis_dft.fileio import staged_directory
from lis_dft.structures.adsorbates import Placement, adsorbate_placements
from lis_dft.structures.bulk import BULK_BUILDERS, BULK_CONVENTIONAL
from lis_dft.structures.io import read_structure
from lis_dft.structures.molecules import boxed
from lis_dft.structures.slab import catalyst_slab
from lis_dft.structures.validation import (
    check_bulk,
    check_molecule,
    check_slab,
    spacegroup_symbol,
)
from lis_dft.system import (
    DEFAULT_CATALYST,
    DEFAULT_SPECIES,
    Catalyst,
    catalyst,
    molecule_builders,
    resolve_catalyst,
    species,
)

#: Bulk phases every study computes besides its catalyst crystal (elements and products).
REFERENCE_BULK = ("Li", "S", "Li2S", "Li2S2")
#: The default (LiI) study's phases, for code that only knows the paper's system.
BULK_PHASES = (*REFERENCE_BULK, DEFAULT_CATALYST)
ADSORBATES = DEFAULT_SPECIES
SLAB_NAME = catalyst(DEFAULT_CATALYST).slab_name


def study_phases(
    cat: Catalyst, adsorbates: tuple[str, ...] = DEFAULT_SPECIES
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(bulk phases, molecules) a study of ``adsorbates`` on ``cat`` needs.

    Molecules: every adsorbate, the Li2S/Li2S2/S8 of the vacuum landscape, and the
    halogen reference X2 (mu_X for the catalyst's formation energy).
    """
    for name in adsorbates:
        species(name)  # clear error for an unknown species
    refs = (cat.reference,) if cat.reference else ()
    molecules = tuple(dict.fromkeys((*adsorbates, *DEFAULT_SPECIES, *refs)))
    return (*REFERENCE_BULK, cat.name), molecules


def overridable(cat: Catalyst) -> dict[str, str]:
    """Which phase a user override may name, and the formula its file must have."""
    bulk, molecules = study_phases(cat)
    out = {p: p for p in bulk}
    out.update({m: m for m in molecules})
    out.update({"S8": "S", cat.slab_name: cat.name})
    if cat.reference:
        out[cat.reference] = cat.halogen
    return out


#: The default study's overridable phases (the CLI's help text lists them).
OVERRIDABLE = overridable(catalyst(DEFAULT_CATALYST))


@dataclass
class SlabSettings:
    """Parameters of the LiI(100) slab and of the adsorbate placements."""

    supercell: tuple[int, int, int] = (3, 3, 3)
    vacuum: float = 15.0
    fixed_layers: int = 3
    ads_height: float = 2.2
    min_distance: float = 1.8


@dataclass
class StudyStructures:
    """The study's structures, keyed by phase name, on one catalyst surface."""

    bulk: dict[str, Structure]
    molecules: dict[str, Molecule]
    slab: Structure
    placements: dict[str, list[Placement]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    catalyst_entry: Catalyst = field(default_factory=lambda: catalyst(DEFAULT_CATALYST))

    @property
    def catalyst(self) -> str:
        """Name of the study's catalyst crystal (``LiI``)."""
        return self.catalyst_entry.name


def parse_overrides(
    items: list[str] | None, catalyst_name: str | Catalyst = DEFAULT_CATALYST
) -> dict[str, Path]:
    """Parse ``PHASE=FILE`` strings from the CLI into a dict."""
    allowed = overridable(resolve_catalyst(catalyst_name))
    out: dict[str, Path] = {}
    for item in items or []:
        if "=" not in item:
            raise StructureInputError(
                f"--structure expects PHASE=FILE (e.g. Li2S=my_li2s.cif), got {item!r}."
            )
        phase, path = item.split("=", 1)
        if phase not in allowed:
            raise StructureInputError(
                f"--structure names unknown phase {phase!r}; choose from {sorted(allowed)}."
            )
        out[phase] = Path(path)
    return out


def _load_override(phase: str, path: Path, allowed: dict[str, str]) -> Structure | Molecule:
    s = read_structure(path, label=phase)
    want = Composition(allowed[phase]).reduced_formula
    if s.composition.reduced_formula != want:
        raise StructureInputError(
            f"{path} was given for {phase} but contains {s.composition.reduced_formula} "
            f"(expected {want})."
        )
    return s


def build_study_structures(
    overrides: dict[str, Path] | None = None,
    settings: SlabSettings | None = None,
    conventional: bool = True,
    with_placements: bool = True,
    catalyst_name: str | Catalyst = DEFAULT_CATALYST,
    adsorbates: tuple[str, ...] = DEFAULT_SPECIES,
) -> StudyStructures:
    """Build (or read) every structure of the study and validate it.

    Parameters
    ----------
    overrides
        Phase name -> structure file to use instead of the built-in builder.
    settings
        Slab and placement settings.
    conventional
        Conventional bulk cells (as written by ``lis-dft build``) or the primitive
        cells used in calculations.
    with_placements
        Also enumerate adsorbate placements on the slab.
    catalyst_name
        Registered catalyst (:data:`lis_dft.system.CATALYSTS`), a structure file or a
        :class:`~lis_dft.system.Catalyst`: the crystal the slab is cut from.
    adsorbates
        Sulfur species placed on the slab (:data:`lis_dft.system.SPECIES`).

    """
    overrides = overrides or {}
    settings = settings or SlabSettings()
    cat = resolve_catalyst(catalyst_name)
    allowed = overridable(cat)
    bulk_phases, molecule_names = study_phases(cat, tuple(adsorbates))
    builders = {
        **(BULK_CONVENTIONAL if conventional else BULK_BUILDERS),
        cat.name: lambda: cat.bulk(conventional=conventional),
    }
    mol_builders = molecule_builders()
    sources: dict[str, str] = {}
    bulk: dict[str, Structure] = {}
    for name in bulk_phases:
        if name in overrides:
            bulk[name] = _load_override(name, overrides[name], allowed)
            sources[name] = str(overrides[name])
            check_bulk(name, bulk[name], relaxed=True).raise_if_failed()
        else:
            bulk[name] = builders[name]()
            sources[name] = "builder"
            check_bulk(name, bulk[name]).raise_if_failed()
    molecules: dict[str, Molecule] = {}
    for name in molecule_names:
        if name in overrides:
            mol = _load_override(name, overrides[name], allowed)
            if isinstance(mol, Structure):
                mol = Molecule(mol.species, mol.cart_coords)
            molecules[name] = mol
            sources[name] = str(overrides[name])
        else:
            molecules[name] = mol_builders[name]()
            sources[name] = "builder"
        check_molecule(name, molecules[name], relaxed=name in overrides).raise_if_failed()
    slab_name = cat.slab_name
    if slab_name in overrides:
        slab = _load_override(slab_name, overrides[slab_name], allowed)
        sources[slab_name] = str(overrides[slab_name])
        check_slab(slab, bulk_formula=cat.name, vacuum=None).raise_if_failed()
    else:
        slab = catalyst_slab(
            bulk[cat.name] if cat.name in overrides else cat.bulk(),
            miller=cat.miller,
            supercell=settings.supercell,
            vacuum=settings.vacuum,
            fixed_layers=settings.fixed_layers,
        )
        sources[slab_name] = "builder"
        check_slab(slab, bulk_formula=cat.name, vacuum=settings.vacuum).raise_if_failed()
    placements: dict[str, list[Placement]] = {}
    if with_placements:
        for ads in adsorbates:
            placements[ads] = adsorbate_placements(
                slab,
                molecules[ads],
                ads,
                height=settings.ads_height,
                min_distance=settings.min_distance,
                slab_name=slab_name,
            )
    return StudyStructures(bulk, molecules, slab, placements, sources, catalyst_entry=cat)


def _write_pair(structure: Structure, stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    structure.to(filename=str(stem.with_suffix(".cif")))
    Poscar(structure, comment=stem.name).write_file(stem.with_suffix(".vasp"))


def _entry(
    name: str, kind: str, structure: Structure, rel: Path, formula_unit: str | None = None
) -> dict:
    """One manifest record; ``name`` is unique across kinds (``bulk/Li2S`` vs ``molecule/Li2S``).

    ``formula`` is the cell's full composition (Li8S8 for the Li2S2 cell) and
    ``formula_unit`` the chemical unit the phase is named by (Li2S2, not pymatgen's
    reduced LiS).
    """
    try:
        sg = spacegroup_symbol(structure)
    except Exception:  # spglib gives up on some large adsorbate cells
        sg = "P1"
    comp = structure.composition
    return {
        "name": name if kind == "adslab" else f"{kind}/{name}",
        "phase": name,
        "kind": kind,
        "formula": comp.formula.replace(" ", ""),
        "formula_unit": formula_unit or comp.reduced_formula,
        "n_atoms": len(structure),
        "path": str(rel.with_suffix(".cif")),
        "poscar": str(rel.with_suffix(".vasp")),
        "spacegroup": sg,
    }


def write_structures(
    study: StudyStructures, out_dir: str | Path, box_vacuum: float = 15.0
) -> list[dict]:
    """Write every structure as CIF and POSCAR plus ``manifest.json``.

    Returns the manifest entries. Nothing is left half-written: on any error the
    temporary folder is removed and ``out_dir`` is untouched.
    """
    with staged_directory(out_dir, ".lis-dft-build-") as tmp:
        manifest: list[dict] = []
        for name, s in study.bulk.items():
            rel = Path("bulk") / name
            _write_pair(s, tmp / rel)
            manifest.append(_entry(name, "bulk", s, rel, formula_unit=name))
        for name, mol in study.molecules.items():
            rel = Path("molecules") / name
            s = boxed(mol, box_vacuum)
            _write_pair(s, tmp / rel)
            manifest.append(_entry(name, "molecule", s, rel, formula_unit=name))
        slab_name = study.catalyst_entry.slab_name
        rel = Path("slab") / slab_name
        _write_pair(study.slab, tmp / rel)
        manifest.append(_entry(slab_name, "slab", study.slab, rel))
        for ads, placements in study.placements.items():
            for p in placements:
                rel = Path("adslabs") / ads / p.config_id
                _write_pair(p.structure, tmp / rel)
                entry = _entry(p.name, "adslab", p.structure, rel)
                entry.update({"adsorbate": ads, "site": p.site, "orientation": p.orientation})
                manifest.append(entry)
        names = [e["name"] for e in manifest]
        if len(names) != len(set(names)):  # a key must name one structure
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise StructureInputError(f"Manifest names are not unique: {dupes}.")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
