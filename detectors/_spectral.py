"""Shared multirate helpers for EEG detectors: cheap anti-aliased halving and block band powers.

Both spindle and seizure detection only need band energies on a coarse time grid (0.1–1 s), so
each channel is (1) halved in rate with a [1, 2, 1] / 4 kernel (attenuation cos²(πf/fs): a
48-dB null at the old Nyquist, −32 dB at 115 Hz of a 256-Hz recording) until it is at most
``max_fs`` Hz, then (2) passed once through a bank of causal second-order-section filters whose
outputs are squared and summed per block. A whole night stays in one cache-friendly pass per
channel and no filtered copy of the signal is ever stored.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from detectors._numba import jit

__all__ = [
    "block_edges",
    "block_filter_energy",
    "block_filter_energy_py",
    "butter_bank",
    "halve",
    "halve_py",
    "reduce_rate",
]


def halve_py(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Reference of :func:`halve`: ``y[k] = (x[2k-1] + 2 x[2k] + x[2k+1]) / 4``, edges clamped."""
    n = x.shape[0]
    m = (n + 1) // 2
    y = np.empty(m, dtype=np.float32)
    for k in range(m):
        i = 2 * k
        a = float(x[i - 1]) if i >= 1 else float(x[i])
        c = float(x[i + 1]) if i + 1 < n else float(x[i])
        y[k] = 0.25 * a + 0.5 * float(x[i]) + 0.25 * c
    return y


@jit
def _halve_kernel(x: NDArray[np.float32]) -> NDArray[np.float32]:
    n = x.shape[0]
    m = (n + 1) // 2
    y = np.empty(m, dtype=np.float32)
    for k in range(m):
        i = 2 * k
        a = x[i - 1] if i >= 1 else x[i]
        c = x[i + 1] if i + 1 < n else x[i]
        y[k] = 0.25 * a + 0.5 * x[i] + 0.25 * c
    return y


def halve(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Low-pass with [1, 2, 1] / 4 and keep every second sample.

    Parameters
    ----------
    x
        Shape ``(n,)``, float32 (converted if not), ``n >= 1``.

    Returns
    -------
    NDArray[np.float32]
        Shape ``((n + 1) // 2,)``.
    """
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if arr.size == 0:
        return arr
    return _halve_kernel(arr)  # type: ignore[no-any-return]


def reduce_rate(x: NDArray[np.floating], fs: float,
                max_fs: float = 128.0) -> tuple[NDArray[np.float32], float]:
    """Halve the rate until it is at most ``max_fs``; NaN become 0.

    Parameters
    ----------
    x
        Shape ``(n,)`` samples.
    fs
        Rate of ``x`` in Hz.
    max_fs
        Target ceiling in Hz.

    Returns
    -------
    tuple[NDArray[np.float32], float]
        The reduced signal (float32) and its rate in Hz.
    """
    y = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(y).all():
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    while fs > max_fs:
        y = halve(y)
        fs /= 2.0
    return y, fs


def butter_bank(bands: list[tuple[float, float]], fs: float, order: int = 2) -> NDArray[np.float64]:
    """Butterworth band-pass sections for each band, padded to the same section count.

    Parameters
    ----------
    bands
        ``(low_hz, high_hz)`` pairs; ``low_hz <= 0`` gives a low-pass, ``high_hz >= fs/2`` a
        high-pass.
    fs
        Sampling rate in Hz.
    order
        Butterworth order per edge.

    Returns
    -------
    NDArray[np.float64]
        Shape ``(n_bands, n_sections, 6)`` second-order sections (scipy ``sos`` layout); unused
        sections are identity ``[1, 0, 0, 1, 0, 0]``.
    """
    nyq = fs / 2.0
    soss = []
    for lo, hi in bands:
        hi_ok = hi < nyq * 0.98
        if lo > 0 and hi_ok:
            sos = signal.butter(order, [lo, hi], "bandpass", fs=fs, output="sos")
        elif lo > 0:
            sos = signal.butter(order, lo, "highpass", fs=fs, output="sos")
        else:
            sos = signal.butter(order, min(hi, nyq * 0.98), "lowpass", fs=fs, output="sos")
        soss.append(np.asarray(sos, dtype=np.float64))
    n_sec = max(s.shape[0] for s in soss)
    bank = np.zeros((len(soss), n_sec, 6))
    bank[:, :, 0] = 1.0
    bank[:, :, 3] = 1.0
    for i, s in enumerate(soss):
        bank[i, : s.shape[0]] = s
    return bank


def block_edges(n: int, fs: float, step_s: float) -> NDArray[np.int64]:
    """Sample edges of consecutive blocks of ``step_s`` seconds (last partial block dropped).

    Returns
    -------
    NDArray[np.int64]
        Shape ``(n_blocks + 1,)``, first 0, strictly increasing.
    """
    n_blocks = int(math.floor(n / (fs * step_s) + 1e-9))
    edges = np.floor(np.arange(n_blocks + 1) * fs * step_s + 1e-9).astype(np.int64)
    return np.minimum(edges, n)


def block_filter_energy_py(x: NDArray[np.float32], bank: NDArray[np.float64],
                           edges: NDArray[np.int64]) -> NDArray[np.float64]:
    """Reference of :func:`block_filter_energy` (direct-form II transposed sections)."""
    n_f, n_s, _ = bank.shape
    n_b = edges.shape[0] - 1
    out = np.zeros((n_b, n_f + 2))
    z1 = np.zeros((n_f, n_s))
    z2 = np.zeros((n_f, n_s))
    prev = float(x[0]) if x.shape[0] else 0.0
    for b in range(n_b):
        for i in range(int(edges[b]), int(edges[b + 1])):
            xi = float(x[i])
            ys = []
            for f in range(n_f):
                v = xi
                for s in range(n_s):
                    b0, b1, b2, _, a1, a2 = bank[f, s]
                    y = b0 * v + z1[f, s]
                    z1[f, s] = b1 * v - a1 * y + z2[f, s]
                    z2[f, s] = b2 * v - a2 * y
                    v = y
                ys.append(v)
                out[b, f] += v * v
            out[b, n_f] += ys[0] * ys[1] if n_f > 1 else 0.0
            out[b, n_f + 1] += abs(xi - prev)
            prev = xi
    return out


@jit
def _block_filter_energy_kernel(x: NDArray[np.float32], bank: NDArray[np.float64],
                                edges: NDArray[np.int64]) -> NDArray[np.float64]:
    n_f, n_s, _ = bank.shape
    n_b = edges.shape[0] - 1
    out = np.zeros((n_b, n_f + 2))
    z1 = np.zeros((n_f, n_s))
    z2 = np.zeros((n_f, n_s))
    ys = np.zeros(n_f)
    prev = np.float64(x[0]) if x.shape[0] else 0.0
    for b in range(n_b):
        acc_ll = 0.0
        acc_x = 0.0
        for i in range(edges[b], edges[b + 1]):
            xi = np.float64(x[i])
            for f in range(n_f):
                v = xi
                for s in range(n_s):
                    y = bank[f, s, 0] * v + z1[f, s]
                    z1[f, s] = bank[f, s, 1] * v - bank[f, s, 4] * y + z2[f, s]
                    z2[f, s] = bank[f, s, 2] * v - bank[f, s, 5] * y
                    v = y
                ys[f] = v
                out[b, f] += v * v
            if n_f > 1:
                acc_x += ys[0] * ys[1]
            acc_ll += abs(xi - prev)
            prev = xi
        out[b, n_f] = acc_x
        out[b, n_f + 1] = acc_ll
    return out


def block_filter_energy(x: NDArray[np.float32], bank: NDArray[np.float64],
                        edges: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per-block energies of causal filter outputs, one cross term and the line length.

    Parameters
    ----------
    x
        Shape ``(n,)`` float32 samples.
    bank
        Shape ``(n_filters, n_sections, 6)`` from :func:`butter_bank`.
    edges
        Block edges from :func:`block_edges`.

    Returns
    -------
    NDArray[np.float64]
        Shape ``(n_blocks, n_filters + 2)``: sum of squares of each filter output per block, then
        the sum of products of filter 0 and filter 1 outputs (0 with one filter), then the line
        length ``sum |x[i] - x[i-1]|`` of the input.
    """
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if edges.shape[0] < 2 or arr.size == 0:
        return np.zeros((max(edges.shape[0] - 1, 0), bank.shape[0] + 2))
    if int(edges[-1]) > arr.size:
        raise ValueError(f"block edges reach sample {int(edges[-1])} past the end ({arr.size})")
    return _block_filter_energy_kernel(  # type: ignore[no-any-return]
        arr, np.ascontiguousarray(bank, dtype=np.float64), np.ascontiguousarray(edges))
