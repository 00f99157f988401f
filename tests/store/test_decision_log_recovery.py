"""Decision-log recovery: crashes on either side of a fold's commit, foreign and damaged logs.

A child process makes decisions and is killed with SIGKILL (with decisions pending, or after a
fold's DuckDB commit but before the journal is emptied); reopening must find every acknowledged
decision exactly once with a verifying audit chain. A log that is not this database's, or is
damaged where acknowledged decisions lie, must stop the open and be kept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from store import (
    DecisionLogCorruptError,
    EventDraft,
    Role,
    Store,
)
from tests.store._decision_log_helpers import (
    REC,
    REPO,
    count,
    db_state,
    quiet,
    register,
    seed,
)

_CHILD = textwrap.dedent("""
    import json, os, signal, sys
    from store import Store
    path, ids, mode = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    s = Store.open(path)
    s.flush_interval_s = 1e9
    s.flush_after_writes = 10**9
    u = s.get_user("reviewer1")
    for i, eid in enumerate(ids):
        if i % 3 == 0:
            s.edit_event(eid, u, 1, duration_s=2.5, label="V")
        elif i % 3 == 1:
            s.confirm_event(eid, u, 1)
        else:
            s.reject_event(eid, u, 1)
    s.audit("reviewer1", "recording.view", "recording:rtest00000001")
    folded = s.cursor_without_fold().execute("SELECT count(*) FROM reviews").fetchone()[0]
    if mode == "after_commit":
        import store._journal
        def die(self):
            os.kill(os.getpid(), signal.SIGKILL)
        store._journal.Journal.clear = die
        print("folding", folded, flush=True)
        s.flush_decisions()
        print("survived the fold", flush=True)
    else:
        print("decided", folded, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
""")


def _make_database(path: Path, n_events: int, n_views: int = 0) -> list[int]:
    """A closed database with REC, user reviewer1, ``n_events`` proposals, ``n_views`` audits."""
    with Store.open(path) as s:
        register(s, REC, 600.0, 3)
        s.create_user("reviewer1", Role.REVIEWER)
        ids = seed(s, REC, [float(5 * i) for i in range(n_events)])
        for _ in range(n_views):
            s.audit("reviewer1", "recording.view", f"recording:{REC}")
    return ids


def _run_child(path: Path, ids: list[int], mode: str) -> str:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), json.dumps(ids), mode],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-3000:])
    return proc.stdout


def _expected_after_child(i: int) -> tuple[str, float, str]:
    return [("edited", 2.5, "V"), ("confirmed", 1.0, "N"), ("rejected", 1.0, "N")][i % 3]


def _check_recovered(path: Path, ids: list[int], n_audit_before: int) -> None:
    with Store.open(path) as s:
        assert s.decision_log_path.stat().st_size == 0  # emptied by recovery
        assert count(s, "reviews") == len(ids)
        for i, eid in enumerate(ids):
            status, version, _onset, duration, label = db_state(s, eid)[:5]
            assert (status, duration, label) == _expected_after_child(i), eid
            assert version == 2, eid
        actions = s.cursor_without_fold().execute(
            "SELECT action FROM audit_log WHERE seq > ? ORDER BY seq", [n_audit_before]
        ).fetchall()
        assert [a[0] for a in actions] == [
            ["event.edit", "event.confirm", "event.reject"][i % 3] for i in range(len(ids))
        ] + ["recording.view"]
        report = s.verify_audit()
        assert report.ok, report.problems
        assert report.n_entries == n_audit_before + len(ids) + 1
        # and the store goes on working from the recovered head
        s.confirm_event(ids[1], s.get_user("reviewer1"))
        assert s.verify_audit().ok


def _audit_count(path: Path) -> int:
    with Store.open(path) as s:
        return count(s, "audit_log")


def test_decisions_acknowledged_before_a_sigkill_are_all_there_after_reopening(
    tmp_path: Path
) -> None:
    path = tmp_path / "wavescore.duckdb"
    ids = _make_database(path, 30)
    n_audit = _audit_count(path)
    out = _run_child(path, ids, "pending")
    assert out.strip() == "decided 0"  # nothing had been folded before the kill
    assert path.with_name(path.name + ".decision-log").stat().st_size > 0
    _check_recovered(path, ids, n_audit)


def test_sigkill_after_the_fold_commit_but_before_emptying_the_journal_applies_nothing_twice(
    tmp_path: Path
) -> None:
    path = tmp_path / "wavescore.duckdb"
    ids = _make_database(path, 30)
    n_audit = _audit_count(path)
    out = _run_child(path, ids, "after_commit")
    assert out.strip() == "folding 0"  # killed inside the fold, after its commit
    journal = path.with_name(path.name + ".decision-log")
    assert journal.stat().st_size > 0  # the journal still holds every record
    _check_recovered(path, ids, n_audit)


@pytest.mark.parametrize("other", ["gap", "same_length", "longer"])
def test_journal_that_does_not_continue_the_audit_chain_is_refused_and_nothing_applied(
    tmp_path: Path, other: str
) -> None:
    # database A makes three decisions; its journal is copied beside database B, whose audit
    # log ends before A's journal starts (gap), at the same seq (same_length), or after it
    a_views, b_views = {"gap": (3, 0), "same_length": (0, 0), "longer": (0, 5)}[other]
    a_path, b_path = tmp_path / "a" / "wavescore.duckdb", tmp_path / "b" / "wavescore.duckdb"
    a_ids = _make_database(a_path, 5, a_views)
    b_ids = _make_database(b_path, 5, b_views)
    assert a_ids == b_ids
    with Store.open(a_path) as a:
        quiet(a)
        u = a.get_user("reviewer1")
        for eid in a_ids[:3]:
            a.confirm_event(eid, u, 1)
        copied = a.decision_log_path.read_bytes()
        assert copied
    b_journal = b_path.with_name(b_path.name + ".decision-log")
    b_journal.write_bytes(copied)
    conn = duckdb.connect(str(b_path), read_only=True)
    try:
        before = conn.execute("SELECT (SELECT count(*) FROM reviews), (SELECT max(seq) FROM "
                              "audit_log), (SELECT list(status ORDER BY event_id) FROM events)"
                              ).fetchall()
    finally:
        conn.close()

    with pytest.raises(DecisionLogCorruptError):
        Store.open(b_path)

    conn = duckdb.connect(str(b_path), read_only=True)
    try:
        after = conn.execute("SELECT (SELECT count(*) FROM reviews), (SELECT max(seq) FROM "
                             "audit_log), (SELECT list(status ORDER BY event_id) FROM events)"
                             ).fetchall()
    finally:
        conn.close()
    assert after == before  # nothing applied
    assert b_journal.read_bytes() == copied  # and the journal is kept for inspection


def test_a_damaged_journal_refuses_to_open_and_keeps_the_file(tmp_path: Path) -> None:
    path = tmp_path / "wavescore.duckdb"
    ids = _make_database(path, 5)
    with Store.open(path) as s:
        quiet(s)
        u = s.get_user("reviewer1")
        for eid in ids[:3]:
            s.confirm_event(eid, u, 1)
        data = bytearray(s.decision_log_path.read_bytes())
    journal = path.with_name(path.name + ".decision-log")
    data[data.index(b"\n") - 5] ^= 0x01  # damage the first of three acknowledged records
    journal.write_bytes(bytes(data))
    with pytest.raises(DecisionLogCorruptError):
        Store.open(path)
    assert journal.read_bytes() == bytes(data)


# ----------------------------------------------------------------- interleaving


_CREATING_CHILD = textwrap.dedent("""
    import json, os, signal, sys
    from store import EventDraft, Store
    path = sys.argv[1]
    s = Store.open(path)
    s.flush_interval_s = 1e9
    s.flush_after_writes = 10**9
    u = s.get_user("reviewer1")
    made = [s.create_event("rtest00000001", EventDraft(100.0 + i, 1.0, "artifact", "artifact"),
                           u) for i in range(5)]
    s.edit_event(made[0].event_id, u, 1, duration_s=7.5)
    print(json.dumps([e.event_id for e in made]), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_events_created_before_a_sigkill_are_there_after_reopening_with_unique_ids(
    tmp_path: Path
) -> None:
    path = tmp_path / "wavescore.duckdb"
    seeded = _make_database(path, 3)
    env = os.environ | {"PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _CREATING_CHILD, str(path)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    made = json.loads(proc.stdout)
    with Store.open(path) as s:
        assert count(s, "events") == 3 + 5
        states = [db_state(s, i) for i in made]
        assert states[0][:4] == ("edited", 2, 100.0, 7.5)
        assert [st[:4] for st in states[1:]] == [("confirmed", 1, 101.0 + k, 1.0)
                                                 for k in range(4)]
        assert count(s, "reviews") == 6
        assert s.verify_audit().ok
        # ids reserved before the crash are never handed out again
        new = s.create_event(REC, EventDraft(200.0, 1.0, "artifact", "artifact"),
                             s.get_user("reviewer1"))
        assert new.event_id not in set(made) | set(seeded)
        assert new.event_id > max(made)
