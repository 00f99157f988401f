"""Synthetic recordings: determinism, truth consistency, native rates, writing and reading back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.signal import butter, sosfiltfilt, welch

from signal_io import open_recording
from signal_io.synth import (
    EEG_DERIVATIONS,
    SynthEEG,
    SynthPSG,
    ensure_demo_recordings,
    make_ecg,
    make_psg,
    make_seizure_eeg,
    write_ecg_record,
    write_eeg_edf,
    write_psg_edf,
)
from signal_io.synth._hypnogram import make_hypnogram

# ----------------------------------------------------------------------------------------- ECG


def _clean_ecg(fs: float, duration_s: float = 300.0, **kw: object) -> object:
    return make_ecg(fs, duration_s, seed=11, baseline_wander=False, white_noise_mv=0.0,
                    **kw)  # type: ignore[arg-type]


def test_make_ecg_is_deterministic_for_a_seed() -> None:
    a = make_ecg(360, 120, seed=5, af_episodes=[(60, 90)])
    b = make_ecg(360, 120, seed=5, af_episodes=[(60, 90)])
    c = make_ecg(360, 120, seed=6, af_episodes=[(60, 90)])
    np.testing.assert_array_equal(a.signal, b.signal)
    np.testing.assert_array_equal(a.beats_s, b.beats_s)
    assert list(a.beat_labels) == list(b.beat_labels)
    assert not np.array_equal(a.signal, c.signal)
    assert a.signal.dtype == np.float32
    assert a.signal.size == 120 * 360


@pytest.mark.parametrize("fs", [128.0, 250.0, 360.0, 500.0, 1000.0])
@pytest.mark.parametrize("polarity", [1, -1])
def test_beat_times_sit_on_the_qrs_extremum(fs: float, polarity: int) -> None:
    ecg = make_ecg(fs, 300, seed=3, baseline_wander=False, white_noise_mv=0.0,
                   pvc_fraction=0.1, svpb_fraction=0.05, polarity=polarity,
                   af_episodes=[(100, 160)])
    x = ecg.signal.astype(np.float64) * polarity
    half = round(0.05 * fs)
    errors_ms: dict[str, list[float]] = {}
    for t, lab in zip(ecg.beats_s, ecg.beat_labels, strict=True):
        i = round(t * fs)
        if i - half < 0 or i + half >= x.size:
            continue
        seg = x[i - half : i + half + 1]
        j = int(np.argmin(seg) if lab == "V" else np.argmax(seg)) - half
        errors_ms.setdefault(str(lab), []).append(abs((i + j) / fs - t) * 1000.0)
    assert sum(len(v) for v in errors_ms.values()) > 300
    # narrow beats: within a sample (+ rounding); broad PVCs (sigma 34 ms) can be pulled a few
    # ms by fibrillatory waves riding on them
    assert max(errors_ms["N"] + errors_ms["A"]) <= 1000.0 / fs + 1.0
    assert max(errors_ms["V"]) <= 1000.0 / fs + 8.0
    assert np.median(errors_ms["V"]) <= 1000.0 / fs


def _main_lobe_width_s(x: NDArray[np.float64], i: int, fs: float) -> float:
    peak = x[i]
    lo = i
    while lo > 0 and np.sign(x[lo - 1]) == np.sign(peak) and abs(x[lo - 1]) > 0.1 * abs(peak):
        lo -= 1
    hi = i
    while hi < x.size - 1 and np.sign(x[hi + 1]) == np.sign(peak) and \
            abs(x[hi + 1]) > 0.1 * abs(peak):
        hi += 1
    return (hi - lo + 1) / fs


@pytest.mark.parametrize("fs", [128.0, 360.0, 1000.0])
def test_pvcs_are_wide_with_opposite_polarity_and_normal_beats_narrow(fs: float) -> None:
    ecg = make_ecg(fs, 300, seed=4, baseline_wander=False, white_noise_mv=0.0,
                   pvc_fraction=0.1)
    x = ecg.signal.astype(np.float64)
    widths: dict[str, list[float]] = {"N": [], "V": []}
    signs: dict[str, list[float]] = {"N": [], "V": []}
    for t, lab in zip(ecg.beats_s, ecg.beat_labels, strict=True):
        i = round(t * fs)
        if lab in widths and 0 < i < x.size - 1:
            widths[lab].append(_main_lobe_width_s(x, i, fs))
            signs[lab].append(float(np.sign(x[i])))
    assert len(widths["V"]) > 10
    assert min(widths["V"]) >= 0.120
    assert max(widths["N"]) <= 0.080
    assert set(signs["N"]) == {1.0} and set(signs["V"]) == {-1.0}


def test_narrow_pvc_option_gives_sub_100_ms_ectopic_complexes() -> None:
    fs = 500.0
    ecg = make_ecg(fs, 200, seed=4, baseline_wander=False, white_noise_mv=0.0,
                   pvc_fraction=0.1, wide_pvc=False)
    x = ecg.signal.astype(np.float64)
    widths = [_main_lobe_width_s(x, round(t * fs), fs)
              for t, lab in zip(ecg.beats_s, ecg.beat_labels, strict=True) if lab == "V"]
    assert len(widths) > 5
    assert max(widths) < 0.100


def _sinus_rr(ecg: object, i: int) -> float:
    """Median RR of the N-N pairs among the 10 beats around beat ``i``."""
    beats, labels = ecg.beats_s, ecg.beat_labels  # type: ignore[attr-defined]
    lo, hi = max(i - 6, 1), min(i + 6, beats.size)
    rr = [beats[k] - beats[k - 1] for k in range(lo, hi)
          if labels[k] == "N" and labels[k - 1] == "N"]
    return float(np.median(rr))


def test_pvcs_are_premature_and_followed_by_a_compensatory_pause() -> None:
    ecg = make_ecg(360, 900, seed=8, pvc_fraction=0.08, svpb_fraction=0.0)
    b, lab = ecg.beats_s, ecg.beat_labels
    checked = 0
    for i in range(8, b.size - 8):
        if lab[i] == "V" and lab[i - 1] == "N" and lab[i + 1] == "N":
            rr = _sinus_rr(ecg, i)
            assert b[i] - b[i - 1] < 0.75 * rr
            assert b[i + 1] - b[i - 1] == pytest.approx(2 * rr, rel=0.12)
            checked += 1
    assert checked > 20


def test_svpbs_are_premature_and_reset_the_sinus_node() -> None:
    ecg = make_ecg(360, 900, seed=9, pvc_fraction=0.0, svpb_fraction=0.08)
    b, lab = ecg.beats_s, ecg.beat_labels
    checked = 0
    for i in range(8, b.size - 8):
        if lab[i] == "A" and lab[i - 1] == "N" and lab[i + 1] == "N":
            rr = _sinus_rr(ecg, i)
            assert b[i] - b[i - 1] < 0.85 * rr
            assert b[i + 1] - b[i - 1] < 1.95 * rr  # non-compensatory
            checked += 1
    assert checked > 20


def test_af_rr_is_irregular_and_sinus_rr_regular() -> None:
    ecg = make_ecg(250, 1200, seed=2, pvc_fraction=0.0, svpb_fraction=0.0,
                   af_episodes=[(400, 800)])
    rr = np.diff(ecg.beats_s)
    mid = ecg.beats_s[1:]
    in_af = (mid > 410) & (mid < 790)
    in_sr = (mid < 390) | (mid > 810)

    def rmssd_norm(r: NDArray[np.float64]) -> float:
        return float(np.sqrt(np.mean(np.diff(r) ** 2)) / np.mean(r))

    assert rmssd_norm(rr[in_af]) > 4 * rmssd_norm(rr[in_sr])
    assert rmssd_norm(rr[in_af]) > 0.12
    labels = {r[2] for r in ecg.rhythms}
    assert labels == {"N", "AFIB"}
    (af,) = [r for r in ecg.rhythms if r[2] == "AFIB"]
    assert af[:2] == (400, 800)


def test_af_replaces_p_waves_with_fibrillatory_waves() -> None:
    fs = 500.0
    ecg = make_ecg(fs, 600, seed=12, pvc_fraction=0.0, svpb_fraction=0.0,
                   af_episodes=[(300, 600)], baseline_wander=False, white_noise_mv=0.0)
    x = ecg.signal.astype(np.float64)

    def pr_windows(t0: float, t1: float) -> NDArray[np.float64]:
        # 0.25-0.08 s before each R peak whose previous RR leaves that window free of T waves
        rows = []
        for k in range(1, ecg.beats_s.size):
            t = ecg.beats_s[k]
            if t0 < t < t1 and t - ecg.beats_s[k - 1] > 0.75:
                i = round((t - 0.25) * fs)
                rows.append(x[i : i + int(0.17 * fs)])
        return np.array(rows)

    sinus, af = pr_windows(5, 295), pr_windows(305, 595)
    assert len(sinus) > 100 and len(af) > 50
    # a time-locked P wave survives ensemble averaging in sinus rhythm, not in AF
    assert np.ptp(sinus.mean(axis=0)) > 0.1
    assert np.ptp(af.mean(axis=0) - af.mean()) < 0.05
    # f waves make AF PR windows vary from beat to beat
    assert np.mean(np.std(af - af.mean(axis=0), axis=0)) > 3 * np.mean(
        np.std(sinus - sinus.mean(axis=0), axis=0))


def test_pause_truth_spans_the_long_rr_interval() -> None:
    ecg = make_ecg(360, 300, seed=1, pvc_fraction=0.0, svpb_fraction=0.0,
                   pauses_s=[(100.0, 3.2), (200.0, 2.4)])
    pauses = [r for r in ecg.rhythms if r[2] == "PAUSE"]
    assert len(pauses) == 2
    for (a, b, _), length in zip(pauses, (3.2, 2.4), strict=True):
        assert b - a == pytest.approx(length, abs=1e-9)
        i = int(np.searchsorted(ecg.beats_s, a))
        assert ecg.beats_s[i] == a and ecg.beats_s[i + 1] == b


def test_vt_episode_is_a_fast_run_of_ventricular_beats() -> None:
    ecg = make_ecg(360, 120, seed=3, vt_episodes=[(50.0, 60.0)])
    inside = (ecg.beats_s >= 50.0) & (ecg.beats_s < 60.0)
    assert set(ecg.beat_labels[inside]) == {"V"}
    rr = np.diff(ecg.beats_s[inside])
    assert 60.0 / np.mean(rr) > 140.0
    assert (50.0, 60.0, "VT") in ecg.rhythms


def test_noise_bursts_raise_high_frequency_power_inside_the_truth_span() -> None:
    fs = 360.0
    ecg = make_ecg(fs, 200, seed=3, noise_bursts=[(100.0, 110.0)])
    assert (100.0, 110.0, "NOISE") in ecg.rhythms
    sos = butter(4, [40.0, 150.0], btype="bandpass", fs=fs, output="sos")
    hf = sosfiltfilt(sos, ecg.signal.astype(np.float64))
    assert np.std(hf[int(101 * fs) : int(109 * fs)]) > 4 * np.std(hf[int(20 * fs) : int(90 * fs)])


def test_polarity_flip_negates_the_signal_and_keeps_the_truth() -> None:
    a = make_ecg(256, 60, seed=7)
    b = make_ecg(256, 60, seed=7, polarity=-1)
    np.testing.assert_array_equal(a.signal, -b.signal)
    np.testing.assert_array_equal(a.beats_s, b.beats_s)


def test_mains_hum_adds_a_line_at_the_mains_frequency() -> None:
    ecg = make_ecg(500, 60, seed=7, mains_hz=50.0, mains_mv=0.05)
    f, p = welch(ecg.signal, fs=500, nperseg=2048)
    near = (f > 45) & (f < 55)
    assert f[near][np.argmax(p[near])] == pytest.approx(50.0, abs=0.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fs": 50.0}, "fs=50.0 Hz"),
        ({"fs": 5000.0}, "outside the supported range"),
        ({"af_episodes": [(60.0, 30.0)]}, "onset_s, offset_s"),
        ({"noise_bursts": [(10.0, 500.0)]}, "duration_s"),
        ({"pauses_s": [(10.0, 0.2)]}, "pause_length_s"),
        ({"polarity": 0}, "polarity"),
        ({"af_episodes": [(10.0, 50.0)], "vt_episodes": [(40.0, 45.0)]}, "must not overlap"),
    ],
)
def test_make_ecg_rejects_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"fs": 360.0}
    args.update(kwargs)
    fs = args.pop("fs")
    with pytest.raises(ValueError, match=match):
        make_ecg(fs, 120.0, seed=0, **args)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------- PSG


@pytest.fixture(scope="module")
def night() -> SynthPSG:
    return make_psg(3 * 3600, seed=7)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_hypnogram_of_a_night_has_cycles_early_n3_and_late_rem(seed: int) -> None:
    hyp = make_hypnogram(960, np.random.default_rng(seed))
    assert hyp.size == 960
    assert set(hyp) == {"W", "N1", "N2", "N3", "R"}
    onset = int(np.argmax(hyp != "W"))
    assert 8 * 2 <= onset <= 25 * 2 + 1  # sleep-onset latency 8-25 min
    n3 = np.nonzero(hyp == "N3")[0]
    assert np.mean(n3 < 480) > 0.75  # N3 mostly in the first half
    rem = np.nonzero(hyp == "R")[0]
    assert np.sum(rem >= 480) > 1.5 * np.sum(rem < 480)  # REM longer late
    # REM periods: runs of R separated by more than 15 min of other stages
    starts = rem[np.concatenate([[True], np.diff(rem) > 30])]
    assert 3 <= starts.size <= 6
    assert 0.1 < np.mean(hyp == "R") < 0.3
    assert 0.4 < np.mean(hyp == "N2") < 0.65


def test_psg_channels_keep_their_native_rates(night: SynthPSG) -> None:
    names = [c.name for c in night.channels]
    assert names == [*EEG_DERIVATIONS[:6], "E1-M2", "E2-M2", "Chin EMG", "ECG", "Airflow",
                     "Thorax", "Abdomen", "SpO2"]
    rates = {c.name: c.fs for c in night.channels}
    assert rates["C3-M2"] == rates["E1-M2"] == rates["Chin EMG"] == rates["ECG"] == 256.0
    assert rates["Airflow"] == rates["Thorax"] == rates["Abdomen"] == 32.0
    assert rates["SpO2"] == 1.0
    for c in night.channels:
        assert c.data.dtype == np.float32
        assert c.data.size == round(3 * 3600 * c.fs)
        assert np.all(np.isfinite(c.data))
    assert night.channel("SpO2").unit == "%"
    assert night.hypnogram.size == 3 * 3600 // 30
    assert night.epoch_s == 30.0


def test_psg_uniform_rate_gives_twenty_channels_at_256_hz() -> None:
    psg = make_psg(600, seed=1, n_eeg=12, uniform_fs=256.0)
    assert len(psg.channels) == 20
    assert {c.fs for c in psg.channels} == {256.0}
    assert {c.data.size for c in psg.channels} == {600 * 256}
    assert len({c.name for c in psg.channels}) == 20


def test_psg_is_deterministic_and_hypnogram_independent_of_channels() -> None:
    a = make_psg(900, seed=3)
    b = make_psg(900, seed=3)
    c = make_psg(900, seed=3, n_eeg=2, emg_fs=512.0)
    for x, y in zip(a.channels, b.channels, strict=True):
        np.testing.assert_array_equal(x.data, y.data)
    assert list(a.hypnogram) == list(c.hypnogram)
    assert c.channel("Chin EMG").fs == 512.0
    assert [ch.name for ch in c.channels][:2] == ["C3-M2", "C4-M1"]


def _band_power(x: NDArray[np.float32], fs: float, lo: float, hi: float) -> float:
    f, p = welch(x.astype(np.float64), fs=fs, nperseg=int(4 * fs))
    sel = (f >= lo) & (f < hi)
    return float(np.sum(p[sel]) * (f[1] - f[0]))


def _epochs(psg: SynthPSG, name: str, stage: str) -> list[NDArray[np.float32]]:
    ch = psg.channel(name)
    n = int(psg.epoch_s * ch.fs)
    return [ch.data[i * n : (i + 1) * n] for i in np.nonzero(psg.hypnogram == stage)[0]]


def test_n3_has_more_delta_power_than_wake(night: SynthPSG) -> None:
    delta = {s: np.median([_band_power(e, 256, 0.5, 2.0) for e in _epochs(night, "C3-M2", s)])
             for s in ("W", "N3")}
    assert delta["N3"] > 10 * delta["W"]


def test_wake_has_more_occipital_alpha_than_n2(night: SynthPSG) -> None:
    alpha = {s: np.median([_band_power(e, 256, 8.0, 12.0) for e in _epochs(night, "O1-M2", s)])
             for s in ("W", "N2")}
    assert alpha["W"] > 4 * alpha["N2"]
    w_o = np.median([_band_power(e, 256, 8, 12) for e in _epochs(night, "O1-M2", "W")])
    w_f = np.median([_band_power(e, 256, 8, 12) for e in _epochs(night, "F3-M2", "W")])
    assert w_o > 2 * w_f  # occipital dominant


def test_n3_epochs_hold_high_amplitude_slow_waves(night: SynthPSG) -> None:
    fs = 256.0
    sos = butter(2, [0.5, 2.0], btype="bandpass", fs=fs, output="sos")
    fractions = []
    for e in _epochs(night, "F3-M2", "N3"):
        slow = sosfiltfilt(sos, e.astype(np.float64))
        # peak-to-peak over each half-second-stepped 1-s window
        win = slow[: slow.size // 128 * 128].reshape(-1, 128)
        ptp = np.array([np.ptp(slow[i * 128 : i * 128 + 256]) for i in range(win.shape[0] - 1)])
        fractions.append(np.mean(ptp > 75.0))
    assert np.mean(np.array(fractions) >= 0.2) > 0.9


def test_spindle_windows_have_more_sigma_power_than_their_neighbours(night: SynthPSG) -> None:
    fs = 256.0
    x = night.channel("C3-M2").data.astype(np.float64)
    sigma = sosfiltfilt(butter(4, [11.0, 16.0], btype="bandpass", fs=fs, output="sos"), x)
    ratios = []
    for onset, dur, ch in night.spindles:
        if ch != "C3-M2" or onset < 5:
            continue
        i0, i1 = int(onset * fs), int((onset + dur) * fs)
        before = sigma[i0 - int(3.5 * fs) : i0 - int(1.5 * fs)]
        ratios.append(np.mean(sigma[i0:i1] ** 2) / np.mean(before**2))
    assert len(ratios) > 100
    assert np.median(ratios) > 3.0
    assert all(0.5 <= d <= 2.0 for _, d, _ in night.spindles)
    n2_min = np.sum(night.hypnogram == "N2") * 0.5
    rate = len({o for o, _, c in night.spindles if c == "C3-M2"}) / n2_min
    assert 2.0 < rate < 8.0  # several per minute of N2


def test_spindles_and_k_complexes_fall_in_nrem(night: SynthPSG) -> None:
    def stage_at(t: float) -> str:
        return str(night.hypnogram[int(t // 30)])

    assert {stage_at(o) for o, _, _ in night.spindles} <= {"N2", "N3"}
    assert {stage_at(o) for o, _ in night.k_complexes} <= {"N2", "N3"}
    assert len(night.k_complexes) > 0


def test_k_complexes_are_large_negative_then_positive_waves(night: SynthPSG) -> None:
    fs = 256.0
    x = night.channel("F3-M2").data
    troughs, peaks = [], []
    for onset, ch in night.k_complexes:
        if ch != "F3-M2":
            continue
        i = round(onset * fs)
        troughs.append(float(x[i + int(0.2 * fs) : i + int(0.4 * fs)].min()))
        peaks.append(float(x[i + int(0.6 * fs) : i + int(0.95 * fs)].max()))
    assert len(troughs) > 20
    assert np.median(troughs) < -60.0
    assert np.median(peaks) > 10.0


def test_chin_emg_tone_drops_from_wake_to_nrem_to_rem(night: SynthPSG) -> None:
    rms = {s: np.median([np.std(e) for e in _epochs(night, "Chin EMG", s)])
           for s in ("W", "N2", "R")}
    assert rms["W"] > 1.5 * rms["N2"] > 1.5 * 1.5 * rms["R"]


def test_eye_movements_are_opposite_on_e1_and_e2(night: SynthPSG) -> None:
    fs = 256.0
    e1, e2 = night.channel("E1-M2").data, night.channel("E2-M2").data
    rems = [(o, d) for o, d, k in night.eye_movements if k == "REM"]
    assert rems and all(night.hypnogram[int(o // 30)] == "R" for o, _ in rems)
    i0 = np.concatenate([np.arange(int(o * fs), int((o + 0.5) * fs)) for o, _ in rems])
    assert np.corrcoef(e1[i0], e2[i0])[0, 1] < -0.5
    kinds = {k for _, _, k in night.eye_movements}
    assert {"blink", "REM", "SEM"} <= kinds


def test_stage_changes_are_smooth_at_epoch_boundaries(night: SynthPSG) -> None:
    x = night.channel("C3-M2").data.astype(np.float64)
    d = np.abs(np.diff(x))
    typical = np.percentile(d, 99.9)
    n = 30 * 256
    changes = np.nonzero(night.hypnogram[1:] != night.hypnogram[:-1])[0] + 1
    assert changes.size > 5
    assert max(d[b * n - 1] for b in changes) < typical


def test_desaturations_follow_respiratory_events() -> None:
    psg = make_psg(2 * 3600, seed=5, ahi_per_h=25.0)
    spo2 = psg.channel("SpO2").data
    assert spo2.min() >= 85.0 and spo2.max() <= 100.0
    assert len(psg.respiratory_events) > 20
    for (o, d, _), (ds, dd, drop) in zip(psg.respiratory_events, psg.desaturations,
                                          strict=True):
        assert ds > o and ds + dd > o + d
        before = float(np.percentile(spo2[max(int(o) - 60, 0) : int(o)], 90))
        assert spo2[int(ds) : int(ds + dd)].min() <= before - np.floor(drop) + 1
    flow = psg.channel("Airflow").data
    o, d, _kind = next(e for e in psg.respiratory_events if "apnea" in e[0:3][2])
    during = np.std(flow[int((o + 3) * 32) : int((o + d - 3) * 32)])
    assert during < 0.25 * np.std(flow[int((o - 40) * 32) : int((o - 5) * 32)])


@pytest.mark.parametrize("bad", [{"n_eeg": 0}, {"n_eeg": 20}, {"eeg_fs": 10.0}])
def test_make_psg_rejects_bad_parameters(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        make_psg(600, seed=1, **bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- seizures


@pytest.fixture(scope="module")
def seizure_eeg() -> SynthEEG:
    return make_seizure_eeg(1800, seed=3, seizures=[(300.0, 360.0), (1200.0, 1290.0)])


def _line_length(x: NDArray[np.float32], fs: float, win_s: float = 5.0) -> NDArray[np.float64]:
    n = int(win_s * fs)
    d = np.abs(np.diff(x.astype(np.float64)))
    return np.asarray(d[: d.size // n * n].reshape(-1, n).sum(axis=1), dtype=np.float64)


def test_seizure_eeg_is_deterministic_and_keeps_its_layout() -> None:
    a = make_seizure_eeg(120, seed=2, seizures=[(40, 70)])
    b = make_seizure_eeg(120, seed=2, seizures=[(40, 70)])
    for x, y in zip(a.channels, b.channels, strict=True):
        np.testing.assert_array_equal(x.data, y.data)
    assert len(a.channels) == 19
    assert a.channels[0].name == "Fp1-Ref"
    assert {c.fs for c in a.channels} == {256.0}
    assert [s[:2] for s in a.seizures] == [(40, 70)]


def test_seizure_windows_have_higher_line_length_than_background(seizure_eeg: SynthEEG) -> None:
    fs = 256.0
    names = [c.name for c in seizure_eeg.channels]
    for onset, offset, chans in seizure_eeg.seizures:
        x = seizure_eeg.channels[names.index(chans[0])].data
        ll = _line_length(x, fs)
        t = np.arange(ll.size) * 5.0
        ictal = ll[(t >= onset + 10) & (t + 5 <= offset)]
        far = np.ones(ll.size, dtype=bool)
        for a, b, _ in seizure_eeg.seizures:
            far &= (t + 5 < a - 30) | (t > b + 300)
        assert np.median(ictal) > 2.5 * np.median(ll[far])


def test_seizures_start_focally_and_spread(seizure_eeg: SynthEEG) -> None:
    fs = 256.0
    names = [c.name for c in seizure_eeg.channels]
    for onset, _, chans in seizure_eeg.seizures:
        assert len(chans) >= 2
        first = seizure_eeg.channels[names.index(chans[0])].data
        last = seizure_eeg.channels[names.index(chans[-1])].data
        i0, i1 = int((onset + 1) * fs), int((onset + 4) * fs)
        assert np.std(first[i0:i1]) > 1.5 * np.std(last[i0:i1])


def test_seizure_discharge_slows_over_the_episode(seizure_eeg: SynthEEG) -> None:
    fs = 256.0
    names = [c.name for c in seizure_eeg.channels]
    for onset, offset, chans in seizure_eeg.seizures:
        x = seizure_eeg.channels[names.index(chans[0])].data.astype(np.float64)
        third = (offset - onset) / 3

        def peak_hz(a: float, b: float, x: NDArray[np.float64] = x) -> float:
            f, p = welch(x[int(a * fs) : int(b * fs)], fs=fs, nperseg=int(4 * fs))
            sel = (f > 1.0) & (f < 12.0)
            return float(f[sel][np.argmax(p[sel])])

        early, late = peak_hz(onset + 5, onset + third), peak_hz(offset - third, offset - 2)
        assert 3.0 <= early <= 8.5
        assert late < early


def test_post_ictal_slowing_on_the_focus(seizure_eeg: SynthEEG) -> None:
    names = [c.name for c in seizure_eeg.channels]
    onset, offset, chans = seizure_eeg.seizures[0]
    x = seizure_eeg.channels[names.index(chans[0])].data
    fs = 256
    pre = _band_power(x[int((onset - 70) * fs) : int((onset - 10) * fs)], fs, 0.5, 3.0)
    post = _band_power(x[int((offset + 3) * fs) : int((offset + 33) * fs)], fs, 0.5, 3.0)
    assert post > 2 * pre


def test_default_seizures_fit_the_recording_and_artifacts_are_listed() -> None:
    eeg = make_seizure_eeg(3600, seed=1, n_channels=8)
    assert 2 <= len(eeg.seizures) <= 4
    for onset, offset, chans in eeg.seizures:
        assert 0 < onset < offset < 3600 and 30 <= offset - onset <= 90
        assert set(chans) <= {c.name for c in eeg.channels}
    assert {a[2] for a in eeg.artifacts} == {"blink", "muscle", "electrode pop"}


def test_make_seizure_eeg_rejects_overlapping_seizures() -> None:
    with pytest.raises(ValueError, match="overlap"):
        make_seizure_eeg(300, seed=1, seizures=[(50, 100), (90, 120)])
    with pytest.raises(ValueError, match="duration_s"):
        make_seizure_eeg(300, seed=1, seizures=[(250, 320)])


# ------------------------------------------------------------------------------------ writers


@pytest.mark.parametrize("wfdb_format", ["16", "212"])
def test_ecg_wfdb_record_reads_back_with_beats_and_rhythms(tmp_path: Path,
                                                           wfdb_format: str) -> None:
    ecg = make_ecg(360, 600, seed=4, af_episodes=[(200, 300)], noise_bursts=[(400, 410)])
    files = write_ecg_record(tmp_path / "rec", ecg, "wfdb", wfdb_format=wfdb_format)  # type: ignore[arg-type]
    assert [f.name for f in files] == ["rec.hea", "rec.dat", "rec.atr", "rec.truth.json"]
    rec = open_recording(tmp_path / "rec.hea")
    assert rec.channels[0].fs == 360.0 and rec.channels[0].unit == "mV"
    assert rec.start_time is not None and rec.start_time.strftime("%H:%M:%S") == "22:47:00"
    x = rec.read(0, 0, rec.channels[0].n_samples)
    step = 1 / 1000 if wfdb_format == "16" else 1 / 200
    assert np.max(np.abs(x - np.clip(ecg.signal, -10, 10))) <= step / 2 + 1e-6
    anns = rec.annotations()
    beats = [a for a in anns if a.kind == "beat"]
    assert [a.label for a in beats] == list(ecg.beat_labels)
    np.testing.assert_allclose([a.onset_s for a in beats], ecg.beats_s, atol=0.5 / 360)
    rhythms = [(a.onset_s, a.label) for a in anns if a.kind == "rhythm"]
    assert (200.0, "AFIB") in rhythms and (400.0, "NOISE") in rhythms
    truth = json.loads((tmp_path / "rec.truth.json").read_text())
    assert truth["schema"] == "wavescore.synth-truth/1"
    assert truth["beats"]["label"] == list(ecg.beat_labels)


def test_ecg_edf_reads_back_with_beat_annotations(tmp_path: Path) -> None:
    ecg = make_ecg(250, 120, seed=4)
    files = write_ecg_record(tmp_path / "rec.edf", ecg, "edf")
    rec = open_recording(files[0])
    beats = [a for a in rec.annotations() if a.label in ("N", "V", "A")]
    np.testing.assert_allclose([a.onset_s for a in beats], ecg.beats_s, atol=1e-4)
    x = rec.read(0, 0, 250 * 120)
    assert np.max(np.abs(x - ecg.signal)) < 20.0 / 65535 + 1e-6


def test_psg_edf_reads_back_with_native_rates_and_stages(tmp_path: Path) -> None:
    psg = make_psg(1800, seed=2)
    files = write_psg_edf(tmp_path / "night", psg, embed_events=True)
    assert [f.name for f in files] == ["night.edf", "night.truth.json", "night.hypnogram.txt"]
    rec = open_recording(files[0])
    assert [(c.name, c.fs, c.unit) for c in rec.channels] == \
        [(c.name, c.fs, c.unit) for c in psg.channels]
    stages = [a for a in rec.annotations() if a.kind == "stage"]
    assert [a.label.removeprefix("Sleep stage ") for a in stages] == list(psg.hypnogram)
    assert [a.onset_s for a in stages] == [30.0 * i for i in range(psg.hypnogram.size)]
    spindle_marks = [a for a in rec.annotations() if a.label.startswith("Spindle ")]
    assert len(spindle_marks) == len(psg.spindles)
    c3 = rec.read("C3-M2", 0, 256 * 60)
    ref = psg.channel("C3-M2").data[: 256 * 60]
    assert np.max(np.abs(c3 - ref)) < (ref.max() - ref.min()) / 65535 * 2 + 0.05
    hyp = (tmp_path / "night.hypnogram.txt").read_text().split()
    assert hyp == list(psg.hypnogram)
    truth = json.loads(files[1].read_text())
    assert truth["hypnogram"] == hyp and len(truth["spindles"]) == len(psg.spindles)


def test_eeg_edf_reads_back_with_seizure_annotations(tmp_path: Path) -> None:
    eeg = make_seizure_eeg(300, seed=2, seizures=[(100.0, 150.0)], n_channels=4)
    files = write_eeg_edf(tmp_path / "sz.edf", eeg)
    rec = open_recording(files[0])
    assert len(rec.channels) == 4
    (sz,) = [a for a in rec.annotations() if a.label == "Seizure"]
    assert (sz.onset_s, sz.duration_s) == (100.0, 50.0)
    truth = json.loads(files[1].read_text())
    assert truth["seizures"][0]["channels"] == list(eeg.seizures[0][2])


def test_demo_recordings_are_generated_once_and_cached(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import signal_io.synth as synth

    calls: list[str] = []
    real_psg, real_eeg = synth.make_psg, synth.make_seizure_eeg

    def small_psg(duration_s: float, **kw: object) -> SynthPSG:
        calls.append("psg")
        return real_psg(600, **kw)  # type: ignore[arg-type]

    def small_eeg(duration_s: float, **kw: object) -> SynthEEG:
        calls.append("eeg")
        return real_eeg(120, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(synth, "make_psg", small_psg)
    monkeypatch.setattr(synth, "make_seizure_eeg", small_eeg)
    paths = ensure_demo_recordings(tmp_path / "synthetic")
    assert [p.name for p in paths] == [synth.DEMO_PSG_NAME, synth.DEMO_EEG_NAME]
    assert all(p.exists() for p in paths)
    assert calls == ["psg", "eeg"]
    ensure_demo_recordings(tmp_path / "synthetic")
    assert calls == ["psg", "eeg"]
    paths[1].with_name(paths[1].stem + ".truth.json").unlink()
    ensure_demo_recordings(tmp_path / "synthetic")
    assert calls == ["psg", "eeg", "eeg"]
    leftovers = [p.name for p in (tmp_path / "synthetic").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert open_recording(paths[0]).channels[0].name == "C3-M2"


def test_cli_synth_writes_recording_and_truth(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from server.cli import main

    assert main(["synth", "ecg", "--out", str(tmp_path / "e"), "--duration-s", "60",
                 "--seed", "3", "--fs", "500"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and (tmp_path / "e.atr").exists()
    assert open_recording(tmp_path / "e.hea").channels[0].fs == 500.0
    assert main(["synth", "eeg", "--out", str(tmp_path / "z.edf"), "--duration-s", "60",
                 "--channels", "3"]) == 0
    assert len(open_recording(tmp_path / "z.edf").channels) == 3
    assert main(["synth", "psg", "--out", str(tmp_path / "p"), "--duration-s", "300",
                 "--channels", "12", "--uniform-fs", "256"]) == 0
    assert {c.fs for c in open_recording(tmp_path / "p.edf").channels} == {256.0}
    assert main(["synth", "ecg", "--out", str(tmp_path / "bad"), "--fs", "20"]) == 1
