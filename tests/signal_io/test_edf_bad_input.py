"""Bad EDF/BDF input gives typed errors that name the file, never a raw exception or a hang."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from signal_io import (
    CorruptRecordingError,
    RecordingNotFoundError,
    SignalIOError,
    UnreadablePathError,
    UnsupportedFormatError,
    open_recording,
)
from signal_io._edf import open_edf
from signal_io.edf_writer import EdfSignal, write_edf

NS = 3  # two signals plus the annotation channel
# Offsets of per-signal fields: widths 16, 80, 8, 8, 8, 8, 8, 80, 8, 32, stored field by field.
_WIDTHS = {"label": 16, "transducer": 80, "unit": 8, "pmin": 8, "pmax": 8, "dmin": 8,
           "dmax": 8, "prefilter": 80, "nsamp": 8, "reserved": 32}


def _valid(tmp_path: Path, name: str = "x.edf", bdf: bool = False) -> Path:
    path = tmp_path / name
    rng = np.random.default_rng(0)
    write_edf(path, [EdfSignal("EEG Cz", rng.normal(0, 20, 20 * 5), 20.0),
                     EdfSignal("Resp", rng.normal(0, 1, 10 * 5), 10.0, unit="mV")],
              datetime(2022, 5, 6, 7, 8, 9), annotations=[], bdf=bdf)
    return path


def _record_bytes(path: Path) -> int:
    rec = open_edf(path)
    return rec._hdr.record_bytes


def _general(data: bytearray, offset: int, width: int, value: str) -> None:
    data[offset:offset + width] = value.ljust(width).encode("latin-1")


def _signal_field(data: bytearray, field: str, index: int, value: str) -> None:
    base = 256
    for name, w in _WIDTHS.items():
        if name == field:
            _general(data, base + index * w, w, value)
            return
        base += NS * w
    raise KeyError(field)


def _mutated(tmp_path: Path, edit: object) -> Path:
    path = _valid(tmp_path)
    data = bytearray(path.read_bytes())
    edit(data)  # type: ignore[operator]
    path.write_bytes(bytes(data))
    return path


def _expect(error: type[SignalIOError], path: Path, match: str) -> None:
    with pytest.raises(error, match=match) as info:
        rec = open_edf(path)
        for ch in rec.channels:
            rec.read(ch.index)
        rec.annotations()
    assert str(path) in str(info.value)
    assert info.value.path == path


def test_valid_file_opens(tmp_path: Path) -> None:
    rec = open_edf(_valid(tmp_path))
    assert [c.n_samples for c in rec.channels] == [100, 50]


def test_zero_length_file_via_open_recording_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "empty.edf"
    path.write_bytes(b"")
    with pytest.raises(UnsupportedFormatError) as info:
        open_recording(path)
    assert str(path) in str(info.value)


def test_zero_length_file_via_open_edf_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "empty.edf"
    path.write_bytes(b"")
    _expect(CorruptRecordingError, path, "empty")


def test_file_shorter_than_fixed_header(tmp_path: Path) -> None:
    path = _valid(tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    _expect(CorruptRecordingError, path, "needs 256")


def test_file_shorter_than_signal_headers(tmp_path: Path) -> None:
    path = _valid(tmp_path)
    path.write_bytes(path.read_bytes()[:600])
    _expect(CorruptRecordingError, path, "header truncated")


def test_header_length_field_disagrees_with_signal_count(tmp_path: Path) -> None:
    path = _mutated(tmp_path, lambda d: _general(d, 184, 8, "768"))
    _expect(CorruptRecordingError, path, "256 \\* \\(3 \\+ 1\\)")


def test_truncated_data_records(tmp_path: Path) -> None:
    path = _valid(tmp_path)
    path.write_bytes(path.read_bytes()[:-7])
    _expect(CorruptRecordingError, path, "truncated")


def test_trailing_bytes_shorter_than_a_record_are_ignored(tmp_path: Path) -> None:
    path = _valid(tmp_path)
    before = open_edf(path).read(0)
    path.write_bytes(path.read_bytes() + b"\x00" * 5)
    rec = open_edf(path)
    np.testing.assert_array_equal(rec.read(0), before)


def test_trailing_whole_extra_record_is_corrupt(tmp_path: Path) -> None:
    path = _valid(tmp_path)
    size = _record_bytes(path)
    path.write_bytes(path.read_bytes() + b"\x00" * size)
    _expect(CorruptRecordingError, path, "more whole record")


def test_minus_one_records_resolved_from_file_size(tmp_path: Path) -> None:
    path = _mutated(tmp_path, lambda d: _general(d, 236, 8, "-1"))
    rec = open_edf(path)
    assert rec._hdr.n_records == 5
    assert rec.channels[0].n_samples == 100


def test_minus_one_records_with_partial_record_is_corrupt(tmp_path: Path) -> None:
    path = _mutated(tmp_path, lambda d: _general(d, 236, 8, "-1"))
    path.write_bytes(path.read_bytes() + b"\x01\x02\x03")
    _expect(CorruptRecordingError, path, "-1 data records")


def test_negative_record_count_other_than_minus_one(tmp_path: Path) -> None:
    _expect(CorruptRecordingError, _mutated(tmp_path, lambda d: _general(d, 236, 8, "-5")),
            "-5 data records")


def test_non_numeric_record_count(tmp_path: Path) -> None:
    _expect(CorruptRecordingError, _mutated(tmp_path, lambda d: _general(d, 236, 8, "five")),
            "number of data records")


def test_non_numeric_physical_minimum(tmp_path: Path) -> None:
    path = _mutated(tmp_path, lambda d: _signal_field(d, "pmin", 1, "abc"))
    _expect(CorruptRecordingError, path, "physical minimum.*Resp")


def test_infinite_physical_maximum(tmp_path: Path) -> None:
    path = _mutated(tmp_path, lambda d: _signal_field(d, "pmax", 0, "inf"))
    _expect(CorruptRecordingError, path, "not finite")


@pytest.mark.parametrize("value", ["0", "-4", "abc", "99999999"])
def test_bad_samples_per_record(tmp_path: Path, value: str) -> None:
    path = _mutated(tmp_path, lambda d: _signal_field(d, "nsamp", 0, value))
    _expect(CorruptRecordingError, path, "samples")


@pytest.mark.parametrize(("value", "match"), [("0", "duration"), ("-1", "duration"),
                                              ("1e9", "duration"), ("x", "duration"),
                                              ("1e-9", "sampling rate")])
def test_bad_record_duration(tmp_path: Path, value: str, match: str) -> None:
    _expect(CorruptRecordingError, _mutated(tmp_path, lambda d: _general(d, 244, 8, value)),
            match)


def test_digital_min_not_below_max(tmp_path: Path) -> None:
    path = _mutated(tmp_path, lambda d: _signal_field(d, "dmin", 0, "32767"))
    _expect(CorruptRecordingError, path, "digital minimum")


@pytest.mark.parametrize("value", ["9999", "0", "-3", "ab"])
def test_absurd_number_of_signals(tmp_path: Path, value: str) -> None:
    _expect(CorruptRecordingError, _mutated(tmp_path, lambda d: _general(d, 252, 4, value)),
            "signals")


def test_unparseable_start_date(tmp_path: Path) -> None:
    _expect(CorruptRecordingError, _mutated(tmp_path, lambda d: _general(d, 168, 8, "32.13.99")),
            "start date")


def test_garbled_start_date_text(tmp_path: Path) -> None:
    _expect(CorruptRecordingError, _mutated(tmp_path, lambda d: _general(d, 168, 8, "yesterday")),
            "start date")


def test_non_edf_file_with_edf_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.edf"
    path.write_text("patient notes, not a recording\n" * 20)
    _expect(UnsupportedFormatError, path, "not an EDF")
    with pytest.raises(UnsupportedFormatError) as info:
        open_recording(path)
    assert str(path) in str(info.value)


def test_malformed_tal_is_corrupt(tmp_path: Path) -> None:
    path = _valid(tmp_path)
    data = bytearray(path.read_bytes())
    # The annotation block of record 0 follows the two signals (20 + 10 samples of 2 bytes).
    start = 256 * (NS + 1) + 2 * 30
    data[start:start + 4] = b"x1\x14\x14"
    path.write_bytes(bytes(data))
    _expect(CorruptRecordingError, path, "annotation in data record 0")


def test_missing_file(tmp_path: Path) -> None:
    _expect(RecordingNotFoundError, tmp_path / "gone.edf", "no such file")


def test_folder(tmp_path: Path) -> None:
    folder = tmp_path / "dir.edf"
    folder.mkdir()
    _expect(UnreadablePathError, folder, "folder")


def test_file_truncated_after_opening_reads_as_corrupt(tmp_path: Path) -> None:
    path = _valid(tmp_path)
    rec = open_edf(path)
    path.write_bytes(path.read_bytes()[:1100])
    with pytest.raises(CorruptRecordingError, match="shorter") as info:
        rec.read(0)
    assert str(path) in str(info.value)


def test_bdf_bad_digital_range(tmp_path: Path) -> None:
    path = _valid(tmp_path, "x.bdf", bdf=True)
    data = bytearray(path.read_bytes())
    _signal_field(data, "dmax", 1, "-8388608")
    path.write_bytes(bytes(data))
    _expect(CorruptRecordingError, path, "digital minimum")
