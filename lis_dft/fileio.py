"""Writing files so that an interruption never leaves a half-written result behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lis_dft.errors import OutputDirError


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary sibling file, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def update_json(path: str | Path, change: Callable[[dict], dict]) -> dict:
    """Read a JSON object (``{}`` if absent), apply ``change``, write the result atomically.

    Runs under an exclusive lock on ``.<name>.lock`` beside the file, so processes that
    share one results file never lose each other's updates. Returns what was written.
    """
    import fcntl

    path = Path(path)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = change(json.loads(path.read_text()) if path.is_file() else {})
        atomic_write_text(path, json.dumps(doc, indent=1, default=str))
    return doc


@contextmanager
def staged_directory(out_dir: str | Path, prefix: str) -> Iterator[Path]:
    """Yield a temporary folder inside ``out_dir``; on success move its contents into place.

    Top-level entries replace existing ones of the same name (``manifest.json`` and other
    plain files last, so an index never points at files that are not there yet). On any
    error the temporary folder is removed and ``out_dir`` keeps what it had.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir))
    except OSError as exc:
        raise OutputDirError(f"Cannot write to output directory {out_dir}: {exc}") from exc
    try:
        yield tmp
        for item in sorted(tmp.iterdir(), key=lambda p: p.is_file()):
            target = out_dir / item.name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            os.replace(item, target)
    except OSError as exc:
        raise OutputDirError(f"Writing to {out_dir} failed: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
