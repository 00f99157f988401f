"""An append-only file of JSON records, each durable on disk before :meth:`append` returns.

The decision log (:mod:`store.decision_log`) writes review decisions here first and folds them
into DuckDB in batches. One record is one line::

    <crc32 of the JSON, 8 hex digits> <JSON object>\\n

A crash can leave only the last line incomplete (a write that was never acknowledged); reading
drops such a torn tail. A damaged line followed by intact ones is not a torn write but damage to
acknowledged records, and reading refuses it rather than losing them.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from store.errors import DecisionLogCorruptError


def frame_record(record: dict[str, Any]) -> bytes:
    """Return one record as its journal line (checksum, space, JSON, newline)."""
    body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def _parse_line(line: bytes) -> dict[str, Any] | None:
    """The record of one complete line, or None when its checksum or JSON is bad."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        record = json.loads(body)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def parse_journal(data: bytes, path: Path) -> tuple[list[dict[str, Any]], int]:
    """Split journal bytes into records.

    Parameters
    ----------
    data
        The whole file.
    path
        The file, for error messages.

    Returns
    -------
    records, n_good_bytes
        The intact records in order, and the length of the prefix they occupy (anything after
        it is a torn final write).

    Raises
    ------
    DecisionLogCorruptError
        A damaged line is followed by an intact one.
    """
    records: list[dict[str, Any]] = []
    pos = 0
    bad_at: int | None = None
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:  # no newline: the last write was cut short
            if bad_at is None:
                bad_at = pos
            break
        record = _parse_line(data[pos:end])
        if record is None:
            if bad_at is None:
                bad_at = pos
        elif bad_at is not None:
            raise DecisionLogCorruptError(
                f"the decision log {path} is damaged at byte {bad_at}, and acknowledged "
                "decisions follow the damage; restore the file from a backup (nothing was "
                "applied)"
            )
        else:
            records.append(record)
        pos = end + 1
    return records, (len(data) if bad_at is None else bad_at)


class Journal:
    """An open journal file (one writer: the process holding the database).

    Parameters
    ----------
    path
        The file; created with mode 0600 if missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        if created:
            # make the new directory entry itself durable, once
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def read(self) -> list[dict[str, Any]]:
        """Return the intact records, cutting a torn final write off the file.

        Raises
        ------
        DecisionLogCorruptError
            Acknowledged records follow a damaged line.
        """
        size = os.fstat(self._fd).st_size
        data = os.pread(self._fd, size, 0) if size else b""
        records, good = parse_journal(data, self.path)
        if good < len(data):
            os.ftruncate(self._fd, good)
            os.fsync(self._fd)
        return records

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Write ``records`` at the end and wait until they are on disk (``fdatasync``)."""
        data = memoryview(b"".join(frame_record(r) for r in records))
        size_before = os.fstat(self._fd).st_size
        try:
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
            os.fdatasync(self._fd)
        except BaseException:
            # not acknowledged: take a partial line back off so later records stay readable
            os.ftruncate(self._fd, size_before)
            raise

    def clear(self) -> None:
        """Empty the file (after its records were committed elsewhere)."""
        os.ftruncate(self._fd, 0)
        os.fdatasync(self._fd)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
