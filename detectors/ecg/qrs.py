"""QRS detection: beat times from one ECG lead.

Built on the Pan & Tompkins (1985) detector as reorganised by sleepecg (Brammer 2020):
band-pass, five-point derivative, squaring, 150-ms moving integration, adaptive thresholds with
search-back and a refractory period.

What this implementation changes:

- candidates are the maxima of the integrated signal over a +/- ``candidate_s`` window
  (vectorised), so the numba kernel loops over peaks, not samples;
- the signal level starts at the median of per-2-s maxima over the whole record (not the first
  2 s, which may be noise) and each update is clipped to twice the current level, so a noise
  burst cannot lift the threshold above the next beats;
- the RR estimate used for search-back is the median of the last eight intervals, so one
  premature beat or pause does not trigger or suppress search-back;
- T-wave rejection (slope below ``twave_slope_ratio`` of the previous beat within ``twave_s``)
  is applied in search-back too, which keeps the T wave after a wide PVC followed by a long pause
  from being taken as a beat;
- NaN gaps are filled with the last valid value before filtering and beats inside them dropped;
- beats are placed on the largest absolute deflection of the band-passed ECG within
  ``+/- locate_s`` of the integrated peak (either polarity);
- records at 250 Hz and above are block-averaged to 125-250 Hz before detection (speed; on the
  MIT-BIH records this changed gross FN/FP by -1/-5).

References
----------
J. Pan and W. J. Tompkins, "A real-time QRS detection algorithm," IEEE Trans. Biomed. Eng.
32(3):230-236, 1985.
P. S. Hamilton and W. J. Tompkins, "Quantitative investigation of QRS detection rules using the
MIT/BIH arrhythmia database," IEEE Trans. Biomed. Eng. 33(12):1157-1165, 1986.
F. Brammer, "sleepecg," https://github.com/cbrnr/sleepecg (heartbeat detection).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.signal
from numpy.typing import NDArray

from detectors.ecg._qrs_kernels import _candidates_kernel, _integrate_kernel, _threshold_kernel


class EcgInputError(ValueError):
    """The ECG array or its sampling rate cannot be processed."""


@dataclass(frozen=True, slots=True)
class QrsParams:
    """Parameters of :func:`detect_qrs`.

    Attributes
    ----------
    band_hz
        Band-pass corners in Hz (2nd-order Butterworth, applied forwards and backwards).
    integration_s
        Moving-integration window in seconds.
    candidate_s
        A candidate is the largest integrated value within +/- this many seconds.
    refractory_s
        No two beats closer than this (seconds).
    twave_s
        A peak closer than this to the previous beat must be steep to count (seconds).
    twave_slope_ratio
        Minimum slope, relative to the previous beat, of a peak within ``twave_s``.
    searchback_factor
        Search back for a missed beat after this many running RR intervals without a beat.
    squared
        Integrate the squared derivative (Pan & Tompkins) instead of its absolute value
        (Hamilton & Tompkins); the absolute value keeps wide, low-slope beats above threshold.
    work_fs_hz
        Records at ``fs >= 2 * work_fs_hz`` are averaged over blocks of
        ``q = floor(fs / work_fs_hz)`` samples before detection (the 5-25 Hz band needs no
        more), so every record is processed at 125-250 Hz whatever its rate; each beat is then
        placed on the full-rate signal (largest deviation from its local mean within ``q``
        samples).
    locate_s
        Half-width in seconds of the window where the beat is placed on the largest deflection.
    """

    band_hz: tuple[float, float] = (5.0, 25.0)
    integration_s: float = 0.15
    candidate_s: float = 0.2
    refractory_s: float = 0.25
    twave_s: float = 0.36
    twave_slope_ratio: float = 0.5
    searchback_factor: float = 1.66
    locate_s: float = 0.06
    squared: bool = False
    work_fs_hz: float = 125.0


@dataclass(frozen=True, slots=True)
class QrsResult:
    """Beats found by :func:`detect_qrs`.

    Attributes
    ----------
    beats
        Shape ``(k,)`` int64 sample positions, increasing.
    confidence
        Shape ``(k,)`` float64 in ``[0, 1]``: 0.5 at the detection threshold, towards 1 for
        peaks well above it, below 0.5 for beats found by search-back.
    """

    beats: NDArray[np.int64]
    confidence: NDArray[np.float64]


@lru_cache(maxsize=32)
def _bandpass(fs: float, lo_hz: float, hi_hz: float) -> NDArray[np.float32]:
    hi = min(hi_hz, 0.45 * fs)
    sos = scipy.signal.butter(2, (lo_hz, hi), btype="bandpass", output="sos", fs=fs)
    return np.asarray(sos, dtype=np.float32)


def fill_gaps(x: NDArray[np.floating]) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Replace NaN by the last valid value (the first valid one at the start).

    Parameters
    ----------
    x
        Shape ``(n,)`` samples.

    Returns
    -------
    filled
        Shape ``(n,)`` float32 copy without NaN (all zeros when every sample is NaN).
    gaps
        Shape ``(n,)`` True where ``x`` was NaN.
    """
    out = np.asarray(x, dtype=np.float32).copy()
    gaps = ~np.isfinite(out)
    if not gaps.any():
        return out, gaps
    if gaps.all():
        return np.zeros_like(out), gaps
    idx = np.where(gaps, 0, np.arange(out.shape[0]))
    np.maximum.accumulate(idx, out=idx)
    first = int(np.argmax(~gaps))
    idx[:first] = first
    return out[idx], gaps


def _empty() -> QrsResult:
    return QrsResult(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


def detect_qrs(
    signal: NDArray[np.floating], fs: float, params: QrsParams | None = None
) -> QrsResult:
    """Find QRS complexes in one ECG lead.

    Parameters
    ----------
    signal
        Shape ``(n,)`` ECG samples, any unit, either polarity; NaN marks gaps.
    fs
        Sampling rate in Hz (tested from 128 to 1000 Hz).
    params
        Detector parameters; defaults when None.

    Returns
    -------
    QrsResult
        Beat sample positions (at ``fs``) and their confidence.

    Raises
    ------
    EcgInputError
        When ``signal`` is not one-dimensional or ``fs`` is below 50 Hz.
    """
    p = params or QrsParams()
    x = np.asarray(signal)
    if x.ndim != 1:
        raise EcgInputError(f"ECG must be one-dimensional, got shape {x.shape}")
    if not np.isfinite(fs) or fs < 50.0:
        raise EcgInputError(f"ECG sampling rate must be at least 50 Hz, got {fs}")
    n = x.shape[0]
    if n < int(fs):
        return _empty()
    filled, gaps = fill_gaps(x)
    filled -= filled[0]  # a constant signal filters to exact zeros
    q = max(1, int(fs // p.work_fs_hz))
    fs_full = float(fs)
    full = filled
    if q > 1:
        # block means: cheap low-pass + decimation; the 5-25 Hz band is far below fs / (2 q)
        m = n // q
        acc = filled[0 : m * q : q].copy()
        for r in range(1, q):
            acc += filled[r : m * q : q]
        acc *= np.float32(1.0 / q)
        filled = acc
        fs = fs_full / q
    sos = _bandpass(float(fs), p.band_hz[0], p.band_hz[1])
    filtered = np.ascontiguousarray(scipy.signal.sosfiltfilt(sos, filled), dtype=np.float32)
    width = max(1, round(p.integration_s * fs))
    feat = _integrate_kernel(filtered, width, p.squared)
    if gaps.any():
        feat[gaps[: feat.shape[0] * q].reshape(-1, q).any(axis=1)] = 0.0
    top = float(feat.max())
    if not top > 0.0:
        return _empty()
    half = max(1, round(p.candidate_s * fs))
    slope_half = max(1, round(p.locate_s * fs))
    cand, slopes = _candidates_kernel(feat, filtered, half, slope_half, top * 1e-6)
    if cand.size == 0:
        return _empty()
    heights = feat[cand].astype(np.float64)
    block = max(1, round(2.0 * fs))
    n_blocks = feat.shape[0] // block
    if n_blocks >= 1:
        init = float(np.median(feat[: n_blocks * block].reshape(n_blocks, block).max(axis=1)))
    else:
        init = top
    if not init > 0.0:
        init = top
    idx, ratio = _threshold_kernel(
        cand.astype(np.int64),
        heights,
        slopes,
        float(fs),
        init,
        p.refractory_s,
        p.twave_s,
        p.twave_slope_ratio,
        p.searchback_factor,
    )
    beats = _locate(filtered, cand[idx], slope_half) * q + (q - 1) // 2
    if q > 1:
        beats = _refine(full, beats, q, max(1, round(0.05 * fs_full)))
    conf = np.clip(1.0 - 0.5 / np.maximum(ratio, 1e-9), 0.0, 1.0)
    keep = ~gaps[beats] if beats.size else np.zeros(0, dtype=bool)
    if beats.size > 1:
        keep[1:] &= np.diff(beats) > 0
    return QrsResult(beats[keep], conf[keep])


def _refine(x: NDArray[np.float32], beats: NDArray[np.int64], q: int, half: int
            ) -> NDArray[np.int64]:
    """Move each beat, within ``+/- q`` samples, to the largest deviation of ``x`` from its
    mean over ``+/- half`` samples (full-rate placement after block-averaged detection)."""
    if beats.size == 0:
        return beats
    n = x.shape[0]
    base_idx = np.clip(beats[:, None] + np.arange(-half, half + 1)[None, :], 0, n - 1)
    base = x[base_idx].mean(axis=1)
    idx = np.clip(beats[:, None] + np.arange(-q, q + 1)[None, :], 0, n - 1)
    best = np.argmax(np.abs(x[idx] - base[:, None]), axis=1)
    return np.asarray(idx[np.arange(beats.size), best], dtype=np.int64)


def _locate(filtered: NDArray[np.float32], peaks: NDArray[np.intp], half: int) -> NDArray[np.int64]:
    """Move each peak to the largest absolute band-passed deflection within ``+/- half``."""
    if peaks.size == 0:
        return np.zeros(0, dtype=np.int64)
    n = filtered.shape[0]
    offsets = np.arange(-half, half + 1)
    win = np.clip(peaks[:, None] + offsets[None, :], 0, n - 1)
    best = np.argmax(np.abs(filtered[win]), axis=1)
    return np.asarray(win[np.arange(peaks.size), best], dtype=np.int64)
