"""Shared multirate helpers for EEG detectors: cheap anti-aliased halving and block band powers.

Both spindle and seizure detection only need band energies up to 30 Hz on a coarse time grid
(0.1–1 s), so each channel is (1) decimated by an integer factor to about 64 Hz with a
windowed-sinc FIR evaluated only at the kept samples (about 15 multiply-adds per input sample in
float32, vectorised, ~53 dB rejection of everything that would alias below 25 Hz, 50/60-Hz
mains included), then (2) passed through causal second-order-section filters, two filters per
pass with their states in registers, whose outputs are squared and summed per block. No filtered
full-rate copy of the signal is ever stored.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from detectors._numba import JIT_OPTIONS

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "block_edges",
    "block_filter_energy",
    "block_filter_energy_py",
    "butter_bank",
    "decimation_taps",
    "fir_decimate",
    "fir_decimate_py",
    "jit_fastmath",
    "reduce_rate",
]


def jit_fastmath(func: F) -> F:
    """:func:`detectors._numba.jit` with ``fastmath`` on (vectorised dot products, fused
    multiply-adds in filter recursions).

    Only for kernels whose inputs are finite (callers replace NaN/inf first: ``fastmath``
    assumes no NaN) and whose results change by rounding only under reassociation; each such
    kernel is checked against its plain-Python reference in the tests.
    """
    if os.environ.get("WAVESCORE_DISABLE_NUMBA"):
        return func
    import numba

    return numba.jit(**{**JIT_OPTIONS, "fastmath": True})(func)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=32)
def _decimation_taps_cached(fs: float, q: int) -> NDArray[np.float64]:
    taps = decimation_taps(fs, q)
    taps.setflags(write=False)
    return taps


def decimation_taps(fs: float, q: int) -> NDArray[np.float64]:
    """Low-pass FIR for decimating by ``q``: flat to 0.39 ``fs_out``, stop from 0.61 ``fs_out``.

    Hamming-windowed sinc (about 53 dB stop-band attenuation) with the cut-off at the output
    Nyquist frequency; everything that would fold into ``[0, 0.39 fs_out]`` is attenuated.

    Returns
    -------
    NDArray[np.float64]
        Odd-length symmetric taps (``[1.0]`` when ``q == 1``).
    """
    if q <= 1:
        return np.ones(1)
    fs_out = fs / q
    transition = 0.22 * fs_out
    n_taps = int(np.ceil(3.3 * fs / transition))
    n_taps += 1 - n_taps % 2
    return np.asarray(signal.firwin(n_taps, 0.5 * fs_out, window="hamming", fs=fs),
                      dtype=np.float64)


def fir_decimate_py(x: NDArray[np.float32], taps: NDArray[np.float64], q: int
                    ) -> NDArray[np.float32]:
    """Reference of :func:`fir_decimate`: ``y[k] = sum_j taps[j] x[q k + j - half]``, indices
    clamped to the ends."""
    n = x.shape[0]
    half = taps.shape[0] // 2
    m = (n + q - 1) // q
    y = np.empty(m, dtype=np.float32)
    for k in range(m):
        acc = 0.0
        for j in range(taps.shape[0]):
            i = min(max(q * k + j - half, 0), n - 1)
            acc += float(taps[j]) * float(x[i])
        y[k] = acc
    return y


@jit_fastmath
def _fir_decimate_kernel(x: NDArray[np.float32], t32: NDArray[np.float32],
                         q: int) -> NDArray[np.float32]:
    n = x.shape[0]
    n_t = t32.shape[0]
    half = n_t // 2
    m = (n + q - 1) // q
    y = np.empty(m, dtype=np.float32)
    for k in range(m):
        start = q * k - half
        acc = np.float32(0.0)
        if start >= 0 and start + n_t <= n:
            for j in range(n_t):
                acc += t32[j] * x[start + j]
        else:
            for j in range(n_t):
                i = min(max(start + j, 0), n - 1)
                acc += t32[j] * x[i]
        y[k] = acc
    return y


def fir_decimate(x: NDArray[np.float32], taps: NDArray[np.float64], q: int) -> NDArray[np.float32]:
    """Filter with ``taps`` (centred, zero phase) and keep every ``q``-th sample.

    Parameters
    ----------
    x
        Shape ``(n,)`` finite float32 samples (converted if not; :func:`reduce_rate` replaces
        NaN gaps first).
    taps
        Odd-length FIR from :func:`decimation_taps`.
    q
        Decimation factor, at least 1.

    Returns
    -------
    NDArray[np.float32]
        Shape ``(ceil(n / q),)``; ``y[k]`` is centred on input sample ``q k``.
    """
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if arr.size == 0 or (q <= 1 and taps.shape[0] == 1):
        return arr
    return _fir_decimate_kernel(
        arr, np.ascontiguousarray(taps, dtype=np.float32), int(q))


def reduce_rate(x: NDArray[np.floating], fs: float,
                target_fs: float = 64.0) -> tuple[NDArray[np.float32], float]:
    """Decimate by the largest integer factor keeping the rate at or above ``target_fs``.

    NaN and infinities become 0. The anti-alias filter (:func:`decimation_taps`) keeps
    ``0–0.39 fs_out`` (25 Hz at 64 Hz) and rejects what would fold into it, mains included.

    Parameters
    ----------
    x
        Shape ``(n,)`` samples.
    fs
        Rate of ``x`` in Hz.
    target_fs
        Lowest acceptable output rate in Hz.

    Returns
    -------
    tuple[NDArray[np.float32], float]
        The decimated signal (float32) and its rate in Hz.
    """
    y = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(y).all():
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    q = max(1, int(np.floor(fs / target_fs + 1e-9)))
    if q == 1:
        return y, fs
    return fir_decimate(y, _decimation_taps_cached(float(fs), q), q), fs / q


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
    n_blocks = math.floor(n / (fs * step_s) + 1e-9)
    edges = np.floor(np.arange(n_blocks + 1) * fs * step_s + 1e-9).astype(np.int64)
    return np.asarray(np.minimum(edges, n), dtype=np.int64)


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


@jit_fastmath
def _pair_energy_kernel(x: NDArray[np.float32], sos: NDArray[np.float64],
                        edges: NDArray[np.int64], out: NDArray[np.float64], k: int) -> None:
    # Two filters of two sections each, with every coefficient and state in a local variable:
    # the recursions then stay in registers (state kept in arrays goes through memory on every
    # sample, which tripled the time), and the two filters' chains overlap.
    # writes energies of filters k and k + 1 into out[:, k], out[:, k + 1] (when they exist);
    # for k == 0 also their cross term and the line length into the last two columns
    n_b = edges.shape[0] - 1
    n_f = out.shape[1] - 2
    has_q = k + 1 < n_f
    first = k == 0
    p00, p01, p02, p04, p05 = sos[0, 0, 0], sos[0, 0, 1], sos[0, 0, 2], sos[0, 0, 4], sos[0, 0, 5]
    p10, p11, p12, p14, p15 = sos[0, 1, 0], sos[0, 1, 1], sos[0, 1, 2], sos[0, 1, 4], sos[0, 1, 5]
    q00, q01, q02, q04, q05 = sos[1, 0, 0], sos[1, 0, 1], sos[1, 0, 2], sos[1, 0, 4], sos[1, 0, 5]
    q10, q11, q12, q14, q15 = sos[1, 1, 0], sos[1, 1, 1], sos[1, 1, 2], sos[1, 1, 4], sos[1, 1, 5]
    pa1 = pa2 = pb1 = pb2 = qa1 = qa2 = qb1 = qb2 = 0.0
    prev = np.float64(x[0]) if x.shape[0] else 0.0
    for b in range(n_b):
        e_p = 0.0
        e_q = 0.0
        e_x = 0.0
        ll = 0.0
        for i in range(edges[b], edges[b + 1]):
            xi = np.float64(x[i])
            # filter P, section 0 then 1 (direct form II transposed)
            y = p00 * xi + pa1
            pa1 = p01 * xi - p04 * y + pa2
            pa2 = p02 * xi - p05 * y
            yp = p10 * y + pb1
            pb1 = p11 * y - p14 * yp + pb2
            pb2 = p12 * y - p15 * yp
            # filter Q
            y = q00 * xi + qa1
            qa1 = q01 * xi - q04 * y + qa2
            qa2 = q02 * xi - q05 * y
            yq = q10 * y + qb1
            qb1 = q11 * y - q14 * yq + qb2
            qb2 = q12 * y - q15 * yq
            e_p += yp * yp
            e_q += yq * yq
            e_x += yp * yq
            ll += abs(xi - prev)
            prev = xi
        out[b, k] = e_p
        if has_q:
            out[b, k + 1] = e_q
        if first:
            out[b, n_f] = e_x if has_q else 0.0
            out[b, n_f + 1] = ll


def block_filter_energy(x: NDArray[np.float32], bank: NDArray[np.float64],
                        edges: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per-block energies of causal filter outputs, one cross term and the line length.

    Filters run two at a time (one pass over ``x`` per pair) in a kernel that keeps their
    states in registers.

    Parameters
    ----------
    x
        Shape ``(n,)`` float32 samples.
    bank
        Shape ``(n_filters, n_sections, 6)`` from :func:`butter_bank`, at most 2 sections.
    edges
        Block edges from :func:`block_edges`.

    Returns
    -------
    NDArray[np.float64]
        Shape ``(n_blocks, n_filters + 2)``: sum of squares of each filter output per block, then
        the sum of products of filter 0 and filter 1 outputs (0 with one filter), then the line
        length ``sum |x[i] - x[i-1]|`` of the input.

    Raises
    ------
    ValueError
        When a filter has more than 2 sections or the edges reach past the end of ``x``.
    """
    arr = np.ascontiguousarray(x, dtype=np.float32)
    n_f, n_s, _ = bank.shape
    n_b = max(edges.shape[0] - 1, 0)
    out = np.zeros((n_b, n_f + 2))
    if n_b == 0 or arr.size == 0 or n_f == 0:
        return out
    if n_s > 2:
        raise ValueError(f"filters of at most 2 second-order sections are supported, got {n_s}")
    if int(edges[-1]) > arr.size:
        raise ValueError(f"block edges reach sample {int(edges[-1])} past the end ({arr.size})")
    padded = np.zeros((n_f + n_f % 2, 2, 6))
    padded[:, :, 0] = 1.0
    padded[:, :, 3] = 1.0
    padded[:n_f, :n_s] = bank
    e = np.ascontiguousarray(edges, dtype=np.int64)
    for k in range(0, n_f, 2):
        _pair_energy_kernel(arr, np.ascontiguousarray(padded[k : k + 2]), e, out, k)
    return out
