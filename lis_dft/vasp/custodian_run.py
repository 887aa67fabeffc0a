"""Run VASP in the current folder through custodian with its standard error handlers.

Called by the generated job scripts: ``python -m lis_dft.vasp.custodian_run
--vasp-cmd "srun vasp_std"``.
"""

from __future__ import annotations

import argparse
import shlex


def run_vasp(vasp_cmd: str, max_errors: int = 5) -> list:
    """Run one VASP job under custodian (VaspErrorHandler, Unconverged, NonConverging, ...)."""
    from custodian import Custodian
    from custodian.vasp.handlers import (
        FrozenJobErrorHandler,
        MeshSymmetryErrorHandler,
        NonConvergingErrorHandler,
        PositiveEnergyErrorHandler,
        PotimErrorHandler,
        StdErrHandler,
        UnconvergedErrorHandler,
        VaspErrorHandler,
    )
    from custodian.vasp.jobs import VaspJob

    handlers = [
        VaspErrorHandler(),
        MeshSymmetryErrorHandler(),
        UnconvergedErrorHandler(),
        NonConvergingErrorHandler(),
        PotimErrorHandler(),
        PositiveEnergyErrorHandler(),
        FrozenJobErrorHandler(),
        StdErrHandler(),
    ]
    job = VaspJob(vasp_cmd=shlex.split(vasp_cmd), auto_npar=False, final=True)
    return Custodian(handlers, [job], max_errors=max_errors).run()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vasp-cmd", required=True, help="VASP command, e.g. 'srun vasp_std'.")
    parser.add_argument("--max-errors", type=int, default=5)
    args = parser.parse_args(argv)
    run_vasp(args.vasp_cmd, args.max_errors)


if __name__ == "__main__":
    main()
