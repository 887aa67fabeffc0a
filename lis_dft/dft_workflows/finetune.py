"""Fine-tune a SevenNet model on the DFT reference set, validated on held-out families.

``lis-dft finetune`` wraps SevenNet's own training machinery (its checkpoint loader,
graph builder, ``Trainer`` and weighted Huber losses) on CPU:

Labels
    The PBE part of each reference frame (``energy_pbe``; forces minus ``forces_d3``):
    the model stays a PBE potential and lis-dft adds D3(zero) at run time, as for the
    foundation models. Relaxed adsorbate frames with a counterpoise correction
    (``counterpoise.json``) train on ``energy_pbe + BSSE``, i.e. on basis-set-corrected
    adsorption energies. Adsorbate frames without one, and the steps of imported DFT
    relaxations (kind ``relaxation``), train on forces only (energy
    weight 0): their raw LCAO energies would teach the model the 0.7-1.1 eV
    basis-set overbinding. The plane-wave rigid-molecule E(V) scans of
    ``<reference>/ev_scans`` (:mod:`~lis_dft.dft_workflows.reference_ev`) train their
    forces, and their energies against the scan's own experimental-volume point only:
    no plane-wave energy is ever compared with an LCAO one. Energy differences are
    trained as such (adsorption, surface, formation, E(V), ring opening, barriers, and
    the slab and molecule deformation energies inside each corrected E_A:
    :func:`difference_terms`, :func:`deformation_terms`).
Energy scale
    GPAW and VASP (the foundation models' data) count total energies from different
    references. A per-element offset, fitted by least squares to the training labels
    minus the base model's predictions, is subtracted from every label first, so
    training moves only what differs chemically; it cancels in every formation and
    adsorption energy (atoms are conserved), and is recorded.
Split
    Whole configuration families are held out (``--hold-out``, default every adsorbate
    at the ``bridge_I-Li`` site): no frame of a held-out family is trained on. The
    held-out score uses :func:`lis_dft.analysis.potential_benchmark.score` on the bulk,
    molecule and slab frames plus the held-out adsorbate frames, so its adsorption
    numbers are held-out numbers. Which weights are kept (``--keep``): the epoch with
    the lowest held-out loss (``best``; the held-out numbers are then optimistic, since
    they chose the epoch), the last epoch (``last``), or the mean of the weights of
    every epoch from ``--average-from`` on (``average``, stochastic weight averaging;
    the held-out families choose nothing, so their numbers are honest).
Output
    ``OUT/model.pth`` (a SevenNet checkpoint that ``--model OUT/model.pth`` loads) and
    ``OUT/finetune.json``: base model, data hashes, split, offsets, settings, learning
    curve and the held-out scores of the base and the fine-tuned model. Each epoch is
    checkpointed (``OUT/last.pth``), so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, fields, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np

from lis_dft.analysis.potential_benchmark import adsorption_references
from lis_dft.dft_workflows.reference_ev import EV_DIR, EV_KIND
from lis_dft.dft_workflows.reference_set import DEFAULT_DIR, REFERENCE, read_frames
from lis_dft.errors import ParameterError
from lis_dft.fileio import atomic_write_text

DEFAULT_HOLD_OUT = (
    "Li2S@LiI_100/bridge_I-Li",
    "Li2S2@LiI_100/bridge_I-Li",
    "S8@LiI_100/bridge_I-Li",
)


#: learning-rate schedules of :class:`FinetuneSettings` (stepped once per epoch)
SCHEDULES = ("constant", "cosine")
#: frames of an adsorbate on a surface: E_A frames and the steps of DFT relaxations
#: (``reference_import.import_relaxation``)
ON_SURFACE_KINDS = ("adslab", "relaxation")
#: which weights :func:`train` keeps in model.pth (:class:`FinetuneSettings`.keep)
KEEP_RULES = ("best", "last", "average")


@dataclass(frozen=True)
class FinetuneSettings:
    """What to train and how (every field goes into finetune.json)."""

    base: str = "7net-mf-0"
    modal: str | None = "PBE"
    epochs: int = 20
    lr: float = 1e-4
    batch_size: int = 2
    force_weight: float = 0.1
    difference_weight: float = 1.0
    bulk_weight: float = 1.0
    loss: str = "mse"
    huber_delta: float = 0.01
    hold_out: tuple[str, ...] = DEFAULT_HOLD_OUT
    seed: int = 1
    threads: int = 2
    #: train the slab and molecule deformation energies of the counterpoise-corrected
    #: complexes too (:func:`deformation_terms`)
    deformation: bool = True
    #: extra weight of those deformation terms (on top of ``difference_weight``)
    deformation_weight: float = 1.0
    #: learning rate over the epochs: ``constant``, or ``cosine`` (torch's
    #: CosineAnnealingLR through SevenNet's Trainer, from ``lr`` to 0 at the last epoch)
    schedule: str = "constant"
    #: weights kept in model.pth: ``best`` (lowest held-out loss), ``last``, or
    #: ``average`` (mean of the weights of epochs ``average_from`` .. ``epochs``)
    keep: str = "best"
    average_from: int = 2
    #: train the plane-wave rigid-molecule E(V) scans of ``<reference>/ev_scans`` too
    #: (alpha-S's volume; :mod:`~lis_dft.dft_workflows.reference_ev`)
    ev_scans: bool = True
    #: extra weight of those E(V) terms (on top of ``bulk_weight``)
    ev_weight: float = 1.0
    #: (glob, factor) pairs: every training difference whose name matches the glob
    #: (``fnmatch``, e.g. ``"E(V) bulk/LiI/*"``) weighs ``factor`` times more
    #: (:func:`reweighted`; the names are those the training log lists)
    term_weights: tuple[tuple[str, float], ...] = ()
    #: also train the surface excess and catalyst formation of runs imported from a
    #: verify (off: they hold the catalyst at the last potential's lattice;
    #: :func:`difference_terms`)
    imported_catalyst: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ParameterError(f"--epochs must be >= 1, got {self.epochs}.")
        if not 0 < self.lr < 1:
            raise ParameterError(f"--lr must be between 0 and 1, got {self.lr}.")
        if self.batch_size < 1:
            raise ParameterError(f"--batch-size must be >= 1, got {self.batch_size}.")
        if self.bulk_weight < 0:
            raise ParameterError(f"--bulk-weight must be >= 0, got {self.bulk_weight}.")
        if self.ev_weight < 0:
            raise ParameterError(f"--ev-weight must be >= 0, got {self.ev_weight}.")
        if self.deformation_weight < 0:
            raise ParameterError(
                f"--deformation-weight must be >= 0, got {self.deformation_weight}."
            )
        if self.term_weights and not self.difference_weight:
            raise ParameterError(
                "--term-weight weighs energy differences, and --difference-weight 0 trains none."
            )
        for glob, factor in self.term_weights:
            if not glob.strip() or factor < 0:
                raise ParameterError(
                    f"--term-weight {glob}={factor}: needs a non-empty name pattern and a "
                    "factor >= 0, e.g. --term-weight 'E(V) bulk/LiI/*=3'."
                )
        if self.difference_weight < 0:
            raise ParameterError(f"--difference-weight must be >= 0, got {self.difference_weight}.")
        if self.loss not in ("mse", "huber"):
            raise ParameterError(f"loss must be 'mse' or 'huber', got {self.loss!r}.")
        if self.schedule not in SCHEDULES:
            raise ParameterError(
                f"--schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}."
            )
        if self.keep not in KEEP_RULES:
            raise ParameterError(
                f"--keep must be one of {', '.join(KEEP_RULES)}, got {self.keep!r}."
            )
        if self.keep == "average" and not 1 <= self.average_from <= self.epochs:
            raise ParameterError(
                f"--average-from must be an epoch between 1 and --epochs ({self.epochs}), "
                f"got {self.average_from}."
            )


@dataclass
class Label:
    """One training/validation frame: PBE labels on the base model's energy scale."""

    config_id: str
    family: str
    atoms: Any
    energy: float
    forces: np.ndarray
    energy_weight: float
    counterpoise: bool
    #: adsorbate frames: config ids of the clean slab and molecule of their E_A
    references: tuple[str, str] | None = None


@dataclass
class FinetuneResult:
    """What ``finetune`` made (also written to finetune.json)."""

    model_path: str
    record: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- labels


def split(frames: list[Any], hold_out: tuple[str, ...]) -> tuple[list[Any], list[Any]]:
    """Training and held-out frames; a family is held out whole, with its fragments."""
    families = {f.info["family"] for f in frames}
    unknown = [h for h in hold_out if h not in families]
    if unknown:
        raise ParameterError(
            f"Unknown --hold-out famil{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(unknown)}: choose from {', '.join(sorted(families))}."
        )
    if not hold_out:
        raise ParameterError("Hold out at least one family (--hold-out), or nothing validates.")
    # a verified complex's counterpoise fragments (family "<family>/fragments") go with it
    held_family = {h for h in hold_out} | {f"{h}/fragments" for h in hold_out}
    held = [f for f in frames if f.info["family"] in held_family]
    train = [f for f in frames if f.info["family"] not in held_family]
    return train, held


def scoring_frames(frames: list[Any], held_frames: list[Any]) -> list[Any]:
    """The frames a held-out score is taken on.

    Every bulk, molecule, slab and barrier frame, and the held-out adsorbate frames and
    relaxation steps (no other adsorbate on a surface).
    """
    held = {f.info["config_id"] for f in held_frames}
    return [
        f
        for f in frames
        if f.info.get("kind") not in ON_SURFACE_KINDS or f.info["config_id"] in held
    ]


def labels(frames: list[Any], bsse: dict[str, float]) -> list[Label]:
    """PBE labels; counterpoise-corrected energies where known, forces only otherwise."""
    out = []
    for f in frames:
        cid = f.info["config_id"]
        adslab = f.info.get("kind") == "adslab"
        # raw LCAO energies of geometries with a molecule near the surface carry its
        # basis-set superposition: forces only unless counterpoise-corrected
        near_surface = f.info.get("kind") in ON_SURFACE_KINDS or (
            f.info.get("kind") == "neb" and "@vacuum/" not in f.info["family"]
        )
        corrected = cid in bsse
        # a plane-wave E(V) scan: differences within the scan only (difference_terms)
        other_basis = f.info.get("kind") == EV_KIND
        energy = float(f.info["energy_pbe"]) + (bsse[cid] if corrected else 0.0)
        forces = np.asarray(f.get_forces()) - np.asarray(f.arrays["forces_d3"])
        atoms = f.copy()
        atoms.calc = None
        out.append(
            Label(
                cid,
                f.info["family"],
                atoms,
                energy,
                forces,
                0.0 if (near_surface and not corrected) or other_basis else 1.0,
                corrected,
                adsorption_references(
                    str(f.info.get("adsorbate") or cid.split("/")[1]),
                    f.info.get("slab_ref"),
                    f.info.get("molecule_ref"),
                )
                if adslab
                else None,
            )
        )
    return out


def element_offsets(items: list[Label], predicted: list[float]) -> dict[str, float]:
    """Per-element offsets (eV/atom) minimising sum (label - prediction - sum_el n_el delta_el)^2."""
    use = [i for i, lab in enumerate(items) if lab.energy_weight > 0]
    elements = sorted({s for i in use for s in items[i].atoms.get_chemical_symbols()})
    a = np.array(
        [[items[i].atoms.get_chemical_symbols().count(el) for el in elements] for i in use],
        dtype=float,
    )
    b = np.array([items[i].energy - predicted[i] for i in use])
    delta, *_ = np.linalg.lstsq(a, b, rcond=None)
    return dict(zip(elements, (float(d) for d in delta), strict=True))


def shifted(lab: Label, offsets: dict[str, float]) -> float:
    """The label moved onto the base model's energy scale."""
    return lab.energy - sum(offsets.get(s, 0.0) for s in lab.atoms.get_chemical_symbols())


def data_hash(reference_dir: Path, ev_scans: bool = True) -> dict[str, str]:
    """sha256 of the files the model is trained on (the plane-wave E(V) scans if ``ev_scans``)."""
    out = {}
    names = (REFERENCE, "counterpoise.json") + ((f"{EV_DIR}/{REFERENCE}",) if ev_scans else ())
    for name in names:
        path = Path(reference_dir) / name
        if path.exists():
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# ---------------------------------------------------------------------------- sevenn


def _graphs(items: list[Label], offsets: dict[str, float], cutoff: float, modal: str | None):
    import torch
    from sevenn import _keys as KEY
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.train.dataload import atoms_to_graph

    out = []
    for lab in items:
        atoms = lab.atoms.copy()
        atoms.info = {"y_energy": shifted(lab, offsets)}
        atoms.arrays["y_force"] = lab.forces
        g = AtomGraphData.from_numpy_dict(atoms_to_graph(atoms, cutoff, transfer_info=False))
        g[KEY.DATA_WEIGHT] = {
            "energy": torch.tensor(lab.energy_weight),
            "force": torch.tensor(1.0),
            "stress": torch.tensor(0.0),
        }
        if modal:
            g[KEY.DATA_MODALITY] = modal
        g.pop(KEY.INFO, None)
        out.append(g)
    return out


def _base_predictions(settings: FinetuneSettings, items: list[Label]) -> list[float]:
    from lis_dft.dft_workflows.calculators import build_calculator

    calc = build_calculator("sevennet", d3="none", model=settings.base)
    out = []
    for lab in items:
        a = lab.atoms.copy()
        a.calc = calc
        out.append(float(a.get_potential_energy()))
    return out


def _loss_functions(settings: FinetuneSettings):
    from sevenn import _keys as KEY
    from sevenn.train.loss import get_loss_functions_from_config

    return get_loss_functions_from_config(
        {
            KEY.LOSS: settings.loss,
            KEY.LOSS_PARAM: {"delta": settings.huber_delta} if settings.loss == "huber" else {},
            KEY.USE_WEIGHT: True,
            KEY.FORCE_WEIGHT: settings.force_weight,
            KEY.IS_TRAIN_STRESS: False,
        }
    )


def _predict(trainer: Any, graphs: list[Any]) -> list[float]:
    """Total energies of the current weights, one graph at a time (eval mode)."""
    from sevenn import _keys as KEY
    from torch_geometric.loader import DataLoader

    trainer.model.eval()
    out = []
    for batch in DataLoader(graphs, batch_size=1):
        out.append(float(trainer.model(batch)[KEY.PRED_TOTAL_ENERGY].detach().sum()))
    return out


def adsorption_triples(
    items: list[Label], adsorbate_frames: range | list[int]
) -> list[tuple[int, int, int]]:
    """(adsorbate frame, clean slab, molecule) index triples into ``items``.

    One triple per adsorbate frame among ``adsorbate_frames`` with an energy label
    (counterpoise-corrected): its E_A against its clean slab and isolated molecule (the
    set's ``slab/relaxed``, or the run's own for frames imported from a verified run), as
    :func:`lis_dft.analysis.potential_benchmark.adsorption_points` defines it.
    """
    index = {lab.config_id: i for i, lab in enumerate(items)}
    out = []
    for j in adsorbate_frames:
        lab = items[j]
        if lab.energy_weight <= 0 or lab.references is None:
            continue
        slab, mol = (index.get(r) for r in lab.references)
        if mol is not None and slab is not None:
            out.append((j, slab, mol))
    return out


@dataclass(frozen=True)
class DifferenceTerm:
    """An energy difference sum_i c_i E(frame_i) (eV) trained against DFT."""

    name: str
    frames: tuple[int, ...]
    coefficients: tuple[float, ...]
    #: multiplies ``difference_weight`` (``bulk_weight`` for formation and E(V) terms)
    weight: float = 1.0


#: Formation energies and E(V) steps are trained per this many atoms (one Li2S formula
#: unit), so that their 0.03 eV/atom target weighs about as much as 0.1 eV of E_A.
PER_ATOMS = 3
#: Elemental references of the formation energies: bulk frame (or molecule) per element.
ELEMENT_REFERENCES = {"Li": "bulk/Li/a1.00", "S": "bulk/S/a1.00", "I": "molecule/I2"}
#: Phases whose LCAO E(V) curve is not trained: LCAO dzp has no minimum for alpha-S
#: (basis-set superposition between the S8 rings compresses it; docs/methods.md). Its
#: E(V) comes from the plane-wave rigid-ring scan instead (reference_ev), where computed.
NO_EV_TERMS = ("bulk/S",)


def reference_groups(index: dict[str, int] | set[str]) -> list[dict[str, Any]]:
    """Frames that share one set of elemental references, and their slabs.

    The built set: compounds ``bulk/<phase>/a1.00`` against :data:`ELEMENT_REFERENCES`,
    slabs ``slab/relaxed`` and ``slab/ideal`` against ``bulk/LiI/a1.00``. Each run imported
    from a verify (``verified/<tag>/``): its relaxed catalyst crystal ``bulk/Li<X>`` against
    its own bcc Li and halogen molecule (S-containing phases are not: see the comment),
    its ``slab`` against that crystal.
    """
    from lis_dft.system import HALOGEN_BONDS

    ids = set(index)
    groups = [
        {
            "elements": dict(ELEMENT_REFERENCES),
            "compounds": sorted(c for c in ids if c.startswith("bulk/") and c.endswith("/a1.00")),
            "slabs": ("slab/relaxed", "slab/ideal"),
            "catalyst": "bulk/LiI/a1.00",
        }
    ]
    prefixes = sorted(
        {c.split("/bulk/")[0] + "/" for c in ids if c.startswith("verified/") and "/bulk/" in c}
    )
    for p in prefixes:
        halogens = [x for x in HALOGEN_BONDS if f"{p}molecule/{x}2" in ids]
        groups.append(
            {
                "elements": {"Li": f"{p}bulk/Li", "S": f"{p}bulk/S"}
                | {x: f"{p}molecule/{x}2" for x in halogens},
                # S-free compounds only (the catalyst crystal): the run's alpha-S sits at
                # the potential's relaxed cell, where LCAO's basis-set superposition between
                # the rings shifts E(S) and with it E_f(Li2S) by ~0.03 eV/atom against the
                # set's experimental cell; formation against S is trained there only
                "compounds": sorted(
                    c for c in ids if c.startswith(f"{p}bulk/") and "S" not in c.split("/")[-1]
                ),
                "slabs": (f"{p}slab",),
                "catalyst": next((f"{p}bulk/Li{x}" for x in halogens), ""),
            }
        )
    return groups


def difference_terms(
    items: list[Label],
    train: range,
    bulk_weight: float = 1.0,
    ev_weight: float = 1.0,
    imported_catalyst: bool = False,
) -> list[DifferenceTerm]:
    """The energy differences the study reports, over the labelled training frames.

    - adsorption: every labelled complex, E(complex) - E(clean slab) - E(molecule);
    - surface excess: E(slab) - (N_slab / N_bulk) E(catalyst crystal) for the clean slabs,
      so that fitting adsorption energies cannot move the slab away from the bulk;
    - formation: every bulk compound against bcc Li, alpha-S and the halogen molecule,
      per :data:`PER_ATOMS` atoms, within each :func:`reference_groups` group (the built
      set at experimental cells; each verified run at its relaxed cells);
    - unless ``imported_catalyst``, a verified run's surface excess is left out, and so is
      its catalyst crystal's formation where the built set holds that crystal at its
      experimental cell. Both sit at the lattice of the potential that made the run, where
      LCAO's error differs from the experimental cell's (LiI at 0.973 a_exp: 0.010-0.019 eV
      per 3 atoms below it in LCAO dzp, 0.010 above in plane waves; the surface term
      passes it on ~30-fold): trained, they pull the next potential's lattice towards the
      last one's (a compressed default compresses its successor; docs/methods.md);
    - E(V): each strained bulk cell against the unstrained one, per :data:`PER_ATOMS` atoms
      (not for :data:`NO_EV_TERMS`, nor for a phase with a plane-wave scan among the
      training frames), and each point of a plane-wave scan (``ev/<phase>/v<factor>``,
      rigid molecules or uniform strain) against the scan's ``v1.000`` point, likewise;
    - ring opening: each opened S8 chain against the intact ring;
    - delithiation: each barrier path's transition and final state against its initial
      state (``.../neb/<reactant>/<env>/{initial,ts,final}``, imported from a verify). The
      three hold the same atoms in one cell, so the raw LCAO difference is the one
      ``verify`` compares barriers with, although their absolute energies near a surface
      are trained as forces only (basis-set superposition, :func:`labels`).

    Per-frame training moves the frames of a difference together (see
    :func:`_difference_epoch`); these terms fix the differences themselves.
    """
    terms = [
        DifferenceTerm(f"E_A {items[a].config_id}", (a, sl, m), (1.0, -1.0, -1.0))
        for a, sl, m in adsorption_triples(items, train)
    ]
    index = {items[i].config_id: i for i in train if items[i].energy_weight > 0}

    def n(cid: str) -> int:
        return len(items[index[cid]].atoms)

    groups = reference_groups(index)
    built = {c.split("/")[1] for c in groups[0]["compounds"] if c in index}
    for k, group in enumerate(groups):
        imported = k > 0  # a verified run's cells, at its potential's lattice
        bulk_of_slab = group["catalyst"]
        if bulk_of_slab in index and (imported_catalyst or not imported):
            for cid in group["slabs"]:
                if cid in index:
                    terms.append(
                        DifferenceTerm(
                            f"surface {cid}",
                            (index[cid], index[bulk_of_slab]),
                            (1.0, -n(cid) / n(bulk_of_slab)),
                        )
                    )
        refs = {el: cid for el, cid in group["elements"].items() if cid in index}
        for cid in group["compounds"]:
            symbols = items[index[cid]].atoms.get_chemical_symbols()
            if cid in refs.values() or not set(symbols) <= set(refs):
                continue
            if imported and not imported_catalyst and cid.split("/")[-1] in built:
                continue
            k = PER_ATOMS / len(symbols)
            frames, coeffs = [index[cid]], [k]
            for el in sorted(set(symbols)):
                frames.append(index[refs[el]])
                coeffs.append(-k * symbols.count(el) / n(refs[el]))
            terms.append(
                DifferenceTerm(f"formation {cid}", tuple(frames), tuple(coeffs), bulk_weight)
            )
    every = {items[i].config_id: i for i in train}
    # a phase with a plane-wave scan takes its E(V) from there, not from LCAO's strained
    # cells (basis-set superposition compresses LCAO lattices: LiI's minimum is at
    # 0.983 a_exp in LCAO dzp, 0.9895 in plane waves; docs/methods.md)
    scanned = {f"bulk/{cid.split('/')[1]}" for cid in every if cid.startswith("ev/")}
    for cid in sorted(index):
        phase, _, strain = cid.rpartition("/a")
        ref = f"{phase}/a1.00"
        if (
            cid.startswith("bulk/")
            and strain != "1.00"
            and ref in index
            and phase not in NO_EV_TERMS
            and phase not in scanned
        ):
            k = PER_ATOMS / n(cid)
            terms.append(
                DifferenceTerm(f"E(V) {cid}", (index[cid], index[ref]), (k, -k), bulk_weight)
            )
    for cid in sorted(every):
        scan, _, point = cid.rpartition("/v")
        ref = f"{scan}/v1.000"
        if cid.startswith("ev/") and point != "1.000" and ref in every:
            k = PER_ATOMS / len(items[every[cid]].atoms)
            terms.append(
                DifferenceTerm(
                    f"E(V) {cid}", (every[cid], every[ref]), (k, -k), bulk_weight * ev_weight
                )
            )
    if "molecule/S8" in index:
        for cid in sorted(index):
            if cid.startswith("molecule/S8/opened"):
                terms.append(
                    DifferenceTerm(
                        f"ring opening {cid}", (index[cid], index["molecule/S8"]), (1.0, -1.0)
                    )
                )
    return terms + delithiation_terms(items, train)


def delithiation_terms(items: list[Label], train: range) -> list[DifferenceTerm]:
    """TS - IS and FS - IS of every imported barrier path whose three points are in training.

    A TS that is the final state itself (a path rising to its end) adds no second term.
    """
    every = {items[i].config_id: i for i in train}
    terms = []
    for cid in sorted(every):
        head, _, point = cid.rpartition("/")
        if "/neb/" not in cid or point != "initial":
            continue
        i0 = every[cid]
        seen = [items[i0].atoms.positions]
        for other in ("final", "ts"):
            j = every.get(f"{head}/{other}")
            if j is None or any(np.allclose(items[j].atoms.positions, p, atol=1e-6) for p in seen):
                continue
            seen.append(items[j].atoms.positions)
            terms.append(DifferenceTerm(f"delithiation {head}/{other}", (j, i0), (1.0, -1.0)))
    return terms


def deformation_terms(
    items: list[Label],
    train: range,
    fragments: dict[str, dict[str, float]],
    weight: float = 1.0,
) -> tuple[list[Label], list[DifferenceTerm]]:
    """Slab and molecule deformation energies of the labelled training complexes.

    A counterpoise-corrected adsorption energy splits exactly into three parts,
    E_A = E_int + (E(slab fragment) - E(clean slab)) + (E(molecule fragment) - E(molecule)),
    where the fragments are the complex's own slab and molecule atoms alone in the
    complex's cell, computed in their own basis (``slab_own``, ``molecule_own`` of
    ``counterpoise.json``). An E_A term alone lets a model trade a too-cheap surface
    deformation against a too-strong interaction (measured on the default potential: a
    surface Li lifted under S8 cost 0.70 eV instead of DFT's 1.05 eV); these terms pin the
    two deformations, and with the E_A term the interaction.

    Parameters
    ----------
    items
        Labelled frames.
    train
        Indices of ``items`` trained on.
    fragments
        config_id -> PBE energies (eV) ``slab_own`` and ``molecule_own`` of its fragments.
    weight
        Weight of each term (times ``difference_weight``).

    Returns
    -------
    The fragment frames, numbered after ``items`` (trained only through the terms), and
    one term per deformation. A fragment identical to its reference (a frozen slab) adds
    nothing and is left out.

    """
    from lis_dft.dft_workflows.reference_counterpoise import fragments as split_fragments

    index = {items[i].config_id: i for i in train if items[i].energy_weight > 0}
    extra: list[Label] = []
    terms: list[DifferenceTerm] = []
    for a, slab, mol in adsorption_triples(items, train):
        lab = items[a]
        parts = fragments.get(lab.config_id)
        if parts is None or "n_slab" not in lab.atoms.info:
            continue
        geometry = split_fragments(lab.atoms)
        for part, ref in (("slab", slab), ("molecule", mol)):
            atoms, clean = geometry[f"{part}_own"][0], items[ref].atoms
            unchanged = (
                len(clean) == len(atoms)
                and np.allclose(clean.cell[:], atoms.cell[:], atol=1e-6)
                and np.allclose(clean.positions, atoms.positions, atol=1e-6)
            )
            if unchanged or items[ref].config_id not in index:
                continue
            atoms.info = {"n_slab": len(atoms) if part == "slab" else 0}
            extra.append(
                Label(
                    f"{lab.config_id}#{part}",
                    lab.family,
                    atoms,
                    float(parts[f"{part}_own"]),
                    np.zeros((len(atoms), 3)),
                    0.0,
                    False,
                )
            )
            terms.append(
                DifferenceTerm(
                    f"{part} deformation {lab.config_id}",
                    (len(items) + len(extra) - 1, ref),
                    (1.0, -1.0),
                    weight,
                )
            )
    return extra, terms


def fragment_energies(reference_dir: Path) -> dict[str, dict[str, float]]:
    """config_id -> PBE energies of the own-basis fragments in counterpoise.json."""
    from lis_dft.dft_workflows.reference_counterpoise import load

    return {
        cid: {k: float(p[k]) for k in ("slab_own", "molecule_own")}
        for cid, p in load(Path(reference_dir))["points"].items()
        if "slab_own" in p and "molecule_own" in p
    }


def parse_term_weight(text: str) -> tuple[str, float]:
    """``"GLOB=FACTOR"`` (``--term-weight``) as ``(glob, factor)``; ParameterError if not."""
    glob, sep, factor = text.rpartition("=")
    try:
        value = float(factor)
    except ValueError:
        value = None
    if not sep or not glob.strip() or value is None:
        raise ParameterError(
            f"--term-weight {text!r}: expected NAME-PATTERN=FACTOR, e.g. "
            "--term-weight 'E(V) bulk/LiI/*=3' (the names are those the training log lists)."
        )
    return glob, value


def reweighted(
    terms: list[DifferenceTerm], rules: tuple[tuple[str, float], ...]
) -> list[DifferenceTerm]:
    """``terms`` with each weight times the factor of every rule whose glob matches its name.

    A term whose factor is 0 is left out. A rule that matches no term is a ParameterError
    (a mistyped pattern would otherwise train the recipe it meant to change, silently).
    """
    for glob, _ in rules:
        if not any(fnmatchcase(t.name, glob) for t in terms):
            kinds: dict[str, str] = {}
            for t in terms:
                kinds.setdefault(t.name.rsplit(" ", 1)[0], t.name)
            raise ParameterError(
                f"--term-weight {glob!r} matches no training difference. One name of each "
                "kind: "
                + "; ".join(kinds[k] for k in sorted(kinds))
                + " (the training log lists every name)."
            )
    out = []
    for t in terms:
        factor = 1.0
        for glob, f in rules:
            if fnmatchcase(t.name, glob):
                factor *= f
        if factor == 0.0:
            # dropped, not kept at weight 0: each term is an optimizer step, and Adam's
            # step on a zero gradient still moves the weights along its momentum
            continue
        out.append(replace(t, weight=t.weight * factor) if factor != 1.0 else t)
    return out


def training_terms(
    settings: FinetuneSettings,
    train_items: list[Label],
    held_items: list[Label],
    fragments: dict[str, dict[str, float]],
) -> tuple[list[Label], list[DifferenceTerm]]:
    """The energy differences trained, and the extra (fragment) frames they need.

    :func:`difference_terms` and, with ``settings.deformation``, :func:`deformation_terms`
    over the training items (indices ``0 .. len(train_items)``), weighted by
    ``settings.term_weights`` (:func:`reweighted`).
    """
    if not settings.difference_weight:
        return [], []
    items = train_items + held_items
    train = range(len(train_items))
    terms = difference_terms(
        items, train, settings.bulk_weight, settings.ev_weight, settings.imported_catalyst
    )
    extra: list[Label] = []
    if settings.deformation:
        extra, deformations = deformation_terms(
            items, train, fragments, settings.deformation_weight
        )
        terms += deformations
    return extra, reweighted(terms, settings.term_weights)


def _difference_epoch(
    trainer: Any,
    batches: list[Any],
    terms: list[DifferenceTerm],
    targets: list[float],
    settings: FinetuneSettings,
    gen: Any,
) -> float:
    """One optimizer step per energy difference on its squared error (eV²).

    SevenNet's loss is per frame; an adsorption energy is a difference of three frames
    (complex, clean slab, molecule) whose common part dominates their per-frame
    gradients, so per-frame training moves the three together and hardly changes E_A
    (measured: 8 epochs at lr 1e-3 left E(complex) - E(slab) within 0.02 eV while the
    held-out E_A error grew). This term trains the difference itself against the
    counterpoise-corrected DFT value. Returns the mean squared error before each step.
    """
    import torch
    from sevenn import _keys as KEY

    trainer.model.train()
    losses = []
    for k in torch.randperm(len(batches), generator=gen).tolist():
        term = terms[k]
        c = torch.tensor(term.coefficients)
        trainer.optimizer.zero_grad()
        e = trainer.model(batches[k].clone())[KEY.PRED_TOTAL_ENERGY]
        target = sum(ci * targets[i] for ci, i in zip(term.coefficients, term.frames, strict=True))
        err = (c * e).sum() - target
        loss = settings.difference_weight * term.weight * err**2
        loss.backward()
        trainer.optimizer.step()
        losses.append(float(err.detach()) ** 2)
    return float(np.mean(losses)) if losses else float("nan")


def _epoch_loss(
    trainer: Any, loader: Any, probe: tuple[list[Any], list[float], list[tuple[int, int, int]]]
) -> dict[str, float]:
    """Held-out errors of the current weights.

    Energy (eV/atom) and force (eV/Å) MAE over the held-out frames, and the E_A MAE and
    largest error (eV) of the held-out adsorbate frames with counterpoise-corrected
    labels (against the clean slab and the molecule, whose labels are known).
    """
    import torch
    from sevenn import _keys as KEY

    trainer.model.eval()
    e_err, e_n, f_err, f_n = 0.0, 0, 0.0, 0
    for batch in loader:
        out = trainer.model(batch)
        with torch.no_grad():
            w = batch[KEY.DATA_WEIGHT]["energy"] > 0
            de = (out[KEY.PRED_TOTAL_ENERGY] - batch[KEY.ENERGY]) / batch[KEY.NUM_ATOMS]
            e_err += float(de[w].abs().sum())
            e_n += int(w.sum())
            f_err += float((out[KEY.PRED_FORCE] - batch[KEY.FORCE]).abs().sum())
            f_n += int(batch[KEY.FORCE].numel())
    entry = {
        "energy_mae_eV_per_atom": e_err / e_n if e_n else float("nan"),
        "force_mae_eV_per_A": f_err / f_n,
    }
    graphs, targets, triples = probe
    if triples:
        pred = dict(
            zip(sorted({i for t in triples for i in t}), _predict(trainer, graphs), strict=True)
        )
        errs = [
            (pred[a] - pred[s] - pred[m]) - (targets[a] - targets[s] - targets[m])
            for a, s, m in triples
        ]
        entry["ads_mae_eV"] = float(np.mean(np.abs(errs)))
        entry["ads_max_eV"] = float(np.max(np.abs(errs)))
    return entry


def train(
    settings: FinetuneSettings,
    train_items: list[Label],
    held_items: list[Label],
    offsets: dict[str, float],
    out_dir: Path,
    max_minutes: float | None = None,
    log: Any = print,
    fragments: dict[str, dict[str, float]] | None = None,
) -> list[dict[str, float]]:
    """SevenNet's Trainer over the training graphs; keeps the weights ``settings.keep`` says.

    ``fragments`` (see :func:`deformation_terms`) adds the deformation terms.
    Resumes from ``out_dir/last.pth`` (weights, optimizer, epoch, learning curve).
    """
    import sevenn
    import torch
    from sevenn.train.optim import optim_dict
    from sevenn.train.trainer import Trainer
    from sevenn.util import load_checkpoint
    from torch_geometric.loader import DataLoader

    from lis_dft.models import resolve

    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    base = load_checkpoint(resolve(settings.base))
    cutoff = float(base.config["cutoff"])
    cosine = settings.schedule == "cosine"
    trainer = Trainer(
        base.build_model(),
        _loss_functions(settings),
        optim_dict["adam"],
        {"lr": settings.lr},
        scheduler_cls=torch.optim.lr_scheduler.CosineAnnealingLR if cosine else None,
        scheduler_args={"T_max": settings.epochs} if cosine else None,
        device="cpu",
    )
    curve: list[dict[str, float]] = []
    mean: dict[str, Any] | None = None  # running mean of the weights (keep="average")
    n_mean = 0
    last = out_dir / "last.pth"
    if last.exists():
        state = torch.load(last, map_location="cpu", weights_only=False)
        trainer.load_state_dicts(
            state["model_state_dict"],
            state["optimizer_state_dict"],
            state.get("scheduler_state_dict"),
        )
        curve = state["curve"]
        mean, n_mean = state.get("average_state"), state.get("n_averaged", 0)
        log(f"resuming after epoch {len(curve)}")
    gen = torch.Generator().manual_seed(settings.seed + len(curve))
    train_loader = DataLoader(
        _graphs(train_items, offsets, cutoff, settings.modal),
        batch_size=settings.batch_size,
        shuffle=True,
        generator=gen,
    )
    held_loader = DataLoader(
        _graphs(held_items, offsets, cutoff, settings.modal), batch_size=settings.batch_size
    )
    extra, terms = training_terms(settings, train_items, held_items, fragments or {})
    items = train_items + held_items + extra
    targets = [shifted(lab, offsets) for lab in items]
    term_batches = [
        next(
            iter(
                DataLoader(
                    _graphs([items[i] for i in t.frames], offsets, cutoff, settings.modal),
                    len(t.frames),
                )
            )
        )
        for t in terms
    ]
    log(f"{len(terms)} training energy differences: " + ", ".join(t.name for t in terms))
    triples = adsorption_triples(items, range(len(train_items), len(train_items) + len(held_items)))
    used = sorted({i for t in triples for i in t})
    probe = (
        _graphs([items[i] for i in used], offsets, cutoff, settings.modal),
        targets,
        triples,
    )
    if not curve:
        curve.append({"epoch": 0, "seconds": 0.0, **_epoch_loss(trainer, held_loader, probe)})
        log(f"epoch 0 (base): {curve[-1]}")
    start = time.perf_counter()
    best = min(curve, key=_held_key)
    while len(curve) <= settings.epochs:
        if max_minutes is not None and (time.perf_counter() - start) / 60 > max_minutes:
            log("time limit: stopping; run again to continue")
            break
        t0 = time.perf_counter()
        trainer.run_one_epoch(train_loader, is_train=True)
        mse = _difference_epoch(trainer, term_batches, terms, targets, settings, gen)
        lr = trainer.optimizer.param_groups[0]["lr"]  # this epoch's rate
        trainer.scheduler_step()  # no-op without a schedule
        entry = {
            "epoch": len(curve),
            "seconds": time.perf_counter() - t0,
            "lr": lr,
            "train_difference_rmse_eV": float(np.sqrt(mse)) if terms else None,
            **_epoch_loss(trainer, held_loader, probe),
        }
        curve.append(entry)
        # the weights are in this sevenn's layout: say so, or loading "patches" them again
        config = {**base.config, "version": sevenn.__version__}
        extra = {"config": config, "epoch": entry["epoch"], "curve": curve}
        if settings.keep == "average" and entry["epoch"] >= settings.average_from:
            mean = _running_mean(mean, n_mean, trainer.model.state_dict())
            n_mean += 1
            current = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
            trainer.model.load_state_dict(mean)
            entry["average"] = {
                "epochs": [settings.average_from, entry["epoch"]],
                **_epoch_loss(trainer, held_loader, probe),
            }
            _write(trainer, out_dir / "model.pth", extra)  # the mean, scored as such
            trainer.model.load_state_dict(current)
        elif settings.keep != "best" or (
            _held_key(entry) <= _held_key(best) or not (out_dir / "model.pth").exists()
        ):
            best = entry
            _write(trainer, out_dir / "model.pth", extra)
        log(f"epoch {entry['epoch']}: {entry}")
        _write(trainer, last, {**extra, "average_state": mean, "n_averaged": n_mean})
    return curve


def _write(trainer: Any, path: Path, extra: dict[str, Any]) -> None:
    """SevenNet checkpoint of the trainer's current weights, written atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    trainer.write_checkpoint(str(tmp), **extra)
    tmp.replace(path)


def _running_mean(mean: dict[str, Any] | None, n: int, state: dict[str, Any]) -> dict[str, Any]:
    """Add one epoch's weights to the running mean of ``n`` epochs (by parameter name).

    Stochastic weight averaging as torch.optim.swa_utils.AveragedModel does it (equal
    weights); that class cannot be used on SevenNet's models: its deep copy of their
    compiled e3nn modules lists the buffers in another order, and its first update fails
    on a shape mismatch. Non-floating tensors are kept from the first epoch.
    """
    if mean is None:
        return {k: v.detach().clone() for k, v in state.items()}
    for k, v in state.items():
        if v.is_floating_point():
            mean[k] += (v.detach() - mean[k]) / (n + 1)
    return mean


def kept_weights(curve: list[dict[str, Any]], settings: FinetuneSettings) -> tuple[int | None, str]:
    """Which weights model.pth holds: the epoch (None for a mean) and a sentence."""
    trained = curve[1:] or curve
    n = trained[-1]["epoch"]
    averaged = [c["epoch"] for c in trained if "average" in c]
    if settings.keep == "average" and averaged:
        return None, f"mean of the weights of epochs {averaged[0]}-{averaged[-1]} of {n}"
    if settings.keep == "best":
        epoch = min(trained, key=_held_key)["epoch"]
        return epoch, f"epoch {epoch} of {n} (lowest held-out loss)"
    return n, f"epoch {n} of {n} (the last)"


def _held_key(entry: dict[str, float]) -> float:
    """Held-out loss that picks the kept epoch.

    The held-out E_A MAE (eV) where there are counterpoise-corrected held-out adsorbate
    frames (what the study reports), else the energy MAE (eV/atom); plus the force MAE
    (eV/Å), which keeps relaxations on DFT's energy surface.
    """
    e = entry.get("ads_mae_eV", entry["energy_mae_eV_per_atom"])
    return (0.0 if np.isnan(e) else e) + entry["force_mae_eV_per_A"]


# ----------------------------------------------------------------------------- ship


def training_elements(reference_dir: Path) -> list[str]:
    """Every element in the reference set's frames (what the fine-tuning saw)."""
    from ase.io import read

    path = Path(reference_dir) / "reference.extxyz"
    if not path.is_file():
        return []
    return sorted({el for atoms in read(path, index=":") for el in atoms.get_chemical_symbols()})


def ship(
    finetune_dir: Path, name: str, description: str | None = None, models_dir: Path | None = None
) -> Path:
    """Put a fine-tuned model into the package: lean weights + its training record.

    Writes ``MODELS/NAME.pth`` (the kept epoch's SevenNet checkpoint without optimizer
    state: what the calculator loads) and ``MODELS/NAME.json`` (``finetune.json`` plus
    the backend, a description and the sha256 of the weights), so that ``--model NAME``
    loads it offline. Returns the weights path.
    """
    import re

    import torch

    from lis_dft.models import MODELS_DIR

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ParameterError(
            f"Model name {name!r}: use letters, digits, '.', '_' and '-' (e.g. lis-dft-mf0-ft)."
        )
    finetune_dir = Path(finetune_dir)
    record_path, weights = finetune_dir / "finetune.json", finetune_dir / "model.pth"
    if not record_path.is_file() or not weights.is_file():
        raise ParameterError(
            f"{finetune_dir} has no finetune.json and model.pth: run 'lis-dft finetune --out "
            f"{finetune_dir}' to the end first."
        )
    record = json.loads(record_path.read_text())
    if hashlib.sha256(weights.read_bytes()).hexdigest() != record["model_sha256"]:
        raise ParameterError(
            f"{weights} is not the model {record_path.name} describes (it changed after the "
            "scores were taken): run 'lis-dft finetune' again to rescore it."
        )
    models_dir = Path(models_dir or MODELS_DIR)
    models_dir.mkdir(parents=True, exist_ok=True)
    state = torch.load(weights, map_location="cpu", weights_only=False)
    lean = {k: v for k, v in state.items() if k not in ("optimizer_state_dict", "curve")}
    lean["scheduler_state_dict"] = None
    tmp = models_dir / f".{name}.pth.tmp"
    torch.save(lean, tmp)
    dest = models_dir / f"{name}.pth"
    tmp.replace(dest)
    record.update(
        {
            "backend": "sevennet",
            "description": description
            or f"{record['base']['model']} fine-tuned on the lis-dft DFT reference set",
            "weights_sha256": hashlib.sha256(dest.read_bytes()).hexdigest(),
            "weights_from": str(weights),
            "trained_on": {"elements": training_elements(Path(record["data"]["reference"]))},
        }
    )
    atomic_write_text(models_dir / f"{name}.json", json.dumps(record, indent=1, default=float))
    return dest


# ----------------------------------------------------------------------------- driver


def finetune(
    reference_dir: Path = DEFAULT_DIR,
    out_dir: Path = Path("lis-dft-finetune"),
    settings: FinetuneSettings | None = None,
    max_minutes: float | None = None,
    log: Any = print,
) -> FinetuneResult:
    """Fine-tune, then score base and fine-tuned models on the held-out families."""
    from lis_dft.dft_workflows import reference_counterpoise
    from lis_dft.dft_workflows.calculators import CalculatorSpec, check_available
    from lis_dft.provenance import provenance

    settings = settings or FinetuneSettings()
    check_available("sevennet")
    reference_dir, out_dir = Path(reference_dir), Path(out_dir)
    frames = read_frames(reference_dir / REFERENCE)
    if not frames:
        raise ParameterError(
            f"No {REFERENCE} in {reference_dir}: point --reference at a computed reference set."
        )
    ev_scans = read_frames(reference_dir / EV_DIR / REFERENCE) if settings.ev_scans else []
    # bad --hold-out: nothing written
    train_frames, held_frames = split(frames + ev_scans, settings.hold_out)
    # the labels are fixed when training starts: a resumed run trains on the same data
    # even if counterpoise.json has grown since (held-out scoring uses the newest)
    data_path = out_dir / "training_data.json"
    resumed = data_path.exists()
    if resumed:
        training_data = json.loads(data_path.read_text())
    else:
        training_data = {
            "sha256": data_hash(reference_dir, settings.ev_scans),
            "bsse_eV": reference_counterpoise.corrections(reference_dir),
            "fragments_eV": fragment_energies(reference_dir),
        }
    bsse = training_data["bsse_eV"]
    train_items, held_items = labels(train_frames, bsse), labels(held_frames, bsse)
    # bad --term-weight: nothing written
    training_terms(settings, train_items, held_items, training_data.get("fragments_eV", {}))
    out_dir.mkdir(parents=True, exist_ok=True)
    if not resumed:
        atomic_write_text(data_path, json.dumps(training_data, indent=1))
    offsets_path = out_dir / "offsets.json"
    if offsets_path.exists():  # resuming: the same scale as before
        offsets = json.loads(offsets_path.read_text())
    else:
        offsets = element_offsets(train_items, _base_predictions(settings, train_items))
        atomic_write_text(offsets_path, json.dumps(offsets, indent=1))
    log(f"{len(train_items)} training frames, {len(held_items)} held out; offsets {offsets}")
    curve = train(
        settings,
        train_items,
        held_items,
        offsets,
        out_dir,
        max_minutes,
        log,
        training_data.get("fragments_eV", {}),
    )
    model_path = out_dir / "model.pth"
    kept_epoch, kept = kept_weights(curve, settings)
    scores = held_out_scores(reference_dir, settings, model_path)
    record = {
        "model": str(model_path),
        "model_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "base": CalculatorSpec("sevennet", "none", {"model": settings.base}).describe(),
        "settings": {**asdict(settings), "hold_out": list(settings.hold_out)},
        "data": {
            "reference": str(reference_dir),
            "sha256": training_data["sha256"],
            "scored_with_counterpoise_sha256": data_hash(reference_dir).get("counterpoise.json"),
            "train_frames": len(train_items),
            "held_out_frames": len(held_items),
            "energy_labels": sum(1 for i in train_items if i.energy_weight > 0),
            "counterpoise_labels": sum(1 for i in train_items if i.counterpoise),
        },
        "element_offsets_eV": offsets,
        "curve": curve,
        "kept_epoch": kept_epoch,
        "kept": kept,
        "held_out_scores": scores,
        "provenance": provenance(),
    }
    atomic_write_text(out_dir / "finetune.json", json.dumps(record, indent=1, default=float))
    return FinetuneResult(str(model_path), record)


def held_out_scores(
    reference_dir: Path, settings: FinetuneSettings, model_path: Path
) -> dict[str, Any]:
    """The base model and ``model_path`` scored on the held-out families (+ D3(zero)).

    Every bulk, molecule, slab and barrier frame and the held-out adsorbate frames
    (:func:`scoring_frames`), against raw LCAO and, where ``counterpoise.json`` has
    corrections, against counterpoise-corrected DFT: finetune.json's ``held_out_scores``.
    """
    from lis_dft.analysis.potential_benchmark import score
    from lis_dft.dft_workflows import reference_counterpoise
    from lis_dft.dft_workflows.potential_comparison import (
        Candidate,
        counterpoise_pairs,
        evaluate,
        pairs_for,
    )

    frames = read_frames(reference_dir / REFERENCE)
    ev_scans = read_frames(reference_dir / EV_DIR / REFERENCE) if settings.ev_scans else []
    _, held_frames = split(frames + ev_scans, settings.hold_out)
    scored = scoring_frames(frames, held_frames)
    scoring_bsse = reference_counterpoise.corrections(reference_dir)
    scores = {}
    for name, model in (("base", settings.base), ("finetuned", str(model_path))):
        preds, seconds = evaluate(Candidate("sevennet", model), scored)
        pairs = pairs_for(scored, preds, d3=True)
        raw = score(name, pairs)
        entry: dict[str, Any] = {"raw_lcao": raw.summary(), "seconds_per_frame": seconds}
        if scoring_bsse:
            cp = score(name, counterpoise_pairs(pairs, scoring_bsse))
            entry["counterpoise"] = cp.summary()
            entry["points"] = [{**asdict(p), "error_eV": p.error_eV} for p in cp.adsorption]
            entry["formation"] = cp.formation
            entry["lattice"] = cp.lattice
            entry["surface"] = cp.surface
        scores[name] = entry
    return scores


# ----------------------------------------------------------------------------- averaging runs

#: what runs averaged together must share (finetune.json keys): one model, one data, one split
AVERAGE_MUST_SHARE = (
    ("settings", "base"),
    ("settings", "modal"),
    ("settings", "hold_out"),
    ("data", "sha256"),
    ("element_offsets_eV",),
)


def average_runs(
    run_dirs: list[Path], out_dir: Path, reference_dir: Path = DEFAULT_DIR
) -> FinetuneResult:
    """The mean of the weights of several fine-tunes of one recipe, scored like a fine-tune.

    Runs of one recipe that differ only in seed score 0.01-0.04 eV apart on the held-out
    families (docs/methods.md): one run is one draw. Their mean (a "model soup",
    Wortsman et al., ICML 2022; the cross-run counterpart of ``--keep average``, and the
    same running mean) keeps what they share. The runs must start from the same base
    model and share training data, split and element offsets
    (:data:`AVERAGE_MUST_SHARE`), so that their weights are on one footing.

    Writes ``OUT/model.pth`` (a SevenNet checkpoint: the first run's configuration with the
    mean weights) and ``OUT/finetune.json`` (the record ``potentials ship`` takes: the first
    run's settings, each member's model, hash and differing settings, and held-out scores
    by :func:`held_out_scores`). ParameterError, with nothing written, if a run is
    unfinished, changed since it was scored, or not of the same footing.
    """
    import torch

    from lis_dft.dft_workflows.calculators import check_available
    from lis_dft.provenance import provenance

    run_dirs = [Path(r) for r in run_dirs]
    out_dir = Path(out_dir)
    if len(run_dirs) < 2:
        raise ParameterError("Give at least two 'lis-dft finetune' folders to average.")
    if len({r.resolve() for r in run_dirs}) < len(run_dirs):
        raise ParameterError("The same fine-tune is given twice: give each run once.")
    if out_dir.resolve() in {r.resolve() for r in run_dirs}:
        raise ParameterError(f"--out {out_dir} is one of the runs: write the mean elsewhere.")
    check_available("sevennet")
    records = []
    for run in run_dirs:
        record_path, weights = run / "finetune.json", run / "model.pth"
        if not record_path.is_file() or not weights.is_file():
            raise ParameterError(
                f"{run} has no finetune.json and model.pth: run 'lis-dft finetune --out {run}' "
                "to the end first."
            )
        rec = json.loads(record_path.read_text())
        if hashlib.sha256(weights.read_bytes()).hexdigest() != rec["model_sha256"]:
            raise ParameterError(
                f"{weights} is not the model {record_path} describes (it changed after the "
                "scores were taken): run 'lis-dft finetune' again to rescore it."
            )
        records.append(rec)
    first = records[0]
    for run, rec in zip(run_dirs[1:], records[1:], strict=True):
        for path in AVERAGE_MUST_SHARE:
            mine, theirs = first, rec
            for key in path:
                mine, theirs = (mine or {}).get(key), (theirs or {}).get(key)
            if mine != theirs:
                if isinstance(mine, dict) and isinstance(theirs, dict):
                    keys = sorted(k for k in {*mine, *theirs} if mine.get(k) != theirs.get(k))
                    what = "in " + ", ".join(keys)
                else:
                    what = f"{theirs!r} vs {mine!r}"
                raise ParameterError(
                    f"{run} differs from {run_dirs[0]} in {'.'.join(path)} ({what}): average "
                    "only fine-tunes of one base model, data and split."
                )
    states = [torch.load(r / "model.pth", map_location="cpu", weights_only=False) for r in run_dirs]
    mean: dict[str, Any] | None = None
    for n, state in enumerate(states):
        weights = state["model_state_dict"]
        if mean is not None and set(weights) != set(mean):
            raise ParameterError(
                f"{run_dirs[n]} holds another architecture than {run_dirs[0]}: its parameter "
                "names differ."
            )
        for k, v in weights.items():
            if mean is not None and not v.is_floating_point() and not torch.equal(v, mean[k]):
                raise ParameterError(
                    f"{run_dirs[n]} differs from {run_dirs[0]} in the fixed buffer {k}: not "
                    "the same architecture."
                )
        mean = _running_mean(mean, n, weights)
    checkpoint = {
        k: v
        for k, v in states[0].items()
        if k not in ("optimizer_state_dict", "curve", "average_state", "n_averaged")
    }
    checkpoint.update(model_state_dict=mean, scheduler_state_dict=None)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / "model.pth"
    tmp = out_dir / ".model.pth.tmp"
    torch.save(checkpoint, tmp)
    tmp.replace(model_path)
    known = {f.name for f in fields(FinetuneSettings)}  # a record of an older lis-dft
    settings = FinetuneSettings(
        **{k: v for k, v in first["settings"].items() if k in known}
        | {
            "hold_out": tuple(first["settings"]["hold_out"]),
            "term_weights": tuple(tuple(t) for t in first["settings"].get("term_weights", ())),
        }
    )
    names = [r.name for r in run_dirs]
    record = {
        "model": str(model_path),
        "model_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "base": first["base"],
        "settings": first["settings"],
        "members": [
            {
                "run": str(run),
                "model_sha256": rec["model_sha256"],
                "kept": rec.get("kept"),
                "settings_differing_from_the_first": {
                    k: v for k, v in rec["settings"].items() if first["settings"].get(k) != v
                },
            }
            for run, rec in zip(run_dirs, records, strict=True)
        ],
        "data": {
            **first["data"],
            "reference": str(reference_dir),
            "scored_with_counterpoise_sha256": data_hash(Path(reference_dir)).get(
                "counterpoise.json"
            ),
        },
        "element_offsets_eV": first["element_offsets_eV"],
        "curve": [],
        "kept_epoch": None,
        "kept": f"mean of the weights of {len(names)} fine-tunes ({', '.join(names)})",
        "held_out_scores": held_out_scores(Path(reference_dir), settings, model_path),
        "provenance": provenance(),
    }
    atomic_write_text(out_dir / "finetune.json", json.dumps(record, indent=1, default=float))
    return FinetuneResult(str(model_path), record)
