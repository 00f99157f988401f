"""Bad WFDB input gives typed errors that name the offending file; never a raw error or a hang."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signal_io import open_recording
from signal_io._wfdb import open_wfdb
from signal_io.errors import (
    CorruptRecordingError,
    RecordingNotFoundError,
    SignalIOError,
    UnreadablePathError,
    UnsupportedFormatError,
)
from tests.signal_io.test_wfdb_reader import write_record

N = 100


@pytest.fixture
def rec(tmp_path: Path) -> Path:
    """A sound two-signal format-212 record of N samples."""
    d = np.arange(2 * N).reshape(N, 2) - 50
    return write_record(tmp_path, "rec", d, 212, names=["MLII", "V1"])


def _rewrite(hea: Path, old: str, new: str) -> None:
    text = hea.read_text()
    assert old in text
    hea.write_text(text.replace(old, new, 1))


def _expect(
    err: type[SignalIOError], path: Path, match: str | None = None
) -> pytest.ExceptionInfo[SignalIOError]:
    with pytest.raises(err, match=match) as info:
        rec = open_recording(path)
        for ch in rec.channels:
            rec.read(ch.index)
        rec.annotations()
    return info


def _names(info: pytest.ExceptionInfo[SignalIOError], f: Path) -> None:
    assert info.value.path == f
    assert str(f) in str(info.value)


def test_truncated_dat_reports_expected_and_actual_bytes(rec: Path) -> None:
    dat = rec.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:-7])
    info = _expect(CorruptRecordingError, rec, "truncated")
    _names(info, dat)
    assert "expected 300 bytes" in str(info.value) and "actual 293 bytes" in str(info.value)


def test_header_declaring_more_samples_than_the_data_holds(rec: Path) -> None:
    _rewrite(rec, f"rec 2 100 {N}", f"rec 2 100 {N + 1}")
    info = _expect(CorruptRecordingError, rec, "expected 303 bytes")
    _names(info, rec.with_suffix(".dat"))


def test_header_declaring_more_signals_than_it_lists(rec: Path) -> None:
    _rewrite(rec, f"rec 2 100 {N}", f"rec 3 100 {N}")
    _names(_expect(CorruptRecordingError, rec, "declares 3 signals but has 2"), rec)


def test_missing_dat_file(rec: Path) -> None:
    rec.with_suffix(".dat").unlink()
    info = _expect(RecordingNotFoundError, rec, "missing")
    _names(info, rec.with_suffix(".dat"))


def test_missing_header(tmp_path: Path) -> None:
    _names(_expect(RecordingNotFoundError, tmp_path / "nope.hea"), tmp_path / "nope.hea")


def test_missing_header_through_open_wfdb_directly(tmp_path: Path) -> None:
    with pytest.raises(RecordingNotFoundError) as info:
        open_wfdb(tmp_path / "nope.hea")
    _names(info, tmp_path / "nope.hea")


def test_zero_length_header(rec: Path) -> None:
    rec.write_bytes(b"")
    _names(_expect(CorruptRecordingError, rec, "empty"), rec)


def test_blank_header_with_only_comments(rec: Path) -> None:
    rec.write_text("# just a comment\n\n")
    _names(_expect(CorruptRecordingError, rec, "no record line"), rec)


def test_zero_length_dat(rec: Path) -> None:
    rec.with_suffix(".dat").write_bytes(b"")
    _names(_expect(CorruptRecordingError, rec, "empty"), rec.with_suffix(".dat"))


def test_byte_offset_past_the_end_of_the_dat(rec: Path) -> None:
    _rewrite(rec, "rec.dat 212 ", "rec.dat 212+5000 ")
    _rewrite(rec, "rec.dat 212 ", "rec.dat 212+5000 ")
    _names(_expect(CorruptRecordingError, rec, "5000-byte offset"), rec.with_suffix(".dat"))


@pytest.mark.parametrize("n", ["1000000000000000", str(2**62)])
def test_absurd_sample_count_is_corrupt_not_a_huge_allocation(rec: Path, n: str) -> None:
    _rewrite(rec, f"rec 2 100 {N}", f"rec 2 100 {n}")
    _names(_expect(CorruptRecordingError, rec, "truncated"), rec.with_suffix(".dat"))


def test_sample_count_beyond_any_file_is_refused_in_the_header(rec: Path) -> None:
    _rewrite(rec, f"rec 2 100 {N}", "rec 2 100 " + "9" * 30)
    _names(_expect(CorruptRecordingError, rec, "number of samples"), rec)


@pytest.mark.parametrize("fs", ["0", "-360", "nan", "NaN", "inf", "1e300", "abc", "360/x"])
def test_absurd_or_non_numeric_sampling_rate(rec: Path, fs: str) -> None:
    _rewrite(rec, f"rec 2 100 {N}", f"rec 2 {fs} {N}")
    _names(_expect(CorruptRecordingError, rec, "sampling frequency"), rec)


@pytest.mark.parametrize(("fmt", "why"), [("999", "unknown"), ("8", "not supported"),
                                          ("310", "not supported")])
def test_unknown_or_unsupported_storage_format(rec: Path, fmt: str, why: str) -> None:
    text = rec.read_text().replace("rec.dat 212 ", f"rec.dat {fmt} ")
    rec.write_text(text)
    _names(_expect(UnsupportedFormatError, rec, why), rec)


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        (f"rec 2 100 {N}", f"rec two 100 {N}", "number of signals"),
        (f"rec 2 100 {N}", "rec 2 100 12a", "number of samples"),
        ("rec.dat 212 200(0)/mV", "rec.dat 212q 200(0)/mV", "format field"),
        ("rec.dat 212 200(0)/mV", "rec.dat 212 abc/mV", "gain field"),
        ("rec.dat 212 200(0)/mV", "rec.dat 212 200(x)/mV", "gain field"),
        ("200(0)/mV 12 0", "200(0)/mV twelve 0", "ADC resolution"),
        ("200(0)/mV 12 0 0", "200(0)/mV 12 0 z", "initial value"),
        ("200(0)/mV 12 0", "200(0)/mV 12 99999999999", "ADC zero"),
        (f"rec 2 100 {N}", f"rec 2 100 {N} 25:61:00", "base time"),
        (f"rec 2 100 {N}", f"rec 2 100 {N} 10:00:00 31/02/2020", "base date"),
        (f"rec 2 100 {N}", f"rec 2 100 {N} 10:00:00 yesterday", "base date"),
        (f"rec 2 100 {N}", f"rec 2 100 {N} 10:00:00 01/01/2000 extra", "at most 6"),
        (f"rec 2 100 {N}", f"r$c 2 100 {N}", "record name"),
        (f"rec 2 100 {N}", f"rec 2 100 {N} 10:00:00 11:00:00", "two base times"),
        (f"rec 2 100 {N}", f"rec 2 100 {N} 01/01/2000 2000-01-01", "two base dates"),
        ("rec.dat 212 ", "rec.dat 212:x ", "format field"),
    ],
)
def test_non_numeric_or_malformed_header_fields(rec: Path, old: str, new: str, what: str) -> None:
    rec.write_text(rec.read_text().replace(old, new))
    _names(_expect(CorruptRecordingError, rec, what), rec)


def test_data_file_outside_the_record_folder_is_refused(rec: Path) -> None:
    rec.write_text(rec.read_text().replace("rec.dat ", "../rec.dat "))
    _names(_expect(CorruptRecordingError, rec, "plain file name"), rec)


def test_signals_of_one_file_in_different_formats(rec: Path) -> None:
    lines = rec.read_text().splitlines()
    lines[2] = lines[2].replace("rec.dat 212 ", "rec.dat 16 ")
    rec.write_text("\n".join(lines) + "\n")
    _names(_expect(CorruptRecordingError, rec, "different storage formats"), rec)


def test_signals_of_one_file_not_listed_together(tmp_path: Path) -> None:
    (tmp_path / "a.dat").write_bytes(b"\0" * 40)
    (tmp_path / "b.dat").write_bytes(b"\0" * 40)
    hea = tmp_path / "x.hea"
    hea.write_text("x 3 100 10\na.dat 16\nb.dat 16\na.dat 16\n")
    _names(_expect(CorruptRecordingError, hea, "consecutively"), hea)


def test_binary_header(rec: Path) -> None:
    rec.write_bytes(b"rec 2 100\x00\x01\x02" * 10)
    _names(_expect(CorruptRecordingError, rec, "NUL"), rec)


def test_oversized_header(rec: Path) -> None:
    rec.write_bytes(b"# x\n" * (1024 * 1024 + 1))
    _names(_expect(CorruptRecordingError, rec, "larger than"), rec)


def test_header_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "dir.hea").mkdir()
    _names(_expect(UnreadablePathError, tmp_path / "dir.hea", "folder"), tmp_path / "dir.hea")


def test_header_that_is_a_folder_through_open_wfdb_directly(tmp_path: Path) -> None:
    (tmp_path / "dir.hea").mkdir()
    with pytest.raises(UnreadablePathError) as info:
        open_wfdb(tmp_path / "dir.hea")
    _names(info, tmp_path / "dir.hea")


def test_dat_that_is_a_folder(rec: Path) -> None:
    dat = rec.with_suffix(".dat")
    dat.unlink()
    dat.mkdir()
    _names(_expect(UnreadablePathError, rec, "folder"), dat)


def test_unreadable_header(rec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open

    def deny(self: Path, *args: object, **kwargs: object) -> object:
        if self == rec:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", deny)
    with pytest.raises(UnreadablePathError, match="Permission denied") as info:
        open_wfdb(rec)
    _names(info, rec)


def test_unreadable_dat(rec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A permission error raised on opening the data file: chmod 0 would not stop root (CI).
    dat = rec.with_suffix(".dat")
    real_open = Path.open

    def deny(self: Path, *args: object, **kwargs: object) -> object:
        if self == dat:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", deny)
    info = _expect(UnreadablePathError, rec, "Permission denied")
    _names(info, dat)


def test_dat_truncated_after_opening(rec: Path) -> None:
    r = open_recording(rec)
    dat = rec.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:30])
    with pytest.raises(CorruptRecordingError, match="ended early") as info:
        r.read(0, 50, 100)
    _names(info, dat)


def test_garbage_annotation_file(rec: Path) -> None:
    atr = rec.with_suffix(".atr")
    atr.write_bytes(bytes(range(256)) * 3 + b"\xff")
    r = open_recording(rec)
    assert atr in r.source_files
    with pytest.raises(CorruptRecordingError) as info:
        r.annotations()
    _names(info, atr)


def test_empty_annotation_file(rec: Path) -> None:
    atr = rec.with_suffix(".atr")
    atr.write_bytes(b"")
    with pytest.raises(CorruptRecordingError, match="empty") as info:
        open_recording(rec).annotations()
    _names(info, atr)


def test_reads_outside_the_record_are_typed_errors(rec: Path) -> None:
    r = open_recording(rec)
    from signal_io.errors import ChannelNotFoundError, SampleRangeError

    with pytest.raises(SampleRangeError):
        r.read(0, 0, N + 1)
    with pytest.raises(SampleRangeError):
        r.read(0, 5, 4)
    with pytest.raises(ChannelNotFoundError):
        r.read("V6")
