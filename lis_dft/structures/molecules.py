"""Molecules of the study: the S8 crown and gas-phase Li2S and Li2S2.

The S8 crown (D4d) is built from its internal coordinates: bond length d and bond
angle theta fix the ring radius r and the half-height h of the two staggered squares,

    2 r^2 = 2 d^2 (1 - cos theta)            (1-3 distance across 90 degrees)
    d^2   = 2 r^2 (1 - cos 45) + (2 h)^2     (bond between the two squares),

and the dihedral (about 99 degrees for d = 2.05 Å, theta = 108 degrees) follows.
"""

from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Molecule, Structure


def s8_crown(bond: float = 2.05, angle_deg: float = 108.0) -> Molecule:
    """Return the S8 crown (D4d) with the given S-S bond and S-S-S angle."""
    theta = math.radians(angle_deg)
    r = math.sqrt(bond**2 * (1 - math.cos(theta)))
    two_h_sq = bond**2 - 2 * r**2 * (1 - math.cos(math.pi / 4))
    if two_h_sq <= 0:
        raise ValueError(f"No S8 crown exists for bond={bond} Å, angle={angle_deg} deg.")
    h = math.sqrt(two_h_sq) / 2
    coords = [
        [r * math.cos(k * math.pi / 4), r * math.sin(k * math.pi / 4), h if k % 2 == 0 else -h]
        for k in range(8)
    ]
    return Molecule(["S"] * 8, coords)


def li2s_molecule(li_s: float = 2.09, angle_deg: float = 112.0) -> Molecule:
    """Return a bent (C2v) gas-phase Li2S molecule as a starting geometry."""
    half = math.radians(angle_deg) / 2
    coords = [
        [0, 0, 0],
        [li_s * math.sin(half), li_s * math.cos(half), 0],
        [-li_s * math.sin(half), li_s * math.cos(half), 0],
    ]
    return Molecule(["S", "Li", "Li"], coords)


def li2s2_molecule(s_s: float = 2.15, li_s: float = 2.30) -> Molecule:
    """Return a planar rhombic (D2h) gas-phase Li2S2: Li bridging the S-S bond."""
    y = math.sqrt(li_s**2 - (s_s / 2) ** 2)
    coords = [[-s_s / 2, 0, 0], [s_s / 2, 0, 0], [0, y, 0], [0, -y, 0]]
    return Molecule(["S", "S", "Li", "Li"], coords)


def crown_ring(members: int, bond: float = 2.07, angle_deg: float = 108.0) -> np.ndarray:
    """Cartesian positions of a crown ring of ``members`` (even) atoms, staggered up/down.

    Neighbours at ``bond``, every angle ``angle_deg``: the 1-3 distance
    2 d sin(theta/2) fixes the radius, the bond the half-height (S8 is members = 8).
    """
    if members % 2 or members < 4:
        raise ValueError(f"A crown ring needs an even number >= 4 of members, got {members}.")
    step = 2 * math.pi / members
    r = bond * math.sin(math.radians(angle_deg) / 2) / math.sin(step)
    two_h_sq = bond**2 - (2 * r * math.sin(step / 2)) ** 2
    if two_h_sq <= 0:
        raise ValueError(f"No {members}-membered crown with bond {bond} Å, angle {angle_deg} deg.")
    h = math.sqrt(two_h_sq) / 2
    return np.array(
        [
            [r * math.cos(k * step), r * math.sin(k * step), h if k % 2 == 0 else -h]
            for k in range(members)
        ]
    )


def lithium_polysulfide(n: int, s_s: float = 2.07, li_out: float = 0.6) -> Molecule:
    """Return Li2Sn (n >= 3): an open S_n chain whose ends are bridged by two Li (ring-like).

    A starting geometry with the topology DFT reports for Li2S4-Li2S8 (both Li bound to
    the chain ends, closing a ring): an (n + 2)-membered crown of S-S bonds and S8
    angles (n + 3 for odd n) whose last two members are Li, moved ``li_out`` Å
    outwards (Li-S about 2.3-2.5 Å). ``check_molecule`` requires the S_n chain to stay
    one open, unbranched chain after relaxation.
    """
    if n < 3:
        raise ValueError(
            f"lithium_polysulfide needs n >= 3 (Li2S and Li2S2 have their own), got {n}."
        )
    members = n + 2 + (n % 2)
    ring = crown_ring(members, s_s)
    li = []
    for k in (members - 2, members - 1) if n % 2 == 0 else (members - 2, members):
        p = ring[k % members]
        radial = np.array([p[0], p[1], 0.0]) / np.hypot(p[0], p[1])
        li.append(p + li_out * radial)
    return Molecule(["S"] * n + ["Li", "Li"], [*ring[:n], *li])


MOLECULE_BUILDERS = {"S8": s8_crown, "Li2S": li2s_molecule, "Li2S2": li2s2_molecule}


def build_molecule(name: str) -> Molecule:
    """Build a molecule by name (``S8``, ``Li2S``, ``Li2S2``)."""
    if name not in MOLECULE_BUILDERS:
        raise KeyError(f"Unknown molecule {name!r}; choose from {sorted(MOLECULE_BUILDERS)}.")
    return MOLECULE_BUILDERS[name]()


def boxed(molecule: Molecule, vacuum: float = 15.0) -> Structure:
    """Put a molecule in an orthorhombic box with ``vacuum`` Å between periodic images."""
    extent = np.ptp(molecule.cart_coords, axis=0)
    a, b, c = (float(e + vacuum) for e in extent)
    return molecule.get_boxed_structure(a, b, c)


def diatomic(element: str, bond: float) -> Molecule:
    """Return a homonuclear diatomic molecule (a halogen reference X2)."""
    return Molecule([element, element], [[0, 0, 0], [bond, 0, 0]])


def i2_molecule(bond: float = 2.67) -> Molecule:
    """Return the I2 molecule (the iodine reference for the LiI formation energy)."""
    return diatomic("I", bond)


MOLECULE_BUILDERS["I2"] = i2_molecule
