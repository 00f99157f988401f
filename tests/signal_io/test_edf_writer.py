"""EDF+C / BDF+C writer: round trips through our reader and MNE, layout, validation."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import mne
import numpy as np
import pytest

from signal_io import Annotation, ChannelKind
from signal_io._edf import open_edf
from signal_io.edf_writer import EdfSignal, write_edf

START = datetime(2021, 3, 4, 22, 15, 30, 250000)


def _signals(seed: int = 0) -> list[EdfSignal]:
    rng = np.random.default_rng(seed)
    t = np.arange(256 * 30) / 256
    return [
        EdfSignal("EEG C3-M2", (40 * np.sin(2 * np.pi * 10 * t) + rng.normal(0, 5, t.size))
                  .astype(np.float32), 256.0),
        EdfSignal("ECG", rng.normal(0, 0.5, 200 * 30), 200.0, unit="mV",
                  transducer="AgAgCl electrode", prefilter="HP:0.5Hz"),
        EdfSignal("SpO2", 94 + rng.random(30) * 4, 1.0, unit="%"),
        EdfSignal("Flat", np.full(10 * 30, -2.5), 10.0, unit="uV"),
    ]


ANNOTATIONS = [
    Annotation(0.0, 30.0, "Sleep stage W", kind="stage"),
    Annotation(3.125, 0.0, "Arousal"),
    Annotation(3.125, 4.5, "Apnée centrale — 仰卧"),
    Annotation(29.9, 0.0, "lights on"),
]


def _step(sig: EdfSignal, bdf: bool) -> float:
    lo = float(np.min(sig.data)) if sig.physical_min is None else sig.physical_min
    hi = float(np.max(sig.data)) if sig.physical_max is None else sig.physical_max
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    return (hi - lo) / ((1 << 24) - 1 if bdf else 65535) * 1.0001


@pytest.mark.parametrize("bdf", [False, True], ids=["edf", "bdf"])
def test_round_trip_through_our_reader_within_one_step(tmp_path: Path, bdf: bool) -> None:
    sigs = _signals()
    path = tmp_path / ("x.bdf" if bdf else "x.edf")
    write_edf(path, sigs, START, annotations=ANNOTATIONS, bdf=bdf)
    rec = open_edf(path)
    assert rec.format == ("bdf+" if bdf else "edf+c")
    assert rec.start_time == START
    assert [c.name for c in rec.channels] == [s.label for s in sigs]
    assert [c.unit for c in rec.channels] == [s.unit for s in sigs]
    assert [c.fs for c in rec.channels] == [s.fs for s in sigs]
    assert rec.channels[0].kind is ChannelKind.EEG
    assert rec.channels[1].kind is ChannelKind.ECG
    assert rec.channels[2].kind is ChannelKind.SPO2
    for sig, ch in zip(sigs, rec.channels, strict=True):
        got = rec.read(ch.index)
        assert got.shape == sig.data.shape
        assert np.max(np.abs(got - sig.data)) <= _step(sig, bdf) / 2 + 1e-6 * np.max(
            np.abs(sig.data)), sig.label
    got_ann = rec.annotations()
    assert [(a.onset_s, a.duration_s, a.label) for a in got_ann] == [
        (a.onset_s, a.duration_s, a.label) for a in ANNOTATIONS]
    assert got_ann[0].kind == "stage"
    assert rec.header.patient == "X X X X"
    assert rec.header.recording == "Startdate 04-MAR-2021 X X X"


@pytest.mark.parametrize("bdf", [False, True], ids=["edf", "bdf"])
def test_round_trip_through_mne(tmp_path: Path, bdf: bool) -> None:
    sigs = _signals(1)[:2]
    sigs[1] = EdfSignal("ECG", np.random.default_rng(2).normal(0, 0.5, 256 * 30), 256.0,
                        unit="mV")
    path = tmp_path / ("x.bdf" if bdf else "x.edf")
    write_edf(path, sigs, START, annotations=ANNOTATIONS, bdf=bdf)
    reader = mne.io.read_raw_bdf if bdf else mne.io.read_raw_edf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = reader(path, preload=True, infer_types=False, verbose="error")
        ann = mne.read_annotations(path)
    assert raw.ch_names == [s.label for s in sigs]
    assert raw.info["sfreq"] == 256.0
    for k, (sig, scale) in enumerate(zip(sigs, (1e-6, 1e-3), strict=True)):
        got = raw.get_data(picks=[k])[0] / scale
        assert np.max(np.abs(got - sig.data)) <= _step(sig, bdf) / 2 + 1e-5
    np.testing.assert_allclose(ann.onset, [a.onset_s for a in ANNOTATIONS], atol=1e-9)
    np.testing.assert_allclose(ann.duration, [a.duration_s for a in ANNOTATIONS], atol=1e-9)
    assert list(ann.description) == [a.label for a in ANNOTATIONS]
    assert raw.info["meas_date"].replace(tzinfo=None) == START.replace(microsecond=0)


def test_many_annotations_in_one_record_all_fit(tmp_path: Path) -> None:
    anns = [Annotation(1.0 + i * 1e-3, 0.0, f"spike {i}") for i in range(500)]
    path = tmp_path / "x.edf"
    write_edf(path, _signals()[:1], START, annotations=anns)
    got = open_edf(path).annotations()
    assert [a.label for a in got] == [a.label for a in anns]
    np.testing.assert_allclose([a.onset_s for a in got], [a.onset_s for a in anns], atol=1e-6)


def test_annotations_outside_recording_are_kept(tmp_path: Path) -> None:
    anns = [Annotation(-2.0, 1.0, "before"), Annotation(100.0, 0.0, "after")]
    path = tmp_path / "x.edf"
    write_edf(path, _signals()[:1], datetime(2021, 1, 1), annotations=anns)
    got = open_edf(path).annotations()
    assert [(a.onset_s, a.label) for a in got] == [(-2.0, "before"), (100.0, "after")]


def test_given_physical_range_is_written_and_data_outside_is_clipped(tmp_path: Path) -> None:
    data = np.array([-300.0, -100.0, 0.0, 100.0, 300.0] * 2)
    path = tmp_path / "x.edf"
    write_edf(path, [EdfSignal("EEG", data, 10.0, physical_min=-200, physical_max=200)],
              datetime(2021, 1, 1))
    rec = open_edf(path)
    sig = rec._hdr.signals[0]
    assert (sig.physical_min, sig.physical_max) == (-200.0, 200.0)
    got = rec.read(0)
    np.testing.assert_allclose(got[[0, 4]], [-200.0, 200.0], atol=0.01)
    np.testing.assert_allclose(got[1:4], data[1:4], atol=400 / 65535)


def test_flat_signal_gets_a_padded_range(tmp_path: Path) -> None:
    path = tmp_path / "x.edf"
    write_edf(path, [EdfSignal("X", np.full(20, 7.0), 10.0)], datetime(2021, 1, 1))
    rec = open_edf(path)
    assert (rec._hdr.signals[0].physical_min, rec._hdr.signals[0].physical_max) == (6.0, 8.0)
    np.testing.assert_allclose(rec.read(0), 7.0, atol=2 / 65535)


def test_physical_range_fields_never_narrower_than_data(tmp_path: Path) -> None:
    data = np.array([-0.123456789, 0.987654321, 12345.678912])
    path = tmp_path / "x.edf"
    write_edf(path, [EdfSignal("X", data, 3.0)], datetime(2021, 1, 1))
    sig = open_edf(path)._hdr.signals[0]
    assert sig.physical_min <= data.min() and sig.physical_max >= data.max()


def test_fractional_record_duration_and_rates(tmp_path: Path) -> None:
    path = tmp_path / "x.edf"
    sigs = [EdfSignal("A", np.arange(50, dtype=float), 100.0),
            EdfSignal("B", np.arange(5, dtype=float), 10.0)]
    write_edf(path, sigs, datetime(2021, 1, 1), record_duration_s=0.1)
    rec = open_edf(path)
    assert [c.fs for c in rec.channels] == [100.0, 10.0]
    assert [c.n_samples for c in rec.channels] == [50, 5]


def test_no_partial_file_left_on_error(tmp_path: Path) -> None:
    path = tmp_path / "x.edf"
    with pytest.raises(ValueError):
        write_edf(path, [EdfSignal("X", np.array([0.0, np.nan]), 2.0)], datetime(2021, 1, 1))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("signals", "kwargs", "match"),
    [
        ([], {}, "at least one signal"),
        ([EdfSignal("X", np.zeros(10), 2.5)], {}, "whole number"),
        ([EdfSignal("X", np.zeros(10), 10.0), EdfSignal("Y", np.zeros(30), 10.0)], {},
         "same whole number"),
        ([EdfSignal("X", np.zeros(15), 10.0)], {}, "same whole number"),
        ([EdfSignal("X" * 17, np.zeros(10), 10.0)], {}, "16 characters"),
        ([EdfSignal("X", np.zeros(10), 10.0, unit="microvolt")], {}, "8 characters"),
        ([EdfSignal("Fp1–F3", np.zeros(10), 10.0)], {}, "ASCII"),
        ([EdfSignal("X", np.array([np.inf] * 10), 10.0)], {}, "NaN or infinite"),
        ([EdfSignal("X", np.zeros((2, 5)), 10.0)], {}, "1-D"),
        ([EdfSignal("X", np.zeros(10), 10.0, physical_min=5, physical_max=5)], {},
         "equals physical_max"),
        ([EdfSignal("X", np.zeros(10), 10.0, physical_min=5, physical_max=1)], {}, "> physical"),
        ([EdfSignal("X", np.zeros(10), 10.0)], {"record_duration_s": 0.0}, "record_duration_s"),
        ([EdfSignal("X", np.zeros(10), 10.0)], {"patient": "é"}, "ASCII"),
        ([EdfSignal("X", np.zeros(10), 10.0)],
         {"annotations": [Annotation(0, 0, "a\x14b")]}, "reserved byte"),
        ([EdfSignal("X", np.zeros(10), 10.0)],
         {"annotations": [Annotation(0, -1, "neg")]}, "duration >= 0"),
        ([EdfSignal("X", np.zeros(10), 10.0)],
         {"annotations": [Annotation(0, 0, "")]}, "must not be empty"),
        ([EdfSignal("X", np.array([0, 1e9] * 5), 10.0)], {}, "8 characters"),
    ],
)
def test_invalid_input_raises_value_error(tmp_path: Path, signals: list[EdfSignal],
                                          kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        write_edf(tmp_path / "x.edf", signals, datetime(2021, 1, 1), **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "x.edf").exists()


def test_start_year_outside_edf_range_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1985-2084"):
        write_edf(tmp_path / "x.edf", [EdfSignal("X", np.zeros(10), 10.0)], datetime(1984, 1, 1))


def test_writes_hour_of_twenty_channels_quickly(tmp_path: Path) -> None:
    import time

    rng = np.random.default_rng(0)
    sigs = [EdfSignal(f"EEG {i}", rng.standard_normal(256 * 3600).astype(np.float32), 256.0)
            for i in range(20)]
    t0 = time.perf_counter()
    write_edf(tmp_path / "x.edf", sigs, datetime(2021, 1, 1))
    elapsed = time.perf_counter() - t0
    rec = open_edf(tmp_path / "x.edf")
    np.testing.assert_allclose(rec.read(19, 1000, 2000), sigs[19].data[1000:2000],
                               atol=_step(sigs[19], False))
    assert elapsed < 5.0  # ~0.15 s measured; generous for a loaded 2-core machine
