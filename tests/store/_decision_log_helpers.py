"""Helpers shared by the decision-log tests (stores, seeding, what DuckDB itself holds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from store import (
    SYSTEM_USER,
    ChannelRow,
    Event,
    EventDraft,
    EventSource,
    Store,
)

REPO = Path(__file__).resolve().parents[2]
REC = "rtest00000001"  # 600 s, 3 channels (conftest)
LONG = "rlong00000001"
LONG_S = 8 * 3600.0


def quiet(store: Store) -> None:
    """Keep decisions pending: no background fold, no inline fold."""
    store.flush_interval_s = 1e9
    store.flush_after_writes = 10**9


def register(store: Store, recording_id: str, duration_s: float, n_channels: int = 4) -> None:
    store.register_recording(
        recording_id=recording_id, source_format="edf", duration_s=duration_s, start_time=None,
        content_sha256=recording_id.encode().hex().ljust(64, "0")[:64],
        source_files_sha256=["ef" * 32], stored_path=f"recordings/{recording_id}",
        deid_report={},
        channels=[ChannelRow(i, f"C{i}", "EEG", "uV", 256.0, int(duration_s * 256))
                  for i in range(n_channels)],
    )


def seed(store: Store, recording_id: str, onsets: list[float], duration_s: float = 1.0
          ) -> list[int]:
    """Insert detector proposals (beat N on channel 0); return their ids in onset order."""
    store.insert_events(recording_id, [EventDraft(o, duration_s, "N", "beat", (0,), 0.5)
                                       for o in onsets],
                        user=SYSTEM_USER, source=EventSource.DETECTOR)
    found = store.list_events(recording_id, include_deleted=True)
    by_onset = {e.onset_s: e.event_id for e in found}
    return [by_onset[o] for o in onsets]


def count(store: Store, table: str) -> int:
    row = store.cursor_without_fold().execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def db_state(store: Store, event_id: int) -> tuple[Any, ...]:
    """What DuckDB itself holds for one event (no fold first)."""
    row = store.cursor_without_fold().execute(
        "SELECT status, version, onset_s, duration_s, label, category, channels, deleted "
        "FROM events WHERE event_id = ?", [event_id]).fetchone()
    assert row is not None
    return tuple(row)


def state(e: Event) -> tuple[Any, ...]:
    return (e.status.value, e.version, e.onset_s, e.duration_s, e.label, e.category,
            list(e.channels), e.deleted)


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def journal_size(store: Store) -> int:
    p = store.decision_log_path
    return p.stat().st_size if p.exists() else 0

