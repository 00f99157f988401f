"""Rendering of synthetic ECG beats and of the signals around them (private).

Each beat is a sum of Gaussian waves placed relative to its R-peak time; see
:mod:`signal_io.synth.ecg` for the model and the truth it guarantees.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Wave parameters: (centre offset from R in s, standard deviation in s, amplitude in mV).
# The T-wave centres are scaled by sqrt(RR) (QT follows heart rate, Bazett-like).
_NORMAL_WAVES: tuple[tuple[float, float, float], ...] = (
    (-0.170, 0.022, 0.14),  # P
    (-0.028, 0.008, -0.10),  # Q
    (0.000, 0.0105, 1.00),  # R
    (0.030, 0.009, -0.22),  # S
)
_NORMAL_T: tuple[tuple[float, float, float], ...] = ((0.22, 0.055, 0.12), (0.29, 0.045, 0.22))
_PVC_WAVES_RAW: tuple[tuple[float, float, float], ...] = (
    (-0.055, 0.012, 0.15),  # small initial positive notch
    (0.000, 0.018, -1.90),  # steep dominant negative deflection
    (0.045, 0.030, -1.10),  # slurred second half (asymmetric, wide: ~130 ms above 10 %)
    (0.120, 0.020, 0.20),  # terminal return
)


def _centre_on_extremum(
    waves: tuple[tuple[float, float, float], ...], sign: float
) -> tuple[tuple[float, float, float], ...]:
    """Shift a QRS template so that its extremum (max if ``sign`` > 0) lies at t = 0."""
    t = np.arange(-0.1, 0.1, 1e-5)
    x = sum(a * np.exp(-0.5 * ((t - c) / s) ** 2) for c, s, a in waves)
    shift = float(t[int(np.argmax(sign * x))])
    return tuple((c - shift, s, a) for c, s, a in waves)


_PVC_WAVES = _centre_on_extremum(_PVC_WAVES_RAW, -1.0)
_PVC_T: tuple[tuple[float, float, float], ...] = ((0.32, 0.070, 0.55),)


@dataclass
class Beat:
    """One beat of the schedule: R time (s), MIT-BIH label, P-wave kind, preceding RR (s)."""

    time_s: float
    label: str
    p_kind: str  # "normal", "abnormal", "none"
    rr_prev_s: float
    pause_after: bool = False


def render_beats(
    n: int, fs: float, beats: list[Beat], rng: np.random.Generator, *, wide_pvc: bool = True
) -> NDArray[np.float64]:
    """Sum the Gaussian waves of every beat into a length-``n`` signal (mV)."""
    sig = np.zeros(n, dtype=np.float64)
    if not beats:
        return sig
    times = np.array([b.time_s for b in beats])
    rr = np.clip(np.array([b.rr_prev_s for b in beats]), 0.25, 2.5)
    # per-beat wave tables (n_beats, n_waves, 3): centre, sd, amplitude
    n_waves = len(_NORMAL_WAVES) + len(_NORMAL_T)
    table = np.zeros((len(beats), n_waves, 3))
    for i, b in enumerate(beats):
        qt_scale = float(np.sqrt(rr[i]))
        if b.label == "V":
            narrow = 1.0 if wide_pvc else 0.55
            waves = [(c * narrow, s * narrow, a) for c, s, a in _PVC_WAVES]
            waves += [(c * qt_scale, s, a) for c, s, a in _PVC_T]
        else:
            waves = list(_NORMAL_WAVES) + [(c * qt_scale, s, a) for c, s, a in _NORMAL_T]
            if b.p_kind == "none":
                waves[0] = (waves[0][0], waves[0][1], 0.0)
            elif b.p_kind == "abnormal":
                waves[0] = (-0.13, 0.018, -0.09)  # early, narrow, inverted ectopic P
        while len(waves) < n_waves:
            waves.append((0.0, 0.01, 0.0))
        table[i] = waves
    # small beat-to-beat amplitude variation (respiration modulates QRS amplitude)
    table[:, :, 2] *= rng.normal(1.0, 0.03, (len(beats), 1))
    # each wave is evaluated within +-5 of its own standard deviation (the largest of that
    # wave slot over all beats), around its own centre
    block = 512
    for w in range(n_waves):
        half = int(np.ceil(5.0 * table[:, w, 1].max() * fs))
        offsets = np.arange(-half, half + 1)
        for b0 in range(0, len(beats), block):
            sl = slice(b0, b0 + block)
            centre_t = times[sl] + table[sl, w, 0]
            idx = np.round(centre_t * fs).astype(np.int64)[:, None] + offsets[None, :]
            z = (idx / fs - centre_t[:, None]) / table[sl, w, 1][:, None]
            vals = table[sl, w, 2][:, None] * np.exp(-0.5 * z * z)
            ok = (idx >= 0) & (idx < n)
            if not ok.any():
                continue
            lo, hi = int(idx[ok].min()), int(idx[ok].max()) + 1
            sig[lo:hi] += np.bincount(idx[ok] - lo, weights=vals[ok], minlength=hi - lo)
    return sig


def _span_times(
    n: int, fs: float, spans: Sequence[tuple[float, float]]
) -> Iterator[tuple[int, int, NDArray[np.float64]]]:
    """For each non-empty ``(onset_s, offset_s)`` span: its samples ``[i0, i1)`` within ``n``
    and their times from the span start (s)."""
    for onset, offset in spans:
        i0, i1 = int(onset * fs), min(int(np.ceil(offset * fs)), n)
        if i1 > i0:
            yield i0, i1, np.arange(i1 - i0) / fs


def af_waves(
    n: int, fs: float, spans: Sequence[tuple[float, float]], rng: np.random.Generator
) -> NDArray[np.float64]:
    out = np.zeros(n, dtype=np.float64)
    for i0, i1, t in _span_times(n, fs, spans):
        f0 = rng.uniform(5.0, 7.5)
        fm = 0.8 * np.sin(2.0 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 6.3))
        phase = 2.0 * np.pi * np.cumsum(f0 + fm) / fs
        swing = 1.0 + 0.4 * np.sin(2 * np.pi * 0.13 * t + rng.uniform(0, 6))
        amp = rng.uniform(0.04, 0.09) * swing
        wave = amp * (np.sin(phase) + 0.35 * np.sin(2.0 * phase + 0.7))
        ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.5)
        out[i0:i1] += wave * ramp
    return out


def noise_bursts(
    n: int, fs: float, spans: Sequence[tuple[float, float]], rng: np.random.Generator
) -> NDArray[np.float64]:
    from signal_io.synth._spectral import bandpass_noise

    out = np.zeros(n, dtype=np.float64)
    for i0, i1, t in _span_times(n, fs, spans):
        m = i1 - i0
        envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.3)
        emg = rng.uniform(0.15, 0.35) * bandpass_noise(rng, m, fs, 20.0, 150.0)
        motion = rng.uniform(0.4, 0.9) * bandpass_noise(rng, m, fs, 0.3, 3.0)
        out[i0:i1] += envelope * (emg + motion)
    return out


def baseline_wander(n: int, fs: float, rng: np.random.Generator) -> NDArray[np.float64]:
    t_knots = np.arange(0.0, n / fs + 12.0, 4.0)
    slow = np.cumsum(rng.normal(0.0, 0.04, t_knots.size))
    slow -= np.linspace(slow[0], slow[-1], slow.size)  # no net drift over the record
    from scipy.interpolate import CubicSpline

    # smooth curve on a 20-Hz grid (all its content is below 1 Hz), then linear interpolation
    t_ctl = np.arange(0.0, n / fs + 0.1, 0.05)
    resp_hz, resp_phase = rng.uniform(0.2, 0.3), rng.uniform(0, 6.3)
    ctl = CubicSpline(t_knots, slow)(t_ctl) + 0.08 * np.sin(2.0 * np.pi * resp_hz * t_ctl
                                                           + resp_phase)
    return np.asarray(np.interp(np.arange(n) / fs, t_ctl, ctl), dtype=np.float64)


__all__ = ["Beat", "af_waves", "baseline_wander", "noise_bursts", "render_beats"]
