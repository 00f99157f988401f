"""The registry of ingested recordings and their channels.

Rows describe de-identified stored recordings: the pseudonymous ``recording_id``, the shifted
start time, content hashes without file names, and the de-identification report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from store._db import Database
from store.errors import DuplicateRecordingError, RecordingNotFoundError, StoreError


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """One channel of a registered recording.

    Attributes
    ----------
    channel_index
        0-based position among the recording's signal channels.
    name, kind, unit
        Label, measured quantity (``"EEG"``, ``"ECG"``...) and physical unit.
    fs
        Sampling rate in Hz.
    n_samples
        Number of stored samples.
    """

    channel_index: int
    name: str
    kind: str
    unit: str
    fs: float
    n_samples: int


@dataclass(frozen=True, slots=True)
class RecordingRow:
    """One registered recording.

    Attributes
    ----------
    recording_id
        Pseudonymous id (``"r"`` + 12 hex digits).
    source_format
        ``"wfdb"``, ``"edf"``, ``"edf+c"``, ``"edf+d"``, ``"bdf"``...
    duration_s
        Length of the longest channel in seconds.
    start_time
        De-identified (date-shifted) start, naive local clock time, or ``None``.
    n_channels
        Number of signal channels.
    content_sha256
        Hash of the source files' content (unique: the same content is never stored twice).
    source_files_sha256
        sha256 of each source file, without names.
    ingested_at
        When the recording was registered (UTC, naive).
    stored_path
        Folder of the stored form, relative to the data folder (``"recordings/r0123..."``).
    deid_report
        What de-identification changed (never original values).
    channels
        The channels, by index.
    """

    recording_id: str
    source_format: str
    duration_s: float
    start_time: datetime | None
    n_channels: int
    content_sha256: str
    source_files_sha256: list[str]
    ingested_at: datetime
    stored_path: str
    deid_report: dict[str, Any]
    channels: tuple[ChannelRow, ...] = field(default=())


_COLUMNS = (
    "recording_id, source_format, duration_s, start_time, n_channels, content_sha256, "
    "source_files_sha256, ingested_at, stored_path, deid_report"
)


def _row_to_recording(row: tuple[Any, ...], channels: tuple[ChannelRow, ...]) -> RecordingRow:
    return RecordingRow(
        recording_id=str(row[0]),
        source_format=str(row[1]),
        duration_s=float(row[2]),
        start_time=row[3],
        n_channels=int(row[4]),
        content_sha256=str(row[5]),
        source_files_sha256=list(json.loads(row[6])),
        ingested_at=row[7],
        stored_path=str(row[8]),
        deid_report=dict(json.loads(row[9])),
        channels=channels,
    )


class RecordingsMixin(Database):
    """Registry methods of :class:`store.Store`."""

    def register_recording(
        self,
        *,
        recording_id: str,
        source_format: str,
        duration_s: float,
        start_time: datetime | None,
        content_sha256: str,
        source_files_sha256: Sequence[str],
        stored_path: str,
        deid_report: dict[str, Any],
        channels: Sequence[ChannelRow],
        ingested_at: datetime | None = None,
    ) -> RecordingRow:
        """Register a stored recording and its channels in one transaction.

        Parameters
        ----------
        recording_id, source_format, duration_s, start_time, content_sha256,
        source_files_sha256, stored_path, deid_report, channels
            See :class:`RecordingRow`.
        ingested_at
            Registration time; now (UTC) by default.

        Returns
        -------
        RecordingRow

        Raises
        ------
        DuplicateRecordingError
            The id or the content hash is already registered (nothing was written).
        StoreError
            Another database error (nothing was written).
        """
        when = ingested_at or datetime.now(UTC).replace(tzinfo=None)
        indices = [c.channel_index for c in channels]
        if indices != list(range(len(channels))):
            raise StoreError(
                f"channels of {recording_id!r} must be numbered 0..{len(channels) - 1} in order"
            )
        try:
            with self.transaction() as cur:
                cur.execute(
                    f"INSERT INTO recordings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        recording_id, source_format, float(duration_s), start_time,
                        len(channels), content_sha256, json.dumps(list(source_files_sha256)),
                        when, stored_path, json.dumps(deid_report, sort_keys=True),
                    ],
                )
                if channels:
                    placeholders = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(channels))
                    params: list[object] = []
                    for c in channels:
                        params += [recording_id, c.channel_index, c.name, c.kind, c.unit,
                                   float(c.fs), int(c.n_samples)]
                    cur.execute(f"INSERT INTO channels VALUES {placeholders}", params)
        except duckdb.ConstraintException as exc:
            raise DuplicateRecordingError(recording_id, content_sha256) from exc
        except duckdb.Error as exc:
            raise StoreError(f"registering recording {recording_id!r} failed: {exc}") from exc
        return self.get_recording(recording_id)

    def _channels_of(self, recording_id: str) -> tuple[ChannelRow, ...]:
        rows = self.cursor_without_fold().execute(
            "SELECT channel_index, name, kind, unit, fs, n_samples FROM channels "
            "WHERE recording_id = ? ORDER BY channel_index",
            [recording_id],
        ).fetchall()
        return tuple(
            ChannelRow(int(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4]), int(r[5]))
            for r in rows
        )

    def get_recording(self, recording_id: str) -> RecordingRow:
        """Return the recording with this id.

        Raises
        ------
        RecordingNotFoundError
        """
        row = self.cursor_without_fold().execute(
            f"SELECT {_COLUMNS} FROM recordings WHERE recording_id = ?", [recording_id]
        ).fetchone()
        if row is None:
            raise RecordingNotFoundError(recording_id)
        return _row_to_recording(row, self._channels_of(recording_id))

    def find_by_content_hash(self, content_sha256: str) -> RecordingRow | None:
        """Return the recording whose source content has this sha256, or ``None``."""
        row = self.cursor_without_fold().execute(
            "SELECT recording_id FROM recordings WHERE content_sha256 = ?", [content_sha256]
        ).fetchone()
        return None if row is None else self.get_recording(str(row[0]))

    def list_recordings(self) -> list[RecordingRow]:
        """Return every registered recording with its channels, oldest ingest first."""
        cur = self.cursor_without_fold()
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM recordings ORDER BY ingested_at, recording_id"
        ).fetchall()
        chans: dict[str, list[ChannelRow]] = {}
        for r in cur.execute(
            "SELECT recording_id, channel_index, name, kind, unit, fs, n_samples FROM channels "
            "ORDER BY recording_id, channel_index"
        ).fetchall():
            chans.setdefault(str(r[0]), []).append(
                ChannelRow(int(r[1]), str(r[2]), str(r[3]), str(r[4]), float(r[5]), int(r[6]))
            )
        return [_row_to_recording(r, tuple(chans.get(str(r[0]), []))) for r in rows]

    def delete_recording(self, recording_id: str) -> None:
        """Remove a recording and its channels from the registry (not its stored folder).

        Raises
        ------
        RecordingNotFoundError
        """
        with self.transaction() as cur:
            found = cur.execute(
                "SELECT count(*) FROM recordings WHERE recording_id = ?", [recording_id]
            ).fetchone()
            if found is None or found[0] == 0:
                raise RecordingNotFoundError(recording_id)
            cur.execute("DELETE FROM channels WHERE recording_id = ?", [recording_id])
            cur.execute("DELETE FROM recordings WHERE recording_id = ?", [recording_id])
