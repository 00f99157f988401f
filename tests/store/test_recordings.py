"""The recordings registry: register, look up, list, find by content, delete."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest

from store import (
    ChannelRow,
    DuplicateRecordingError,
    RecordingNotFoundError,
    Store,
    StoreError,
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "w.duckdb")
    yield s  # type: ignore[misc]
    s.close()


def _register(store: Store, rid: str = "r0123456789ab", sha: str = "a" * 64) -> None:
    store.register_recording(
        recording_id=rid,
        source_format="edf+c",
        duration_s=3600.5,
        start_time=datetime(2013, 4, 1, 22, 30, 5),
        content_sha256=sha,
        source_files_sha256=["b" * 64],
        stored_path=f"recordings/{rid}",
        deid_report={"start_date": {"shifted_days": -2000}},
        channels=[
            ChannelRow(0, "EEG Fpz-Cz", "EEG", "uV", 256.0, 921728),
            ChannelRow(1, "ECG", "ECG", "mV", 512.0, 1843456),
        ],
    )


def test_registered_recording_reads_back_with_channels(store: Store) -> None:
    _register(store)
    row = store.get_recording("r0123456789ab")
    assert row.source_format == "edf+c"
    assert row.duration_s == 3600.5
    assert row.start_time == datetime(2013, 4, 1, 22, 30, 5)
    assert row.n_channels == 2
    assert row.source_files_sha256 == ["b" * 64]
    assert row.deid_report == {"start_date": {"shifted_days": -2000}}
    assert [c.name for c in row.channels] == ["EEG Fpz-Cz", "ECG"]
    assert row.channels[1].fs == 512.0 and row.channels[1].n_samples == 1843456


def test_find_by_content_hash_finds_only_matching_content(store: Store) -> None:
    _register(store)
    found = store.find_by_content_hash("a" * 64)
    assert found is not None and found.recording_id == "r0123456789ab"
    assert store.find_by_content_hash("c" * 64) is None


@pytest.mark.parametrize(("rid", "sha"), [("r0123456789ab", "c" * 64), ("rffffffffffff", "a" * 64)])
def test_duplicate_id_or_content_is_refused_and_writes_nothing(
    store: Store, rid: str, sha: str
) -> None:
    _register(store)
    with pytest.raises(DuplicateRecordingError):
        _register(store, rid, sha)
    assert len(store.list_recordings()) == 1
    n = store.cursor().execute("SELECT count(*) FROM channels").fetchone()
    assert n == (2,)


def test_list_recordings_returns_all_in_ingest_order(store: Store) -> None:
    _register(store, "r000000000001", "1" * 64)
    _register(store, "r000000000002", "2" * 64)
    ids = [r.recording_id for r in store.list_recordings()]
    assert ids == ["r000000000001", "r000000000002"]


def test_delete_removes_recording_and_channels(store: Store) -> None:
    _register(store)
    store.delete_recording("r0123456789ab")
    with pytest.raises(RecordingNotFoundError):
        store.get_recording("r0123456789ab")
    assert store.cursor().execute("SELECT count(*) FROM channels").fetchone() == (0,)
    _register(store)  # the same content may be registered again after deletion


def test_unknown_id_raises_lookup_error(store: Store) -> None:
    with pytest.raises(LookupError, match="r_missing"):
        store.get_recording("r_missing")
    with pytest.raises(RecordingNotFoundError):
        store.delete_recording("r_missing")


def test_channels_must_be_numbered_in_order(store: Store) -> None:
    with pytest.raises(StoreError, match="numbered"):
        store.register_recording(
            recording_id="r1", source_format="wfdb", duration_s=1.0, start_time=None,
            content_sha256="d" * 64, source_files_sha256=[], stored_path="recordings/r1",
            deid_report={}, channels=[ChannelRow(1, "x", "other", "", 1.0, 1)],
        )
    assert store.list_recordings() == []


def test_each_thread_gets_its_own_cursor_and_sees_committed_rows(store: Store) -> None:
    _register(store)
    seen: list[int] = []
    cursors: list[object] = []

    def work() -> None:
        cursors.append(store.cursor())
        seen.append(len(store.list_recordings()))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [1, 1, 1]
    assert len({id(c) for c in cursors}) == 3
    assert store.cursor() not in cursors


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "w.duckdb")
    s.close()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.list_recordings()
