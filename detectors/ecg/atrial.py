"""Atrial activity: how consistent the P wave is from beat to beat.

In sinus rhythm each QRS is preceded by a P wave of the same shape at the same distance; in
atrial fibrillation there is none (fibrillatory waves instead), so the pre-QRS segments of
neighbouring beats do not resemble each other. The consistency of a beat is the median, over a
window of ``window_beats`` neighbours, of the correlation of each neighbour's pre-QRS segment
with the window's median segment. This follows the P-wave-absence features used alongside RR
irregularity by, e.g., Ladavich & Ghoraani (2015) and many CinC 2017 entries (Clifford et al.
2017); the median template, windows shared by groups of four beats and the 100-Hz grid are this
implementation's choices.

References
----------
S. Ladavich and B. Ghoraani, "Rate-independent detection of atrial fibrillation by statistical
modeling of atrial activity," Biomed. Signal Process. Control 18:274-281, 2015.
G. D. Clifford et al., "AF classification from a short single lead ECG recording: the
PhysioNet/Computing in Cardiology Challenge 2017," Computing in Cardiology 44, 2017.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.signal
from numpy.typing import NDArray

from detectors._numba import jit


@dataclass(frozen=True, slots=True)
class AtrialParams:
    """Parameters of :func:`p_wave_consistency`.

    Attributes
    ----------
    segment_s
        Pre-QRS segment (start, stop) in seconds relative to the beat mark.
    band_hz
        Band-pass (Hz) applied before comparing segments.
    window_beats
        Neighbouring beats compared with each other.
    """

    segment_s: tuple[float, float] = (-0.25, -0.06)
    band_hz: tuple[float, float] = (1.0, 40.0)
    window_beats: int = 16


_STRIDE = 4
"""Window starts are multiples of this many beats: beats in one group share one result."""


@lru_cache(maxsize=32)
def _filter(fs: float, lo_hz: float, hi_hz: float) -> NDArray[np.float32]:
    sos = scipy.signal.butter(2, (lo_hz, min(hi_hz, 0.45 * fs)), btype="bandpass",
                              output="sos", fs=fs)
    return np.asarray(sos, dtype=np.float32)


def _consistency_py(seg: NDArray[np.float32], window: int) -> NDArray[np.float64]:
    """Reference: for each row ``i`` of ``seg``, the median correlation of the rows of its window
    with the window's element-wise median.

    Parameters
    ----------
    seg
        Shape ``(k, w)`` mean-removed segments.
    window
        Rows per window; windows are ``window`` consecutive rows around row ``i``, their start
        rounded down to a multiple of ``_STRIDE`` (so neighbours share a template) and kept
        inside the array.

    Returns
    -------
    NDArray[np.float64]
        Shape ``(k,)``; 0 for all-zero windows.
    """
    k = seg.shape[0]
    out = np.zeros(k, dtype=np.float64)
    win = min(window, k)
    for i in range(k):
        a = max(0, min(((i - win // 2) // _STRIDE) * _STRIDE, k - win))
        s = seg[a : a + win].astype(np.float64)
        t = np.median(s, axis=0)
        t = t - t.mean()
        tn = float((t * t).sum())
        corr = []
        for row in s:
            den = np.sqrt(float((row * row).sum()) * tn)
            corr.append(float((row * t).sum()) / den if den > 0 else 0.0)
        out[i] = float(np.median(corr))
    return out


@jit
def _consistency_kernel(seg: NDArray[np.float32], window: int) -> NDArray[np.float64]:
    k = seg.shape[0]
    w = seg.shape[1]
    out = np.zeros(k, dtype=np.float64)
    win = min(window, k)
    corr = np.zeros(max(win, 1), dtype=np.float64)
    col = np.zeros(max(win, 1), dtype=np.float64)
    t = np.zeros(w, dtype=np.float64)
    last_a = -1
    tn = 0.0
    for i in range(k):
        a = max(0, min(((i - win // 2) // _STRIDE) * _STRIDE, k - win))
        if a == last_a:
            out[i] = out[i - 1]
            continue
        last_a = a
        for j in range(w):
            for r in range(win):
                col[r] = seg[a + r, j]
            t[j] = np.median(col[:win])
        tm = t.mean()
        tn = 0.0
        for j in range(w):
            t[j] -= tm
            tn += t[j] * t[j]
        for r in range(win):
            num = 0.0
            rn = 0.0
            for j in range(w):
                v = float(seg[a + r, j])
                num += v * t[j]
                rn += v * v
            den = np.sqrt(rn * tn)
            corr[r] = num / den if den > 0 else 0.0
        out[i] = np.median(corr[:win])
    return out


def p_wave_consistency(
    signal: NDArray[np.floating],
    fs: float,
    beats: NDArray[np.int64],
    params: AtrialParams | None = None,
    *,
    filtered: NDArray[np.float32] | None = None,
) -> NDArray[np.float64]:
    """P-wave consistency of each beat in ``[-1, 1]`` (high in sinus rhythm, low in AF).

    Parameters
    ----------
    signal
        Shape ``(n,)`` ECG (NaN allowed).
    fs
        Sampling rate in Hz.
    beats
        Shape ``(k,)`` increasing beat sample positions.
    params
        Parameters; defaults when None.
    filtered
        ``signal`` already band-passed (e.g. the beat-shape signal of the classifier); None
        filters with ``params.band_hz``.

    Returns
    -------
    NDArray[np.float64]
        Shape ``(k,)``; NaN for every beat when fewer than 3 beats are given.
    """
    p = params or AtrialParams()
    k = beats.shape[0]
    if k < 3:
        return np.full(k, np.nan)
    if filtered is not None:
        x = filtered
    else:
        x = np.nan_to_num(np.asarray(signal, dtype=np.float32), nan=0.0)
        if x.shape[0] > 30:
            x = np.asarray(scipy.signal.sosfiltfilt(_filter(float(fs), *p.band_hz), x),
                           dtype=np.float32)
    # a 100-Hz grid: the band ends at 15 Hz, and the cost no longer grows with fs
    grid_s = np.arange(p.segment_s[0], p.segment_s[1], 0.01)
    if grid_s.size < 2:
        grid_s = np.array([p.segment_s[0], p.segment_s[0] + 0.01])
    offs = np.round(grid_s * fs).astype(np.int64)
    idx = np.clip(beats[:, None] + offs[None, :], 0, x.shape[0] - 1)
    seg = x[idx]
    seg = np.ascontiguousarray(seg - seg.mean(axis=1, keepdims=True), dtype=np.float32)
    return _consistency_kernel(seg, max(3, p.window_beats))
