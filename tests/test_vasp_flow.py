"""The VASP study as a jobflow Flow of atomate2 makers, run with atomate2's mock VASP.

atomate2's ``monkeypatch_vasp`` replaces VASP itself: each job's generated INCAR and
KPOINTS are checked against the paper's reference inputs (tests/test_data/vasp_reference),
then real VASP outputs are copied in (custodian's completed run, tests/test_data/
vasp_outputs; its CONTCAR is written by pymatgen from that vasprun's final structure,
since the custodian set has none) and atomate2 parses them into its task documents.
Those outputs are an Fe2O2 cell, so lis-dft's own parse step must refuse every one of
them as not this calculation's output: the check that catches a mixed-up folder.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import networkx as nx
import pytest
from jobflow import run_locally
from pymatgen.io.vasp import Poscar, Vasprun

from lis_dft.structures.catalog import SlabSettings, build_study_structures
from lis_dft.vasp.campaign import campaign_specs, write_campaign
from lis_dft.vasp.flow import VaspStudyMaker

DATA = Path(__file__).parent / "test_data"
#: INCAR tags fake_run_vasp compares with the reference inputs
PAPER_TAGS = ["GGA", "IVDW", "ENCUT", "EDIFF", "EDIFFG", "ISIF", "IBRION", "ISMEAR"]


@pytest.fixture(scope="module")
def study():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_study_structures(
            None, SlabSettings((2, 2, 1), 15.0, 1), conventional=False, adsorbates=["Li2S"]
        )


def _reference(root: Path, kind: str, reference: str) -> Path:
    """atomate2's layout: inputs/ (the paper's reference inputs) and outputs/ (real VASP)."""
    ref = root / kind
    shutil.copytree(DATA / "vasp_reference" / reference, ref / "inputs")
    shutil.copytree(DATA / "vasp_outputs" / "completed", ref / "outputs")
    run = Vasprun(ref / "outputs" / "vasprun.xml.gz", parse_potcar_file=False)
    Poscar(run.final_structure).write_file(ref / "outputs" / "CONTCAR")
    return ref


def test_the_vasp_flow_enumerates_the_campaigns_calculations(study, tmp_path):
    specs = campaign_specs(study)
    flow = VaspStudyMaker().make(specs)
    campaign = write_campaign(study, tmp_path / "campaign")
    names = [c.name for c in campaign.calculations if c.kind != "analysis"]
    relaxations = [j for j in flow.jobs[:-1] if not j.name.startswith("after ")]
    assert [j.name for j in relaxations] == names
    # the campaign's dependencies: an adsorbate slab waits for its slab and its molecule
    uuid = {j.name: j.uuid for j in relaxations}
    for c in campaign.calculations:
        for d in c.depends_on if c.kind != "analysis" else []:
            assert nx.has_path(flow.graph, uuid[d], uuid[c.name]), (d, c.name)
    assert sum(bool(c.depends_on) for c in campaign.calculations if c.kind == "adslab") > 0
    assert len(set(names)) == len(names)  # the bulk Li2S and the gas-phase Li2S(g) apart
    assert {"Li2S", "Li2S(g)"} <= set(names)
    assert flow.jobs[-1].name == "parse vasp study"


def test_the_vasp_flow_runs_with_atomate2s_mock_vasp(study, tmp_path, monkeypatch):
    from atomate2.utils.testing.vasp import monkeypatch_vasp

    specs = campaign_specs(study)
    refs = {
        "bulk": _reference(tmp_path / "ref", "bulk", "bulk_Li2S"),
        "molecule": _reference(tmp_path / "ref", "molecule", "molecule_S8"),
        "slab": _reference(tmp_path / "ref", "slab", "slab_LiI_100"),
        "adslab": _reference(tmp_path / "ref", "adslab", "adslab_Li2S"),
    }
    ref_paths, checks = {}, {}
    for calc, _ in specs:
        ref_paths[calc.name] = str(refs[calc.kind])
        # the bulk k-mesh follows each cell (reference: Li2S); slabs 3x3x1, molecules Gamma
        files = ["incar"] + (["kpoints"] if calc.kind != "bulk" or calc.name == "Li2S" else [])
        checks[calc.name] = {
            "incar_settings": PAPER_TAGS + (["LDIPOL"] if calc.kind == "adslab" else []),
            "check_inputs": files,
            "clear_inputs": False,  # the POSCAR stays beside the outputs, as on a cluster
        }
    mock = monkeypatch_vasp(monkeypatch, tmp_path / "ref")
    next(mock)({k: Path(v).name for k, v in ref_paths.items()}, checks)
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        responses = run_locally(
            VaspStudyMaker().make(specs), create_folders=True, ensure_success=True
        )
    outputs = [r[1].output for r in responses.values()]
    docs = [o for o in outputs if hasattr(o, "state")]
    assert len(docs) == len(specs)
    assert all(d.state.value == "successful" for d in docs)  # atomate2 parsed every run
    parsed = next(o for o in outputs if isinstance(o, dict) and "parsed" in o)
    assert [p["name"] for p in parsed["parsed"]] == [c.name for c, _ in specs]
    for p in parsed["parsed"]:
        assert p["status"] == "corrupt"
        assert "output structure is FeO" in p["reason"]
    assert parsed["results"] is None
    assert set(parsed["missing"]) == {"Li", "S"}
