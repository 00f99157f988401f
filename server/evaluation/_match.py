"""Matching helpers for beat-by-beat and interval comparisons (ANSI/AAMI EC57 style)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def match_beats(
    ref: NDArray[np.int64], det: NDArray[np.int64], tol: int
) -> NDArray[np.int64]:
    """Pair reference and detected beats one-to-one within ``tol`` samples.

    Each reference beat, in time order, takes the nearest still-unpaired detection within
    ``tol`` samples (ties go to the earlier detection), like the beat-by-beat comparison of
    WFDB ``bxb``.

    Parameters
    ----------
    ref, det
        Increasing sample positions, shapes ``(r,)`` and ``(d,)``.
    tol
        Largest distance in samples for a pair (150 ms at the record's rate).

    Returns
    -------
    NDArray[np.int64]
        Shape ``(r,)``: for each reference beat the index of its detection, or -1.
    """
    out = np.full(ref.shape[0], -1, dtype=np.int64)
    if ref.size == 0 or det.size == 0:
        return out
    used = np.zeros(det.shape[0], dtype=bool)
    pos = np.searchsorted(det, ref)
    for k in range(ref.shape[0]):
        s = int(ref[k])
        best = -1
        best_d = tol + 1
        # the nearest unpaired detections on each side
        j = int(pos[k]) - 1
        while j >= 0 and s - int(det[j]) <= tol:
            if not used[j]:
                best, best_d = j, s - int(det[j])
                break
            j -= 1
        j = int(pos[k])
        while j < det.shape[0] and int(det[j]) - s <= tol:
            if not used[j]:
                if int(det[j]) - s < best_d:
                    best = j
                break
            j += 1
        if best >= 0:
            used[best] = True
            out[k] = best
    return out


def intervals_overlap_s(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Total overlap in seconds between two lists of ``(start_s, stop_s)`` intervals.

    Each list must be non-overlapping (sorted or not).
    """
    total = 0.0
    for a0, a1 in a:
        for b0, b1 in b:
            lo = max(a0, b0)
            hi = min(a1, b1)
            if hi > lo:
                total += hi - lo
    return total


def total_s(a: list[tuple[float, float]]) -> float:
    """Summed length in seconds of ``(start_s, stop_s)`` intervals."""
    return float(sum(max(0.0, b - s) for s, b in a))


def any_overlap(x: tuple[float, float], others: list[tuple[float, float]]) -> bool:
    """Whether interval ``x`` overlaps any of ``others``."""
    return any(min(x[1], o[1]) > max(x[0], o[0]) for o in others)
