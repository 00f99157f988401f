"""The whole ECG analysis: QRS detection, AAMI beat classes, rhythm episodes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from detectors.ecg.atrial import AtrialParams, p_wave_consistency
from detectors.ecg.classify import BeatClassParams, classify_beats, morphology_signal
from detectors.ecg.qrs import QrsParams, detect_qrs
from detectors.ecg.rhythm import RhythmEvent, RhythmParams, detect_rhythms


@dataclass(frozen=True, slots=True)
class EcgParams:
    """Parameters of the whole pipeline (see each stage for its fields)."""

    qrs: QrsParams = field(default_factory=QrsParams)
    classes: BeatClassParams = field(default_factory=BeatClassParams)
    atrial: AtrialParams = field(default_factory=AtrialParams)
    rhythm: RhythmParams = field(default_factory=RhythmParams)


@dataclass(frozen=True, slots=True)
class EcgAnalysis:
    """Result of :func:`analyse_ecg`.

    Attributes
    ----------
    beats
        Shape ``(k,)`` int64 beat sample positions.
    qrs_confidence
        Shape ``(k,)`` detection confidence in ``[0, 1]``.
    labels
        Shape ``(k,)`` AAMI class per beat.
    class_confidence
        Shape ``(k,)`` class confidence in ``[0, 1]``.
    rhythms
        Rhythm episodes sorted by onset.
    paced
        The recording was classified as paced (given or detected; see
        :func:`detectors.ecg.pacing.detect_pacing`).
    """

    beats: NDArray[np.int64]
    qrs_confidence: NDArray[np.float64]
    labels: NDArray[np.str_]
    class_confidence: NDArray[np.float64]
    rhythms: list[RhythmEvent]
    paced: bool = False


def analyse_ecg(
    signal: NDArray[np.floating], fs: float, params: EcgParams | None = None
) -> EcgAnalysis:
    """Detect beats, classify them and find rhythm episodes in one ECG lead.

    Beats labelled S inside an AF episode are relabelled N: in AF, RR prematurity carries no
    information about the beat's origin (AAMI counts conducted AF beats as N). In a paced
    recording, AF is judged from the intrinsic beats: RR intervals touching a paced (Q) beat,
    which the device timed, are not used.

    Parameters
    ----------
    signal
        Shape ``(n,)`` ECG samples (NaN for gaps), either polarity.
    fs
        Sampling rate in Hz.
    params
        Parameters; defaults when None.

    Returns
    -------
    EcgAnalysis
        Beats, classes and rhythms.
    """
    p = params or EcgParams()
    qrs = detect_qrs(signal, fs, p.qrs)
    shape = morphology_signal(signal, fs, p.classes.morph_band_hz)
    classes = classify_beats(signal, fs, qrs.beats, p.classes, filtered=shape)
    beats_s = qrs.beats.astype(np.float64) / fs
    p_cons = p_wave_consistency(signal, fs, qrs.beats, p.atrial, filtered=shape)
    rhythms = detect_rhythms(beats_s, classes.labels, p.rhythm, classes.similarity, p_cons)
    labels = classes.labels.copy()
    conf = classes.confidence.copy()
    for ev in rhythms:
        if ev.label != "AFIB":
            continue
        inside = (beats_s >= ev.onset_s) & (beats_s <= ev.offset_s) & (labels == "S")
        labels[inside] = "N"
        conf[inside] = 0.6
    return EcgAnalysis(qrs.beats, qrs.confidence, labels, conf, rhythms, classes.paced)
