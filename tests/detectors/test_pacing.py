"""Paced-rhythm detection: synthetic spikes with known truth, real paced and unpaced MIT-BIH."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.ecg import BeatClassParams, analyse_ecg, classify_beats, detect_pacing, detect_qrs
from detectors.ecg.pacing import PacingParams
from signal_io.synth.ecg import make_ecg
from tests.conftest import need_shared


def _add_pacing_pulses(x: np.ndarray, fs: float, beats_s: np.ndarray, lead_s: float,
                       amplitude_mv: float) -> np.ndarray:
    """A pacemaker stimulus ``lead_s`` before each beat: a 2-ms pulse (3 samples or fewer)."""
    out = x.copy()
    width = max(1, round(0.002 * fs))
    for t in beats_s:
        a = round((t - lead_s) * fs)
        if a >= 0:
            out[a : a + width] += amplitude_mv
    return out


@pytest.mark.parametrize("fs", [250.0, 360.0, 500.0])
def test_sinus_synthetic_ecg_is_not_paced(fs: float) -> None:
    ecg = make_ecg(fs, 120.0, seed=11, pvc_fraction=0.05, svpb_fraction=0.02)
    q = detect_qrs(ecg.signal, ecg.fs)
    res = detect_pacing(ecg.signal, ecg.fs, q.beats)
    assert not res.paced
    assert res.score < 0.9


@pytest.mark.parametrize("fs", [360.0, 500.0])
def test_synthetic_pacing_pulses_are_detected_and_beats_labelled_q(fs: float) -> None:
    ecg = make_ecg(fs, 120.0, seed=12, pvc_fraction=0.0, svpb_fraction=0.0)
    normal = ecg.beats_s[ecg.beat_labels == "N"]
    x = _add_pacing_pulses(ecg.signal, ecg.fs, normal, 0.0, 0.8)
    q = detect_qrs(x, ecg.fs)
    res = detect_pacing(x, ecg.fs, q.beats)
    assert res.paced
    assert res.pulse > PacingParams().pulse_ratio
    classes = classify_beats(x, ecg.fs, q.beats)  # paced="auto" by default
    assert classes.paced
    assert float(np.mean(classes.labels == "Q")) > 0.95


def test_pacing_is_not_judged_below_the_minimum_rate() -> None:
    ecg = make_ecg(128.0, 60.0, seed=13, pvc_fraction=0.0, svpb_fraction=0.0)
    x = _add_pacing_pulses(ecg.signal, ecg.fs, ecg.beats_s, 0.0, 0.8)
    q = detect_qrs(x, ecg.fs)
    res = detect_pacing(x, ecg.fs, q.beats)
    assert not res.paced
    assert res.score == 0.0


def test_noise_alone_is_not_paced() -> None:
    rng = np.random.default_rng(5)
    fs = 360.0
    x = (0.3 * rng.standard_normal(int(60 * fs))).astype(np.float32)
    beats = np.arange(100, x.shape[0] - 100, int(0.8 * fs), dtype=np.int64)
    assert not detect_pacing(x, fs, beats).paced


def test_forced_pacing_overrides_detection() -> None:
    ecg = make_ecg(360.0, 60.0, seed=14, pvc_fraction=0.0, svpb_fraction=0.0)
    q = detect_qrs(ecg.signal, ecg.fs)
    forced = classify_beats(ecg.signal, ecg.fs, q.beats, BeatClassParams(paced=True))
    assert forced.paced
    assert np.isnan(forced.pacing_score)
    auto = classify_beats(ecg.signal, ecg.fs, q.beats)
    assert not auto.paced
    assert np.isfinite(auto.pacing_score)


def test_too_few_beats_are_not_paced() -> None:
    res = detect_pacing(np.zeros(1000, dtype=np.float32), 360.0, np.array([10], dtype=np.int64))
    assert not res.paced


def _mitdb_lead(record: str) -> tuple[np.ndarray, float]:
    import wfdb

    db: Path = need_shared("mitdb")
    rec = wfdb.rdrecord(str(db / record))
    names = list(rec.sig_name)
    x = rec.p_signal[:, names.index("MLII") if "MLII" in names else 0].astype(np.float32)
    return x, float(rec.fs)


# measured scores: 102 1.36, 104 1.42, 107 1.11, 217 1.22; highest unpaced 124 0.79, 101 0.76
@pytest.mark.shared_data
@pytest.mark.parametrize("record", ["102", "104", "107", "217"])
def test_mitdb_paced_records_are_detected(record: str) -> None:
    x, fs = _mitdb_lead(record)
    res = analyse_ecg(x, fs)
    assert res.paced
    assert float(np.mean(res.labels == "Q")) > 0.5


@pytest.mark.shared_data
@pytest.mark.parametrize("record", ["101", "109", "124", "203", "207", "220"])
def test_mitdb_unpaced_records_including_wide_qrs_are_not_paced(record: str) -> None:
    x, fs = _mitdb_lead(record)
    q = detect_qrs(x, fs)
    res = detect_pacing(x, fs, q.beats)
    assert not res.paced
    assert res.score < 0.95
