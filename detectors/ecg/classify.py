"""Beat classification into the AAMI classes N, S, V, F, Q.

Built on the rule-and-template approach of de Chazal et al. (2004) features (RR intervals,
QRS morphology) and the per-recording template clustering of Hamilton's open-source beat
classifier (EP Limited, "OSEA"): beats are clustered by waveform correlation within a
recording, the largest cluster is the dominant rhythm, and each cluster is judged against it
(correlation, QRS width, energy, polarity); prematurity against a local median RR separates
supraventricular ectopics.

What this implementation changes: no trained classifier (nothing to ship, works on any
recording and rate); clusters are judged as a whole, which makes single noisy beats follow
their cluster; a beat is called S only when premature and shaped like the dominant beats;
paced recordings (given, or detected from pacing spikes by :mod:`detectors.ecg.pacing`) label
their non-ventricular beats Q (AAMI puts paced beats in Q).

References
----------
P. de Chazal, M. O'Dwyer and R. B. Reilly, "Automatic classification of heartbeats using ECG
morphology and heartbeat interval features," IEEE Trans. Biomed. Eng. 51(7):1196-1206, 2004.
P. S. Hamilton, "Open source ECG analysis," Computers in Cardiology 29:101-104, 2002.
ANSI/AAMI EC57:2012, testing and reporting performance results of cardiac rhythm and ST segment
measurement algorithms (AAMI beat classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import scipy.ndimage
import scipy.signal
from numpy.typing import NDArray

from detectors.ecg._classify_kernels import _cluster_kernel

AAMI_CLASSES = ("N", "S", "V", "F", "Q")
"""The AAMI EC57 beat classes."""


@dataclass(frozen=True, slots=True)
class BeatClassParams:
    """Parameters of :func:`classify_beats`.

    Attributes
    ----------
    window_s
        Beat window (start, stop) in seconds around the beat mark.
    morph_band_hz
        Band-pass (Hz) applied before comparing beat shapes.
    cluster_corr
        Correlation needed for a beat to join a morphology cluster.
    max_clusters
        Most morphology clusters per recording.
    v_corr
        A cluster correlating less than this with the dominant template differs in shape.
    v_width_ratio
        A cluster wider than this times the dominant QRS differs in shape ...
    v_width_corr
        ... when its correlation with the dominant template is also below this.
    v_energy_ratio
        A cluster that differs in shape and is not premature is still ventricular when its
        energy exceeds this times the dominant's and it is wider than ``v_width_ratio``.
    v_min_energy_ratio
        A cluster fainter than this times the dominant energy and not wider than
        ``v_width_ratio`` is not ventricular (noise, aberrant low-amplitude complexes).
    irregular_dominance
        When choosing the dominant cluster, a cluster whose beats are premature (median RR
        ratio below ``v_prematurity``) counts this fraction of its size.
    v_prematurity
        A cluster differing in shape is ventricular when its median RR ratio is below this ...
    v_compensatory
        ... or when the median RR ratio of the beats following it is above this.
    s_prematurity
        A beat whose preceding RR is below this fraction of the local median RR is premature.
    local_rr_beats
        Beats on each side used for the local median RR.
    paced
        ``True``: the recording is paced and all its non-ventricular beats are labelled Q;
        ``False``: not paced; ``"auto"``: decided by
        :func:`detectors.ecg.pacing.detect_pacing` from pacing spikes, and in a paced
        recording only the paced beats (a spike of their own, or most beats of their
        morphology cluster with one) are labelled Q; intrinsic beats keep N, S or V.
    """

    window_s: tuple[float, float] = (-0.12, 0.2)
    morph_band_hz: tuple[float, float] = (1.0, 40.0)
    cluster_corr: float = 0.92
    max_clusters: int = 24
    v_corr: float = 0.8
    v_width_ratio: float = 1.3
    v_width_corr: float = 0.95
    v_energy_ratio: float = 1.1
    v_prematurity: float = 0.9
    irregular_dominance: float = 0.5
    v_min_energy_ratio: float = 0.6
    v_compensatory: float = 1.1
    s_prematurity: float = 0.85
    local_rr_beats: int = 8
    paced: bool | Literal["auto"] = "auto"


@dataclass(frozen=True, slots=True)
class BeatClasses:
    """Result of :func:`classify_beats`.

    Attributes
    ----------
    labels
        Shape ``(k,)`` AAMI class per beat (``"N"``, ``"S"``, ``"V"``, ``"F"``, ``"Q"``).
    confidence
        Shape ``(k,)`` in ``[0, 1]``.
    rr_ratio
        Shape ``(k,)`` preceding RR over the local median RR (1.0 for the first beat).
    cluster
        Shape ``(k,)`` morphology cluster index (0 is the dominant cluster).
    similarity
        Shape ``(k,)`` correlation of each beat with the dominant template (low values mark
        ectopic beats or beats distorted by noise); in a paced recording (detected), intrinsic
        beats are compared with the dominant intrinsic template instead.
    paced
        The recording was classified as paced (given, or detected when ``paced="auto"``).
    pacing_score
        The pacing score of :func:`detectors.ecg.pacing.detect_pacing` (paced at 1 or above;
        NaN when pacing was given, not detected).
    """

    labels: NDArray[np.str_]
    confidence: NDArray[np.float64]
    rr_ratio: NDArray[np.float64]
    cluster: NDArray[np.int64]
    similarity: NDArray[np.float64]
    paced: bool = False
    pacing_score: float = float("nan")


@lru_cache(maxsize=32)
def _morph_filter(fs: float, lo_hz: float = 1.0, hi_hz: float = 40.0) -> NDArray[np.float32]:
    hi = min(hi_hz, 0.45 * fs)
    sos = scipy.signal.butter(2, (lo_hz, hi), btype="bandpass", output="sos", fs=fs)
    return np.asarray(sos, dtype=np.float32)


def local_rr_ratio(beats_s: NDArray[np.float64], half_beats: int) -> NDArray[np.float64]:
    """Preceding RR of each beat divided by the median RR of the ``2 * half_beats + 1`` around.

    Parameters
    ----------
    beats_s
        Shape ``(k,)`` increasing beat times in seconds.
    half_beats
        Neighbours on each side.

    Returns
    -------
    NDArray[np.float64]
        Shape ``(k,)``; 1.0 where undefined (first beat, fewer than 3 beats).
    """
    k = beats_s.shape[0]
    out = np.ones(k, dtype=np.float64)
    if k < 3:
        return out
    rr = np.diff(beats_s)
    med = scipy.ndimage.median_filter(rr, size=2 * half_beats + 1, mode="nearest")
    out[1:] = rr / np.maximum(med, 1e-6)
    return out


def align_beats(x: NDArray[np.float32], beats: NDArray[np.int64], fs: float,
                half_s: float = 0.08) -> NDArray[np.int64]:
    """Move each beat to the centroid of the squared slope of ``x`` within ``+/- half_s``.

    The centroid does not jump between R and S peaks of similar size as the largest deflection
    does, which keeps beat windows aligned for template comparison.
    """
    half = max(1, round(half_s * fs))
    offs = np.arange(-half, half + 1)
    idx = np.clip(beats[:, None] + offs[None, :], 1, x.shape[0] - 1)
    e = (x[idx] - x[idx - 1]).astype(np.float64) ** 2
    tot = e.sum(axis=1)
    shift = (e * offs[None, :]).sum(axis=1) / np.maximum(tot, 1e-30)
    out = beats + np.round(np.where(tot > 0, shift, 0.0)).astype(np.int64)
    return np.clip(out, 0, x.shape[0] - 1)


def _dominant_rr_ratio(
    beats_s: NDArray[np.float64], dominant: NDArray[np.bool_], half_beats: int
) -> NDArray[np.float64]:
    """Preceding RR of each beat over the local median RR between consecutive dominant beats.

    Returns 1.0 everywhere when fewer than three dominant-to-dominant intervals exist.
    """
    k = beats_s.shape[0]
    out = np.ones(k, dtype=np.float64)
    if k < 3:
        return out
    rr = np.diff(beats_s)
    nn = dominant[1:] & dominant[:-1]
    if int(nn.sum()) < 3:
        return out
    nn_rr = scipy.ndimage.median_filter(rr[nn], size=2 * half_beats + 1, mode="nearest")
    ref = np.interp(beats_s[1:], beats_s[1:][nn], nn_rr)
    out[1:] = rr / np.maximum(ref, 1e-6)
    return out


def beat_windows(x: NDArray[np.float32], beats: NDArray[np.int64], fs: float,
                 window_s: tuple[float, float]) -> NDArray[np.float32]:
    """Mean-removed beat windows of ``x`` on a fixed 125-Hz grid, shape ``(k, w)``."""
    step = fs / 125.0  # a fixed 125-Hz grid keeps features the same at any rate
    offs = np.round(np.arange(round(window_s[0] * 125), round(window_s[1] * 125)) * step)
    idx = np.clip(beats[:, None] + offs.astype(np.int64)[None, :], 0, x.shape[0] - 1)
    w = x[idx]
    return np.asarray(w - w.mean(axis=1, keepdims=True), dtype=np.float32)


def shape_width(waves: NDArray[np.float64]) -> NDArray[np.float64]:
    """Effective width (samples of the 125-Hz grid) of the absolute slope of each waveform."""
    d = np.abs(np.diff(waves, axis=-1))
    return np.asarray(d.sum(axis=-1) / np.maximum(d.max(axis=-1), 1e-12), dtype=np.float64)


def _corr(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / den if den > 0 else 0.0


def _similarity(waves: NDArray[np.float32], template: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pearson correlation of each row of ``waves`` (shape ``(k, w)``) with ``template``."""
    centred = (waves - waves.mean(axis=1, keepdims=True)).astype(np.float64)
    t = template - template.mean()
    den = np.sqrt((centred**2).sum(axis=1) * float((t**2).sum()))
    return np.asarray(np.where(den > 0, (centred @ t) / np.maximum(den, 1e-30), 0.0),
                      dtype=np.float64)


def morphology_signal(
    signal: NDArray[np.floating], fs: float, band_hz: tuple[float, float] = (1.0, 40.0)
) -> NDArray[np.float32]:
    """Band-pass ``signal`` (NaN read as 0) for beat-shape comparison.

    Parameters
    ----------
    signal
        Shape ``(n,)`` ECG samples.
    fs
        Sampling rate in Hz.
    band_hz
        Pass band in Hz (2nd-order Butterworth, forwards and backwards).

    Returns
    -------
    NDArray[np.float32]
        Shape ``(n,)``.
    """
    x = np.nan_to_num(np.asarray(signal, dtype=np.float32), nan=0.0)
    if x.shape[0] <= 30:
        return x
    sos = _morph_filter(float(fs), *band_hz)
    return np.asarray(scipy.signal.sosfiltfilt(sos, x), dtype=np.float32)


def classify_beats(
    signal: NDArray[np.floating],
    fs: float,
    beats: NDArray[np.int64],
    params: BeatClassParams | None = None,
    *,
    filtered: NDArray[np.float32] | None = None,
) -> BeatClasses:
    """Label each beat N, S, V or Q (AAMI) from its RR timing and its QRS morphology.

    Parameters
    ----------
    signal
        Shape ``(n,)`` ECG samples (NaN allowed), either polarity.
    fs
        Sampling rate in Hz.
    beats
        Shape ``(k,)`` increasing beat sample positions (from :func:`detect_qrs`).
    params
        Parameters; defaults when None.
    filtered
        :func:`morphology_signal` of ``signal`` with ``params.morph_band_hz`` when already
        computed (the pipeline shares it with the P-wave analysis); None computes it.

    Returns
    -------
    BeatClasses
        Labels, confidence, RR ratio and cluster per beat.
    """
    p = params or BeatClassParams()
    k = beats.shape[0]
    if k == 0:
        return BeatClasses(np.zeros(0, dtype="<U1"), np.zeros(0), np.zeros(0),
                           np.zeros(0, dtype=np.int64), np.zeros(0))
    x = morphology_signal(signal, fs, p.morph_band_hz) if filtered is None else filtered
    waves = beat_windows(x, align_beats(x, beats, fs), fs, p.window_s)
    labels_c, _ = _cluster_kernel(waves, p.cluster_corr, p.max_clusters)
    n_c = int(labels_c.max()) + 1
    rr_ratio = local_rr_ratio(beats.astype(np.float64) / fs, p.local_rr_beats)
    post_ratio = np.append(rr_ratio[1:], 1.0)
    sizes = np.bincount(labels_c, minlength=n_c)
    pre_med = np.array([np.median(rr_ratio[labels_c == c]) for c in range(n_c)])
    post_med = np.array([np.median(post_ratio[labels_c == c]) for c in range(n_c)])
    # the dominant cluster: the largest, premature clusters counting for less
    regular = pre_med >= p.v_prematurity
    key = sizes * np.where(regular, 1.0, p.irregular_dominance)
    order = np.argsort(-key, kind="stable")
    rank = np.empty(n_c, dtype=np.int64)
    rank[order] = np.arange(n_c)
    cluster = rank[labels_c]
    sizes_by_rank = sizes[order]
    pre_med = pre_med[order]
    post_med = post_med[order]
    # timing against the dominant rhythm: RR over the local median of dominant-to-dominant RR
    dom_ratio = _dominant_rr_ratio(beats.astype(np.float64) / fs, cluster == 0, p.local_rr_beats)
    dom_pre = np.array([np.median(dom_ratio[cluster == c]) for c in range(n_c)])
    templates = np.stack([np.median(waves[cluster == c], axis=0) for c in range(n_c)]).astype(
        np.float64
    )
    dom = templates[0]
    widths = shape_width(templates)
    energy = np.sqrt((templates**2).sum(axis=1))
    dom_w = max(widths[0], 1e-9)
    dom_e = max(energy[0], 1e-12)
    is_v = np.zeros(n_c, dtype=bool)
    v_conf = np.zeros(n_c, dtype=np.float64)
    for c in range(1, n_c):
        r = _corr(templates[c], dom)
        wr = widths[c] / dom_w
        er = energy[c] / dom_e
        differs = r < p.v_corr or (wr > p.v_width_ratio and r < p.v_width_corr)
        timing = (
            pre_med[c] < p.v_prematurity
            or dom_pre[c] < p.v_prematurity
            or dom_pre[c] > p.v_compensatory
            or post_med[c] > p.v_compensatory
        )
        large = er > p.v_energy_ratio and wr > p.v_width_ratio
        faint = er < p.v_min_energy_ratio and wr <= p.v_width_ratio
        is_v[c] = differs and (timing or large) and not faint
        v_conf[c] = float(np.clip(0.5 + (p.v_width_corr - r) + 0.5 * max(0.0, wr - 1.0), 0, 1))
    out = np.full(k, "N", dtype="<U1")
    conf = np.full(k, 0.8, dtype=np.float64)
    v_beat = is_v[cluster]
    out[v_beat] = "V"
    conf[v_beat] = v_conf[cluster[v_beat]]
    premature = (rr_ratio < p.s_prematurity) & ~v_beat
    out[premature] = "S"
    conf[premature] = np.clip(0.5 + 2.0 * (p.s_prematurity - rr_ratio[premature]), 0.0, 1.0)
    if p.paced == "auto":
        from detectors.ecg.pacing import detect_pacing

        pacing = detect_pacing(signal, fs, beats, filtered=x, waves=waves)
        paced, pacing_score = pacing.paced, pacing.score
        # a paced beat carries a spike, or belongs to a cluster whose beats mostly do;
        # the other beats of a paced record are intrinsic and keep their N / S / V label
        spiked = pacing.beat_paced
        cluster_paced = np.bincount(cluster, weights=spiked.astype(np.float64), minlength=n_c)
        paced_beats = (spiked | (cluster_paced[cluster] >= 0.5 * sizes_by_rank[cluster]))
        paced_beats &= ~v_beat & paced
    else:
        paced, pacing_score = bool(p.paced), float("nan")
        paced_beats = ~v_beat if paced else np.zeros(k, dtype=bool)
    out[paced_beats] = "Q"
    conf[paced_beats] = 0.7
    similarity = _similarity(waves, dom)
    intrinsic = ~paced_beats & ~v_beat
    if paced and intrinsic.any() and paced_beats.any():
        # intrinsic beats of a paced record are compared with their own dominant shape
        own = int(np.argmax(np.bincount(cluster[intrinsic], minlength=n_c)))
        similarity[intrinsic] = _similarity(waves[intrinsic], templates[own])
    return BeatClasses(out, conf, rr_ratio, cluster, similarity, paced, pacing_score)
