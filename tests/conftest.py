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
