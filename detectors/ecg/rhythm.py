"""Rhythm events from labelled beats: AF, sinus brady/tachycardia, pauses, VT, bigeminy, trigeminy.

AF is found from RR irregularity, built on the successive-difference statistics of Dash et al.
(2009) and the coefficient-of-sample-entropy idea of Lake & Moorman (2011) that AF makes RR
intervals irregular without a repeating pattern. What this implementation changes: intervals
touching a ventricular beat or a paced beat (Q: its timing is the device's, not the AV node's)
are left out, and the irregularity of a window is the smallest, over
lags 1, 2 and 3, of the median absolute lag difference of RR divided by the median RR. Regular
patterns of ectopy (bigeminy, trigeminy, a premature beat every third or fourth beat) have a
small difference at their own lag, AF at none, so ectopy is not taken for AF. Beats are flagged
where the irregularity exceeds ``af_irregularity``; flagged runs closer than ``af_merge_s`` are
joined and runs shorter than ``af_min_s`` dropped.

The other rhythms follow the usual Holter definitions (AHA/ACC/HRS 2009 ambulatory ECG
recommendations): sinus bradycardia and tachycardia from the median rate of dominant beats over
``rate_window_s``, pauses as RR intervals above ``pause_s``, ventricular tachycardia as three or
more consecutive V beats above ``vt_rate_bpm``, bigeminy as three or more N-V cycles in a row and
trigeminy as three or more N-N-V cycles.

References
----------
S. Dash, K. H. Chon, S. Lu and E. A. Raeder, "Automatic real time detection of atrial
fibrillation," Ann. Biomed. Eng. 37(9):1701-1709, 2009.
D. E. Lake and J. R. Moorman, "Accurate estimation of entropy in very short physiological time
series: the problem of atrial fibrillation detection in implanted ventricular devices," Am. J.
Physiol. Heart Circ. Physiol. 300(1):H319-H325, 2011.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detectors.ecg._rhythm_kernels import _irregularity_kernel, _window_median_kernel


@dataclass(frozen=True, slots=True)
class RhythmParams:
    """Parameters of :func:`detect_rhythms`.

    Attributes
    ----------
    af_window_beats
        RR intervals in the sliding AF window.
    af_irregularity
        AF when the window irregularity (see module docstring) exceeds this and P waves are
        inconsistent (P-wave consistency below ``af_p_consistency``) ...
    af_irregularity_high
        ... or when the irregularity exceeds this whatever the P waves.
    af_irregularity_rr_only
        The threshold used when no P-wave consistency is available.
    af_p_consistency
        P-wave consistency below this counts as absent P waves.
    af_max_lag
        Lags ``1..af_max_lag`` of RR differences are tried (1 disables the ectopy-pattern
        tolerance).
    af_min_valid
        Fewest usable intervals (not touching a V beat) in a window to judge it.
    min_similarity
        Beats whose shape correlates below this with their template are treated as noise.
    af_bridge_unknown
        Beats whose window cannot be judged (too many V or noisy beats) are in AF when the
        nearest judged beats on both sides are.
    af_merge_s
        AF runs separated by less than this (seconds) are joined.
    af_min_s
        AF episodes shorter than this (seconds) are dropped.
    brady_bpm, tachy_bpm
        Sinus bradycardia below, sinus tachycardia above these rates.
    rate_window_s
        Window (seconds) over which the sinus rate is the median of dominant RR intervals.
    rate_min_s
        Shortest brady/tachycardia episode reported (seconds).
    pause_s
        An RR interval longer than this is a pause (seconds).
    vt_min_beats
        Fewest consecutive V beats for a ventricular run.
    vt_rate_bpm
        Runs faster than this are ventricular tachycardia (``VT``); slower runs are
        idioventricular (``IVR``).
    pattern_min_cycles
        Fewest consecutive N-V (bigeminy) or N-N-V (trigeminy) cycles reported.
    paced_min_beats
        Fewest consecutive paced (Q) beats reported as a paced-rhythm episode (``P``).
    """

    af_window_beats: int = 32
    af_irregularity: float = 0.05
    af_irregularity_high: float = 0.12
    af_irregularity_rr_only: float = 0.08
    af_p_consistency: float = 0.6
    af_max_lag: int = 3
    af_min_valid: int = 10
    af_merge_s: float = 20.0
    af_bridge_unknown: bool = True
    min_similarity: float = 0.7
    af_min_s: float = 30.0
    brady_bpm: float = 60.0
    tachy_bpm: float = 100.0
    rate_window_s: float = 10.0
    rate_min_s: float = 10.0
    pause_s: float = 2.0
    vt_min_beats: int = 3
    vt_rate_bpm: float = 100.0
    pattern_min_cycles: int = 3
    paced_min_beats: int = 3


@dataclass(frozen=True, slots=True)
class RhythmEvent:
    """One rhythm episode.

    Attributes
    ----------
    label
        ``AFIB``, ``SBR`` (sinus bradycardia), ``STACH`` (sinus tachycardia), ``PAUSE``,
        ``VT``, ``IVR``, ``BIGEMINY``, ``TRIGEMINY`` or ``P`` (paced rhythm, the MIT-BIH
        code).
    onset_s, offset_s
        Start and end in seconds from the start of the record.
    confidence
        In ``[0, 1]``.
    """

    label: str
    onset_s: float
    offset_s: float
    confidence: float


def af_irregularity(
    beats_s: NDArray[np.float64],
    labels: NDArray[np.str_],
    params: RhythmParams | None = None,
    similarity: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Irregularity of the RR intervals around each beat (NaN where it cannot be judged).

    Parameters
    ----------
    beats_s
        Shape ``(k,)`` increasing beat times in seconds.
    labels
        Shape ``(k,)`` AAMI class per beat.
    params
        Parameters; defaults when None.
    similarity
        Shape ``(k,)`` correlation of each beat with its morphology template (from
        :func:`classify_beats`); intervals touching a beat below ``min_similarity`` (noise)
        are left out like those touching V beats. None uses every non-V, non-Q beat.

    Returns
    -------
    NDArray[np.float64]
        Shape ``(k,)``: for each beat, the smallest over lags 1-3 of the median absolute lag
        difference of the usable RR intervals in the window centred on it, over their median.
    """
    p = params or RhythmParams()
    k = beats_s.shape[0]
    out = np.full(k, np.nan, dtype=np.float64)
    if k < 5:
        return out
    rr = np.diff(beats_s)
    bad = (labels == "V") | (labels == "Q")
    if similarity is not None:
        bad = bad | (similarity < p.min_similarity)
    usable = ~(bad[1:] | bad[:-1])
    idx = np.flatnonzero(usable)  # interval i ends at beat i + 1
    if idx.size < max(p.af_min_valid, 5):
        return out
    rr_u = rr[idx]
    ends = idx + 1
    half_w = p.af_window_beats // 2
    # usable intervals ending within +/- half_w beats of each beat
    lo = np.searchsorted(ends, np.arange(k) - half_w, side="left")
    hi = np.searchsorted(ends, np.arange(k) + half_w, side="right")
    return _irregularity_kernel(rr_u, lo.astype(np.int64), hi.astype(np.int64),
                                max(p.af_min_valid, 5), max(p.af_max_lag, 1))


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open ``(start, stop)`` index runs where ``mask`` is True."""
    if mask.size == 0:
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _bridge(flag: NDArray[np.bool_], unknown: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Flag runs of unjudged beats (``unknown``) that have flagged judged beats on both sides."""
    k = flag.shape[0]
    idx = np.arange(k)
    known = ~unknown
    prev = np.maximum.accumulate(np.where(known, idx, -1))
    nxt = np.minimum.accumulate(np.where(known, idx, k)[::-1])[::-1]
    ok_prev = prev >= 0
    ok_next = nxt < k
    before = np.zeros(k, dtype=bool)
    after = np.zeros(k, dtype=bool)
    before[ok_prev] = flag[prev[ok_prev]]
    after[ok_next] = flag[nxt[ok_next]]
    return flag | (unknown & before & after)


def _merge(spans: list[tuple[float, float, float]], gap_s: float, min_s: float,
           ) -> list[tuple[float, float, float]]:
    """Join ``(on, off, conf)`` spans closer than ``gap_s``; drop those shorter than ``min_s``."""
    merged: list[tuple[float, float, float]] = []
    for on, off, conf in spans:
        if merged and on - merged[-1][1] < gap_s:
            m_on, _, m_conf = merged[-1]
            merged[-1] = (m_on, off, max(m_conf, conf))
        else:
            merged.append((on, off, conf))
    return [s for s in merged if s[1] - s[0] >= min_s]


def detect_af(
    beats_s: NDArray[np.float64],
    labels: NDArray[np.str_],
    params: RhythmParams | None = None,
    similarity: NDArray[np.float64] | None = None,
    p_consistency: NDArray[np.float64] | None = None,
) -> list[RhythmEvent]:
    """AF episodes from RR irregularity and, when given, P-wave consistency.

    A beat is in AF when its window irregularity (:func:`af_irregularity`) exceeds
    ``af_irregularity_high``, or exceeds ``af_irregularity`` while the P-wave consistency
    (:func:`detectors.ecg.atrial.p_wave_consistency`) is below ``af_p_consistency``. Without
    P-wave consistency, ``af_irregularity`` alone decides.
    """
    p = params or RhythmParams()
    raw = af_irregularity(beats_s, labels, p, similarity)
    unknown = np.isnan(raw)
    irr = np.nan_to_num(raw, nan=0.0)
    if p_consistency is None:
        flag = irr > p.af_irregularity_rr_only
    else:
        no_p = np.nan_to_num(p_consistency, nan=1.0) < p.af_p_consistency
        flag = (irr > p.af_irregularity_high) | ((irr > p.af_irregularity) & no_p)
    if p.af_bridge_unknown and unknown.any() and not unknown.all():
        flag = _bridge(flag, unknown)
    spans = []
    for a, z in _runs(flag):
        on = float(beats_s[max(a - 1, 0)])
        off = float(beats_s[min(z, beats_s.shape[0] - 1)])
        margin = float(np.median(irr[a:z])) / p.af_irregularity_rr_only
        # a run of bridged (unjudged) beats has no irregularity of its own: confidence 0.5
        conf = float(np.clip(1.0 - 0.5 / margin, 0.0, 1.0)) if margin > 0 else 0.5
        spans.append((on, off, conf))
    return [RhythmEvent("AFIB", on, off, c) for on, off, c in _merge(spans, p.af_merge_s,
                                                                     p.af_min_s)]


def _inside(t: NDArray[np.float64], spans: list[RhythmEvent]) -> NDArray[np.bool_]:
    mask = np.zeros(t.shape[0], dtype=bool)
    for ev in spans:
        mask |= (t >= ev.onset_s) & (t <= ev.offset_s)
    return mask


def detect_rhythms(
    beats_s: NDArray[np.float64],
    labels: NDArray[np.str_],
    params: RhythmParams | None = None,
    similarity: NDArray[np.float64] | None = None,
    p_consistency: NDArray[np.float64] | None = None,
) -> list[RhythmEvent]:
    """All rhythm episodes of a record from its beats and their AAMI classes.

    Parameters
    ----------
    beats_s
        Shape ``(k,)`` increasing beat times in seconds.
    labels
        Shape ``(k,)`` AAMI class per beat (``N``, ``S``, ``V``, ``F``, ``Q``).
    params
        Parameters; defaults when None.
    similarity
        Shape ``(k,)`` beat-to-template correlation (see :func:`af_irregularity`), or None.
    p_consistency
        Shape ``(k,)`` P-wave consistency (see :func:`detect_af`), or None.

    Returns
    -------
    list[RhythmEvent]
        Sorted by onset.
    """
    p = params or RhythmParams()
    k = beats_s.shape[0]
    if k < 2:
        return []
    events = detect_af(beats_s, labels, p, similarity, p_consistency)
    in_af = _inside(beats_s, events)
    rr = np.diff(beats_s)
    # pauses
    for i in np.flatnonzero(rr > p.pause_s):
        conf = float(np.clip(0.5 + (rr[i] - p.pause_s) / p.pause_s, 0.0, 1.0))
        events.append(RhythmEvent("PAUSE", float(beats_s[i]), float(beats_s[i + 1]), conf))
    # ventricular runs
    is_v = labels == "V"
    for a, z in _runs(is_v):
        if z - a < p.vt_min_beats:
            continue
        rate = 60.0 * (z - a - 1) / max(float(beats_s[z - 1] - beats_s[a]), 1e-9)
        label = "VT" if rate > p.vt_rate_bpm else "IVR"
        events.append(RhythmEvent(label, float(beats_s[a]), float(beats_s[z - 1]), 0.8))
    # paced rhythm: runs of paced beats
    for a, z in _runs(labels == "Q"):
        if z - a >= max(p.paced_min_beats, 2):
            events.append(RhythmEvent("P", float(beats_s[a]), float(beats_s[z - 1]), 0.8))
    # bigeminy / trigeminy: repeated cycles ending in a V beat
    for label, cycle in (("BIGEMINY", 2), ("TRIGEMINY", 3)):
        events.extend(_pattern(beats_s, is_v, cycle, p.pattern_min_cycles, label))
    # sinus rate from dominant-to-dominant intervals outside AF
    events.extend(_sinus_rate(beats_s, labels, in_af, p))
    events.sort(key=lambda e: (e.onset_s, e.label))
    return events


def _pattern(beats_s: NDArray[np.float64], is_v: NDArray[np.bool_], cycle: int, min_cycles: int,
             label: str) -> list[RhythmEvent]:
    """Runs of ``min_cycles`` or more cycles of ``cycle - 1`` non-V beats then one V beat."""
    k = is_v.shape[0]
    v_idx = np.flatnonzero(is_v)
    out: list[RhythmEvent] = []
    if v_idx.size < min_cycles:
        return out
    # consecutive V beats exactly `cycle` apart, with only non-V beats between
    good = np.diff(v_idx) == cycle
    for a, z in _runs(good):
        n_cycles = z - a + 1
        if n_cycles < min_cycles:
            continue
        first = int(v_idx[a]) - (cycle - 1)
        if first < 0 or is_v[first:int(v_idx[a])].any():
            first = int(v_idx[a])
        last = int(v_idx[z])
        out.append(RhythmEvent(label, float(beats_s[max(first, 0)]),
                               float(beats_s[min(last, k - 1)]), 0.8))
    return out


def _sinus_rate(beats_s: NDArray[np.float64], labels: NDArray[np.str_], in_af: NDArray[np.bool_],
                p: RhythmParams) -> list[RhythmEvent]:
    """Sinus bradycardia / tachycardia episodes from the local median dominant rate."""
    rr = np.diff(beats_s)
    nn = (labels[1:] == "N") & (labels[:-1] == "N") & ~in_af[1:] & ~in_af[:-1]
    if int(nn.sum()) < 3:
        return []
    t = beats_s[1:][nn]
    rr_nn = rr[nn]
    # median RR over a centred time window, evaluated at each NN interval
    lo = np.searchsorted(t, t - p.rate_window_s / 2)
    hi = np.searchsorted(t, t + p.rate_window_s / 2, side="right")
    bpm = 60.0 / _window_median_kernel(rr_nn, lo.astype(np.int64), hi.astype(np.int64))
    out: list[RhythmEvent] = []
    for label, mask in (("SBR", bpm < p.brady_bpm), ("STACH", bpm > p.tachy_bpm)):
        spans = []
        for a, z in _runs(mask):
            on = float(t[a] - rr_nn[a])
            off = float(t[z - 1])
            level = float(np.median(bpm[a:z]))
            ref = p.brady_bpm if label == "SBR" else p.tachy_bpm
            conf = float(np.clip(0.5 + abs(level - ref) / 20.0, 0.0, 1.0))
            spans.append((on, off, conf))
        for on, off, conf in _merge(spans, 2.0, p.rate_min_s):
            out.append(RhythmEvent(label, on, off, conf))
    return out
