"""Calculators by name, the dispersion (D3) policy, and timing of calculator calls.

=========  ==============================================  ===========================
name       what                                            D3 under ``d3="auto"``
=========  ==============================================  ===========================
mock       Morse pair potential, tests and dry runs only   none
emt        ASE EMT (Al Cu Ag Au Ni Pd Pt, H C N O roughly)  none
chgnet     CHGNet 0.3.0 (MPtrj, PBE/PBE+U)                 PBE-D3(zero) via dftd3
sevennet   SevenNet-0 (MPtrj, PBE/PBE+U)                   PBE-D3(zero) via dftd3
xtb        GFN2-xTB via tblite (extra ``xtb``)             none (GFN2 has D4 built in)
gpaw       GPAW PBE, PAW; LCAO dzp or PW (``gpaw``)    PBE-D3(zero) via dftd3
=========  ==============================================  ===========================

Why D3: the paper's Hamiltonian is PBE + Grimme D3 (VASP ``IVDW = 11``, zero damping).
CHGNet and SevenNet-0 were trained on PBE(+U) energies without dispersion, so alone they
leave alpha-S, a molecular crystal of S8 rings held by dispersion, underbound. Adding the
same D3(zero) correction with PBE parameters to every structure puts all energy
differences on one Hamiltonian: "PBE-like potential + D3(zero)". ``d3="bj"`` selects
Becke-Johnson damping (VASP ``IVDW = 12``); ``d3="none"`` turns it off.

``build_calculator`` is what atomate2's ForceFieldRelaxMaker loads (through a
monty-style ``{"@module", "@callable"}`` dict), so every relaxation runs through
atomate2's makers. Loaded models are cached per process: loading SevenNet-0 takes
seconds, which would otherwise be paid by every job.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ase.calculators.calculator import Calculator

from lis_dft.errors import CalculatorError

CALCULATORS = ("mock", "emt", "chgnet", "sevennet", "xtb", "gpaw")
DEFAULT_CALCULATOR = "chgnet"
EMT_ELEMENTS = frozenset({"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O"})
D3_CHOICES = ("auto", "zero", "bj", "none")

_PACKAGE = {
    "mock": "lis-dft",
    "emt": "ase",
    "chgnet": "chgnet",
    "sevennet": "sevenn",
    "xtb": "tblite",
    "gpaw": "gpaw",
}
_MODEL = {
    "mock": "Morse pair potential (not physical)",
    "emt": "ASE EMT",
    "chgnet": "CHGNet 0.3.0 (MPtrj)",
    "sevennet": "SevenNet-0 (7net-0, MPtrj)",
    "xtb": "GFN2-xTB",
    "gpaw": "GPAW PBE (PAW setups; LCAO dzp by default, or plane waves)",
}
_D3_AUTO = {
    "mock": "none",
    "emt": "none",
    "xtb": "none",
    "chgnet": "zero",
    "sevennet": "zero",
    "gpaw": "zero",
}


@dataclass
class CallTimer:
    """Wall time spent inside calculator calls in this process."""

    seconds: float = 0.0
    calls: int = 0

    def reset(self) -> None:
        """Zero the counters."""
        self.seconds, self.calls = 0.0, 0


CALC_TIMER = CallTimer()


def _pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def resolve_d3(name: str, d3: str) -> str:
    """Return the effective D3 damping (``zero``, ``bj`` or ``none``) for a calculator."""
    if d3 not in D3_CHOICES:
        raise CalculatorError(f"Unknown D3 option {d3!r}; choose from {', '.join(D3_CHOICES)}.")
    return _D3_AUTO.get(name, "none") if d3 == "auto" else d3


@dataclass(frozen=True)
class CalculatorSpec:
    """Which calculator, with which dispersion, and any extra keyword arguments."""

    name: str = DEFAULT_CALCULATOR
    d3: str = "auto"
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in CALCULATORS:
            raise CalculatorError(
                f"Unknown calculator {self.name!r}. Choose one of: {', '.join(CALCULATORS)}."
            )
        object.__setattr__(self, "d3", resolve_d3(self.name, self.d3))

    def describe(self) -> dict[str, Any]:
        """Return the provenance record: name, model, version, d3."""
        d3 = {"damping": self.d3}
        if self.d3 != "none":
            d3.update({"functional": "PBE", "package": "dftd3", "version": _pkg_version("dftd3")})
        out = {
            "name": self.name,
            "model": _MODEL[self.name],
            "version": _pkg_version(_PACKAGE[self.name]),
            "d3": d3,
            "kwargs": dict(self.kwargs),
            "is_mock": self.name == "mock",
        }
        if self.name == "gpaw":  # every setting, defaults included
            from lis_dft.dft_workflows.gpaw_calc import GpawSettings

            settings = GpawSettings.from_kwargs(self.kwargs)
            out["settings"] = settings.as_dict()
            out["model"] = f"GPAW {settings.describe()}"
        return out

    def maker_kwargs(self) -> dict[str, Any]:
        """Arguments for atomate2's ForceFieldRelaxMaker that load this calculator."""
        return {
            "force_field_name": {
                "@module": "lis_dft.dft_workflows.calculators",
                "@callable": "build_calculator",
            },
            "calculator_kwargs": {"name": self.name, "d3": self.d3, **self.kwargs},
        }

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (used for hashing job identities)."""
        return asdict(self)


def check_elements(name: str, elements: set[str] | list[str]) -> None:
    """Refuse, before any work, a calculator that cannot describe these elements."""
    if name == "emt":
        unsupported = sorted(set(elements) - EMT_ELEMENTS)
        if unsupported:
            raise CalculatorError(
                f"ASE's EMT cannot describe {', '.join(unsupported)}: it only has parameters "
                f"for {', '.join(sorted(EMT_ELEMENTS))}. Li-S-I chemistry needs "
                "--calculator chgnet or sevennet (or mock for a dry run)."
            )


def check_available(name: str) -> None:
    """Raise a clear error if the package behind a calculator is not installed."""
    extra = {"chgnet": "mlip", "sevennet": "mlip", "xtb": "xtb", "gpaw": "gpaw"}
    module = {"chgnet": "chgnet", "sevennet": "sevenn", "xtb": "tblite", "gpaw": "gpaw"}
    if name in module:
        import importlib.util

        if importlib.util.find_spec(module[name]) is None:
            raise CalculatorError(
                f"Calculator {name!r} needs the {module[name]!r} package: "
                f"pip install 'lis-dft[{extra[name]}]'."
            )


@lru_cache(maxsize=4)
def _chgnet_model():
    from chgnet.model import CHGNet

    return CHGNet.load(verbose=False)


@lru_cache(maxsize=4)
def _sevennet_calculator(model: str):
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator(model, device="cpu")


def _base_calculator(
    name: str,
    atoms: Any | None = None,
    ghosts: list[int] | None = None,
    **kwargs: Any,
) -> Calculator:
    if name == "mock":
        from lis_dft.dft_workflows.mock import MockCalculator

        return MockCalculator()
    if name == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    if name == "chgnet":
        from chgnet.model.dynamics import CHGNetCalculator

        return CHGNetCalculator(model=_chgnet_model(), use_device="cpu")
    if name == "sevennet":
        return _sevennet_calculator(kwargs.get("model", "7net-0"))
    if name == "xtb":
        from tblite.ase import TBLite

        return TBLite(method="GFN2-xTB", verbosity=0)
    if name == "gpaw":
        from lis_dft.dft_workflows.gpaw_calc import GpawSettings, gpaw_calculator

        return gpaw_calculator(
            GpawSettings.from_kwargs(kwargs), atoms=atoms, ghosts=ghosts, txt="gpaw.txt"
        )
    raise CalculatorError(f"Unknown calculator {name!r}.")


def _timed(calc: Calculator) -> Calculator:
    """Accumulate wall time of ``calc.calculate`` into CALC_TIMER."""
    inner = calc.calculate

    def calculate(*args: Any, **kwargs: Any) -> None:
        start = time.perf_counter()
        try:
            inner(*args, **kwargs)
        finally:
            CALC_TIMER.seconds += time.perf_counter() - start
            CALC_TIMER.calls += 1

    calc.calculate = calculate  # type: ignore[method-assign]
    return calc


class _GhostAwareD3Sum(Calculator):
    """The DFT energy of the whole cell plus D3 of the real atoms only (ghosts have no D3)."""

    implemented_properties = ("energy", "free_energy", "forces")

    def __init__(self, dft: Calculator, damping: str, ghosts: list[int]) -> None:
        super().__init__()
        self.dft, self.damping, self.ghosts = dft, damping, set(ghosts)

    def calculate(self, atoms=None, properties=("energy",), system_changes=None) -> None:
        """DFT on all atoms (ghosts included), D3 on the real atoms; forces on real atoms."""
        import numpy as np
        from dftd3.ase import DFTD3

        super().calculate(atoms, properties, system_changes or [])
        real = [i for i in range(len(self.atoms)) if i not in self.ghosts]
        dft_atoms = self.atoms.copy()
        dft_atoms.calc = self.dft
        e = dft_atoms.get_potential_energy()
        f = dft_atoms.get_forces()
        sub = self.atoms[real]
        sub.calc = DFTD3(method="PBE", damping={"zero": "d3zero", "bj": "d3bj"}[self.damping])
        e += sub.get_potential_energy()
        f[real] += sub.get_forces()
        f[sorted(self.ghosts)] = 0.0
        self.results = {"energy": e, "free_energy": e, "forces": np.asarray(f)}


def build_calculator(
    name: str = DEFAULT_CALCULATOR,
    d3: str = "auto",
    atoms: Any | None = None,
    ghosts: list[int] | None = None,
    **kwargs: Any,
) -> Calculator:
    """Return an ASE calculator by name, with the D3 policy applied and calls timed.

    Parameters
    ----------
    name
        One of :data:`CALCULATORS`.
    d3
        ``auto`` (the table in the module docstring), ``zero``, ``bj`` or ``none``.
    atoms
        The structure the calculator is for (GPAW: fixes the k-point mesh and the spin
        polarisation from it); optional.
    ghosts
        GPAW LCAO only: atom indices that become ghost atoms (counterpoise). D3 then
        sees only the real atoms.
    **kwargs
        Calculator-specific options (``model`` for sevennet; the fields of
        :class:`~lis_dft.dft_workflows.gpaw_calc.GpawSettings` for gpaw).

    """
    spec = CalculatorSpec(name, d3, kwargs)
    check_available(name)
    if ghosts and name != "gpaw":
        raise CalculatorError(
            "Ghost atoms (counterpoise) are only available with --calculator gpaw."
        )
    calc = _base_calculator(name, atoms=atoms, ghosts=ghosts, **kwargs)
    if ghosts and spec.d3 != "none":
        return _timed(_GhostAwareD3Sum(calc, spec.d3, ghosts))
    if spec.d3 != "none":
        from ase.calculators.mixing import SumCalculator
        from dftd3.ase import DFTD3

        damping = {"zero": "d3zero", "bj": "d3bj"}[spec.d3]
        calc = SumCalculator([calc, DFTD3(method="PBE", damping=damping)])
    return _timed(calc)
