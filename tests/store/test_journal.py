"""The decision-log journal: CRC-framed JSON lines, durable appends, torn tails and damage."""

from __future__ import annotations

import os
import stat
import zlib
from pathlib import Path
from typing import Any

import pytest

from store._journal import Journal, frame_record
from store.errors import DecisionLogCorruptError


def _records(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"seq": start + i, "text": f"décision {start + i}", "values": [start + i, 0.5],
             "nested": {"ok": (start + i) % 2 == 0}} for i in range(n)]


def _write_raw(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def test_records_round_trip_in_order_across_appends_and_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.decision-log"
    j = Journal(path)
    first, second, third = _records(1), _records(3, 1), _records(2, 4)
    j.append(first)
    j.append(second)
    assert j.read() == first + second
    j.close()
    j = Journal(path)
    assert j.read() == first + second
    j.append(third)
    j.close()
    again = Journal(path)
    try:
        assert again.read() == first + second + third
        # one line per record, each "crc json\n"
        assert path.read_bytes() == b"".join(frame_record(r) for r in first + second + third)
    finally:
        again.close()


def test_clear_empties_the_file_and_later_appends_start_afresh(tmp_path: Path) -> None:
    path = tmp_path / "db.decision-log"
    j = Journal(path)
    try:
        j.append(_records(4))
        j.clear()
        assert path.stat().st_size == 0
        assert j.read() == []
        j.append(_records(2, 10))
        assert j.read() == _records(2, 10)
    finally:
        j.close()


@pytest.mark.parametrize("torn", ["no_newline", "bad_crc_last_line", "half_a_line"])
def test_torn_final_write_is_dropped_and_cut_off_and_later_appends_read_back(
    tmp_path: Path, torn: str
) -> None:
    path = tmp_path / "db.decision-log"
    good = b"".join(frame_record(r) for r in _records(3))
    tail = frame_record(_records(1, 3)[0])
    if torn == "no_newline":
        bad = tail[:-1]  # the whole record but the final newline never reached the disk
    elif torn == "bad_crc_last_line":
        bad = (b"%08x" % ((int(tail[:8], 16) + 1) % 2**32)) + tail[8:]
    else:
        bad = tail[: len(tail) // 2]
    _write_raw(path, good + bad)
    j = Journal(path)
    try:
        assert j.read() == _records(3)
        assert path.read_bytes() == good  # the file is cut back to the intact prefix
        j.append(_records(2, 100))
        assert j.read() == _records(3) + _records(2, 100)
    finally:
        j.close()
    reopened = Journal(path)
    try:
        assert reopened.read() == _records(3) + _records(2, 100)
    finally:
        reopened.close()


def test_a_file_holding_only_a_torn_write_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "db.decision-log"
    _write_raw(path, frame_record(_records(1)[0])[:5])
    j = Journal(path)
    try:
        assert j.read() == []
        assert path.stat().st_size == 0
    finally:
        j.close()


@pytest.mark.parametrize("damage", ["flipped_byte", "bad_crc", "not_json", "json_not_object"])
def test_damage_followed_by_intact_records_raises_and_leaves_the_file_unchanged(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "db.decision-log"
    lines = [frame_record(r) for r in _records(4)]
    if damage == "flipped_byte":
        line = bytearray(lines[1])
        line[20] ^= 0x01
        lines[1] = bytes(line)
    elif damage == "bad_crc":
        lines[1] = b"00000000" + lines[1][8:]
    elif damage == "not_json":
        body = b"{not json"
        lines[1] = b"%08x " % zlib.crc32(body) + body + b"\n"
    else:
        body = b"[1,2,3]"
        lines[1] = b"%08x " % zlib.crc32(body) + body + b"\n"
    data = b"".join(lines)
    _write_raw(path, data)
    j = Journal(path)
    try:
        with pytest.raises(DecisionLogCorruptError) as info:
            j.read()
        assert str(path) in str(info.value)
        assert isinstance(info.value, RuntimeError)
        assert path.read_bytes() == data
        with pytest.raises(DecisionLogCorruptError):  # and again: nothing was cut
            j.read()
    finally:
        j.close()
    assert path.read_bytes() == data


def test_append_whose_fdatasync_fails_raises_and_leaves_only_the_earlier_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.decision-log"
    j = Journal(path)
    try:
        j.append(_records(2))
        before = path.read_bytes()

        def failing_fdatasync(fd: int) -> None:
            raise OSError(5, "Input/output error (injected)")

        monkeypatch.setattr("store._journal.os.fdatasync", failing_fdatasync)
        with pytest.raises(OSError, match="injected"):
            j.append(_records(3, 2))
        assert path.read_bytes() == before  # no partial or unacknowledged line left behind
        monkeypatch.undo()
        assert j.read() == _records(2)
        j.append(_records(1, 9))
        assert j.read() == _records(2) + _records(1, 9)
    finally:
        j.close()


def test_append_whose_write_fails_midway_takes_the_partial_line_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.decision-log"
    j = Journal(path)
    try:
        j.append(_records(1))
        before = path.read_bytes()
        real_write = os.write
        calls = {"n": 0}

        def short_then_fail(fd: int, data: Any) -> int:
            calls["n"] += 1
            if calls["n"] == 1:
                return real_write(fd, bytes(data[:7]))  # a short write...
            raise OSError(28, "No space left on device (injected)")  # ...then the disk is full

        monkeypatch.setattr("store._journal.os.write", short_then_fail)
        with pytest.raises(OSError, match="injected"):
            j.append(_records(2, 1))
        monkeypatch.undo()
        assert path.read_bytes() == before
        assert j.read() == _records(1)
    finally:
        j.close()


def test_journal_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    old = os.umask(0o000)  # even a permissive umask must not widen the mode
    try:
        j = Journal(tmp_path / "db.decision-log")
    finally:
        os.umask(old)
    try:
        j.append(_records(1))
        mode = stat.S_IMODE((tmp_path / "db.decision-log").stat().st_mode)
        assert mode == 0o600, oct(mode)
    finally:
        j.close()


def test_close_is_idempotent(tmp_path: Path) -> None:
    j = Journal(tmp_path / "db.decision-log")
    j.close()
    j.close()
