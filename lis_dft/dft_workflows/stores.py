"""Embedded jobflow stores that survive interruption.

maggma's JSONStore rewrites its file in place on every update; an interruption in the
middle of that write leaves a truncated file and loses every finished job. This
subclass writes to a temporary file and renames it over the old one (atomic on POSIX).
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from jobflow import JobStore
from maggma.stores import JSONStore


class AtomicJSONStore(JSONStore):
    """A maggma JSONStore whose file is replaced atomically on every write."""

    def update_json_file(self) -> None:
        """Write all documents to a temporary file, then rename it into place."""
        path = Path(self.paths[0])
        tmp = path.with_name(f".{path.name}.tmp")
        data = list(self.query())
        for d in data:
            d.pop("_id", None)
        payload = orjson.dumps(
            data, option=self.serialization_option, default=self.serialization_default
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
