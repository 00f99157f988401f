"""WFDB reader: storage formats, lazy ranges, .mat records, headers, annotations."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import wfdb
from numpy.typing import NDArray

import signal_io._wfdb as wfdb_mod
from signal_io import ChannelKind, open_recording
from signal_io._wfdb import WfdbRecording, decode_samples, open_wfdb
from signal_io._wfdb_annotations import read_annotation_file
from signal_io.errors import UnsupportedFormatError
from tests.conftest import need_shared


def encode_samples(fmt: int, d: NDArray[np.integer]) -> bytes:
    """Plain-Python reference encoder for WFDB storage formats (independent of the reader)."""
    vals = [int(v) for v in np.asarray(d).reshape(-1)]
    out = bytearray()
    if fmt == 212:
        for i in range(0, len(vals), 2):
            a = vals[i] & 0xFFF
            b = vals[i + 1] & 0xFFF if i + 1 < len(vals) else 0
            out += bytes([a & 0xFF, ((a >> 8) & 0x0F) | ((b >> 4) & 0xF0), b & 0xFF])
        if len(vals) % 2:
            out = out[:-1]
        return bytes(out)
    for v in vals:
        if fmt == 16:
            out += v.to_bytes(2, "little", signed=True)
        elif fmt == 61:
            out += v.to_bytes(2, "big", signed=True)
        elif fmt == 160:
            out += (v + 32768).to_bytes(2, "little")
        elif fmt == 24:
            out += v.to_bytes(3, "little", signed=True)
        elif fmt == 32:
            out += v.to_bytes(4, "little", signed=True)
        elif fmt == 80:
            out += (v + 128).to_bytes(1, "little")
        else:
            raise ValueError(fmt)
    return bytes(out)


def write_record(
    folder: Path,
    name: str,
    digital: NDArray[np.integer],
    fmt: int,
    *,
    fs: float = 100.0,
    gains: Sequence[float] | None = None,
    baselines: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    record_extra: str = "",
    comments: Sequence[str] = (),
    byte_offset: int = 0,
) -> Path:
    """Write a one-file WFDB record from a ``(n_samples, n_signals)`` digital array."""
    d = np.asarray(digital)
    n, nsig = d.shape
    gains = gains or [200.0] * nsig
    baselines = baselines or [0] * nsig
    names = names or [f"s{i}" for i in range(nsig)]
    units = units or ["mV"] * nsig
    off = f"+{byte_offset}" if byte_offset else ""
    lines = [f"{name} {nsig} {fs:g} {n}{record_extra}"]
    for i in range(nsig):
        lines.append(f"{name}.dat {fmt}{off} {gains[i]:g}({baselines[i]})/{units[i]} 12 0 0 0 0 "
                     f"{names[i]}")
    lines += [f"# {c}" for c in comments]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    (folder / f"{name}.dat").write_bytes(b"\xab" * byte_offset + encode_samples(fmt, d))
    return folder / f"{name}.hea"


def _digital(rng: np.random.Generator, n: int, nsig: int, fmt: int) -> NDArray[np.int64]:
    bits = {212: 12, 16: 16, 61: 16, 160: 16, 24: 24, 32: 32, 80: 8}[fmt]
    lo, hi = -(2 ** (bits - 1)) + 1, 2 ** (bits - 1) - 1
    d = rng.integers(lo, hi + 1, size=(n, nsig))
    d[0] = lo  # extremes, to catch sign-extension mistakes
    d[1] = hi
    return d


# --- decoding of every storage format ---------------------------------------------------------


@pytest.mark.parametrize("fmt", [16, 24, 32, 61, 80, 160, 212])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 100])
def test_decode_samples_matches_reference_encoder(fmt: int, n: int) -> None:
    rng = np.random.default_rng(fmt * 1000 + n)
    d = _digital(rng, max(n, 2), 1, fmt)[:n, 0]
    assert np.array_equal(decode_samples(fmt, encode_samples(fmt, d), n), d)


@pytest.mark.parametrize("fmt", ["16", "24", "32", "80", "212"])
def test_records_written_by_wfdb_wrsamp_read_back_their_digital_values(
    tmp_path: Path, fmt: str
) -> None:
    rng = np.random.default_rng(7)
    bits = {"16": 16, "24": 24, "32": 32, "80": 8, "212": 12}[fmt]
    d = rng.integers(-(2 ** (bits - 1)) + 1, 2 ** (bits - 1), size=(1001, 3)).astype(np.int32)
    wfdb.wrsamp("rec", fs=250, units=["mV", "uV", "mmHg"], sig_name=["MLII", "EEG C3", "ABP"],
                d_signal=d, fmt=[fmt] * 3, adc_gain=[200.0, 10.0, 1.5], baseline=[0, 5, -3],
                write_dir=str(tmp_path))
    rec = open_recording(tmp_path / "rec.hea")
    assert isinstance(rec, WfdbRecording)
    assert [c.name for c in rec.channels] == ["MLII", "EEG C3", "ABP"]
    assert [c.unit for c in rec.channels] == ["mV", "uV", "mmHg"]
    assert [c.kind for c in rec.channels] == [ChannelKind.ECG, ChannelKind.EEG, ChannelKind.OTHER]
    for i, (gain, base) in enumerate([(200.0, 0), (10.0, 5), (1.5, -3)]):
        assert np.array_equal(rec.read_digital(i), d[:, i])
        x = rec.read(i)
        assert x.dtype == np.float32
        np.testing.assert_allclose(x, ((d[:, i] - base) / gain).astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("fmt", [16, 24, 32, 61, 80, 160, 212])
def test_every_range_of_an_interleaved_record_equals_the_written_samples(
    tmp_path: Path, fmt: int
) -> None:
    rng = np.random.default_rng(fmt)
    d = _digital(rng, 37, 3, fmt)
    rec = open_wfdb(write_record(tmp_path, "r", d, fmt, byte_offset=5))
    for ch in range(3):
        for start in range(0, 37, 3):
            for stop in (start, start + 1, start + 2, 37):
                if stop <= 37:
                    assert np.array_equal(rec.read_digital(ch, start, stop), d[start:stop, ch])


@pytest.mark.shared_data
def test_format_212_odd_starts_match_wfdb_on_mitdb() -> None:
    hea = need_shared("mitdb", "201.hea")
    rec = open_recording(hea)
    for start in (1, 3, 359, 12345, 649_997):
        stop = min(start + 501, 650_000)
        ref = wfdb.rdrecord(str(hea.with_suffix("")), sampfrom=start, sampto=stop,
                            physical=False)
        for ch in range(2):
            got = rec.read_digital(ch, start, stop)  # type: ignore[attr-defined]
            assert np.array_equal(got, ref.d_signal[:, ch]), (start, ch)


def test_format_212_single_odd_sample_at_the_end_of_an_odd_length_file(tmp_path: Path) -> None:
    d = np.array([[5], [-2048 + 1], [2047]])
    rec = open_wfdb(write_record(tmp_path, "odd", d, 212))
    assert (tmp_path / "odd.dat").stat().st_size == 5  # 3 bytes for the pair + 2 for the last
    assert np.array_equal(rec.read_digital(0, 2, 3), [2047])
    assert np.array_equal(rec.read_digital(0), d[:, 0])


def test_reads_crossing_chunk_boundaries_equal_a_single_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _digital(np.random.default_rng(3), 1000, 2, 212)
    hea = write_record(tmp_path, "c", d, 212)
    whole = open_wfdb(hea).read(1)
    monkeypatch.setattr(wfdb_mod, "CHUNK_SAMPLES", 7)
    rec = open_wfdb(hea)
    assert np.array_equal(rec.read(1), whole)
    assert np.array_equal(rec.read(1, 13, 611), whole[13:611])


@pytest.mark.parametrize(("fmt", "invalid"), [(16, -32768), (212, -2048), (24, -(2**23)),
                                              (32, -(2**31)), (80, -128), (61, -32768),
                                              (160, -32768)])
def test_invalid_sample_value_reads_as_nan(tmp_path: Path, fmt: int, invalid: int) -> None:
    d = np.array([[10], [invalid], [20], [invalid]])
    rec = open_wfdb(write_record(tmp_path, "nan", d, fmt, gains=[10.0], baselines=[0]))
    x = rec.read(0)
    assert np.isnan(x[[1, 3]]).all()
    np.testing.assert_allclose(x[[0, 2]], [1.0, 2.0])


def test_samples_per_frame_and_skew_and_several_data_files(tmp_path: Path) -> None:
    # file a.dat: signal 0 at 2 samples per frame, signal 1 at 1; file b.dat: signal 2 skewed
    n_frames = 50
    s0 = np.arange(2 * n_frames) - 40
    s1 = np.arange(n_frames) * 3
    frames = np.concatenate([s0.reshape(n_frames, 2), s1[:, None]], axis=1)
    (tmp_path / "a.dat").write_bytes(encode_samples(16, frames))
    s2 = np.arange(n_frames) + 1000
    (tmp_path / "b.dat").write_bytes(encode_samples(212, s2))
    (tmp_path / "m.hea").write_text(
        f"m 3 10 {n_frames}\n"
        "a.dat 16x2 100 16 0 0 0 0 fast\n"
        "a.dat 16 100 16 0 0 0 0 slow\n"
        "b.dat 212:2 100(1000) 12 0 0 0 0 skewed\n"
    )
    rec = open_wfdb(tmp_path / "m.hea")
    assert [c.fs for c in rec.channels] == [20.0, 10.0, 10.0]
    assert [c.n_samples for c in rec.channels] == [100, 50, 50]
    assert np.array_equal(rec.read_digital(0), s0)
    assert np.array_equal(rec.read_digital(0, 3, 8), s0[3:8])
    assert np.array_equal(rec.read_digital(1, 7, 9), s1[7:9])
    skewed = rec.read(2)  # sample i comes from frame i + 2; the last two fall off the file
    np.testing.assert_allclose(skewed[:-2], (s2[2:] - 1000) / 100)
    assert np.isnan(skewed[-2:]).all()
    assert rec.source_files == [tmp_path / "m.hea", tmp_path / "a.dat", tmp_path / "b.dat"]


def test_sample_count_absent_from_header_is_taken_from_the_file_size(tmp_path: Path) -> None:
    d = _digital(np.random.default_rng(1), 21, 2, 212)
    hea = write_record(tmp_path, "ns", d, 212)
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join(["ns 2 100", *lines[1:]]) + "\n")
    rec = open_wfdb(hea)
    assert rec.channels[0].n_samples == 21
    assert np.array_equal(rec.read_digital(1), d[:, 1])


def test_units_default_to_millivolts_and_gain_to_200(tmp_path: Path) -> None:
    (tmp_path / "u.dat").write_bytes(encode_samples(16, np.array([400, -200])))
    (tmp_path / "u.hea").write_text("u 1 100 2\nu.dat 16\n")
    rec = open_wfdb(tmp_path / "u.hea")
    assert rec.channels[0].unit == "mV"
    assert rec.channels[0].name == "record u, signal 0"
    np.testing.assert_allclose(rec.read(0), [2.0, -1.0])


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (" 10:20:30 25/12/2001", datetime(2001, 12, 25, 10, 20, 30)),
        (" 10:20:30.250 25/12/2001", datetime(2001, 12, 25, 10, 20, 30, 250_000)),
        (" 2014-04-15 12:04:05", datetime(2014, 4, 15, 12, 4, 5)),
        (" 12:04:05 2014-04-15", datetime(2014, 4, 15, 12, 4, 5)),
        (" 25/12/2001", datetime(2001, 12, 25)),
        (" 10:20:30", None),
        ("", None),
    ],
)
def test_start_time_from_base_time_and_date_in_both_date_forms(
    tmp_path: Path, extra: str, expected: datetime | None
) -> None:
    hea = write_record(tmp_path, "t", np.zeros((4, 1), int), 16, record_extra=extra)
    assert open_wfdb(hea).start_time == expected


@pytest.mark.shared_data
def test_cinc2017_iso_date_header_that_wfdb_rejects_is_read() -> None:
    hea = need_shared("cinc2017-af", "validation", "A00003.hea")
    with pytest.raises(ValueError):  # the reference itself refuses it
        wfdb.rdheader(str(hea.with_suffix("")))
    rec = open_recording(hea)
    assert rec.start_time == datetime(2014, 4, 15, 12, 4, 5)
    assert rec.channels[0].fs == 300.0 and rec.channels[0].unit == "mV"
    val = scipy.io.loadmat(str(hea.with_suffix(".mat")))["val"][0]
    np.testing.assert_allclose(rec.read(0), val / 1000.0, rtol=1e-6)
    assert rec.source_files == [hea, hea.with_suffix(".mat")]


@pytest.mark.shared_data
def test_mat_record_with_16_and_24_byte_offset_matches_wfdb() -> None:
    hea = need_shared("misc-wfdb", "a103l.hea")
    rec = open_recording(hea)
    ref = wfdb.rdrecord(str(hea.with_suffix("")))
    assert [c.name for c in rec.channels] == ["II", "V", "PLETH"]
    assert [c.unit for c in rec.channels] == ["mV", "mV", "NU"]
    assert [c.kind for c in rec.channels][:2] == [ChannelKind.ECG, ChannelKind.ECG]
    for i in range(3):
        np.testing.assert_allclose(rec.read(i, 1001, 5003), ref.p_signal[1001:5003, i],
                                   rtol=1e-6, atol=1e-7)
    assert rec.header.comments == ["Asystole", "False alarm"]


@pytest.mark.shared_data
def test_mat_file_whose_data_start_disagrees_with_the_header_is_corrupt(tmp_path: Path) -> None:
    hea = need_shared("misc-wfdb", "a103l.hea")
    shutil.copy(hea.with_suffix(".mat"), tmp_path / "a103l.mat")
    (tmp_path / "a103l.hea").write_text(hea.read_text().replace("16+24", "16+26"))
    from signal_io.errors import CorruptRecordingError

    with pytest.raises(CorruptRecordingError, match=r"a103l\.mat"):
        open_recording(tmp_path / "a103l.hea")


@pytest.mark.shared_data
def test_ptb_record_with_two_data_files_exposes_leads_and_comments() -> None:
    hea = need_shared("misc-wfdb", "s0010_re.hea")
    rec = open_recording(hea)
    assert len(rec.channels) == 15
    assert all(c.kind == ChannelKind.ECG for c in rec.channels)
    assert rec.source_files[1:] == [hea.with_suffix(".dat"), hea.with_suffix(".xyz")]
    assert "age: 81" in rec.header.comments and "sex: female" in rec.header.comments
    assert "Reason for admission: Myocardial infarction" in rec.header.comments


@pytest.mark.shared_data
def test_mitdb_header_exposes_age_sex_comment_and_lead_kinds() -> None:
    rec = open_recording(need_shared("mitdb", "101.hea"))
    assert rec.header.comments[0].split()[:2] == ["75", "F"]
    assert [(c.name, c.kind) for c in rec.channels] == [("MLII", ChannelKind.ECG),
                                                         ("V1", ChannelKind.ECG)]
    assert rec.start_time is None


def test_multi_segment_record_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "ms.hea").write_text("ms/2 1 360 200\nseg1 100\nseg2 100\n")
    with pytest.raises(UnsupportedFormatError, match="multi-segment") as err:
        open_recording(tmp_path / "ms.hea")
    assert err.value.path == tmp_path / "ms.hea"


# --- annotations ------------------------------------------------------------------------------


def _rhythm_changes(hea: Path) -> list[tuple[float, str]]:
    ann = wfdb.rdann(str(hea.with_suffix("")), "atr")
    return [(s / 360.0, a.strip("\x00")[1:]) for s, sym, a in
            zip(ann.sample, ann.symbol, ann.aux_note, strict=True)
            if sym == "+" and a.startswith("(")]


@pytest.mark.shared_data
def test_mitdb_201_afib_episodes_tile_the_record_from_rhythm_changes() -> None:
    hea = need_shared("mitdb", "201.hea")
    rec = open_recording(hea)
    rhythms = [a for a in rec.annotations() if a.kind == "rhythm"]
    changes = _rhythm_changes(hea)
    assert [a.label for a in rhythms] == [lab for _, lab in changes]
    assert [a.onset_s for a in rhythms] == pytest.approx([t for t, _ in changes])
    afib = [a for a in rhythms if a.label == "AFIB"]
    assert len(afib) == 3
    for a, b in itertools.pairwise(rhythms):
        assert a.onset_s + a.duration_s == pytest.approx(b.onset_s)
    assert rhythms[-1].onset_s + rhythms[-1].duration_s == pytest.approx(650_000 / 360)
    expected_afib_s = sum(
        (changes[i + 1][0] if i + 1 < len(changes) else 650_000 / 360) - t
        for i, (t, lab) in enumerate(changes) if lab == "AFIB"
    )
    assert sum(a.duration_s for a in afib) == pytest.approx(expected_afib_s)
    assert all(a.source == "atr" and a.channel is None for a in rhythms)


@pytest.mark.shared_data
def test_mitdb_203_rhythms_beats_and_text_marks() -> None:
    hea = need_shared("mitdb", "203.hea")
    anns = open_recording(hea).annotations()
    labels = {a.label for a in anns if a.kind == "rhythm"}
    assert labels == {"AFIB", "VT", "AFL", "T"}
    beats = [a for a in anns if a.kind == "beat"]
    ref = wfdb.rdann(str(hea.with_suffix("")), "atr")
    assert len(beats) == sum(s in "NLRBAaJSVrFejnE/fQ?" for s in ref.symbol)
    assert sum(a.label == "V" for a in beats) == 444
    assert {a.label for a in anns if a.kind == "text"} >= {"~", "|"}
    assert [a.onset_s for a in anns] == sorted(a.onset_s for a in anns)


@pytest.mark.shared_data
def test_chbmit_seizures_file_gives_onset_offset_episodes() -> None:
    f = need_shared("chbmit", "annotations-only", "chb06_04.edf.seizures")
    anns = read_annotation_file(f, 256.0, [], None)
    assert [(a.kind, a.onset_s, a.duration_s) for a in anns] == [
        ("seizure", 83712 / 256, 5120 / 256), ("seizure", 1590016 / 256, 5120 / 256)]


@pytest.mark.shared_data
def test_seizures_file_next_to_a_header_is_read_with_the_record(tmp_path: Path) -> None:
    f = need_shared("chbmit", "annotations-only", "chb06_04.edf.seizures")
    hea = write_record(tmp_path, "chb", np.zeros((1_600_000, 1), int), 80, fs=256)
    shutil.copy(f, tmp_path / "chb.seizures")
    rec = open_recording(hea)
    assert rec.source_files[-1] == tmp_path / "chb.seizures"
    seizures = [a for a in rec.annotations() if a.kind == "seizure"]
    assert [round(a.onset_s) for a in seizures] == [327, 6211]
    assert all(a.source == "seizures" and a.label == "seizure" for a in seizures)


def test_annotation_channel_is_named_only_when_the_file_targets_channels(tmp_path: Path) -> None:
    hea = write_record(tmp_path, "ch", np.zeros((1000, 2), int), 16, names=["MLII", "V5"])
    wfdb.wrann("ch", "atr", np.array([10, 20, 30]), symbol=["N", "V", "+"],
               chan=np.array([0, 1, 1]), aux_note=["", "", "(VT"], write_dir=str(tmp_path))
    wfdb.wrann("ch", "qrs", np.array([11, 21]), symbol=["N", "N"], write_dir=str(tmp_path))
    rec = open_recording(hea)
    anns = rec.annotations()
    by_source = {(a.source, a.label): a for a in anns}
    assert by_source[("atr", "N")].channel == "MLII"
    assert by_source[("atr", "V")].channel == "V5"
    assert by_source[("atr", "VT")].kind == "rhythm"
    assert by_source[("atr", "VT")].duration_s == pytest.approx((1000 - 30) / 100)
    assert all(a.channel is None for a in anns if a.source == "qrs")
    assert rec.source_files[-2:] == [tmp_path / "ch.atr", tmp_path / "ch.qrs"]


# --- laziness ---------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_opening_reads_no_samples_and_a_window_reads_only_its_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hea = need_shared("mitdb", "201.hea")
    calls: list[tuple[int, int]] = []
    real = WfdbRecording._read_file_samples

    def spy(self: WfdbRecording, f: object, s0: int, s1: int) -> NDArray[np.int32]:
        calls.append((s0, s1))
        return real(self, f, s0, s1)  # type: ignore[arg-type]

    monkeypatch.setattr(WfdbRecording, "_read_file_samples", spy)
    rec = open_recording(hea)
    assert calls == []
    x = rec.read(1, 1001, 1011)
    assert calls == [(2002, 2022)]  # 10 frames of 2 interleaved signals, nothing else
    ref = wfdb.rdrecord(str(hea.with_suffix("")), sampfrom=1001, sampto=1011, channels=[1])
    np.testing.assert_allclose(x, ref.p_signal[:, 0], rtol=1e-6)
