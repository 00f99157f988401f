"""Building blocks of :func:`signal_io.synth.psg.make_psg` (EEG/EOG/EMG, events, ECG, breathing).

Private: the public entry point and the truth it returns are documented in
:mod:`signal_io.synth.psg`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from signal_io.synth import _spectral as sp
from signal_io.synth import _waves as wv
from signal_io.synth._hypnogram import STAGES

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

# Components of the EEG background: (shape, lo_hz, hi_hz).
COMPONENTS: tuple[tuple[str, float, float], ...] = (
    ("pink", 0.4, 60.0),
    ("peak", 0.4, 2.2),  # delta, centred ~1.3 Hz
    ("band", 4.0, 7.0),  # theta
    ("peak", 8.5, 11.5),  # alpha, centred 10 Hz
    ("band", 15.0, 30.0),  # beta
)
# RMS amplitude (µV) of each component per stage W, N1, N2, N3, R at a central derivation.
STAGE_RMS_UV = np.array(
    [
        [9.0, 4.0, 4.0, 10.0, 5.0],
        [9.0, 8.0, 12.0, 3.0, 3.0],
        [10.0, 16.0, 12.0, 2.0, 2.5],
        [10.0, 48.0, 10.0, 1.0, 1.5],
        [8.0, 6.0, 11.0, 3.0, 4.0],
    ]
)
# Gain of each component per scalp region (E: leak of frontal EEG into the EOG derivations).
REGION_GAIN: dict[str, F64] = {
    "Fp": np.array([1.0, 1.0, 0.9, 0.35, 1.1]),
    "F": np.array([1.0, 1.1, 1.0, 0.5, 1.1]),
    "C": np.array([1.0, 1.0, 1.0, 0.8, 1.0]),
    "T": np.array([1.0, 0.8, 0.85, 0.8, 1.0]),
    "P": np.array([1.0, 0.85, 0.9, 1.5, 0.9]),
    "O": np.array([1.0, 0.75, 0.85, 2.0, 0.9]),
    "E": np.array([0.6, 0.8, 0.4, 0.2, 0.4]),
}
# Chin EMG RMS (µV) per stage W, N1, N2, N3, R.
EMG_RMS_UV = np.array([14.0, 8.0, 5.0, 4.5, 1.5])
SHARED_FRACTION = 0.65  # correlation of the background between any two EEG/EOG channels
HOP_S = 2.0
SPINDLE_MIN_UV = 12.0
KC_MIN_UV = 50.0


def region_of(name: str) -> str:
    """Scalp region of a derivation (``"Fp1-M2"`` -> ``"Fp"``, ``"Cz-M2"`` -> ``"C"``)."""
    head = name.split("-")[0]
    if head.startswith("Fp"):
        return "Fp"
    if head.startswith("E"):
        return "E"
    return head[0].upper()


def side_of(name: str) -> str:
    """``"L"`` (odd electrode number), ``"R"`` (even) or ``"Z"`` (midline)."""
    head = name.split("-")[0]
    digits = "".join(c for c in head if c.isdigit())
    if not digits:
        return "Z"
    return "L" if int(digits) % 2 else "R"


def _per_second(per_epoch: F64, epoch_s: float, duration_s: float) -> F64:
    n_sec = int(np.ceil(duration_s))
    idx = np.minimum((np.arange(n_sec) // epoch_s).astype(np.int64), per_epoch.shape[0] - 1)
    return np.asarray(per_epoch[idx], dtype=np.float64)


def _spectral_channels(
    grid: sp.FrameGrid,
    var_frames: list[F64],
    psd_comps: F64,
    rng: np.random.Generator,
    shared: float,
) -> list[F32]:
    """Synthesise channels whose per-frame component variances are ``var_frames[ch]``."""
    outs = [sp.OverlapAdd(grid) for _ in var_frames]
    a, b = np.float32(np.sqrt(shared)), np.float32(np.sqrt(1.0 - shared))
    # bins above the highest one with non-negligible power stay zero (no noise drawn for them)
    peak = psd_comps.max(axis=0)
    n_freq = int(np.nonzero(peak > 1e-6 * peak.max())[0][-1]) + 1
    psd32 = np.ascontiguousarray(psd_comps[:, :n_freq], dtype=np.float32)
    var32 = [np.asarray(v, dtype=np.float32) for v in var_frames]
    for k0, k1 in sp.iter_chunks(grid):
        z_shared = a * sp.complex_noise(rng, (k1 - k0, n_freq)) if shared > 0 else None
        for ola, var in zip(outs, var32, strict=True):
            mag = np.sqrt(var[k0:k1] @ psd32)
            z = sp.complex_noise(rng, (k1 - k0, n_freq))
            if z_shared is not None:
                z *= b
                z += z_shared
            ola.feed(k0, sp.synth_frames(mag, z, grid.frame_len, ola.window))
    return [o.finish() for o in outs]


def synth_exg(
    names: list[str],
    stage_idx: NDArray[np.int64],
    epoch_s: float,
    duration_s: float,
    eeg_fs: float,
    emg_fs: float,
    r_eeg: np.random.Generator,
    r_emg: np.random.Generator,
) -> tuple[list[F32], list[F32], F32]:
    """Background EEG (one array per name), EOG (E1, E2) and chin EMG."""
    n_epochs = stage_idx.size
    levels = STAGE_RMS_UV[stage_idx] * r_eeg.lognormal(0.0, 0.15, (n_epochs, len(COMPONENTS)))
    wake = stage_idx == STAGES.index("W")
    levels[wake, 3] *= r_eeg.uniform(0.3, 1.3, int(wake.sum()))  # eyes open / closed
    var_sec = _per_second(levels**2, epoch_s, duration_s)

    grid = sp.FrameGrid.for_signal(round(duration_s * eeg_fs), eeg_fs, HOP_S)
    var_frames = sp.box_average(var_sec, grid.centres_s, HOP_S)
    freqs = grid.freqs_hz
    psd = np.stack([grid.unit_psd(sp.band_shape(freqs, k, lo, min(hi, 0.45 * eeg_fs)))
                    for k, lo, hi in COMPONENTS])
    regions = [*(region_of(n) for n in names), "E", "E"]
    per_ch = [var_frames * REGION_GAIN[r] ** 2 for r in regions]
    chans = _spectral_channels(grid, per_ch, psd, r_eeg, SHARED_FRACTION)
    eeg, eog = chans[: len(names)], chans[len(names):]

    emg_levels = EMG_RMS_UV[stage_idx] * r_emg.lognormal(0.0, 0.2, n_epochs)
    emg_grid = sp.FrameGrid.for_signal(round(duration_s * emg_fs), emg_fs, 1.0)
    emg_var = sp.box_average(_per_second(emg_levels[:, None] ** 2, epoch_s, duration_s),
                             emg_grid.centres_s, 1.0)
    emg_psd = emg_grid.unit_psd(sp.band_shape(emg_grid.freqs_hz, "band", 10.0,
                                              min(100.0, 0.45 * emg_fs)))[None, :]
    (emg,) = _spectral_channels(emg_grid, [emg_var], emg_psd, r_emg, 0.0)
    return eeg, eog, emg


@dataclass
class EegEvents:
    """Transients drawn for a night, before rendering (times in s, amplitudes in µV)."""

    spindles: list[tuple[float, float, float, float]] = field(default_factory=list)
    kcs: list[tuple[float, float]] = field(default_factory=list)
    vertex: list[tuple[float, float]] = field(default_factory=list)
    sawtooth: list[tuple[float, float]] = field(default_factory=list)
    sawtooth_params: list[tuple[float, float]] = field(default_factory=list)

    @property
    def vertex_onsets(self) -> list[float]:
        """Onsets of vertex waves."""
        return [t for t, _ in self.vertex]


def _poisson_onsets(
    rng: np.random.Generator, lam: float, t0: float, span_s: float
) -> list[float]:
    return sorted(float(x) for x in rng.uniform(t0, t0 + span_s, rng.poisson(lam)))


def draw_eeg_events(
    rng: np.random.Generator, hyp: NDArray[np.str_], epoch_s: float, duration_s: float
) -> EegEvents:
    """Draw spindles, K-complexes, vertex waves and sawtooth trains from the hypnogram."""
    ev = EegEvents()
    scale = epoch_s / 30.0
    spindle_rate = {"N2": 2.0, "N3": 0.6}
    spindles: list[tuple[float, float, float, float]] = []
    for e, stage in enumerate(hyp):
        t0 = e * epoch_s
        span = min(epoch_s, duration_s - t0)
        if span <= 0:
            break
        if stage in spindle_rate:
            for t in _poisson_onsets(rng, spindle_rate[stage] * scale, t0, span):
                spindles.append(_draw_spindle(rng, t))
        if stage in ("N2", "N3"):
            lam = 0.7 if stage == "N2" else 0.1
            for t in _poisson_onsets(rng, lam * scale, t0, span):
                if ev.kcs and t - ev.kcs[-1][0] < 3.0:
                    continue
                ev.kcs.append((t, float(rng.uniform(80.0, 160.0))))
                if rng.random() < 0.3:
                    spindles.append(_draw_spindle(rng, t + 1.0))
        if stage == "N1":
            for t in _poisson_onsets(rng, 0.5 * scale, t0, span):
                ev.vertex.append((t, float(rng.uniform(50.0, 100.0))))
        if stage == "R":
            for t in _poisson_onsets(rng, 0.35 * scale, t0, span):
                dur = float(rng.uniform(2.0, 5.0))
                ev.sawtooth.append((t, dur))
                ev.sawtooth_params.append((float(rng.uniform(2.0, 3.5)),
                                           float(rng.uniform(20.0, 45.0))))
    spindles.sort()
    kept: list[tuple[float, float, float, float]] = []
    for s in spindles:
        if s[0] + s[1] > duration_s - 0.5:
            continue
        if kept and s[0] < kept[-1][0] + kept[-1][1] + 1.0:
            continue
        kept.append(s)
    ev.spindles = kept
    ev.kcs = [k for k in ev.kcs if k[0] + 1.4 < duration_s]
    ev.vertex = [v for v in ev.vertex if v[0] + 0.5 < duration_s]
    keep = [i for i, (t, d) in enumerate(ev.sawtooth) if t + d < duration_s]
    ev.sawtooth = [ev.sawtooth[i] for i in keep]
    ev.sawtooth_params = [ev.sawtooth_params[i] for i in keep]
    return ev


def _draw_spindle(rng: np.random.Generator, onset_s: float) -> tuple[float, float, float, float]:
    dur = float(np.clip(rng.lognormal(np.log(0.9), 0.3), 0.5, 2.0))
    return (onset_s, dur, float(rng.uniform(11.5, 15.5)), float(rng.uniform(18.0, 45.0)))


def _spindle_topography(rng: np.random.Generator, freq_hz: float) -> dict[str, float]:
    return {
        "C": 1.0,
        "F": float(rng.uniform(0.8, 1.1) if freq_hz < 13.0 else rng.uniform(0.4, 0.8)),
        "P": float(rng.uniform(0.5, 0.9)),
        "O": float(rng.uniform(0.15, 0.35)),
        "T": float(rng.uniform(0.3, 0.5)),
        "Fp": float(rng.uniform(0.2, 0.5)),
    }


_KC_TOPO = {"F": 1.0, "Fp": 0.9, "C": 0.85, "P": 0.6, "T": 0.5, "O": 0.3}
_VERTEX_TOPO = {"C": 1.0, "F": 0.6, "Fp": 0.4, "P": 0.7, "T": 0.4, "O": 0.3}
_SAW_TOPO = {"C": 1.0, "F": 0.8, "Fp": 0.5, "P": 0.6, "T": 0.5, "O": 0.4}


def add_eeg_events(
    eeg: list[F32], names: list[str], fs: float, ev: EegEvents, rng: np.random.Generator
) -> tuple[list[tuple[float, float, str]], list[tuple[float, str]]]:
    """Render the transients into the EEG channels; return spindle and K-complex truth."""
    regions = [region_of(n) for n in names]
    sides = [side_of(n) for n in names]
    spindle_truth: list[tuple[float, float, str]] = []
    for onset, dur, freq, amp in ev.spindles:
        topo = _spindle_topography(rng, freq)
        side_gain = {"L": float(rng.uniform(0.85, 1.0)), "R": float(rng.uniform(0.85, 1.0)),
                     "Z": 1.0}
        phase = float(rng.uniform(0.0, 2.0 * np.pi))
        for x, name, reg, side in zip(eeg, names, regions, sides, strict=True):
            peak = amp * topo[reg] * side_gain[side]
            wv.add_at(x, fs, onset - 0.125 * dur, wv.spindle(fs, dur, freq, peak, phase))
            if peak >= SPINDLE_MIN_UV:
                spindle_truth.append((onset, dur, name))
    kc_truth: list[tuple[float, str]] = []
    for onset, amp in ev.kcs:
        jitter = rng.uniform(0.9, 1.1, len(names))
        for x, name, reg, j in zip(eeg, names, regions, jitter, strict=True):
            peak = amp * _KC_TOPO[reg] * float(j)
            wv.add_at(x, fs, onset, wv.k_complex(fs, peak))
            if peak >= KC_MIN_UV:
                kc_truth.append((onset, name))
    for onset, amp in ev.vertex:
        for x, reg in zip(eeg, regions, strict=True):
            wv.add_at(x, fs, onset, wv.vertex_wave(fs, amp * _VERTEX_TOPO[reg]))
    for (onset, dur), (freq, amp) in zip(ev.sawtooth, ev.sawtooth_params, strict=True):
        for x, reg in zip(eeg, regions, strict=True):
            wv.add_at(x, fs, onset, wv.sawtooth_train(fs, dur, freq, amp * _SAW_TOPO[reg]))
    spindle_truth.sort()
    kc_truth.sort()
    return spindle_truth, kc_truth


def add_kc_to_eog(eog: list[F32], fs: float, ev: EegEvents) -> None:
    """K-complexes and vertex waves reach the EOG derivations in phase (frontal leak)."""
    for onset, amp in ev.kcs:
        for x in eog:
            wv.add_at(x, fs, onset, wv.k_complex(fs, 0.5 * amp))


def add_eye_movements(
    eog: list[F32],
    eeg: list[F32],
    names: list[str],
    fs: float,
    hyp: NDArray[np.str_],
    epoch_s: float,
    duration_s: float,
    rng: np.random.Generator,
) -> list[tuple[float, float, str]]:
    """Add eye movements (opposite polarity on E1 and E2); return their truth.

    Blinks also reach frontal-pole and frontal EEG channels.
    """
    eye = np.zeros(eog[0].size, dtype=np.float32)  # E1-M2 polarity
    blinks = np.zeros(eog[0].size, dtype=np.float32)
    truth: list[tuple[float, float, str]] = []
    scale = epoch_s / 30.0
    first_sleep = int(np.argmax(hyp != "W")) if np.any(hyp != "W") else hyp.size
    tau = 0.55
    for e, stage in enumerate(hyp):
        t0 = e * epoch_s
        span = min(epoch_s, duration_s - t0) - 3.0
        if span <= 0:
            break
        if stage == "W":
            for t in _poisson_onsets(rng, 6.0 * scale, t0, span):
                wv.add_at(blinks, fs, t, wv.blink(fs, float(rng.uniform(80.0, 200.0))))
                truth.append((t, 0.4, "blink"))
            for t in _poisson_onsets(rng, 5.0 * scale, t0, span):
                amp = float(rng.choice([-1.0, 1.0]) * rng.uniform(20.0, 120.0))
                wv.add_at(eye, fs, t, wv.eye_step(fs, amp, 0.04, tau))
                truth.append((t, 0.3, "saccade"))
        near_onset = stage == "W" and first_sleep - 3 <= e < first_sleep
        if (stage == "N1" or near_onset) and rng.random() < 0.7:
            dur = float(min(rng.uniform(6.0, 20.0), span))
            if dur >= 3.0:
                t = float(rng.uniform(t0, t0 + span - dur + 1e-9))
                wave = wv.slow_eye_movement(fs, dur, float(rng.uniform(0.15, 0.4)),
                                            float(rng.uniform(60.0, 150.0)))
                wv.add_at(eye, fs, t, wave)
                truth.append((t, dur, "SEM"))
        if stage == "R":
            for t_burst in _poisson_onsets(rng, 1.2 * scale, t0, max(span - 6.0, 0.0)):
                t = t_burst
                for _ in range(int(rng.integers(2, 9))):
                    amp = float(rng.choice([-1.0, 1.0]) * rng.uniform(50.0, 200.0))
                    rise = float(rng.uniform(0.02, 0.05))
                    wv.add_at(eye, fs, t, wv.eye_step(fs, amp, rise, tau))
                    truth.append((t, 0.5, "REM"))
                    t += float(rng.uniform(0.3, 1.0))
    eog[0] += eye - blinks
    eog[1] += -0.9 * eye + 0.9 * blinks
    for x, name in zip(eeg, names, strict=True):
        reg = region_of(name)
        if reg in ("Fp", "F"):
            x += (0.6 if reg == "Fp" else 0.2) * blinks
    truth.sort()
    return truth


def add_emg_events(
    emg: F32, fs: float, hyp: NDArray[np.str_], epoch_s: float, rng: np.random.Generator
) -> None:
    """Movement bursts in wake and phasic twitches in REM."""
    scale = epoch_s / 30.0
    duration_s = emg.size / fs
    for e, stage in enumerate(hyp):
        t0 = e * epoch_s
        span = min(epoch_s, duration_s - t0) - 3.0
        if span <= 0:
            break
        if stage == "W":
            for t in _poisson_onsets(rng, 0.4 * scale, t0, span):
                wv.add_at(emg, fs, t, wv.burst(rng, fs, float(rng.uniform(0.5, 3.0)),
                                               float(rng.uniform(20.0, 60.0)), 20.0, 100.0))
        elif stage == "R":
            for t in _poisson_onsets(rng, 3.0 * scale, t0, span):
                wv.add_at(emg, fs, t, wv.burst(rng, fs, float(rng.uniform(0.05, 0.25)),
                                               float(rng.uniform(8.0, 25.0)), 20.0, 100.0))


_HR_BPM = np.array([72.0, 67.0, 63.0, 60.0, 69.0])


def synth_ecg(
    stage_idx: NDArray[np.int64],
    epoch_s: float,
    duration_s: float,
    fs: float,
    rng: np.random.Generator,
) -> F32:
    """ECG (mV) whose heart rate follows the sleep stage."""
    from signal_io.synth.ecg import make_ecg

    bpm = _HR_BPM[stage_idx] + rng.normal(0.0, 1.5, stage_idx.size)
    kernel = np.ones(5) / 5.0
    bpm = np.asarray(np.convolve(np.pad(bpm, 2, mode="edge"), kernel, mode="valid"),
                     dtype=np.float64)
    times = (np.arange(stage_idx.size, dtype=np.float64) + 0.5) * epoch_s
    ecg = make_ecg(
        fs, duration_s, seed=int(rng.integers(2**31)), heart_rate_bpm=float(np.mean(bpm)),
        pvc_fraction=0.004, svpb_fraction=0.004, hr_trend=(times, bpm),
    )
    return ecg.signal


__all__ = [
    "COMPONENTS",
    "EegEvents",
    "add_eeg_events",
    "add_emg_events",
    "add_eye_movements",
    "add_kc_to_eog",
    "draw_eeg_events",
    "region_of",
    "side_of",
    "synth_ecg",
    "synth_exg",
]
