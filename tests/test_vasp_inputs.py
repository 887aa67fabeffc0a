from __future__ import annotations

import json
from pathlib import Path

import pytest
from pymatgen.io.vasp import Incar, Kpoints, Poscar
from typer.testing import CliRunner

from lis_dft.cli import app
from lis_dft.errors import ParameterError
from lis_dft.structures import boxed, build_molecule, lii_100_slab, lithium_sulfide
from lis_dft.structures.adsorbates import adsorbate_placements
from lis_dft.vasp.sets import VaspSettings, parse_incar_overrides, write_vasp_inputs

REFERENCE = Path(__file__).parent / "test_data" / "vasp_reference"
runner = CliRunner()


@pytest.fixture(scope="module")
def campaign_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vasp") / "campaign"
    result = runner.invoke(
        app,
        [
            "inputs",
            "--code",
            "vasp",
            "--out",
            str(out),
            "--supercell",
            "2",
            "2",
            "1",
            "--fixed-layers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_paper_settings_in_every_incar(campaign_dir):
    campaign = json.loads((campaign_dir / "campaign.json").read_text())
    calcs = [c for c in campaign["calculations"] if c["kind"] != "analysis"]
    assert {c["kind"] for c in calcs} == {"bulk", "molecule", "slab", "adslab"}
    for c in calcs:
        folder = campaign_dir / c["path"]
        incar = Incar.from_file(folder / "INCAR")
        assert incar["GGA"].upper() == "PE"
        assert incar["IVDW"] == 11
        assert incar["ENCUT"] == 600
        assert incar["EDIFF"] == pytest.approx(1e-4)
        assert incar["EDIFFG"] == pytest.approx(-0.01)
        assert incar["ISIF"] == (3 if c["kind"] == "bulk" else 2)
        assert (folder / "POTCAR.spec").read_text().split() == [
            {"Li": "Li_sv", "S": "S", "I": "I"}[el]
            for el in Poscar.from_file(folder / "POSCAR").site_symbols
        ]
        kpts = Kpoints.from_file(folder / "KPOINTS")
        if c["kind"] in ("slab", "adslab"):
            assert tuple(kpts.kpts[0]) == (3, 3, 1) and kpts.style.name == "Monkhorst"
        if c["kind"] == "molecule":
            assert tuple(kpts.kpts[0]) == (1, 1, 1) and kpts.style.name == "Gamma"
        if c["kind"] == "adslab":
            assert incar["LDIPOL"] is True and incar["IDIPOL"] == 3
            poscar = Poscar.from_file(folder / "POSCAR")
            sd = [list(map(bool, row)) for row in poscar.selective_dynamics]
            n_slab = c["n_slab"]
            assert any(not any(row) for row in sd[:n_slab])  # bottom layers fixed
            assert all(all(row) for row in sd[n_slab:])  # adsorbate free, written last
    assert campaign["calculations"][-1]["name"] == "analysis"
    adslab = next(c for c in calcs if c["kind"] == "adslab")
    assert adslab["depends_on"] == [
        "LiI_100",
        f"{adslab['adsorbate']}(g)",
    ]  # the molecule, not the bulk


def test_bulk_kpoints_match_slab_density():
    s = lithium_sulfide()
    incar = {}
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        incar = write_vasp_inputs(d, "bulk", s, VaspSettings())
        mesh = Kpoints.from_file(Path(d) / "KPOINTS").kpts[0]
    assert incar["ISIF"] == 3
    assert tuple(mesh) == tuple(max(1, round(54 / a)) for a in s.lattice.abc)


@pytest.mark.parametrize(
    ("case", "kind", "builder"),
    [
        ("bulk_Li2S", "bulk", lambda: (lithium_sulfide(), None)),
        ("molecule_S8", "molecule", lambda: (boxed(build_molecule("S8")), None)),
        (
            "slab_LiI_100",
            "slab",
            lambda: (lii_100_slab(supercell=(2, 2, 1), vacuum=15.0, fixed_layers=1), None),
        ),
        ("adslab_Li2S", "adslab", lambda: _adslab()),
    ],
)
def test_generated_inputs_match_reference(tmp_path, case, kind, builder):
    """atomate2-style mock VASP, step 1: inputs are compared with stored reference inputs."""
    structure, n_slab = builder()
    write_vasp_inputs(tmp_path, kind, structure, VaspSettings(), n_slab)
    ref = REFERENCE / case
    assert Incar.from_file(tmp_path / "INCAR") == Incar.from_file(ref / "INCAR")
    assert str(Kpoints.from_file(tmp_path / "KPOINTS")) == str(Kpoints.from_file(ref / "KPOINTS"))
    assert (tmp_path / "POTCAR.spec").read_text() == (ref / "POTCAR.spec").read_text()


def _adslab():
    slab = lii_100_slab(supercell=(2, 2, 1), vacuum=15.0, fixed_layers=1)
    return adsorbate_placements(slab, build_molecule("Li2S"), "Li2S")[0].structure, len(slab)


def test_overrides_are_applied_and_recorded(tmp_path):
    cfg = tmp_path / "vasp.yaml"
    cfg.write_text("encut: 520\nslab_kpoints: [4, 4, 1]\nincar_overrides: {NCORE: 8}\n")
    out = tmp_path / "c"
    result = runner.invoke(
        app,
        [
            "inputs",
            "--out",
            str(out),
            "--supercell",
            "1",
            "1",
            "1",
            "--fixed-layers",
            "1",
            "--config",
            str(cfg),
            "--incar",
            "KPAR=2",
            "--ivdw",
            "12",
        ],
    )
    assert result.exit_code == 0, result.output
    campaign = json.loads((out / "campaign.json").read_text())
    assert campaign["settings"]["encut"] == 520 and campaign["settings"]["ivdw"] == 12
    assert campaign["meta"]["overrides"]["incar"] == {"KPAR": 2}
    slab = out / "slab" / "LiI_100"
    incar = Incar.from_file(slab / "INCAR")
    assert (
        incar["ENCUT"] == 520 and incar["NCORE"] == 8 and incar["KPAR"] == 2 and incar["IVDW"] == 12
    )
    assert tuple(Kpoints.from_file(slab / "KPOINTS").kpts[0]) == (4, 4, 1)


def test_bad_vasp_settings(tmp_path):
    with pytest.raises(ParameterError, match="IVDW"):
        VaspSettings(ivdw=4)
    with pytest.raises(ParameterError, match="KEY=VALUE"):
        parse_incar_overrides(["ENCUT"])
    with pytest.raises(ParameterError, match="Unknown VASP settings"):
        VaspSettings.from_mapping({"encutt": 500})
    result = runner.invoke(app, ["inputs", "--out", str(tmp_path / "x"), "--code", "qe"])
    assert result.exit_code == 2 and "only 'vasp'" in result.output


def test_existing_campaign_is_not_overwritten(campaign_dir):
    result = runner.invoke(
        app,
        ["inputs", "--out", str(campaign_dir), "--supercell", "1", "1", "1", "--fixed-layers", "1"],
    )
    assert result.exit_code == 2 and "already holds a campaign" in result.output


def test_real_potcars_need_configuration(tmp_path, monkeypatch):
    from pymatgen.core import SETTINGS

    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", None)
    result = runner.invoke(
        app,
        [
            "inputs",
            "--out",
            str(tmp_path / "p"),
            "--potcars",
            "--supercell",
            "1",
            "1",
            "1",
            "--fixed-layers",
            "1",
        ],
    )
    assert result.exit_code == 2 and "PMG_VASP_PSP_DIR" in result.output
    assert not (tmp_path / "p" / "campaign.json").exists()
