"""Numba kernels of the QRS detector, each with a plain-Python reference.

``_integrate_py`` / ``_integrate_kernel``
    Squared five-point derivative followed by a centred moving sum (the feature signal).
``_threshold_py`` / ``_threshold_kernel``
    Adaptive dual-threshold decision over candidate peaks of the feature signal, with
    refractory period, T-wave rejection and search-back.

The references are written for clarity (no running sums, no early exits); the tests compare
them with the kernels over awkward sizes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detectors._numba import jit

_SEARCHBACK_MAX = 256
"""Search-back looks at most this many candidates back (bounds the cost of long gaps)."""


def _integrate_py(
    filtered: NDArray[np.float32], width: int, squared: bool
) -> NDArray[np.float32]:
    """Reference: squared five-point derivative, then a centred moving sum of ``width`` samples.

    Parameters
    ----------
    filtered
        Shape ``(n,)`` band-passed ECG.
    width
        Moving-window length in samples (>= 1).

    Returns
    -------
    NDArray[np.float32]
        Shape ``(n,)``; sample ``i`` sums the squared derivative over
        ``[i - width // 2, i - width // 2 + width)`` (clipped to the array).
    """
    n = filtered.shape[0]
    der2 = np.zeros(n, dtype=np.float64)
    for i in range(n):
        acc = 0.0
        for k, c in ((-2, -1.0), (-1, -2.0), (1, 2.0), (2, 1.0)):
            j = i + k
            if 0 <= j < n:
                acc += c * float(filtered[j])
        der2[i] = acc * acc if squared else abs(acc)
    out = np.zeros(n, dtype=np.float32)
    half = width // 2
    for i in range(n):
        lo = max(0, i - half)
        hi = min(n, i - half + width)
        out[i] = np.float32(der2[lo:hi].sum()) if hi > lo else np.float32(0.0)
    return out


@jit
def _integrate_kernel(
    filtered: NDArray[np.float32], width: int, squared: bool
) -> NDArray[np.float32]:
    n = filtered.shape[0]
    der2 = np.zeros(n, dtype=np.float32)  # float32 keeps long records small
    for i in range(n):
        acc = 0.0
        if i >= 2:
            acc -= float(filtered[i - 2])
        if i >= 1:
            acc -= 2.0 * float(filtered[i - 1])
        if i + 1 < n:
            acc += 2.0 * float(filtered[i + 1])
        if i + 2 < n:
            acc += float(filtered[i + 2])
        der2[i] = np.float32(acc * acc if squared else abs(acc))
    out = np.zeros(n, dtype=np.float32)
    half = width // 2
    acc = 0.0
    # running sum over [i - half, i - half + width), re-seeded every 65536 samples so rounding
    # cannot accumulate over long records
    for i in range(n):
        lo = i - half
        hi = lo + width
        if i % 65536 == 0:
            acc = 0.0
            for j in range(max(0, lo), min(n, hi)):
                acc += float(der2[j])
        else:
            if lo - 1 >= 0:
                acc -= float(der2[lo - 1])
            if 0 <= hi - 1 < n:
                acc += float(der2[hi - 1])
        out[i] = np.float32(max(acc, 0.0))
    return out


def _threshold_py(
    peaks: NDArray[np.int64],
    heights: NDArray[np.float64],
    slopes: NDArray[np.float64],
    fs: float,
    init_signal: float,
    refractory_s: float,
    twave_s: float,
    twave_slope_ratio: float,
    searchback_factor: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Reference: pick beats among candidate peaks with adaptive thresholds.

    Pan & Tompkins (1985) style: a signal level ``spk`` and a noise level ``npk`` follow the
    heights of accepted and rejected peaks; a peak is a beat when above
    ``npk + 0.25 (spk - npk)``, at least ``refractory_s`` after the previous beat, and, when
    closer than ``twave_s``, steeper than ``twave_slope_ratio`` times the previous beat.
    When no beat is found for ``searchback_factor`` times the running RR interval, the highest
    skipped peak above half the threshold is taken (search-back).

    Parameters
    ----------
    peaks
        Shape ``(m,)`` increasing candidate positions (samples).
    heights
        Shape ``(m,)`` feature-signal heights at ``peaks``.
    slopes
        Shape ``(m,)`` largest absolute slope of the band-passed ECG around each peak.
    fs
        Sampling rate in Hz.
    init_signal
        Initial signal level (a typical QRS height).
    refractory_s, twave_s, twave_slope_ratio, searchback_factor
        See :class:`detectors.ecg.qrs.QrsParams`.

    Returns
    -------
    beat_idx
        Indices into ``peaks`` of the accepted beats, increasing.
    ratio
        Height of each beat divided by the primary threshold when it was accepted.
    """
    m = peaks.shape[0]
    refractory = refractory_s * fs
    twave = twave_s * fs
    spk = init_signal
    npk = 0.0
    rr_hist = [0.0] * 8
    n_rr = 0
    beats: list[int] = []
    ratios: list[float] = []
    last_pos = 0.0
    last_slope = 0.0
    last_idx = -1
    rr_default = fs
    i = 0
    while i < m:
        thr1 = npk + 0.25 * (spk - npk)
        pos = float(peaks[i])
        # search-back: a long gap since the last beat
        rr_med = rr_default
        if n_rr >= 2:
            rr_list = sorted(rr_hist[: min(n_rr, 8)])
            rr_med = rr_list[len(rr_list) // 2]
        if pos - last_pos > searchback_factor * rr_med:
            best = -1
            best_h = 0.5 * thr1
            for j in range(max(last_idx + 1, i - _SEARCHBACK_MAX), i):
                dist = float(peaks[j]) - last_pos
                if last_idx >= 0 and dist < refractory:
                    continue
                if dist < twave and slopes[j] < twave_slope_ratio * last_slope:
                    continue
                if heights[j] > best_h:
                    best_h = heights[j]
                    best = j
            if best >= 0:
                beats.append(best)
                ratios.append(heights[best] / thr1)
                spk = 0.25 * min(heights[best], 2.0 * spk) + 0.75 * spk
                if last_idx >= 0:
                    rr_hist[n_rr % 8] = float(peaks[best]) - last_pos
                    n_rr += 1
                last_pos = float(peaks[best])
                last_slope = slopes[best]
                last_idx = best
                i = best + 1
                continue
        h = heights[i]
        dist = pos - last_pos
        is_beat = h > thr1 and (last_idx < 0 or dist >= refractory)
        if is_beat and dist < twave and slopes[i] < twave_slope_ratio * last_slope:
            is_beat = False
        if is_beat:
            beats.append(i)
            ratios.append(h / thr1)
            spk = 0.125 * min(h, 2.0 * spk) + 0.875 * spk
            if last_idx >= 0:
                rr_hist[n_rr % 8] = dist
                n_rr += 1
            last_pos = pos
            last_slope = slopes[i]
            last_idx = i
        else:
            npk = 0.125 * h + 0.875 * npk
        i += 1
    return np.asarray(beats, dtype=np.int64), np.asarray(ratios, dtype=np.float64)


@jit
def _threshold_kernel(
    peaks: NDArray[np.int64],
    heights: NDArray[np.float64],
    slopes: NDArray[np.float64],
    fs: float,
    init_signal: float,
    refractory_s: float,
    twave_s: float,
    twave_slope_ratio: float,
    searchback_factor: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    m = peaks.shape[0]
    refractory = refractory_s * fs
    twave = twave_s * fs
    spk = init_signal
    npk = 0.0
    rr_hist = np.zeros(8, dtype=np.float64)
    rr_sorted = np.zeros(8, dtype=np.float64)
    med_for = -1
    rr_med = fs
    n_rr = 0
    beats = np.empty(m, dtype=np.int64)
    ratios = np.empty(m, dtype=np.float64)
    n_beats = 0
    last_pos = 0.0
    last_slope = 0.0
    last_idx = -1
    rr_default = fs
    i = 0
    while i < m:
        thr1 = npk + 0.25 * (spk - npk)
        pos = float(peaks[i])
        if n_rr != med_for:  # the median changes only when an interval is added
            med_for = n_rr
            rr_med = rr_default
            if n_rr >= 2:
                k = min(n_rr, 8)
                for q in range(k):
                    rr_sorted[q] = rr_hist[q]
                # insertion sort of at most eight values, no allocation
                for a in range(1, k):
                    v = rr_sorted[a]
                    b = a - 1
                    while b >= 0 and rr_sorted[b] > v:
                        rr_sorted[b + 1] = rr_sorted[b]
                        b -= 1
                    rr_sorted[b + 1] = v
                rr_med = rr_sorted[k // 2]
        if pos - last_pos > searchback_factor * rr_med:
            best = -1
            best_h = 0.5 * thr1
            for j in range(max(last_idx + 1, i - _SEARCHBACK_MAX), i):
                dist = float(peaks[j]) - last_pos
                if last_idx >= 0 and dist < refractory:
                    continue
                if dist < twave and slopes[j] < twave_slope_ratio * last_slope:
                    continue
                if heights[j] > best_h:
                    best_h = heights[j]
                    best = j
            if best >= 0:
                beats[n_beats] = best
                ratios[n_beats] = heights[best] / thr1
                n_beats += 1
                spk = 0.25 * min(heights[best], 2.0 * spk) + 0.75 * spk
                if last_idx >= 0:
                    rr_hist[n_rr % 8] = float(peaks[best]) - last_pos
                    n_rr += 1
                last_pos = float(peaks[best])
                last_slope = slopes[best]
                last_idx = best
                i = best + 1
                continue
        h = heights[i]
        dist = pos - last_pos
        is_beat = h > thr1 and (last_idx < 0 or dist >= refractory)
        if is_beat and dist < twave and slopes[i] < twave_slope_ratio * last_slope:
            is_beat = False
        if is_beat:
            beats[n_beats] = i
            ratios[n_beats] = h / thr1
            n_beats += 1
            spk = 0.125 * min(h, 2.0 * spk) + 0.875 * spk
            if last_idx >= 0:
                rr_hist[n_rr % 8] = dist
                n_rr += 1
            last_pos = pos
            last_slope = slopes[i]
            last_idx = i
        else:
            npk = 0.125 * h + 0.875 * npk
        i += 1
    return beats[:n_beats].copy(), ratios[:n_beats].copy()


def _candidates_py(
    feat: NDArray[np.float32],
    filtered: NDArray[np.float32],
    half: int,
    slope_half: int,
    floor: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Reference: dominant local maxima of ``feat`` and the slope around each.

    A local maximum is a sample above ``floor`` higher than the previous sample and not lower
    than the next (the first sample of a plateau). It is a candidate when it is the largest
    sample within ``half`` samples on either side: no sample before it in that range is at least
    as high and none after it is higher.
    The slope of a candidate is the largest ``|filtered[k] - filtered[k - 1]|`` for ``k``
    within ``slope_half`` of it.

    Returns
    -------
    cand
        Shape ``(m,)`` int64 increasing positions.
    slopes
        Shape ``(m,)`` float64.
    """
    n = feat.shape[0]
    cand: list[int] = []
    for i in range(1, n - 1):
        h = feat[i]
        if not (h > floor and h > feat[i - 1] and h >= feat[i + 1]):
            continue
        before = feat[max(0, i - half) : i]
        after = feat[i + 1 : min(n, i + half + 1)]
        if (before.size and before.max() >= h) or (after.size and after.max() > h):
            continue
        cand.append(i)
    slopes = []
    for i in cand:
        lo = max(1, i - slope_half)
        hi = min(n, i + slope_half + 1)
        diffs = [abs(float(filtered[k]) - float(filtered[k - 1])) for k in range(lo, hi)]
        slopes.append(max(diffs) if diffs else 0.0)
    return np.asarray(cand, dtype=np.int64), np.asarray(slopes, dtype=np.float64)


@jit
def _candidates_kernel(
    feat: NDArray[np.float32],
    filtered: NDArray[np.float32],
    half: int,
    slope_half: int,
    floor: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    n = feat.shape[0]
    # local maxima first; the largest sample of a window is either one of them or an end of it
    local = np.empty(max(n // 2 + 1, 1), dtype=np.int64)  # maxima are >= 2 samples apart
    m_local = 0
    for i in range(1, n - 1):
        h = feat[i]
        if h > floor and h > feat[i - 1] and h >= feat[i + 1]:
            local[m_local] = i
            m_local += 1
    cand = np.empty(m_local, dtype=np.int64)
    m = 0
    for q in range(m_local):
        i = local[q]
        h = feat[i]
        lo = max(0, i - half)
        hi = min(n - 1, i + half)
        if (lo < i and feat[lo] >= h) or (hi > i and feat[hi] > h):
            continue
        ok = True
        r = q - 1
        while r >= 0 and local[r] >= lo:
            if feat[local[r]] >= h:
                ok = False
                break
            r -= 1
        if ok:
            r = q + 1
            while r < m_local and local[r] <= hi:
                if feat[local[r]] > h:
                    ok = False
                    break
                r += 1
        if ok:
            cand[m] = i
            m += 1
    cand = cand[:m].copy()
    slopes = np.zeros(m, dtype=np.float64)
    for q in range(m):
        i = cand[q]
        best = 0.0
        for k in range(max(1, i - slope_half), min(n, i + slope_half + 1)):
            d = abs(float(filtered[k]) - float(filtered[k - 1]))
            if d > best:
                best = d
        slopes[q] = best
    return cand, slopes
