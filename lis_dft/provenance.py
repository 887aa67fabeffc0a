"""Provenance: which code, versions and machine produced a result."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from importlib.metadata import PackageNotFoundError, version

PACKAGES = (
    "lis-dft",
    "ase",
    "pymatgen",
    "jobflow",
    "atomate2",
    "maggma",
    "numpy",
    "spglib",
    "torch",
    "chgnet",
    "sevenn",
    "dftd3",
    "tblite",
    "gpaw",
    "custodian",
)


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that can affect a result."""
    out = {}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance() -> dict[str, object]:
    """Package versions, Python, platform, CPU count and a UTC timestamp."""
    return {
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": package_versions(),
    }
