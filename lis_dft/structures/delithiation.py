"""End points of the delithiation steps whose barriers the study computes.

Oxidising a discharge product starts by taking one Li away from it:
``Li2S -> LiS + Li`` and ``Li2S2 -> LiS2 + Li`` (:data:`DELITHIATIONS`). The initial
state is always the minimum the study reports (the relaxed molecule in vacuum, or the
reported adsorbate configuration on the catalyst). The final state is built here, by
rules a user can read and check, and then relaxed by the workflow:

vacuum
    The Li whose bond to the rest is weakest (longest Li-S) is moved straight away from
    its nearest S until the Li-S distance is ``separation`` (default 5 Å). That Li and the
    S atoms are then held fixed while the other Li relaxes (left free, the LiS2 fragment
    drifted back to the Li): an isolated Li atom has no minimum near the molecule, so the
    path is the bond dissociation out to ``separation``.
surface
    Every (adsorbate Li, surface site) pair is a candidate: the site (AdsorbateSiteFinder
    ontop/bridge/hollow, all of them, not symmetry-reduced) at ``li_height`` Å above the
    top layer, at least ``min_li_s`` Å (default 5.5) from every S of the molecule and
    ``min_contact`` Å from every other atom. Candidates are ordered by how
    far the Li must move, nearest first: "the nearest stable site". The workflow relaxes
    the first and takes the next if the Li returns to the molecule.

    Why 5.5 Å (measured with the default potential on LiI(100), 2026-12-02): from 3.2 Å
    and 4 Å every Li2S candidate relaxed back onto the molecule; of the candidates 5.07
    to 5.14 Å from S (two for Li2S, two for Li2S2) all four did, after 80-100 BFGS steps
    each, while the next ones, 5.55 Å (Li2S) and 6.06 Å (Li2S2) from S, stayed detached
    (5.8 and 4.7 Å after relaxation). With 5 Å those four failed tries cost 389 force
    calls, a quarter of the two surface paths' calls.

    If no site is that far (a small cell, or a molecule spread over the surface), the
    sites more than :data:`DETACHED_LI_S` Å from every S come instead, farthest first,
    and the candidate says so (``rule`` "fallback: farthest site").

Every candidate carries what was chosen (Li index, site label, displacement), so the
choice is recorded with the barrier.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from pymatgen.core import Structure

from lis_dft.structures.adsorbates import surface_sites

#: reactant -> product of the delithiation step (the Li leaves as Li*)
DELITHIATIONS: dict[str, str] = {"Li2S": "LiS", "Li2S2": "LiS2"}
#: Li-S distance (Å) beyond which the Li counts as detached (bonds are 2.1-2.4 Å)
DETACHED_LI_S = 3.0


def reaction_label(reactant: str) -> str:
    """``Li2S -> LiS + Li``."""
    if reactant not in DELITHIATIONS:
        raise KeyError(f"No delithiation step for {reactant!r}; known: {', '.join(DELITHIATIONS)}.")
    return f"{reactant} -> {DELITHIATIONS[reactant]} + Li"


@dataclass(frozen=True)
class FinalState:
    """One candidate final state and why it was chosen."""

    structure: Structure
    li_index: int
    site: str
    displacement: float  # Å the Li moves from the initial state
    rule: str = "nearest site"

    def as_dict(self) -> dict[str, object]:
        """Record of the choice (no structure)."""
        return {
            "li_index": self.li_index,
            "site": self.site,
            "displacement_A": self.displacement,
            "rule": self.rule,
        }


def _adsorbate_indices(structure: Structure, n_slab: int, element: str) -> list[int]:
    return [i for i in range(n_slab, len(structure)) if structure[i].specie.symbol == element]


def _distance(structure: Structure, i: int, point: np.ndarray) -> float:
    """Minimum-image distance from site ``i`` to a Cartesian point."""
    frac = structure.lattice.get_fractional_coords(point)
    return float(structure.lattice.get_distance_and_image(structure[i].frac_coords, frac)[0])


def li_detached(structure: Structure, li_index: int, n_slab: int = 0) -> float:
    """Distance (Å) from the moved Li to the nearest S of the molecule."""
    s_idx = _adsorbate_indices(structure, n_slab, "S")
    return min(structure.get_distance(li_index, j) for j in s_idx)


def vacuum_final_state(molecule: Structure, separation: float = 5.0) -> FinalState:
    """The molecule (boxed) with its most weakly bound Li pulled ``separation`` Å from its S.

    The moved Li and the S atoms get ``selective_dynamics`` False (held while the rest
    relaxes).
    """
    li = _adsorbate_indices(molecule, 0, "Li")
    s = _adsorbate_indices(molecule, 0, "S")
    if not li or not s:
        raise ValueError(f"{molecule.composition.formula} has no Li-S bond to break.")

    def nearest_s(i: int) -> tuple[float, int]:
        return min((molecule.get_distance(i, j), j) for j in s)

    li_index = max(li, key=lambda i: nearest_s(i)[0])
    d, j = nearest_s(li_index)
    _, image = molecule[li_index].distance_and_image(molecule[j])
    s_pos = molecule.lattice.get_cartesian_coords(molecule[j].frac_coords + image)
    direction = molecule[li_index].coords - s_pos
    direction /= np.linalg.norm(direction)
    new = s_pos + separation * direction
    out = molecule.copy()
    out.replace(li_index, "Li", new, coords_are_cartesian=True)
    # the pulled Li and the S atoms stay where they are: left free, the LiS2 fragment
    # drifts back to the Li (measured for Li2S2 with the default potential)
    held = {li_index, *s}
    out.add_site_property("selective_dynamics", [[i not in held] * 3 for i in range(len(out))])
    return FinalState(out, li_index, "vacuum", float(separation - d))


def surface_final_states(
    adslab: Structure,
    n_slab: int,
    li_height: float = 1.9,
    min_li_s: float = 5.5,
    min_contact: float = 2.2,
) -> list[FinalState]:
    """Candidate final states on the surface, nearest first (see the module docstring).

    Raises
    ------
    ValueError
        If the adsorbate has no Li or no site satisfies the distance rules.

    """
    li = _adsorbate_indices(adslab, n_slab, "Li")
    s = _adsorbate_indices(adslab, n_slab, "S")
    if not li or not s:
        raise ValueError(f"The adsorbate of {adslab.composition.formula} has no Li-S bond.")
    slab = Structure.from_sites(adslab.sites[:n_slab])
    sites = surface_sites(slab, symm_reduce=0.0)
    near, far = [], []  # (candidate, Li-S distance) beyond min_li_s / beyond DETACHED_LI_S
    for i in li:
        others = [k for k in range(len(adslab)) if k != i]
        for label, pos in sites:
            p = np.array(pos, dtype=float)
            p[2] += li_height
            d_s = min(_distance(adslab, j, p) for j in s)
            if d_s <= DETACHED_LI_S:
                continue
            if min(_distance(adslab, k, p) for k in others) < min_contact:
                continue
            moved = adslab.copy()
            moved.replace(i, "Li", p, coords_are_cartesian=True, properties=adslab[i].properties)
            cand = FinalState(moved, i, label, _distance(adslab, i, p))
            (near if d_s >= min_li_s else far).append((cand, d_s))
    if near:
        return sorted((c for c, _ in near), key=lambda f: (f.displacement, f.li_index, f.site))
    if far:
        far.sort(key=lambda x: (-x[1], x[0].displacement, x[0].li_index, x[0].site))
        return [replace(c, rule="fallback: farthest site") for c, _ in far]
    raise ValueError(
        f"No surface site is more than {DETACHED_LI_S} Å from the molecule's S and "
        f"{min_contact} Å from every other atom: use a larger supercell."
    )
