"""QRS detection: kernels against references, synthetic truth, invariance, real MIT-BIH records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from detectors.ecg import QrsParams, detect_qrs
from detectors.ecg._qrs_kernels import (
    _candidates_kernel,
    _candidates_py,
    _integrate_kernel,
    _integrate_py,
    _threshold_kernel,
    _threshold_py,
)
from detectors.ecg.qrs import EcgInputError, fill_gaps
from signal_io.synth.ecg import make_ecg
from tests.conftest import need_shared

BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")


def _se_ppv(ref_s: np.ndarray, det: np.ndarray, fs: float, tol_s: float = 0.15
            ) -> tuple[float, float]:
    """Gross Se and +P with one-to-one nearest matching within ``tol_s``."""
    from server.evaluation._match import match_beats

    ref = np.round(np.asarray(ref_s) * fs).astype(np.int64)
    m = match_beats(ref, det.astype(np.int64), round(tol_s * fs))
    tp = int((m >= 0).sum())
    return tp / max(len(ref), 1), tp / max(len(det), 1)


# ----------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 17, 256, 1001])
@pytest.mark.parametrize("width", [1, 2, 7, 54])
@pytest.mark.parametrize("squared", [False, True])
def test_integrate_kernel_matches_reference(n: int, width: int, squared: bool) -> None:
    x = np.random.default_rng(n + width).standard_normal(n).astype(np.float32)
    np.testing.assert_allclose(
        _integrate_kernel(x, width, squared), _integrate_py(x, width, squared), rtol=2e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 333, 2048])
@pytest.mark.parametrize("half", [1, 3, 40])
def test_candidates_kernel_matches_reference(n: int, half: int) -> None:
    rng = np.random.default_rng(7 * n + half)
    feat = np.abs(np.cumsum(rng.standard_normal(n))).astype(np.float32)
    feat[n // 3 : n // 3 + 5] = 2.0  # a plateau
    filtered = rng.standard_normal(n).astype(np.float32)
    c_k, s_k = _candidates_kernel(feat, filtered, half, 4, 0.1)
    c_p, s_p = _candidates_py(feat, filtered, half, 4, 0.1)
    np.testing.assert_array_equal(c_k, c_p)
    np.testing.assert_allclose(s_k, s_p, rtol=1e-6)


@pytest.mark.parametrize("m", [0, 1, 2, 9, 300])
@pytest.mark.parametrize("seed", [0, 1])
def test_threshold_kernel_matches_reference(m: int, seed: int) -> None:
    rng = np.random.default_rng(seed * 1000 + m)
    peaks = np.sort(rng.choice(100 * max(m, 1), size=m, replace=False)).astype(np.int64)
    heights = rng.gamma(2.0, 1.0, size=m)
    slopes = rng.gamma(2.0, 1.0, size=m)
    args = (100.0, 2.0, 0.25, 0.36, 0.5, 1.66)
    b_k, r_k = _threshold_kernel(peaks, heights, slopes, *args)
    b_p, r_p = _threshold_py(peaks, heights, slopes, *args)
    np.testing.assert_array_equal(b_k, b_p)
    np.testing.assert_allclose(r_k, r_p)


# ----------------------------------------------------------------------------- synthetic truth


@pytest.mark.parametrize("fs", [128.0, 250.0, 360.0, 500.0, 1000.0])
@pytest.mark.parametrize("polarity", [1, -1])
def test_detects_synthetic_beats_with_ectopy_af_and_pauses(fs: float, polarity: int) -> None:
    ecg = make_ecg(fs, 300.0, seed=11, pvc_fraction=0.1, svpb_fraction=0.05,
                   af_episodes=[(120.0, 200.0)], pauses_s=[(60.0, 2.8), (230.0, 3.4)],
                   polarity=polarity)
    res = detect_qrs(ecg.signal, ecg.fs)
    se, ppv = _se_ppv(ecg.beats_s, res.beats, fs)
    assert se >= 0.995
    assert ppv >= 0.995
    assert np.all((res.confidence >= 0) & (res.confidence <= 1))


@pytest.mark.parametrize("fs", [250.0, 500.0])
def test_wide_pvcs_before_long_pauses_do_not_yield_t_wave_beats(fs: float) -> None:
    ecg = make_ecg(fs, 240.0, seed=5, heart_rate_bpm=55.0, pvc_fraction=0.2, svpb_fraction=0.0,
                   pauses_s=[(30.0, 2.5), (90.0, 3.0), (150.0, 2.6)])
    res = detect_qrs(ecg.signal, ecg.fs)
    se, ppv = _se_ppv(ecg.beats_s, res.beats, fs)
    assert se >= 0.995
    assert ppv >= 0.995


def test_sudden_rate_change_keeps_all_beats() -> None:
    times = np.array([0.0, 59.0, 61.0, 119.0, 121.0, 180.0])
    bpm = np.array([50.0, 50.0, 140.0, 140.0, 60.0, 60.0])
    ecg = make_ecg(360.0, 180.0, seed=2, pvc_fraction=0.0, svpb_fraction=0.0,
                   hr_trend=(times, bpm))
    res = detect_qrs(ecg.signal, ecg.fs)
    se, ppv = _se_ppv(ecg.beats_s, res.beats, 360.0)
    assert se >= 0.995
    assert ppv >= 0.995


def test_noise_burst_costs_only_beats_near_it() -> None:
    ecg = make_ecg(250.0, 300.0, seed=4, pvc_fraction=0.0, svpb_fraction=0.0,
                   noise_bursts=[(100.0, 106.0)])
    res = detect_qrs(ecg.signal, ecg.fs)
    beats_s = res.beats / 250.0
    away = (beats_s < 98.0) | (beats_s > 108.0)
    ref_away = (ecg.beats_s < 98.0) | (ecg.beats_s > 108.0)
    se, ppv = _se_ppv(ecg.beats_s[ref_away], res.beats[away], 250.0)
    assert se >= 0.998
    assert ppv >= 0.998


# ----------------------------------------------------------------------------- invariance


@pytest.fixture(scope="module")
def sinus() -> tuple[np.ndarray, float, np.ndarray]:
    ecg = make_ecg(360.0, 120.0, seed=9, pvc_fraction=0.05, svpb_fraction=0.02)
    return ecg.signal, ecg.fs, ecg.beats_s


@pytest.mark.parametrize("scale", [1e-3, 0.1, 10.0, 1e3])
def test_amplitude_scaling_does_not_change_beats(sinus: tuple, scale: float) -> None:
    x, fs, _ = sinus
    base = detect_qrs(x, fs).beats
    np.testing.assert_array_equal(detect_qrs(x * np.float32(scale), fs).beats, base)


def test_inverted_lead_finds_the_same_beats(sinus: tuple) -> None:
    x, fs, _ = sinus
    a = detect_qrs(x, fs).beats
    b = detect_qrs(-x, fs).beats
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) <= round(0.06 * fs)


@pytest.mark.parametrize("fs_new", [128.0, 200.0, 256.0, 500.0, 1000.0])
def test_resampled_signal_gives_the_same_beat_times(sinus: tuple, fs_new: float) -> None:
    x, fs, truth = sinus
    y = scipy.signal.resample_poly(x, int(fs_new), int(fs)).astype(np.float32)
    res = detect_qrs(y, fs_new)
    se, ppv = _se_ppv(truth, res.beats, fs_new)
    assert se >= 0.995
    assert ppv >= 0.995


def test_flat_signal_gives_no_beats() -> None:
    assert detect_qrs(np.zeros(3600, dtype=np.float32), 360.0).beats.size == 0
    assert detect_qrs(np.full(3600, 0.7, dtype=np.float32), 360.0).beats.size == 0


def test_empty_and_very_short_input_give_no_beats() -> None:
    for n in (0, 1, 10, 359):
        res = detect_qrs(np.ones(n, dtype=np.float32), 360.0)
        assert res.beats.size == 0
        assert res.confidence.size == 0


def test_all_nan_input_gives_no_beats() -> None:
    assert detect_qrs(np.full(5000, np.nan, dtype=np.float32), 250.0).beats.size == 0


def test_nan_gap_drops_only_beats_inside_it(sinus: tuple) -> None:
    x, fs, truth = sinus
    y = x.copy()
    y[int(40 * fs) : int(50 * fs)] = np.nan
    beats_s = detect_qrs(y, fs).beats / fs
    assert not np.any((beats_s > 40.0) & (beats_s < 50.0))
    keep = (truth < 39.0) | (truth > 51.0)
    se, ppv = _se_ppv(truth[keep], np.round(beats_s[(beats_s < 39.0) | (beats_s > 51.0)] * fs),
                      fs)
    assert se >= 0.995
    assert ppv >= 0.995


def test_flat_segment_inside_a_record_has_no_beats_and_costs_none_elsewhere(sinus: tuple
                                                                          ) -> None:
    x, fs, truth = sinus
    y = x.copy()
    y[int(60 * fs) : int(75 * fs)] = y[int(60 * fs)]  # lead off: the amplifier holds a value
    beats_s = detect_qrs(y, fs).beats / fs
    assert not np.any((beats_s > 60.2) & (beats_s < 75.0))
    keep = (truth < 59.0) | (truth > 77.0)
    det = beats_s[(beats_s < 59.0) | (beats_s > 77.0)]
    se, ppv = _se_ppv(truth[keep], np.round(det * fs), fs)
    assert se >= 0.995
    assert ppv >= 0.995


def test_fill_gaps_holds_the_last_valid_value() -> None:
    filled, gaps = fill_gaps(np.array([np.nan, 1.0, np.nan, np.nan, 3.0, np.nan]))
    np.testing.assert_array_equal(filled, [1.0, 1.0, 1.0, 1.0, 3.0, 3.0])
    np.testing.assert_array_equal(gaps, [True, False, True, True, False, True])


def test_bad_input_is_rejected_with_a_typed_error() -> None:
    with pytest.raises(EcgInputError, match="one-dimensional"):
        detect_qrs(np.zeros((2, 100), dtype=np.float32), 250.0)
    with pytest.raises(EcgInputError, match="at least 50 Hz"):
        detect_qrs(np.zeros(100, dtype=np.float32), 10.0)
    assert issubclass(EcgInputError, ValueError)


def test_params_are_frozen_with_defaults() -> None:
    p = QrsParams()
    with pytest.raises(AttributeError):
        p.refractory_s = 0.1  # type: ignore[misc]


# ----------------------------------------------------------------------------- MIT-BIH


def _mitdb_record(record: str) -> tuple[np.ndarray, float, np.ndarray]:
    import wfdb

    db: Path = need_shared("mitdb")
    rec = wfdb.rdrecord(str(db / record))
    names = list(rec.sig_name)
    ch = names.index("MLII") if "MLII" in names else 0
    ann = wfdb.rdann(str(db / record), "atr")
    ref = np.array([s for s, y in zip(ann.sample, ann.symbol, strict=True) if y in BEAT_SYMBOLS])
    return rec.p_signal[:, ch].astype(np.float32), float(rec.fs), ref


# measured (Se, +P): 101 0.9995/0.9979, 112 1/1, 115 1/1, 119 1/0.9995, 201 0.9990/1,
# 208 0.9970/0.9986, 223 1/0.9996
@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("record", "min_se", "min_ppv"),
    [("101", 0.998, 0.996), ("112", 0.999, 0.998), ("115", 0.999, 0.999),
     ("119", 0.999, 0.998), ("201", 0.997, 0.998), ("208", 0.995, 0.997), ("223", 0.998, 0.998)],
)
def test_mitdb_records_meet_measured_accuracy(record: str, min_se: float, min_ppv: float) -> None:
    x, fs, ref = _mitdb_record(record)
    res = detect_qrs(x, fs)
    se, ppv = _se_ppv(ref / fs, res.beats, fs)
    assert se >= min_se
    assert ppv >= min_ppv
