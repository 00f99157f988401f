"""Breathing (airflow, thorax, abdomen), apnoeas/hypopnoeas and SpO2 for the synthetic PSG."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from signal_io.synth._hypnogram import STAGES

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

# Breaths per minute and cycle-to-cycle irregularity per stage W, N1, N2, N3, R.
_RATE_BPM = np.array([16.0, 15.0, 14.0, 13.5, 16.5])
_IRREG = np.array([0.12, 0.06, 0.04, 0.03, 0.16])
_AMP_VAR = np.array([0.20, 0.12, 0.08, 0.06, 0.30])
# Weight of each stage when placing respiratory events (none in wake).
_EVENT_WEIGHT = np.array([0.0, 1.0, 1.0, 0.2, 2.5])


def _smooth_noise(rng: np.random.Generator, t_s: F64, knot_s: float) -> F64:
    knots = np.arange(0.0, t_s[-1] + 2 * knot_s, knot_s)
    return np.asarray(np.interp(t_s, knots, rng.standard_normal(knots.size)), dtype=np.float64)


def _ramp_factor(t_s: F64, spans: list[tuple[float, float, float]], ramp_s: float) -> F64:
    """Multiplicative factor: 1 outside spans, ``level`` inside, linear ramps at the edges."""
    f = np.ones_like(t_s)
    for onset, offset, level in spans:
        inside = np.clip(np.minimum(t_s - onset, offset - t_s) / ramp_s + 0.5, 0.0, 1.0)
        f *= 1.0 + (level - 1.0) * inside
    return f


def _draw_events(
    rng: np.random.Generator,
    stage_idx: NDArray[np.int64],
    epoch_s: float,
    duration_s: float,
    ahi_per_h: float,
) -> list[tuple[float, float, str]]:
    weights = _EVENT_WEIGHT[stage_idx].astype(np.float64)
    sleep_h = float(np.sum(stage_idx != STAGES.index("W"))) * epoch_s / 3600.0
    n_events = rng.poisson(ahi_per_h * sleep_h) if ahi_per_h > 0 else 0
    if n_events == 0 or weights.sum() == 0:
        return []
    epochs = rng.choice(stage_idx.size, size=n_events, p=weights / weights.sum())
    events: list[tuple[float, float, str]] = []
    for e in sorted(epochs):
        onset = float(e * epoch_s + rng.uniform(0.0, epoch_s))
        dur = float(rng.uniform(12.0, 35.0))
        if onset + dur + 40.0 > duration_s:
            continue
        if events and onset < events[-1][0] + events[-1][1] + 30.0:
            continue
        kind = "obstructive apnea" if rng.random() < 0.35 else "hypopnea"
        events.append((onset, dur, kind))
    return events


def synth_resp_spo2(
    stage_idx: NDArray[np.int64],
    epoch_s: float,
    duration_s: float,
    resp_fs: float,
    spo2_fs: float,
    ahi_per_h: float,
    rng: np.random.Generator,
) -> tuple[list[F32], F32, list[tuple[float, float, str]], list[tuple[float, float, float]]]:
    """Airflow, thorax and abdomen (a.u.), SpO2 (%), respiratory events and desaturations.

    Returns
    -------
    resp
        ``[airflow, thorax, abdomen]`` float32 arrays at ``resp_fs``.
    spo2
        float32 SpO2 at ``spo2_fs`` (integer percent values at 1 Hz, linearly interpolated
        at other rates).
    events
        ``(onset_s, duration_s, kind)`` respiratory events.
    desaturations
        ``(onset_s, duration_s, drop_pct)``.
    """
    n = round(duration_s * resp_fs)
    # slowly varying parameters on a 10-Hz control grid, then interpolated to resp_fs
    ctl_fs = 10.0
    tc = np.arange(int(np.ceil(duration_s * ctl_fs)) + 1) / ctl_fs
    ep = np.minimum((tc // epoch_s).astype(np.int64), stage_idx.size - 1)
    st = stage_idx[ep]
    k = int(20.0 * ctl_fs)  # stage-wise parameters smoothed over 20 s: gradual changes
    kernel = np.ones(k) / k

    def smooth(x: F64) -> F64:
        return np.asarray(np.convolve(np.pad(x, (k // 2, k - 1 - k // 2), mode="edge"),
                                      kernel, mode="valid"), dtype=np.float64)

    rate_hz = smooth(_RATE_BPM[st] / 60.0)
    freq_c = rate_hz * (1.0 + smooth(_IRREG[st]) * _smooth_noise(rng, tc, 3.0))
    amp_c = np.maximum(1.0 + smooth(_AMP_VAR[st]) * _smooth_noise(rng, tc, 4.0), 0.2)

    events = _draw_events(rng, stage_idx, epoch_s, duration_s, ahi_per_h)
    flow_spans = [(o, o + d, 0.05 if "apnea" in kind else 0.4) for o, d, kind in events]
    effort_spans = [(o, o + d, 0.8 if "apnea" in kind else 0.7) for o, d, kind in events]
    recovery = [(o + d, o + d + 10.0, 1.6) for o, d, _ in events]
    flow_c = _ramp_factor(tc, flow_spans, 2.0) * _ramp_factor(tc, recovery, 2.0)
    effort_c = _ramp_factor(tc, effort_spans, 2.0) * _ramp_factor(tc, recovery, 2.0)
    # obstructive apnoea: thoraco-abdominal paradox (abdomen out of phase)
    paradox_c = np.zeros_like(tc)
    for o, d, kind in events:
        if "apnea" in kind:
            paradox_c = np.maximum(
                paradox_c, np.clip(np.minimum(tc - o, o + d - tc) / 4.0, 0.0, 1.0)
            )

    # rendered in chunks: no full-length float64 temporaries for long, fast-sampled nights
    freq_c = np.maximum(freq_c, 0.05)
    airflow, thorax, abdomen = (np.empty(n, dtype=np.float32) for _ in range(3))
    phase0 = 0.0
    for i0 in range(0, n, 1 << 20):
        i1 = min(i0 + (1 << 20), n)
        t = np.arange(i0, i1) / resp_fs
        phase = phase0 + 2.0 * np.pi * np.cumsum(np.interp(t, tc, freq_c)) / resp_fs
        phase0 = float(phase[-1])
        amp = np.interp(t, tc, amp_c)
        wave = np.sin(phase) + 0.25 * np.sin(2.0 * phase - 0.6)  # faster inspiration
        airflow[i0:i1] = amp * np.interp(t, tc, flow_c) * wave \
            + 0.02 * rng.standard_normal(i1 - i0)
        amp *= np.interp(t, tc, effort_c)
        thorax[i0:i1] = 0.8 * amp * np.sin(phase - 0.15) + 0.01 * rng.standard_normal(i1 - i0)
        phase += np.pi * np.interp(t, tc, paradox_c) - 0.35
        abdomen[i0:i1] = amp * np.sin(phase) + 0.01 * rng.standard_normal(i1 - i0)

    # SpO2 at 1 Hz
    n_sec = int(np.ceil(duration_s))
    ts = np.arange(n_sec, dtype=np.float64)
    ep_s = np.minimum((ts // epoch_s).astype(np.int64), stage_idx.size - 1)
    base = 96.3 + 0.5 * _smooth_noise(rng, ts, 300.0) - 0.4 * (stage_idx[ep_s] == 4)
    desats: list[tuple[float, float, float]] = []
    dip = np.zeros(n_sec)
    for o, d, kind in events:
        drop = float(rng.uniform(4.0, 9.0) if "apnea" in kind else rng.uniform(3.0, 5.0))
        start = o + 10.0
        nadir = o + d + float(rng.uniform(8.0, 15.0))
        end = nadir + 12.0
        shape = np.interp(ts, [start, nadir, end], [0.0, drop, 0.0], left=0.0, right=0.0)
        dip = np.maximum(dip, shape)
        desats.append((start, end - start, drop))
    spo2_1hz = np.clip(np.round(base - dip), 70.0, 100.0)
    if spo2_fs == 1.0:
        spo2 = spo2_1hz
    else:
        n_s = round(duration_s * spo2_fs)
        spo2 = np.interp(np.arange(n_s) / spo2_fs, ts, spo2_1hz)
    return [airflow, thorax, abdomen], np.asarray(spo2, dtype=np.float32), events, desats


__all__ = ["synth_resp_spo2"]
