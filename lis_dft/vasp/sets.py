"""The paper's VASP settings as atomate2 input generators (no hand-written INCARs).

Common to all calculations: PBE (``GGA = PE``), Grimme D3 (``IVDW = 11`` zero damping by
default, 12 = Becke-Johnson), ``ENCUT = 600``, ``EDIFF = 1E-4``, ``EDIFFG = -0.01``
(forces below 0.01 eV/Å), Gaussian smearing 0.05 eV, POTCARs Li_sv, S, I.

=========  ======  ========================================  =================================
kind       ISIF    k-points                                  extras
=========  ======  ========================================  =================================
bulk       3       MP, same k-spacing as the slab (below)     -
molecule   2       Gamma only                                 ISPIN 2 only for an odd electron
                                                              count (S8, Li2S, Li2S2, I2 are
                                                              closed-shell singlets)
slab       2       3 x 3 x 1 Monkhorst-Pack                   selective dynamics from POSCAR
adslab     2       3 x 3 x 1 Monkhorst-Pack                   + dipole correction (LDIPOL,
                                                              IDIPOL = 3) at the slab centre
=========  ======  ========================================  =================================

Bulk k-point density: 3 k-points along the 18 Å in-plane slab axes is a length density
of 3 x 18 = 54 Å; bulk cells get n_i = max(1, round(54 / |a_i|)) Monkhorst-Pack points,
so every calculation samples reciprocal space about equally (documented choice; the
paper gives only the slab mesh).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.vasp import Kpoints

from lis_dft.errors import ParameterError

POTCARS = {"Li": "Li_sv", "S": "S", "I": "I"}


@dataclass
class VaspSettings:
    """The paper's protocol; every field can be overridden (and the override is recorded)."""

    ivdw: int = 11
    encut: float = 600.0
    ediff: float = 1e-4
    ediffg: float = -0.01
    nsw: int = 200
    slab_kpoints: tuple[int, int, int] = (3, 3, 1)
    bulk_length_density: float = 54.0
    potcars: dict[str, str] = field(default_factory=lambda: dict(POTCARS))
    incar_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ivdw not in (0, 11, 12):
            raise ParameterError(
                f"IVDW must be 11 (D3 zero damping), 12 (D3-BJ) or 0 (off), got {self.ivdw}."
            )
        if self.encut <= 0 or self.ediff <= 0 or self.nsw < 0:
            raise ParameterError("ENCUT and EDIFF must be positive and NSW non-negative.")
        self.slab_kpoints = tuple(int(k) for k in self.slab_kpoints)
        if len(self.slab_kpoints) != 3 or min(self.slab_kpoints) < 1:
            raise ParameterError(
                f"slab_kpoints must be three positive integers, got {self.slab_kpoints}."
            )

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (recorded in campaign.json)."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> VaspSettings:
        """Build from a config mapping; unknown keys and wrong types are an error."""
        from lis_dft.settings_io import settings_from_mapping

        return settings_from_mapping(cls, data, source="the VASP config", what="VASP settings")


def parse_incar_overrides(items: list[str] | None) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings (``--incar ENCUT=520``) into typed INCAR values."""
    from pymatgen.io.vasp import Incar

    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ParameterError(f"--incar expects KEY=VALUE (e.g. ENCUT=520), got {item!r}.")
        key, value = (x.strip() for x in item.split("=", 1))
        if not key.isalnum():
            raise ParameterError(f"Invalid INCAR tag {key!r}.")
        out[key.upper()] = Incar.proc_val(key.upper(), value)
    return out


def bulk_kpoints(structure: Structure, length_density: float) -> Kpoints:
    """Monkhorst-Pack mesh with n_i = max(1, round(L / |a_i|))."""
    mesh = tuple(max(1, round(length_density / a)) for a in structure.lattice.abc)
    return Kpoints.monkhorst_automatic(mesh)


def _odd_electrons(structure: Structure) -> bool:
    return round(sum(site.specie.Z for site in structure)) % 2 == 1


def slab_dipole_centre(structure: Structure, n_slab: int | None = None) -> list[float]:
    """Fractional centre of the slab atoms (where VASP's dipole correction is centred)."""
    atoms = structure.frac_coords[: n_slab or len(structure)]
    return [0.5, 0.5, float(np.mean(atoms[:, 2]))]


def incar_settings(
    kind: str, structure: Structure, settings: VaspSettings, n_slab: int | None = None
) -> dict[str, Any]:
    """INCAR tags for one calculation (before the user's overrides)."""
    if kind not in ("bulk", "molecule", "slab", "adslab"):
        raise ParameterError(f"Unknown calculation kind {kind!r}.")
    incar: dict[str, Any] = {
        "GGA": "PE",
        "IVDW": settings.ivdw,
        "ENCUT": settings.encut,
        "EDIFF": settings.ediff,
        "EDIFFG": settings.ediffg,
        "IBRION": 2,
        "NSW": settings.nsw,
        "ISIF": 3 if kind == "bulk" else 2,
        "ISMEAR": 0,
        "SIGMA": 0.05,
        "ISPIN": 2 if (kind == "molecule" and _odd_electrons(structure)) else 1,
        "MAGMOM": None,
        "LCHARG": False,
        "LWAVE": False,
        "LVTOT": False,
        "LAECHG": False,
        "LORBIT": None,
        "LREAL": "Auto" if len(structure) > 40 else False,
    }
    if settings.ivdw == 0:
        incar["IVDW"] = None
    if kind == "adslab":
        incar.update({"LDIPOL": True, "IDIPOL": 3, "DIPOL": slab_dipole_centre(structure, n_slab)})
    incar.update(settings.incar_overrides)
    return incar


def kpoints_for(kind: str, structure: Structure, settings: VaspSettings) -> Kpoints:
    """K-point mesh for one calculation kind."""
    if kind == "molecule":
        return Kpoints.gamma_automatic((1, 1, 1))
    if kind in ("slab", "adslab"):
        return Kpoints.monkhorst_automatic(settings.slab_kpoints)
    return bulk_kpoints(structure, settings.bulk_length_density)


def input_generator(
    kind: str, structure: Structure, settings: VaspSettings, n_slab: int | None = None
):
    """Return atomate2's RelaxSetGenerator configured for one calculation."""
    from atomate2.vasp.sets.core import RelaxSetGenerator

    return RelaxSetGenerator(
        user_incar_settings=incar_settings(kind, structure, settings, n_slab),
        user_kpoints_settings=kpoints_for(kind, structure, settings),
        user_potcar_settings=dict(settings.potcars),
        auto_ismear=False,
        auto_ispin=False,
    )


def write_vasp_inputs(
    directory,
    kind: str,
    structure: Structure,
    settings: VaspSettings,
    n_slab: int | None = None,
    real_potcars: bool = False,
) -> dict[str, Any]:
    """Write INCAR, KPOINTS, POSCAR and POTCAR.spec (and POTCAR if configured) to ``directory``.

    Real POTCARs are written only when ``real_potcars`` is set and pymatgen's
    ``PMG_VASP_PSP_DIR`` is configured; otherwise POTCAR.spec records the choice.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vis = input_generator(kind, structure, settings, n_slab).get_input_set(
            structure, potcar_spec=not real_potcars
        )
        vis.write_input(str(directory))
    incar = dict(vis["INCAR"])
    return {k: incar[k] for k in sorted(incar)}


def write_neb_inputs(
    directory,
    images: list[Structure],
    kind: str,
    settings: VaspSettings,
    n_slab: int | None = None,
    vtst: bool = True,
    real_potcars: bool = False,
) -> dict[str, Any]:
    """A VASP NEB folder: INCAR, KPOINTS, POTCAR(.spec) and ``00/ ... NN/POSCAR``.

    atomate2's :class:`~atomate2.vasp.sets.core.NebSetGenerator` on top of the paper's
    settings for ``kind`` (``molecule`` in vacuum, ``adslab`` on the surface), the way
    atomate2's ``NebFromImagesMaker`` writes it (inputs of the first image at the top,
    one POSCAR per image). ``IMAGES`` = intermediate images, ``SPRING = -5``.

    ``vtst`` (default): climbing image through the VTST tools (``LCLIMB``, ``IOPT = 1``,
    ``IBRION = 3``, ``POTIM = 0``); these tags need a VASP built with VTST. Without it
    (``vtst=False``) the plain NEB of VASP itself runs (``IBRION = 2``, no climbing image):
    its highest image is not a converged saddle, which ``lis-dft parse`` then says.
    """
    import warnings
    from pathlib import Path

    from atomate2.vasp.sets.core import NebSetGenerator

    if len(images) < 3:
        raise ParameterError(
            f"An NEB needs two end points and at least one image, got {len(images)}."
        )
    directory = Path(directory)
    incar = incar_settings(kind, images[0], settings, n_slab)
    for tag in ("NSW", "IBRION", "EDIFF", "ISIF"):  # the NEB generator's own (IBRION 3, ...)
        incar.pop(tag, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gen = NebSetGenerator(
            num_images=len(images) - 2,
            climbing_image=vtst,
            user_incar_settings={**incar, "EDIFFG": -0.05},
            user_kpoints_settings=kpoints_for(kind, images[0], settings),
            user_potcar_settings=dict(settings.potcars),
            auto_ismear=False,
            auto_ispin=False,
        )
        vis = gen.get_input_set(images[0], potcar_spec=not real_potcars)
        vis.write_input(str(directory))
    (directory / "POSCAR").unlink(missing_ok=True)  # VASP reads the images' POSCARs
    for i, image in enumerate(images):
        (directory / f"{i:02d}").mkdir(parents=True, exist_ok=True)
        image.to(filename=str(directory / f"{i:02d}" / "POSCAR"), fmt="poscar")
    out = dict(vis["INCAR"])
    return {k: out[k] for k in sorted(out)}


def potcars_configured() -> bool:
    """Whether pymatgen knows where real POTCARs are (PMG_VASP_PSP_DIR)."""
    from pymatgen.core import SETTINGS

    return bool(SETTINGS.get("PMG_VASP_PSP_DIR"))
