"""Delithiation barriers by climbing-image NEB on the study's own potential.

``lis-dft barriers RUN`` (and ``lis-dft run`` unless ``--no-barriers``) computes, for each
step of :data:`lis_dft.structures.delithiation.DELITHIATIONS` and each environment
(vacuum: the isolated molecule; the catalyst surface: the configuration the run
reports, by default on the reduced model that ``lis-dft verify`` cuts from the run's
relaxed slab, see below), one jobflow job in the run's store with a deterministic id, so an interrupted
run resumes. Each job

1. builds the final-state candidates (:mod:`lis_dft.structures.delithiation`) and relaxes
   them with atomate2's :class:`~atomate2.ase.utils.AseRelaxer` on the run's calculator,
   taking the first whose Li stays detached;
2. interpolates the images with IDPP (atomate2's ``interpolate_endpoints_ase``);
3. runs atomate2's :class:`~atomate2.ase.utils.AseNebInterface` twice: a plain NEB to
   ``pre_fmax``, then the climbing image to ``fmax`` (ASE's NEB, improved tangent), the
   climbing stage skipped when the plain path has no interior maximum and stopped as soon
   as it has none left (the path then only rises to the final state);
4. checks the highest image: interior, above both neighbours, forces converged, and (if
   ``modes``, in a job of its own, :func:`ts_check`) the finite-difference modes at the
   TS of the adsorbate and its surface neighbours by ASE's
   :class:`~ase.vibrations.Vibrations` (one imaginary mode for a first-order saddle, and
   how far it lies along the path).

Why the reduced model on the surface: a path is about 5 images x 100-200 NEB steps, on the
paper's 219-atom slab about 0.8 s per force call on 2 cores, i.e. 10-20 minutes per path;
on the 2 x 2, 4-layer model (64 slab atoms, bottom two layers fixed, cut around the
reported configuration from the run's relaxed slab) it is a few minutes, and the DFT check
of the barrier then evaluates the path's own geometries. The Li moves by 2-4 Å in a
12 x 12 Å window. ``--slab full`` runs on the run's slab instead.

The analysis of the path is pure (:func:`lis_dft.analysis.barriers.analyse_path`). The
images, the TS and both end points are written to ``RUN/barriers/<reactant>_<env>/``
(extxyz and POSCAR) for inspection and for the VASP NEB inputs.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from jobflow import Flow, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from lis_dft.analysis.barriers import analyse_path, path_coordinate
from lis_dft.dft_workflows.state import QuickStateCheck
from lis_dft.errors import ParameterError
from lis_dft.structures.delithiation import (
    DELITHIATIONS,
    DETACHED_LI_S,
    li_detached,
    reaction_label,
    surface_final_states,
    vacuum_final_state,
)

_NAMESPACE = uuid.UUID("3f4c2a10-9b7e-4d55-8c1a-2e6f0b9d7a44")
#: eV -> cm^-1
EV_TO_CM = 8065.544
#: imaginary modes below this (cm^-1) are numerical noise of the finite differences
IMAGINARY_NOISE_CM = 50.0
#: Å: free slab atoms this close to the adsorbate join the TS modes (see :func:`ts_check`)
MODE_RADIUS = 4.5
#: revision of the transition-state check (part of its job identity); 3: surface
#: neighbours in the modes, and the one imaginary mode must lie along the path
MODE_REVISION = 3
#: optimizer steps after which a final-state candidate whose Li fell back is dropped
PROBE_STEPS = 40
#: NEB optimizers (see :func:`_neb_optimizers`)
NEB_OPTIMIZER_NAMES = ("FIRE", "BFGS", "MDMin", "ODE")


@dataclass(frozen=True)
class BarrierSettings:
    """How the barriers are computed (every field is part of the job identity)."""

    n_images: int = 5
    spring: float = 0.1
    fmax: float = 0.05
    pre_fmax: float = 0.2
    steps: int = 300
    optimizer: str = "ODE"  # the plain NEB stage (benchmarks/neb_comparison.json)
    climb_optimizer: str = "ODE"  # the climbing-image stage
    interpolation: str = "idpp"
    separation: float = 5.0
    #: 20, not 6: under lis-dft-mf-0-ft5 the first six Li2S/LiI(100) candidates fall back
    #: and the seventh stays (docs/methods.md); a failed try costs at most PROBE_STEPS
    max_tries: int = 20
    min_li_s: float = 5.5  # Å (lis_dft.structures.delithiation, measured)
    modes: bool = True
    slab: str = "reduced"
    fixed_layers: int = 2

    def __post_init__(self) -> None:
        if self.n_images < 1:
            raise ParameterError(f"--images must be >= 1, got {self.n_images}.")
        if not self.spring > 0:
            raise ParameterError(f"--spring must be positive (eV/Å²), got {self.spring}.")
        if not 0 < self.fmax <= self.pre_fmax:
            raise ParameterError(
                f"fmax must be positive and at most pre_fmax ({self.pre_fmax}), got {self.fmax}."
            )
        if self.max_tries < 1:
            raise ParameterError(f"--max-tries must be >= 1, got {self.max_tries}.")
        if self.slab not in ("reduced", "full"):
            raise ParameterError(f"--slab must be 'reduced' or 'full', got {self.slab!r}.")
        if self.optimizer not in NEB_OPTIMIZER_NAMES:
            raise ParameterError(
                f"NEB optimizer must be one of {', '.join(NEB_OPTIMIZER_NAMES)}, "
                f"got {self.optimizer!r}."
            )
        if self.climb_optimizer not in NEB_OPTIMIZER_NAMES:
            raise ParameterError(
                f"The climbing-image optimizer must be one of {', '.join(NEB_OPTIMIZER_NAMES)}, "
                f"got {self.climb_optimizer!r}."
            )
        if self.interpolation not in ("idpp", "linear"):
            raise ParameterError(
                f"interpolation must be 'idpp' or 'linear', got {self.interpolation!r}."
            )

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (provenance, hashing)."""
        return asdict(self)


def _atoms(structure: Structure) -> Any:
    """ASE atoms with the structure's selective dynamics as constraints."""
    return AseAtomsAdaptor.get_atoms(structure)


def nearest_image(structure: Structure, reference: Structure) -> Structure:
    """``structure`` with every site moved by whole lattice vectors next to its ``reference`` site.

    The same configuration (every distance unchanged); only the periodic image each atom
    is written on changes. Returned untouched, to the last bit, when no site moves
    (verify's job ids hash geometries).
    """
    shift = np.round(structure.frac_coords - reference.frac_coords)
    if not shift.any():
        return structure
    return Structure(
        structure.lattice,
        structure.species,
        structure.frac_coords - shift,
        site_properties=structure.site_properties or None,
    )


def continuous(images: list[Structure]) -> list[Structure]:
    """The path with every atom on the periodic image nearest to where it was one image before.

    The reaction coordinate, the path files and the VASP NEB folders need the continuous
    path. Paths computed before the final state was aligned (:data:`PATH_REVISION` 1) hold
    it on another periodic image (measured: Li2S2 on LiI(100), 11.9 Å, one lattice vector).
    """
    out = [images[0]]
    for im in images[1:]:
        out.append(nearest_image(im, out[-1]))
    return out


def relax_final_state(
    candidates: list[Any], calc: dict[str, Any], n_slab: int, settings: BarrierSettings
) -> tuple[Structure, float, list[dict[str, Any]]]:
    """Relax candidates in order; return the first whose Li stays detached.

    Each candidate is first probed for :data:`PROBE_STEPS` steps (a Li that falls back
    onto the molecule does so at once) and only relaxed on to ``fmax`` if its Li stayed.
    ``calc`` is the calculator's spec.

    Returns (relaxed structure, its energy, record of every try).
    """
    from atomate2.ase.utils import AseRelaxer

    from lis_dft.dft_workflows.calculators import build_calculator

    calculator = build_calculator(**calc)

    def relax(structure: Structure, steps: int) -> Any:
        relaxer = AseRelaxer(calculator=calculator, optimizer="BFGS", relax_cell=False)
        return relaxer.relax(
            _atoms(structure), fmax=settings.fmax, steps=steps, final_atoms_object_file=None
        )

    from lis_dft.dft_workflows.calculators import CALC_TIMER

    tries = []
    for cand in candidates[: settings.max_tries]:
        calls0 = CALC_TIMER.calls
        res = relax(cand.structure, PROBE_STEPS)
        d = li_detached(res.final_mol_or_struct, cand.li_index, n_slab)
        if d >= DETACHED_LI_S and not res.converged:
            res = relax(res.final_mol_or_struct, settings.steps)
            d = li_detached(res.final_mol_or_struct, cand.li_index, n_slab)
        final = res.final_mol_or_struct
        atoms = _atoms(final)
        atoms.calc = calculator
        energy = float(atoms.get_potential_energy())
        tries.append(
            {
                **cand.as_dict(),
                "relaxed_li_s_A": d,
                "energy": energy,
                "force_calls": CALC_TIMER.calls - calls0,
            }
        )
        if d >= DETACHED_LI_S:
            return final, energy, tries
    more = (
        f"Try more of them ('lis-dft barriers RUN --max-tries "
        f"{min(len(candidates), 2 * settings.max_tries)}': the study's results are kept and "
        "finished paths reused) or the run's own slab (--slab full)."
        if len(tries) < len(candidates)
        else "There are no more candidates: try the run's own slab (--slab full)."
    )
    raise ParameterError(
        f"Every final-state candidate tried ({len(tries)} of {len(candidates)}, nearest site "
        f"first) relaxed back to the molecule (Li-S < {DETACHED_LI_S} Å): {tries}. {more}"
    )


class PerImageCalculator(QuickStateCheck, Calculator):
    """A lis-dft calculator that a deep copy rebuilds from its arguments.

    atomate2's NEB gives every image ``deepcopy(calculator)``; the dftd3 handle inside the
    D3 sum cannot be copied (a cffi object), and a model shared by reference would mix the
    images' results. Each copy of this one builds its own calculator instead.
    """

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, spec: dict[str, Any]) -> None:
        from lis_dft.dft_workflows.calculators import build_calculator

        super().__init__()
        self.spec = dict(spec)
        self.inner = build_calculator(**self.spec)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        """Delegate to the wrapped calculator and keep everything it computed.

        This calculator only gets here when its atoms changed, so the inner one computes
        at once (asking it property by property re-checked the atoms each time: 6 s of
        a mock run's 40 s of barriers).
        """
        super().calculate(atoms, properties, system_changes)
        self.inner.calculate(self.atoms, properties, system_changes)
        missing = [p for p in properties if p not in self.inner.results]
        if missing:
            raise PropertyNotImplementedError(f"{self.spec.get('name')} gives no {missing}")
        self.results = dict(self.inner.results)

    def __deepcopy__(self, memo: dict) -> PerImageCalculator:
        """A fresh calculator from the same arguments."""
        return PerImageCalculator(self.spec)


def _max_atom_force(forces: Any) -> float:
    """Largest per-atom force norm (eV/Å), the test FIRE and BFGS apply to the NEB forces."""
    f = np.asarray(forces, dtype=float).reshape(-1, 3)
    return float(np.sqrt((f**2).sum(axis=1).max())) if len(f) else 0.0


def _neb_optimizers() -> dict[str, Any]:
    """NEB optimizers by name: atomate2's force-based ones and ASE's ``NEBOptimizer``.

    ``ODE`` is ASE's :class:`~ase.mep.neb.NEBOptimizer` (adaptive ODE integration of the
    NEB forces, Makri, Ortner and Kermode, J. Chem. Phys. 150, 094109 (2019)), given to
    atomate2's :class:`~atomate2.ase.utils.AseNebInterface` as an optimizer class, with
    one change: its convergence test. ASE's ``NEBOptimizer`` stops when
    ``NEB.get_residual()`` is below ``fmax``, and that residual (ase 3.26) leaves out the
    climbing image and takes the largest force *component*; with a climbing image it
    stopped with the climbing image at 0.165 eV/Å (benchmarks/neb_comparison.json,
    ``ODE/ODE:5 ase-residual``). Here the residual is the largest per-atom norm of the NEB
    forces of every moving image, climbing image included (the test FIRE and BFGS apply),
    and of the climbing image's own forces, which the transition-state check tests.
    """
    from ase.mep.neb import NEBOptimizer
    from atomate2.ase.utils import FORCE_BASED_OPTIMIZERS

    class ODE(NEBOptimizer):
        """ASE's NEBOptimizer whose residual includes the climbing image (see above)."""

        def get_residual(self, F: Any = None, X: Any = None) -> float:
            neb = self.neb
            residual = _max_atom_force(neb.get_forces() if F is None else F)
            if neb.climb and neb.imax is not None and 0 < neb.imax < neb.nimages - 1:
                # and the climbing image's own forces, which the TS check tests: its NEB
                # force (tangential part inverted) can be a little smaller per atom
                residual = max(residual, _max_atom_force(neb.images[neb.imax].get_forces()))
            return residual

    found = {**FORCE_BASED_OPTIMIZERS, "ODE": ODE}
    return {name: found[name] for name in NEB_OPTIMIZER_NAMES}


class _ClimbedOntoFinalState(Exception):
    """Raised inside a climbing stage whose path no longer has a maximum to climb to."""


def stop_when_no_maximum(optimizer: type, stopped: dict[str, Any]) -> type:
    """``optimizer`` with the climbing stage stopped once its path has no maximum left.

    The climbing stage starts only when the plain NEB's path has an interior maximum
    (:func:`has_interior_maximum`). When that maximum was a ripple of the band, climbing
    drags the top image onto the final state: the path then only rises to it, and every
    further step spends force calls on a verdict that cannot change ("no saddle: the energy
    rises to the final state"); in the budget run of 2026-12-05 such a stage took 1054
    calls and did not converge. After every step the NEB's energies are tested with
    :func:`has_interior_maximum`; once it fails the run stops (not converged) and
    ``stopped`` records the step and the energies.

    Parameters
    ----------
    optimizer
        An ASE optimizer class taking the NEB as its first argument (ASE's
        ``Optimizer`` subclasses and ``NEBOptimizer``).
    stopped
        Filled with ``{"step", "energies"}`` when the stage is stopped.

    """

    class StopWhenNoMaximum(optimizer):  # type: ignore[misc, valid-type]
        def __init__(self, neb: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(neb, *args, **kwargs)
            self._path = neb

        def call_observers(self) -> None:
            super().call_observers()
            energies = getattr(self._path, "energies", None)
            if energies is None or not np.all(np.isfinite(energies)):
                return
            if not has_interior_maximum(list(energies)):
                stopped.update(step=int(self.nsteps), energies=[float(e) for e in energies])
                raise _ClimbedOntoFinalState

        def run(self, *args: Any, **kwargs: Any) -> bool:
            try:
                return super().run(*args, **kwargs)
            except _ClimbedOntoFinalState:
                return False

    StopWhenNoMaximum.__name__ = optimizer.__name__
    return StopWhenNoMaximum


def _neb(
    images: list[Any],
    calc: Any,
    fmax: float,
    climb: bool,
    s: BarrierSettings,
    stopped: dict[str, Any] | None = None,
) -> Any:
    """One NEB stage through atomate2's AseNebInterface, one image after the other.

    A climbing stage given ``stopped`` ends early when its path has no maximum left
    (:func:`stop_when_no_maximum`).

    (Images in threads, ASE's ``NEB(parallel=True)`` without MPI, were measured and gave
    nothing: 1.18 s against 1.24 s for five 67-atom SevenNet calls, alone on 2 cores; the
    model's many small operations hold the GIL.)
    """
    from atomate2.ase.utils import AseNebInterface

    optimizer = _neb_optimizers()[s.climb_optimizer if climb else s.optimizer]
    if climb and stopped is not None:
        optimizer = stop_when_no_maximum(optimizer, stopped)
    return AseNebInterface(calculator=PerImageCalculator(calc), optimizer=optimizer).run_neb(
        images,
        fmax=fmax,
        steps=s.steps,
        neb_kwargs={"k": s.spring, "climb": climb, "method": "improvedtangent"},
        neb_doc_kwargs={},
    )


def has_interior_maximum(energies: list[float]) -> bool:
    """Whether a path has a maximum worth climbing to (the rule of ``analyse_path``).

    The highest image must be interior and not a ripple just above the final state (less
    than ``RIPPLE`` above it while ``RIPPLE`` above the initial state); a path that only
    rises to its final state (a bond dissociation in vacuum) has none.
    """
    from lis_dft.analysis.barriers import RIPPLE

    rel = np.asarray(energies, dtype=float) - energies[0]
    i = int(np.argmax(rel))
    ripple = rel[i] - rel[-1] < RIPPLE <= rel[i]
    return bool(0 < i < len(rel) - 1 and not ripple)


@dataclass
class NebPath:
    """The converged path of one barrier and how it was reached."""

    images: list[Structure]
    energies: list[float]
    converged: bool
    climbed: bool  # False: no interior maximum after the plain NEB, so no climbing stage
    stages: list[dict[str, Any]]  # per stage: climb, fmax, force calls, converged


def neb_path(
    initial: Structure, final: Structure, calc: dict[str, Any], s: BarrierSettings
) -> NebPath:
    """IDPP images, a plain NEB to ``pre_fmax``, then the climbing image to ``fmax``.

    The final state is first moved onto the periodic images nearest the initial state
    (:func:`nearest_image`), so each atom travels its shortest way.

    When the plain NEB's path has no interior maximum (:func:`has_interior_maximum`) there
    is nothing to climb to: its barrier is the reaction energy of the relaxed end points,
    and the climbing stage (which then drags the top image onto the final state without
    converging) is skipped. The record says so (``climbed`` False). A climbing stage whose
    maximum turns out to be a ripple stops as soon as the path has none left
    (:func:`stop_when_no_maximum`; its stage record says ``stopped``).
    """
    from atomate2.ase.neb import interpolate_endpoints_ase

    from lis_dft.dft_workflows.calculators import CALC_TIMER

    method = {"idpp": "IDPP", "linear": "linear"}[s.interpolation]
    # the relaxed final state may hold the moving Li on another periodic image (wrapped
    # into the cell); interpolated as stored, the Li would be dragged across the cell
    final = nearest_image(final, initial)
    # ASE's IDPP writes idpp.traj and idpp.log into the working folder unless told not to
    quiet = {"traj": None, "log": None} if method == "IDPP" else {}
    images = interpolate_endpoints_ase([initial, final], s.n_images, method, **quiet)
    stages = []

    def stage(ims: list[Any], fmax: float, climb: bool) -> Any:
        calls0 = CALC_TIMER.calls
        stopped: dict[str, Any] = {}
        out = _neb(ims, calc, fmax, climb, s, stopped)
        ok = getattr(out.state, "value", out.state) == "successful"
        record = {
            "climb": climb,
            "fmax": fmax,
            "force_calls": CALC_TIMER.calls - calls0,
            "converged": ok,
        }
        if stopped:
            record["stopped"] = (
                f"at step {stopped['step']}: no interior maximum left (the climbing image "
                "reached the final state's energy), so the path rises to the final state"
            )
        stages.append(record)
        return out

    plain = stage(images, s.pre_fmax, False)
    if not has_interior_maximum(list(plain.energies)):
        return NebPath(
            list(plain.images), list(plain.energies), stages[-1]["converged"], False, stages
        )
    climbed = stage([im.copy() for im in plain.images], s.fmax, True)
    return NebPath(
        list(climbed.images), list(climbed.energies), stages[-1]["converged"], True, stages
    )


def mode_atoms(ts: Structure, n_slab: int, radius: float = MODE_RADIUS) -> list[int]:
    """The adsorbate's atoms and the free slab atoms within ``radius`` Å of any of them."""
    ads = list(range(n_slab, len(ts)))
    sd = ts.site_properties.get("selective_dynamics")
    free = [i for i in range(n_slab) if sd is None or any(sd[i])]
    near = {i for i in free if any(ts.get_distance(i, j) < radius for j in ads)}
    return ads + sorted(near)


def ts_modes(
    ts: Structure, calc: Any, indices: list[int], tangent: np.ndarray | None = None
) -> tuple[list[float], float | None]:
    """Imaginary modes (cm^-1, above the noise) of ``indices`` at the TS, and their direction.

    Returns the wavenumbers, largest first, and how far the largest lies along the path:
    |cos| between it and ``tangent`` (Cartesian displacements of every atom) over
    ``indices``; None without a tangent or an imaginary mode.
    """
    import tempfile

    from ase.vibrations import Vibrations

    atoms = _atoms(ts)
    atoms.set_constraint()
    atoms.calc = calc
    with tempfile.TemporaryDirectory() as tmp:
        vib = Vibrations(atoms, indices=indices, name=f"{tmp}/vib", delta=0.01)
        vib.run()
        energies = vib.get_energies()
        found = [
            (float(abs(e.imag) * EV_TO_CM), k)
            for k, e in enumerate(energies)
            if abs(e.imag) > abs(e.real) and abs(e.imag) * EV_TO_CM > IMAGINARY_NOISE_CM
        ]
        found.sort(reverse=True)
        overlap = None
        if found and tangent is not None:
            mode = vib.get_mode(found[0][1])[indices].ravel()
            tan = np.asarray(tangent, dtype=float)[indices].ravel()
            norm = np.linalg.norm(mode) * np.linalg.norm(tan)
            overlap = float(abs(mode @ tan) / norm) if norm > 0 else None
    return [w for w, _ in found], overlap


@job(name="delithiation barrier")
def delithiation_barrier(
    initial: Structure,
    n_slab: int,
    reactant: str,
    environment: str,
    calculator: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Final state, IDPP images, NEB then climbing-image NEB, and the checked result."""
    from lis_dft.dft_workflows.calculators import CALC_TIMER, build_calculator

    s = BarrierSettings(**settings)
    t0, calls0, inside0 = time.perf_counter(), CALC_TIMER.calls, CALC_TIMER.seconds
    calc = build_calculator(**calculator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from atomate2.ase.utils import AseRelaxer

        # the run's minimum, relaxed again in this cell (a no-op on the run's own slab; a
        # few steps on the reduced model, whose edges differ from the paper slab's)
        res = AseRelaxer(calculator=calc, optimizer="BFGS", relax_cell=False).relax(
            _atoms(initial), fmax=s.fmax, steps=s.steps, final_atoms_object_file=None
        )
        initial = res.final_mol_or_struct
        start = _atoms(initial)
        start.calc = calc
        e_is = float(start.get_potential_energy())
        steps = {"initial_state": CALC_TIMER.calls - calls0}
        if environment == "vacuum":
            candidates = [vacuum_final_state(initial, s.separation)]
        else:
            candidates = surface_final_states(initial, n_slab, min_li_s=s.min_li_s)
        final, e_fs, tries = relax_final_state(candidates, calculator, n_slab, s)
        steps["final_state"] = CALC_TIMER.calls - calls0 - sum(steps.values())
        path = neb_path(initial, final, calculator, s)
        steps["neb"] = CALC_TIMER.calls - calls0 - sum(steps.values())
    energies = path.energies
    images = continuous(path.images)
    i_ts = int(np.argmax(energies))
    ts = images[i_ts]
    ts_atoms = _atoms(ts)
    ts_atoms.calc = calc
    ts_force = _max_atom_force(ts_atoms.get_forces())
    coordinate = path_coordinate([im.cart_coords for im in images])
    result = analyse_path(
        reaction_label(reactant),
        environment,
        energies,
        e_is,
        e_fs,
        ts_force,
        s.fmax,
        path_A=coordinate,
        converged=path.converged,
    )
    result.settings = s.as_dict()
    result.final_state = {"chosen": tries[-1], "tried": tries}
    result.neb_stages = path.stages
    result.climbed = path.climbed
    result.seconds = time.perf_counter() - t0
    result.force_calls = CALC_TIMER.calls - calls0
    result.calculator_seconds = CALC_TIMER.seconds - inside0
    steps["ts_force"] = result.force_calls - sum(steps.values())
    result.force_calls_by_step = steps
    return {
        "result": result.as_dict(),
        "images": [im.as_dict() for im in images],
        "initial_energy": e_is,
        "final_energy": e_fs,
    }


#: what the TS check decides (the rest of the path's result is kept as computed)
CHECKED_FIELDS = (
    "mode_path_overlap",
    "verdict",
    "is_saddle",
    "imaginary_modes_cm",
    "ts_index",
    "forward_eV",
    "reverse_eV",
    "reaction_eV",
)


@job(name="transition-state check")
def ts_check(path: dict[str, Any], n_slab: int, calculator: dict[str, Any]) -> dict[str, Any]:
    """The modes at a path's highest image, and the path's verdict with them.

    A job of its own (keyed by the path job and :data:`MODE_REVISION`), so a better check
    reruns on stored paths without recomputing them. The modes are those of the
    adsorbate and of the free slab atoms within :data:`MODE_RADIUS` of it: with the
    adsorbate alone the Li2S/LiI(100) climbing image showed no imaginary mode, with its
    surface neighbours one (76i cm^-1 within 3.5 Å, 74i within 4.5 Å), but across the
    path (overlap 0.02 with the tangent): a soft mode of the surface, not the Li's hop,
    which the verdict now says (:data:`lis_dft.analysis.barriers.MIN_PATH_OVERLAP`).
    Returns the path's output with the result re-analysed.
    """
    from lis_dft.analysis.barriers import BarrierResult
    from lis_dft.dft_workflows.calculators import CALC_TIMER, build_calculator

    t0, calls0, inside0 = time.perf_counter(), CALC_TIMER.calls, CALC_TIMER.seconds
    r = dict(path["result"])
    fields = BarrierSettings.__dataclass_fields__
    s = BarrierSettings(**{k: v for k, v in r["settings"].items() if k in fields})
    images = continuous(
        [Structure.from_dict(d) if isinstance(d, dict) else d for d in path["images"]]
    )
    i = r["ts_index"]
    interior = 0 < i < len(images) - 1
    modes, overlap, atoms = None, None, None
    if s.modes and interior:
        atoms = mode_atoms(images[i], n_slab)
        tangent = images[i + 1].cart_coords - images[i - 1].cart_coords
        modes, overlap = ts_modes(images[i], build_calculator(**calculator), atoms, tangent)
    e_is = path["initial_energy"]
    checked = analyse_path(
        r["reaction"],
        r["environment"],
        [e_is + x for x in r["energies"]],
        e_is,
        path["final_energy"],
        r["ts_max_force"],
        s.fmax,
        path_A=r["path_A"],
        converged=r["converged"],
        imaginary_modes_cm=modes,
        mode_path_overlap=overlap,
    ).as_dict()
    fields = BarrierResult.__dataclass_fields__
    result = BarrierResult(
        **{k: v for k, v in r.items() if k in fields} | {k: checked[k] for k in CHECKED_FIELDS}
    )
    calls = CALC_TIMER.calls - calls0
    result.force_calls = (r.get("force_calls") or 0) + calls
    result.seconds = (r.get("seconds") or 0.0) + time.perf_counter() - t0
    result.calculator_seconds = (r.get("calculator_seconds") or 0.0) + (
        CALC_TIMER.seconds - inside0
    )
    result.force_calls_by_step = {**(r.get("force_calls_by_step") or {}), "ts_modes": calls}
    result.mode_atoms = None if atoms is None else len(atoms)
    return {**path, "result": result.as_dict()}


# ------------------------------------------------------------------------------ flow


@dataclass
class BarrierTask:
    """One (reactant, environment) path to compute."""

    reactant: str
    environment: str
    initial: Structure
    n_slab: int
    config: str | None = None


def reduced_initial(
    adslab: Structure, clean: Structure, model: Any, fixed_layers: int
) -> tuple[Structure, int]:
    """The adsorbate configuration on the reduced model, bottom ``fixed_layers`` fixed.

    The window is the one ``lis-dft verify`` cuts (centred on the adsorbate, from the run's
    relaxed slab), so the DFT check evaluates the path's own geometries.
    """
    from lis_dft.structures.reduced import reduce_slab, reduced_height
    from lis_dft.structures.slab import layer_indices

    n_slab = len(clean)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        red = reduce_slab(
            adslab, n_slab, model, height=reduced_height(clean, n_slab, model), reference=clean
        )
    n_red = len(red) - (len(adslab) - n_slab)
    layers = layer_indices(Structure.from_sites(red.sites[:n_red]))
    fixed = {i for layer in layers[:fixed_layers] for i in layer}
    red.add_site_property("selective_dynamics", [[i not in fixed] * 3 for i in range(len(red))])
    return red, n_red


def barrier_tasks(
    record: dict[str, Any], results: dict[str, Any], settings: BarrierSettings | None = None
) -> list[BarrierTask]:
    """The paths of a finished run: its adsorbates with a delithiation step, vacuum and surface.

    The surface initial state is the configuration the run reports (its ``best_config``),
    on the reduced model (``settings.slab == "reduced"``, the default) or on the run's slab.
    """
    from lis_dft.analysis.energetics import _structure, surface_key
    from lis_dft.structures.reduced import ReducedModel

    settings = settings or BarrierSettings()
    tasks = []
    slab = _structure(record["slab"])
    surface = surface_key(record)
    supercell = results.get("settings", {}).get("slab", {}).get("supercell", [3, 3, 3])
    model = ReducedModel(tuple(supercell[:2]))
    for reactant in DELITHIATIONS:
        if reactant not in record.get("adsorbates", {}):
            continue  # the study's species only (--species), each in vacuum and on the surface
        if reactant in record.get("molecules", {}):
            tasks.append(
                BarrierTask(reactant, "vacuum", _structure(record["molecules"][reactant]), 0)
            )
        data = record.get("adsorbates", {}).get(reactant)
        reported = (results.get("adsorption_energies", {}).get(reactant) or {}).get("best_config")
        best = next(
            (
                c
                for c in (data or {}).get("configs", [])
                if c["id"] == reported and c.get("relaxed")
            ),
            None,
        )
        if best is None:
            continue
        initial, n_slab = _structure(best), len(slab)
        if settings.slab == "reduced":
            try:
                initial, n_slab = reduced_initial(initial, slab, model, settings.fixed_layers)
            except ParameterError:
                pass  # a slab thinner or smaller than the reduced model: the run's own slab
        tasks.append(BarrierTask(reactant, surface, initial, n_slab, config=best["id"]))
    return tasks


#: revision of the end-point rules per environment (part of the job identity: a change of
#: rule must not reuse paths built by the old one); vacuum 2: the S atoms held as well
RULES = {"vacuum": 2, "surface": 1}
#: revision of the ODE optimizer (part of the identity of a path that uses it); 2: its
#: residual is the per-atom NEB force of every image, climbing image included
ODE_REVISION = 2
#: revision of how the path is built (part of every path's identity); 2: the final state
#: is moved onto the periodic images nearest the initial state before the interpolation
#: (before, a final Li wrapped into the cell made IDPP drag it across the cell: the
#: Li2S2/LiI(100) path of benchmarks/default_run_ft4 ran 19 Å for a 4.7 Å move and its
#: climbing image never converged)
PATH_REVISION = 2


def _key(task: BarrierTask, calc: dict[str, Any], settings: BarrierSettings) -> str:
    rule = RULES["vacuum" if task.environment == "vacuum" else "surface"]
    payload = json.dumps(
        {"s": task.initial.as_dict(), "calc": calc, "settings": settings.as_dict()}
        | ({"rule": rule} if rule > 1 else {})
        | {"path": PATH_REVISION}
        | (
            {"ode": ODE_REVISION} if "ODE" in (settings.optimizer, settings.climb_optimizer) else {}
        ),
        sort_keys=True,
        default=str,
    ).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def barrier_flow(
    tasks: list[BarrierTask], calc: dict[str, Any], settings: BarrierSettings
) -> tuple[Flow, dict[tuple[str, str], str]]:
    """One job per path, with ids that hash the initial state, calculator and settings."""
    jobs, index = [], {}
    for t in tasks:
        j = delithiation_barrier(
            t.initial, t.n_slab, t.reactant, t.environment, calc, settings.as_dict()
        )
        j.name = f"barrier {t.reactant} ({t.environment})"
        key = _key(t, calc, settings)
        j.set_uuid(str(uuid.uuid5(_NAMESPACE, key)))
        j.metadata = {"lis_dft_key": f"barrier/{t.reactant}/{t.environment}"}
        c = ts_check(j.output, t.n_slab, calc)
        c.name = f"TS check {t.reactant} ({t.environment})"
        c.set_uuid(str(uuid.uuid5(_NAMESPACE, f"{key}/ts-check/{MODE_REVISION}")))
        c.metadata = {"lis_dft_key": f"barrier/{t.reactant}/{t.environment}/ts-check"}
        jobs += [j, c]
        index[(t.reactant, t.environment)] = c.uuid
    return Flow(jobs, name="lis-dft barriers"), index


def write_path_files(out_dir: Path, images: list[Structure], ts_index: int) -> dict[str, str]:
    """Images (one extxyz), IS, TS and FS (extxyz and POSCAR) of one path."""
    from ase.io import write

    out_dir.mkdir(parents=True, exist_ok=True)
    atoms = [_atoms(im) for im in images]
    write(out_dir / "path.extxyz", atoms, format="extxyz")
    files = {"path": str(out_dir / "path.extxyz")}
    for name, i in (("initial", 0), ("ts", ts_index), ("final", len(images) - 1)):
        write(out_dir / f"{name}.extxyz", atoms[i], format="extxyz")
        images[i].to(filename=str(out_dir / f"{name}.POSCAR"), fmt="poscar")
        files[name] = str(out_dir / f"{name}.extxyz")
    return files


def _load(
    run_dir: Path, settings: BarrierSettings
) -> tuple[dict[str, Any], dict[str, Any], Any, list[BarrierTask]]:
    from lis_dft.dft_workflows.verify import _rederived, load_run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results, record, store = load_run(run_dir)
        results = _rederived(results, record)
    tasks = barrier_tasks(record, results, settings)
    if not tasks:
        raise ParameterError(
            f"{run_dir} holds none of {', '.join(DELITHIATIONS)}: nothing to delithiate. "
            "Run the study with --species including Li2S or Li2S2."
        )
    return results, record, store, tasks


def _calc(results: dict[str, Any]) -> dict[str, Any]:
    c = results["calculator"]
    return {"name": c["name"], "d3": c["d3"]["damping"], **c.get("kwargs", {})}


def _outputs(
    store: Any, tasks: list[BarrierTask], index: dict[tuple[str, str], str]
) -> list[tuple[BarrierTask, dict[str, Any], list[Structure]]]:
    """(task, job output, images) of every finished path."""
    out = []
    for t in tasks:
        doc = store.docs_store.query_one({"uuid": index[(t.reactant, t.environment)]})
        if doc is None:
            continue  # pending (stopped by max_minutes): the next call resumes
        o = store.get_output(doc["uuid"], load=True)
        images = [Structure.from_dict(d) if isinstance(d, dict) else d for d in o["images"]]
        out.append((t, o, continuous(images)))  # also paths stored before jobs joined them
    return out


def _run_one(
    run_dir: str, settings: dict[str, Any], reactant: str, environment: str, deadline: float | None
) -> str:
    """Compute one path in a pool worker (its job goes to the run's store)."""
    from lis_dft.dft_workflows.runner import run_flow

    if deadline is not None and time.time() > deadline:
        return "pending"
    s = BarrierSettings(**settings)
    results, _, store, tasks = _load(Path(run_dir), s)
    task = next(t for t in tasks if (t.reactant, t.environment) == (reactant, environment))
    flow, _ = barrier_flow([task], _calc(results), s)
    run_flow(flow, store, Path(run_dir) / "jobs", False, None, in_order=True)
    return "done"


def _run_parallel(
    run_dir: Path,
    settings: BarrierSettings,
    tasks: list[BarrierTask],
    workers: int,
    max_seconds: float | None,
    progress: bool,
) -> None:
    """The paths in ``workers`` processes, largest first, each pulling the next path.

    The store is safe for several processes (file lock, merge on write), and every job
    id is the one the sequential flow gives, so a parallel run resumes a sequential one
    and the other way round.
    """
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed

    deadline = None if max_seconds is None else time.time() + max_seconds
    order = sorted(tasks, key=lambda t: -len(t.initial))
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # the spawned workers' torch: one thread each
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
        ) as pool:
            futures = {
                pool.submit(
                    _run_one,
                    str(run_dir),
                    settings.as_dict(),
                    t.reactant,
                    t.environment,
                    deadline,
                ): t
                for t in order
            }
            for f in as_completed(futures):
                t = futures[f]
                state = f.result()  # a failed path raises here, as it would sequentially
                if progress:
                    print(f"barrier {t.reactant} ({t.environment}): {state}", flush=True)
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before


def run_barriers(
    run_dir: str | Path,
    settings: BarrierSettings | None = None,
    progress: bool = True,
    max_minutes: float | None = None,
    workers: int = 1,
) -> list[dict[str, Any]]:
    """Barriers of a finished run: computed (resumable), written, added to results.json.

    ``workers`` > 1 computes the paths side by side in that many processes, one torch
    thread each. Measured on the default study (2 cores): no gain, 8 min 19 s against
    8 min 14 s one after the other, because one path (Li2S2 on LiI(100)) is most of the
    work and a one-thread call in a shared machine took 0.39 s against 0.25 s on two
    threads alone; over many paths of similar size (a catalyst comparison) the pair does
    1.3x the calls per second. Hence the default 1.
    """
    from lis_dft.analysis.outputs import write_outputs
    from lis_dft.dft_workflows.runner import run_flow

    settings = settings or BarrierSettings()
    run_dir = Path(run_dir).absolute()
    results, record, store, tasks = _load(run_dir, settings)
    flow, index = barrier_flow(tasks, _calc(results), settings)
    max_seconds = None if max_minutes is None else 60 * max_minutes
    if workers < 1:
        raise ParameterError(f"--workers must be >= 1, got {workers}.")
    store.connect()
    pending = [
        t
        for t in tasks
        if store.docs_store.query_one({"uuid": index[(t.reactant, t.environment)]}) is None
    ]
    if workers > 1 and len(pending) > 1:
        _run_parallel(run_dir, settings, pending, min(workers, len(pending)), max_seconds, progress)
        results, record, store, tasks = _load(run_dir, settings)  # the workers' outputs
    else:
        run_flow(flow, store, run_dir / "jobs", progress, max_seconds, in_order=True)
    out = []
    for t, o, images in _outputs(store, tasks, index):
        r = o["result"]
        r["path_A"] = path_coordinate([im.cart_coords for im in images])  # continuous path
        r["calculator"] = results["calculator"]
        r["initial_config"] = t.config
        from lis_dft.analysis.energetics import _structure

        slab_atoms = len(_structure(record["slab"]))
        r["slab_model"] = (
            "vacuum"
            if t.environment == "vacuum"
            else f"reduced ({t.n_slab} slab atoms, {settings.fixed_layers} layers fixed)"
            if t.n_slab != slab_atoms
            else f"the run's slab ({t.n_slab} atoms)"
        )
        folder = run_dir / "barriers" / f"{t.reactant}_{t.environment}"
        r["files"] = {
            k: str(Path(v).relative_to(run_dir))
            for k, v in write_path_files(folder, images, r["ts_index"]).items()
        }
        out.append(r)
    from lis_dft.dft_workflows.verify import with_latest_sections

    results = with_latest_sections(results, run_dir, "barriers")
    results["barriers"] = out
    write_outputs(results, run_dir)
    return out


def computed_paths(
    run_dir: str | Path, settings: BarrierSettings | None = None
) -> list[tuple[BarrierTask, dict[str, Any], list[Structure]]]:
    """The barrier paths a run's store holds for ``settings``: (task, job output, images).

    Raises
    ------
    ParameterError
        If none is computed with these settings (what to run instead).

    """
    settings = settings or BarrierSettings()
    run_dir = Path(run_dir).absolute()
    results, _, store, tasks = _load(run_dir, settings)
    _, index = barrier_flow(tasks, _calc(results), settings)
    done = _outputs(store, tasks, index)
    if not done:
        raise ParameterError(
            f"{run_dir} has no computed barrier with these settings: run 'lis-dft barriers "
            f"{run_dir}' first (same --images, --spring, --fmax)."
        )
    return done
