"""GPAW as lis-dft's local DFT engine: PBE (+ D3 through :mod:`.calculators`), LCAO or PW.

Two modes, one Hamiltonian (PBE PAW setups from ``gpaw-data``):

- ``lcao`` (default, fast): double-zeta polarised (``dzp``) atomic-orbital basis. An
  incomplete local basis lets a molecule near a surface borrow the surface's basis
  functions: the basis-set superposition error (BSSE) overbinds adsorbates (measured
  for S8 on LiI(100): 0.4-0.6 eV). :mod:`lis_dft.dft_workflows.verify` removes it with
  the Boys-Bernardi counterpoise correction, which evaluates each fragment in the full
  basis by turning the partner's atoms into *ghosts* (basis functions, no nucleus, no
  electrons: GPAW's ``setups={index: "ghost"}``).
- ``pw`` (plane waves, ``ecut`` eV): no BSSE, several times slower.

Every setting is a field of :class:`GpawSettings`, recorded with each result.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from lis_dft.errors import ParameterError

GPAW_MODES = ("lcao", "pw")


@dataclass(frozen=True)
class GpawSettings:
    """The GPAW settings of a single point.

    Parameters
    ----------
    mode
        ``lcao`` (atomic-orbital basis ``basis``) or ``pw`` (plane waves up to ``ecut``).
    basis
        LCAO basis set name (``dzp``, ``szp``, ``sz``); ignored in PW mode.
    ecut
        Plane-wave cutoff, eV (PW mode).
    h
        Real-space grid spacing, Å (LCAO mode: density, potential and XC grids).
    kpt_density
        Monkhorst-Pack k-points per Å⁻¹ (ASE's ``density``); along a vacuum direction
        or a molecule box this gives one k-point. Ignored when ``kpts`` is set.
    kpts
        Explicit Monkhorst-Pack mesh, overrides ``kpt_density``.
    spinpol
        ``None``: spin-polarised only for a molecule-like calculation (one k-point) with
        an odd number of electrons, i.e. a radical; metals (bcc Li) and the closed-shell
        salts, slabs and molecules of this study are not. ``True``/``False`` forces it.
    smearing
        Fermi-Dirac width, eV.
    convergence_energy
        SCF convergence of the energy, eV per valence electron.
    convergence_forces
        SCF convergence of the forces, eV/Å; ``None`` (default) leaves them unchecked,
        as GPAW does, which is right for the energies of single points. Relaxations need
        it: with the energy criterion alone, an ionic step that reuses the previous
        density converges in one or two SCF iterations and its forces drift (measured
        on Li2S2/LiI(100), ``benchmarks/dft_hours``: after 11 such steps the S-S force
        was 0.2 eV/Å off the value of an SCF started afresh at the same geometry). A
        single point started afresh (``verify``, the reference set) is fine: its
        forces agree with force-converged ones within 0.0012 eV/Å.
    xc
        Exchange-correlation functional (PBE: the paper's Hamiltonian).

    """

    mode: str = "lcao"
    basis: str = "dzp"
    ecut: float = 500.0
    h: float = 0.2
    kpt_density: float = 2.5
    kpts: tuple[int, int, int] | None = None
    spinpol: bool | None = None
    smearing: float = 0.05
    convergence_energy: float = 1e-5
    convergence_forces: float | None = None
    xc: str = "PBE"

    def __post_init__(self) -> None:
        if self.mode not in GPAW_MODES:
            raise ParameterError(f"GPAW mode {self.mode!r} unknown; use 'lcao' or 'pw'.")
        if self.mode == "pw" and self.ecut < 200:
            raise ParameterError(f"GPAW plane-wave cutoff {self.ecut} eV is too low (>= 200).")
        if self.h <= 0 or self.kpt_density <= 0 or self.smearing < 0:
            raise ParameterError("GPAW h, kpt_density must be positive and smearing >= 0.")
        if self.kpts is not None:
            object.__setattr__(self, "kpts", tuple(int(k) for k in self.kpts))
        if self.convergence_forces is not None and self.convergence_forces <= 0:
            raise ParameterError(
                f"GPAW convergence_forces must be positive (eV/Å), got {self.convergence_forces}."
            )

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> GpawSettings:
        """Build from calculator keyword arguments, refusing unknown keys with a clear error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ParameterError(
                f"Unknown GPAW option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}."
            )
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (provenance and job identities)."""
        d = asdict(self)
        d["kpts"] = list(self.kpts) if self.kpts else None
        if d["convergence_forces"] is None:  # unset: the identities of earlier jobs hold
            del d["convergence_forces"]
        return d

    def describe(self) -> str:
        """One-line human description, e.g. ``PBE, LCAO dzp, h=0.2 Å, k 2.5/Å⁻¹``."""
        basis = f"LCAO {self.basis}" if self.mode == "lcao" else f"PW {self.ecut:.0f} eV"
        k = (
            f"k {'x'.join(map(str, self.kpts))}"
            if self.kpts
            else f"k density {self.kpt_density}/Å⁻¹"
        )
        forces = (
            f", SCF forces to {self.convergence_forces} eV/Å" if self.convergence_forces else ""
        )
        return f"{self.xc}, {basis}, h={self.h} Å, {k}, Fermi-Dirac {self.smearing} eV{forces}"


def reduced_cell(atoms: Any) -> Any:
    """A copy of ``atoms`` in its Minkowski-reduced cell (same lattice, same Cartesian frame).

    GPAW's real-space grids go wrong in very skewed cells (alpha-S's 32-atom primitive
    cell has a 35° angle: GPAW warns, and energies of strained copies came out 9 eV
    apart). The reduced cell describes the same crystal; positions stay where they are
    (only wrapped), so energies and forces are unchanged in meaning and frame.
    """
    from ase.geometry import minkowski_reduce

    out = atoms.copy()
    if all(out.pbc):
        rcell, _ = minkowski_reduce(out.cell, pbc=out.pbc)
        out.set_cell(rcell, scale_atoms=False)
        out.wrap()
    return out


def gpaw_mode_kwargs(mode: str, ecut: float = 500.0) -> dict[str, Any]:
    """Calculator keyword arguments for a CLI ``--mode`` (LCAO dzp, or plane waves at ``ecut``)."""
    GpawSettings(mode=mode, ecut=ecut)  # validates, with a clear error
    return {"mode": "lcao", "basis": "dzp"} if mode == "lcao" else {"mode": "pw", "ecut": ecut}


def kpoint_mesh(
    cell_lengths: tuple[float, float, float], pbc: tuple[bool, bool, bool], density: float
) -> tuple[int, int, int]:
    """Monkhorst-Pack mesh for a k-point ``density`` (per Å⁻¹), one point along non-periodic axes.

    Uses the same rule as ASE's ``kpts={"density": d}`` for orthogonal cells:
    ``n = ceil(2 pi d / L)``.
    """
    return tuple(
        max(1, math.ceil(2 * math.pi * density / length)) if periodic else 1
        for length, periodic in zip(cell_lengths, pbc, strict=True)
    )  # type: ignore[return-value]


def valence_electrons(symbols: list[str]) -> int:
    """Valence electrons of the default GPAW PBE setups (Li 1, S 6, I 7, ...)."""
    from gpaw.setup_data import SetupData

    cache: dict[str, int] = {}
    for s in set(symbols):
        cache[s] = round(SetupData(s, "PBE", "paw").Nv)
    return sum(cache[s] for s in symbols)


def gpaw_calculator(
    settings: GpawSettings,
    atoms: Any | None = None,
    ghosts: list[int] | None = None,
    txt: str | None = "gpaw.txt",
) -> Any:
    """Return a GPAW calculator for ``settings``.

    Parameters
    ----------
    settings
        The GPAW settings.
    atoms
        The structure it will be used on: needed for ``spinpol=None`` (odd electron
        count) and to fix the k-point mesh from ``kpt_density``; without it GPAW's
        own density rule is used.
    ghosts
        Atom indices to turn into ghost atoms (basis functions only), for the
        counterpoise correction. Only meaningful in LCAO mode.
    txt
        GPAW's log file (``None`` for silence).

    """
    from gpaw import GPAW, PW, FermiDirac

    if ghosts and settings.mode != "lcao":
        raise ParameterError("Ghost atoms (counterpoise) only make sense in GPAW's LCAO mode.")
    kw: dict[str, Any] = {
        "xc": settings.xc,
        "occupations": FermiDirac(settings.smearing),
        "convergence": {"energy": settings.convergence_energy}
        | ({"forces": settings.convergence_forces} if settings.convergence_forces else {}),
        "txt": txt,
    }
    if settings.mode == "lcao":
        kw.update(mode="lcao", basis=settings.basis, h=settings.h)
    else:
        kw.update(mode=PW(settings.ecut))
    if settings.kpts:
        kw["kpts"] = settings.kpts
    elif atoms is not None:
        lengths = tuple(float(x) for x in atoms.cell.lengths())
        kw["kpts"] = kpoint_mesh(lengths, tuple(bool(p) for p in atoms.pbc), settings.kpt_density)
    else:
        kw["kpts"] = {"density": settings.kpt_density, "gamma": True}
    if isinstance(kw["kpts"], tuple) and 1 in kw["kpts"]:
        # slabs and molecules: symmetry saves little there, and GPAW's analysis fails on
        # nearly symmetric relaxed slabs (SymmetryAnalysisBug)
        kw["symmetry"] = "off"
    spin = settings.spinpol
    if spin is None and atoms is not None:
        gamma_only = isinstance(kw["kpts"], tuple) and kw["kpts"] == (1, 1, 1)
        symbols = [
            s for i, s in enumerate(atoms.get_chemical_symbols()) if i not in set(ghosts or ())
        ]
        spin = gamma_only and valence_electrons(symbols) % 2 == 1
    kw["spinpol"] = bool(spin)
    if ghosts:
        kw["setups"] = {int(i): "ghost" for i in ghosts}
    from lis_dft.dft_workflows.threads import set_blas_threads

    set_blas_threads()  # one BLAS thread: as fast alone, twice the throughput with two workers
    return GPAW(**kw)
