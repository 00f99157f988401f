"""``wavescore eval sleep``: staging and spindles against the DREAMS spindles database.

Staging: every ``excerptN.txt`` (one central EEG channel) is staged by ``sleep.staging``
(EEG only) and, when YASA is installed, by YASA ``SleepStaging`` on the same array (excerpts
below 80 Hz are resampled to 100 Hz for YASA, which refuses lower rates). The reference is the
DREAMS R&K hypnogram (5-s epochs) turned into 30-s AASM stages by majority of six (S3 + S4 = N3;
ties to the stage seen first). Reported per excerpt and pooled: accuracy, Cohen's κ, per-stage F1
and the confusion matrix (rows = reference, columns = prediction, order W N1 N2 N3 R).
``excerpt3.edf`` (full PSG at 50 Hz) is staged with EEG + EOG + chin EMG as
``staging.psg.excerpt3.*``. Human reference: mean pairwise κ of the 5 scorers of the Dreem Open
Datasets (80 nights), from ``--dod``.

Spindles: ``sleep.spindles`` restricted to N2/N3 of our own automatic staging (fully automatic),
matched one-to-one to expert events when their intersection over union is at least 0.2 (Warby
et al. 2014). Expert 1 scored only the first 1000 s: detections and expert-1 events are limited
to onsets before 1000 s. ``union`` merges the overlapping events of both experts over the whole
excerpt. Also reported: without stage restriction, restricted by the reference hypnogram, YASA
``spindles_detect`` (defaults; excerpts at 100 Hz or more) and expert 1 against expert 2.
``spindles.loo.*``: leave-one-excerpt-out cross-validation of the detector's thresholds
(:mod:`server.evaluation._spindle_cv`), the honest estimate for excerpts not tuned on; the main
``spindles.f1.*`` figures use the defaults, which were chosen on all visible excerpts
(in-sample).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors._types import ChannelInput
from detectors.sleep import STAGES, StagingParams, run_staging, stage_arrays
from detectors.spindles import SpindleParams, detect_spindles
from server.evaluation._datasets import (
    DatasetError,
    DreamsExcerpt,
    dod_nights,
    list_dreams_excerpts,
    load_dreams_excerpt,
)
from server.evaluation._spindle_cv import spindle_loo_cv
from server.evaluation.options import add_sleep_arguments as add_arguments

__all__ = ["add_arguments", "match_events", "run", "staging_metrics"]

EXPERT1_LIMIT_S = 1000.0
IOU_MIN = 0.2

Events = list[tuple[float, float]]


# ---------------------------------------------------------------- metrics

def staging_metrics(ref: Sequence[str] | NDArray[Any],
                    pred: Sequence[str] | NDArray[Any]) -> dict[str, Any]:
    """Accuracy, Cohen's κ, per-stage F1 and confusion matrix over epochs scored in ``ref``."""
    r = np.asarray(ref)
    p = np.asarray(pred)
    n = min(r.size, p.size)
    r, p = r[:n], p[:n]
    keep = np.isin(r, STAGES)
    r, p = r[keep], p[keep]
    k = len(STAGES)
    cm = np.zeros((k, k), dtype=np.int64)
    for a, b in zip(r, p, strict=True):
        if b in STAGES:
            cm[STAGES.index(a), STAGES.index(b)] += 1
    total = cm.sum()
    acc = float(np.trace(cm) / total) if total else float("nan")
    pe = float((cm.sum(0) * cm.sum(1)).sum() / total**2) if total else float("nan")
    kappa = (acc - pe) / (1 - pe) if total and pe < 1 else float("nan")
    f1 = {}
    for i, s in enumerate(STAGES):
        denom = cm[i].sum() + cm[:, i].sum()
        f1[s] = float(2 * cm[i, i] / denom) if denom else float("nan")
    return {"accuracy": acc, "kappa": float(kappa), "f1": f1, "confusion": cm.tolist(),
            "n_epochs": int(total)}


def _kappa(a: NDArray[np.str_], b: NDArray[np.str_]) -> float:
    keep = np.isin(a, STAGES) & np.isin(b, STAGES)
    return float(staging_metrics(a[keep], b[keep])["kappa"])


def match_events(det: Events, ref: Events, iou_min: float = IOU_MIN) -> tuple[int, int, int]:
    """One-to-one matching by best intersection-over-union ≥ ``iou_min``.

    Returns
    -------
    tuple[int, int, int]
        True positives, number of detections, number of reference events.
    """
    pairs = []
    for i, (o1, d1) in enumerate(ref):
        for j, (o2, d2) in enumerate(det):
            inter = min(o1 + d1, o2 + d2) - max(o1, o2)
            if inter <= 0:
                continue
            iou = inter / (max(o1 + d1, o2 + d2) - min(o1, o2))
            if iou >= iou_min:
                pairs.append((iou, i, j))
    used_r: set[int] = set()
    used_d: set[int] = set()
    tp = 0
    for _, i, j in sorted(pairs, reverse=True):
        if i in used_r or j in used_d:
            continue
        used_r.add(i)
        used_d.add(j)
        tp += 1
    return tp, len(det), len(ref)


def _union(a: Events, b: Events) -> Events:
    spans = sorted((o, o + d) for o, d in [*a, *b])
    out: list[list[float]] = []
    for s, e in spans:
        if out and s < out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e - s) for s, e in out]


def _f1(counts: tuple[int, int, int]) -> float:
    tp, n_det, n_ref = counts
    return 2 * tp / (n_det + n_ref) if n_det + n_ref else float("nan")


def _before(events: Events, limit_s: float) -> Events:
    return [(o, d) for o, d in events if o < limit_s]


# ---------------------------------------------------------------- staging

def _yasa_stages(data: NDArray[np.float32], fs: float, eog: NDArray[np.float32] | None = None,
                 emg: NDArray[np.float32] | None = None) -> tuple[NDArray[np.str_], float]:
    import mne
    import yasa

    names, types, rows = ["EEG"], ["eeg"], [data]
    if eog is not None:
        names, types, rows = [*names, "EOG"], [*types, "eog"], [*rows, eog]
    if emg is not None:
        names, types, rows = [*names, "EMG"], [*types, "emg"], [*rows, emg]
    info = mne.create_info(names, fs, types)
    raw = mne.io.RawArray(np.vstack(rows).astype(np.float64) * 1e-6, info, verbose=False)
    t0 = time.perf_counter()
    if fs <= 80:
        raw.resample(100.0, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sls = yasa.SleepStaging(raw, eeg_name="EEG", eog_name="EOG" if eog is not None else None,
                                emg_name="EMG" if emg is not None else None)
        hyp = sls.predict()
    elapsed = time.perf_counter() - t0
    mapping = {"WAKE": "W", "REM": "R", "N1": "N1", "N2": "N2", "N3": "N3"}
    return np.asarray([mapping.get(str(s), "?") for s in hyp.hypno.to_numpy()]), elapsed


def _our_stages(ex: DreamsExcerpt, hmm: bool) -> tuple[NDArray[np.str_], float]:
    t0 = time.perf_counter()
    proba, _ = stage_arrays([(ex.data, ex.fs)], hmm=hmm)
    elapsed = time.perf_counter() - t0
    return np.asarray(STAGES)[proba.argmax(axis=1)], elapsed


def _flatten(prefix: str, metrics: dict[str, Any], out: dict[str, Any]) -> None:
    out[f"{prefix}.accuracy"] = metrics["accuracy"]
    out[f"{prefix}.kappa"] = metrics["kappa"]
    out[f"{prefix}.n_epochs"] = metrics["n_epochs"]
    for s, v in metrics["f1"].items():
        out[f"{prefix}.f1.{s}"] = v
    out[f"{prefix}.confusion"] = metrics["confusion"]


def _psg_excerpt3(db: Path, hmm: bool, use_yasa: bool, out: dict[str, Any],
                  ref: NDArray[np.str_]) -> None:
    path = db / "excerpt3.edf"
    if not path.exists():
        return
    import mne

    from signal_io import guess_channel_kind

    raw = mne.io.read_raw_edf(path, preload=True, verbose=False)
    fs = float(raw.info["sfreq"])
    wanted = {"C3-A1", "EOG1-A1", "EMG1"}
    chans = []
    for name in raw.ch_names:
        if name not in wanted:
            continue
        data = (raw.get_data(picks=[name])[0] * 1e6).astype(np.float32)
        kind = guess_channel_kind(name)
        chans.append(ChannelInput(name=name, kind=str(getattr(kind, "value", kind)), data=data,
                                  fs=fs, unit="uV"))
    events = run_staging(chans, StagingParams(hmm=hmm))
    pred = np.asarray([e.label for e in events])
    _flatten("staging.psg.excerpt3", staging_metrics(ref, pred), out)
    if use_yasa:
        by = {c.name: c.data for c in chans}
        ystages, _ = _yasa_stages(by["C3-A1"], fs, by.get("EOG1-A1"), by.get("EMG1"))
        _flatten("staging.yasa.psg.excerpt3", staging_metrics(ref, ystages), out)


def _dod_reference(dod: Path | None, out: dict[str, Any]) -> None:
    if dod is None or not dod.exists():
        return
    kappas = []
    for night in dod_nights(dod):
        for i in range(len(night)):
            for j in range(i + 1, len(night)):
                kappas.append(_kappa(night[i], night[j]))
    out["human.dod.pairwise_kappa"] = float(np.mean(kappas))
    out["human.dod.n_pairs"] = len(kappas)


# ---------------------------------------------------------------- spindles

def _yasa_spindles(ex: DreamsExcerpt) -> Events | None:
    import yasa

    if ex.fs < 100:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = yasa.spindles_detect(ex.data.astype(np.float64), ex.fs, verbose=False)
    if sp is None:
        return []
    table = sp.summary()
    return [(float(a), float(b) - float(a)) for a, b in zip(table["Start"], table["End"],
                                                            strict=True)]


def _spindle_counts(det: Events, ex: DreamsExcerpt) -> dict[str, tuple[int, int, int]]:
    e1 = _before(ex.expert1, EXPERT1_LIMIT_S)
    return {
        "expert1": match_events(_before(det, EXPERT1_LIMIT_S), e1),
        "expert2": match_events(det, ex.expert2),
        "union": match_events(det, _union(ex.expert1, ex.expert2)),
    }


def run(args: argparse.Namespace) -> int:
    """Compute every figure, print the headline ones, write ``--json``."""
    use_yasa = not args.no_yasa
    if use_yasa:
        try:
            import yasa  # noqa: F401
        except ImportError:
            use_yasa = False
    try:
        names = list_dreams_excerpts(args.db)
        if not names:
            raise DatasetError(f"{args.db}: no excerpt*.txt files")
        excerpts = [load_dreams_excerpt(args.db, n) for n in names]
        out: dict[str, Any] = {}
        refs, ours, theirs = [], [], []
        t_ours = t_yasa = 0.0
        totals: dict[str, dict[str, list[int]]] = {}
        hmm = not args.no_hmm
        alt_refs, alt_preds = [], []
        auto_hyps: list[tuple[str, ...]] = []
        for ex in excerpts:
            pred, t = _our_stages(ex, hmm)
            auto_hyps.append(tuple(pred.tolist()))
            t_ours += t
            alt, _ = _our_stages(ex, not hmm)
            alt_refs.append(ex.stages[: alt.size])
            alt_preds.append(alt[: ex.stages.size])
            m = staging_metrics(ex.stages, pred)
            _flatten(f"staging.excerpts.{ex.name}", m, out)
            refs.append(ex.stages[: pred.size])
            ours.append(pred[: ex.stages.size])
            if use_yasa:
                ypred, ty = _yasa_stages(ex.data, ex.fs)
                t_yasa += ty
                _flatten(f"staging.yasa.excerpts.{ex.name}", staging_metrics(ex.stages, ypred),
                         out)
                theirs.append((ex.stages[: ypred.size], ypred[: ex.stages.size]))
            # spindles
            variants: dict[str, tuple[str, ...]] = {
                "auto": tuple(pred.tolist()), "none": (), "ref": tuple(ex.stages.tolist())}
            for var, hyp in variants.items():
                det = [(o, d) for o, d, _, _ in detect_spindles(
                    ex.data, ex.fs, SpindleParams(hypnogram=hyp))]
                for who, c in _spindle_counts(det, ex).items():
                    acc = totals.setdefault(var, {}).setdefault(who, [0, 0, 0])
                    for i in range(3):
                        acc[i] += c[i]
                    if var == "auto":
                        out[f"spindles.excerpts.{ex.name}.f1.{who}"] = _f1(c)
            if use_yasa:
                ydet = _yasa_spindles(ex)
                if ydet is not None:
                    for who, c in _spindle_counts(ydet, ex).items():
                        acc = totals.setdefault("yasa", {}).setdefault(who, [0, 0, 0])
                        for i in range(3):
                            acc[i] += c[i]
            human = match_events(_before(ex.expert1, EXPERT1_LIMIT_S),
                                 _before(ex.expert2, EXPERT1_LIMIT_S))
            acc = totals.setdefault("human", {}).setdefault("expert1_vs_expert2", [0, 0, 0])
            for i in range(3):
                acc[i] += human[i]
        if not getattr(args, "no_cv", False):
            out.update(spindle_loo_cv(excerpts, auto_hyps, _spindle_counts))
        _flatten("staging.pooled", staging_metrics(np.concatenate(refs), np.concatenate(ours)),
                 out)
        out["staging.seconds"] = t_ours
        out["staging.hmm"] = float(hmm)
        _flatten("staging.nohmm.pooled" if hmm else "staging.hmm.pooled",
                 staging_metrics(np.concatenate(alt_refs), np.concatenate(alt_preds)), out)
        if use_yasa and theirs:
            _flatten("staging.yasa.pooled", staging_metrics(
                np.concatenate([a for a, _ in theirs]), np.concatenate([b for _, b in theirs])),
                out)
            out["staging.yasa.seconds"] = t_yasa
        ex3 = next((ex for ex in excerpts if ex.name == "excerpt3"), None)
        if ex3 is not None:
            _psg_excerpt3(args.db, hmm, use_yasa, out, ex3.stages)
        dod = args.dod or (args.db.parent / "dod-scorers")
        _dod_reference(dod, out)
        for var, per in totals.items():
            for who, counts in per.items():
                tp, n_det, n_ref = counts
                if var == "auto":
                    key = f"spindles.f1.{who}"
                elif var == "human":
                    key = "spindles.human.f1.expert1_vs_expert2"
                else:
                    key = f"spindles.{var}.f1.{who}"
                out[key] = _f1((tp, n_det, n_ref))
                if var == "auto":
                    out[f"spindles.precision.{who}"] = tp / n_det if n_det else float("nan")
                    out[f"spindles.recall.{who}"] = tp / n_ref if n_ref else float("nan")
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for key in sorted(out):
        if isinstance(out[key], list) or ".excerpts." in key or key.endswith(".params"):
            continue
        print(f"{key:48s} {out[key]:.4f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, sort_keys=True))
    return 0
