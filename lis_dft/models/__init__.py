"""Fine-tuned potentials shipped inside the lis-dft package.

Each shipped model is a pair of files in this folder:

- ``NAME.pth``: the weights, a SevenNet checkpoint without optimizer state, as written by
  :func:`lis_dft.dft_workflows.finetune.ship`;
- ``NAME.json``: its training record (``finetune.json`` of the run that made it: base
  model, sha256 of the reference data, split, offsets, settings, learning curve, held-out
  scores of base and fine-tuned model) plus the sha256 of ``NAME.pth``.

The registry is the folder: every ``NAME.json`` with its ``NAME.pth`` is a model of its
backend (``lis-dft potentials list``), selectable as ``--model NAME``, evaluated by
``lis-dft potentials compare`` and loaded offline like the foundation models whose weights
ship in their wheels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lis_dft.errors import CalculatorError, ParameterError

MODELS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class ShippedModel:
    """A fine-tuned model in :data:`MODELS_DIR`."""

    name: str
    backend: str
    base: str
    description: str
    folder: Path = MODELS_DIR

    @property
    def path(self) -> Path:
        """The weights file."""
        return self.folder / f"{self.name}.pth"

    @property
    def record_path(self) -> Path:
        """The training record."""
        return self.folder / f"{self.name}.json"

    def record(self) -> dict[str, Any]:
        """The full training record (finetune.json of the run that made it)."""
        return json.loads(self.record_path.read_text())

    def provenance(self) -> dict[str, Any]:
        """What a result needs to say about these weights: file, hash, base, data, scores."""
        rec = self.record()
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        if digest != rec.get("weights_sha256"):
            raise CalculatorError(
                f"{self.path} does not match its record {self.record_path.name} "
                f"(sha256 {digest[:12]} vs {str(rec.get('weights_sha256'))[:12]}): "
                "reinstall lis-dft."
            )
        return {
            "shipped_model": self.name,
            "weights_sha256": digest,
            "base": rec["base"],
            "data_sha256": rec["data"]["sha256"],
            "held_out_families": rec["settings"]["hold_out"],
            "kept_epoch": rec["kept_epoch"],
            "kept": rec.get("kept", f"epoch {rec['kept_epoch']}"),
            "trained_on": rec.get("trained_on", {}),
            "dft_checks": rec.get("dft_checks", []),
            "dft_formation_checks": rec.get("dft_formation_checks", []),
            "held_out_scores": {
                k: v.get("counterpoise", v.get("raw_lcao"))
                for k, v in rec["held_out_scores"].items()
            },
        }

    def ran(self, model_file: dict[str, Any]) -> bool:
        """Whether a run with this ``results.json["calculator"]["model_file"]`` used these weights.

        Either the shipped file itself (``weights_sha256``), or the fine-tune's own
        checkpoint it was made from (a run of ``lis-dft finetune``'s ``model.pth``, before
        shipping: the record's ``model_sha256``; :func:`~lis_dft.dft_workflows.finetune.ship`
        drops only the optimizer state, so the model is the same).
        """
        rec = self.record()
        if model_file.get("weights_sha256"):
            return model_file["weights_sha256"] == rec.get("weights_sha256")
        return bool(model_file.get("sha256")) and model_file["sha256"] == rec.get("model_sha256")

    def record_dft_checks(self, run_dir: str | Path) -> list[dict[str, Any]]:
        """Write what ``lis-dft verify`` found on a run of these weights into the record.

        The run may be of the shipped weights or of the checkpoint they were shipped from
        (:meth:`ran`). One entry per adsorbate whose reported minimum has a DFT energy:
        surface, the configuration, both adsorption energies, the error and verify's
        verdict; and one per bulk formation energy verify computed
        (``dft_formation_checks``: potential and DFT at the run's relaxed cells). Every
        run of these weights then carries the checks in its provenance (its report lists
        them), and :func:`lis_dft.analysis.results.potential_warnings` turns the
        disagreements into warnings in results.json, the report and the terminal.
        Entries of the same run (and surface and adsorbate) are replaced. Returns the new
        adsorption entries.
        """
        run_dir = Path(run_dir)
        paths = {n: run_dir / f"{n}.json" for n in ("results", "verify")}
        for path in paths.values():
            if not path.is_file():
                raise ParameterError(
                    f"{run_dir} has no {path.name}: give a 'lis-dft run' folder on which "
                    "'lis-dft verify' has run."
                )
        results = json.loads(paths["results"].read_text())
        verify = json.loads(paths["verify"].read_text())
        rec = self.record()
        model_file = (results.get("calculator") or {}).get("model_file") or {}
        if not self.ran(model_file):
            used = model_file.get("weights_sha256") or model_file.get("sha256")
            raise ParameterError(
                f"{run_dir} was not run with {self.name} (weights sha256 "
                f"{str(used)[:12]} vs {str(rec.get('weights_sha256'))[:12]}): record only "
                "checks of this model's own runs."
            )
        surface = (results.get("catalyst") or {}).get("slab") or "LiI_100"
        checked = (verify.get("provenance") or {}).get("created_utc")
        new = []
        for ads, v in (verify.get("adsorption") or {}).items():
            rep = next(
                (c for c in v.get("configs", []) if c["id"] == v.get("reported_config")), None
            )
            if rep is None or rep.get("dft_eV") is None:
                continue
            new.append(
                {
                    "run": run_dir.name,
                    "checked_utc": checked,
                    "surface": surface,
                    "adsorbate": ads,
                    "config": rep["id"],
                    "potential_eV": rep.get("mlip_eV"),
                    "dft_eV": rep["dft_eV"],
                    "error_eV": rep.get("error_eV"),
                    "dft_correction": rep.get("dft_correction"),
                    "status": v["status"],
                    "verdict": v["verdict"],
                }
            )
        if not new:
            raise ParameterError(f"{paths['verify']} has no DFT energy of a reported minimum yet.")
        done = {(c["run"], c["surface"], c["adsorbate"]) for c in new}
        old = [
            c
            for c in rec.get("dft_checks", [])
            if (c["run"], c["surface"], c["adsorbate"]) not in done
        ]
        rec["dft_checks"] = old + new
        dft = (verify.get("settings") or {}).get("dft") or {}
        damping = (dft.get("d3") or {}).get("damping", "none")
        dft_model = dft.get("model") if damping == "none" else f"{dft.get('model')} + D3({damping})"
        bulk = [
            {
                "run": run_dir.name,
                "checked_utc": checked,
                "compound": name,
                "cells": "the run's relaxed cells",
                "dft": dft_model,
                "potential_eV_per_atom": f["mlip_eV_per_atom"],
                "dft_eV_per_atom": f["dft_eV_per_atom"],
                "error_eV_per_atom": f["error_eV_per_atom"],
            }
            for name, f in (verify.get("formation_energies") or {}).items()
        ]
        rec["dft_formation_checks"] = [
            c for c in rec.get("dft_formation_checks", []) if c["run"] != run_dir.name
        ] + bulk
        tmp = self.record_path.with_name(f".{self.record_path.name}.tmp")
        tmp.write_text(json.dumps(rec, indent=1) + "\n")
        tmp.replace(self.record_path)
        return new


@cache
def shipped_models(folder: Path = MODELS_DIR) -> dict[str, ShippedModel]:
    """Every model in ``folder`` (default :data:`MODELS_DIR`): name -> ShippedModel."""
    out = {}
    for rec_path in sorted(Path(folder).glob("*.json")):
        name = rec_path.stem
        if not (Path(folder) / f"{name}.pth").is_file():
            continue
        rec = json.loads(rec_path.read_text())
        out[name] = ShippedModel(
            name=name,
            backend=rec.get("backend", "sevennet"),
            base=rec["settings"]["base"],
            description=rec.get(
                "description", f"{rec['settings']['base']} fine-tuned on the lis-dft reference set"
            ),
            folder=Path(folder),
        )
    return out


def model_of_run(model_file: dict[str, Any]) -> ShippedModel | None:
    """The shipped model a run used (``results.json["calculator"]["model_file"]``), if any.

    By name, or for a run of a fine-tune's checkpoint by the hash it was shipped from
    (:meth:`ShippedModel.ran`).
    """
    models = shipped_models()
    name = model_file.get("shipped_model")
    if name:
        return models.get(name)
    return next((m for m in models.values() if m.ran(model_file)), None)


def models_for(backend: str) -> dict[str, str]:
    """Shipped model name -> description, for one backend."""
    return {m.name: m.description for m in shipped_models().values() if m.backend == backend}


def resolve(model: str | None) -> str | None:
    """The weights path of a shipped model name; anything else unchanged."""
    m = shipped_models().get(model) if model else None
    return str(m.path) if m else model
