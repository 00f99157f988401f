"""Per-epoch non-linear EEG features: numba kernels and their plain-Python references.

Each kernel takes a 2-D float64 array of epochs, shape ``(n_epochs, n_samples)``, and returns one
value per epoch. The definitions follow the usual published formulas (Hjorth 1970; Petrosian
1995; Higuchi 1988; Bandt & Pompe 2002), which are also the ones the YASA staging classifiers
were trained on:

- zero crossings: number of sign-bit changes between consecutive samples (``-0.0`` counts as
  negative, ``+0.0`` as positive);
- Petrosian fractal dimension: ``log10 N / (log10 N + log10(N / (N + 0.4 * Nd)))`` with ``Nd``
  the zero crossings of the first difference;
- Higuchi fractal dimension with ``k_max = 10``: slope of ``log L(k)`` against ``log(1/k)``;
- permutation entropy of order 3, delay 1, normalised by ``log2(3!)``; ties rank by position
  (a pattern is the triple of comparisons ``x0 <= x1``, ``x0 <= x2``, ``x1 <= x2``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from detectors._numba import jit

__all__ = [
    "epoch_nonlinear",
    "epoch_nonlinear_py",
]

N_NONLINEAR = 4
"""Columns returned by :func:`epoch_nonlinear`: zero crossings, Petrosian FD, Higuchi FD,
permutation entropy."""


def _nonlinear_one_py(x: NDArray[np.float64], kmax: int) -> tuple[float, float, float, float]:
    n = x.shape[0]
    nzc = 0
    for i in range(1, n):
        if math.copysign(1.0, x[i]) != math.copysign(1.0, x[i - 1]):
            nzc += 1
    nzd = 0
    for i in range(2, n):
        d1 = x[i] - x[i - 1]
        d0 = x[i - 1] - x[i - 2]
        if math.copysign(1.0, d1) != math.copysign(1.0, d0):
            nzd += 1
    pfd = math.log10(n) / (math.log10(n) + math.log10(n / (n + 0.4 * nzd)))
    # Higuchi
    xs = [math.log(1.0 / k) for k in range(1, kmax + 1)]
    ys = []
    for k in range(1, kmax + 1):
        total = 0.0
        for m in range(k):
            n_max = (n - m - 1) // k
            length = 0.0
            for j in range(1, n_max + 1):
                length += abs(x[m + j * k] - x[m + (j - 1) * k])
            total += length / k * (n - 1) / (k * n_max)
        mean_len = total / k
        ys.append(math.log(mean_len) if mean_len > 0 else -math.inf)
    sx = sum(xs)
    sy = sum(ys)
    sxx = sum(v * v for v in xs)
    sxy = sum(a * b for a, b in zip(xs, ys, strict=True))
    hfd = (kmax * sxy - sx * sy) / (kmax * sxx - sx * sx)
    # permutation entropy, order 3
    counts = [0] * 8
    for i in range(n - 2):
        key = ((int(x[i] <= x[i + 1]) << 2) | (int(x[i] <= x[i + 2]) << 1)
               | int(x[i + 1] <= x[i + 2]))
        counts[key] += 1
    pe = 0.0
    for c in counts:
        if c > 0:
            p = c / (n - 2)
            pe -= p * math.log2(p)
    pe = min(max(pe / math.log2(6.0), 0.0), 1.0)
    return float(nzc), pfd, hfd, pe


def epoch_nonlinear_py(epochs: NDArray[np.float64], kmax: int = 10) -> NDArray[np.float64]:
    """Plain-Python reference of :func:`epoch_nonlinear`.

    Parameters
    ----------
    epochs
        Shape ``(n_epochs, n_samples)``, float64, ``n_samples > 2 kmax``.
    kmax
        Largest Higuchi lag.

    Returns
    -------
    NDArray[np.float64]
        Shape ``(n_epochs, 4)``: zero crossings, Petrosian FD, Higuchi FD, permutation entropy.
    """
    out = np.empty((epochs.shape[0], N_NONLINEAR), dtype=np.float64)
    for e in range(epochs.shape[0]):
        out[e] = _nonlinear_one_py(epochs[e], kmax)
    return out


@jit
def _epoch_nonlinear_kernel(epochs: NDArray[np.float64], kmax: int) -> NDArray[np.float64]:
    n_ep, n = epochs.shape
    out = np.empty((n_ep, 4), dtype=np.float64)
    lk = np.empty(kmax, dtype=np.float64)
    log_n = math.log10(n)
    xs_sum = 0.0
    xs_sq = 0.0
    for k in range(1, kmax + 1):
        v = math.log(1.0 / k)
        xs_sum += v
        xs_sq += v * v
    for e in range(n_ep):
        x = epochs[e]
        nzc = 0
        nzd = 0
        counts = np.zeros(8, dtype=np.int64)
        prev_neg = x[0] < 0.0 or (x[0] == 0.0 and math.copysign(1.0, x[0]) < 0.0)
        for i in range(1, n):
            v = x[i]
            neg = v < 0.0 or (v == 0.0 and math.copysign(1.0, v) < 0.0)
            if neg != prev_neg:
                nzc += 1
            prev_neg = neg
        d0 = x[1] - x[0]
        prev_dneg = d0 < 0.0 or (d0 == 0.0 and math.copysign(1.0, d0) < 0.0)
        for i in range(2, n):
            d1 = x[i] - x[i - 1]
            dneg = d1 < 0.0 or (d1 == 0.0 and math.copysign(1.0, d1) < 0.0)
            if dneg != prev_dneg:
                nzd += 1
            prev_dneg = dneg
        for i in range(n - 2):
            a = x[i]
            b = x[i + 1]
            c = x[i + 2]
            key = 0
            if a <= b:
                key += 4
            if a <= c:
                key += 2
            if b <= c:
                key += 1
            counts[key] += 1
        pe = 0.0
        for j in range(8):
            if counts[j] > 0:
                p = counts[j] / (n - 2)
                pe -= p * math.log2(p)
        pe = pe / math.log2(6.0)
        pe = min(max(pe, 0.0), 1.0)
        for k in range(1, kmax + 1):
            total = 0.0
            for m in range(k):
                n_max = (n - m - 1) // k
                length = 0.0
                for j in range(1, n_max + 1):
                    length += abs(x[m + j * k] - x[m + (j - 1) * k])
                total += length / k * (n - 1) / (k * n_max)
            lk[k - 1] = total / k
        sy = 0.0
        sxy = 0.0
        for k in range(1, kmax + 1):
            yv = math.log(lk[k - 1]) if lk[k - 1] > 0 else -math.inf
            sy += yv
            sxy += math.log(1.0 / k) * yv
        hfd = (kmax * sxy - xs_sum * sy) / (kmax * xs_sq - xs_sum * xs_sum)
        out[e, 0] = nzc
        out[e, 1] = log_n / (log_n + math.log10(n / (n + 0.4 * nzd)))
        out[e, 2] = hfd
        out[e, 3] = pe
    return out


def epoch_nonlinear(epochs: NDArray[np.float64], kmax: int = 10) -> NDArray[np.float64]:
    """Zero crossings, Petrosian FD, Higuchi FD and permutation entropy of each epoch.

    Parameters
    ----------
    epochs
        Shape ``(n_epochs, n_samples)``, float64 (converted if not), ``n_samples > 2 kmax``.
    kmax
        Largest Higuchi lag (10 as in the published staging features).

    Returns
    -------
    NDArray[np.float64]
        Shape ``(n_epochs, 4)``.

    Raises
    ------
    ValueError
        If epochs are not 2-D or are not longer than ``2 kmax`` samples.
    """
    arr = np.ascontiguousarray(epochs, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"epochs must be 2-D (n_epochs, n_samples), got shape {arr.shape}")
    if arr.shape[1] < 2 * kmax + 1:
        raise ValueError(f"epochs need at least {2 * kmax + 1} samples, got {arr.shape[1]}")
    if arr.shape[0] == 0:
        return np.empty((0, N_NONLINEAR), dtype=np.float64)
    return _epoch_nonlinear_kernel(arr, int(kmax))
