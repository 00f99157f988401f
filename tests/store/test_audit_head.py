"""The audit chain's remembered head stays right across rollbacks, threads and reopening."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from store import SYSTEM_USER, EventDraft, EventSource, Store, User
from store.errors import EventNotFoundError

REC = "rtest00000001"


def _ids(store: Store, n: int) -> list[int]:
    store.insert_events(REC, [EventDraft(float(i), 0.0, "N", "beat", (0,), 0.5)
                              for i in range(n)], user=SYSTEM_USER, source=EventSource.DETECTOR)
    return [e.event_id for e in store.list_events(REC)]


def test_failed_batch_after_appends_leaves_a_verifying_chain(store: Store,
                                                             users: dict[str, User]) -> None:
    ids = _ids(store, 5)
    before = store.list_audit(limit=10_000)[-1].seq
    with pytest.raises(EventNotFoundError):  # appends 5 entries, then rolls back
        store.decide_many([*ids, 999_999], "confirm", users["reviewer"])
    assert store.list_audit(limit=10_000)[-1].seq == before
    store.decide_many(ids, "reject", users["reviewer"])
    store.audit("reviewer1", "recording.view", f"recording:{REC}")
    report = store.verify_audit()
    assert report.ok, report.problems
    assert report.n_entries == before + len(ids) + 1


def test_concurrent_writers_and_reopening_keep_the_chain(tmp_path: Path, store: Store,
                                                         users: dict[str, User]) -> None:
    ids = _ids(store, 40)

    def work(chunk: list[int]) -> None:
        for eid in chunk:
            store.confirm_event(eid, users["admin"])
            store.audit("admin1", "recording.view", f"recording:{REC}")

    threads = [threading.Thread(target=work, args=(ids[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.verify_audit().ok
    path = store.path
    store.close()
    with Store.open(path) as again:
        again.audit("admin1", "recording.view", f"recording:{REC}")
        report = again.verify_audit()
        assert report.ok, report.problems
