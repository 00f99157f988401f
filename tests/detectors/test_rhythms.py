"""Rhythm episodes: kernels against references, label patterns, synthetic AF, MIT-BIH AF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.ecg import RhythmParams, analyse_ecg, detect_af, detect_rhythms
from detectors.ecg._rhythm_kernels import (
    _irregularity_kernel,
    _irregularity_py,
    _window_median_kernel,
    _window_median_py,
)
from detectors.ecg.atrial import _consistency_kernel, _consistency_py, p_wave_consistency
from detectors.ecg.rhythm import af_irregularity
from server.evaluation._match import intervals_overlap_s, total_s
from signal_io.synth.ecg import make_ecg
from tests.conftest import need_shared


def _windows(k: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lo = rng.integers(0, max(m, 1), size=k)
    hi = np.minimum(lo + rng.integers(0, 40, size=k), m)
    return lo.astype(np.int64), hi.astype(np.int64)


@pytest.mark.parametrize("m", [0, 1, 4, 5, 33, 500])
@pytest.mark.parametrize("max_lag", [1, 3])
def test_irregularity_kernel_matches_reference(m: int, max_lag: int) -> None:
    rng = np.random.default_rng(m + 100 * max_lag)
    rr = rng.uniform(0.4, 1.2, size=m)
    lo, hi = _windows(50, m, rng)
    np.testing.assert_allclose(_irregularity_kernel(rr, lo, hi, 5, max_lag),
                               _irregularity_py(rr, lo, hi, 5, max_lag), equal_nan=True)


@pytest.mark.parametrize("m", [0, 1, 2, 7, 400])
def test_window_median_kernel_matches_reference(m: int) -> None:
    rng = np.random.default_rng(m)
    values = rng.standard_normal(m)
    lo, hi = _windows(60, m, rng)
    np.testing.assert_allclose(_window_median_kernel(values, lo, hi),
                               _window_median_py(values, lo, hi), equal_nan=True)


@pytest.mark.parametrize("k", [1, 2, 3, 17, 200])
@pytest.mark.parametrize("window", [3, 16, 64])
def test_p_consistency_kernel_matches_reference(k: int, window: int) -> None:
    rng = np.random.default_rng(k * 7 + window)
    seg = rng.standard_normal((k, 19)).astype(np.float32)
    seg -= seg.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(_consistency_kernel(seg, window), _consistency_py(seg, window),
                               atol=1e-9)


def _regular(n: int, rr_s: float = 0.8) -> np.ndarray:
    return np.arange(n, dtype=np.float64) * rr_s


def _labels(n: int) -> np.ndarray:
    return np.full(n, "N", dtype="<U1")


def test_pause_longer_than_two_seconds_is_reported() -> None:
    beats = _regular(60)
    beats[30:] += 2.0  # one RR of 2.8 s
    events = [e for e in detect_rhythms(beats, _labels(60)) if e.label == "PAUSE"]
    assert len(events) == 1
    assert events[0].onset_s == pytest.approx(beats[29])
    assert events[0].offset_s - events[0].onset_s == pytest.approx(2.8)


def test_three_fast_v_beats_are_vt_and_slow_runs_ivr() -> None:
    beats = _regular(80)
    labels = _labels(80)
    labels[20:24] = "V"
    beats[20:] -= 0.3 * np.arange(1, 61).clip(max=4)  # 0.5-s RR during the run: 120 bpm
    labels[60:63] = "V"  # at 75 bpm
    events = detect_rhythms(beats, labels)
    vt = [e for e in events if e.label == "VT"]
    ivr = [e for e in events if e.label == "IVR"]
    assert len(vt) == 1
    assert vt[0].onset_s == pytest.approx(beats[20])
    assert len(ivr) == 1
    assert ivr[0].onset_s == pytest.approx(beats[60])


def test_couplets_are_not_runs() -> None:
    labels = _labels(50)
    labels[10:12] = "V"
    assert not [e for e in detect_rhythms(_regular(50), labels) if e.label in ("VT", "IVR")]


@pytest.mark.parametrize(("cycle", "label"), [(2, "BIGEMINY"), (3, "TRIGEMINY")])
def test_bigeminy_and_trigeminy_patterns(cycle: int, label: str) -> None:
    labels = _labels(90)
    labels[30:60][cycle - 1 :: cycle] = "V"
    events = [e for e in detect_rhythms(_regular(90), labels) if e.label == label]
    assert len(events) == 1
    other = "TRIGEMINY" if label == "BIGEMINY" else "BIGEMINY"
    assert not [e for e in detect_rhythms(_regular(90), labels) if e.label == other]


def test_two_cycles_are_not_bigeminy() -> None:
    labels = _labels(40)
    labels[[11, 13]] = "V"
    assert not [e for e in detect_rhythms(_regular(40), labels) if e.label == "BIGEMINY"]


@pytest.mark.parametrize(("rr_s", "label"), [(1.3, "SBR"), (0.5, "STACH")])
def test_sinus_brady_and_tachycardia(rr_s: float, label: str) -> None:
    beats = np.concatenate([_regular(40), 32.0 + np.arange(1, 60) * rr_s])
    events = [e for e in detect_rhythms(beats, _labels(beats.size)) if e.label == label]
    assert len(events) == 1
    assert events[0].onset_s == pytest.approx(32.0, abs=5.0)


def test_regular_rhythm_with_bigeminy_is_not_af() -> None:
    beats = np.cumsum(np.tile([0.55, 1.05], 100))
    labels = np.tile(np.array(["N", "V"]), 100)
    assert not [e for e in detect_rhythms(beats, labels) if e.label == "AFIB"]


def test_empty_and_single_beat_give_no_events() -> None:
    assert detect_rhythms(np.zeros(0), _labels(0)) == []
    assert detect_rhythms(np.zeros(1), _labels(1)) == []


@pytest.mark.parametrize("fs", [128.0, 360.0, 1000.0])
def test_synthetic_af_episode_is_found_with_its_extent(fs: float) -> None:
    ecg = make_ecg(fs, 600.0, seed=13, pvc_fraction=0.03, svpb_fraction=0.03,
                   af_episodes=[(200.0, 400.0)])
    res = analyse_ecg(ecg.signal, ecg.fs)
    af = [(e.onset_s, e.offset_s) for e in res.rhythms if e.label == "AFIB"]
    overlap = intervals_overlap_s([(200.0, 400.0)], af)
    assert overlap / 200.0 >= 0.95
    assert overlap / max(total_s(af), 1e-9) >= 0.9
    assert all(0.0 <= e.confidence <= 1.0 for e in res.rhythms)


def test_sinus_with_ectopy_has_no_af() -> None:
    ecg = make_ecg(250.0, 600.0, seed=14, pvc_fraction=0.1, svpb_fraction=0.05)
    res = analyse_ecg(ecg.signal, ecg.fs)
    assert not [e for e in res.rhythms if e.label == "AFIB"]


def test_p_waves_are_consistent_in_sinus_and_not_in_af() -> None:
    ecg = make_ecg(360.0, 300.0, seed=15, pvc_fraction=0.0, svpb_fraction=0.0,
                   af_episodes=[(150.0, 300.0)])
    beats = np.round(ecg.beats_s * 360.0).astype(np.int64)
    pc = p_wave_consistency(ecg.signal, 360.0, beats)
    sinus = ecg.beats_s < 140.0
    af = ecg.beats_s > 160.0
    assert np.median(pc[sinus]) > 0.8
    assert np.median(pc[af]) < 0.6


def test_intervals_touching_paced_beats_are_not_used_for_af() -> None:
    rng = np.random.default_rng(3)
    k = 400
    rr = 0.6 + 0.3 * rng.random(k)  # irregular throughout
    beats_s = np.cumsum(rr)
    labels = np.full(k, "N")
    labels[:200] = "Q"  # the device timed these: their intervals say nothing about the atria
    irr = af_irregularity(beats_s, labels)
    assert np.isnan(irr[20:180]).all()
    assert np.isfinite(irr[220:380]).all()
    events = detect_af(beats_s, labels, RhythmParams(af_min_s=0.0))
    assert events
    assert min(e.onset_s for e in events) > beats_s[180]


def test_runs_of_paced_beats_are_paced_rhythm_episodes() -> None:
    beats_s = np.arange(40) * 0.8
    labels = np.array(["N"] * 10 + ["Q"] * 20 + ["N"] * 5 + ["Q"] * 2 + ["N"] * 3)
    paced = [e for e in detect_rhythms(beats_s, labels) if e.label == "P"]
    assert [(e.onset_s, e.offset_s) for e in paced] == [(beats_s[10], beats_s[29])]


def test_params_defaults_follow_clinical_definitions() -> None:
    p = RhythmParams()
    assert p.pause_s == 2.0
    assert p.vt_min_beats == 3
    assert p.vt_rate_bpm == 100.0


# measured AF duration (Se, +P): 201 0.987/0.705 (detector defaults)
@pytest.mark.shared_data
def test_mitdb_201_af_is_found() -> None:
    import wfdb

    db: Path = need_shared("mitdb")
    rec = wfdb.rdrecord(str(db / "201"))
    x = rec.p_signal[:, list(rec.sig_name).index("MLII")].astype(np.float32)
    fs = float(rec.fs)
    ann = wfdb.rdann(str(db / "201"), "atr")
    marks = [(s / fs, a) for s, y, a in zip(ann.sample, ann.symbol, ann.aux_note, strict=True)
             if y == "+"]
    ref = [(t, marks[i + 1][0] if i + 1 < len(marks) else x.size / fs)
           for i, (t, a) in enumerate(marks) if a.startswith("(AFIB")]
    res = analyse_ecg(x, fs)
    det = [(e.onset_s, e.offset_s) for e in res.rhythms if e.label == "AFIB"]
    overlap = intervals_overlap_s(ref, det)
    assert overlap / total_s(ref) >= 0.95
    assert overlap / total_s(det) >= 0.6


def test_registered_ecg_detectors_run_on_a_channel_list() -> None:
    import dataclasses

    from detectors._types import ChannelInput
    from detectors.registry import get_detector

    ecg = make_ecg(250.0, 180.0, seed=16, pvc_fraction=0.1, svpb_fraction=0.03,
                   af_episodes=[(60.0, 180.0)])
    channels = [ChannelInput("EEG", "EEG", np.zeros(ecg.signal.size, dtype=np.float32), 250.0),
                ChannelInput("ECG II", "ECG", ecg.signal, 250.0)]
    seen: list[float] = []
    for name, kinds in (("ecg.qrs", {"beat"}), ("ecg.beats", {"beat"}),
                        ("ecg.rhythm", {"beat", "rhythm"})):
        spec = get_detector(name)
        params = spec.params_type()
        assert dataclasses.is_dataclass(params)
        events = spec.run(channels, params, seen.append)
        assert events
        assert {e.category for e in events} <= kinds
        assert all(0.0 <= e.confidence <= 1.0 for e in events)
        assert all(e.channels == (1,) for e in events)
    rhythm = get_detector("ecg.rhythm").run(channels, get_detector("ecg.rhythm").params_type(),
                                            None)
    assert any(e.label == "AFIB" and e.duration_s > 60.0 for e in rhythm)
    assert all(e.label not in ("N", "Q") for e in rhythm)
    assert seen and seen[-1] == 1.0
