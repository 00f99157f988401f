"""The decision log: journal-first review decisions, the pending overlay, folds and recovery.

Decisions are appended to ``<db>.decision-log`` and read back at once through the overlay;
DuckDB gets them at the next fold (background, inline at ``flush_after_writes``, before any
other read, at close, and on the next open after a crash). These tests check that every read
path agrees with the decisions made, before and after folding, and that crashes at either side
of a fold's commit lose nothing and apply nothing twice.
"""

from __future__ import annotations

import json
import math
import random
import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from store import (
    SYSTEM_USER,
    DecisionLogStatus,
    Event,
    EventDraft,
    EventSource,
    EventStatus,
    Store,
    User,
)
from store.decision_log import DecisionLogMixin
from store.errors import EventNotFoundError, StoreError
from tests.store._decision_log_helpers import (
    LONG,
    LONG_S,
    REC,
    count,
    db_state,
    journal_size,
    quiet,
    register,
    seed,
    state,
    wait_for,
)


# ----------------------------------------------------------------- read-back and fold
def test_decisions_read_back_at_once_while_duckdb_keeps_old_rows_until_the_fold(
    store: Store, users: dict[str, User]
) -> None:
    quiet(store)
    ids = seed(store, REC, [10.0, 20.0, 30.0, 40.0])
    r = users["reviewer"]
    old = {i: db_state(store, i) for i in ids}
    n_reviews, n_audit = count(store, "reviews"), count(store, "audit_log")

    confirmed = store.confirm_event(ids[0], r, 1)
    edited = store.edit_event(ids[1], r, 1, onset_s=300.0, duration_s=5.0, label="V",
                              channels=[1, 2])
    rejected = store.reject_event(ids[2], r)
    deleted = store.delete_event(ids[3], r)

    # read back at once, through the overlay
    assert store.get_event(ids[0]) == confirmed
    assert confirmed.status is EventStatus.CONFIRMED and confirmed.version == 2
    assert store.get_event(ids[1]) == edited
    assert (edited.status, edited.onset_s, edited.duration_s, edited.label, edited.channels
            ) == (EventStatus.EDITED, 300.0, 5.0, "V", (1, 2))
    assert store.get_event(ids[2]).status is EventStatus.REJECTED
    with pytest.raises(EventNotFoundError):
        store.get_event(ids[3])
    assert store.get_event(ids[3], include_deleted=True) == deleted
    assert [e.event_id for e in store.list_events(REC, 0, 100)] == [ids[0], ids[2]]
    assert [e.event_id for e in store.list_events(REC, 0, 100, include_deleted=True)] == [
        ids[0], ids[2], ids[3]]
    assert store.list_events(REC, 290, 310) == [edited]
    assert [e.event_id for e in store.list_events(REC, 0, 600, channel=0)] == [ids[0], ids[2]]
    assert [e.event_id for e in store.list_events(REC, 0, 600, statuses=["rejected"])] == [
        ids[2]]
    assert [e.event_id for e in store.list_events(REC, 0, 1e4, statuses=["edited"])] == [
        ids[1]]  # a wide window: sorted and cut in SQL

    # DuckDB still holds the old rows, and no review/audit rows were written yet
    assert {i: db_state(store, i) for i in ids} == old
    assert count(store, "reviews") == n_reviews
    assert count(store, "audit_log") == n_audit
    assert journal_size(store) > 0

    assert store.flush_decisions() == 4
    for e in (confirmed, edited, rejected, deleted):
        assert db_state(store, e.event_id) == state(e)
        assert store.get_event(e.event_id, include_deleted=True) == e
    assert journal_size(store) == 0
    reviews = store.cursor_without_fold().execute(
        "SELECT event_id, action, user_id, undo_state FROM reviews ORDER BY review_id"
    ).fetchall()[n_reviews:]
    assert reviews == [(ids[0], "confirm", r.user_id, "active"),
                       (ids[1], "edit", r.user_id, "active"),
                       (ids[2], "reject", r.user_id, "active"),
                       (ids[3], "delete", r.user_id, "active")]
    audit = store.cursor_without_fold().execute(
        "SELECT action, target FROM audit_log ORDER BY seq").fetchall()[n_audit:]
    assert audit == [("event.confirm", f"event:{ids[0]}"), ("event.edit", f"event:{ids[1]}"),
                     ("event.reject", f"event:{ids[2]}"), ("event.delete", f"event:{ids[3]}")]
    report = store.verify_audit()
    assert report.ok, report.problems


def test_created_event_reads_back_at_once_and_the_fold_inserts_its_newest_state(
    store: Store, users: dict[str, User]
) -> None:
    quiet(store)
    a = users["annotator"]
    made = store.create_event(REC, EventDraft(12.5, 3.0, "artifact", "artifact", (1, 2),
                                              import_ref={"note": "drawn by hand"}), a)
    assert count(store, "events") == 0  # not in DuckDB yet
    assert store.get_event(made.event_id) == made
    assert store.list_events(REC, 10.0, 20.0) == [made]
    edited = store.edit_event(made.event_id, a, 1, duration_s=4.0, channels=[0])
    rejected = store.reject_event(made.event_id, a, 2)
    assert rejected.version == 3 and rejected.duration_s == 4.0
    assert store.flush_decisions() == 3
    assert store.get_event(made.event_id, store.cursor()) == rejected  # read from DuckDB
    assert edited.channels == (0,)
    actions = store.cursor().execute(
        "SELECT action, undo_state FROM reviews WHERE event_id = ? ORDER BY review_id",
        [made.event_id]).fetchall()
    assert actions == [("create", "active"), ("edit", "active"), ("reject", "active")]
    report = store.verify_audit()
    assert report.ok, report.problems
    # created events take fresh ids, and undo of a creation works on the folded row
    again = store.create_event(REC, EventDraft(30.0, 1.0, "artifact", "artifact"), a)
    assert again.event_id > made.event_id
    undone = store.undo(a)
    assert undone.event_id == again.event_id and undone.deleted


def test_review_rows_hold_the_previous_and_new_values_after_the_fold(
    store: Store, users: dict[str, User]
) -> None:
    quiet(store)
    (eid,) = seed(store, REC, [50.0])
    store.edit_event(eid, users["reviewer"], 1, duration_s=2.5, label="V")
    store.flush_decisions()
    previous, new = store.cursor_without_fold().execute(
        "SELECT previous, new FROM reviews WHERE event_id = ?", [eid]).fetchall()[0]
    assert json.loads(previous)["duration_s"] == 1.0 and json.loads(previous)["label"] == "N"
    assert json.loads(new) == {
        "onset_s": 50.0, "duration_s": 2.5, "label": "V", "category": "beat", "channels": [0],
        "status": "edited", "deleted": False, "version": 2}


def test_every_other_read_folds_first(store: Store, users: dict[str, User]) -> None:
    quiet(store)
    ids = seed(store, REC, [10.0, 20.0, 30.0, 40.0])
    r = users["reviewer"]

    store.confirm_event(ids[0], r)
    assert db_state(store, ids[0])[0] == "proposed"
    result = store.run_research_sql(
        f"SELECT status, version FROM events WHERE event_id = {ids[0]}", timeout_s=10.0,
        max_rows=10)
    assert result.table.to_pylist() == [{"status": "confirmed", "version": 2}]
    assert db_state(store, ids[0])[:2] == ("confirmed", 2)

    base = store.verify_audit().n_entries
    store.reject_event(ids[1], r)
    store.audit("reviewer1", "recording.view", f"recording:{REC}")
    assert count(store, "audit_log") == base  # both pending
    report = store.verify_audit()
    assert report.ok, report.problems
    assert report.n_entries == base + 2

    store.confirm_event(ids[2], r)
    store.audit("reviewer1", "recording.export", f"recording:{REC}", {"format": "csv"})
    tail = store.list_audit(limit=10_000)[-2:]
    assert [(a.action, a.target, a.detail) for a in tail] == [
        ("event.confirm", f"event:{ids[2]}", {"recording_id": REC, "version": 2}),
        ("recording.export", f"recording:{REC}", {"format": "csv"})]
    assert [a.seq for a in tail] == [base + 3, base + 4]

    store.reject_event(ids[3], r)
    # the review queue leaves the pending decision out without folding it
    assert [e.event_id for e in store.review_queue(REC)] == []
    assert db_state(store, ids[3])[:2] == ("proposed", 1)
    rejected = store.run_research_sql(
        "SELECT count(*) AS n FROM events WHERE status = 'rejected'", timeout_s=10.0,
        max_rows=10)  # folds first
    assert rejected.table.to_pylist() == [{"n": 2}]
    assert db_state(store, ids[3])[:2] == ("rejected", 2)


def test_decision_whose_journal_sync_fails_is_not_acknowledged_and_the_store_goes_on(
    store: Store, users: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet(store)
    ids = seed(store, REC, [10.0, 20.0])
    r = users["reviewer"]
    n_audit = count(store, "audit_log")
    store.confirm_event(ids[0], r)

    def failing_fdatasync(fd: int) -> None:
        raise OSError(5, "Input/output error (injected)")

    monkeypatch.setattr("store._journal.os.fdatasync", failing_fdatasync)
    with pytest.raises(OSError, match="injected"):
        store.reject_event(ids[1], r)
    monkeypatch.undo()
    assert store.get_event(ids[1]).status is EventStatus.PROPOSED
    assert [(e.status, e.version) for e in store.list_events(REC, 0.0, 600.0)] == [
        (EventStatus.CONFIRMED, 2), (EventStatus.PROPOSED, 1)]
    store.confirm_event(ids[1], r, 1)
    report = store.verify_audit()
    assert report.ok, report.problems
    assert report.n_entries == n_audit + 2
    assert count(store, "reviews") == 2


def test_fold_that_fails_rolls_back_whole_and_keeps_the_decisions_pending(
    store: Store, users: dict[str, User]
) -> None:
    quiet(store)
    ids = seed(store, REC, [10.0, 20.0])
    r = users["reviewer"]
    edited = store.edit_event(ids[0], r, 1, channels=[1, 2], label="V")
    confirmed = store.confirm_event(ids[1], r, 1)
    # the events table changed behind the store's back: the fold must refuse, all or nothing
    store.cursor_without_fold().execute("UPDATE events SET version = 7 WHERE event_id = ?",
                                        [ids[1]])
    with pytest.raises(StoreError, match="outside this wavescore process"):
        store.flush_decisions()
    assert db_state(store, ids[0])[:7] == ("proposed", 1, 10.0, 1.0, "N", "beat", [0])
    assert count(store, "reviews") == 0
    assert store.get_event(ids[0]) == edited  # still pending, still read back
    assert store.get_event(ids[1]) == confirmed
    assert journal_size(store) > 0
    store.cursor_without_fold().execute("UPDATE events SET version = 1 WHERE event_id = ?",
                                        [ids[1]])
    assert store.flush_decisions() == 2
    assert db_state(store, ids[0]) == state(edited)
    assert store.verify_audit().ok


# ----------------------------------------------------------------- randomized equivalence
_PAIRS = (("beat", "N"), ("beat", "V"), ("sleep_stage", "N2"), ("sleep_stage", "W"),
          ("spindle", "spindle"), ("artifact", "artifact"), ("other", "free note"))
_N_CHANNELS = 4


def _expected(model: dict[int, Event], start_s: float, stop_s: float, kw: dict[str, Any]
              ) -> list[Event]:
    """list_events' documented contract, evaluated on the test's own model of the events."""
    out = []
    for e in model.values():
        if not (e.onset_s < stop_s and e.onset_s + e.duration_s >= start_s):
            continue
        if e.deleted and not kw.get("include_deleted", False):
            continue
        if kw.get("categories") is not None and e.category not in kw["categories"]:
            continue
        if kw.get("statuses") is not None and e.status.value not in kw["statuses"]:
            continue
        if kw.get("sources") is not None and e.source.value not in kw["sources"]:
            continue
        ch = kw.get("channel")
        if ch is not None and e.channels and ch not in e.channels:
            continue
        out.append(e)
    out.sort(key=lambda e: (e.onset_s, e.event_id))
    return out[:kw.get("limit", 100_000)]


def _random_query(rng: random.Random, model: dict[int, Event]
                  ) -> tuple[float, float, dict[str, Any]]:
    width = rng.choice([0.0, 1.0, 30.0, 120.0, 600.0, 601.0, 3600.0, 5 * 3600.0, math.inf])
    e = rng.choice(list(model.values()))
    where = rng.random()
    if where < 0.2:  # starts exactly where an event ends (an event ending there is included)
        anchor = e.onset_s + e.duration_s
    elif where < 0.3 and math.isfinite(width):  # stops exactly at an onset (excluded)
        anchor = e.onset_s - width
    elif where < 0.65:  # near an event, so windows are rarely empty
        anchor = e.onset_s + rng.uniform(-60.0, 60.0)
    else:
        anchor = rng.uniform(-100.0, LONG_S)
    kw: dict[str, Any] = {}
    if rng.random() < 0.4:
        kw["categories"] = rng.sample(sorted({c for c, _ in _PAIRS}), rng.randint(0, 3))
    if rng.random() < 0.4:
        kw["statuses"] = rng.sample([s.value for s in EventStatus], rng.randint(1, 3))
    if rng.random() < 0.3:
        kw["sources"] = rng.sample([s.value for s in EventSource], rng.randint(1, 2))
    if rng.random() < 0.3:
        kw["channel"] = rng.randrange(_N_CHANNELS)
    if rng.random() < 0.3:
        kw["include_deleted"] = True
    if rng.random() < 0.4:
        kw["limit"] = rng.choice([1, 3, 10])
    return anchor, anchor + width, kw


def _random_edit(rng: random.Random, e: Event, onsets: list[float]) -> dict[str, Any]:
    """Random new values for ``e``; onsets may tie with another event's (``onsets``)."""
    kw: dict[str, Any] = {}
    onset, duration = e.onset_s, e.duration_s
    for what in rng.sample(["onset", "duration", "label", "channels"], rng.randint(1, 3)):
        if what == "onset":
            onset = rng.choice([rng.uniform(0.0, LONG_S - 1.0), rng.uniform(0.0, 1200.0),
                                max(0.0, onset + rng.uniform(-700.0, 700.0)),
                                rng.choice(onsets)])
            kw["onset_s"] = onset
        elif what == "duration":
            duration = rng.choice([0.0, 0.4, 3.0, 30.0, 700.0, rng.uniform(3600.0, 5 * 3600.0)])
            kw["duration_s"] = duration
        elif what == "label":
            kw["category"], kw["label"] = rng.choice(_PAIRS)
        else:
            kw["channels"] = sorted(rng.sample(range(_N_CHANNELS), rng.randint(0, 2)))
    if onset + duration > LONG_S:
        kw["duration_s"] = LONG_S - onset
    return kw


def test_randomized_decisions_list_the_same_before_and_after_folding(
    store: Store, users: dict[str, User]
) -> None:
    quiet(store)
    register(store, LONG, LONG_S, _N_CHANNELS)
    rng = random.Random(20261122)
    admin = users["admin"]

    def draft(confidence: float | None) -> EventDraft:
        category, label = rng.choice(_PAIRS)
        onset = rng.uniform(0.0, 1500.0) if rng.random() < 0.6 else rng.uniform(0.0, LONG_S - 60)
        onset = float(round(onset)) if rng.random() < 0.3 else onset  # some onsets tie
        return EventDraft(onset, rng.choice([0.0, 0.5, 2.0, 30.0]), label, category,
                          tuple(sorted(rng.sample(range(_N_CHANNELS), rng.randint(0, 2)))),
                          confidence)

    store.insert_events(LONG, [draft(rng.random()) for _ in range(60)], user=admin,
                        source=EventSource.DETECTOR)
    store.insert_events(LONG, [draft(None) for _ in range(60)], user=admin,
                        source=EventSource.IMPORT)
    for _ in range(30):
        store.create_event(LONG, draft(None), admin)
    model = {e.event_id: e for e in store.list_events(LONG, include_deleted=True)}
    assert len(model) == 150

    n_decisions = 0
    for _round in range(6):
        for _ in range(50):
            alive = sorted(i for i, e in model.items() if not e.deleted)
            eid = rng.choice(alive)
            kind = rng.choices(["confirm", "reject", "edit", "delete", "batch", "create"],
                               weights=[3, 2, 8, 1, 1, 2])[0]
            if kind == "create":
                made = store.create_event(LONG, draft(None), admin)
                assert made.event_id not in model and made.version == 1
                model[made.event_id] = made
                n_decisions += 1
                continue
            if kind == "confirm":
                got = [store.confirm_event(eid, admin, model[eid].version)]
            elif kind == "reject":
                got = [store.reject_event(eid, admin)]
            elif kind == "delete":
                got = [store.delete_event(eid, admin, model[eid].version)]
            elif kind == "edit":
                onsets = sorted(e.onset_s for e in model.values())
                got = [store.edit_event(eid, admin, model[eid].version,
                                        **_random_edit(rng, model[eid], onsets))]
            else:
                got = store.decide_many(rng.sample(alive, 3), rng.choice(["confirm", "reject"]),
                                        admin)
            for e in got:
                assert e.version == model[e.event_id].version + 1
                model[e.event_id] = e
            n_decisions += len(got)
        queries = [_random_query(rng, model) for _ in range(40)]
        before = [store.list_events(LONG, a, b, **kw) for a, b, kw in queries]
        for (a, b, kw), got_before in zip(queries, before, strict=True):
            assert got_before == _expected(model, a, b, kw), (a, b, kw)
        limit = rng.choice([1, 5, 40, 10_000])
        queue_before = store.review_queue(LONG, limit=limit)
        assert queue_before == sorted(
            (e for e in model.values() if e.status is EventStatus.PROPOSED and not e.deleted),
            key=lambda e: (e.confidence or 0.0, e.onset_s, e.event_id))[:limit]
        assert store.flush_decisions() > 0
        after = [store.list_events(LONG, a, b, **kw) for a, b, kw in queries]
        for q, got_before, got_after in zip(queries, before, after, strict=True):
            assert got_after == got_before, q
        assert store.review_queue(LONG, limit=limit) == queue_before
    assert n_decisions >= 300
    db = {int(r[0]): tuple(r[1:]) for r in store.cursor_without_fold().execute(
        "SELECT event_id, status, version, onset_s, duration_s, label, category, channels, "
        "deleted FROM events WHERE recording_id = ?", [LONG]).fetchall()}
    assert db == {i: state(e) for i, e in model.items()}
    report = store.verify_audit()
    assert report.ok, report.problems


# ----------------------------------------------------------------- longest-event bound
def test_event_made_long_by_an_edit_is_found_far_after_its_onset_pending_and_folded(
    store: Store, users: dict[str, User]
) -> None:
    quiet(store)
    register(store, LONG, LONG_S)
    ids = seed(store, LONG, [100.0, 200.0, 20_000.0])
    far_short, far_wide = (100.0 + 7200.0, 100.0 + 7230.0), (100.0 + 7200.0, 100.0 + 9000.0)
    assert store.list_events(LONG, *far_short) == []  # loads the bound: 1 s
    long = store.edit_event(ids[0], users["reviewer"], 1, duration_s=3 * 3600.0)
    assert store.list_events(LONG, *far_short) == [long]
    assert store.list_events(LONG, *far_wide) == [long]
    assert store.list_events(LONG, *far_short, statuses=["edited"], channel=0) == [long]
    store.flush_decisions()
    assert store.list_events(LONG, *far_short) == [long]
    assert store.list_events(LONG, *far_wide, limit=1) == [long]


def test_event_ending_exactly_at_the_window_start_is_found_despite_float_rounding(
    store: Store, users: dict[str, User]
) -> None:
    # 0.1 + 0.2 - 0.2 > 0.1 in floating point: the scan bound start - longest must keep slack
    quiet(store)
    (eid,) = seed(store, REC, [0.1], duration_s=0.2)
    start = 0.1 + 0.2
    assert [e.event_id for e in store.list_events(REC, start, start + 10.0)] == [eid]
    (other,) = seed(store, REC, [400.0], duration_s=0.0)
    store.edit_event(other, users["reviewer"], 1, onset_s=0.1, duration_s=0.2)  # pending
    got = store.list_events(REC, start, start + 10.0)
    assert [e.event_id for e in got] == [eid, other]
    store.flush_decisions()
    assert [e.event_id for e in store.list_events(REC, start, start + 10.0)] == [eid, other]
    assert [e.event_id for e in store.list_events(REC, start, start + 1e4)] == [eid, other]


def test_event_made_long_by_insert_event_columns_is_found_far_after_its_onset(
    store: Store, users: dict[str, User]
) -> None:
    register(store, LONG, LONG_S)
    seed(store, LONG, [10.0, 20.0])
    assert store.list_events(LONG, 5000.0, 5030.0) == []  # loads the bound: 1 s
    n = store.insert_event_columns(pa.table({
        "recording_id": [LONG, LONG], "onset_s": [50.0, 9000.0],
        "duration_s": [2 * 3600.0, 1.0], "label": ["N2", "N"],
        "category": ["sleep_stage", "beat"]}), user=users["admin"], source=EventSource.IMPORT)
    assert n == 2
    got = store.list_events(LONG, 5000.0, 5030.0)
    assert [(e.onset_s, e.duration_s) for e in got] == [(50.0, 7200.0)]
    assert [e.onset_s for e in store.list_events(LONG, 5000.0, 9001.0)] == [50.0, 9000.0]


def test_event_made_long_again_by_undo_or_redo_is_found_far_after_its_onset(
    tmp_path: Path, store: Store, users: dict[str, User]
) -> None:
    register(store, LONG, LONG_S)
    r = users["reviewer"]
    long_id, short_id = seed(store, LONG, [100.0, 300.0])
    store.edit_event(long_id, r, 1, duration_s=2 * 3600.0)  # made long, then short again
    store.edit_event(long_id, r, 2, duration_s=1.0)
    path = store.path
    store.close()
    with Store.open(path) as s:  # a fresh bound: every stored event is 1 s long
        assert s.list_events(LONG, 3600.0, 3630.0) == []
        undone = s.undo(r)  # the second edit undone: long again
        assert undone.duration_s == 7200.0
        assert [e.event_id for e in s.list_events(LONG, 3600.0, 3630.0)] == [long_id]
        assert [e.event_id for e in s.list_events(LONG, 3600.0, 5000.0)] == [long_id]
        s.undo(r)  # the first edit undone: short
        assert s.list_events(LONG, 3600.0, 3630.0) == []
    with Store.open(path) as s:
        assert s.list_events(LONG, 3600.0, 3630.0) == []  # a fresh bound again: 1 s
        redone = s.redo(r)  # the first edit redone: long
        assert redone.duration_s == 7200.0
        assert [e.event_id for e in s.list_events(LONG, 3600.0, 3630.0)] == [long_id]
        assert short_id not in {e.event_id for e in s.list_events(LONG, 3600.0, 3630.0)}


# ----------------------------------------------------------------- crashes
def test_journal_decisions_interleaved_with_transactions_keep_the_decision_order(
    store: Store, users: dict[str, User]
) -> None:
    quiet(store)
    ids = seed(store, REC, [10.0, 20.0, 30.0, 40.0, 50.0])
    r, a = users["reviewer"], users["annotator"]
    n_audit, n_reviews = count(store, "audit_log"), count(store, "reviews")

    store.confirm_event(ids[0], r)                                      # journal
    store.edit_event(ids[1], r, 1, onset_s=12.0)                        # journal
    store.audit("reviewer1", "recording.view", f"recording:{REC}")      # journal
    created = store.create_event(REC, EventDraft(100.0, 30.0, "N2", "sleep_stage"), a)  # tx
    store.reject_event(ids[2], r)                                       # journal
    store.insert_events(REC, [EventDraft(200.0, 0.0, "N", "beat", (0,), 0.9)],
                        user=SYSTEM_USER, source=EventSource.DETECTOR)  # tx
    store.delete_event(ids[3], r)                                       # journal
    undone = store.undo(r)                                              # tx: undoes the delete
    assert undone.event_id == ids[3] and not undone.deleted
    store.confirm_event(ids[4], r)  # r has an undone decision: a transaction, drops the redo
    store.confirm_event(created.event_id, a)                            # journal
    store.reject_event(ids[3], r)                                       # journal again

    audit = [(e.action, e.target) for e in store.list_audit(limit=10_000, after_seq=n_audit)]
    assert audit == [
        ("event.confirm", f"event:{ids[0]}"), ("event.edit", f"event:{ids[1]}"),
        ("recording.view", f"recording:{REC}"), ("event.create", f"event:{created.event_id}"),
        ("event.reject", f"event:{ids[2]}"), ("events.insert", f"recording:{REC}"),
        ("event.delete", f"event:{ids[3]}"), ("event.undo", f"event:{ids[3]}"),
        ("event.confirm", f"event:{ids[4]}"), ("event.confirm", f"event:{created.event_id}"),
        ("event.reject", f"event:{ids[3]}"),
    ]
    reviews = store.cursor().execute(
        "SELECT event_id, action, undo_state FROM reviews ORDER BY review_id").fetchall()
    assert reviews[n_reviews:] == [
        (ids[0], "confirm", "active"), (ids[1], "edit", "active"),
        (created.event_id, "create", "active"), (ids[2], "reject", "active"),
        (ids[3], "delete", "dropped"), (ids[3], "undo", "none"),
        (ids[4], "confirm", "active"), (created.event_id, "confirm", "active"),
        (ids[3], "reject", "active"),
    ]
    report = store.verify_audit()
    assert report.ok, report.problems
    assert db_state(store, ids[3])[:2] == ("rejected", 4)  # delete, undo, reject
    assert db_state(store, ids[1])[2] == 12.0


# ----------------------------------------------------------------- when folds happen
def test_background_fold_brings_a_decision_into_duckdb_within_seconds(
    store: Store, users: dict[str, User]
) -> None:
    store.flush_interval_s = 0.05
    store.flush_after_writes = 10**9
    (eid,) = seed(store, REC, [10.0])
    store.confirm_event(eid, users["reviewer"])
    assert wait_for(lambda: db_state(store, eid)[0] == "confirmed", timeout_s=10.0)
    assert wait_for(lambda: journal_size(store) == 0, timeout_s=10.0)
    assert count(store, "reviews") == 1


def test_flush_after_writes_folds_inline_at_the_nth_pending_write(
    store: Store, users: dict[str, User]
) -> None:
    store.flush_interval_s = 1e9
    store.flush_after_writes = 3
    ids = seed(store, REC, [10.0, 20.0, 30.0, 40.0])
    r = users["reviewer"]
    store.confirm_event(ids[0], r)
    store.confirm_event(ids[1], r)
    assert [db_state(store, i)[0] for i in ids[:2]] == ["proposed", "proposed"]
    store.confirm_event(ids[2], r)  # the third: folded before the call returns
    assert [db_state(store, i)[:2] for i in ids[:3]] == [("confirmed", 2)] * 3
    assert count(store, "reviews") == 3
    assert journal_size(store) == 0
    store.confirm_event(ids[3], r)
    assert db_state(store, ids[3])[0] == "proposed"


def test_after_a_failed_fold_decisions_do_not_retry_it_inline_until_a_fold_succeeds(
    store: Store, users: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    store.flush_interval_s = 1e9
    store.flush_after_writes = 2
    ids = seed(store, REC, [10.0 * k for k in range(1, 9)])
    r = users["reviewer"]
    calls = []

    def disk_full(self: Store, cur: duckdb.DuckDBPyConnection, records: Any) -> None:
        calls.append(len(records))
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr(DecisionLogMixin, "_apply", disk_full)
    for event_id in ids[:6]:
        store.confirm_event(event_id, r)  # accepted and durable although folds fail
    assert calls == [2]  # one inline attempt, at the second decision; none after it
    assert store.decision_log_status() == DecisionLogStatus(
        6, "IOException: No space left on device")
    assert [store.get_event(i).status for i in ids[:6]] == [EventStatus.CONFIRMED] * 6

    monkeypatch.undo()
    assert store.flush_decisions() == 6  # what the background fold does once a second
    assert store.decision_log_status() == DecisionLogStatus(0, None)
    store.confirm_event(ids[6], r)
    store.confirm_event(ids[7], r)  # inline folds are back
    assert store.decision_log_status().pending == 0
    assert [db_state(store, i)[0] for i in ids] == ["confirmed"] * 8


def test_close_folds_what_is_pending(tmp_path: Path, store: Store,
                                     users: dict[str, User]) -> None:
    quiet(store)
    (eid,) = seed(store, REC, [10.0])
    store.reject_event(eid, users["reviewer"])
    path, journal = store.path, store.decision_log_path
    store.close()
    assert journal.stat().st_size == 0
    conn = duckdb.connect(str(path), read_only=True)
    try:
        assert conn.execute("SELECT status, version FROM events WHERE event_id = ?",
                            [eid]).fetchall() == [("rejected", 2)]
    finally:
        conn.close()


# ----------------------------------------------------------------- concurrency
def test_concurrent_deciders_and_window_readers_agree_on_counts_versions_and_audit(
    store: Store, users: dict[str, User]
) -> None:
    store.flush_interval_s = 0.01  # many folds while the readers read
    store.flush_after_writes = 7
    n = 120
    ids = seed(store, REC, [float(i * 4.5) for i in range(n)])
    n_audit = count(store, "audit_log")
    deciders = [users["reviewer"], users["admin"], users["reviewer"], users["admin"]]
    done = threading.Event()
    errors: list[BaseException] = []
    reads = [0, 0]

    def decide(k: int) -> None:
        try:
            for eid in ids[k::4]:
                e = store.confirm_event(eid, deciders[k], 1)
                assert e.version == 2
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read(k: int) -> None:
        seen_confirmed: set[int] = set()
        rng = random.Random(k)
        try:
            while not done.is_set():
                everything = store.list_events(REC, 0.0, 600.0)
                assert sorted(e.event_id for e in everything) == ids  # none lost or doubled
                for e in everything:
                    if e.event_id in seen_confirmed:
                        assert e.status is EventStatus.CONFIRMED, e  # never goes back
                    if e.status is EventStatus.CONFIRMED:
                        assert e.version == 2, e
                        seen_confirmed.add(e.event_id)
                start = rng.uniform(0.0, 540.0)
                window = store.list_events(REC, start, start + 60.0, statuses=["proposed"])
                assert all(e.event_id not in seen_confirmed for e in window)
                reads[k] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    writers = [threading.Thread(target=decide, args=(k,)) for k in range(4)]
    readers = [threading.Thread(target=read, args=(k,)) for k in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=60)
    done.set()
    for t in readers:
        t.join(timeout=60)
    assert not errors, errors
    assert min(reads) > 0
    assert all(e.status is EventStatus.CONFIRMED and e.version == 2
               for e in store.list_events(REC))
    store.flush_decisions()
    row = store.cursor_without_fold().execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'confirmed' AND version = 2) "
        "FROM events WHERE recording_id = ?", [REC]).fetchone()
    assert row == (n, n)
    assert count(store, "reviews") == n
    assert count(store, "audit_log") == n_audit + n
    report = store.verify_audit()
    assert report.ok, report.problems
    assert report.n_entries == n_audit + n

