"""Transient waveforms added on top of the synthetic background (spindles, K-complexes...)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def add_at(out: NDArray[np.float32], fs: float, onset_s: float, wave: FloatArray) -> None:
    """Add ``wave`` (sampled at ``fs``) into ``out`` starting at ``onset_s``, clipped to ``out``."""
    i0 = round(onset_s * fs)
    j0 = max(0, -i0)
    i0 = max(i0, 0)
    i1 = min(out.size, i0 + wave.size - j0)
    if i1 > i0:
        out[i0:i1] += wave[j0 : j0 + i1 - i0].astype(np.float32)


def spindle(
    fs: float, duration_s: float, freq_hz: float, peak_uv: float, phase: float
) -> FloatArray:
    """Waxing-waning sigma burst, returned with its rendering onset offset folded in.

    The half-sine envelope spans ``1.25 * duration_s``, centred on the scored span, so the
    envelope is >= 31 % of its peak over the scored ``duration_s`` and below that outside.

    Returns
    -------
    ndarray
        Samples starting ``0.125 * duration_s`` before the scored onset.
    """
    ext = 1.25 * duration_s
    t = np.arange(round(ext * fs)) / fs
    env = np.sin(np.pi * t / ext)
    chirp = freq_hz * (1.0 - 0.03 * (t / ext - 0.5))  # spindles slow slightly within the burst
    return np.asarray(peak_uv * env * np.sin(2.0 * np.pi * chirp * t + phase), dtype=np.float64)


def k_complex(fs: float, amp_uv: float) -> FloatArray:
    """K-complex: sharp negative wave (peak 0.3 s after onset) then a slower positive wave.

    Total length ~1.3 s; the negative peak has amplitude ``amp_uv``.
    """
    t = np.arange(round(1.4 * fs)) / fs
    neg = -np.exp(-0.5 * ((t - 0.30) / 0.085) ** 2)
    pos = 0.55 * np.exp(-0.5 * ((t - 0.78) / 0.18) ** 2)
    return np.asarray(amp_uv * (neg + pos), dtype=np.float64)


def vertex_wave(fs: float, amp_uv: float) -> FloatArray:
    """Vertex sharp wave: sharp negative transient (~200 ms) with a small positive rebound."""
    t = np.arange(round(0.5 * fs)) / fs
    neg = -np.exp(-0.5 * ((t - 0.12) / 0.04) ** 2)
    pos = 0.3 * np.exp(-0.5 * ((t - 0.26) / 0.06) ** 2)
    return np.asarray(amp_uv * (neg + pos), dtype=np.float64)


def sawtooth_train(fs: float, duration_s: float, freq_hz: float, amp_uv: float) -> FloatArray:
    """Train of 2-6 Hz sawtooth waves (slow rise, fast fall), half-sine envelope."""
    t = np.arange(round(duration_s * fs)) / fs
    phi = 2.0 * np.pi * freq_hz * t
    saw = sum(((-1.0) ** (k + 1)) * np.sin(k * phi) / k for k in range(1, 5))
    env = np.sin(np.pi * t / duration_s) ** 0.5
    return np.asarray(amp_uv * 0.6 * env * saw, dtype=np.float64)


def eye_step(fs: float, amp_uv: float, rise_s: float, tau_s: float) -> FloatArray:
    """Eye movement seen through an AC-coupled EOG amplifier: fast step, exponential decay."""
    t = np.arange(round((6.0 * tau_s + 4.0 * rise_s) * fs)) / fs
    rise = 1.0 / (1.0 + np.exp(-(t - 2.0 * rise_s) / (rise_s / 4.0)))
    return np.asarray(amp_uv * rise * np.exp(-np.maximum(t - 2.0 * rise_s, 0.0) / tau_s))


def blink(fs: float, amp_uv: float) -> FloatArray:
    """Blink: asymmetric monophasic deflection of ~300 ms."""
    t = np.arange(round(0.6 * fs)) / fs
    sd = np.where(t < 0.15, 0.045, 0.08)
    return np.asarray(amp_uv * np.exp(-0.5 * ((t - 0.15) / sd) ** 2), dtype=np.float64)


def slow_eye_movement(fs: float, duration_s: float, freq_hz: float, amp_uv: float) -> FloatArray:
    """Slow rolling eye movements: 0.1-0.5 Hz sinusoidal excursions with a smooth envelope."""
    t = np.arange(round(duration_s * fs)) / fs
    env = np.sin(np.pi * t / duration_s)
    return np.asarray(amp_uv * env * np.sin(2.0 * np.pi * freq_hz * t), dtype=np.float64)


def burst(rng: np.random.Generator, fs: float, duration_s: float, rms: float,
          lo_hz: float, hi_hz: float) -> FloatArray:
    """Band-limited noise burst (muscle) with 20-ms tapers."""
    from signal_io.synth._spectral import bandpass_noise

    n = max(round(duration_s * fs), 8)
    x = bandpass_noise(rng, n, fs, lo_hz, hi_hz) * rms
    taper = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / max(0.02 * fs, 1.0))
    return np.asarray(x * taper, dtype=np.float64)


__all__ = [
    "add_at",
    "blink",
    "burst",
    "eye_step",
    "k_complex",
    "sawtooth_train",
    "slow_eye_movement",
    "spindle",
    "vertex_wave",
]
