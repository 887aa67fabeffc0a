"""Embedded jobflow stores that survive interruption and neighbours.

maggma's JSONStore keeps its documents in memory and rewrites its file from them on every
update. Two things lose finished jobs that way:

- an interruption in the middle of the write leaves a truncated file: this subclass
  writes to a temporary file and renames it over the old one (atomic on POSIX);
- two processes on one run folder (``lis-dft verify`` and ``lis-dft barriers``, say):
  each rewrites the file from its own memory and drops what the other wrote (measured:
  a finished barrier vanished from the store). Every write here takes an exclusive lock,
  reads the file again and merges by key, so documents another process wrote are kept
  (and become visible to this one).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import orjson
from jobflow import JobStore
from maggma.stores import JSONStore


class AtomicJSONStore(JSONStore):
    """A maggma JSONStore whose file is replaced atomically on every write."""

    def _doc_key(self, doc: dict) -> tuple:
        return (doc.get(self.key), doc.get("index"))

    def update_json_file(self) -> None:
        """Merge with the file on disk (under a lock), write a temporary file, rename it."""
        path = Path(self.paths[0])
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(path.with_name(f".{path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            mine = list(self.query())
            for d in mine:
                d.pop("_id", None)
            keys = {self._doc_key(d) for d in mine}
            theirs = []
            if path.exists() and path.stat().st_size:
                theirs = [
                    d for d in orjson.loads(path.read_bytes()) if self._doc_key(d) not in keys
                ]
            if theirs:  # written by another process since we loaded: keep, and see them
                self._collection.insert_many([dict(d) for d in theirs])
            payload = orjson.dumps(
                mine + theirs,
                option=self.serialization_option,
                default=self.serialization_default,
            )
            with open(tmp, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)


def local_job_store(directory: str | Path) -> JobStore:
    """Return a JobStore persisted as JSON files in ``directory`` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    docs = AtomicJSONStore(str(directory / "jobs.json"), read_only=False, key="uuid")
    data = AtomicJSONStore(str(directory / "data.json"), read_only=False, key="blob_uuid")
    return JobStore(docs, additional_stores={"data": data})


def job_store_from_uri(uri: str, database: str = "lis_dft") -> JobStore:
    """Return a JobStore on a MongoDB server (``mongodb://...``)."""
    from maggma.stores import MongoURIStore

    docs = MongoURIStore(uri, database=database, collection_name="jobs", key="uuid")
    data = MongoURIStore(uri, database=database, collection_name="data", key="blob_uuid")
    return JobStore(docs, additional_stores={"data": data})
