"""How many threads torch gets (the cores nothing else is keeping busy) and GPAW's BLAS (one).

torch starts one intra-op thread per core. On a machine of its own that is right; with a
neighbour (another user, a second study, a GPAW job) its threads wait for each other at
every parallel region and a force call slows down several times. Measured with the
default potential on the 64-atom screening slab, 2 cores (``benchmarks/RESULTS.md``):

=====================  ===========  ==========
                       2 threads    1 thread
=====================  ===========  ==========
machine to itself      0.26 s       0.32 s
one busy neighbour     1.12 s       0.39 s
=====================  ===========  ==========

So before a torch potential computes, lis-dft counts the cores the rest of the machine
used over a quarter of a second (``/proc/stat`` minus this process's own CPU time) and
gives torch the others, at least one. The count is taken again at most once a minute
(a long run notices a neighbour that arrives or leaves). ``LIS_DFT_THREADS=N`` fixes it;
with ``OMP_NUM_THREADS`` set, torch's own choice is left alone. The last choice is in
every run's provenance (``torch_threads``).

GPAW's LCAO single points spend their time in BLAS and LAPACK (three OpenBLAS copies in
one process: GPAW's own, numpy's and scipy's), each of which starts one thread per core
and spins while it waits. Measured on a 68-atom reference frame, 2 cores
(``python -m benchmarks.gpaw_threads``, ``benchmarks/gpaw_threads.json``): one process
takes 160 s with one BLAS thread and 161 s with two; two processes side by side take
160 s each with one thread each and 315 s each with two (counterpoise workers left at
the libraries' defaults took 842-1108 s for such fragments instead of 158-165 s). So
:func:`set_blas_threads` gives a GPAW process one BLAS thread, each time a GPAW
calculator is made; ``LIS_DFT_THREADS`` sets another count, and with
``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` set the libraries'
own choice is left alone. Use the cores with more processes (workers, or MPI ranks).
"""

from __future__ import annotations

import os
import time
from typing import Any

ENV = "LIS_DFT_THREADS"
WINDOW_S = 0.25
RESAMPLE_S = 60.0
_last: dict[str, Any] = {}


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _busy_jiffies() -> tuple[int, int] | None:
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):  # pragma: no cover - not Linux
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def other_busy_cores(window: float = WINDOW_S) -> float:
    """Cores the rest of the machine kept busy over ``window`` s (0 where unknown)."""
    before, own0 = _busy_jiffies(), os.times()
    if before is None:  # pragma: no cover - not Linux
        return 0.0
    time.sleep(window)
    after, own1 = _busy_jiffies(), os.times()
    busy = (after[0] - before[0]) / os.sysconf("SC_CLK_TCK")
    own = (own1.user + own1.system) - (own0.user + own0.system)
    return max(0.0, busy - own) / window


def choose_threads(cores: int, busy: float) -> int:
    """The cores left after ``busy`` of them are taken, at least one (pure)."""
    return max(1, min(cores, cores - round(busy)))


#: Environment variables by which the user has already told BLAS how many threads to use.
BLAS_ENVS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _env_threads() -> int:
    """``LIS_DFT_THREADS`` as a whole number of at least one."""
    try:
        return max(1, int(os.environ[ENV]))
    except ValueError as exc:
        from lis_dft.errors import ParameterError

        raise ParameterError(f"{ENV} must be a whole number, got {os.environ[ENV]!r}.") from exc


def set_blas_threads() -> dict[str, Any]:
    """One BLAS thread for this process (or ``LIS_DFT_THREADS``), before a GPAW calculation.

    Loads GPAW's C extension and scipy's LAPACK first, so that their OpenBLAS copies are
    among the libraries limited (``threadpoolctl``; one loaded later would keep its
    default). Returns the choice (``threads``, ``source``).
    """
    from threadpoolctl import threadpool_limits

    try:  # GPAW's own BLAS: loaded with its C extension, not with ``import gpaw``
        import gpaw.cgpaw  # noqa: F401
    except ImportError:  # pragma: no cover - GPAW before 25.1
        import _gpaw  # noqa: F401
    import scipy.linalg  # noqa: F401

    told = next((e for e in BLAS_ENVS if os.environ.get(e)), None)
    if os.environ.get(ENV):
        choice = {"threads": _env_threads(), "source": ENV}
    elif told:
        return {"threads": None, "source": told}
    else:
        choice = {"threads": 1, "source": "one per GPAW process"}
    threadpool_limits(limits=choice["threads"], user_api="blas")
    return choice


def set_torch_threads() -> dict[str, Any]:
    """Give torch the free cores (or ``LIS_DFT_THREADS``); a no-op under OMP_NUM_THREADS.

    Returns the choice (``threads``, ``other_busy_cores``, ``source``), also kept for
    :func:`last_choice`.
    """
    now = time.monotonic()
    if _last and now - _last["at"] < RESAMPLE_S:
        return last_choice()
    import torch

    if os.environ.get(ENV):
        choice = {"threads": _env_threads(), "other_busy_cores": None, "source": ENV}
    elif os.environ.get("OMP_NUM_THREADS"):
        choice = {
            "threads": torch.get_num_threads(),
            "other_busy_cores": None,
            "source": "OMP_NUM_THREADS",
        }
    else:
        busy = other_busy_cores()
        choice = {
            "threads": choose_threads(available_cores(), busy),
            "other_busy_cores": round(busy, 2),
            "source": "free cores",
        }
    if choice["source"] != "OMP_NUM_THREADS" and torch.get_num_threads() != choice["threads"]:
        torch.set_num_threads(choice["threads"])
    _last.clear()
    _last.update(choice, at=now)
    return last_choice()


def last_choice() -> dict[str, Any] | None:
    """The latest choice in this process (None before any torch potential was built)."""
    return {k: v for k, v in _last.items() if k != "at"} or None
