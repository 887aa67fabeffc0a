"""Gibbs free energies of the oxidation ladder: ΔG = ΔE + ΔZPE - TΔS, against potential.

Pure functions on vibrational energies (from :mod:`lis_dft.dft_workflows.vibrations`)
and on a run's results; ASE's thermochemistry classes do the statistical mechanics.

Treatment (also written to results.json under ``free_energy.method``):

- **Isolated species** (vacuum ladder): ideal gas at ``pressure`` (1 bar), rigid rotor
  with the point-group symmetry number, harmonic vibrations
  (:class:`ase.thermochemistry.IdealGasThermo`); G_corr = G(T, p) - E_elec.
- **Adsorbed species**: the adsorbate and the surface atoms within ``cutoff`` of it
  vibrate, the rest of the slab is frozen; the same surface atoms vibrate in the clean
  slab, and G_corr(adsorbed) = F_vib(slab + X) - F_vib(slab). Quasi-harmonic
  (Cramer-Truhlar: modes below 100 cm^-1 raised to 100 cm^-1,
  :class:`ase.thermochemistry.QuasiHarmonicThermo`), imaginary modes dropped and counted.
- **Solids** (Li metal, alpha-S, the bulk crystals): electronic energy only; their
  vibrational free energies are small and largely cancel in formation energies (stated,
  not computed).
- **Electrode potential**: computational lithium electrode. Each step removes Li+ + e-
  to Li metal, so at potential U vs Li+/Li a step's free energy per Li is
  ΔG(U) = ΔG(0) - eU, and the ladder is all downhill from U_onset = max ΔG(0)/e.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lis_dft.analysis import energetics as en

#: The treatment, as written to results.json (``free_energy.method``).
METHOD = {
    "isolated": "ideal gas at 1 bar: translation, rigid rotor (point-group symmetry number), harmonic vibrations",
    "adsorbed": "adsorbate + surface atoms within the cutoff vibrate (rest frozen); minus the same surface atoms in the clean slab; quasi-harmonic (modes < 100 cm^-1 raised to 100 cm^-1), imaginary modes dropped and counted",
    "solids": "electronic energy only (Li metal, alpha-S, bulk crystals)",
    "potential": "computational lithium electrode: dG(U) = dG(0) - eU per Li removed; onset U = max dG(0)/e",
}
#: Standard pressure of the gas-phase species, Pa (1 bar).
STANDARD_PRESSURE = 1.0e5
#: Quasi-harmonic floor for adsorbate modes, eV (100 cm^-1, Cramer-Truhlar).
QUASI_HARMONIC_FLOOR = 0.01239841973964072


@dataclass
class Correction:
    """Free-energy correction of one species in one environment, eV per formula unit."""

    zpe_eV: float
    minus_TS_eV: float
    G_corr_eV: float
    n_modes: int
    n_imaginary: int
    treatment: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _real_modes(vib_energies) -> tuple[list[float], int]:
    energies = np.asarray(vib_energies, dtype=complex)
    imaginary = int(np.sum(np.abs(energies.imag) > 1e-9))
    return [float(e.real) for e in energies if abs(e.imag) <= 1e-9], imaginary


def gas_correction(
    vib_energies,
    atoms,
    symmetry_number: int,
    temperature: float,
    pressure: float = STANDARD_PRESSURE,
    spin: float = 0.0,
) -> Correction:
    """G(T, p) - E_elec of an ideal-gas molecule (translation, rotation, vibration)."""
    from ase.thermochemistry import IdealGasThermo

    geometry = "linear" if _is_linear(atoms) else "nonlinear"
    # the 3N-6 (3N-5) modes IdealGasThermo keeps: the rest are translations and rotations
    n_vib = 3 * len(atoms) - (5 if geometry == "linear" else 6)
    kept = sorted(np.asarray(vib_energies, dtype=complex), key=lambda e: (e**2).real)[-n_vib:]
    real, n_imag = _real_modes(kept)
    thermo = IdealGasThermo(
        vib_energies=vib_energies,
        geometry=geometry,
        potentialenergy=0.0,
        atoms=atoms,
        symmetrynumber=symmetry_number,
        spin=spin,
        ignore_imag_modes=True,
    )
    g = float(thermo.get_gibbs_energy(temperature, pressure, verbose=False))
    s = float(thermo.get_entropy(temperature, pressure, verbose=False))
    zpe = float(thermo.get_ZPE_correction())
    return Correction(zpe, -temperature * s, g, len(real), n_imag, f"ideal gas ({geometry})")


def _is_linear(atoms, tol: float = 1e-3) -> bool:
    if len(atoms) <= 2:
        return True
    pos = atoms.get_positions() - atoms.get_positions().mean(axis=0)
    return bool(np.linalg.svd(pos, compute_uv=False)[1] < tol)


def harmonic_free_energy(vib_energies, temperature: float) -> tuple[float, float, int, int]:
    """(ZPE, -TS, modes used, imaginary dropped) of quasi-harmonic vibrations, eV."""
    from ase.thermochemistry import QuasiHarmonicThermo

    real, n_imag = _real_modes(vib_energies)
    if not real:
        return 0.0, 0.0, 0, n_imag
    thermo = QuasiHarmonicThermo(real, potentialenergy=0.0, raise_to=QUASI_HARMONIC_FLOOR)
    zpe = float(thermo.get_ZPE_correction())
    s = float(thermo.get_entropy(temperature, verbose=False))
    return zpe, -temperature * s, len(real), n_imag


def adsorbate_correction(adslab_vib_energies, slab_vib_energies, temperature: float) -> Correction:
    """F_vib(slab + X) - F_vib(slab) over the same vibrating surface atoms, eV."""
    zpe_a, mts_a, n_a, imag_a = harmonic_free_energy(adslab_vib_energies, temperature)
    zpe_s, mts_s, _, imag_s = harmonic_free_energy(slab_vib_energies, temperature)
    from ase.thermochemistry import QuasiHarmonicThermo

    def helmholtz(energies):
        real, _ = _real_modes(energies)
        if not real:
            return 0.0
        qh = QuasiHarmonicThermo(real, potentialenergy=0.0, raise_to=QUASI_HARMONIC_FLOOR)
        return float(qh.get_helmholtz_energy(temperature, verbose=False))

    g = helmholtz(adslab_vib_energies) - helmholtz(slab_vib_energies)
    return Correction(
        zpe_a - zpe_s, mts_a - mts_s, g, n_a, imag_a + imag_s, "quasi-harmonic, surface atoms"
    )


def free_energy_landscapes(
    results: dict[str, Any], corrections: dict[str, dict[str, Correction]]
) -> dict[str, Any]:
    """Oxidation landscapes on Gibbs formation energies (same path as the E landscapes).

    ``corrections[env][species]`` with env ``vacuum`` or the surface key; the bulk
    landscape keeps electronic energies (solids: see the module docstring).
    """
    surface = next((k for k in results["landscape"] if k not in ("bulk", "vacuum")), None)
    path = (
        tuple(st["label"] for st in (results["landscape"].get(surface) or {}).get("states", []))
        or en.OXIDATION_PATH
    )
    out: dict[str, Any] = {}
    for env, table in (
        ("vacuum", "vacuum_formation_energies"),
        (surface, "surface_formation_energies"),
    ):
        corr = corrections.get(env, {})
        g_fu = {
            name: v["eV_per_fu"] + corr[name].G_corr_eV
            for name, v in results.get(table, {}).items()
            if name in corr
        }
        out[env] = en.oxidation_landscape(g_fu, path)
    return out


def at_potential(landscape: dict[str, Any] | None, potential: float) -> dict[str, Any] | None:
    """The ladder at electrode potential U vs Li+/Li: every step's ΔG(U) = ΔG(0) - eU."""
    if not landscape:
        return None
    steps = [{**st, "dG_eV_per_Li": st["dE_eV_per_Li"] - potential} for st in landscape["steps"]]
    levels = [0.0]
    for st, (a, b) in zip(
        steps, zip(landscape["states"], landscape["states"][1:], strict=False), strict=True
    ):
        removed = a["li_per_s"] - b["li_per_s"]
        levels.append(levels[-1] + st["dG_eV_per_Li"] * removed)
    return {
        "potential_V_vs_Li": potential,
        "steps": steps,
        "levels_per_S_eV": levels,
        "all_downhill": all(st["dG_eV_per_Li"] <= 1e-12 for st in steps),
    }
