"""Seizure detector: window features, robust background, injected seizures, invariance, Bonn."""

from __future__ import annotations

import numpy as np
import pytest

from detectors._types import ChannelInput
from detectors.seizure import (
    FEATURE_NAMES,
    SeizureInputError,
    SeizureParams,
    channel_window_features,
    detect_seizures,
    robust_z,
    run_seizure,
)
from signal_io.synth.seizure_eeg import make_seizure_eeg
from tests.conftest import need_shared


def _background(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / fs)
    spec[1:] /= f[1:] ** 0.7
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return 25 * x / x.std()


def _eeg_with_seizures(fs: float, duration_s: float, seizures: list[tuple[float, float]],
                       n_ch: int = 6, ictal: tuple[int, ...] = (0, 1, 2),
                       seed: int = 0) -> list[ChannelInput]:
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    chans = []
    for c in range(n_ch):
        x = _background(n, fs, rng)
        if c in ictal:
            for on, off in seizures:
                m = (t >= on) & (t < off)
                tt = t[m] - on
                freq = 6.0 - 3.0 * tt / (off - on)  # evolving rhythm 6 -> 3 Hz
                env = np.minimum(1.0, np.minimum(tt, off - on - tt) / 3.0)
                phase = 2 * np.pi * np.cumsum(freq) / fs
                x[m] += 120 * env * (np.sin(phase) + 0.4 * np.sin(2 * phase))
        chans.append(ChannelInput(f"E{c}", "EEG", x.astype(np.float32), fs, "uV"))
    return chans


def test_robust_z_of_known_values() -> None:
    x = np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])
    z = robust_z(x)
    assert z[2, 0] == 0.0
    assert z[4, 0] == pytest.approx(97 / 1.4826)


def test_window_features_shape_and_relative_powers() -> None:
    rng = np.random.default_rng(0)
    feats = channel_window_features(_background(256 * 60, 256.0, rng), 256.0, 4.0)
    assert feats.shape == (57, len(FEATURE_NAMES))
    np.testing.assert_allclose(feats[:, 2:].sum(axis=1), 1.0, atol=1e-6)
    assert channel_window_features(np.zeros(256 * 3, np.float32), 256.0, 4.0).shape == (0, 6)


@pytest.mark.parametrize("fs", [128.0, 173.61, 256.0, 512.0])
def test_injected_seizures_are_found_with_their_channels(fs: float) -> None:
    truth = [(600.0, 660.0), (1500.0, 1540.0)]
    chans = _eeg_with_seizures(fs, 2400.0, truth, seed=int(fs))
    events = run_seizure(chans, SeizureParams())
    assert len(events) == 2, [(e.onset_s, e.duration_s) for e in events]
    for ev, (on, off) in zip(events, truth, strict=True):
        assert abs(ev.onset_s - on) <= 5.0
        assert abs(ev.onset_s + ev.duration_s - off) <= 8.0
        assert set(ev.channels) == {0, 1, 2}
        assert ev.category == "seizure" and 0.5 <= ev.confidence <= 1.0


def test_background_only_gives_no_events() -> None:
    chans = _eeg_with_seizures(256.0, 3600.0, [], seed=3)
    assert run_seizure(chans, SeizureParams()) == []


def test_scaling_flat_channel_and_nan_gap_do_not_change_episodes() -> None:
    truth = [(300.0, 350.0)]
    chans = _eeg_with_seizures(256.0, 1200.0, truth, seed=4)
    base = [(round(e.onset_s), round(e.duration_s)) for e in run_seizure(chans, SeizureParams())]
    scaled = [ChannelInput(c.name, c.kind, c.data * 1000, c.fs, "nV") for c in chans]
    assert [(round(e.onset_s), round(e.duration_s))
            for e in run_seizure(scaled, SeizureParams())] == base
    flat = [*chans, ChannelInput("Flat", "EEG", np.zeros_like(chans[0].data), 256.0, "uV")]
    assert [(round(e.onset_s), round(e.duration_s))
            for e in run_seizure(flat, SeizureParams())] == base
    gap = chans[3].data.copy()
    gap[256 * 800 : 256 * 820] = np.nan
    with_gap = [*chans[:3], ChannelInput("E3", "EEG", gap, 256.0, "uV"), *chans[4:]]
    assert len(run_seizure(with_gap, SeizureParams())) == 1


def test_merge_gap_and_min_duration() -> None:
    f = np.zeros((600, 2))
    f[:, 0] = np.random.default_rng(0).standard_normal(600) * 0.1
    f[:, 1] = f[:, 0]
    f[100:120] += 10.0
    f[125:140] += 10.0  # 5-s gap: merged
    f[400:405] += 10.0  # 5 s: too short
    out = detect_seizures([f], SeizureParams(min_channels=1))
    assert len(out) == 1
    _, dur, *_ = out[0]
    assert dur == pytest.approx(40.0)


def test_bad_rate_short_and_unknown_channel() -> None:
    with pytest.raises(SeizureInputError, match="outside 50-1000 Hz"):
        channel_window_features(np.zeros(1000, np.float32), 20.0)
    assert run_seizure([ChannelInput("C3", "EEG", np.zeros(100, np.float32), 256.0)],
                       SeizureParams()) == []
    with pytest.raises(SeizureInputError, match="not found"):
        run_seizure([ChannelInput("C3", "EEG", np.zeros(100, np.float32), 256.0)],
                    SeizureParams(channels=("Cz",)))


def test_synthetic_seizure_eeg_is_detected() -> None:
    rec = make_seizure_eeg(3600.0, seed=2, fs=256.0, n_channels=19,
                               seizures=[(900.0, 960.0), (2400.0, 2480.0)])
    chans = [ChannelInput(c.name, c.kind, c.data, c.fs, c.unit) for c in rec.channels]
    events = run_seizure(chans, SeizureParams())
    for on, off, *_ in rec.seizures:
        assert any(e.onset_s < off and e.onset_s + e.duration_s > on for e in events), (on, off)
    assert len(events) <= len(rec.seizures) + 3


@pytest.mark.shared_data
def test_bonn_s_against_rest_at_least_measured_level() -> None:
    from server.evaluation.seizure import bonn_scores

    figures = bonn_scores(need_shared("bonn-eeg"), seed=20240601)
    assert figures["bonn.auc"] >= 0.98  # measured 0.993
    assert figures["bonn.sensitivity"] >= 0.93 and figures["bonn.specificity"] >= 0.93


def test_score_features_must_be_known_feature_names() -> None:
    with pytest.raises(SeizureInputError, match="score_features"):
        SeizureParams(score_features=("log_line_length", "spectral_edge"))
    with pytest.raises(SeizureInputError, match="score_features"):
        SeizureParams(score_features=())
