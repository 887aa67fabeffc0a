"""Physical validation of structures, used by the builders, the CLI and the workflows.

Each check returns a :class:`Check`; a :class:`ValidationReport` collects them and can
raise :class:`~lis_dft.errors.StructureValidationError` with every failure listed.
Ranges come from shared/REFERENCE.md (experiment) and are widened for relaxed cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Composition, Molecule, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from lis_dft.errors import StructureValidationError

#: Bond ranges (Å): experiment (REFERENCE.md) and a relaxed-cell window that still
#: means "an intact S8 ring / S2 dimer" for PBE-like potentials.
S8_BOND_EXPERIMENT = (2.03, 2.06)
S8_BOND_RELAXED = (1.95, 2.25)
S2_DIMER_BUILT = (2.05, 2.25)
S2_DIMER_RELAXED = (1.95, 2.45)
#: Polysulfide chains: the inner S-S bond of a relaxed Li2S8 stretches to 2.3 Å (SevenNet
#: + D3); a broken bond is > 3 Å, so connectivity is counted up to 2.45 Å.
S_CHAIN_RELAXED = (1.95, 2.45)
MIN_DISTANCE = 0.7  # Å; anything closer is an overlap in any physical structure


@dataclass
class Check:
    """One named check and its outcome."""

    name: str
    passed: bool
    detail: str


@dataclass
class ValidationReport:
    """All checks run on one structure."""

    label: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    def add(self, name: str, passed: bool, detail: str) -> None:
        """Record a check."""
        self.checks.append(Check(name, bool(passed), detail))

    def failures(self) -> list[Check]:
        """Return the failed checks."""
        return [c for c in self.checks if not c.passed]

    def raise_if_failed(self) -> ValidationReport:
        """Raise StructureValidationError listing every failed check."""
        if not self.ok:
            lines = "; ".join(f"{c.name}: {c.detail}" for c in self.failures())
            raise StructureValidationError(f"{self.label} failed validation: {lines}")
        return self

    def as_dict(self) -> dict:
        """Return a JSON-ready summary."""
        return {
            "label": self.label,
            "ok": self.ok,
            "checks": [c.__dict__ for c in self.checks],
        }


def spacegroup_number(structure: Structure, symprec: float = 0.01) -> int:
    """Return the international space-group number found by spglib."""
    return SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_number()


def spacegroup_symbol(structure: Structure, symprec: float = 0.01) -> str:
    """Return the Hermann-Mauguin symbol found by spglib."""
    return SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_symbol()


def min_distance(structure: Structure | Molecule) -> float:
    """Return the smallest interatomic distance (periodic images included), Å."""
    if len(structure) < 2 and isinstance(structure, Molecule):
        return float("inf")
    if isinstance(structure, Molecule):
        dm = structure.distance_matrix + np.eye(len(structure)) * 1e9
        return float(dm.min())
    _, _, _, dists = structure.get_neighbor_list(r=3.0)
    dists = dists[dists > 1e-8] if len(structure) == 1 else dists
    return float(dists.min()) if len(dists) else 3.0


def bonded_pairs(
    structure: Structure | Molecule, a: str, b: str, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (i, j, distance) for a-b pairs closer than ``cutoff`` (i < j for a == b)."""
    if isinstance(structure, Molecule):
        dm = structure.distance_matrix
        ii, jj = np.nonzero((dm < cutoff) & (dm > 1e-8))
        d = dm[ii, jj]
    else:
        ii, jj, _, d = structure.get_neighbor_list(r=cutoff)
    species = np.array([s.specie.symbol for s in structure])
    mask = (species[ii] == a) & (species[jj] == b)
    return ii[mask], jj[mask], d[mask]


def neighbour_counts(structure: Structure | Molecule, element: str, cutoff: float) -> np.ndarray:
    """Count same-element neighbours within ``cutoff`` for each site of ``element``."""
    idx = [i for i, s in enumerate(structure) if s.specie.symbol == element]
    ii, _, _ = bonded_pairs(structure, element, element, cutoff)
    counts = np.bincount(ii, minlength=len(structure))
    return counts[idx]


def vacuum_thickness(structure: Structure) -> float:
    """Return the empty gap along the surface normal between a slab and its image, Å."""
    lat = structure.lattice
    normal = np.cross(lat.matrix[0], lat.matrix[1])
    normal /= np.linalg.norm(normal)
    height = float(np.dot(lat.matrix[2], normal))
    # Wrap fractional c into [0, 1) and find the largest empty gap along the normal.
    frac_c = np.sort(np.mod(structure.frac_coords[:, 2], 1.0))
    gaps = np.diff(np.concatenate([frac_c, [frac_c[0] + 1.0]]))
    return float(gaps.max() * height)


def _check_ring_bonds(
    report: ValidationReport, structure: Structure | Molecule, bond_range: tuple[float, float]
) -> None:
    lo, hi = bond_range
    counts = neighbour_counts(structure, "S", hi)
    report.add(
        "S8 rings: two S neighbours per S",
        bool(len(counts)) and np.all(counts == 2),
        f"S-S neighbour counts within {hi} Å: {sorted(set(counts.tolist()))} (need exactly 2)",
    )
    _, _, d = bonded_pairs(structure, "S", "S", hi)
    ok = len(d) > 0 and d.min() >= lo
    report.add(
        "S-S bond lengths",
        ok,
        f"{d.min():.3f}-{d.max():.3f} Å (allowed {lo}-{hi})" if len(d) else "no S-S bonds",
    )


def _check_chain(
    report: ValidationReport, structure: Structure | Molecule, bond_range: tuple[float, float]
) -> None:
    """A polysulfide's S_n: one unbranched, open chain (two ends, n - 1 bonds, connected)."""
    lo, hi = bond_range
    s_idx = [i for i, site in enumerate(structure) if site.specie.symbol == "S"]
    ii, jj, d = bonded_pairs(structure, "S", "S", hi)
    pairs = {(min(i, j), max(i, j)) for i, j in zip(ii.tolist(), jj.tolist(), strict=True)}
    counts = neighbour_counts(structure, "S", hi)
    seen, todo = set(), [s_idx[0]] if s_idx else []
    while todo:  # walk the S-S bonds from the first S
        k = todo.pop()
        if k not in seen:
            seen.add(k)
            todo += [j for i, j in pairs if i == k] + [i for i, j in pairs if j == k]
    n = len(s_idx)
    ok = (
        n >= 3
        and len(pairs) == n - 1
        and int(np.sum(counts == 1)) == 2
        and bool(np.all(counts <= 2))
        and len(seen) == n
    )
    report.add(
        f"S{n} chain: one open chain",
        ok,
        f"{len(pairs)} S-S bonds within {hi} Å (need {n - 1}), neighbour counts "
        f"{sorted(counts.tolist())}, {len(seen)} of {n} S connected",
    )
    report.add(
        "S-S bond lengths",
        len(d) > 0 and d.min() >= lo,
        f"{d.min():.3f}-{d.max():.3f} Å (allowed {lo}-{hi})" if len(d) else "no S-S bonds",
    )


def _check_dimer(
    report: ValidationReport, structure: Structure | Molecule, dimer_range: tuple[float, float]
) -> None:
    lo, hi = dimer_range
    counts = neighbour_counts(structure, "S", hi)
    _, _, d = bonded_pairs(structure, "S", "S", hi)
    report.add(
        "S2 dimers: one S neighbour per S",
        bool(len(counts)) and np.all(counts == 1),
        f"S-S neighbour counts within {hi} Å: {sorted(set(counts.tolist()))} (need exactly 1)",
    )
    report.add(
        "S-S dimer length",
        len(d) > 0 and d.min() >= lo and d.max() <= hi,
        f"{d.min():.3f}-{d.max():.3f} Å (allowed {lo}-{hi})" if len(d) else "no S-S dimer",
    )


def check_bulk(
    name: str, structure: Structure, expected_formula: str | None = None, relaxed: bool = False
) -> ValidationReport:
    """Validate a bulk phase: space group, composition, distances and S-S bonding.

    Parameters
    ----------
    name
        Phase name (``Li``, ``S``, ``Li2S``, ``Li2S2``, ``LiI``).
    structure
        The structure to check.
    expected_formula
        Reduced formula to require; defaults to ``name`` (``S`` for alpha-S).
    relaxed
        Use the wider bond windows for relaxed cells and skip the space-group check
        (a potential may break the symmetry slightly).

    """
    from lis_dft.structures.bulk import EXPECTED_SPACEGROUP

    report = ValidationReport(f"bulk {name}")
    formula = expected_formula or name
    got = structure.composition.reduced_formula
    report.add(
        "composition",
        got == Composition(formula).reduced_formula,
        f"{got} (expected {Composition(formula).reduced_formula})",
    )
    dmin = min_distance(structure)
    report.add("minimum distance", dmin >= MIN_DISTANCE, f"{dmin:.3f} Å (>= {MIN_DISTANCE})")
    from lis_dft.system import CATALYSTS

    expected = {**EXPECTED_SPACEGROUP, **{c.name: c.spacegroup for c in CATALYSTS.values()}}
    if not relaxed and name in expected and dmin >= MIN_DISTANCE:
        sg = spacegroup_number(structure)
        report.add("space group", sg == expected[name], f"{sg} (expected {expected[name]})")
    if name == "S":
        _check_ring_bonds(report, structure, S8_BOND_RELAXED if relaxed else S8_BOND_EXPERIMENT)
    elif name == "Li2S2":
        _check_dimer(report, structure, S2_DIMER_RELAXED if relaxed else S2_DIMER_BUILT)
    return report


def check_molecule(
    name: str, molecule: Molecule | Structure, relaxed: bool = False
) -> ValidationReport:
    """Validate a molecule (bare or boxed): composition, distances, S-S bonding."""
    report = ValidationReport(f"molecule {name}")
    got = molecule.composition.reduced_formula
    want = Composition(name).reduced_formula
    report.add("composition", got == want, f"{got} (expected {want})")
    dmin = min_distance(molecule)
    report.add("minimum distance", dmin >= MIN_DISTANCE, f"{dmin:.3f} Å (>= {MIN_DISTANCE})")
    from lis_dft.system import SPECIES

    integrity = SPECIES[name].integrity if name in SPECIES else None
    if integrity == "ring":
        _check_ring_bonds(report, molecule, S8_BOND_RELAXED if relaxed else (2.04, 2.06))
    elif integrity == "dimer":
        _check_dimer(report, molecule, S2_DIMER_RELAXED if relaxed else S2_DIMER_BUILT)
    elif integrity == "chain":
        _check_chain(report, molecule, S_CHAIN_RELAXED if relaxed else (2.05, 2.10))
    if isinstance(molecule, Structure):
        gap = min(_box_gaps(molecule))
        report.add("box vacuum", gap >= 8.0, f"{gap:.1f} Å between images (>= 8)")
    return report


def _box_gaps(structure: Structure) -> list[float]:
    gaps = []
    for axis in range(3):
        frac = np.sort(np.mod(structure.frac_coords[:, axis], 1.0))
        gap = np.diff(np.concatenate([frac, [frac[0] + 1.0]])).max()
        gaps.append(float(gap * structure.lattice.abc[axis]))
    return gaps


#: Formal charges for the slab dipole (pymatgen's Slab.is_polar needs oxidation states
#: and reports every slab without them as non-polar).
FORMAL_CHARGES = {"Li": 1.0, "S": -2.0}  # and -1 for every registered catalyst's halogen


def slab_dipole_per_area(structure: Structure, charges: dict[str, float] | None = None) -> float:
    """Return the formal-charge dipole along the normal per unit area, e Å / Å^2.

    Positions are measured from the middle of the slab (unwrapped across the vacuum),
    so a stoichiometric slab with equivalent faces gives zero.
    """
    if charges is None:
        from lis_dft.system import CATALYSTS

        charges = {**FORMAL_CHARGES, **{c.halogen: -1.0 for c in CATALYSTS.values()}}
    lat = structure.lattice
    normal = np.cross(lat.matrix[0], lat.matrix[1])
    area = float(np.linalg.norm(normal))
    normal /= area
    frac_c = np.mod(structure.frac_coords[:, 2], 1.0)
    order = np.sort(frac_c)
    gaps = np.diff(np.concatenate([order, [order[0] + 1.0]]))
    cut = order[int(np.argmax(gaps))] + gaps.max() / 2  # middle of the vacuum
    unwrapped = np.where(frac_c > cut, frac_c - 1.0, frac_c)
    height = float(np.dot(lat.matrix[2], normal))
    z = unwrapped * height
    q = np.array([charges.get(site.specie.symbol, 0.0) for site in structure])
    centre = (z.max() + z.min()) / 2
    return float(np.sum(q * (z - centre)) / area)


def check_slab(
    slab: Structure,
    bulk_formula: str = "LiI",
    vacuum: float | None = 15.0,
    vacuum_tol: float = 0.05,
) -> ValidationReport:
    """Validate a slab: stoichiometry, polarity, symmetry, vacuum, fixed layers."""
    report = ValidationReport("slab")
    got = slab.composition.reduced_formula
    want = Composition(bulk_formula).reduced_formula
    report.add("stoichiometry", got == want, f"{slab.composition.formula} (bulk {want})")
    dipole = slab_dipole_per_area(slab)
    report.add(
        "non-polar", abs(dipole) < 1e-3, f"formal-charge dipole {dipole:.2e} e/Å (|.| < 1e-3)"
    )
    if hasattr(slab, "is_symmetric"):
        report.add("symmetric faces", slab.is_symmetric(), "top and bottom terminations equivalent")
    dmin = min_distance(slab)
    report.add("minimum distance", dmin >= MIN_DISTANCE, f"{dmin:.3f} Å")
    if vacuum is not None:
        vac = vacuum_thickness(slab)
        report.add("vacuum", abs(vac - vacuum) <= vacuum_tol, f"{vac:.2f} Å (requested {vacuum})")
    sd = slab.site_properties.get("selective_dynamics")
    if sd is not None:
        n_fixed = sum(1 for f in sd if not any(f))
        report.add("fixed atoms", 0 < n_fixed < len(slab), f"{n_fixed} of {len(slab)} atoms fixed")
    return report


def check_adslab(structure: Structure, n_slab_atoms: int, min_dist: float) -> ValidationReport:
    """Validate an adsorbate placement: no adsorbate atom closer than ``min_dist`` to another."""
    report = ValidationReport("adslab")
    ads = list(range(n_slab_atoms, len(structure)))
    worst = float("inf")
    for i in ads:
        for nb in structure.get_neighbors(structure[i], min_dist + 1.0):
            if nb.index != i and nb.nn_distance < worst and (nb.index < n_slab_atoms):
                worst = nb.nn_distance
    report.add(
        "adsorbate-surface distance",
        worst >= min_dist,
        f"closest adsorbate-surface contact {worst:.2f} Å (>= {min_dist})",
    )
    dmin = min_distance(structure)
    report.add("minimum distance", dmin >= MIN_DISTANCE, f"{dmin:.3f} Å")
    return report


#: A slab atom displaced further than this from its clean-slab position (Å) means the
#: surface reconstructed under the adsorbate.
SURFACE_MAX_DISPLACEMENT = 1.0
#: A slab atom that loses this many unlike neighbours (Li-I) has been pulled out of the net.
SURFACE_LOST_NEIGHBOURS = 2
#: Unlike neighbours are counted within this multiple of the clean slab's shortest pair.
#: 1.3 keeps a bond stretched by an adsorbate's pull (CHGNet lifts an I under Li2S by
#: 0.7 Å, bonds 3.0 -> 3.6 Å: chemistry DFT confirms) and loses a torn-out atom.
SURFACE_BOND_SCALE = 1.3


@dataclass
class SurfaceIntegrity:
    """Whether the slab stayed a slab under the adsorbate.

    ``max_displacement`` is the largest move of a slab atom from its position in the
    relaxed clean slab (Å); ``displaced`` the slab atoms moved more than
    :data:`SURFACE_MAX_DISPLACEMENT`; ``undercoordinated`` those that lost at least
    :data:`SURFACE_LOST_NEIGHBOURS` unlike (cation-anion) neighbours.
    """

    intact: bool
    max_displacement: float
    displaced: list[int]
    undercoordinated: list[int]

    @property
    def detail(self) -> str:
        """One line for reports."""
        if self.intact:
            return f"surface intact (largest slab-atom move {self.max_displacement:.2f} Å)"
        parts = [f"largest slab-atom move {self.max_displacement:.2f} Å"]
        if self.displaced:
            parts.append(f"{len(self.displaced)} atom(s) moved > {SURFACE_MAX_DISPLACEMENT} Å")
        if self.undercoordinated:
            parts.append(
                f"{len(self.undercoordinated)} atom(s) lost >= {SURFACE_LOST_NEIGHBOURS} neighbours"
            )
        return "surface reconstructed: " + ", ".join(parts)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "intact": self.intact,
            "max_displacement_A": round(self.max_displacement, 4),
            "displaced": self.displaced,
            "undercoordinated": self.undercoordinated,
            "detail": self.detail,
        }


def _unlike_neighbour_counts(structure: Structure, n: int, cutoff: float) -> np.ndarray:
    counts = np.zeros(n, dtype=int)
    sub = Structure(structure.lattice, structure.species[:n], structure.frac_coords[:n])
    centres, points, _, _ = sub.get_neighbor_list(cutoff)
    for i, j in zip(centres, points, strict=True):
        if sub[int(i)].specie != sub[int(j)].specie:
            counts[int(i)] += 1
    return counts


def surface_integrity(
    clean_slab: Structure,
    adslab: Structure,
    n_slab: int,
    max_displacement: float = SURFACE_MAX_DISPLACEMENT,
    lost_neighbours: int = SURFACE_LOST_NEIGHBOURS,
) -> SurfaceIntegrity:
    """Compare the slab atoms of a relaxed adsorbate slab with the relaxed clean slab.

    Both must hold the slab atoms first and in the same order (as every lis-dft
    adsorbate slab does: the adsorbate is appended to the relaxed clean slab).
    Neighbours are unlike-species pairs within :data:`SURFACE_BOND_SCALE` x the clean
    slab's shortest one.
    """
    if len(clean_slab) != n_slab or len(adslab) < n_slab:
        raise ValueError(
            f"surface_integrity needs the clean slab ({len(clean_slab)} atoms) to have n_slab="
            f"{n_slab} atoms and the adsorbate slab ({len(adslab)}) at least as many."
        )
    d = adslab.frac_coords[:n_slab] - clean_slab.frac_coords
    d -= np.round(d)
    moves = np.linalg.norm(clean_slab.lattice.get_cartesian_coords(d), axis=1)
    cutoff = SURFACE_BOND_SCALE * min(dist for _, _, dist in _unlike_pairs(clean_slab))
    lost = _unlike_neighbour_counts(clean_slab, n_slab, cutoff) - _unlike_neighbour_counts(
        adslab, n_slab, cutoff
    )
    displaced = [int(i) for i in np.flatnonzero(moves > max_displacement)]
    under = [int(i) for i in np.flatnonzero(lost >= lost_neighbours)]
    return SurfaceIntegrity(
        intact=not displaced and not under,
        max_displacement=float(moves.max()) if len(moves) else 0.0,
        displaced=displaced,
        undercoordinated=under,
    )


def _unlike_pairs(structure: Structure, cutoff: float = 4.0):
    centres, points, _, dists = structure.get_neighbor_list(cutoff)
    for i, j, dist in zip(centres, points, dists, strict=True):
        if structure[int(i)].specie != structure[int(j)].specie:
            yield int(i), int(j), float(dist)
