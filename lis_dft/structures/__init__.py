"""Structure builders for the study: bulk phases, molecules, the LiI(100) slab, adsorbates.

Every builder returns pymatgen objects built from the crystallographic data in
``shared/REFERENCE.md``; :mod:`lis_dft.structures.validation` checks them.
"""

from __future__ import annotations

from lis_dft.structures.bulk import (
    alpha_sulfur,
    build_bulk,
    li2s2_hexagonal,
    lithium_bcc,
    lithium_iodide,
    lithium_sulfide,
)
from lis_dft.structures.molecules import (
    boxed,
    build_molecule,
    li2s2_molecule,
    li2s_molecule,
    s8_crown,
)
from lis_dft.structures.slab import lii_100_slab

__all__ = [
    "alpha_sulfur",
    "boxed",
    "build_bulk",
    "build_molecule",
    "li2s2_hexagonal",
    "li2s2_molecule",
    "li2s_molecule",
    "lii_100_slab",
    "lithium_bcc",
    "lithium_iodide",
    "lithium_sulfide",
    "s8_crown",
]
