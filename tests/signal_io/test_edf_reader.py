"""EDF/EDF+/BDF/BDF+ reader against MNE on real files, plus EDF+D on synthetic files.

MNE resamples every channel to the highest rate of the file. Where the highest rate is a whole
multiple ``m`` of a channel's rate MNE repeats each sample ``m`` times, so ``mne[::m]`` equals
the native samples; channels with a non-integer ratio (``mne-python_test_uneven_samp.edf``) are
compared on length and rate only. MNE returns volts for ``uV``/``µV``/``mV`` channels; values
are converted back to the file's unit before comparing.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import mne
import numpy as np
import pytest

from signal_io import ChannelKind, CorruptRecordingError, Segment, open_recording
from signal_io._edf import EdfRecording, open_edf
from tests.conftest import need_shared

FILES = [
    ("misc-edf", "MB0400FU.EDF"),
    ("misc-edf", "chtypes_edf.edf"),
    ("misc-edf", "mne-python_test.bdf"),
    ("misc-edf", "mne-python_test_uneven_samp.edf"),
    ("misc-edf", "multiple_annotation_chans.bdf"),
    ("misc-edf", "subsecond_starttime.edf"),
    ("misc-edf", "test_bdf_stim_channel.bdf"),
    ("misc-edf", "test_edf_overlapping_annotations.edf"),
    ("misc-edf", "test_reduced.edf"),
    ("misc-edf", "test_utf8_annotations.edf"),
    ("dreams-spindles", "excerpt3.edf"),
]
ANNOTATION_ONLY = [
    ("sleep-edf", "SC4001EC-Hypnogram.edf"),
    ("hmc-sleep", "test_edfann.edf"),
]
_IDS = [f[1] for f in FILES]
_ALL_IDS = _IDS + [f[1] for f in ANNOTATION_ONLY]


def _mne_raw(path: Path) -> mne.io.BaseRaw:
    reader = mne.io.read_raw_bdf if path.suffix.lower() == ".bdf" else mne.io.read_raw_edf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MNE warns about channel types, highpass, ...
        return reader(path, preload=True, stim_channel=None, infer_types=False, verbose="error")


def _mne_scale(unit: str) -> float:
    """MNE's unit factor to volts (``mne.io.edf.edf._read_edf_header``)."""
    if unit in ("\u03bcV", "\u00b5V", "uV"):
        return 1e-6
    return 1e-3 if unit == "mV" else 1.0


def _mne_annotations(path: Path, tmp_path: Path) -> mne.Annotations:
    # MNE chooses the parser by a lower-case suffix; link upper-case names (MB0400FU.EDF).
    link = tmp_path / (path.stem + path.suffix.lower())
    link.symlink_to(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mne.read_annotations(link)


@pytest.mark.parametrize("parts", FILES, ids=_IDS)
@pytest.mark.shared_data
def test_physical_values_equal_mne(parts: tuple[str, str]) -> None:
    path = need_shared(*parts)
    raw = _mne_raw(path)
    rec = open_edf(path)
    assert len(rec.channels) == len(raw.ch_names)
    max_fs = max(c.fs for c in rec.channels)
    assert max_fs == pytest.approx(raw.info["sfreq"])
    compared = 0
    for ch in rec.channels:
        ratio = max_fs / ch.fs
        if abs(ratio - round(ratio)) > 1e-9:
            continue  # MNE interpolates non-integer rate ratios; see module docstring
        m = round(ratio)
        # MNE scales by the unit as written (case-sensitive), then renames units in
        # _orig_units ("UV" -> "µV"), so the factor comes from our (raw) unit.
        expected = raw.get_data(picks=[ch.index])[0][::m] / _mne_scale(ch.unit)
        got = rec.read(ch.index)
        assert got.dtype == np.float32
        assert got.shape == expected.shape
        tol = 2e-7 * max(1.0, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=tol, err_msg=ch.name)
        compared += 1
    assert compared >= 1


@pytest.mark.parametrize("parts", FILES, ids=_IDS)
@pytest.mark.shared_data
def test_channel_names_units_rates_match_mne(parts: tuple[str, str]) -> None:
    path = need_shared(*parts)
    raw = _mne_raw(path)
    rec = open_edf(path)
    # MNE makes duplicate names unique by suffixing; ours keep the label as written.
    for ch, mne_name in zip(rec.channels, raw.ch_names, strict=True):
        assert mne_name == ch.name or mne_name.startswith(ch.name + "-")
    # MNE rewrites units ("UV" -> "µV", "%" -> "n/a"); check ours against the raw header bytes.
    head = path.read_bytes()[:256 * 1024]
    ns = int(head[252:256])
    units = [head[256 + ns * 96 + 8 * i:256 + ns * 96 + 8 * (i + 1)].decode("latin-1").strip()
             for i in range(ns)]
    labels = [head[256 + 16 * i:256 + 16 * (i + 1)].decode("latin-1").strip() for i in range(ns)]
    signal_units = [u for u, lab in zip(units, labels, strict=True)
                    if lab not in ("EDF Annotations", "BDF Annotations")]
    assert [c.unit for c in rec.channels] == signal_units
    max_fs = max(c.fs for c in rec.channels)
    for ch in rec.channels:
        assert ch.n_samples == pytest.approx(raw.n_times * ch.fs / max_fs, abs=1)
    assert rec.start_time is not None
    assert raw.info["meas_date"].replace(tzinfo=None) == rec.start_time.replace(microsecond=0)


@pytest.mark.parametrize("parts", FILES + ANNOTATION_ONLY, ids=_ALL_IDS)
@pytest.mark.shared_data
def test_annotations_equal_mne_read_annotations(parts: tuple[str, str], tmp_path: Path) -> None:
    path = need_shared(*parts)
    expected = _mne_annotations(path, tmp_path)
    got = open_edf(path).annotations()
    assert len(got) == len(expected)
    # Both are sorted by onset; ties keep file order in both.
    np.testing.assert_allclose([a.onset_s for a in got], expected.onset, atol=1e-6)
    np.testing.assert_allclose([a.duration_s for a in got], expected.duration, atol=1e-6)
    assert [a.label for a in got] == list(expected.description)
    assert all(a.source == "edf+" for a in got)


@pytest.mark.parametrize("parts", FILES, ids=_IDS)
@pytest.mark.shared_data
def test_lazy_range_equals_slice_of_full_read(parts: tuple[str, str]) -> None:
    path = need_shared(*parts)
    rec = open_edf(path)
    rng = np.random.default_rng(7)
    for ch in rec.channels[:: max(1, len(rec.channels) // 6)]:
        full = rec.read(ch.index)
        bounds = [(0, 0), (0, 1), (ch.n_samples - 1, ch.n_samples), (0, ch.n_samples)]
        for _ in range(8):
            a, b = sorted(int(v) for v in rng.integers(0, ch.n_samples + 1, size=2))
            bounds.append((a, b))
        for a, b in bounds:
            np.testing.assert_array_equal(rec.read(ch.index, a, b), full[a:b])


@pytest.mark.shared_data
def test_annotation_only_files_have_no_signal_channels() -> None:
    rec = open_edf(need_shared("sleep-edf", "SC4001EC-Hypnogram.edf"))
    assert rec.channels == []
    assert rec.format == "edf+c"
    assert rec.segments == []
    stages = [a for a in rec.annotations() if a.kind == "stage"]
    assert len(stages) == len(rec.annotations()) == 154
    assert stages[0].label == "Sleep stage W"


@pytest.mark.shared_data
def test_hmc_annotation_file_stages_and_start() -> None:
    rec = open_edf(need_shared("hmc-sleep", "test_edfann.edf"))
    anns = rec.annotations()
    assert len(anns) == 856
    assert rec.start_time == datetime(2001, 1, 1, 23, 59, 30)
    assert {a.kind for a in anns} >= {"stage"}


@pytest.mark.shared_data
def test_formats_are_reported_per_file() -> None:
    expect = {
        "MB0400FU.EDF": "edf+d", "chtypes_edf.edf": "edf+c", "mne-python_test.bdf": "bdf",
        "mne-python_test_uneven_samp.edf": "edf", "multiple_annotation_chans.bdf": "bdf+",
        "excerpt3.edf": "edf",
    }
    for parts in FILES:
        if parts[1] in expect:
            assert open_recording(need_shared(*parts)).format == expect[parts[1]]


@pytest.mark.shared_data
def test_subsecond_start_time_comes_from_first_tal() -> None:
    rec = open_edf(need_shared("misc-edf", "subsecond_starttime.edf"))
    # Header says 04.05.56; the first record's time-keeping TAL says +0.3945312.
    assert rec.start_time == datetime(2020, 1, 24, 4, 5, 56, 394531)


@pytest.mark.shared_data
def test_multiple_annotation_channels_are_merged() -> None:
    rec = open_edf(need_shared("misc-edf", "multiple_annotation_chans.bdf"))
    assert rec._hdr.annotation_indices and len(rec._hdr.annotation_indices) > 1
    assert len(rec.annotations()) == 10
    assert all(not c.name.endswith("Annotations") for c in rec.channels)


@pytest.mark.shared_data
def test_utf8_annotation_text_decoded() -> None:
    rec = open_edf(need_shared("misc-edf", "test_utf8_annotations.edf"))
    assert "仰卧" in [a.label for a in rec.annotations()]


@pytest.mark.shared_data
def test_edfd_vendor_file_is_one_contiguous_segment() -> None:
    rec = open_edf(need_shared("misc-edf", "MB0400FU.EDF"))
    assert rec.segments == [Segment(0.0, 29.0)]
    assert not np.isnan(rec.read(0)).any()


@pytest.mark.shared_data
def test_edf_plus_type_prefix_guides_channel_kind() -> None:
    rec = open_edf(need_shared("misc-edf", "chtypes_edf.edf"))
    kinds = {c.name: c.kind for c in rec.channels}
    assert kinds["EEG Fp1-Ref"] is ChannelKind.EEG
    assert any(k is not ChannelKind.EEG for k in kinds.values())


# --------------------------------------------------------------------------- synthetic EDF+D

def _write_edfd(path: Path, onsets_s: list[float], fs: tuple[int, int],
                extra: dict[int, bytes] | None = None, bdf: bool = False) -> list[np.ndarray]:
    """Write an EDF+D (BDF+D) file by hand (independent of the writer) with 1-s records.

    Returns the digital values of each signal, one array of shape (n_records, fs) each.
    """
    n_rec = len(onsets_s)
    bps = 3 if bdf else 2
    ann_bytes = 60
    rng = np.random.default_rng(1)
    big = 5_000_000 if bdf else 30_000
    digital = [rng.integers(-big, big, size=(n_rec, f)) for f in fs]
    labels = ["EEG A", "EEG B", "BDF Annotations" if bdf else "EDF Annotations"]
    spr = [*fs, ann_bytes // bps]
    ns = 3
    dmin, dmax = ("-8388608", "8388607") if bdf else ("-32768", "32767")

    def samples(values: np.ndarray) -> bytes:
        raw = values.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :bps]
        return raw.tobytes()

    def field(values: list[str], width: int) -> bytes:
        return b"".join(v.ljust(width).encode() for v in values)

    head = ((b"\xffBIOSEMI" if bdf else b"0       ") + b"X X X X".ljust(80)
            + b"Startdate 01-JAN-2020 X X X".ljust(80)
            + b"01.01.2012.00.00" + str(256 * (ns + 1)).ljust(8).encode()
            + (b"BDF+D" if bdf else b"EDF+D").ljust(44) + str(n_rec).ljust(8).encode() + b"1       "
            + str(ns).ljust(4).encode())
    head += field(labels, 16) + field(["", "", ""], 80) + field(["uV", "uV", ""], 8)
    head += field(["-100", "-100", "-1"], 8) + field(["100", "100", "1"], 8)
    head += field([dmin] * 3, 8) + field([dmax] * 3, 8) + field(["", "", ""], 80)
    head += field([str(s) for s in spr], 8) + field(["", "", ""], 32)
    body = b""
    for r, onset in enumerate(onsets_s):
        tal = f"+{onset:g}\x14\x14\x00".encode() + (extra or {}).get(r, b"")
        body += samples(digital[0][r]) + samples(digital[1][r]) + tal.ljust(ann_bytes, b"\0")
    path.write_bytes(head + body)
    return digital


def test_edfd_gaps_read_as_nan_on_uniform_grid(tmp_path: Path) -> None:
    path = tmp_path / "d.edf"
    dig = _write_edfd(path, [0, 1, 2, 5, 6, 7.5], (4, 10),
                      extra={3: b"+5.5\x151\x14Arousal\x14\x00"})
    rec = open_edf(path)
    assert isinstance(rec, EdfRecording)
    assert rec.format == "edf+d"
    assert rec.segments == [Segment(0.0, 3.0), Segment(5.0, 2.0), Segment(7.5, 1.0)]
    a, b = rec.channels
    assert (a.n_samples, b.n_samples) == (34, 85)
    gain = 200 / 65535
    x = rec.read(1)
    phys = (dig[1].astype(float) + 32768) * gain - 100
    np.testing.assert_allclose(x[0:30], phys[0:3].ravel(), rtol=1e-6)
    assert np.isnan(x[30:50]).all()
    np.testing.assert_allclose(x[50:70], phys[3:5].ravel(), rtol=1e-6)
    assert np.isnan(x[70:75]).all()
    np.testing.assert_allclose(x[75:85], phys[5], rtol=1e-6)
    for lo, hi in [(28, 52), (0, 85), (69, 76), (31, 49), (84, 85)]:
        np.testing.assert_array_equal(rec.read(1, lo, hi), x[lo:hi], err_msg=f"{lo}:{hi}")
    assert [(t.onset_s, t.duration_s, t.label) for t in rec.annotations()] == [
        (5.5, 1.0, "Arousal")]


def test_edfd_onset_between_samples_rounds_to_nearest(tmp_path: Path) -> None:
    path = tmp_path / "d.edf"
    dig = _write_edfd(path, [0, 2.3], (4, 10))
    rec = open_edf(path)
    x = rec.read(0)
    # 2.3 s at 4 Hz is sample 9.2 -> 9.
    assert rec.channels[0].n_samples == 13
    assert np.isnan(x[4:9]).all()
    np.testing.assert_allclose(x[9:13], (dig[0][1] + 32768.0) * 200 / 65535 - 100, rtol=1e-6)


def test_edfd_records_out_of_order_are_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "d.edf"
    _write_edfd(path, [0, 3, 2], (4, 10))
    with pytest.raises(CorruptRecordingError, match="record 2") as info:
        open_edf(path)
    assert str(path) in str(info.value)


def test_edfd_record_without_time_keeping_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "d.edf"
    _write_edfd(path, [0, 1], (4, 10))
    data = bytearray(path.read_bytes())
    # Blank the second record's annotation block.
    rec_bytes = 2 * (4 + 10 + 30)
    start = 256 * 4 + rec_bytes + 2 * 14
    data[start:start + 60] = bytes(60)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptRecordingError, match="time-keeping"):
        open_edf(path)


def test_bdfd_24_bit_samples_on_grid(tmp_path: Path) -> None:
    path = tmp_path / "d.bdf"
    dig = _write_edfd(path, [0, 1, 4], (4, 10), bdf=True)
    rec = open_recording(path)
    assert rec.format == "bdf+"
    assert rec.segments == [Segment(0.0, 2.0), Segment(4.0, 1.0)]
    x = rec.read(1)
    gain = 200 / (2**24 - 1)
    phys = (dig[1].astype(float) + 2**23) * gain - 100
    assert (dig[1] < 0).any()
    np.testing.assert_allclose(x[:20], phys[:2].ravel(), rtol=1e-6)
    assert np.isnan(x[20:40]).all()
    np.testing.assert_allclose(x[40:50], phys[2], rtol=1e-6)


def test_channels_of_one_time_span_share_one_read_of_the_data_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signal_io import _edf
    from signal_io.edf_writer import EdfSignal, write_edf

    rng = np.random.default_rng(0)
    path = tmp_path / "four.edf"
    write_edf(path, [EdfSignal(f"EEG C{i}", rng.standard_normal(256 * 60), 256.0)
                     for i in range(4)], datetime(2024, 1, 1, 22, 0))
    rec = open_edf(path)
    calls: list[tuple[int, int]] = []
    real_pread = _edf.os.pread

    def counting(fd: int, n: int, offset: int) -> bytes:
        calls.append((offset, n))
        return real_pread(fd, n, offset)

    monkeypatch.setattr(_edf.os, "pread", counting)
    whole = [rec.read(i, 256 * 10, 256 * 20) for i in range(4)]
    assert len(calls) == 1
    fresh = open_edf(path)
    for i, x in enumerate(whole):  # the shared block gives the same values as separate reads
        np.testing.assert_array_equal(x, fresh.read(i, 256 * 10, 256 * 20))
