"""Numba kernels of the min/max pyramid, each with a plain-Python reference.

Kernel pairs (``_x_kernel`` compiled, ``_x_py`` obviously right) compute the same function;
``tests/signal_io/test_pyramid.py`` compares them over awkward sizes.

NaN handling without a per-sample NaN test: a running minimum starts at ``+inf`` and a running
maximum at ``-inf``, and every update is ``if v < a: a = v`` (``if v > c: c = v``). A comparison
with NaN is false, so NaN samples never change the accumulators. A range that holds at least one
non-NaN value ends with ``a <= c``; an all-NaN (or empty) range ends with ``a = +inf > c = -inf``,
which is how it is recognised and turned into NaN. While a pyramid is being built its bins stay in
this *sentinel* form (empty = ``(+inf, -inf)``), so partial bins from consecutive chunks and the
coarser levels combine with plain comparisons; :func:`_finalize_kernel` turns empty bins into NaN.

The loops iterate ``for v in x[lo:hi]``: the fastest serial form measured for min/max in numba
(``parallel=True`` was ~20x slower for kernels this small on 2 cores). Min and max of float32
values are exact, so no result depends on the order of the scan, except the sign of a zero
(``-0.0 == 0.0``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from signal_io._numba import jit

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]


@jit
def _feed_kernel(chunk: F32, pos: int, bin_size: int, mins: F32, maxs: F32) -> None:
    """Merge ``chunk`` (samples ``pos ... pos + len(chunk) - 1``) into level-0 bins, in place.

    Parameters
    ----------
    chunk
        float32, shape ``(m,)``: consecutive raw samples, any length, any alignment.
    pos
        Sample index of ``chunk[0]`` in the whole signal.
    bin_size
        Samples per level-0 bin (``>= 1``).
    mins, maxs
        float32, shape ``(n_bins,)``, in sentinel form (empty bin = ``+inf`` / ``-inf``); bins
        that ``chunk`` touches are updated.
    """
    n = chunk.size
    b = pos // bin_size
    off = pos - b * bin_size
    i = 0
    while i < n:
        take = min(bin_size - off, n - i)
        a = mins[b]
        c = maxs[b]
        for v in chunk[i : i + take]:
            if v < a:
                a = v
            if v > c:
                c = v
        mins[b] = a
        maxs[b] = c
        i += take
        b += 1
        off = 0


def _feed_py(chunk: F32, pos: int, bin_size: int, mins: F32, maxs: F32) -> None:
    """Reference of :func:`_feed_kernel`: one sample at a time, NaN samples skipped."""
    for i in range(chunk.size):
        b = (pos + i) // bin_size
        v = chunk[i]
        if np.isnan(v):
            continue
        mins[b] = min(mins[b], v)
        maxs[b] = max(maxs[b], v)


@jit
def _coarsen_kernel(mins_in: F32, maxs_in: F32, factor: int, mins_out: F32, maxs_out: F32) -> None:
    """Fill the next pyramid level: output bin ``j`` combines input bins ``j*factor ...``.

    Parameters
    ----------
    mins_in, maxs_in
        float32, shape ``(n_in,)``, one level in sentinel form.
    factor
        Input bins per output bin (``>= 2``).
    mins_out, maxs_out
        float32, shape ``(ceil(n_in / factor),)``, written in sentinel form; the last output bin
        combines the remaining ``<= factor`` input bins (the tail).
    """
    n_in = mins_in.size
    for j in range(mins_out.size):
        lo = j * factor
        hi = min(lo + factor, n_in)
        a = np.float32(np.inf)
        c = np.float32(-np.inf)
        for v in mins_in[lo:hi]:
            if v < a:
                a = v
        for v in maxs_in[lo:hi]:
            if v > c:
                c = v
        mins_out[j] = a
        maxs_out[j] = c


def _coarsen_py(mins_in: F32, maxs_in: F32, factor: int, mins_out: F32, maxs_out: F32) -> None:
    """Reference of :func:`_coarsen_kernel` with NumPy reductions per output bin."""
    for j in range(mins_out.size):
        lo = j * factor
        mins_out[j] = np.min(mins_in[lo : lo + factor])
        maxs_out[j] = np.max(maxs_in[lo : lo + factor])


@jit
def _finalize_kernel(mins: F32, maxs: F32) -> None:
    """Turn empty bins (sentinel ``+inf`` / ``-inf``, i.e. all-NaN) into NaN, in place."""
    for j in range(mins.size):
        if mins[j] > maxs[j]:
            mins[j] = np.nan
            maxs[j] = np.nan


def _finalize_py(mins: F32, maxs: F32) -> None:
    """Reference of :func:`_finalize_kernel`."""
    empty = mins > maxs
    mins[empty] = np.nan
    maxs[empty] = np.nan


@jit
def _envelope_kernel(
    raw: F32,
    mins: F32,
    maxs: F32,
    bin_size: int,
    edges: I64,
    out_min: F32,
    out_max: F32,
) -> None:
    """Exact NaN-ignoring min/max of ``raw`` in each column ``[edges[i], edges[i+1])``.

    Whole bins of the level (``mins``/``maxs``, NaN form) inside a column are read from the level;
    the partial-bin parts at the column's ends are scanned from ``raw``.

    Parameters
    ----------
    raw
        float32, shape ``(n,)``: the whole signal (usually a memory map).
    mins, maxs
        float32, shape ``(ceil(n / bin_size),)``: one pyramid level (NaN form; its last bin
        covers the tail ``[(n_bins - 1) * bin_size, n)``). Ignored when ``bin_size <= 0``.
    bin_size
        Samples per bin of that level; ``<= 0`` scans every column from ``raw``.
    edges
        int64, shape ``(n_cols + 1,)``, increasing sample positions within ``[0, n]``.
    out_min, out_max
        float32, shape ``(n_cols,)``, written; an all-NaN column gives NaN.
    """
    n = raw.size
    n_bins = mins.size
    for i in range(edges.size - 1):
        lo = edges[i]
        hi = edges[i + 1]
        a = np.float32(np.inf)
        c = np.float32(-np.inf)
        raw_lo = lo
        raw_hi = hi
        if bin_size > 0:
            b_lo = (lo + bin_size - 1) // bin_size
            b_hi = n_bins if hi == n else hi // bin_size
            if b_lo < b_hi:
                for v in mins[b_lo:b_hi]:
                    if v < a:
                        a = v
                for v in maxs[b_lo:b_hi]:
                    if v > c:
                        c = v
                # raw head [lo, b_lo*bin), then raw tail [b_hi*bin, hi) (empty at the tail bin)
                for v in raw[lo : b_lo * bin_size]:
                    if v < a:
                        a = v
                    if v > c:
                        c = v
                raw_lo = min(b_hi * bin_size, hi)
                raw_hi = hi
        for v in raw[raw_lo:raw_hi]:
            if v < a:
                a = v
            if v > c:
                c = v
        if a > c:
            a = np.float32(np.nan)
            c = np.float32(np.nan)
        out_min[i] = a
        out_max[i] = c


def _envelope_py(
    raw: F32,
    mins: F32,
    maxs: F32,
    bin_size: int,
    edges: I64,
    out_min: F32,
    out_max: F32,
) -> None:
    """Reference of :func:`_envelope_kernel`: a full scan of ``raw`` in every column.

    ``mins``, ``maxs`` and ``bin_size`` are accepted for a like-for-like signature and ignored:
    the result must not depend on them.
    """
    del mins, maxs, bin_size
    for i in range(edges.size - 1):
        seg = raw[edges[i] : edges[i + 1]]
        seg = seg[~np.isnan(seg)]
        out_min[i] = seg.min() if seg.size else np.nan
        out_max[i] = seg.max() if seg.size else np.nan


__all__: list[str] = []
