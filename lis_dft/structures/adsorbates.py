"""Adsorbate placements of the sulfur species on a catalyst slab (LiI(100) in the paper).

Sites come from pymatgen's AdsorbateSiteFinder (ontop, bridge, hollow, reduced by the
slab's symmetry), labelled by the surface atoms that define them (``top_Li``,
``top_I``, ``bridge_I-Li``, ``hollow``). Each molecule is put on each site in a few
orientations (``flat`` = largest molecular plane parallel to the surface, ``upright``
= perpendicular), lowest atom ``height`` Å above the top layer. Placements with any
adsorbate atom closer than ``min_distance`` Å to a surface atom are dropped, symmetry
duplicates are removed with StructureMatcher, and ids are stable: ``<site>-<orientation>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pymatgen.analysis.adsorption import AdsorbateSiteFinder
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Molecule, Structure

from lis_dft.structures.validation import check_adslab

#: (label, tilt, rotation about the normal in degrees)
DEFAULT_ORIENTATIONS: tuple[tuple[str, str, float], ...] = (
    ("flat-r0", "flat", 0.0),
    ("flat-r45", "flat", 45.0),
    ("upright-r0", "upright", 0.0),
    ("upright-r90", "upright", 90.0),
)


@dataclass(frozen=True)
class Placement:
    """One adsorbate configuration on the slab."""

    config_id: str
    adsorbate: str
    site: str
    orientation: str
    site_coords: tuple[float, float, float]
    structure: Structure
    slab_name: str = "LiI_100"

    @property
    def name(self) -> str:
        """Manifest name, ``<adsorbate>@<slab>/<config-id>`` (``S8@LiI_100/hollow-flat-r0``)."""
        return f"{self.adsorbate}@{self.slab_name}/{self.config_id}"


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    x, y, z = axis
    c, s = math.cos(angle), math.sin(angle)
    return np.array(
        [
            [c + x * x * (1 - c), x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
            [y * x * (1 - c) + z * s, c + y * y * (1 - c), y * z * (1 - c) - x * s],
            [z * x * (1 - c) - y * s, z * y * (1 - c) + x * s, c + z * z * (1 - c)],
        ]
    )


def oriented_coords(molecule: Molecule, tilt: str, rotation_deg: float) -> np.ndarray:
    """Return molecule coordinates in a surface frame (z = surface normal).

    The principal axes of the atomic positions (largest spread first) are mapped to
    (x, y, z) for ``flat`` and to (x, z, y) for ``upright``; then the molecule is
    rotated by ``rotation_deg`` about z, centred in x-y, and its lowest atom put at z = 0.
    """
    xyz = molecule.cart_coords - molecule.cart_coords.mean(axis=0)
    if len(molecule) > 1:
        _, vecs = np.linalg.eigh(xyz.T @ xyz)
        axes = vecs[:, ::-1]  # columns: largest spread first
        if np.linalg.det(axes) < 0:
            axes[:, 2] *= -1
        xyz = xyz @ axes
    if tilt == "upright":
        xyz = xyz[:, [0, 2, 1]]
    elif tilt != "flat":
        raise ValueError(f"Unknown tilt {tilt!r}; use 'flat' or 'upright'.")
    xyz = xyz @ _rotation(np.array([0.0, 0.0, 1.0]), math.radians(rotation_deg)).T
    xyz[:, :2] -= xyz[:, :2].mean(axis=0)
    xyz[:, 2] -= xyz[:, 2].min()
    return xyz


def surface_sites(slab: Structure, symm_reduce: float = 0.01) -> list[tuple[str, np.ndarray]]:
    """Return symmetry-distinct (label, cartesian position at the top-layer height)."""
    asf = AdsorbateSiteFinder(slab, height=0.9)
    found = asf.find_adsorption_sites(
        distance=0.0, positions=("ontop", "bridge", "hollow"), symm_reduce=symm_reduce
    )
    top_z = max(site.coords[2] for site in slab)
    top = [s for s in slab if s.coords[2] > top_z - 0.5]
    # the top layer and its in-plane periodic images (a site near the cell edge, or a
    # small cell, has its neighbours across the boundary)
    a, b = slab.lattice.matrix[0], slab.lattice.matrix[1]
    surface = [
        (s.specie.symbol, s.coords + i * a + j * b)
        for s in top
        for i in (-1, 0, 1)
        for j in (-1, 0, 1)
    ]
    labelled: list[tuple[str, np.ndarray]] = []
    seen: set[str] = set()
    for kind in ("ontop", "bridge", "hollow"):
        for pos in found.get(kind, []):
            pos = np.array(pos, dtype=float)
            pos[2] = top_z
            label = _classify_site(pos, surface)
            base, n = label, 1
            while label in seen:  # inequivalent sites of the same kind
                n += 1
                label = f"{base}{n}"
            seen.add(label)
            labelled.append((label, pos))
    return labelled


def _classify_site(pos: np.ndarray, surface: list, tol: float = 0.15) -> str:
    """Name a site by its in-plane distances to the nearest surface atoms ``(symbol, xyz)``.

    AdsorbateSiteFinder's own categories follow its Delaunay triangulation, which on a
    square lattice calls the 4-fold hollow a (diagonal) bridge; geometry decides here.
    """
    d = np.array([np.linalg.norm((xyz - pos)[:2]) for _, xyz in surface])
    order = np.argsort(d)
    d_sorted = d[order]
    if d_sorted[0] < 0.5:
        return f"top_{surface[int(order[0])][0]}"
    if len(d_sorted) >= 4 and d_sorted[3] - d_sorted[0] < tol:
        return "hollow"
    pair = sorted(surface[int(i)][0] for i in order[:2])
    if len(d_sorted) >= 2 and d_sorted[1] - d_sorted[0] < tol:
        return "bridge_" + "-".join(pair)
    return "site"


def adsorbate_placements(
    slab: Structure,
    molecule: Molecule,
    adsorbate: str,
    height: float = 2.2,
    orientations: tuple[tuple[str, str, float], ...] = DEFAULT_ORIENTATIONS,
    min_distance: float = 1.8,
    deduplicate: bool = True,
    slab_name: str = "LiI_100",
) -> list[Placement]:
    """Enumerate adsorbate configurations on the slab.

    Parameters
    ----------
    slab
        The clean slab (selective dynamics are kept for slab atoms; adsorbate atoms
        are free).
    molecule
        The adsorbate.
    adsorbate
        Its name (``Li2S``, ``Li2S2``, ``S8``).
    height
        Height of the lowest adsorbate atom above the top surface layer, Å.
    orientations
        (label, tilt, rotation about the normal) tuples.
    min_distance
        Placements with an adsorbate atom closer than this to a surface atom are dropped.
    deduplicate
        Remove placements that StructureMatcher finds equivalent.
    slab_name
        Name of the surface (manifest names), e.g. ``LiBr_100``.

    Returns
    -------
    list of Placement
        In a stable order: site order (top, bridge, hollow), then orientation order.

    """
    n_slab = len(slab)
    sd = slab.site_properties.get("selective_dynamics")
    placements: list[Placement] = []
    for site_label, pos in surface_sites(slab):
        for o_label, tilt, rot in orientations:
            xyz = oriented_coords(molecule, tilt, rot) + pos + np.array([0, 0, height])
            s = slab.copy()
            props = {"selective_dynamics": [True, True, True]} if sd is not None else None
            for sp, c in zip(molecule.species, xyz, strict=True):
                s.append(sp, c, coords_are_cartesian=True, properties=props)
            if not check_adslab(s, n_slab, min_distance).ok:
                continue
            placements.append(
                Placement(
                    config_id=f"{site_label}-{o_label}",
                    adsorbate=adsorbate,
                    site=site_label,
                    orientation=o_label,
                    site_coords=tuple(float(x) for x in pos),
                    structure=s,
                    slab_name=slab_name,
                )
            )
    if deduplicate and len(placements) > 1:
        placements = _deduplicate(placements, n_slab)
    return placements


def _deduplicate(placements: list[Placement], n_slab: int) -> list[Placement]:
    """Drop placements equivalent to an earlier one (keeps the first, stable order).

    Matching the whole slab is slow and dominated by the (identical) substrate, so the
    adsorbate plus the surface atoms within 6 Å of it are compared.
    """
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5, primitive_cell=False, scale=False)
    kept: list[Placement] = []
    kept_local: list[Structure] = []
    for p in placements:
        local = _local_environment(p.structure, n_slab)
        if not any(matcher.fit(local, other) for other in kept_local):
            kept.append(p)
            kept_local.append(local)
    return kept


def _local_environment(structure: Structure, n_slab: int, radius: float = 6.0) -> Structure:
    ads = list(range(n_slab, len(structure)))
    keep = set(ads)
    for i in ads:
        for nb in structure.get_neighbors(structure[i], radius):
            if nb.index < n_slab:
                keep.add(nb.index)
    sub = Structure.from_sites([structure[i] for i in sorted(keep)])
    sub.remove_site_property(
        "selective_dynamics"
    ) if "selective_dynamics" in sub.site_properties else None
    return sub


def _top_layer(slab: Structure, n_slab: int, tol: float = 0.5) -> list[int]:
    z = slab.cart_coords[:n_slab, 2]
    return [i for i in range(n_slab) if z[i] > z.max() - tol]


def carry_adsorbate(
    adslab: Structure,
    n_slab: int,
    target_slab: Structure,
    radius: float = 6.0,
    reference: Structure | None = None,
    surface_radius: float | None = None,
) -> Structure:
    """Move an adsorbate (with its geometry) from one slab of a surface onto another.

    The screen relaxes placements on a small slab; its finalists go on to the study's
    slab. The adsorbate keeps its shape and its position relative to the surface: it is
    translated by the vector that maps the top-layer atoms within ``radius`` Å (in plane)
    of it onto the target's top layer best (same species, least total misfit), which on
    a crystal surface is a lattice translation between equivalent sites. The target's
    atoms are the target slab's, in its order, and the adsorbate is appended free.
    ``reference``: the clean slab the adsorbate slab was built on (same atom order); the
    surfaces are matched on it, since a relaxation under the adsorbate moves the
    adsorbate slab's own surface atoms. ``surface_radius`` (with ``reference``): the
    target's free atoms within that many Å of the adsorbate also take the displacements
    their twins on the screening slab made under it, so the relaxation on the target
    starts from the locally relaxed surface.

    Raises
    ------
    ValueError
        If the surfaces do not match (no target top-layer atom of the anchor's species,
        or a misfit above 0.5 Å per atom: different facets or terminations).

    """
    from lis_dft.structures.reduced import _unwrapped_adsorbate

    lat = adslab.lattice
    ads = lat.get_cartesian_coords(_unwrapped_adsorbate(adslab, n_slab))
    centre = ads.mean(axis=0)
    surface = reference if reference is not None else Structure.from_sites(adslab.sites[:n_slab])
    top = _top_layer(surface, n_slab)
    tgt_top = _top_layer(target_slab, len(target_slab))

    def inplane(struct: Structure, i: int, point: np.ndarray) -> np.ndarray:
        """Vector from ``point`` to the image of site ``i`` nearest it in plane."""
        d = struct.lattice.get_fractional_coords(struct[i].coords - point)
        d[:2] -= np.round(d[:2])
        return struct.lattice.get_cartesian_coords(d)

    near = [(i, inplane(surface, i, centre)) for i in top]
    near = [(i, v) for i, v in near if np.linalg.norm(v[:2]) < radius]
    anchor, v_anchor = min(near, key=lambda iv: np.linalg.norm(iv[1][:2]))
    species = surface[anchor].specie
    best = None
    for j in tgt_top:
        if target_slab[j].specie != species:
            continue
        # the anchor's image nearest the adsorbate lands on target atom j
        shift = target_slab[j].coords - (centre + v_anchor)
        misfit = 0.0
        for i, v in near:
            point = centre + v + shift
            k = min(tgt_top, key=lambda k: np.linalg.norm(inplane(target_slab, k, point)))
            misfit += np.linalg.norm(inplane(target_slab, k, point)) + (
                10.0 if target_slab[k].specie != surface[i].specie else 0.0
            )
        if best is None or misfit < best[0]:
            best = (misfit, shift)
    if best is None or best[0] / len(near) > 0.5:
        raise ValueError(
            f"The surfaces do not match: no top-layer {species} of the target lies under the "
            f"adsorbate the way it does on the screening slab (misfit "
            f"{'n/a' if best is None else f'{best[0] / len(near):.2f} Å per atom'})."
        )
    shift = best[1]
    out = target_slab.copy()
    sd = target_slab.site_properties.get("selective_dynamics")
    if surface_radius and reference is not None:
        _carry_surface(adslab, n_slab, surface, out, ads + shift, shift, surface_radius)
    for site, xyz in zip(adslab.sites[n_slab:], ads + shift, strict=True):
        props = {"selective_dynamics": [True, True, True]} if sd is not None else None
        out.append(site.specie, xyz, coords_are_cartesian=True, properties=props)
    return out


def _carry_surface(
    adslab: Structure,
    n_slab: int,
    reference: Structure,
    target: Structure,
    ads_xyz: np.ndarray,
    shift: np.ndarray,
    radius: float,
    tol: float = 0.3,
) -> None:
    """Move ``target``'s free atoms near the adsorbate as the adsorbate moved their twins.

    Every free target atom within ``radius`` Å of the carried adsorbate whose twin (the
    reference atom at its position minus ``shift``, same species, within ``tol`` Å) exists
    gets the twin's displacement from the clean reference to the adsorbate slab.
    """
    sd = target.site_properties.get("selective_dynamics")
    d = adslab.frac_coords[:n_slab] - reference.frac_coords
    d -= np.round(d)
    moves = reference.lattice.get_cartesian_coords(d)
    ref_lat = reference.lattice
    centre_t = ads_xyz.mean(axis=0)
    for j in range(len(target)):
        if sd is not None and not any(sd[j]):
            continue
        p = target[j].coords
        gap = target.lattice.get_fractional_coords(ads_xyz - p)
        gap[:, :2] -= np.round(gap[:, :2])
        if np.linalg.norm(target.lattice.get_cartesian_coords(gap), axis=1).min() > radius:
            continue
        q = ref_lat.get_fractional_coords(p - shift)
        diff = reference.frac_coords - q
        diff[:, :2] -= np.round(diff[:, :2])
        dist = np.linalg.norm(ref_lat.get_cartesian_coords(diff), axis=1)
        i = int(np.argmin(dist))
        if dist[i] >= tol or reference[i].specie != target[j].specie:
            continue
        # the twin as the small slab's adsorbate sees it (its nearest image) must be where
        # this atom is relative to the carried adsorbate: else the twin's move was made by
        # another image of the adsorbate (the small cell repeats every few Å)
        v_t = target.lattice.get_fractional_coords(p - centre_t)
        v_t[:2] -= np.round(v_t[:2])
        v_s = ref_lat.get_fractional_coords(reference[i].coords - (centre_t - shift))
        v_s[:2] -= np.round(v_s[:2])
        gap_ts = target.lattice.get_cartesian_coords(v_t) - ref_lat.get_cartesian_coords(v_s)
        if np.linalg.norm(gap_ts) < tol:
            target.translate_sites([j], moves[i], frac_coords=False, to_unit_cell=False)
