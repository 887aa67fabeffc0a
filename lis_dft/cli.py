"""The ``lis-dft`` command line.

Commands: ``build`` (structures + manifest), ``run`` (the local study). Errors caused
by input (:class:`~lis_dft.errors.LisDftError`) print one clear message and exit 2.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lis_dft.dft_workflows.calculators import DEFAULT_CALCULATOR, model_help
from lis_dft.errors import LisDftError, ParameterError
from lis_dft.system import parse_species

app = typer.Typer(
    name="lis-dft",
    help="Thermodynamics of Li2S/Li2S2 discharge products on LiI(100) for solid-state Li-S cells.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """lis-dft: structures, local and HPC workflows, and analysis for Li-S/LiI DFT studies."""
    if version:
        from lis_dft import __version__

        typer.echo(__version__)
        raise typer.Exit()


def friendly_errors(func: Callable) -> Callable:
    """Turn LisDftError (bad input) into a readable message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except LisDftError as exc:
            console.print(f"[bold red]Error:[/] {exc}", highlight=False)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            console.print("[yellow]Interrupted. Finished work is kept; run again to resume.[/]")
            raise typer.Exit(code=130) from None

    return wrapper


Supercell = Annotated[
    tuple[int, int, int],
    typer.Option(help="Catalyst slab: conventional cells along a, b and through the slab."),
]
SpeciesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--species",
        help="Sulfur species to adsorb: comma-separated or repeated (Li2S, Li2S2, Li2S4, Li2S6, "
        "Li2S8, S8), or 'ladder' for all six. Default: Li2S, Li2S2, S8 (the paper).",
    ),
]
Catalyst = Annotated[
    str,
    typer.Option(
        "--catalyst",
        help="Catalyst crystal the slab is cut from: LiI (default, the paper), LiBr, LiCl "
        "(lis_dft/system.py: CATALYSTS), or your own crystal file (CIF, POSCAR).",
    ),
]
Miller = Annotated[
    tuple[int, int, int] | None,
    typer.Option(help="Surface facet h k l (default: the catalyst's, (1 0 0) for the halides)."),
]
Model = Annotated[
    str | None,
    typer.Option(
        help=model_help(),
    ),
]
Vacuum = Annotated[float, typer.Option(help="Vacuum between slab images, Å.", min=1.0)]
FixedLayers = Annotated[int, typer.Option(help="Bottom atomic layers held fixed.", min=0)]
Overrides = Annotated[
    list[str] | None,
    typer.Option(
        "--structure",
        "-s",
        help="Use your own file for a phase: PHASE=FILE (CIF, POSCAR, extxyz). "
        "Phases: Li, S, Li2S, Li2S2, S8, the catalyst (LiI) and its slab (LiI_100). Repeatable.",
    ),
]


@app.command()
@friendly_errors
def build(
    out: Annotated[
        Path, typer.Option(help="Output directory for CIF/POSCAR files and manifest.json.")
    ] = Path("lis-dft-structures"),
    supercell: Supercell = (3, 3, 3),
    vacuum: Vacuum = 15.0,
    fixed_layers: FixedLayers = 3,
    ads_height: Annotated[
        float,
        typer.Option(help="Height of the lowest adsorbate atom above the surface, Å.", min=0.5),
    ] = 2.2,
    min_distance: Annotated[
        float,
        typer.Option(
            help="Reject placements with adsorbate-surface contacts below this, Å.", min=0.1
        ),
    ] = 1.8,
    structure: Overrides = None,
    catalyst: Catalyst = "LiI",
    miller: Miller = None,
    species: SpeciesOpt = None,
) -> None:
    """Build and validate every structure of the study; write CIF, POSCAR and manifest.json."""
    from lis_dft.structures.catalog import (
        SlabSettings,
        build_study_structures,
        parse_overrides,
        write_structures,
    )
    from lis_dft.system import resolve_catalyst

    settings = SlabSettings(tuple(supercell), vacuum, fixed_layers, ads_height, min_distance)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cat = resolve_catalyst(catalyst, miller)
        study = build_study_structures(
            parse_overrides(structure, cat),
            settings,
            catalyst_name=cat,
            adsorbates=parse_species(species),
        )
        manifest = write_structures(study, out, box_vacuum=vacuum)
    table = Table(title=f"Structures written to {out}")
    for col in ("kind", "count", "atoms"):
        table.add_column(col)
    for kind in ("bulk", "molecule", "slab", "adslab"):
        entries = [e for e in manifest if e["kind"] == kind]
        table.add_row(
            kind, str(len(entries)), ", ".join(sorted({str(e["n_atoms"]) for e in entries}))
        )
    Console().print(table)
    Console().print(f"manifest: {Path(out) / 'manifest.json'} ({len(manifest)} entries)")


@app.command()
@friendly_errors
def run(
    calculator: Annotated[
        str, typer.Option("--calculator", "-c", help="mock, emt, chgnet, sevennet, xtb or gpaw.")
    ] = DEFAULT_CALCULATOR,
    out: Annotated[
        Path, typer.Option(help="Output directory (store, jobs, results, figures).")
    ] = Path("lis-dft-run"),
    d3: Annotated[str, typer.Option(help="D3 dispersion: auto, zero, bj or none.")] = "auto",
    model: Model = None,
    top_k: Annotated[
        int, typer.Option(help="Best screened placements relaxed per adsorbate.", min=1)
    ] = 2,
    race_rounds: Annotated[
        str,
        typer.Option(
            help="Adsorbate screening: '10,10' (default) races the placements' relaxations "
            "(10 steps for all, 10 more for the best --race-keep fraction, then the "
            "--top-k best are relaxed on the study's slab); '0' ranks them by one "
            "single-point energy each (cheaper; on LiI(100) it misses the lowest minima).",
        ),
    ] = "10,10",
    screen_slab: Annotated[
        str,
        typer.Option(
            help="Where the screen runs: 'small' (default: 2x2x2 cells of the same surface, "
            "64 atoms for LiI(100), the finalists carried onto the study's slab) or 'study'.",
        ),
    ] = "small",
    race_keep: Annotated[
        float,
        typer.Option(help="Fraction of placements kept after each race round.", min=0.01, max=1.0),
    ] = 0.34,
    fmax: Annotated[
        float, typer.Option(help="Force threshold of relaxations, eV/Å.", min=1e-4)
    ] = 0.05,
    steps: Annotated[
        int, typer.Option(help="Maximum optimizer steps per relaxation.", min=1)
    ] = 300,
    supercell: Supercell = (3, 3, 3),
    vacuum: Vacuum = 15.0,
    fixed_layers: FixedLayers = 3,
    structure: Overrides = None,
    catalyst: Catalyst = "LiI",
    miller: Miller = None,
    species: SpeciesOpt = None,
    store: Annotated[
        str | None, typer.Option(help="MongoDB URI for the job store instead of the embedded one.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
    barriers: Annotated[
        bool,
        typer.Option(
            help="Also compute the Li2S/Li2S2 delithiation barriers (CI-NEB, vacuum and "
            "surface; 'lis-dft barriers' adds them later)."
        ),
    ] = True,
) -> None:
    """Run the whole study locally (resumable) and write results, figures and report to OUT.

    References, formation and adsorption energies, the oxidation landscape and the
    delithiation barriers go to results.json, results.csv, figures/ and report.md.
    Re-running reuses finished jobs.
    """
    from lis_dft.dft_workflows.calculators import CalculatorSpec
    from lis_dft.dft_workflows.flows import StudySettings
    from lis_dft.dft_workflows.local import run_local_study
    from lis_dft.dft_workflows.screening import parse_race_rounds
    from lis_dft.structures.catalog import SlabSettings, parse_overrides

    settings = StudySettings(
        calculator=CalculatorSpec(calculator, d3, {"model": model} if model else {}),
        slab=SlabSettings(tuple(supercell), vacuum, fixed_layers),
        fmax=fmax,
        steps=steps,
        top_k=top_k,
        race=parse_race_rounds(race_rounds, race_keep),
        screen_slab=screen_slab,
        catalyst=catalyst,
        miller=tuple(miller) if miller else None,
        adsorbates=parse_species(species),
    )
    from lis_dft.system import resolve_catalyst

    cat = resolve_catalyst(catalyst, miller)
    with_barriers = barriers and any(s in settings.adsorbates for s in ("Li2S", "Li2S2"))
    results, stats = run_local_study(
        out,
        settings,
        parse_overrides(structure, cat),
        store,
        progress,
        figures=not with_barriers,  # the barrier stage draws them all, once
    )
    out_console = Console()
    if results["calculator"].get("is_mock"):
        out_console.print("[bold yellow]MOCK calculator: numbers test the pipeline only.[/]")
    surface = results["catalyst"]["label"]
    species = list(results["adsorption_energies"]) or ["Li2S", "Li2S2", "S8"]
    table = Table(title=f"lis-dft study on {surface} ({results['calculator']['model']})")
    for col in ("quantity", *species):
        table.add_column(col)

    def cell(d, key):
        v = d.get(key)
        return "" if v is None else f"{v:.3f}"

    rows = (
        ("E_f bulk (eV/atom)", "formation_energies", "eV_per_atom"),
        ("E_f vacuum (eV/atom)", "vacuum_formation_energies", "eV_per_atom"),
        (f"E_f on {surface} (eV/atom)", "surface_formation_energies", "eV_per_atom"),
        (f"E_A on {surface} (eV)", "adsorption_energies", "eV"),
    )
    for label, key, unit in rows:
        table.add_row(label, *(cell(results[key].get(k, {}), unit) for k in species))
    ae = results["adsorption_energies"]
    out_console.print(table)
    for ads, v in ae.items():
        problems = []
        if v.get("best_config_intact") is False:
            problems.append("the adsorbate decomposed")
        if v.get("best_config_surface_intact") is False:
            problems.append("the surface reconstructed under it")
        if problems:
            console.print(
                f"[bold red]Warning:[/] {ads} E_A = {v['eV']:.3f} eV comes from {v['best_config']}, "
                f"where {' and '.join(problems)} (no relaxed configuration stayed intact). "
                "Treat it as an artifact until DFT confirms it: lis-dft verify "
                f"{out}",
                highlight=False,
            )
    for note in results.get("warnings") or []:
        console.print(f"[bold red]Warning:[/] {note}", highlight=False)
    if not results["calculator"].get("is_mock"):
        console.print(
            "Machine-learned numbers are a hypothesis until DFT agrees: "
            f"check them with 'lis-dft verify {out}'.",
            highlight=False,
        )
    out_console.print(
        f"{stats.n_run} jobs run, {stats.n_skipped} reused; wall {stats.wall_seconds:.1f} s, "
        f"{100 * stats.calculator_fraction:.0f}% inside the calculator. Report: {Path(out) / 'report.md'}"
    )
    if with_barriers:
        from lis_dft.analysis.outputs import write_outputs
        from lis_dft.dft_workflows.barriers import run_barriers

        try:
            paths = run_barriers(out, progress=progress)
        except BaseException:
            write_outputs(results, Path(out).absolute())  # the study's figures all the same
            raise
        _print_barriers(paths)


def _print_barriers(rows: list[dict]) -> None:
    table = Table(title="Delithiation barriers (CI-NEB, eV per Li removed)")
    for col in ("reaction", "environment", "forward", "reverse", "ΔE", "verdict"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["reaction"],
            r["environment"],
            f"{r['forward_eV']:.3f}",
            f"{r['reverse_eV']:.3f}",
            f"{r['reaction_eV']:.3f}",
            r["verdict"],
        )
    Console().print(table)
    for r in rows:
        if not r["is_saddle"]:
            console.print(
                f"[bold red]Warning:[/] {r['reaction']} ({r['environment']}): {r['verdict']}; "
                "its 'barrier' is not a transition-state energy.",
                highlight=False,
            )


@app.command("barriers")
@friendly_errors
def barriers_command(
    run_dir: Annotated[Path, typer.Argument(help="Folder of a finished 'lis-dft run'.")] = Path(
        "lis-dft-run"
    ),
    images: Annotated[int, typer.Option(help="Intermediate NEB images.", min=1)] = 5,
    steps: Annotated[int, typer.Option(help="Maximum optimizer steps per NEB stage.", min=1)] = 300,
    spring: Annotated[float, typer.Option(help="NEB spring constant, eV/Å².")] = 0.1,
    fmax: Annotated[
        float, typer.Option(help="Climbing-image force threshold, eV/Å.", min=1e-4)
    ] = 0.05,
    modes: Annotated[
        bool, typer.Option(help="Count imaginary modes at the TS (finite differences).")
    ] = True,
    optimizer: Annotated[
        str | None,
        typer.Option(
            help="NEB optimizer: ODE (ASE's NEBOptimizer), FIRE, BFGS or MDMin; default the "
            "one benchmarks/neb_comparison.json chose."
        ),
    ] = None,
    climb_optimizer: Annotated[
        str | None,
        typer.Option(
            help="Optimizer of the climbing-image stage (same choices); default the one "
            "benchmarks/neb_comparison.json chose."
        ),
    ] = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="Start no new path after this many minutes.")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Paths computed side by side in this many processes, one torch thread "
            "each (pays off over many paths of similar size; docs/methods.md).",
            min=1,
        ),
    ] = 1,
    slab: Annotated[
        str,
        typer.Option(
            help="Surface paths on the 'reduced' model (2x2 cells, 4 layers, as verify cuts "
            "it; default) or on the run's 'full' slab."
        ),
    ] = "reduced",
    vasp_inputs: Annotated[
        Path | None,
        typer.Option(
            help="Also write VASP NEB folders DIR/neb/<path>/ from the computed images "
            "(a campaign folder, so 'lis-dft parse DIR' reads them back)."
        ),
    ] = None,
    vtst: Annotated[
        bool,
        typer.Option(
            help="Climbing image through VTST (LCLIMB, IOPT; needs a VTST-built VASP); "
            "--no-vtst writes VASP's own plain NEB."
        ),
    ] = True,
    max_tries: Annotated[
        int | None,
        typer.Option(
            help="Surface final-state candidates (nearest site first) relaxed before giving "
            "up, when each one's Li falls back onto the molecule (default 20: "
            "BarrierSettings.max_tries).",
            min=1,
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Li2S -> LiS + Li and Li2S2 -> LiS2 + Li barriers by climbing-image NEB.

    In vacuum and on the catalyst surface (from the configuration the run reports), on the
    run's potential; resumable (jobs in the run's store). Writes RUN/barriers/ (images,
    TS, end points), results.json["barriers"], figures/neb_*.png and the report.
    """
    from lis_dft.dft_workflows.barriers import BarrierSettings, run_barriers

    settings = BarrierSettings(
        n_images=images,
        spring=spring,
        fmax=fmax,
        steps=steps,
        modes=modes,
        slab=slab,
        **({"max_tries": max_tries} if max_tries is not None else {}),
        **({"optimizer": optimizer} if optimizer else {}),
        **({"climb_optimizer": climb_optimizer} if climb_optimizer else {}),
    )
    _print_barriers(run_barriers(run_dir, settings, progress, max_minutes, workers))
    if vasp_inputs is not None:
        from lis_dft.vasp.neb import write_vasp_neb

        manifest = write_vasp_neb(run_dir, vasp_inputs, settings, vtst)
        Console().print(
            f"VASP NEB inputs: {len(manifest['paths'])} folders in {vasp_inputs / 'neb'} "
            + ("(climbing image via VTST)" if vtst else "(plain NEB, no VTST)")
        )


@app.command("free-energy")
@friendly_errors
def free_energy(
    run_dir: Annotated[Path, typer.Argument(help="Folder of a finished 'lis-dft run'.")] = Path(
        "lis-dft-run"
    ),
    temperature: Annotated[float, typer.Option(help="Temperature, K.")] = 298.15,
    cutoff: Annotated[
        float, typer.Option(help="Surface atoms within this of the adsorbate vibrate with it, Å.")
    ] = 3.0,
) -> None:
    """Gibbs free-energy ladder: vibrations on the run's potential, ΔG = ΔE + ΔZPE - TΔS.

    Isolated species as ideal gases (1 bar), adsorbates harmonic with their surface
    neighbours; the ladder against electrode potential (computational Li electrode)
    with the limiting step and onset potential. Resumable (displacements cached in
    RUN/vibrations/); writes RUN/free_energy.json and updates results, report, figures.
    """
    from lis_dft.dft_workflows.vibrations import run_free_energy

    block = run_free_energy(run_dir, temperature, cutoff)
    table = Table(title=f"ΔG ladder at {temperature:.2f} K ({block['calculator']})")
    for col in ("environment", "limiting step (ΔG)", "onset U (V vs Li+/Li)", "onset from ΔE (V)"):
        table.add_column(col)
    res = json.loads((Path(run_dir) / "results.json").read_text())
    for env, land in block["landscape"].items():
        if land:
            e_onset = (res["landscape"].get(env) or {}).get("onset_potential_V_vs_Li")
            table.add_row(
                env,
                land["limiting_step"],
                f"{land['onset_potential_V_vs_Li']:.3f}",
                "" if e_onset is None else f"{e_onset:.3f}",
            )
    Console().print(table)
    Console().print(f"Written: {Path(run_dir) / 'free_energy.json'}, report and figures updated.")


@app.command()
@friendly_errors
def compare(
    runs: Annotated[
        list[Path], typer.Argument(help="Folders of finished 'lis-dft run's, one per catalyst.")
    ],
    out: Annotated[
        Path, typer.Option(help="Output folder for compare.json, compare.md and the figure.")
    ] = Path("lis-dft-compare"),
    allow_mixed: Annotated[
        bool,
        typer.Option(help="Compare runs made with different calculators (marked everywhere)."),
    ] = False,
) -> None:
    """Compare catalysts: E_A per species, the oxidation ladder, limiting step and onset."""
    from lis_dft.analysis.compare import compare_runs, render_markdown, write_comparison

    comp = compare_runs([str(r) for r in runs], allow_mixed=allow_mixed)
    paths = write_comparison(comp, out)
    Console().print(render_markdown(comp), highlight=False)
    for n in comp.notes:
        console.print(f"[bold red]Note:[/] {n}", highlight=False)
    Console().print(f"Written: {', '.join(str(p) for p in paths.values())}")


@app.command()
@friendly_errors
def thermo(
    results: Annotated[
        Path,
        typer.Argument(help="results.json (or its folder) from 'lis-dft run' or 'lis-dft parse'."),
    ] = Path("lis-dft-run/results.json"),
    out: Annotated[
        Path, typer.Option(help="Output directory for thermo.json, thermo.csv and figures.")
    ] = Path("lis-dft-thermo"),
    counter_voltage: Annotated[
        float, typer.Option(help="Counter electrode vs Li+/Li, V (Li-In: 0.62).")
    ] = 0.62,
    cell_params: Annotated[
        Path | None, typer.Option(help="YAML/JSON file overriding cell parameters (see docs).")
    ] = None,
) -> None:
    """Convex hull, voltages, capacities, volume change and cell energy density from a study."""
    from lis_dft.analysis.cell import CellParameters
    from lis_dft.analysis.thermo_outputs import load_results, run_thermo

    data = load_results(results)
    params = CellParameters.from_file(cell_params) if cell_params else None
    summary = run_thermo(data, out, counter_voltage, params)
    table = Table(title="Thermodynamics")
    for col in ("quantity", "value"):
        table.add_column(col)
    for name, v in summary["hull_Li_S"].items():
        table.add_row(
            f"E above hull {name}", f"{1000 * v['e_above_hull_eV_per_atom']:.0f} meV/atom"
        )
    for name, v in summary["voltages"].items():
        table.add_row(
            f"V {name}", f"{v['V_vs_Li']:.2f} V vs Li, {v['V_vs_counter']:.2f} V vs counter"
        )
    for name, v in summary["volume_change_per_S"].items():
        table.add_row(f"volume change {name}", f"{v['change_pct']:+.1f}% per S")
    Console().print(table)
    Console().print(
        f"Written: {Path(out) / 'thermo.json'}, {Path(out) / 'thermo.csv'}, {Path(out) / 'figures'}"
    )


@app.command()
@friendly_errors
def mixture(
    capacity: Annotated[float, typer.Option(help="Measured capacity, mAh per g of sulfur.")],
    allow_unreacted: Annotated[
        bool, typer.Option(help="Allow unreacted sulfur when no Li2S/Li2S2 mix fits.")
    ] = False,
    unreacted_fraction: Annotated[
        float | None, typer.Option(help="Fix the fraction of unreacted sulfur atoms (0-1).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The Li2S/Li2S2 split (fractions of the S atoms) that explains a measured capacity."""
    import json as _json

    from lis_dft.analysis.mixture import discharge_mixture

    m = discharge_mixture(capacity, allow_unreacted, unreacted_fraction)
    if as_json:
        typer.echo(_json.dumps(m.as_dict(), indent=2))
        return
    typer.echo(
        f"{m.capacity:.1f} mAh/g S = {m.electrons_per_s:.3f} e- per S: "
        f"{100 * m.li2s_fraction:.1f}% Li2S, {100 * m.li2s2_fraction:.1f}% Li2S2, "
        f"{100 * m.unreacted_s_fraction:.1f}% unreacted S (fractions of S atoms; {m.note}). "
        f"Limits: {m.capacity_s_to_li2s2:.1f} (all Li2S2) to {m.capacity_s_to_li2s:.1f} (all Li2S) mAh/g S."
    )


@app.command()
@friendly_errors
def inputs(
    code: Annotated[str, typer.Option(help="Input format; only 'vasp' for now.")] = "vasp",
    out: Annotated[
        Path, typer.Option(help="Campaign directory (one folder per calculation).")
    ] = Path("lis-dft-vasp"),
    supercell: Supercell = (3, 3, 3),
    vacuum: Vacuum = 15.0,
    fixed_layers: FixedLayers = 3,
    structure: Overrides = None,
    catalyst: Catalyst = "LiI",
    miller: Miller = None,
    species: SpeciesOpt = None,
    ivdw: Annotated[int, typer.Option(help="VASP IVDW: 11 = D3 zero damping, 12 = D3-BJ.")] = 11,
    incar: Annotated[
        list[str] | None,
        typer.Option("--incar", help="Override an INCAR tag: KEY=VALUE. Repeatable."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="YAML file of VASP settings (encut, ediffg, slab_kpoints, incar_overrides, ...)."
        ),
    ] = None,
    potcars: Annotated[
        bool, typer.Option(help="Write real POTCARs (needs pymatgen's PMG_VASP_PSP_DIR).")
    ] = False,
    from_run: Annotated[
        Path | None,
        typer.Option(
            help="Seed the campaign from a finished 'lis-dft run': its relaxed references, "
            "slab and top --top-k configurations per adsorbate (relaxed geometries), "
            "instead of every raw placement. The structures, catalyst and slab come from "
            "the run."
        ),
    ] = None,
    top_k: Annotated[
        int,
        typer.Option(help="With --from-run: configurations per adsorbate sent to VASP.", min=1),
    ] = 2,
) -> None:
    """Write the paper's VASP inputs and campaign.json: the whole study, or a run's minima.

    Without --from-run every raw adsorbate placement gets a VASP relaxation (the
    exhaustive campaign); with it, only the run's --top-k relaxed configurations do.
    """
    from lis_dft.errors import ParameterError
    from lis_dft.settings_io import read_mapping
    from lis_dft.structures.catalog import SlabSettings, build_study_structures, parse_overrides
    from lis_dft.vasp.campaign import write_campaign
    from lis_dft.vasp.sets import VaspSettings, parse_incar_overrides

    if code != "vasp":
        raise ParameterError(f"Unknown --code {code!r}; only 'vasp' is supported.")
    data: dict = {}
    if config is not None:
        data = read_mapping(config)
    data.setdefault("ivdw", ivdw)
    cli_incar = parse_incar_overrides(incar)
    data["incar_overrides"] = {**data.get("incar_overrides", {}), **cli_incar}
    settings = VaspSettings.from_mapping(data)
    overrides_record = {
        "config_file": str(config) if config else None,
        "incar": cli_incar,
        "ivdw": ivdw,
    }
    if from_run is not None:
        _seeded_inputs(from_run, out, top_k, settings, vacuum, potcars, overrides_record)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lis_dft.system import resolve_catalyst

        cat = resolve_catalyst(catalyst, miller)
        study = build_study_structures(
            parse_overrides(structure, cat),
            SlabSettings(tuple(supercell), vacuum, fixed_layers),
            conventional=False,
            catalyst_name=cat,
            adsorbates=parse_species(species),
        )
        campaign = write_campaign(
            study,
            out,
            settings,
            vacuum,
            potcars,
            overrides_record=overrides_record,
        )
    kinds: dict[str, int] = {}
    for c in campaign.calculations:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    Console().print(
        f"{len(campaign.calculations) - 1} VASP calculations written to {out} ({kinds}); campaign.json lists them."
    )


def _seeded_inputs(
    run_dir: Path,
    out: Path,
    top_k: int,
    settings: Any,
    vacuum: float,
    potcars: bool,
    overrides_record: dict,
) -> None:
    """``lis-dft inputs --from-run``: write the seeded campaign and say what it saves."""
    from lis_dft.vasp.campaign import write_seeded_campaign

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        campaign, summary = write_seeded_campaign(
            run_dir, out, top_k, settings, vacuum, potcars, overrides_record
        )
    console = Console()
    n = len(campaign.calculations) - 1
    console.print(
        f"{n} VASP calculations written to {out} from the run {run_dir}: "
        f"{summary.adsorbate_calculations} adsorbate relaxations (top {top_k} per adsorbate, "
        f"from the potential's relaxed geometries) instead of "
        f"{summary.exhaustive_adsorbate_calculations} raw placements: "
        f"{summary.saved} fewer, about {summary.ionic_steps_saved_estimate} ionic steps "
        "fewer (the potential's mean steps from a raw placement, per placement left out)."
    )
    for ads, a in summary.adsorbates.items():
        ids = ", ".join(w["id"] for w in a["written"])
        console.print(f"  {ads}: {len(a['written'])} of {a['placements']} placements ({ids})")
    for note in summary.notes:
        console.print(f"[yellow]{note}[/yellow]")


@app.command()
@friendly_errors
def submit(
    campaign_dir: Annotated[
        Path, typer.Argument(help="Campaign directory made by 'lis-dft inputs'.")
    ],
    scheduler: Annotated[str, typer.Option(help="slurm or pbs.")] = "slurm",
    config: Annotated[
        Path | None, typer.Option(help="Resources YAML (see hpc_templates/resources.example.yaml).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Print what would be submitted; submit nothing.")
    ] = False,
) -> None:
    """Submit a campaign in dependency order; safe to run twice (no duplicate jobs)."""
    from lis_dft.schedulers import HpcConfig, get_scheduler
    from lis_dft.vasp.campaign import load_campaign
    from lis_dft.vasp.submit import submit_campaign

    get_scheduler(scheduler)  # an unknown name fails before anything is read
    campaign = load_campaign(campaign_dir)
    actions = submit_campaign(
        campaign, scheduler, HpcConfig.from_file(config), dry_run, echo=typer.echo
    )
    counts: dict[str, int] = {}
    for a in actions:
        counts[a["action"]] = counts.get(a["action"], 0) + 1
    typer.echo(", ".join(f"{v} {k}" for k, v in counts.items()))


@app.command()
@friendly_errors
def status(
    campaign_dir: Annotated[Path, typer.Argument(help="Campaign directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each calculation: done, running, pending, failed (with the reason) or not submitted."""
    import json as _json

    from lis_dft.vasp.campaign import load_campaign
    from lis_dft.vasp.submit import campaign_status

    rows = campaign_status(load_campaign(campaign_dir))
    if as_json:
        typer.echo(_json.dumps(rows, indent=2))
        return
    table = Table(title=f"Campaign {campaign_dir}")
    for col in ("calculation", "status", "job", "reason"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["status"], r["job_id"] or "", r["reason"])
    Console().print(table)


@app.command()
@friendly_errors
def parse(
    campaign_dir: Annotated[
        Path, typer.Argument(help="Campaign directory with finished VASP runs.")
    ],
) -> None:
    """Check every VASP run, write parsed.json, and turn trusted energies into results and figures."""
    from lis_dft.analysis.outputs import write_outputs
    from lis_dft.analysis.results import build_results
    from lis_dft.provenance import provenance
    from lis_dft.vasp.campaign import load_campaign
    from lis_dft.vasp.results import (
        energy_record,
        missing_for_results,
        parse_campaign,
        vasp_calculator_info,
        write_parsed,
    )

    campaign = load_campaign(campaign_dir)
    parsed = parse_campaign(campaign)
    path = write_parsed(campaign.root, parsed)
    table = Table(title=f"VASP calculations in {campaign_dir}")
    for col in ("calculation", "status", "energy (eV)", "max force (eV/Å)", "reason"):
        table.add_column(col)
    for p in parsed:
        table.add_row(
            p.name,
            p.status,
            "" if p.energy is None else f"{p.energy:.4f}",
            "" if p.max_force is None else f"{p.max_force:.3f}",
            p.reason,
        )
    Console().print(table)
    bad = [p for p in parsed if p.status != "ok"]
    Console().print(f"{len(parsed) - len(bad)} trusted, {len(bad)} not trusted; details in {path}")
    barriers = _parse_neb_folders(campaign.root)
    record = energy_record(campaign, parsed)
    missing = missing_for_results(record)
    if missing:
        Console().print(
            f"[yellow]No results.json: the {', '.join(missing)} reference(s) are not trusted yet.[/]"
        )
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = build_results(
            record, vasp_calculator_info(campaign), campaign.settings, provenance(), source="vasp"
        )
        if barriers:
            results["barriers"] = barriers
        if campaign.meta.get("seeded_from"):
            from lis_dft.analysis.sources import compare_seeded

            results["seeded_comparison"] = compare_seeded(campaign.meta["seeded_from"], results)
            for ads, same in results["seeded_comparison"]["same_lowest"].items():
                if same is False:
                    Console().print(
                        f"[bold red]{ads}: VASP and the seeding potential disagree on the "
                        "lowest configuration[/] (report: 'VASP against the potential')."
                    )
        write_outputs(results, campaign.root)
    Console().print(
        f"Results: {campaign.root / 'results.json'}, report: {campaign.root / 'report.md'}"
    )


def _parse_neb_folders(root: Path) -> list[dict]:
    """Parse ``ROOT/neb/*`` (written by 'lis-dft barriers --vasp-inputs'); table + neb_parsed.json."""
    from lis_dft.fileio import atomic_write_text
    from lis_dft.vasp.neb import parse_neb

    manifest_path = root / "neb" / "neb.json"
    if not manifest_path.is_file():
        return []
    manifest = json.loads(manifest_path.read_text())
    parsed, rows = {}, []
    table = Table(title="VASP NEB paths")
    for col in ("path", "images ok", "forward (eV)", "potential (eV)", "verdict"):
        table.add_column(col)
    for name, m in manifest["paths"].items():
        p = parse_neb(root / m["folder"], m["reaction"], m["environment"])
        p["mlip_forward_eV"] = m["mlip_forward_eV"]
        parsed[name] = p
        b = p["barrier"]
        if b:
            b["files"] = {"ts": f"{m['folder']}/{b['ts_index']:02d}/POSCAR"}
            rows.append(b)
        ok = sum(i["verdict"].startswith("ok") for i in p["images"])
        table.add_row(
            name,
            f"{ok}/{len(p['images'])}",
            "" if not b else f"{b['forward_eV']:.3f}",
            f"{m['mlip_forward_eV']:.3f}",
            p["verdict"],
        )
    Console().print(table)
    atomic_write_text(root / "neb_parsed.json", json.dumps(parsed, indent=2, default=str))
    return rows


def _names(items: list[str] | None) -> tuple[str, ...] | None:
    """Names given repeated or comma-separated on the command line; None if none given."""
    names = [n.strip() for item in items or [] for n in item.split(",") if n.strip()]
    if items and not names:
        raise ParameterError(f"No name in {', '.join(map(repr, items))}: give e.g. S8,Li2S2.")
    return tuple(dict.fromkeys(names)) or None


@app.command()
@friendly_errors
def verify(
    run_dir: Annotated[Path, typer.Argument(help="Folder of a finished 'lis-dft run'.")] = Path(
        "lis-dft-run"
    ),
    calculator: Annotated[
        str,
        typer.Option("--calculator", "-c", help="DFT calculator: gpaw (or mock for a dry run)."),
    ] = "gpaw",
    mode: Annotated[str, typer.Option(help="GPAW mode: lcao (dzp basis) or pw.")] = "lcao",
    ecut: Annotated[float, typer.Option(help="GPAW plane-wave cutoff, eV (--mode pw).")] = 500.0,
    counterpoise: Annotated[
        bool,
        typer.Option(
            help="Counterpoise-correct LCAO basis-set superposition (4 more single points per configuration)."
        ),
    ] = True,
    max_configs: Annotated[
        int | None,
        typer.Option(
            help="Relaxed configurations per adsorbate to check, lowest first (default all).", min=1
        ),
    ] = None,
    lateral: Annotated[
        tuple[int, int], typer.Option(help="Reduced model: conventional cells kept in plane.")
    ] = (2, 2),
    layers: Annotated[int, typer.Option(help="Reduced model: atomic layers kept.", min=2)] = 4,
    tolerance: Annotated[
        float, typer.Option(help="|E_A(potential) - E_A(DFT)| that still 'agrees', eV.", min=0.001)
    ] = 0.2,
    bulk: Annotated[
        bool, typer.Option(help="Also check bulk references (formation energies).")
    ] = True,
    adsorbates: Annotated[
        list[str] | None,
        typer.Option(
            "--adsorbates",
            help="Check only these adsorbates, comma-separated or repeated (e.g. S8,Li2S2); "
            "the others are reported as not checked. Default: every adsorbate of the run.",
        ),
    ] = None,
    barriers: Annotated[
        bool,
        typer.Option(help="Also check the run's barrier paths (IS, TS, FS: 3 points per path)."),
    ] = True,
    adsorption: Annotated[
        bool,
        typer.Option(
            help="Check the adsorbates' relaxed minima (--no-adsorption: only bulk and/or "
            "barriers, e.g. one of several processes on one run)."
        ),
    ] = True,
    max_minutes: Annotated[
        float | None,
        typer.Option(help="Start no new single point after this many minutes (resume later)."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """DFT single points on the run's relaxed minima (reduced model), next to the run's potential.

    Writes RUN/verify.json and adds a DFT-verification section, verdicts and a parity
    figure to results.json, report.md and figures/. Resumable: finished single points
    are kept in the run's store.
    """
    from lis_dft.dft_workflows.calculators import CalculatorSpec
    from lis_dft.dft_workflows.gpaw_calc import gpaw_mode_kwargs
    from lis_dft.dft_workflows.verify import VerifySettings, run_verify
    from lis_dft.structures.reduced import ReducedModel

    spec = (
        CalculatorSpec("gpaw", "zero", gpaw_mode_kwargs(mode, ecut))
        if calculator == "gpaw"
        else CalculatorSpec(calculator, "auto")
    )
    settings = VerifySettings(
        dft=spec,
        model=ReducedModel(lateral=tuple(lateral), layers=layers),
        counterpoise=counterpoise,
        max_configs=max_configs,
        bulk=bulk,
        adsorbates=_names(adsorbates),
        barriers=barriers,
        tolerance=tolerance,
        max_minutes=max_minutes,
        adsorption=adsorption,
    )
    summary = run_verify(run_dir, settings, progress=progress)
    table = Table(title=f"DFT check of {run_dir} ({spec.describe()['model']})")
    for col in (
        "adsorbate",
        "config",
        "E_A potential (eV)",
        "E_A DFT (eV)",
        "error (eV)",
        "verdict",
    ):
        table.add_column(col)
    for ads, v in summary["adsorption"].items():
        rep = next((c for c in v["configs"] if c["id"] == v["reported_config"]), None)
        fmt = lambda x: "" if x is None else f"{x:+.2f}"  # noqa: E731
        table.add_row(
            ads,
            str(v["reported_config"]),
            fmt(rep and rep["mlip_eV"]),
            fmt(rep and rep["dft_eV"]),
            fmt(rep and rep["error_eV"]),
            v["verdict"],
        )
    Console().print(table)
    pending = summary["timing"].get("n_pending", 0)
    if pending:
        console.print(
            f"[yellow]{pending} single points not started (--max-minutes); "
            f"DFT done for {summary['dft_single_points']} geometries. Run again to resume.[/]"
        )
    if summary["flagged"]:
        console.print(
            f"[bold red]Not confirmed by DFT or outside {tolerance} eV:[/] {', '.join(summary['flagged'])}. "
            f"Details: {Path(run_dir) / 'verify.json'}, {Path(run_dir) / 'report.md'}"
        )
    if summary.get("flagged_barriers"):
        console.print(
            f"[bold red]Barriers outside {tolerance} eV of DFT (raw LCAO at the potential's "
            f"path):[/] {'; '.join(summary['flagged_barriers'])}."
        )


@app.command()
@friendly_errors
def energy(
    files: Annotated[
        list[Path], typer.Argument(help="Structure files: CIF, POSCAR/CONTCAR, extxyz.")
    ],
    calculator: Annotated[
        str, typer.Option("--calculator", "-c", help="mock, chgnet, sevennet, xtb or gpaw.")
    ] = DEFAULT_CALCULATOR,
    d3: Annotated[str, typer.Option(help="D3 dispersion: auto, zero, bj or none.")] = "auto",
    model: Model = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Single-point energy and largest force of any structures with a lis-dft calculator."""
    import json as _json

    from lis_dft.dft_workflows.calculators import CalculatorSpec
    from lis_dft.dft_workflows.singlepoint import evaluate_files

    spec = CalculatorSpec(calculator, d3, {"model": model} if model else {})
    rows = evaluate_files(files, spec)
    if as_json:
        typer.echo(_json.dumps({"calculator": spec.describe(), "structures": rows}, indent=2))
        return
    table = Table(title=f"Single points ({spec.describe()['model']}, D3 {spec.d3})")
    for col in ("file", "formula", "atoms", "E (eV)", "E/atom (eV)", "max force (eV/Å)"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["file"],
            r["formula"],
            str(r["n_atoms"]),
            f"{r['energy_eV']:.4f}",
            f"{r['energy_per_atom_eV']:.4f}",
            f"{r['max_force_eV_per_A']:.3f}",
        )
    Console().print(table)


reference_app = typer.Typer(
    help="The DFT reference set (benchmarks/dft_reference): build configurations, compute GPAW.",
    no_args_is_help=True,
)
app.add_typer(reference_app, name="reference-set")
ReferenceDir = Annotated[
    Path | None, typer.Option(help="Folder of the set (default benchmarks/dft_reference).")
]
#: the arguments naming one GPAW relaxation of an adsorbate (import-relaxation, scan)
RelaxationFile = Annotated[
    Path, typer.Argument(help="extxyz of a GPAW relaxation's steps (benchmarks/dft_hours).")
]
RelaxedAdsorbate = Annotated[str, typer.Option(help="The adsorbate that relaxed (S8, Li2S2).")]
RelaxedSite = Annotated[str, typer.Option(help="Its site family (top_I, hollow, bridge_I-Li).")]
CatalystKey = Annotated[str, typer.Option(help="The slab's key in family names.")]


@reference_app.command("build")
@friendly_errors
def reference_build(
    out: ReferenceDir = None,
    generator: Annotated[
        str, typer.Option(help="Potential that proposes the relaxed geometries.")
    ] = "chgnet",
    per_adsorbate: Annotated[int, typer.Option(help="Placements per adsorbate.", min=1)] = 5,
) -> None:
    """Make configurations.extxyz: bulk, molecules, clean slab and adsorbate geometries."""
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR, build_frames, write_configurations
    from lis_dft.dft_workflows.runner import preflight

    preflight(generator, {"Li", "S", "I"})
    frames = build_frames({"name": generator, "d3": "auto"}, per_adsorbate)
    path = write_configurations(frames, out or DEFAULT_DIR)
    kinds: dict[str, int] = {}
    for f in frames:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    typer.echo(f"{len(frames)} configurations ({kinds}) written to {path}")


@reference_app.command("pairs")
@friendly_errors
def reference_pairs(
    placement: Annotated[
        list[str],
        typer.Option(help="AdsorbateSiteFinder placement (top_Li-flat-r45, ...). Repeatable."),
    ],
    adsorbate: RelaxedAdsorbate,
    out: ReferenceDir = None,
    generator: Annotated[
        str, typer.Option(help="Potential that proposes the relaxed geometries.")
    ] = "chgnet",
) -> None:
    """Add frozen- and free-slab relaxations of an adsorbate at more placements."""
    from lis_dft.dft_workflows.reference_set import (
        CONFIGURATIONS,
        DEFAULT_DIR,
        _append_atomic,
        placement_frames,
    )
    from lis_dft.dft_workflows.runner import preflight

    out = out or DEFAULT_DIR
    preflight(generator, {"Li", "S", "I"})
    frames = placement_frames(out, adsorbate, placement, {"name": generator, "d3": "auto"})
    for f in frames:
        _append_atomic(out / CONFIGURATIONS, f.to_atoms())
        typer.echo(f"{f.config_id}: adsorbate intact {f.intact}, surface intact {f.surface_intact}")
    typer.echo(
        f"{len(frames)} configurations added to {out / CONFIGURATIONS}; compute them with "
        f"'lis-dft reference-set compute --only adslab/{adsorbate}/', then 'counterpoise'."
    )


@reference_app.command("compute")
@friendly_errors
def reference_compute(
    out: ReferenceDir = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="Start no new single point after this many minutes.")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(help="Only configuration ids starting with this. Repeatable."),
    ] = None,
    mode: Annotated[str, typer.Option(help="GPAW mode: lcao (dzp) or pw.")] = "lcao",
    ecut: Annotated[float, typer.Option(help="Plane-wave cutoff, eV (--mode pw).")] = 500.0,
) -> None:
    """GPAW PBE + D3(zero) energies and forces of every configuration not yet in reference.extxyz."""
    from lis_dft.dft_workflows.gpaw_calc import gpaw_mode_kwargs
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR, compute
    from lis_dft.dft_workflows.runner import preflight

    preflight("gpaw", {"Li", "S", "I"})
    gpaw = gpaw_mode_kwargs(mode, ecut)
    summary = compute(out or DEFAULT_DIR, gpaw, max_minutes, only, log=typer.echo)
    typer.echo(
        f"{summary['done']} computed now; {summary['finished']} of {summary['total']} done, "
        f"{summary['remaining']} remaining (run again to continue)."
    )


@reference_app.command("counterpoise")
@friendly_errors
def reference_counterpoise(
    out: ReferenceDir = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="Start no new fragment after this many minutes.")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(help="Only configuration ids starting with this. Repeatable."),
    ] = None,
) -> None:
    """Counterpoise (BSSE) corrections of the relaxed adsorbate frames, into counterpoise.json."""
    from lis_dft.dft_workflows import reference_counterpoise as cp
    from lis_dft.dft_workflows.runner import preflight

    preflight("gpaw", {"Li", "S", "I"})
    summary = cp.compute(out or cp.DEFAULT_DIR, max_minutes, only, log=typer.echo)
    typer.echo(
        f"{summary['done']} corrected now; {summary['finished']} of {summary['total']} relaxed "
        f"adsorbate frames done, {summary['remaining']} remaining (run again to continue)."
    )


@reference_app.command("import")
@friendly_errors
def reference_import(
    run: Annotated[Path, typer.Argument(help="A verified run folder (verify.json, store/).")],
    out: ReferenceDir = None,
    tag: Annotated[
        str | None, typer.Option(help="Id prefix verified/<tag>/ (default: the folder's name).")
    ] = None,
) -> None:
    """Add a verified run's DFT single points (and counterpoise) to the reference set."""
    from lis_dft.dft_workflows.reference_import import import_verified
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR

    s = import_verified(run, out or DEFAULT_DIR, tag, log=typer.echo)
    typer.echo(
        f"{len(s.added)} frames added, {len(s.skipped_present)} already present, "
        f"{len(s.counterpoise_added)} counterpoise corrections added"
        + (f"; not computed by verify yet: {', '.join(s.missing)}" if s.missing else "")
    )


@reference_app.command("import-relaxation")
@friendly_errors
def reference_import_relaxation(
    path: RelaxationFile,
    adsorbate: RelaxedAdsorbate,
    site: RelaxedSite,
    catalyst: CatalystKey = "LiI_100",
    out: ReferenceDir = None,
    tag: Annotated[
        str | None,
        typer.Option(help="Id prefix relaxation/<tag>/ (default: the file's folder name)."),
    ] = None,
    min_step: Annotated[
        float,
        typer.Option(help="Keep a step only if an atom moved more than this (Å); 0: every step."),
    ] = 0.05,
) -> None:
    """Add the ionic steps of a GPAW relaxation to the reference set (forces-only frames)."""
    from lis_dft.dft_workflows.reference_import import import_relaxation
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR

    s = import_relaxation(
        path, adsorbate, site, out or DEFAULT_DIR, catalyst, tag, min_step, log=typer.echo
    )
    typer.echo(f"{len(s.added)} steps added, {len(s.skipped_present)} already present")


@reference_app.command("scan")
@friendly_errors
def reference_scan(
    path: RelaxationFile,
    adsorbate: RelaxedAdsorbate,
    site: RelaxedSite,
    dz: Annotated[
        list[float],
        typer.Option(help="Shift along the surface normal (Å; negative: closer). Repeatable."),
    ],
    catalyst: CatalystKey = "LiI_100",
    out: ReferenceDir = None,
    tag: Annotated[
        str | None, typer.Option(help="Id prefix scan/<tag>/ (default: the file's folder name).")
    ] = None,
    lift: Annotated[
        int,
        typer.Option(
            help="Move the N slab atoms closest to the adsorbate by dz instead of the "
            "adsorbate (a surface deformation under it)."
        ),
    ] = 0,
) -> None:
    """Add a height scan of an adsorbate (the relaxation's last step moved along z)."""
    from lis_dft.dft_workflows.reference_scan import add_height_scan
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR

    added = add_height_scan(
        path, adsorbate, site, dz, out or DEFAULT_DIR, catalyst, tag, log=typer.echo, lift=lift
    )
    typer.echo(
        f"{len(added)} configurations added; compute them with 'lis-dft reference-set compute "
        "--only scan/', then 'lis-dft reference-set counterpoise --only scan/'."
    )


@reference_app.command("ev-scan")
@friendly_errors
def reference_ev_scan(
    phase: Annotated[
        str, typer.Option(help="Bulk phase (S: alpha-S, rigid rings; LiI with --homogeneous).")
    ] = "S",
    scale: Annotated[
        list[float] | None,
        typer.Option(help="Volume factor V / V(experiment), repeatable; must include 1.0."),
    ] = None,
    out: ReferenceDir = None,
    homogeneous: Annotated[
        bool,
        typer.Option(
            help="Uniform strain (every atom keeps its fractional coordinates) instead of "
            "rigid molecules: the E(V) of a crystal without molecules (LiI, Li2S)."
        ),
    ] = False,
) -> None:
    """Add an E(V) scan (plane-wave set <reference>/ev_scans): rigid molecules, or uniform strain."""
    from lis_dft.dft_workflows.reference_ev import SCALES, add_ev_scan
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR

    scales = tuple(scale) if scale else SCALES
    path, added = add_ev_scan(out or DEFAULT_DIR, phase, scales, homogeneous)
    typer.echo(
        f"{len(added)} configurations added to {path}; compute them in plane waves with "
        f"'lis-dft reference-set compute --out {path.parent} --mode pw'."
    )


@reference_app.command("status")
@friendly_errors
def reference_status(
    out: ReferenceDir = None,
) -> None:
    """How much of the reference set is computed, per kind, with timings."""
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR, status

    st = status(out or DEFAULT_DIR)
    table = Table(title=f"DFT reference set: {st['computed']} of {st['configurations']} computed")
    for col in ("kind", "configurations", "computed", "atoms", "median s", "CPU h"):
        table.add_column(col)
    for kind, r in st["kinds"].items():
        med = r["median_seconds"]
        table.add_row(
            kind,
            str(r["configurations"]),
            str(r["computed"]),
            ", ".join(map(str, r["atoms"])),
            "" if med is None else f"{med:.0f}",
            f"{r['cpu_hours']:.2f}",
        )
    Console().print(table)


potentials_app = typer.Typer(
    help="Machine-learned potentials: list them, compare them against the DFT reference set.",
    no_args_is_help=True,
)
app.add_typer(potentials_app, name="potentials")


@potentials_app.command("list")
@friendly_errors
def potentials_list() -> None:
    """Every calculator backend and its models (the offline ones ship in their wheels)."""
    from lis_dft.dft_workflows.calculators import BACKENDS, check_available
    from lis_dft.errors import CalculatorError

    table = Table(title="lis-dft calculators")
    for col in ("calculator", "model", "what", "D3 (auto)", "installed"):
        table.add_column(col)
    for b in BACKENDS.values():
        try:
            check_available(b.name)
            ok = "yes"
        except CalculatorError:
            ok = f"no: pip install 'lis-dft[{b.extra}]'"
        for m, what in b.models.items():
            default = " (default)" if m == b.default_model else ""
            table.add_row(b.name, m + default, what, b.d3_auto, ok)
    Console().print(table)


@potentials_app.command("compare")
@friendly_errors
def potentials_compare(
    reference: ReferenceDir = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where comparison.json and COMPARISON.md go (default benchmarks/potentials)."
        ),
    ] = None,
    potential: Annotated[
        list[str] | None,
        typer.Option(
            "--potential",
            "-p",
            help="backend/model to compare (repeatable; default every offline model), "
            "or backend:PATH for fine-tuned weights.",
        ),
    ] = None,
    hold_out: Annotated[
        list[str] | None,
        typer.Option(
            help="Score only these configuration families' adsorbate frames (repeatable; "
            "as 'lis-dft finetune --hold-out'): held-out numbers for every potential."
        ),
    ] = None,
) -> None:
    """Score every offline potential, with and without D3(zero), on the DFT reference set."""
    from lis_dft.dft_workflows.potential_comparison import (
        DEFAULT_OUT,
        compare,
        parse_candidate,
    )
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR

    cands = [parse_candidate(p) for p in potential] if potential else None
    result = compare(
        reference or DEFAULT_DIR,
        out or DEFAULT_OUT,
        cands,
        progress=typer.echo,
        hold_out=tuple(hold_out or ()),
    )
    table = Table(title=f"Potentials vs DFT ({result['reference']['n_frames']} frames), best first")
    for col in ("potential", "E_A MAE sound", "E_A MAE all", "artifacts bound", "E_f MAE", "F MAE"):
        table.add_column(col)
    for label in result["ranking"]:
        s = result["potentials"][label]["summary"]

        def f(v, fmt="{:.2f}"):
            return "–" if v is None else fmt.format(v)

        table.add_row(
            label,
            f(s["ads_mae_sound_eV"]),
            f(s["ads_mae_eV"]),
            str(s["artifacts_stabilised"]),
            f(s["formation_mae_eV_per_atom"], "{:.3f}"),
            f(s["force_mae_eV_per_A"], "{:.3f}"),
        )
    Console().print(table)
    typer.echo(f"Written: {(out or DEFAULT_OUT) / 'comparison.json'}, COMPARISON.md")


@potentials_app.command("ship")
@friendly_errors
def potentials_ship(
    finetune_dir: Annotated[
        Path, typer.Argument(help="Folder of a finished 'lis-dft finetune' run.")
    ],
    name: Annotated[str, typer.Option(help="Model name users give as --model NAME.")],
    description: Annotated[
        str | None, typer.Option(help="One line for 'lis-dft potentials list'.")
    ] = None,
) -> None:
    """Put fine-tuned weights into the package (lis_dft/models): --model NAME, offline."""
    from lis_dft.dft_workflows.finetune import ship

    dest = ship(finetune_dir, name, description)
    typer.echo(
        f"Shipped {dest} and {dest.with_suffix('.json').name}; select it with --model {name}."
    )


@potentials_app.command("average")
@friendly_errors
def potentials_average(
    runs: Annotated[
        list[Path],
        typer.Argument(help="Two or more finished 'lis-dft finetune' folders of one recipe."),
    ],
    out: Annotated[Path, typer.Option(help="Folder for the mean's model.pth and finetune.json.")],
    reference: ReferenceDir = None,
) -> None:
    """The mean of the weights of several fine-tunes (e.g. seeds), scored on the held-out families.

    The folder it writes is what 'potentials ship' takes.
    """
    from lis_dft.dft_workflows.finetune import average_runs
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR

    result = average_runs(runs, out, reference or DEFAULT_DIR)
    cp = result.record["held_out_scores"]["finetuned"].get("counterpoise") or {}
    typer.echo(
        f"Wrote {result.model_path} ({result.record['kept']}); held-out E_A MAE "
        f"{cp.get('ads_mae_eV', float('nan')):.3f} eV, largest {cp.get('ads_max_eV', float('nan')):.3f}"
        f" eV, same lowest {cp.get('same_lowest')}/{cp.get('n_adsorbates')}; E_f MAE "
        f"{cp.get('formation_mae_eV_per_atom', float('nan')):.3f} eV/atom. Ship it with "
        f"'lis-dft potentials ship {out} --name NAME'."
    )


@potentials_app.command("record-checks")
@friendly_errors
def potentials_record_checks(
    run_dir: Annotated[
        Path, typer.Argument(help="A run of a shipped model on which 'lis-dft verify' has run.")
    ],
) -> None:
    """Write what verify found on a run into its shipped model's record (runs then warn)."""
    import json

    from lis_dft.errors import ParameterError
    from lis_dft.models import model_of_run

    results_path = run_dir / "results.json"
    if not results_path.is_file():
        raise ParameterError(f"{run_dir} has no results.json: give a 'lis-dft run' folder.")
    model_file = json.loads(results_path.read_text()).get("calculator", {}).get("model_file") or {}
    model = model_of_run(model_file)
    if model is None:
        name = model_file.get("shipped_model") or model_file.get("path") or "no model file"
        raise ParameterError(
            f"{run_dir} was not run with a model shipped in lis_dft/models ({name}): only "
            "shipped models, and runs of the fine-tune checkpoints they were shipped from, "
            "keep DFT checks."
        )
    for c in model.record_dft_checks(run_dir):
        typer.echo(
            f"{model.name}: {c['adsorbate']} at {c['surface']} ({c['config']}): potential "
            f"{c['potential_eV']:+.2f}, DFT {c['dft_eV']:+.2f} eV: {c['verdict']}"
        )


@app.command()
@friendly_errors
def finetune(
    reference: ReferenceDir = None,
    out: Annotated[
        Path, typer.Option(help="Folder for model.pth, finetune.json and checkpoints.")
    ] = Path("lis-dft-finetune"),
    base: Annotated[
        str, typer.Option(help="SevenNet model to start from (name or checkpoint file).")
    ] = "7net-mf-0",
    epochs: Annotated[int, typer.Option(help="Training epochs.", min=1)] = 20,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-4,
    batch_size: Annotated[int, typer.Option(help="Frames per batch.", min=1)] = 2,
    force_weight: Annotated[
        float | None,
        typer.Option(
            help="Weight of the force loss against the per-atom energy loss (default: "
            "FinetuneSettings.force_weight, see docs/methods.md).",
            min=0.0,
        ),
    ] = None,
    difference_weight: Annotated[
        float | None,
        typer.Option(
            help="Weight of the energy-difference steps (adsorption, surface, formation, "
            "E(V), ring opening; 0 turns them off; default 1, docs/methods.md).",
            min=0.0,
        ),
    ] = None,
    bulk_weight: Annotated[
        float | None,
        typer.Option(
            help="Extra weight of the formation-energy and E(V) terms (bulk targets; default 1).",
            min=0.0,
        ),
    ] = None,
    hold_out: Annotated[
        list[str] | None,
        typer.Option(
            help="Configuration family held out for validation (repeatable; default "
            "every adsorbate at the bridge_I-Li site)."
        ),
    ] = None,
    threads: Annotated[int, typer.Option(help="torch threads.", min=1)] = 2,
    seed: Annotated[
        int,
        typer.Option(help="Random seed of the weights' updates (batch order, term order)."),
    ] = 1,
    max_minutes: Annotated[
        float | None, typer.Option(help="Start no new epoch after this many minutes.")
    ] = None,
    schedule: Annotated[
        str,
        typer.Option(
            help="Learning rate over the epochs: constant, or cosine (from --lr to 0 at the "
            "last epoch)."
        ),
    ] = "constant",
    keep: Annotated[
        str,
        typer.Option(
            help="Weights to keep: best (lowest held-out loss: the held-out numbers are then "
            "optimistic), last, or average (mean of epochs --average-from..--epochs)."
        ),
    ] = "best",
    average_from: Annotated[
        int, typer.Option(help="First epoch in the mean of --keep average.", min=1)
    ] = 2,
    ev_scans: Annotated[
        bool,
        typer.Option(
            help="Also train the plane-wave E(V) scans of <reference>/ev_scans (alpha-S "
            "volume; reference-set ev-scan)."
        ),
    ] = True,
    ev_weight: Annotated[
        float,
        typer.Option(help="Extra weight of those E(V) terms (times --bulk-weight).", min=0.0),
    ] = 1.0,
    deformation_weight: Annotated[
        float,
        typer.Option(
            help="Extra weight of the slab and molecule deformation energies inside each "
            "counterpoise-corrected E_A (times --difference-weight).",
            min=0.0,
        ),
    ] = 1.0,
    term_weight: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME-PATTERN=FACTOR: the training differences whose names match the glob "
            "weigh FACTOR times more, 0 leaves them out (repeatable; names as the training "
            "log lists them), e.g. 'E(V) bulk/LiI/*=3'."
        ),
    ] = None,
    imported_catalyst: Annotated[
        bool,
        typer.Option(
            help="Also train the surface excess and catalyst formation of runs imported "
            "from 'verify' (off: their catalyst sits at the last potential's lattice, and "
            "training it passes that lattice on; docs/methods.md)."
        ),
    ] = False,
) -> None:
    """Fine-tune a SevenNet model on the DFT reference set (held-out families validate)."""
    from lis_dft.dft_workflows.calculators import _sevennet_modalities
    from lis_dft.dft_workflows.finetune import (
        DEFAULT_HOLD_OUT,
        FinetuneSettings,
        parse_term_weight,
    )
    from lis_dft.dft_workflows.finetune import finetune as run_finetune
    from lis_dft.dft_workflows.reference_set import DEFAULT_DIR

    modal = "PBE" if "PBE" in _sevennet_modalities(base) else None
    settings = FinetuneSettings(
        base=base,
        modal=modal,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        **({} if force_weight is None else {"force_weight": force_weight}),
        **({} if difference_weight is None else {"difference_weight": difference_weight}),
        **({} if bulk_weight is None else {"bulk_weight": bulk_weight}),
        hold_out=tuple(hold_out) if hold_out else DEFAULT_HOLD_OUT,
        threads=threads,
        seed=seed,
        schedule=schedule,
        keep=keep,
        average_from=average_from,
        ev_scans=ev_scans,
        ev_weight=ev_weight,
        deformation_weight=deformation_weight,
        term_weights=tuple(parse_term_weight(t) for t in term_weight or ()),
        imported_catalyst=imported_catalyst,
    )
    result = run_finetune(reference or DEFAULT_DIR, out, settings, max_minutes, typer.echo)
    scores = result.record["held_out_scores"]
    table = Table(title="Held-out families: base vs fine-tuned (+ D3(zero))")
    for col in ("model", "footing", "E_A MAE", "E_A max", "E_f MAE", "F MAE"):
        table.add_column(col)
    for name, entry in scores.items():
        for footing in ("raw_lcao", "counterpoise"):
            s = entry.get(footing)
            if s is None:
                continue
            table.add_row(
                name,
                footing,
                "–" if s["ads_mae_eV"] is None else f"{s['ads_mae_eV']:.2f}",
                "–" if s["ads_max_eV"] is None else f"{s['ads_max_eV']:.2f}",
                "–"
                if s["formation_mae_eV_per_atom"] is None
                else f"{s['formation_mae_eV_per_atom']:.3f}",
                f"{s['force_mae_eV_per_A']:.3f}",
            )
    Console().print(table)
    typer.echo(
        f"Model: {result.model_path} ({result.record['kept']}); use it with "
        f"'lis-dft run --model {result.model_path}'."
    )


@app.command("remote-project")
@friendly_errors
def remote_project(
    mongo_uri: Annotated[
        str, typer.Option(help="MongoDB URI for jobflow-remote's queue and job store.")
    ],
    host: Annotated[str, typer.Option(help="Cluster login host ('localhost' for a local worker).")],
    work_dir: Annotated[str, typer.Option(help="Run directory on the cluster.")],
    name: Annotated[str, typer.Option(help="Project name.")] = "lisdft",
    user: Annotated[str | None, typer.Option(help="SSH user on the cluster.")] = None,
    scheduler: Annotated[str, typer.Option(help="slurm or pbs.")] = "slurm",
    config: Annotated[
        Path | None, typer.Option(help="Resources YAML (as for 'lis-dft submit').")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the project YAML.")] = Path(
        "lisdft.yaml"
    ),
) -> None:
    """Write a jobflow-remote project file for the study's flows, validated by jobflow-remote."""
    from lis_dft.dft_workflows.remote import project_dict, write_project_file
    from lis_dft.schedulers import HpcConfig

    data = project_dict(
        name, mongo_uri, host, work_dir, scheduler, user, resources=HpcConfig.from_file(config)
    )
    path = write_project_file(data, out)
    typer.echo(
        f"jobflow-remote project written to {path}; copy it to ~/.jfremote/ and run 'jf project check'."
    )


def main() -> None:  # pragma: no cover - console entry point
    """Entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
