from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore")


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    """Every test runs in its own temporary working directory."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def paper_slab():
    from lis_dft.structures.slab import lii_100_slab

    return lii_100_slab()


@pytest.fixture(scope="session")
def small_slab():
    from lis_dft.structures.slab import lii_100_slab

    return lii_100_slab(supercell=(2, 2, 1), vacuum=12.0, fixed_layers=1)


def _shared_outputs():
    import os
    from pathlib import Path

    env = os.environ.get("LIS_DFT_SHARED")
    base = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
    return base / "vasp-outputs"


def pytest_collection_modifyitems(config, items):
    """Outside CI, tests that need ../shared/vasp-outputs are skipped when it is absent."""
    import os

    if _shared_outputs().exists() or os.environ.get("CI"):
        return
    marker = pytest.mark.skipif(
        True, reason=f"real VASP outputs not found at {_shared_outputs()}; set LIS_DFT_SHARED"
    )
    for item in items:
        if "vasp_outputs" in getattr(item, "fixturenames", ()):
            item.add_marker(marker)


@pytest.fixture(scope="session")
def vasp_outputs():
    """The real VASP outputs in ../shared/vasp-outputs (required in CI: missing = failure)."""
    path = _shared_outputs()
    if not path.exists():
        pytest.fail(f"real VASP outputs not found at {path}; set LIS_DFT_SHARED")
    return path


@pytest.fixture
def replay_run(tmp_path, vasp_outputs):
    """Copy one real VASP run's outputs into a folder, as a finished calculation."""
    import shutil

    def make(which: str, name: str = "calc"):
        d = tmp_path / name
        d.mkdir(parents=True, exist_ok=True)
        src = {
            "completed": vasp_outputs / "completed" / "vasprun.xml.gz",
            "electronic": vasp_outputs / "unconverged" / "electronic.vasprun.xml.gz",
            "ionic": vasp_outputs / "unconverged" / "ionic.vasprun.xml.gz",
        }[which]
        shutil.copy(src, d / "vasprun.xml.gz")
        if which == "completed":
            for extra in ("OUTCAR.gz", "OSZICAR.gz"):
                shutil.copy(vasp_outputs / "completed" / extra, d / extra)
        return d

    return make
