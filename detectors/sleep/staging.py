"""Automatic sleep staging (W, N1, N2, N3, R per 30-s epoch) with per-stage probabilities.

Method
------
Features of Vallat & Walker (2021, eLife 10:e70092) recomputed fast by
:mod:`detectors.sleep.features`, fed to the LightGBM classifiers that ship inside the YASA
wheel (BSD-3; ``yasa/classifiers/clf_eeg[+eog][+emg]_lgb_*.joblib``, chosen by which of EOG and
chin EMG are present; loaded from the installed package, never downloaded). When several EEG
channels are used the per-channel probabilities are averaged. Temporal context comes from the
classifier's smoothed features (7.5-min centred and 2-min trailing windows) and, optionally, a
hidden Markov model pass: forward-backward posteriors with the classifier probabilities as
emission scores and a stage transition matrix counted from 400 human scorings of the Dreem Open
Datasets (Guillot et al. 2020, 5 scorers × 80 nights; MIT licence).

Changes from YASA ``SleepStaging``: own feature pipeline (see :mod:`detectors.sleep.features`),
several EEG channels averaged, channels picked by montage names, optional HMM pass, NaN gaps set
to 0, and the input is any rate 50–1000 Hz (resampled to 100 Hz; below 60 Hz the beta band is
partly above Nyquist and the features are less faithful).

Versions
--------
1.0.0  first version.
1.0.1  float32 signal path with our polyphase resampling kernel, single-precision FFTs: about
       twice as fast; stages equal on the DREAMS excerpts at 100/200 Hz (one 50-Hz PSG epoch
       differs).
"""

from __future__ import annotations

import concurrent.futures
import functools
import glob
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors._types import ChannelInput, DetectedEvent, ProgressCallback
from detectors.sleep.channels import pick_eeg, pick_emg, pick_eog
from detectors.sleep.features import (
    EPOCH_S,
    channel_features,
    prepare_signal,
    smooth_and_scale,
)

__all__ = [
    "STAGES",
    "StagingInputError",
    "StagingModelError",
    "StagingParams",
    "StagingResult",
    "hmm_smooth",
    "run_staging",
    "stage_arrays",
]

STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "R")
"""Stage labels, in the column order of every probability array."""

# Transitions counted over 400 scorings (5 scorers x 80 nights) of the Dreem Open Datasets;
# rows = from, columns = to, order W N1 N2 N3 R.
_DOD_TRANSITION_COUNTS = np.array(
    [
        [78891, 9774, 667, 9, 412],
        [3246, 11820, 10454, 16, 776],
        [5615, 3835, 168725, 4604, 1529],
        [575, 116, 3910, 44721, 30],
        [1369, 767, 595, 3, 60025],
    ],
    dtype=np.float64,
)
MIN_FS = 50.0
MAX_FS = 1000.0


class StagingInputError(ValueError):
    """The input cannot be staged (too short, bad sampling rate, no data)."""


class StagingModelError(RuntimeError):
    """The staging classifier (YASA's LightGBM model) is missing or does not fit the features."""


@dataclass(frozen=True, slots=True)
class StagingParams:
    """Parameters of :func:`run_staging`.

    Attributes
    ----------
    eeg_channels
        EEG channel names to use; empty picks up to ``max_eeg_channels`` central channels.
    eog_channel, emg_channel
        Channel names; ``None`` picks by kind and name.
    use_eog, use_emg
        Set False to ignore EOG / chin EMG even when present.
    max_eeg_channels
        Channels averaged when picking automatically.
    hmm
        Apply the forward-backward HMM pass to the probabilities (on by default: on the
        DREAMS excerpts it raised pooled κ from 0.526 to 0.553; see docs/eeg-detectors.md).
    hmm_strength
        Scale in ``[0, 1]`` of the transition matrix's off-diagonal mass: 1 uses the counted
        transitions, 0 disables smoothing.
    n_threads
        Channels whose features are computed in parallel (the work releases the GIL).
    """

    eeg_channels: tuple[str, ...] = ()
    eog_channel: str | None = None
    emg_channel: str | None = None
    use_eog: bool = True
    use_emg: bool = True
    max_eeg_channels: int = 2
    hmm: bool = True
    hmm_strength: float = 1.0
    n_threads: int = 1


@dataclass(frozen=True, slots=True)
class StagingResult:
    """Stages of every full 30-s epoch.

    Attributes
    ----------
    stages
        Shape ``(n_epochs,)`` labels from :data:`STAGES`.
    proba
        Shape ``(n_epochs, 5)`` probabilities, columns in :data:`STAGES` order.
    channels_used
        Indices of the EEG, EOG and EMG channels used.
    model
        File name of the classifier.
    """

    stages: NDArray[np.str_]
    proba: NDArray[np.float64]
    channels_used: tuple[int, ...]
    model: str


@functools.lru_cache(maxsize=8)
def _load_model(name: str) -> tuple[Any, tuple[str, ...], tuple[str, ...], str]:
    try:
        import joblib
        import yasa
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise StagingModelError(
            "sleep staging needs the 'yasa' and 'lightgbm' packages (their shipped classifiers)"
        ) from exc
    folder = os.path.join(os.path.dirname(yasa.__file__), "classifiers")
    files = sorted(glob.glob(os.path.join(folder, glob.escape(name) + "_lgb_*.joblib")))
    if not files:
        raise StagingModelError(f"no classifier {name}_lgb_*.joblib in {folder}")

    def version(path: str) -> tuple[int, ...]:
        tail = os.path.basename(path).rsplit("_lgb_", 1)[1].removesuffix(".joblib")
        return tuple(int(v) for v in tail.split(".") if v.isdigit())

    path = max(files, key=version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn version notices when unpickling the encoder
        clf = joblib.load(path)
    booster = clf.booster_
    return booster, tuple(clf.feature_name_), tuple(str(c) for c in clf.classes_), path


def hmm_smooth(proba: NDArray[np.float64], strength: float = 1.0) -> NDArray[np.float64]:
    """Forward-backward posteriors of a 5-stage HMM given per-epoch classifier probabilities.

    Parameters
    ----------
    proba
        Shape ``(n_epochs, 5)``, columns in :data:`STAGES` order; used as emission scores.
    strength
        0 returns ``proba`` unchanged; 1 uses the transition matrix counted from human scorings;
        between, the off-diagonal transition mass is scaled by ``strength``.

    Returns
    -------
    NDArray[np.float64]
        Shape ``(n_epochs, 5)``, rows summing to 1.
    """
    if proba.shape[0] == 0 or strength <= 0.0:
        return proba
    counts = _DOD_TRANSITION_COUNTS
    trans = counts / counts.sum(axis=1, keepdims=True)
    off = trans * (1.0 - np.eye(5)) * min(strength, 1.0)
    trans = off + np.diag(1.0 - off.sum(axis=1))
    emit = np.clip(proba, 1e-6, 1.0)
    n = emit.shape[0]
    alpha = np.empty_like(emit)
    a = emit[0] / emit[0].sum()
    alpha[0] = a
    for t in range(1, n):
        a = (a @ trans) * emit[t]
        a /= a.sum()
        alpha[t] = a
    beta = np.ones(5)
    post = np.empty_like(emit)
    post[-1] = alpha[-1]
    for t in range(n - 2, -1, -1):
        beta = trans @ (emit[t + 1] * beta)
        beta /= beta.sum()
        p = alpha[t] * beta
        post[t] = p / p.sum()
    return post


def _predict(features: dict[str, NDArray[np.float64]], model: str) -> NDArray[np.float64]:
    booster, names, classes, _ = _load_model(model)
    missing = [n for n in names if n not in features]
    if missing:
        raise StagingModelError(f"classifier {model} needs features {missing[:5]}...")
    X = np.column_stack([features[n] for n in names]).astype(np.float32)
    raw = np.asarray(booster.predict(X), dtype=np.float64).reshape(X.shape[0], len(classes))
    proba = np.zeros((X.shape[0], len(STAGES)))
    for j, c in enumerate(classes):
        proba[:, STAGES.index(c)] = raw[:, j]
    return proba


def stage_arrays(eeg: Sequence[tuple[NDArray[np.floating], float]],
                 eog: tuple[NDArray[np.floating], float] | None = None,
                 emg: tuple[NDArray[np.floating], float] | None = None,
                 hmm: bool = True, hmm_strength: float = 1.0,
                 n_threads: int = 1) -> tuple[NDArray[np.float64], str]:
    """Stage probabilities from raw arrays.

    Parameters
    ----------
    eeg
        One or more ``(data µV, fs Hz)`` EEG channels; their probabilities are averaged.
    eog, emg
        Optional ``(data µV, fs Hz)``.
    hmm, hmm_strength, n_threads
        See :class:`StagingParams`.

    Returns
    -------
    tuple[NDArray[np.float64], str]
        Probabilities of shape ``(n_epochs, 5)`` and the classifier name.

    Raises
    ------
    StagingInputError
        Rates outside 50–1000 Hz, or less than one 30-s epoch.
    """
    if not eeg:
        raise StagingInputError("at least one EEG channel is needed")
    for data, fs in [*eeg, *(c for c in (eog, emg) if c is not None)]:
        if not MIN_FS <= fs <= MAX_FS:
            raise StagingInputError(f"sampling rate {fs} Hz outside {MIN_FS:g}-{MAX_FS:g} Hz")
        if data.size < EPOCH_S * fs:
            raise StagingInputError(
                f"recording of {data.size / fs:.1f} s is shorter than one {EPOCH_S:g}-s epoch")
    model = "clf_eeg" + ("+eog" if eog is not None else "") + ("+emg" if emg is not None else "")
    jobs: list[tuple[NDArray[np.floating], float, str]] = [(d, f, "eeg") for d, f in eeg]
    if eog is not None:
        jobs.append((eog[0], eog[1], "eog"))
    if emg is not None:
        jobs.append((emg[0], emg[1], "emg"))

    def features_of(job: tuple[NDArray[np.floating], float, str]) -> dict[str, NDArray[np.float64]]:
        return channel_features(prepare_signal(job[0], job[1]), job[2])

    if n_threads > 1 and len(jobs) > 1:
        with concurrent.futures.ThreadPoolExecutor(max_workers=n_threads) as pool:
            feats_all = list(pool.map(features_of, jobs))
    else:
        feats_all = [features_of(j) for j in jobs]
    extra: dict[str, NDArray[np.float64]] = {}
    for feats in feats_all[len(eeg):]:
        extra.update(feats)
    total: NDArray[np.float64] | None = None
    for feats in feats_all[: len(eeg)]:
        n_ep = min([len(v) for v in feats.values()] + [len(v) for v in extra.values()])
        merged = {k: v[:n_ep] for k, v in {**feats, **extra}.items()}
        proba = _predict(smooth_and_scale(merged), model)
        if total is None:
            total = proba
        else:
            n = min(total.shape[0], proba.shape[0])
            total = total[:n] + proba[:n]
    assert total is not None
    total = total / total.sum(axis=1, keepdims=True)
    if hmm:
        total = hmm_smooth(total, hmm_strength)
    return total, model


def run_staging(channels: Sequence[ChannelInput], params: StagingParams,
                progress: ProgressCallback | None = None) -> list[DetectedEvent]:
    """Detector entry point: one ``sleep_stage`` event per full 30-s epoch.

    Each event has ``label`` in :data:`STAGES`, ``confidence`` = the largest probability and
    ``extra = {"proba": {stage: p}, "model": name}``; ``channels`` lists the channels used.
    """
    eeg_idx = pick_eeg(channels, params.eeg_channels, params.max_eeg_channels)
    eog_idx = pick_eog(channels, params.eog_channel) if params.use_eog else None
    emg_idx = pick_emg(channels, params.emg_channel) if params.use_emg else None

    def arr(i: int) -> tuple[NDArray[np.floating], float]:
        ch = channels[i]
        scale = {"v": 1e6, "mv": 1e3, "nv": 1e-3}.get(ch.unit.lower().replace("µ", "u"), 1.0)
        data = ch.data if scale == 1.0 else ch.data.astype(np.float64) * scale
        return data, float(ch.fs)

    def usable(i: int | None) -> int | None:
        if i is None:
            return None
        d = channels[i].data
        finite = d[np.isfinite(d)]
        return i if finite.size and float(np.ptp(finite)) > 0 else None

    eog_idx = usable(eog_idx)
    emg_idx = usable(emg_idx)
    eeg_ok = [i for i in eeg_idx if usable(i) is not None] or eeg_idx[:1]
    if progress:
        progress(0.1)
    proba, model = stage_arrays(
        [arr(i) for i in eeg_ok],
        arr(eog_idx) if eog_idx is not None else None,
        arr(emg_idx) if emg_idx is not None else None,
        hmm=params.hmm, hmm_strength=params.hmm_strength, n_threads=params.n_threads,
    )
    if progress:
        progress(1.0)
    used = tuple(eeg_ok) + tuple(i for i in (eog_idx, emg_idx) if i is not None)
    events = []
    for e, row in enumerate(proba):
        k = int(np.argmax(row))
        events.append(DetectedEvent(
            onset_s=e * EPOCH_S, duration_s=EPOCH_S, label=STAGES[k], category="sleep_stage",
            confidence=float(row[k]), channels=used,
            extra={"proba": {s: round(float(p), 4) for s, p in zip(STAGES, row, strict=True)},
                   "model": model},
        ))
    return events
