"""ECG detectors: QRS complexes, AAMI beat classes, rhythm episodes.

Registered detectors (see ``docs/ecg-detectors.md``):

``ecg.qrs``
    Beat marks (label ``QRS``) from :func:`detect_qrs`.
``ecg.beats``
    Beat marks labelled with their AAMI class (``N``, ``S``, ``V``, ``F``, ``Q``).
``ecg.rhythm``
    The full pipeline: rhythm episodes (``AFIB``, ``SBR``, ``STACH``, ``PAUSE``, ``VT``,
    ``IVR``, ``BIGEMINY``, ``TRIGEMINY``, ``P`` paced rhythm) and the ectopic beats (``S``,
    ``V``, ``F``; not the ``N`` and ``Q`` beats, which would flood a review).

Pacing is detected automatically (``BeatClassParams.paced="auto"``); in a paced recording the
non-ventricular beats are labelled ``Q``.

Each detector analyses the first channel of kind ``ECG`` it is given (the first channel when
none is marked ECG).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detectors._types import ChannelInput, DetectedEvent, DetectorSpec, ProgressCallback
from detectors.ecg.classify import AAMI_CLASSES, BeatClasses, BeatClassParams, classify_beats
from detectors.ecg.pacing import Pacing, PacingParams, detect_pacing
from detectors.ecg.pipeline import EcgAnalysis, EcgParams, analyse_ecg
from detectors.ecg.qrs import EcgInputError, QrsParams, QrsResult, detect_qrs
from detectors.ecg.rhythm import RhythmEvent, RhythmParams, detect_af, detect_rhythms


def _pick(channels: Sequence[ChannelInput]) -> tuple[int, ChannelInput] | None:
    for i, ch in enumerate(channels):
        if ch.kind.upper() == "ECG":
            return i, ch
    return (0, channels[0]) if channels else None


def _report(progress: ProgressCallback | None, fraction: float) -> None:
    if progress is not None:
        progress(fraction)


def _run_qrs(
    channels: Sequence[ChannelInput], params: QrsParams, progress: ProgressCallback | None
) -> list[DetectedEvent]:
    picked = _pick(channels)
    if picked is None:
        return []
    idx, ch = picked
    _report(progress, 0.0)
    res = detect_qrs(ch.data, ch.fs, params)
    _report(progress, 1.0)
    return [
        DetectedEvent(float(b) / ch.fs, 0.0, "QRS", "beat", float(c), (idx,))
        for b, c in zip(res.beats.tolist(), res.confidence.tolist(), strict=True)
    ]


def _run_beats(
    channels: Sequence[ChannelInput], params: EcgParams, progress: ProgressCallback | None
) -> list[DetectedEvent]:
    picked = _pick(channels)
    if picked is None:
        return []
    idx, ch = picked
    _report(progress, 0.0)
    res = analyse_ecg(ch.data, ch.fs, params)
    _report(progress, 1.0)
    return _beat_events(res, ch.fs, idx, ectopic_only=False)


def _beat_events(res: EcgAnalysis, fs: float, idx: int, ectopic_only: bool) -> list[DetectedEvent]:
    out = []
    for b, lab, c, qc in zip(res.beats.tolist(), res.labels.tolist(),
                             res.class_confidence.tolist(), res.qrs_confidence.tolist(),
                             strict=True):
        if ectopic_only and lab not in ("S", "V", "F"):
            continue
        conf = float(np.clip(min(c, max(qc, 0.5)), 0.0, 1.0))
        out.append(DetectedEvent(float(b) / fs, 0.0, str(lab), "beat", conf, (idx,),
                                 {"qrs_confidence": round(float(qc), 3)}))
    return out


def _run_rhythm(
    channels: Sequence[ChannelInput], params: EcgParams, progress: ProgressCallback | None
) -> list[DetectedEvent]:
    picked = _pick(channels)
    if picked is None:
        return []
    idx, ch = picked
    _report(progress, 0.0)
    res = analyse_ecg(ch.data, ch.fs, params)
    _report(progress, 1.0)
    events = [
        DetectedEvent(ev.onset_s, ev.offset_s - ev.onset_s, ev.label, "rhythm", ev.confidence,
                      (idx,))
        for ev in res.rhythms
    ]
    events.extend(_beat_events(res, ch.fs, idx, ectopic_only=True))
    events.sort(key=lambda e: e.onset_s)
    return events


DETECTORS = [
    DetectorSpec(
        name="ecg.qrs",
        version="1.0.0",
        description="QRS complexes (Pan-Tompkins-style, adaptive thresholds, search-back)",
        params_type=QrsParams,
        run=_run_qrs,
        needs=("ECG",),
    ),
    DetectorSpec(
        name="ecg.beats",
        version="1.1.0",
        description="Beats with AAMI classes N, S, V, Q from RR timing and per-record templates",
        params_type=EcgParams,
        run=_run_beats,
        needs=("ECG",),
    ),
    DetectorSpec(
        name="ecg.rhythm",
        version="1.1.0",
        description="AF, sinus brady/tachycardia, pauses, VT, bigeminy, trigeminy, paced rhythm, "
                    "ectopic beats",
        params_type=EcgParams,
        run=_run_rhythm,
        needs=("ECG",),
    ),
]

__all__ = [
    "AAMI_CLASSES",
    "DETECTORS",
    "BeatClassParams",
    "BeatClasses",
    "EcgAnalysis",
    "EcgInputError",
    "EcgParams",
    "Pacing",
    "PacingParams",
    "QrsParams",
    "QrsResult",
    "RhythmEvent",
    "RhythmParams",
    "analyse_ecg",
    "classify_beats",
    "detect_af",
    "detect_pacing",
    "detect_qrs",
    "detect_rhythms",
]
