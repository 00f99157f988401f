"""Paced rhythm: is the recording driven by a pacemaker?

A pacemaker stimulus shows on a surface ECG as a spike: a deflection whose slope is at the limit
of the recording's bandwidth, much steeper than the complex it starts (Kligfield et al. 2007,
AHA/ACC/HRS recommendations on pacemaker spike display; ANSI/AAMI EC11 asks recorders to keep
spikes visible). In recordings band-limited to about 100 Hz (MIT-BIH) two forms remain:

- a narrow **pulse** (atrial or ventricular stimulus recorded at high gain): it disappears under a
  20-ms running median; the pulse measure of a beat is the largest difference between the signal
  and its running median within +/- 30 ms of the beat mark, over the beat's peak-to-peak
  amplitude;
- a **step** leading a wide, slow ventricular complex (ventricular pacing): the steepest slope of
  the complex is far steeper than the complex's overall width implies. The sharpness-width
  product is the largest absolute first difference (per second) within +/- 30 ms of the beat over
  its peak-to-peak amplitude, times the effective width (seconds) of the median beat shape. A
  narrow sinus QRS has a steep slope but a short width, a bundle-branch block a long width but a
  slurred slope; a paced complex has both.

The record is paced when the median pulse measure over its beats reaches ``pulse_ratio``, or its
median beat is at least ``min_width_s`` wide with a sharpness-width product of at least
``sharp_width``, and in both cases the spike stands out of the baseline: the median ratio of the
steepest slope at the beat to the steepest slope 150-350 ms before it (P wave, noise) reaches
``slope_contrast`` (noisy strips have steep slopes everywhere). Spikes need a sampling rate of
at least ``min_fs_hz``; below it the record is taken as not paced. The measures and their
thresholds are this implementation's; they were set between the 4 paced and 22 unpaced visible
MIT-BIH records (lowest paced / highest unpaced: pulse 0.30 / 0.17; product 3.25 / 2.6 among
records wider than 55 ms; slope contrast of the paced records 12.5-15.8) and checked on the 150
visible CinC 2017 strips (without the contrast guard eight noisy or sinus strips were flagged;
with it none).

References
----------
P. Kligfield et al., "Recommendations for the standardization and interpretation of the
electrocardiogram, part I," Circulation 115:1306-1324, 2007 (pacemaker spike detection and
display).
ANSI/AAMI EC57:2012 (paced beats form the Q class; paced records are left out of class
statistics).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from detectors.ecg.classify import align_beats, beat_windows, shape_width


@dataclass(frozen=True, slots=True)
class PacingParams:
    """Parameters of :func:`detect_pacing`.

    Attributes
    ----------
    min_fs_hz
        Below this sampling rate (Hz) spikes cannot be seen and no record is called paced.
    median_s
        Running-median length (seconds) that removes a pacing pulse.
    search_s
        Half-width (seconds) around each beat mark searched for the spike.
    amplitude_s
        Window (start, stop) in seconds around the beat mark for its peak-to-peak amplitude.
    pulse_ratio
        Paced when the median pulse measure reaches this.
    min_width_s
        A step spike counts only on complexes at least this wide (seconds, effective width).
    sharp_width
        Paced when the median sharpness-width product reaches this (dimensionless).
    baseline_s
        Window (start, stop) in seconds before each beat mark whose steepest slope is the
        baseline for the slope contrast.
    slope_contrast
        Paced only when the median ratio of the steepest slope at the beat to the steepest
        baseline slope reaches this.
    beat_score
        In a paced record, a beat whose own score reaches this is a paced beat.
    """

    min_fs_hz: float = 250.0
    median_s: float = 0.02
    search_s: float = 0.03
    amplitude_s: tuple[float, float] = (-0.1, 0.2)
    pulse_ratio: float = 0.22
    min_width_s: float = 0.055
    sharp_width: float = 2.9
    baseline_s: tuple[float, float] = (-0.35, -0.15)
    slope_contrast: float = 10.0
    beat_score: float = 0.7


@dataclass(frozen=True, slots=True)
class Pacing:
    """Result of :func:`detect_pacing`.

    Attributes
    ----------
    paced
        The recording is judged paced.
    pulse
        Median pulse measure over the beats (see module docstring).
    sharpness_hz
        Median steepest slope over peak-to-peak amplitude (1/s).
    width_s
        Effective width of the median beat shape (seconds).
    contrast
        Median ratio of the steepest slope at the beat to the steepest baseline slope.
    score
        ``max(pulse / pulse_ratio, product / sharp_width)`` (the product counting only on
        complexes at least ``min_width_s`` wide), times ``min(1, contrast / slope_contrast)``;
        the record is paced when it reaches 1.
    beat_paced
        Shape ``(k,)``: the beats of a paced record that carry a spike themselves (the same
        score from each beat's own measures and width reaches ``beat_score``); all False in an
        unpaced record. Beats without one are intrinsic (conducted or ectopic) beats.
    """

    paced: bool
    pulse: float
    sharpness_hz: float
    width_s: float
    contrast: float
    score: float
    beat_paced: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))


def detect_pacing(
    signal: NDArray[np.floating],
    fs: float,
    beats: NDArray[np.int64],
    params: PacingParams | None = None,
    *,
    filtered: NDArray[np.float32] | None = None,
    waves: NDArray[np.float32] | None = None,
) -> Pacing:
    """Judge whether a recording is paced from spikes at its beats.

    Parameters
    ----------
    signal
        Shape ``(n,)`` ECG samples (NaN allowed), either polarity, unfiltered.
    fs
        Sampling rate in Hz.
    beats
        Shape ``(k,)`` increasing beat sample positions.
    params
        Parameters; defaults when None.
    filtered
        The 1-40 Hz beat-shape signal (:func:`detectors.ecg.classify.morphology_signal`) when
        already computed; None computes it.
    waves
        Shape ``(k, w)`` beat windows of the classifier
        (:func:`detectors.ecg.classify.beat_windows` on the aligned beats) when already
        computed; None cuts them from ``filtered`` (-120 to +200 ms).

    Returns
    -------
    Pacing
        The decision and the measures behind it (all 0 when fewer than 3 beats are given or
        ``fs`` is below ``min_fs_hz``).
    """
    p = params or PacingParams()
    k = beats.shape[0]
    if k < 3 or fs < p.min_fs_hz:
        return Pacing(False, 0.0, 0.0, 0.0, 0.0, 0.0, np.zeros(k, dtype=bool))
    x = np.asarray(signal)
    n = x.shape[0]
    search = max(1, round(p.search_s * fs))
    half_med = max(1, round(p.median_s * fs) // 2)
    offs = np.arange(-search - half_med, search + half_med + 2)
    idx = np.clip(beats[:, None] + offs[None, :], 0, n - 1)
    seg = np.nan_to_num(x[idx].astype(np.float64), nan=0.0)
    amp_offs = np.arange(round(p.amplitude_s[0] * fs), round(p.amplitude_s[1] * fs) + 1)
    amp_seg = np.nan_to_num(x[np.clip(beats[:, None] + amp_offs[None, :], 0, n - 1)]
                            .astype(np.float64), nan=0.0)
    amp = np.maximum(amp_seg.max(axis=1) - amp_seg.min(axis=1), 1e-12)
    core = slice(half_med, half_med + 2 * search + 1)
    # running median over 2 * half_med + 1 samples, evaluated on the core only
    runs = np.lib.stride_tricks.sliding_window_view(seg, 2 * half_med + 1, axis=1)
    med = np.partition(runs[:, : 2 * search + 1], half_med, axis=2)[:, :, half_med]
    pulse = np.abs(seg[:, core] - med).max(axis=1) / amp
    steepest = np.abs(np.diff(seg, axis=1))[:, core].max(axis=1)
    slope = steepest * fs / amp
    base_offs = np.arange(round(p.baseline_s[0] * fs), round(p.baseline_s[1] * fs) + 1)
    base_seg = np.nan_to_num(x[np.clip(beats[:, None] + base_offs[None, :], 0, n - 1)]
                             .astype(np.float64), nan=0.0)
    base = np.abs(np.diff(base_seg, axis=1)).max(axis=1)
    beat_contrast = steepest / np.maximum(base, 1e-12)
    contrast = float(np.median(beat_contrast))
    if waves is None:
        if filtered is None:
            from detectors.ecg.classify import morphology_signal

            filtered = morphology_signal(signal, fs)
        waves = beat_windows(filtered, align_beats(filtered, beats, fs), fs, (-0.12, 0.2))
    template = np.median(waves, axis=0).astype(np.float64)
    width_s = float(shape_width(template[None, :])[0]) / 125.0
    pulse_m = float(np.median(pulse))
    sharp_m = float(np.median(slope))
    product = sharp_m * width_s if width_s >= p.min_width_s else 0.0
    score = max(pulse_m / p.pulse_ratio, product / p.sharp_width)
    score *= min(1.0, contrast / p.slope_contrast)
    paced = bool(score >= 1.0)
    if paced:
        beat_w = shape_width(waves.astype(np.float64)) / 125.0
        beat_prod = np.where(beat_w >= p.min_width_s, slope * beat_w, 0.0)
        beat_sc = np.maximum(pulse / p.pulse_ratio, beat_prod / p.sharp_width)
        beat_sc = beat_sc * np.minimum(1.0, beat_contrast / p.slope_contrast)
        beat_paced = beat_sc >= p.beat_score
    else:
        beat_paced = np.zeros(k, dtype=bool)
    return Pacing(paced, pulse_m, sharp_m, width_s, contrast, float(score), beat_paced)
