"""The recordings available to view: the store's registry, with stored recordings opened lazily.

:class:`Catalog` answers "which recordings are there" from the DuckDB registry and keeps each
:class:`signal_io.stored.StoredRecording` open after first use (its arrays are memory-mapped, so
an open recording costs address space and page cache, not resident heap). Registry rows are cached
too, so a window request does not touch DuckDB.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.errors import UnknownRecordingError
from server.wire import AnnotationOut, ChannelOut, RecordingOut
from signal_io.stored import StoredRecording, open_stored
from store import RecordingRow, Store
from store.errors import RecordingNotFoundError


def recording_out(row: RecordingRow, n_annotations: int | None = None) -> RecordingOut:
    """Turn a registry row into its wire form."""
    return RecordingOut(
        id=row.recording_id,
        format=row.source_format,
        duration_s=float(row.duration_s),
        start_time=None if row.start_time is None else row.start_time.isoformat(),
        channels=[
            ChannelOut(
                index=c.channel_index, name=c.name, kind=c.kind, unit=c.unit, fs=float(c.fs),
                n_samples=int(c.n_samples), duration_s=int(c.n_samples) / float(c.fs),
            )
            for c in row.channels
        ],
        n_annotations=n_annotations,
    )


def annotations_out(annotations: Sequence[Any]) -> list[AnnotationOut]:
    """Turn :class:`signal_io.Annotation` objects into their wire form."""
    return [
        AnnotationOut(
            onset_s=float(a.onset_s), duration_s=float(a.duration_s), label=str(a.label),
            kind=str(a.kind), channel=a.channel, source=str(a.source),
        )
        for a in annotations
    ]


@dataclass(frozen=True, slots=True)
class _AnnotationIndex:
    onsets: list[float]
    longest_s: float


class Catalog:
    """Registered recordings and their opened stored form.

    Parameters
    ----------
    store
        The open store (registry of recordings).
    data_dir
        ``WAVESCORE_DATA_DIR``; a row's ``stored_path`` is relative to it.
    """

    def __init__(self, store: Store, data_dir: Path) -> None:
        self._store = store
        self._data_dir = data_dir
        self._lock = threading.Lock()
        self._rows: dict[str, RecordingRow] = {}
        self._opened: dict[str, StoredRecording] = {}
        self._annotations: dict[str, list[AnnotationOut]] = {}
        self._index: dict[str, _AnnotationIndex] = {}

    def list_recordings(self) -> list[RecordingOut]:
        """Every registered recording, oldest ingest first."""
        rows = self._store.list_recordings()
        with self._lock:
            for row in rows:
                self._rows[row.recording_id] = row
        return [recording_out(r) for r in rows]

    def row(self, recording_id: str) -> RecordingRow:
        """The registry row of ``recording_id``.

        Raises
        ------
        UnknownRecordingError
            No recording with this id is registered.
        """
        row = self._rows.get(recording_id)
        if row is not None:
            return row
        try:
            row = self._store.get_recording(recording_id)
        except RecordingNotFoundError:
            raise UnknownRecordingError(
                f"no recording with id {recording_id!r}; GET /api/recordings lists them"
            ) from None
        with self._lock:
            self._rows[recording_id] = row
        return row

    def describe(self, recording_id: str) -> RecordingOut:
        """The wire description of one recording, with its annotation count."""
        row = self.row(recording_id)
        return recording_out(row, len(self.annotations(recording_id)))

    def is_open(self, recording_id: str) -> bool:
        """Whether the stored recording is already open (:meth:`stored` then costs nothing)."""
        return recording_id in self._opened

    def stored(self, recording_id: str) -> StoredRecording:
        """The opened stored recording (memory-mapped arrays), opened on first use."""
        rec = self._opened.get(recording_id)
        if rec is not None:
            return rec
        row = self.row(recording_id)
        rec = open_stored(self._data_dir / row.stored_path)
        with self._lock:
            rec = self._opened.setdefault(recording_id, rec)
        return rec

    def annotations(self, recording_id: str) -> list[AnnotationOut]:
        """The recording's own annotations (de-identified at ingest), sorted by onset."""
        cached = self._annotations.get(recording_id)
        if cached is not None:
            return cached
        items = annotations_out(self.stored(recording_id).annotations())
        items.sort(key=lambda a: a.onset_s)
        with self._lock:
            self._annotations[recording_id] = items
        return items

    def annotations_in(
        self, recording_id: str, start_s: float, stop_s: float
    ) -> list[AnnotationOut]:
        """Annotations overlapping ``[start_s, stop_s)`` (a mark at ``start_s`` included)."""
        items = self.annotations(recording_id)
        index = self._index.get(recording_id)
        if index is None:
            index = _AnnotationIndex(
                onsets=[a.onset_s for a in items],
                longest_s=max((a.duration_s for a in items), default=0.0),
            )
            self._index[recording_id] = index
        lo = bisect.bisect_left(index.onsets, start_s - index.longest_s)
        hi = bisect.bisect_left(index.onsets, stop_s)
        return [
            a for a in items[lo:hi]
            if a.onset_s + a.duration_s >= start_s and (a.onset_s < stop_s)
        ]

    def close(self) -> None:
        """Forget opened recordings (their memory maps close when unreferenced)."""
        with self._lock:
            for rec in self._opened.values():
                close = getattr(rec, "close", None)
                if callable(close):
                    close()
            self._opened.clear()
            self._rows.clear()
            self._annotations.clear()
            self._index.clear()


__all__ = ["Catalog", "annotations_out", "recording_out"]
