"""Fast, strict parsing of finished VASP calculations.

Reads only what the energetics need from ``vasprun.xml`` (or ``.gz``): the run
parameters (NELM, NSW, IBRION, EDIFFG), the number of ionic steps, and the last ionic
step (energy, structure, forces, number of electronic steps). Only the last
``<calculation>`` block is parsed as XML; everything else is located by byte search, so
large relaxations are not parsed step by step as pymatgen's ``Vasprun`` does.

Verdicts (``status``), with a human-readable ``reason``:

- ``ok``: finished, converged, forces below |EDIFFG| on the free atoms;
- ``unconverged_electronic``: the last ionic step used NELM electronic steps;
- ``unconverged_ionic``: a relaxation stopped at NSW ionic steps;
- ``forces_too_large``: converged by energy but the largest force on a free atom
  exceeds |EDIFFG| (EDIFFG < 0) or 0.05 eV/Å (EDIFFG >= 0);
- ``corrupt``: unreadable, truncated, or not the structure in the input POSCAR;
- ``missing``: no vasprun.xml.

The definitions follow pymatgen's ``converged_electronic``/``converged_ionic``.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree
from pymatgen.core import Lattice, Structure

STATUSES = (
    "ok",
    "unconverged_electronic",
    "unconverged_ionic",
    "forces_too_large",
    "corrupt",
    "missing",
)
RELAX_IBRION = (1, 2, 3)
DEFAULT_FORCE_TOL = 0.05  # eV/Å when EDIFFG is an energy criterion


@dataclass
class ParsedCalculation:
    """The verdict and the numbers of one calculation."""

    name: str
    path: str
    status: str
    reason: str = ""
    energy: float | None = None
    n_atoms: int | None = None
    max_force: float | None = None
    n_ionic_steps: int | None = None
    structure: Structure | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The parsed.json entry (the structure is left out)."""
        d = asdict(self)
        d.pop("structure")
        return d


def find_vasprun(directory: Path) -> Path | None:
    """``vasprun.xml`` or ``vasprun.xml.gz`` in ``directory`` (plain file preferred)."""
    for name in ("vasprun.xml", "vasprun.xml.gz"):
        p = directory / name
        if p.exists():
            return p
    candidates = sorted(directory.glob("vasprun.xml*"))
    return candidates[-1] if candidates else None


def _read(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            # one-shot zlib is about twice as fast as GzipFile.read for whole files
            return zlib.decompress(raw, 16 + zlib.MAX_WBITS)
        except zlib.error:
            with gzip.open(path, "rb") as f:  # multi-member archives
                return f.read()
    return raw


def _param(block: bytes, name: str, default: float | None) -> float | None:
    m = re.search(rb'<i[^>]*name="' + name.encode() + rb'"[^>]*>\s*([^<\s]+)\s*<', block)
    if not m:
        return default
    try:
        return float(m.group(1))
    except ValueError:
        return default


def _varray(elem, name: str) -> np.ndarray:
    node = elem.find(f'varray[@name="{name}"]')
    return np.array([[float(x) for x in v.text.split()] for v in node.findall("v")])


def _species(data: bytes) -> list[str]:
    start = data.find(b'<array name="atoms"')
    end = data.find(b"</array>", start)
    if start < 0 or end < 0:
        raise ValueError("no <atominfo> atoms array")
    block = etree.fromstring(data[start : end + len(b"</array>")])
    return [rc.findall("c")[0].text.strip() for rc in block.iter("rc")]


def _selective(data: bytes) -> np.ndarray | None:
    start = data.find(b'<structure name="initialpos"')
    if start < 0:
        return None
    end = data.find(b"</structure>", start)
    block = data[start:end]
    m = block.find(b'<varray name="selective"')
    if m < 0:
        return None
    sub = block[m : block.find(b"</varray>", m) + len(b"</varray>")]
    node = etree.fromstring(sub)
    return np.array([[t == "T" for t in v.text.split()] for v in node.findall("v")])


def parse_vasprun(path: Path) -> dict[str, Any]:
    """Read the parameters and the last ionic step of a vasprun.xml (raises on bad files)."""
    data = _read(path)
    if len(data) < 100 and not data.strip():
        raise ValueError("empty file")
    # look at the tail only: stripping the whole buffer would copy megabytes
    truncated = not data[-256:].rstrip().endswith(b"</modeling>")
    pstart, pend = data.find(b"<parameters>"), data.find(b"</parameters>")
    params = data[pstart:pend] if pstart >= 0 and pend >= 0 else b""
    incar_start, incar_end = data.find(b"<incar>"), data.find(b"</incar>")
    incar = data[incar_start:incar_end] if incar_start >= 0 else b""
    n_ionic = data.count(b"<calculation>")
    last = data.rfind(b"<calculation>")
    close = data.find(b"</calculation>", last) if last >= 0 else -1
    if last < 0 or close < 0:
        # a run killed mid-step: fall back to the previous complete ionic step
        prev = data.rfind(b"<calculation>", 0, last) if last > 0 else -1
        if prev < 0:
            raise ValueError("no complete ionic step")
        last, close, n_ionic = prev, data.find(b"</calculation>", prev), n_ionic - 1
        truncated = True
    # eigenvalues, DOS and projections sit inside the last block after the energies:
    # cut them off before parsing (they are most of the file)
    cut = close
    for tag in (b"<eigenvalues", b"<separator", b"<dos", b"<projected", b"<dielectric"):
        pos = data.find(tag, last, close)
        if 0 <= pos < cut:
            cut = pos
    calc = etree.fromstring(data[last:cut] + b"</calculation>")
    structure_el = calc.find("structure")
    lattice = _varray(structure_el.find("crystal"), "basis")
    positions = _varray(structure_el, "positions")
    forces = _varray(calc, "forces") if calc.find('varray[@name="forces"]') is not None else None
    energies = {i.get("name"): float(i.text) for i in calc.find("energy").findall("i")}
    energy = energies.get("e_0_energy", energies.get("e_fr_energy"))
    scsteps = calc.findall("scstep")
    if scsteps and "e_fr_energy" in energies:
        # vasprun.xml can carry a wrong e_0_energy for the ionic step (VASP forum t=16942);
        # rebuild it from the last electronic step, exactly as pymatgen's final_energy does
        last_e = {i.get("name"): float(i.text) for i in scsteps[-1].find("energy").findall("i")}
        if "e_0_energy" in last_e and "e_fr_energy" in last_e:
            fixed = round(last_e["e_0_energy"] - last_e["e_fr_energy"] + energies["e_fr_energy"], 8)
            if energy is None or abs(energy - fixed) > 1e-7:
                energy = fixed
    return {
        "truncated": truncated,
        "species": _species(data),
        "lattice": lattice,
        "frac_coords": positions,
        "forces": forces,
        "selective": _selective(data),
        "energy": energy,
        "n_scsteps": len(scsteps),
        "n_ionic": n_ionic,
        "NELM": _param(incar, "NELM", None) or _param(params, "NELM", 60),
        "NSW": _param(incar, "NSW", None)
        if _param(incar, "NSW", None) is not None
        else _param(params, "NSW", 0),
        "IBRION": _param(incar, "IBRION", None)
        if _param(incar, "IBRION", None) is not None
        else _param(params, "IBRION", 0),
        "EDIFFG": _param(incar, "EDIFFG", None)
        if _param(incar, "EDIFFG", None) is not None
        else _param(params, "EDIFFG", None),
    }


def parse_calculation(
    directory: str | Path, name: str | None = None, formula: str | None = None
) -> ParsedCalculation:
    """Parse one calculation folder and decide whether its energy can be trusted.

    The output structure must have the composition of the calculation: ``formula`` when
    given (the campaign's record of what the folder is for), else the folder's POSCAR.
    """
    directory = Path(directory)
    name = name or directory.name
    path = find_vasprun(directory)
    if path is None:
        return ParsedCalculation(name, str(directory), "missing", "no vasprun.xml")
    try:
        r = parse_vasprun(path)
    except (etree.XMLSyntaxError, ValueError, OSError, EOFError, AttributeError) as exc:
        return ParsedCalculation(
            name, str(directory), "corrupt", f"{path.name} unreadable: {type(exc).__name__}: {exc}"
        )
    structure = Structure(Lattice(r["lattice"]), r["species"], r["frac_coords"])
    n_atoms = len(structure)
    max_force = None
    if r["forces"] is not None:
        norms = np.linalg.norm(r["forces"], axis=1)
        if r["selective"] is not None and r["selective"].shape == r["forces"].shape:
            norms = np.where(r["selective"].any(axis=1), norms, 0.0)
        max_force = float(norms.max())
    base = ParsedCalculation(
        name, str(directory), "ok", "", r["energy"], n_atoms, max_force, r["n_ionic"], structure
    )
    poscar = directory / "POSCAR"
    if r["truncated"]:
        base.status, base.reason = (
            "corrupt",
            f"{path.name} is truncated (the run did not finish writing it)",
        )
        return base
    expected, source = None, "the input POSCAR"
    if formula:
        from pymatgen.core import Composition

        expected, source = Composition(formula).reduced_formula, "the calculation"
    elif poscar.exists():
        try:
            from pymatgen.io.vasp import Poscar

            expected = Poscar.from_file(
                poscar, check_for_potcar=False
            ).structure.composition.reduced_formula
        except Exception:  # an unreadable POSCAR does not invalidate the output
            expected = None
    got = structure.composition.reduced_formula
    if expected and expected != got:
        base.status, base.reason = (
            "corrupt",
            f"output structure is {got} but {source} is {expected}",
        )
        return base
    nelm, nsw, ibrion, ediffg = r["NELM"], r["NSW"] or 0, int(r["IBRION"] or 0), r["EDIFFG"]
    if r["n_scsteps"] >= nelm:
        base.status = "unconverged_electronic"
        base.reason = f"last ionic step used {r['n_scsteps']} electronic steps = NELM ({int(nelm)})"
        return base
    relaxing = nsw > 1 and ibrion in RELAX_IBRION
    if relaxing and r["n_ionic"] >= nsw:
        base.status = "unconverged_ionic"
        base.reason = f"relaxation stopped at NSW = {int(nsw)} ionic steps"
        return base
    if relaxing and max_force is not None:
        tol = abs(ediffg) if (ediffg is not None and ediffg < 0) else DEFAULT_FORCE_TOL
        if max_force > tol * 1.0001:
            base.status = "forces_too_large"
            base.reason = f"largest force on a free atom {max_force:.3f} eV/Å > {tol:.3f} eV/Å"
    return base
