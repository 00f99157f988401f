"""Numba kernels of the rhythm detector, each with a plain-Python reference.

``_irregularity_py`` / ``_irregularity_kernel``
    AF irregularity of RR windows: smallest, over lags 1..max_lag, of the median absolute lag
    difference divided by the median RR.
``_window_median_py`` / ``_window_median_kernel``
    Median of ``values[lo[i]:hi[i]]`` for each ``i``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detectors._numba import jit


def _irregularity_py(
    rr: NDArray[np.float64],
    lo: NDArray[np.int64],
    hi: NDArray[np.int64],
    min_valid: int,
    max_lag: int,
) -> NDArray[np.float64]:
    """Reference: irregularity of ``rr[lo[i]:hi[i]]`` for each ``i`` (NaN when too short).

    Parameters
    ----------
    rr
        Shape ``(m,)`` RR intervals in seconds.
    lo, hi
        Shape ``(k,)`` half-open window bounds into ``rr``.
    min_valid
        Windows with fewer intervals give NaN.
    max_lag
        Lags ``1..max_lag`` are tried; the smallest median difference is kept.

    Returns
    -------
    NDArray[np.float64]
        Shape ``(k,)``.
    """
    k = lo.shape[0]
    out = np.full(k, np.nan)
    for b in range(k):
        seg = rr[lo[b] : hi[b]]
        if seg.shape[0] < min_valid or seg.shape[0] < 5:
            continue
        med = float(np.median(seg))
        if med <= 0:
            continue
        diffs = [
            float(np.median(np.abs(seg[lag:] - seg[:-lag])))
            for lag in range(1, max_lag + 1)
            if seg.shape[0] > lag
        ]
        out[b] = min(diffs) / med
    return out


@jit
def _irregularity_kernel(
    rr: NDArray[np.float64],
    lo: NDArray[np.int64],
    hi: NDArray[np.int64],
    min_valid: int,
    max_lag: int,
) -> NDArray[np.float64]:
    k = lo.shape[0]
    out = np.full(k, np.nan)
    for b in range(k):
        a = lo[b]
        z = hi[b]
        n = z - a
        if n < min_valid or n < 5:
            continue
        seg = rr[a:z]
        med = np.median(seg)
        if med <= 0:
            continue
        best = np.inf
        for lag in range(1, min(max_lag, n - 1) + 1):
            d = np.abs(seg[lag:] - seg[: n - lag])
            v = np.median(d)
            if v < best:
                best = v
        out[b] = best / med
    return out


def _window_median_py(
    values: NDArray[np.float64], lo: NDArray[np.int64], hi: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Reference: ``median(values[lo[i]:hi[i]])`` for each ``i`` (NaN for empty windows)."""
    return np.array(
        [float(np.median(values[a:z])) if z > a else np.nan for a, z in zip(lo, hi, strict=True)],
        dtype=np.float64,
    )


@jit
def _window_median_kernel(
    values: NDArray[np.float64], lo: NDArray[np.int64], hi: NDArray[np.int64]
) -> NDArray[np.float64]:
    k = lo.shape[0]
    out = np.full(k, np.nan)
    for i in range(k):
        if hi[i] > lo[i]:
            out[i] = np.median(values[lo[i] : hi[i]])
    return out
