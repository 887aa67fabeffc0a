from __future__ import annotations

import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore")

#: a real GPAW relaxation (S8 flat on the ft4 run's reduced LiI(100) model, 19 steps)
RELAXATION = (
    Path(__file__).parents[1]
    / "benchmarks"
    / "dft_hours"
    / "default_run_ft4"
    / "S8_top_I-flat-r0_potential.extxyz"
)


def mock_run_args(out, *extra: str) -> list[str]:
    """``lis-dft run`` on the mock, quiet, one relaxed configuration, no barriers."""
    return [
        "run",
        "-c",
        "mock",
        "--out",
        str(out),
        "--no-progress",
        "--no-barriers",
        "--top-k",
        "1",
        *extra,
    ]


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


@pytest.fixture(scope="session")
def vasp_outputs():
    """Real VASP outputs (custodian's test files, MIT), kept in tests/test_data/vasp_outputs."""
    from pathlib import Path

    return Path(__file__).resolve().parent / "test_data" / "vasp_outputs"


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


def _gpaw_missing() -> bool:
    import importlib.util
    import os

    return not os.environ.get("LIS_DFT_REQUIRE_GPAW") and importlib.util.find_spec("gpaw") is None


#: Real GPAW tests: skipped where GPAW is not installed, required (so failing) in CI,
#: which sets LIS_DFT_REQUIRE_GPAW.
needs_gpaw = pytest.mark.skipif(
    _gpaw_missing(), reason="GPAW not installed (pip install 'lis-dft[gpaw]'; CI requires it)"
)
