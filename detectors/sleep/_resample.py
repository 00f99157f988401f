"""Rational-rate polyphase resampling in float32 (the staging front end's main cost).

Same filter and alignment as ``scipy.signal.resample_poly(x, up, down, padtype="antireflect")``
(Kaiser-windowed sinc, beta 5, ``20 max(up, down) + 1`` taps, cut-off at the lower Nyquist
frequency), evaluated only at the kept output samples with a vectorised dot product per output
sample. Inputs are extended by odd reflection about the end samples, as ``antireflect`` does.
Results equal scipy's to float32 rounding in the interior; within a filter length of either end
they differ slightly (scipy reflects a longer stretch), which the staging features tolerate (the
first and last epochs are the only ones touched).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from detectors._spectral import jit_fastmath

__all__ = [
    "polyphase_table",
    "resample_poly_f32",
    "resample_poly_py",
]

def _taps(up: int, down: int) -> tuple[NDArray[np.float64], int]:
    max_rate = max(up, down)
    half_len = 10 * max_rate
    h = signal.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
    return np.asarray(h, dtype=np.float64), half_len


def polyphase_table(up: int, down: int) -> tuple[NDArray[np.float32], int]:
    """Filter taps rearranged per phase, reversed so each output is a contiguous dot product.

    Returns
    -------
    tuple[NDArray[np.float32], int]
        Table of shape ``(up, n_j)`` with ``table[p, n_j - 1 - j] = h[p + j up]`` (zeros past the
        end), and ``half_len`` (the filter's centre index).
    """
    h, half_len = _taps(up, down)
    n_j = math.ceil(h.size / up)
    hp = np.zeros(n_j * up)
    hp[: h.size] = h
    table = hp.reshape(n_j, up).T[:, ::-1]
    return np.ascontiguousarray(table, dtype=np.float32), half_len


def _reflect(x: NDArray[np.float32], pad: int) -> NDArray[np.float32]:
    """``x`` extended by ``pad`` samples of odd reflection on both sides (zeros past length)."""
    n = x.size
    k = min(pad, n - 1)
    left = 2 * x[:1] - x[k:0:-1]
    right = 2 * x[-1:] - x[-2 : -k - 2 : -1]
    lz = np.full(pad - k, left[0] if k else x[0], dtype=np.float32)
    rz = np.full(pad - k, right[-1] if k else x[-1], dtype=np.float32)
    return np.ascontiguousarray(np.concatenate([lz, left, x, right, rz]), dtype=np.float32)


def resample_poly_py(x: NDArray[np.float32], up: int, down: int) -> NDArray[np.float32]:
    """Reference of :func:`resample_poly_f32`, straight from the definition
    ``y[k] = sum_i x[i] h[k down - i up + half_len]`` over the reflected input."""
    h, half_len = _taps(up, down)
    n = x.size
    n_out = -(-n * up // down)
    pad = h.size // up + 2
    xp = _reflect(np.asarray(x, dtype=np.float32), pad).astype(np.float64)
    y = np.zeros(n_out, dtype=np.float32)
    for k in range(n_out):
        acc = 0.0
        for i in range(xp.size):
            t = k * down - (i - pad) * up + half_len
            if 0 <= t < h.size:
                acc += xp[i] * h[t]
        y[k] = acc
    return y


@jit_fastmath
def _resample_kernel(xp: NDArray[np.float32], table: NDArray[np.float32], up: int, down: int,
                     half_len: int, pad: int, n_out: int) -> NDArray[np.float32]:
    n_j = table.shape[1]
    y = np.empty(n_out, dtype=np.float32)
    # u = k down + half_len = i_max up + p, tracked incrementally (no division per sample)
    step_i = down // up
    step_p = down - step_i * up
    i_max = half_len // up
    p = half_len - i_max * up
    for k in range(n_out):
        base = i_max - n_j + 1 + pad
        row = table[p]
        xs = xp[base : base + n_j]
        acc = np.float32(0.0)
        for j in range(n_j):
            acc += row[j] * xs[j]
        y[k] = acc
        i_max += step_i
        p += step_p
        if p >= up:
            p -= up
            i_max += 1
    return y


def resample_poly_f32(x: NDArray[np.floating], up: int, down: int) -> NDArray[np.float32]:
    """Resample by ``up / down`` (reduced fraction) with a polyphase Kaiser FIR, in float32.

    Parameters
    ----------
    x
        Shape ``(n,)`` finite samples (replace NaN gaps first), at least 2.
    up, down
        Positive integers; the output rate is ``fs up / down``.

    Returns
    -------
    NDArray[np.float32]
        Shape ``(ceil(n up / down),)``.

    Raises
    ------
    ValueError
        When ``up`` or ``down`` is not positive or ``x`` has fewer than 2 samples.
    """
    if up < 1 or down < 1:
        raise ValueError(f"resampling factors must be positive, got up={up}, down={down}")
    g = math.gcd(up, down)
    up, down = up // g, down // g
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if arr.size < 2:
        raise ValueError(f"need at least 2 samples to resample, got {arr.size}")
    table, half_len = polyphase_table(up, down)
    pad = table.shape[1] + 2
    n_out = -(-arr.size * up // down)
    return _resample_kernel(_reflect(arr, pad), table, up, down, half_len, pad, n_out)
