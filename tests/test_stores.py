"""The embedded job store: atomic, and safe for two processes on one run folder."""

from __future__ import annotations

import json

from lis_dft.dft_workflows.stores import local_job_store


def _doc(uuid, value):
    return {"uuid": uuid, "index": 1, "name": f"job {uuid}", "output": {"value": value}}


def test_two_stores_on_one_folder_keep_each_others_documents(tmp_path):
    # as 'lis-dft verify' and 'lis-dft barriers' on one run: each loaded the store before
    # the other wrote
    a, b = local_job_store(tmp_path), local_job_store(tmp_path)
    a.connect()
    b.connect()
    a.docs_store.update([_doc("a1", 1)], key="uuid")
    b.docs_store.update([_doc("b1", 2)], key="uuid")  # b never saw a1
    a.docs_store.update([_doc("a2", 3)], key="uuid")  # a never saw b1
    on_disk = {d["uuid"] for d in json.loads((tmp_path / "jobs.json").read_text())}
    assert on_disk == {"a1", "b1", "a2"}
    # and each process now sees what the other wrote
    assert b.docs_store.query_one({"uuid": "b1"})["output"]["value"] == 2
    assert a.docs_store.query_one({"uuid": "b1"}) is not None
    fresh = local_job_store(tmp_path)
    fresh.connect()
    assert {d["uuid"] for d in fresh.docs_store.query({})} == {"a1", "b1", "a2"}


def test_an_updated_document_replaces_the_old_one(tmp_path):
    a = local_job_store(tmp_path)
    a.connect()
    a.docs_store.update([_doc("x", 1)], key="uuid")
    a.docs_store.update([_doc("x", 2)], key="uuid")
    docs = json.loads((tmp_path / "jobs.json").read_text())
    assert [d["output"]["value"] for d in docs] == [2]


def test_a_long_command_keeps_sections_another_added_meanwhile(tmp_path):
    from lis_dft.dft_workflows.verify import with_latest_sections

    # verify read results.json an hour ago; barriers has written its section since
    (tmp_path / "results.json").write_text(json.dumps({"barriers": [1], "verification": "old"}))
    mine = {"schema_version": "1.0", "verification": "stale"}
    out = with_latest_sections(mine, tmp_path, own="verification")
    assert out["barriers"] == [1] and out["verification"] == "stale"


def test_many_updates_write_what_a_fresh_reader_sees(tmp_path):
    """The mirror that spares re-reading the file must write exactly the documents stored."""
    from lis_dft.dft_workflows.stores import AtomicJSONStore

    path = tmp_path / "docs.json"
    store = AtomicJSONStore(str(path), read_only=False, key="uuid")
    store.connect()
    for i in range(5):
        store.update([{"uuid": f"u{i}", "index": 1, "value": i}])
    two = [{"uuid": "u2", "index": 1, "value": 20}, {"uuid": "u5", "index": 1, "value": 5}]
    store.update(two)
    other = AtomicJSONStore(str(path), read_only=False, key="uuid")
    other.connect()
    other.update([{"uuid": "v", "index": 1, "value": -1}])  # another process writes
    store.update([{"uuid": "u4", "index": 1, "value": 40}])  # sees and keeps it
    fresh = AtomicJSONStore(str(path), read_only=True, key="uuid")
    fresh.connect()
    got = {(d["uuid"], d["index"]): d["value"] for d in fresh.query()}
    assert got == {
        ("u0", 1): 0,
        ("u1", 1): 1,
        ("u2", 1): 20,
        ("u5", 1): 5,
        ("u3", 1): 3,
        ("u4", 1): 40,
        ("v", 1): -1,
    }
    store.remove_docs({"uuid": "u0"})
    fresh = AtomicJSONStore(str(path), read_only=True, key="uuid")
    fresh.connect()
    assert {d["uuid"] for d in fresh.query()} == {"u1", "u2", "u3", "u4", "u5", "v"}


def _count_up(path, times):
    from lis_dft.fileio import update_json

    for _ in range(times):
        update_json(path, lambda d: {**d, "n": d.get("n", 0) + 1})


def test_update_json_loses_no_update_of_two_processes(tmp_path):
    """benchmarks.dft_hours runs one process per start on the same JSON."""
    import json
    import multiprocessing

    path = tmp_path / "shared.json"
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_count_up, args=(path, 200)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert json.loads(path.read_text()) == {"n": 400}
