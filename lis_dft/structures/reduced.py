"""Carry relaxed slab geometries onto a smaller model for DFT checks.

A DFT single point on the paper's 216-atom LiI(100) slab (+ adsorbate) costs hours on a
laptop; on a 2 x 2 conventional-cell, 4-layer model (64 atoms) it costs minutes. This
module cuts that reduced model *out of a relaxed geometry*, keeping every atom where the
relaxation put it, so the DFT check judges the minimum the potential actually found:

- in plane, a window of ``lateral`` conventional cells centred on the adsorbate: every
  slab atom belongs to one site of the rocksalt (100) square net (spacing a/2), and a
  site is kept when it falls in the window, so each layer keeps exactly
  ``2 * lateral[0] * lateral[1] * 2`` atoms (Li and I alternate, the window has an even
  number of sites along each axis, so the checkerboard stays periodic);
- through the slab, the top ``layers`` atomic layers (sites and layers are assigned on
  the relaxed clean slab, whose atoms the adsorbate slab shares in the same order, so an
  atom pulled out of the surface keeps its identity and is never dropped);
- the adsorbate whole, shifted with the window;
- the cell: the in-plane vectors scaled by ``lateral / repeats``, the normal set so that
  the clean reduced slab has ``vacuum`` Å above it. Clean slab and adsorbate slabs of one
  run get the same cell.

What this approximation costs (reported by ``lis-dft verify`` for the run's own potential,
which can evaluate both models): the adsorbate meets its periodic images at 2a (12 Å)
instead of 3a, and the slab is 4 layers instead of 6, so surface relaxations that
reach deeper are cut. The energy difference between the two models with the same
potential measures it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Lattice, Structure

from lis_dft.errors import ParameterError


@dataclass(frozen=True)
class ReducedModel:
    """How to cut the reduced model.

    Parameters
    ----------
    repeats
        Conventional cells along the two in-plane vectors of the *source* slab (the
        study's ``supercell[:2]``, e.g. (3, 3)).
    lateral
        Conventional cells kept along each in-plane vector (default 2 x 2).
    layers
        Atomic layers kept, from the top (default 4).
    vacuum
        Vacuum above the clean reduced slab, Å.

    """

    repeats: tuple[int, int] = (3, 3)
    lateral: tuple[int, int] = (2, 2)
    layers: int = 4
    vacuum: float = 15.0

    def __post_init__(self) -> None:
        if any(lat > rep for lat, rep in zip(self.lateral, self.repeats, strict=True)):
            raise ParameterError(
                f"Reduced model {self.lateral} is larger than the source slab {self.repeats}."
            )
        if min(self.lateral) < 1 or self.layers < 2 or self.vacuum <= 0:
            raise ParameterError("Reduced model needs lateral >= 1, layers >= 2, vacuum > 0.")


def _sites_and_layers(
    reference: Structure, n_slab: int, repeats: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(100)-net site and layer of every slab atom, from a reference slab (same atom order).

    Sites are spaced a/2 (``2 * repeats`` per cell vector), counted from the bottom-most
    atom; layers are the atoms ranked by height in groups of one layer's worth
    (``4 * repeats[0] * repeats[1]``), which holds for any relaxation that keeps the
    clean slab's layers apart. Returns (sites, layers, origin in fractional coordinates).
    """
    frac = reference.frac_coords[:n_slab, :2]
    z = reference.cart_coords[:n_slab, 2]
    origin = frac[int(np.argmin(z))]
    per = 2 * np.asarray(repeats)
    sites = np.rint((frac - origin) * per).astype(int)
    per_layer = int(np.prod(per))
    if n_slab % per_layer:
        raise ParameterError(
            f"A slab of {n_slab} atoms is not whole layers of {per_layer} atoms: not a rocksalt "
            f"(100) slab with in-plane repeats {tuple(repeats)}."
        )
    layers = np.empty(n_slab, dtype=int)
    layers[np.argsort(z, kind="stable")] = np.arange(n_slab) // per_layer
    return sites, layers, origin


def _unwrapped_adsorbate(structure: Structure, n_slab: int) -> np.ndarray:
    """Fractional coordinates of the adsorbate made whole around its first atom."""
    frac = structure.frac_coords[n_slab:]
    if len(frac) == 0:
        return frac
    return frac - np.round(frac - frac[0])


def reduce_slab(
    structure: Structure,
    n_slab: int,
    model: ReducedModel,
    centre_frac: tuple[float, float] | None = None,
    height: float | None = None,
    reference: Structure | None = None,
) -> Structure:
    """Cut the reduced model out of a (relaxed) slab, with or without an adsorbate.

    Parameters
    ----------
    structure
        The slab (first ``n_slab`` sites) and, after them, the adsorbate atoms.
    n_slab
        Number of slab atoms.
    model
        Window, layers and vacuum.
    centre_frac
        In-plane fractional position the window is centred on; default the adsorbate's
        centre (or the origin for a clean slab).
    height
        Length of the new cell normal, Å; default: slab thickness + ``model.vacuum``.
        Pass the clean reduced slab's to give every model of a run one cell.
    reference
        The relaxed clean slab the structure was made from (same slab atoms, same
        order): sites and layers are assigned on it, so atoms the adsorbate pulled out
        of place keep their identity. Default: the structure itself.

    Returns
    -------
    Structure
        Slab atoms first (bottom to top order kept from the source), then the adsorbate.

    """
    if not 0 < n_slab <= len(structure):
        raise ParameterError(f"n_slab={n_slab} does not fit a structure of {len(structure)} sites.")
    lat = structure.lattice
    m = lat.matrix
    rep = np.asarray(model.repeats)
    sites_per_vector = 2 * rep
    grid, layer, ref = _sites_and_layers(reference or structure, n_slab, model.repeats)
    n_layers = int(layer.max()) + 1
    if n_layers < model.layers:
        raise ParameterError(
            f"The source slab has {n_layers} atomic layers; the reduced model needs {model.layers}."
        )
    top_layer = n_layers - 1
    ads_frac = _unwrapped_adsorbate(structure, n_slab)
    if centre_frac is None:
        centre = ads_frac[:, :2].mean(axis=0) if len(ads_frac) else np.zeros(2)
    else:
        centre = np.asarray(centre_frac, dtype=float)
    keep_sites = 2 * np.asarray(model.lateral)
    # first window site along each vector, so the window is centred on ``centre``
    start = np.floor((centre - ref) * sites_per_vector - keep_sites / 2 + 0.5).astype(int)
    rel = grid - start
    wrapped = np.mod(rel, sites_per_vector)
    shift_cells = (rel - wrapped) // sites_per_vector  # whole source cells to move by
    in_window = np.all(wrapped < keep_sites, axis=1) & (layer > top_layer - model.layers)
    idx = np.flatnonzero(in_window)
    expected = model.layers * int(np.prod(keep_sites))
    if len(idx) != expected:
        raise ParameterError(
            f"Reduced model has {len(idx)} slab atoms instead of {expected}: the slab is not a "
            "rocksalt (100) net with these repeats (check the study's supercell)."
        )
    frac_slab = structure.frac_coords[idx].copy()
    frac_slab[:, :2] -= shift_cells[idx]
    # move the adsorbate with the window: by the whole source cells that bring its centre in
    if len(ads_frac):
        c_rel = (
            np.floor((ads_frac[:, :2].mean(axis=0) - ref) * sites_per_vector).astype(int) - start
        )
        ads_shift = (c_rel - np.mod(c_rel, sites_per_vector)) // sites_per_vector
        ads_frac = ads_frac.copy()
        ads_frac[:, :2] -= ads_shift
    cart_slab = lat.get_cartesian_coords(frac_slab)
    cart_ads = lat.get_cartesian_coords(ads_frac) if len(ads_frac) else np.zeros((0, 3))
    # window origin in Cartesian coordinates, so the kept net starts at the new cell origin
    origin_frac = np.array([*(ref + (start - 0.5) / sites_per_vector), 0.0])
    origin = lat.get_cartesian_coords(origin_frac)
    normal = np.cross(m[0], m[1])
    normal /= np.linalg.norm(normal)
    z_slab = cart_slab @ normal
    z0 = z_slab.min()
    thickness = z_slab.max() - z0
    c_len = height if height is not None else thickness + model.vacuum
    new_a = m[0] * model.lateral[0] / rep[0]
    new_b = m[1] * model.lateral[1] / rep[1]
    new_lattice = Lattice([new_a, new_b, normal * c_len])
    # bottom of the slab a quarter of the vacuum above the cell floor
    lift = normal * ((c_len - thickness) / 4 - z0)
    species = [structure[i].species for i in idx] + [s.species for s in structure.sites[n_slab:]]
    coords = np.vstack([cart_slab, cart_ads]) - origin * np.array([1, 1, 0]) + lift
    out = Structure(new_lattice, species, coords, coords_are_cartesian=True, to_unit_cell=True)
    return out


def reduced_height(clean_slab: Structure, n_slab: int, model: ReducedModel) -> float:
    """Cell-normal length of the reduced clean slab: its thickness + ``model.vacuum``."""
    clean = reduce_slab(clean_slab, n_slab, model, reference=clean_slab)
    z = clean.cart_coords[:, 2]
    return float(z.max() - z.min() + model.vacuum)
