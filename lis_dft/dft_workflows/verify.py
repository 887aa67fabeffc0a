"""``lis-dft verify``: DFT single points on the minima a finished study found.

For a finished run folder this module

1. reads the run's energy record (relaxed bulk phases, molecules, clean slab and every
   relaxed adsorbate configuration) from the run's own job store;
2. carries each slab geometry onto the reduced model
   (:mod:`lis_dft.structures.reduced`), unchanged where the relaxation left it;
3. evaluates every geometry with the DFT calculator (GPAW PBE + D3(zero), LCAO dzp by
   default) *and* with the run's own calculator, one jobflow job per single point, with
   deterministic ids in the run's store, so an interrupted verify resumes where it
   stopped;
4. with ``counterpoise`` (LCAO), evaluates each adsorbate slab's two fragments in the
   full basis (the partner's atoms as ghosts) for the Boys-Bernardi correction.

The comparison itself (adsorption energies by both methods, rankings, errors, verdicts)
is pure analysis: :mod:`lis_dft.analysis.verification`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import Flow, Job, job
from pymatgen.core import Structure

from lis_dft.dft_workflows.calculators import CalculatorSpec
from lis_dft.dft_workflows.singlepoint import evaluate
from lis_dft.errors import ParameterError
from lis_dft.structures.reduced import ReducedModel, reduce_slab, reduced_height
from lis_dft.system import halogen_references

_NAMESPACE = uuid.UUID("0c7a6d1e-5f43-4b8e-9d2a-71e3c4b5a6f9")
#: Sections other commands add to a run's results.json; kept when it is re-derived.
ADDED_LATER = ("verification", "free_energy", "barriers")
#: Bulk phases whose energies enter formation energies, besides the run's catalyst crystal.
BULK_REFERENCES = ("Li", "S", "Li2S", "Li2S2")


def default_dft_spec() -> CalculatorSpec:
    """GPAW PBE + D3(zero), LCAO dzp: the default DFT check."""
    return CalculatorSpec("gpaw", "zero", {"mode": "lcao", "basis": "dzp"})


@dataclass
class VerifySettings:
    """What ``verify`` computes.

    Parameters
    ----------
    dft
        The DFT calculator (default: :func:`default_dft_spec`).
    model
        Reduced model; ``repeats`` must be the run's in-plane supercell.
    counterpoise
        Boys-Bernardi correction of LCAO basis-set superposition. Per adsorbate
        configuration four more single points: each fragment (slab, molecule) at its
        geometry in the complex, once in its own basis and once in the full basis (the
        partner as ghost atoms). The own-basis fragments also give the decomposition of
        E_A into slab deformation, molecule deformation and interaction, by both
        methods. Ignored in plane-wave mode, which has no BSSE.
    max_configs
        Relaxed configurations per adsorbate to check, lowest (by the run) first;
        ``None`` = all.
    bulk
        Also check the bulk references and molecules (formation energies).
    adsorbates
        Check only these adsorbates (and, with ``barriers``, only their delithiation
        paths); ``None`` = every adsorbate of the run. The others are reported as not
        checked.
    barriers
        Also check the initial state, TS and final state of every barrier path of the
        run (three single points per path).
    adsorption
        Check the adsorbates' relaxed minima (``False``: only the bulk references and/or
        the barrier paths, e.g. as one of several processes sharing a run's store).
    tolerance
        |E_A(MLIP) - E_A(DFT)| within which an adsorbate "agrees", eV.
    max_minutes
        Start no new single point after this many minutes; verify.json is written with
        what is done (missing points marked), and the next call resumes.

    """

    dft: CalculatorSpec = field(default_factory=default_dft_spec)
    model: ReducedModel = field(default_factory=ReducedModel)
    counterpoise: bool = True
    max_configs: int | None = None
    bulk: bool = True
    adsorbates: tuple[str, ...] | None = None
    barriers: bool = True
    tolerance: float = 0.2
    max_minutes: float | None = None
    adsorption: bool = True

    def __post_init__(self) -> None:
        if not (self.adsorption or self.bulk or self.barriers):
            raise ParameterError(
                "--no-adsorption --no-bulk --no-barriers leaves nothing to check: drop one."
            )
        if self.tolerance <= 0:
            raise ParameterError(f"verify tolerance must be positive, got {self.tolerance}.")
        if self.max_configs is not None and self.max_configs < 1:
            raise ParameterError(f"--max-configs must be >= 1, got {self.max_configs}.")
        if self.adsorbates is not None:
            self.adsorbates = tuple(self.adsorbates)
            if not self.adsorbates:
                raise ParameterError("--adsorbates needs at least one adsorbate name.")

    @property
    def use_counterpoise(self) -> bool:
        """Counterpoise applies to LCAO GPAW only."""
        return (
            self.counterpoise
            and self.dft.name == "gpaw"
            and self.dft.kwargs.get("mode", "lcao") == "lcao"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (provenance)."""
        d = asdict(self)
        d["dft"] = self.dft.describe()
        d["counterpoise_applied"] = self.use_counterpoise
        return d


@dataclass
class Task:
    """One geometry to evaluate by both methods (or the DFT method only, for ghosts)."""

    key: str
    kind: str  # bulk, molecule, slab, adslab, frag_slab, frag_molecule, cp_slab, cp_molecule
    structure: Structure
    ghosts: list[int] | None = None
    adsorbate: str | None = None
    config_id: str | None = None


# --------------------------------------------------------------------------- loading


def _collect_doc(store: Any) -> dict[str, Any] | None:
    store.connect()
    # a folder reused with other settings holds several studies: take the latest
    return store.docs_store.query_one(
        {"metadata.lis_dft_key": "collect"}, sort={"completed_at": -1}
    )


def load_run(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """Return (results.json, energy record, job store) of a finished local run.

    Raises
    ------
    ParameterError
        If the folder is not a finished ``lis-dft run`` (with the reason and what to do).

    """
    from lis_dft.dft_workflows.stores import local_job_store

    run_dir = Path(run_dir)
    results_path = run_dir / "results.json"
    if not results_path.is_file():
        raise ParameterError(
            f"{run_dir} has no results.json: give the folder of a finished 'lis-dft run'."
        )
    try:
        results = json.loads(results_path.read_text())
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{results_path} is not valid JSON ({exc}).") from exc
    if results.get("source") != "local":
        raise ParameterError(
            f"{results_path} comes from source {results.get('source')!r}; verify checks local runs."
        )
    if not (run_dir / "store" / "jobs.json").is_file():
        raise ParameterError(
            f"{run_dir} has no job store (store/jobs.json): verify needs the run's relaxed "
            "structures, which only the store keeps. Run 'lis-dft run' with this --out again."
        )
    store = local_job_store(run_dir / "store")
    doc = _collect_doc(store)
    if doc is None:
        raise ParameterError(
            f"The store in {run_dir} has no finished 'collect' job; resume the run."
        )
    record = store.get_output(doc["uuid"], load=True)
    return results, record, store


def _structure(r: dict[str, Any]) -> Structure:
    s = r["structure"]
    return Structure.from_dict(s) if isinstance(s, dict) else s


# ---------------------------------------------------------------------------- tasks


def barrier_tasks(
    run_dir: Path,
    barriers: list[dict[str, Any]],
    n_slab: int,
    settings: VerifySettings,
    clean: Structure,
) -> list[Task]:
    """Initial state, TS and final state of each computed path (``lis-dft barriers``).

    Read from the run's ``barriers/<path>/`` files. Paths computed on the reduced model (the
    default of ``lis-dft barriers``) and vacuum paths are evaluated as they are; paths on
    the run's own slab are carried onto the reduced model, one window for all three.
    """
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    from lis_dft.analysis.verification import BARRIER_POINTS
    from lis_dft.structures.reduced import _unwrapped_adsorbate

    height = reduced_height(clean, n_slab, settings.model)
    tasks = []
    for b in barriers:
        reactant = b["reaction"].split(" ->")[0]
        files = b.get("files") or {}
        paths = {p: run_dir / files[p] for p in BARRIER_POINTS if files.get(p)}
        if len(paths) < len(BARRIER_POINTS) or not all(p.is_file() for p in paths.values()):
            continue  # a path without its files is not checked (verify says so: incomplete)
        points = {p: AseAtomsAdaptor.get_structure(read(f)) for p, f in paths.items()}
        if b["environment"] != "vacuum" and not str(b.get("slab_model", "")).startswith("reduced"):
            # one window for all three (the initial state's), so they hold the same atoms
            centre = tuple(_unwrapped_adsorbate(points["initial"], n_slab)[:, :2].mean(axis=0))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                points = {
                    p: reduce_slab(s, n_slab, settings.model, centre, height, reference=clean)
                    for p, s in points.items()
                }
        for point, s in points.items():
            key = f"neb/{reactant}/{b['environment']}/{point}"
            tasks.append(Task(key, "neb", s, adsorbate=reactant, config_id=point))
    return tasks


def verification_tasks(record: dict[str, Any], settings: VerifySettings) -> list[Task]:
    """Every geometry ``verify`` evaluates, with deterministic keys."""
    from lis_dft.analysis.energetics import best_config

    tasks: list[Task] = []
    if settings.bulk:
        # the references, then the catalyst crystal(s) and their halogen molecules X2
        bulk = record.get("bulk", {})
        names = [n for n in BULK_REFERENCES if n in bulk] + [
            n for n in bulk if n not in BULK_REFERENCES
        ]
        for name in names:
            tasks.append(Task(f"bulk/{name}", "bulk", _structure(bulk[name])))
        for ref in halogen_references().values():
            if ref in record.get("molecules", {}):
                mol = _structure(record["molecules"][ref])
                tasks.append(Task(f"molecule/{ref}", "molecule", mol))
    if not settings.adsorption:
        return tasks
    clean = _structure(record["slab"])
    n_slab = len(clean)
    height = reduced_height(clean, n_slab, settings.model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tasks.append(
            Task("slab", "slab", reduce_slab(clean, n_slab, settings.model, height=height))
        )
    for ads, data in record.get("adsorbates", {}).items():
        if settings.adsorbates is not None and ads not in settings.adsorbates:
            continue
        tasks.append(
            Task(f"molecule/{ads}", "molecule", _structure(record["molecules"][ads]), adsorbate=ads)
        )
        relaxed = [c for c in data["configs"] if c.get("relaxed") and c.get("structure")]
        # the configuration the run reports (lowest with adsorbate and surface intact)
        # first, then the rest by energy: --max-configs 1 checks what the user reads
        reported = best_config(relaxed)
        relaxed.sort(key=lambda c: (c is not reported, c["energy"]))
        seen: set[str] = set()
        chosen = []
        for c in relaxed:
            if c["id"] not in seen:
                seen.add(c["id"])
                chosen.append(c)
        for c in chosen[: settings.max_configs]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reduced = reduce_slab(
                    _structure(c), n_slab, settings.model, height=height, reference=clean
                )
            n_red = len(reduced) - (len(_structure(c)) - n_slab)
            base = f"adslab/{ads}/{c['id']}"
            tasks.append(Task(base, "adslab", reduced, adsorbate=ads, config_id=c["id"]))
            if settings.use_counterpoise:
                ads_idx = list(range(n_red, len(reduced)))
                slab_idx = list(range(n_red))
                frag_slab = reduced.copy()
                frag_slab.remove_sites(ads_idx)
                frag_mol = reduced.copy()
                frag_mol.remove_sites(slab_idx)
                cid = c["id"]
                tasks += [
                    Task(f"frag/{ads}/{cid}/slab", "frag_slab", frag_slab, None, ads, cid),
                    Task(f"frag/{ads}/{cid}/molecule", "frag_molecule", frag_mol, None, ads, cid),
                    Task(f"cp/{ads}/{cid}/slab", "cp_slab", reduced, ads_idx, ads, cid),
                    Task(f"cp/{ads}/{cid}/molecule", "cp_molecule", reduced, slab_idx, ads, cid),
                ]
    return tasks


# ----------------------------------------------------------------------------- jobs


@job(name="single point")
def single_point(
    structure: Structure, calculator: dict[str, Any], ghosts: list[int] | None = None
) -> dict[str, Any]:
    """Jobflow job around :func:`lis_dft.dft_workflows.singlepoint.evaluate`."""
    return evaluate(structure, calculator, ghosts)


def geometry_payload(structure: Structure) -> dict[str, Any]:
    """The geometry as a job id sees it: species, lattice and fractional coordinates, rounded.

    Rounded (lattice to 1e-6 Å, fractional coordinates to 1e-8) so that the id does not
    depend on the last bits of floating-point arithmetic, which differ between processors
    (numpy's SIMD reductions): a store computed on one machine is found on another.
    """
    lattice = np.round(structure.lattice.matrix, 6) + 0.0  # + 0.0: no -0.0
    frac = np.round(structure.frac_coords, 8) + 0.0
    return {
        "species": [str(sp) for sp in structure.species],
        "lattice": lattice.tolist(),
        "frac": frac.tolist(),
    }


def _job_key(task: Task, method: str, calc: dict[str, Any], legacy: bool = False) -> str:
    geometry = task.structure.as_dict() if legacy else geometry_payload(task.structure)
    payload = json.dumps(
        {"s": geometry, "calc": calc, "ghosts": task.ghosts},
        sort_keys=True,
        default=str,
    ).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def _job_uuid(task: Task, method: str, calc: dict[str, Any], legacy: bool = False) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{method}/{_job_key(task, method, calc, legacy)}"))


def stored_uuids(store: Any) -> set[str]:
    """Uuids of the jobs already in a (connected) job store."""
    return {d["uuid"] for d in store.docs_store.query({}, properties=["uuid"])}


def verify_flow(
    tasks: list[Task],
    dft: CalculatorSpec,
    mlip: CalculatorSpec,
    stored: set[str] | None = None,
) -> tuple[Flow, dict[tuple[str, str], str]]:
    """Flow of single points: DFT for every task, the run's calculator for non-ghost ones.

    Returns the Flow and ``{(task key, "dft"|"mlip"): job uuid}``. Ids hash the
    geometry, the calculator and the ghosts, so the same check is never computed twice.
    The order is the order of value: every MLIP point (cheap) first, then DFT for the
    references, the clean slab and every adsorbate configuration (raw E_A), the initial
    state, TS and final state of every barrier path, then the counterpoise points
    configuration by configuration, each adsorbate's lowest first, so
    a verify stopped by ``--max-minutes`` has corrected the reported minima first.

    ``stored`` (the uuids already in the run's store) lets a point computed before the
    rounded geometry key (:func:`geometry_payload`) be found under its old id on the
    machine that computed it, instead of being computed again.
    """
    jobs: list[Job] = []
    index: dict[tuple[str, str], str] = {}
    # barrier points (raw, complete on their own) before the counterpoise refinement of E_A
    base = {"bulk": 0, "molecule": 1, "slab": 2, "adslab": 3, "neb": 3.5}
    rank: dict[tuple[str | None, str | None], int] = {}
    for t in tasks:  # tasks list each adsorbate's configurations lowest first
        if t.kind == "adslab":
            rank[(t.adsorbate, t.config_id)] = sum(1 for k in rank if k[0] == t.adsorbate)

    def order(t: Task) -> tuple:
        if t.kind in base:
            return (base[t.kind], 0, len(t.structure))
        return (4, rank.get((t.adsorbate, t.config_id), 0), str(t.adsorbate), t.key)

    seen: set[str] = set()
    for method, spec in (("mlip", mlip), ("dft", dft)):
        calc = {"name": spec.name, "d3": spec.d3, **spec.kwargs}
        for task in sorted(tasks, key=order):
            if method == "mlip" and task.ghosts:
                continue
            uid = _job_uuid(task, method, calc)
            if stored is not None and uid not in stored:
                legacy = _job_uuid(task, method, calc, legacy=True)
                uid = legacy if legacy in stored else uid
            index[(task.key, method)] = uid
            if uid in seen:  # the same geometry twice (a TS at an end point): one job
                continue
            seen.add(uid)
            j = single_point(task.structure, calc, task.ghosts)
            j.name = f"{method} single point {task.key}"
            j.set_uuid(uid)
            j.metadata = {"lis_dft_key": f"verify/{method}/{task.key}", "verify": True}
            jobs.append(j)
    return Flow(jobs, name="lis-dft verify"), index


def gather(
    tasks: list[Task], index: dict[tuple[str, str], str], store: Any
) -> dict[str, dict[str, Any]]:
    """Outputs per task: ``{key: {"kind", "adsorbate", "config_id", "dft": out, "mlip": out}}``."""
    out: dict[str, dict[str, Any]] = {}
    for t in tasks:
        entry: dict[str, Any] = {
            "kind": t.kind,
            "adsorbate": t.adsorbate,
            "config_id": t.config_id,
            "formula": t.structure.composition.formula,
            "n_atoms": len(t.structure),
        }
        for method in ("dft", "mlip"):
            uid = index.get((t.key, method))
            if uid is None:
                continue
            doc = store.docs_store.query_one({"uuid": uid}, properties=["output"])
            if doc is not None:
                o = doc["output"]
                entry[method] = {k: o[k] for k in ("energy", "max_force", "seconds", "n_atoms")}
        out[t.key] = entry
    return out


def run_verify(
    run_dir: str | Path,
    settings: VerifySettings | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Verify a finished run; write verify.json, update results.json, figures and report.

    Returns the verification summary (see :func:`lis_dft.analysis.verification.summarize`).
    """
    from lis_dft.analysis.outputs import write_outputs
    from lis_dft.analysis.verification import summarize
    from lis_dft.dft_workflows.runner import preflight, run_flow
    from lis_dft.fileio import atomic_write_text
    from lis_dft.provenance import provenance

    settings = settings or VerifySettings()
    run_dir = Path(run_dir).absolute()
    results, record, store, settings, tasks, mlip = prepare(run_dir, settings)
    preflight(settings.dft.name, _elements(record))
    flow, index = verify_flow(tasks, settings.dft, mlip, stored_uuids(store))
    max_seconds = None if settings.max_minutes is None else 60 * settings.max_minutes
    stats = run_flow(flow, store, run_dir / "jobs", progress, max_seconds, in_order=True)
    energies = gather(tasks, index, store)
    summary = summarize(
        energies,
        results,
        settings.tolerance,
        settings.use_counterpoise,
        adsorbates=settings.adsorbates,
        barriers=settings.barriers,
        adsorption=settings.adsorption,
    )
    summary.update(
        {
            "settings": settings.as_dict(),
            "mlip": mlip.describe(),
            "timing": stats.as_dict(),
            "provenance": provenance(),
        }
    )
    atomic_write_text(run_dir / "verify.json", json.dumps(summary, indent=2, default=str))
    results = with_latest_sections(results, run_dir, "verification")
    results["verification"] = summary
    write_outputs(results, run_dir)
    return summary


def _elements(record: dict[str, Any]) -> set[str]:
    return {el.symbol for r in record["bulk"].values() for el in _structure(r).composition}


def prepare(
    run_dir: Path, settings: VerifySettings
) -> tuple[dict[str, Any], dict[str, Any], Any, VerifySettings, list[Task], CalculatorSpec]:
    """Everything verify evaluates for one run, loaded once.

    Returns the run's results (re-derived), record, store, the settings fitted to the
    run's supercell, the tasks and the run's own calculator: what :func:`run_verify`
    evaluates and :mod:`lis_dft.dft_workflows.reference_import` reads back.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen's site-property merge notes on reload
        results, record, store = load_run(run_dir)
    results = _rederived(results, record)
    if settings.adsorbates is not None:
        known = list(record.get("adsorbates", {}))
        unknown = [a for a in settings.adsorbates if a not in known]
        if unknown:
            raise ParameterError(
                f"--adsorbates: {', '.join(unknown)} not in the run {run_dir} "
                f"(its adsorbates: {', '.join(known) or 'none'})."
            )
    run_calc = results["calculator"]
    mlip = CalculatorSpec(run_calc["name"], run_calc["d3"]["damping"], run_calc.get("kwargs", {}))
    supercell = results.get("settings", {}).get("slab", {}).get("supercell", [3, 3, 3])
    model = settings.model
    if tuple(model.repeats) != tuple(supercell[:2]):
        model = ReducedModel(tuple(supercell[:2]), model.lateral, model.layers, model.vacuum)
        settings = VerifySettings(**{**settings.__dict__, "model": model})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen's site-property merge notes
        tasks = verification_tasks(record, settings)
        barriers = checked_barriers(results.get("barriers") or [], settings)
        if barriers:
            clean = _structure(record["slab"])
            tasks += barrier_tasks(run_dir, barriers, len(clean), settings, clean)
    return results, record, store, settings, tasks, mlip


def checked_barriers(
    barriers: list[dict[str, Any]], settings: VerifySettings
) -> list[dict[str, Any]]:
    """The run's barrier paths this verify checks (none with ``barriers=False``)."""
    if not settings.barriers:
        return []
    if settings.adsorbates is None:
        return list(barriers)
    return [b for b in barriers if b["reaction"].split(" ->")[0] in settings.adsorbates]


def with_latest_sections(results: dict[str, Any], run_dir: Path, own: str) -> dict[str, Any]:
    """``results`` with the :data:`ADDED_LATER` sections as results.json holds them now.

    A command that ran for an hour (verify) must not drop what another command added to
    the same run meanwhile (barriers): every section except its ``own`` is taken from
    the file on disk just before writing.
    """
    path = Path(run_dir) / "results.json"
    try:
        on_disk = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return results
    for key in ADDED_LATER:
        if key != own and key in on_disk:
            results[key] = on_disk[key]
    return results


def _rederived(results: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """results.json recomputed from the run's energy record by the current analysis code.

    The flags and best configurations verify compares against are then those of this
    lis-dft, not of whichever version wrote results.json; run metadata is kept.
    """
    from lis_dft.analysis.results import build_results

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_results(
            record,
            calculator=results["calculator"],
            settings=results.get("settings", {}),
            provenance=results.get("provenance", {}),
            timing=results.get("timing"),
        ) | {k: results[k] for k in ADDED_LATER if k in results}
