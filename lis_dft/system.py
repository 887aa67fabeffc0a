"""The chemical system of a study as data: sulfur species and catalyst surfaces.

Everything that used to be spelled out per file (which molecules exist, in which order
Li is removed, which crystal the slab is cut from, which halogen reference enters the
formation energy of the catalyst) is derived from the two registries here:

``SPECIES``
    The sulfur species of the oxidation ladder, keyed by formula unit (``Li2S``,
    ``Li2S2``, ``S8``). Each entry holds its molecule builder, plot label and which
    integrity check applies once it is adsorbed. Li per S and the order of the ladder
    follow from the formula.
``CATALYSTS``
    The catalyst crystals, keyed by formula (``LiI``, ``LiBr``, ``LiCl``): a rocksalt
    lithium halide with its experimental lattice constant, the surface cut from it,
    and its halogen reference (the X2 molecule, whose half energy is mu_X).

Adding a species or a catalyst is one entry (docs/system.md has a worked example);
catalog, flows, energetics, report, plots and CLI loop over these registries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import partial
from itertools import pairwise
from pathlib import Path

from pymatgen.core import Composition, Molecule, Structure

from lis_dft.errors import ParameterError
from lis_dft.structures.bulk import rocksalt_halide
from lis_dft.structures.molecules import (
    diatomic,
    li2s2_molecule,
    li2s_molecule,
    lithium_polysulfide,
    s8_crown,
)


@dataclass(frozen=True)
class Species:
    """A sulfur species of the oxidation ladder (formula unit = registry key).

    Parameters
    ----------
    name
        Formula unit, e.g. ``Li2S2`` (pymatgen would reduce it to LiS; lis-dft never does).
    label
        Matplotlib mathtext label.
    builder
        Returns the isolated molecule (starting geometry; the study relaxes it).
    integrity
        What must survive adsorption: ``"ring"`` (S8), ``"dimer"`` (the S-S bond of
        Li2S2), ``"chain"`` (the open S_n chain of Li2S4-Li2S8), or ``None``.

    """

    name: str
    label: str
    builder: Callable[[], Molecule]
    integrity: str | None = None

    @property
    def composition(self) -> Composition:
        """Composition of one formula unit."""
        return Composition(self.name)

    @property
    def n_s(self) -> int:
        """S atoms per formula unit."""
        return int(self.composition["S"])

    @property
    def li_per_s(self) -> float:
        """Li atoms per S atom (2 for Li2S, 0 for S8): the ladder coordinate."""
        return float(self.composition["Li"]) / self.n_s


#: The sulfur species, keyed by formula unit.
SPECIES: dict[str, Species] = {
    s.name: s
    for s in (
        Species("Li2S", r"Li$_2$S", li2s_molecule),
        Species("Li2S2", r"Li$_2$S$_2$", li2s2_molecule, integrity="dimer"),
        Species("Li2S4", r"Li$_2$S$_4$", partial(lithium_polysulfide, 4), integrity="chain"),
        Species("Li2S6", r"Li$_2$S$_6$", partial(lithium_polysulfide, 6), integrity="chain"),
        Species("Li2S8", r"Li$_2$S$_8$", partial(lithium_polysulfide, 8), integrity="chain"),
        Species("S8", r"S$_8$", s8_crown, integrity="ring"),
    )
}

#: The adsorbates of the default study (the paper's three).
DEFAULT_SPECIES: tuple[str, ...] = ("Li2S", "Li2S2", "S8")
#: The whole sulfur-reduction ladder, S8 -> Li2S8 -> Li2S6 -> Li2S4 -> Li2S2 -> Li2S.
LADDER: tuple[str, ...] = ("Li2S", "Li2S2", "Li2S4", "Li2S6", "Li2S8", "S8")


def _lookup(registry: dict, name: str, what: str, table: str, hint: str = ""):
    """``registry[name]``, or a ParameterError naming the choices and how to add one."""
    if name in registry:
        return registry[name]
    raise ParameterError(
        f"Unknown {what} {name!r}; choose from {sorted(registry)}{hint} "
        f"(add an entry to lis_dft.system.{table} for a new one)."
    )


def species(name: str) -> Species:
    """Return the registered species ``name`` (clear error if unknown)."""
    return _lookup(SPECIES, name, "sulfur species", "SPECIES")


def parse_species(items: list[str] | None) -> tuple[str, ...]:
    """Species named on the command line (repeatable or comma-separated; ``ladder`` = all).

    None or empty gives the paper's three (:data:`DEFAULT_SPECIES`).
    """
    names = [n.strip() for item in items or [] for n in item.split(",") if n.strip()]
    if not names:
        return DEFAULT_SPECIES
    if names == ["ladder"]:
        return LADDER
    for n in names:
        species(n)
    return oxidation_path(dict.fromkeys(names))


def oxidation_path(names) -> tuple[str, ...]:
    """The species among ``names`` in oxidation order (most Li per S first)."""
    known = [species(n) for n in names if n in SPECIES]
    return tuple(s.name for s in sorted(known, key=lambda s: (-s.li_per_s, s.n_s)))


def _fraction(x: Fraction) -> str:
    return "" if x == 1 else f"{x} "


def reaction(a: str, b: str) -> str:
    """The oxidation step from species ``a`` to ``b`` per Li removed, as text.

    ``reaction("Li2S", "Li2S2")`` is ``"Li2S -> 1/2 Li2S2 + Li"``.
    """
    sa, sb = species(a), species(b)
    # per S atom: 1/n_s(a) a -> 1/n_s(b) b + (li_per_s(a) - li_per_s(b)) Li; then per Li
    dli = Fraction(sa.li_per_s).limit_denominator(64) - Fraction(sb.li_per_s).limit_denominator(64)
    if dli <= 0:
        raise ParameterError(f"{a} -> {b} removes no Li; not an oxidation step.")
    ca = Fraction(1, sa.n_s) / dli
    cb = Fraction(1, sb.n_s) / dli
    return f"{_fraction(ca)}{a} -> {_fraction(cb)}{b} + Li"


def oxidation_steps(names) -> list[tuple[str, str, str]]:
    """``(from, to, reaction)`` for consecutive species of the path through ``names``."""
    return [(a, b, reaction(a, b)) for a, b in pairwise(oxidation_path(names))]


#: Gas-phase X-X bond lengths of the halogen reference molecules, Å (starting geometries).
HALOGEN_BONDS: dict[str, float] = {"F": 1.42, "Cl": 1.99, "Br": 2.28, "I": 2.67}


@dataclass(frozen=True)
class Catalyst:
    """A catalyst crystal, the surface cut from it and its reference states.

    Parameters
    ----------
    name
        Formula of the bulk crystal (``LiI``); also its bulk-phase name in the study.
    halogen
        The anion element if it is a halogen; mu_X then comes from the X2 molecule
        (``reference``). ``None`` for other catalysts (no formation energy of the
        catalyst unless all its elements have references).
    a
        Experimental lattice constant of the rocksalt cell, Å (starting geometry; the
        study relaxes the bulk and cuts the slab from the relaxed cell). ``None`` when
        the crystal comes from ``structure_file``.
    miller
        Surface facet.
    source
        Where the starting geometry comes from.
    spacegroup
        International number of the bulk crystal (225, Fm-3m, for rocksalt), checked
        when the structures are built; ``None`` to skip.
    structure_file
        A user's crystal (CIF, POSCAR, ...) instead of the rocksalt builder.

    """

    name: str
    halogen: str | None
    a: float | None = None
    miller: tuple[int, int, int] = (1, 0, 0)
    source: str = ""
    spacegroup: int | None = 225
    structure_file: str | None = None

    @property
    def reference(self) -> str | None:
        """Name of the halogen reference molecule (``I2``), or None."""
        return f"{self.halogen}2" if self.halogen else None

    @property
    def slab_name(self) -> str:
        """Key of the surface in records and results (``LiI_100``)."""
        return f"{self.name}_{''.join(str(i) for i in self.miller)}"

    @property
    def label(self) -> str:
        """Human label of the surface (``LiI(100)``)."""
        return f"{self.name}({''.join(str(i) for i in self.miller)})"

    def bulk(self, conventional: bool = False) -> Structure:
        """The bulk crystal: the user's file, or rocksalt at the experimental lattice constant."""
        if self.structure_file:
            from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

            from lis_dft.structures.io import read_structure

            s = read_structure(self.structure_file, label="--catalyst")
            sga = SpacegroupAnalyzer(s, symprec=0.01)
            return (
                sga.get_conventional_standard_structure()
                if conventional
                else sga.get_primitive_standard_structure()
            )
        return rocksalt_halide(self.name, self.a, conventional=conventional)

    @property
    def elements(self) -> set[str]:
        """Elements of the crystal."""
        return {el.symbol for el in Composition(self.name)}

    def as_dict(self) -> dict:
        """JSON-ready description for results and provenance."""
        return {
            "name": self.name,
            "slab": self.slab_name,
            "label": self.label,
            "miller": list(self.miller),
            "halogen": self.halogen,
            "reference": self.reference,
            "lattice_a_A": self.a,
            "source": self.source,
            "structure_file": self.structure_file,
        }


_HALIDE_SOURCE = "room-temperature rocksalt lattice constants; X2 bond lengths of the gas molecules"

#: The catalysts, keyed by the formula of their bulk crystal.
CATALYSTS: dict[str, Catalyst] = {
    c.name: c
    for c in (
        Catalyst("LiI", "I", a=6.00, source=_HALIDE_SOURCE),
        Catalyst("LiBr", "Br", a=5.50, source=_HALIDE_SOURCE),
        Catalyst("LiCl", "Cl", a=5.13, source=_HALIDE_SOURCE),
    )
}

DEFAULT_CATALYST = "LiI"


def catalyst(name: str) -> Catalyst:
    """Return the registered catalyst ``name`` (clear error if unknown)."""
    return _lookup(
        CATALYSTS, name, "catalyst", "CATALYSTS", " or give a crystal file (CIF, POSCAR)"
    )


def user_catalyst(path: str | Path) -> Catalyst:
    """A catalyst from the user's crystal file: name = its reduced formula.

    Its halogen (if it is a lithium halide or other single-halogen compound) gives the X2
    reference; the space group is taken from the file, not imposed.
    """
    from lis_dft.structures.io import read_structure

    s = read_structure(path, label="--catalyst")
    comp = s.composition
    halogens = [el.symbol for el in comp if el.symbol in HALOGEN_BONDS]
    return Catalyst(
        name=comp.reduced_formula,
        halogen=halogens[0] if len(halogens) == 1 else None,
        source=f"user structure {path}",
        spacegroup=None,
        structure_file=str(path),
    )


def resolve_catalyst(
    spec: str | Catalyst, miller: tuple[int, int, int] | list[int] | None = None
) -> Catalyst:
    """A registered name (``LiBr``), a structure file or a Catalyst, on facet ``miller``."""
    if isinstance(spec, Catalyst):
        cat = spec
    elif spec in CATALYSTS:
        cat = CATALYSTS[spec]
    elif Path(spec).is_file():
        cat = user_catalyst(spec)
    elif Path(spec).suffix:
        raise ParameterError(f"--catalyst file {spec} does not exist.")
    else:
        cat = catalyst(spec)  # the unknown-name error
    if miller is not None:
        hkl = tuple(int(i) for i in miller)
        if len(hkl) != 3 or not any(hkl):
            raise ParameterError(f"--miller needs three integers, not all zero; got {miller}.")
        cat = replace(cat, miller=hkl)
    return cat


def catalyst_of_slab(slab_name: str) -> Catalyst:
    """The registered catalyst whose surface is called ``slab_name`` (``LiBr_100``)."""
    for c in CATALYSTS.values():
        if c.slab_name == slab_name:
            return c
    raise ParameterError(f"No registered catalyst has the surface {slab_name!r}.")


def halogen_references() -> dict[str, str]:
    """Element -> reference molecule name for every halogen (``{"I": "I2", ...}``)."""
    return {el: f"{el}2" for el in HALOGEN_BONDS}


def molecule_builders() -> dict[str, Callable[[], Molecule]]:
    """Every molecule a study can need: the species and each halogen reference."""
    out: dict[str, Callable[[], Molecule]] = {n: s.builder for n, s in SPECIES.items()}
    for el, bond in HALOGEN_BONDS.items():
        out[f"{el}2"] = partial(diatomic, el, bond)
    return out
