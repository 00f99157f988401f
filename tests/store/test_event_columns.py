"""``Store.insert_event_columns``: columnar bulk loads, validated in DuckDB, all or nothing."""

from __future__ import annotations

import pyarrow as pa
import pytest

from store import SYSTEM_USER, ChannelRow, EventDraft, EventSource, Store, User
from store.errors import InvalidEventError, RecordingNotFoundError, UnknownLabelError


def _cols(**over: object) -> pa.Table:
    base: dict[str, object] = {
        "recording_id": ["rtest00000001", "rtest00000002", "rtest00000001"],
        "onset_s": [20.0, 5.0, 10.0],
        "duration_s": [0.0, 1.5, 0.0],
        "label": ["N", "spindle", "V"],
        "category": ["beat", "spindle", "beat"],
        "channels": [[0], [], [1, 2]],
        "confidence": [0.9, None, 0.1],
    }
    base.update(over)
    return pa.table(base)


@pytest.fixture
def two(store: Store) -> Store:
    store.register_recording(
        recording_id="rtest00000002", source_format="edf", duration_s=60.0, start_time=None,
        content_sha256="ef" * 32, source_files_sha256=["01" * 32],
        stored_path="recordings/rtest00000002", deid_report={},
        channels=[ChannelRow(0, "C0", "EEG", "uV", 256.0, 60 * 256)])
    return store


def test_columns_load_sorted_per_recording_with_one_audit_entry(two: Store) -> None:
    n = two.insert_event_columns(_cols(), user=SYSTEM_USER, source=EventSource.DETECTOR)
    assert n == 3
    a = two.list_events("rtest00000001")
    assert [(e.onset_s, e.label, e.channels, e.confidence) for e in a] == [
        (10.0, "V", (1, 2), 0.1), (20.0, "N", (0,), 0.9)]
    assert a[0].event_id < a[1].event_id and a[0].status.value == "proposed"
    (b,) = two.list_events("rtest00000002")
    assert b.channels == () and b.confidence is None and b.duration_s == 1.5
    entries = [e for e in two.list_audit(limit=100) if e.action == "events.insert"]
    assert entries[-1].detail["n"] == 3 and entries[-1].detail["n_recordings"] == 2
    assert two.verify_audit().ok


def test_optional_columns_may_be_left_out(two: Store) -> None:
    t = _cols().drop_columns(["channels", "confidence"])
    assert two.insert_event_columns(t, user=SYSTEM_USER, source=EventSource.IMPORT) == 3
    assert all(e.channels == () for e in two.list_events("rtest00000001"))


@pytest.mark.parametrize("over,error,match", [
    ({"recording_id": ["rtest00000001", "rnope", "rtest00000001"]}, RecordingNotFoundError,
     "rnope"),
    ({"onset_s": [20.0, 5.0, float("nan")]}, InvalidEventError, "finite"),
    ({"duration_s": [0.0, -1.0, 0.0]}, InvalidEventError, "negative"),
    ({"onset_s": [20.0, 59.0, 10.0]}, InvalidEventError, "outside"),
    ({"channels": [[0], [1], [1, 2]]}, InvalidEventError, "channel"),
    ({"confidence": [0.9, None, 1.5]}, InvalidEventError, "confidence"),
    ({"category": ["beat", "spindle", "heartbeat"]}, UnknownLabelError, "category"),
    ({"label": ["N", "spindle", "X"]}, UnknownLabelError, "'X'"),
])
def test_any_bad_row_refuses_the_whole_load(two: Store, over: dict[str, object],
                                            error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        two.insert_event_columns(_cols(**over), user=SYSTEM_USER, source=EventSource.DETECTOR)
    assert two.list_events("rtest00000001") == [] and two.list_events("rtest00000002") == []


def test_missing_required_column_is_refused(two: Store) -> None:
    with pytest.raises(InvalidEventError, match="label"):
        two.insert_event_columns(_cols().drop_columns(["label"]), user=SYSTEM_USER,
                                 source=EventSource.DETECTOR)


def test_sorted_and_unsorted_loads_store_the_same_rows_in_storage_order(two: Store) -> None:
    sorted_cols = _cols().sort_by([("recording_id", "ascending"), ("onset_s", "ascending")])
    two.insert_event_columns(sorted_cols, user=SYSTEM_USER, source=EventSource.DETECTOR)
    two.insert_event_columns(_cols(), user=SYSTEM_USER, source=EventSource.DETECTOR)
    rows = two.cursor().execute(
        "SELECT event_id, recording_id, onset_s, label, schema_name, schema_version "
        "FROM events").fetchall()
    first, second = rows[:3], rows[3:]
    assert [r[1:] for r in first] == [r[1:] for r in second] == [
        ("rtest00000001", 10.0, "V", "wavescore", 1), ("rtest00000001", 20.0, "N", "wavescore", 1),
        ("rtest00000002", 5.0, "spindle", "wavescore", 1)]
    ids = [r[0] for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == 6
    later = two.create_event("rtest00000002", EventDraft(1.0, 0.0, "spindle", "spindle"),
                             SYSTEM_USER)
    assert later.event_id > max(ids)


def test_ids_after_a_bulk_load_continue_past_its_block(
    store: Store, users: dict[str, User]
) -> None:
    n = 1000
    table = pa.table({"recording_id": ["rtest00000001"] * n,
                      "onset_s": [float(i % 500) for i in range(n)],
                      "duration_s": [0.0] * n, "label": ["N"] * n, "category": ["beat"] * n})
    store.insert_event_columns(table, user=users["admin"], source=EventSource.DETECTOR)
    after = store.create_event("rtest00000001", EventDraft(1.0, 1.0, "artifact", "artifact"),
                               users["annotator"])
    store.insert_event_columns(table, user=users["admin"], source=EventSource.DETECTOR)
    ids = [r[0] for r in store.cursor().execute("SELECT event_id FROM events").fetchall()]
    assert len(ids) == len(set(ids)) == 2 * n + 1
    assert after.event_id == n + 1
    # created events take ids from a reserved block: the next load starts past the block
    second = sorted(ids)[n + 1:]
    assert min(second) == n + store.event_id_block + 1 and max(second) == min(second) + n - 1
