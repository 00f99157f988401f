"""``wavescore eval ecg``: QRS, AAMI classes and AF against expert annotations.

Two kinds of ``--db`` folder:

- WFDB records with reference ``.atr`` files (MIT-BIH style): beat-by-beat QRS comparison
  (Se, +P per record and gross), AAMI V and S class statistics, AF duration and episode
  statistics;
- a folder with ``REFERENCE.csv`` (PhysioNet/CinC Challenge 2017): one decision per record
  (N, A, O) from the detector output, scored with the challenge's per-class F1.

Conventions (documented in ``docs/ecg-detectors.md``): the whole record is compared (no
learning period), a detection matches a reference beat within 150 ms, reference beats are the
MIT-BIH beat symbols ``N L R B A a J S V r F e j n E / f Q ?``, and beats inside reference
ventricular flutter/fibrillation (between ``[`` and ``]``) are left out, as EC57 does. Class
statistics use the EC57 AAMI mapping and leave out the paced records (at least 10 % of their
reference beats paced); pacing is detected by the pipeline unless ``--paced`` forces it; a detected
beat labelled V that matches no reference beat counts as a false V. AF reference intervals run
from each ``(AFIB`` rhythm annotation to the next rhythm annotation.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.ecg import EcgParams, analyse_ecg
from detectors.ecg.classify import local_rr_ratio
from server.evaluation._match import any_overlap, intervals_overlap_s, match_beats, total_s
from server.evaluation.options import add_ecg_arguments as add_arguments

BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
"""MIT-BIH symbols counted as reference beats."""

AAMI = {
    **dict.fromkeys("NLRej", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
    "F": "F",
    **dict.fromkeys("/fQ", "Q"),
}
"""MIT-BIH beat symbol to AAMI EC57 class."""

MITDB_PACED = ("102", "104", "107", "217")
MATCH_WINDOW_S = 0.15
CINC_OTHER_EVENTS = frozenset({"PAUSE", "VT", "BIGEMINY", "TRIGEMINY"})
CINC_ECTOPIC_FRACTION = 0.2
PACED_FRACTION = 0.1
"""A record whose reference beats are at least this fraction paced counts as a paced record."""
RR_ONLY_PREMATURITY = 0.85
"""The RR-only baseline calls a beat S when its RR is below this fraction of the local median."""


class EcgEvalError(ValueError):
    """The evaluation folder or a record in it cannot be used."""


@dataclass
class RecordScore:
    """Counts of one annotated record."""

    record: str
    n_ref: int = 0
    tp: int = 0
    fn: int = 0
    fp: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    af_ref: list[tuple[float, float]] = field(default_factory=list)
    af_det: list[tuple[float, float]] = field(default_factory=list)
    seconds: float = 0.0
    duration_s: float = 0.0
    paced: bool = False
    paced_detected: bool = False


def run(args: argparse.Namespace) -> int:
    """Run the evaluation; print tables; write ``--json`` when given. Returns the exit status."""
    db: Path = args.db
    if not db.is_dir():
        raise EcgEvalError(f"--db {db} is not a folder")
    cinc = (db / "REFERENCE.csv").is_file()
    figures = _run_cinc(db, args) if cinc else _run_annotated(db, args)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True))
        print(f"wrote {args.json}")
    return 0


# --------------------------------------------------------------------------- annotated records


def _record_names(db: Path, wanted: list[str] | None) -> list[str]:
    if wanted:
        missing = [r for r in wanted if not (db / f"{r}.hea").is_file()]
        if missing:
            raise EcgEvalError(f"no header for record(s) {', '.join(missing)} in {db}")
        return list(wanted)
    names = sorted(p.stem for p in db.glob("*.hea") if (db / f"{p.stem}.atr").is_file())
    if not names:
        raise EcgEvalError(f"{db} has no WFDB records with .atr reference annotations")
    return names


def _read_lead(path: Path, lead: str) -> tuple[NDArray[np.float32], float]:
    from signal_io import open_recording

    rec = open_recording(path)
    names = [c.name for c in rec.channels]
    idx = names.index(lead) if lead in names else 0
    ch = rec.channels[idx]
    return np.asarray(rec.read(idx, 0, ch.n_samples), dtype=np.float32), float(ch.fs)


def _read_reference(db: Path, record: str) -> tuple[NDArray[np.int64], list[str],
                                                     list[tuple[int, int]],
                                                     list[tuple[int, str]]]:
    import wfdb

    ann = wfdb.rdann(str(db / record), "atr")
    samples = np.asarray(ann.sample, dtype=np.int64)
    symbols = list(ann.symbol)
    aux = list(ann.aux_note or [""] * len(symbols))
    beats = [(s, y) for s, y in zip(samples.tolist(), symbols, strict=True) if y in BEAT_SYMBOLS]
    vf: list[tuple[int, int]] = []
    start: int | None = None
    for s, y in zip(samples.tolist(), symbols, strict=True):
        if y == "[":
            start = s
        elif y == "]" and start is not None:
            vf.append((start, s))
            start = None
    if start is not None:
        vf.append((start, int(samples[-1]) + 1))
    rhythm = [(s, a.strip("\x00 ")) for s, y, a in zip(samples.tolist(), symbols, aux, strict=True)
              if y == "+" and a]
    return (np.asarray([b for b, _ in beats], dtype=np.int64), [y for _, y in beats], vf, rhythm)


def _af_intervals(rhythm: list[tuple[int, str]], fs: float, end_s: float
                  ) -> list[tuple[float, float]]:
    out = []
    for i, (s, label) in enumerate(rhythm):
        if label.startswith("(AFIB"):
            stop = rhythm[i + 1][0] / fs if i + 1 < len(rhythm) else end_s
            out.append((s / fs, stop))
    return out


def _outside(pos: NDArray[np.int64], spans: list[tuple[int, int]]) -> NDArray[np.bool_]:
    keep = np.ones(pos.shape[0], dtype=bool)
    for a, z in spans:
        keep &= ~((pos >= a) & (pos <= z))
    return keep


def score_record(db: Path, record: str, lead: str, params: EcgParams, paced: bool | None = None
                 ) -> RecordScore:
    """Run the pipeline on one annotated record and count against its reference.

    ``paced`` True or False forces the pipeline's pacing decision; None detects it. The record
    counts as paced (left out of class statistics, as EC57 asks) when at least
    ``PACED_FRACTION`` of its reference beats are paced (``/``) or fusion of paced (``f``).
    """
    x, fs = _read_lead(db / f"{record}.hea", lead)
    ref, symbols, vf, rhythm = _read_reference(db, record)
    t0 = time.perf_counter()
    p = replace(params, classes=replace(params.classes, paced="auto" if paced is None else paced))
    res = analyse_ecg(x, fs, p)
    ref_paced = sum(y in "/f" for y in symbols) >= PACED_FRACTION * max(len(symbols), 1)
    score = RecordScore(record, seconds=time.perf_counter() - t0, duration_s=x.shape[0] / fs,
                        paced=ref_paced, paced_detected=res.paced)
    keep_ref = _outside(ref, vf)
    keep_det = _outside(res.beats, vf)
    ref_k = ref[keep_ref]
    sym_k = [s for s, k in zip(symbols, keep_ref.tolist(), strict=True) if k]
    det_k = res.beats[keep_det]
    lab_k = res.labels[keep_det]
    m = match_beats(ref_k, det_k, round(MATCH_WINDOW_S * fs))
    score.n_ref = int(ref_k.shape[0])
    score.tp = int((m >= 0).sum())
    score.fn = score.n_ref - score.tp
    score.fp = int(det_k.shape[0]) - score.tp
    ref_cls = np.array([AAMI.get(s, "Q") for s in sym_k], dtype="<U1")
    det_cls = np.full(ref_k.shape[0], "-", dtype="<U1")
    det_cls[m >= 0] = lab_k[m[m >= 0]]
    rr_ratio = local_rr_ratio(det_k.astype(np.float64) / fs, p.classes.local_rr_beats)
    base = np.where(rr_ratio < RR_ONLY_PREMATURITY, "S", "N")
    base_cls = np.full(ref_k.shape[0], "-", dtype="<U1")
    base_cls[m >= 0] = base[m[m >= 0]]
    for cls in ("V", "S", "Q"):
        score.classes[f"{cls}.ref"] = int((ref_cls == cls).sum())
        score.classes[f"{cls}.tp"] = int(((ref_cls == cls) & (det_cls == cls)).sum())
        score.classes[f"{cls}.det"] = int((lab_k == cls).sum())
    score.classes["S.rr_only.tp"] = int(((ref_cls == "S") & (base_cls == "S")).sum())
    score.classes["S.rr_only.det"] = int((base == "S").sum())
    end_s = x.shape[0] / fs
    score.af_ref = _af_intervals(rhythm, fs, end_s)
    score.af_det = [(e.onset_s, e.offset_s) for e in res.rhythms if e.label == "AFIB"]
    return score


def _ratio(num: int | float, den: int | float) -> float:
    return float(num) / float(den) if den else float("nan")


def _run_annotated(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    records = _record_names(db, args.records)
    paced_set = set(args.paced or ())
    params = EcgParams()
    scores: list[RecordScore] = []
    print(f"{'record':>8} {'beats':>6} {'FN':>5} {'FP':>5} {'Se':>7} {'+P':>7} "
          f"{'V Se':>6} {'V +P':>6} {'S Se':>6} {'S +P':>6} {'AF ref s':>8} {'AF det s':>8} "
          f"{'AF ovl s':>8} "
          f"{'time s':>6}")
    for i, rec in enumerate(records, 1):
        sc = score_record(db, rec, args.lead, params, True if rec in paced_set else None)
        scores.append(sc)
        c = sc.classes
        print(f"{rec:>8} {sc.n_ref:>6} {sc.fn:>5} {sc.fp:>5} {_ratio(sc.tp, sc.n_ref):>7.4f} "
              f"{_ratio(sc.tp, sc.tp + sc.fp):>7.4f} "
              f"{_ratio(c['V.tp'], c['V.ref']):>6.3f} {_ratio(c['V.tp'], c['V.det']):>6.3f} "
              f"{_ratio(c['S.tp'], c['S.ref']):>6.3f} {_ratio(c['S.tp'], c['S.det']):>6.3f} "
              f"{total_s(sc.af_ref):>8.0f} {total_s(sc.af_det):>8.0f} "
              f"{intervals_overlap_s(sc.af_ref, sc.af_det):>8.0f} {sc.seconds:>6.2f}"
              f"{'  paced' if sc.paced else ''}"
              f"{'  pacing detected' if sc.paced_detected else ''}  [{i}/{len(records)}]",
              flush=True)
    tp = sum(s.tp for s in scores)
    fn = sum(s.fn for s in scores)
    fp = sum(s.fp for s in scores)
    figures: dict[str, Any] = {
        "qrs.gross.se": _ratio(tp, tp + fn),
        "qrs.gross.ppv": _ratio(tp, tp + fp),
    }
    for s in scores:
        figures[f"qrs.records.{s.record}.se"] = _ratio(s.tp, s.tp + s.fn)
        figures[f"qrs.records.{s.record}.ppv"] = _ratio(s.tp, s.tp + s.fp)
    n_paced = sum(s.paced for s in scores)
    n_unpaced = len(scores) - n_paced
    if n_paced:
        figures["pacing.sensitivity"] = _ratio(sum(s.paced and s.paced_detected for s in scores),
                                               n_paced)
    if n_unpaced:
        figures["pacing.specificity"] = _ratio(
            sum(not s.paced and not s.paced_detected for s in scores), n_unpaced)
    print(f"pacing detected in {sum(s.paced_detected for s in scores)} record(s): "
          f"{' '.join(s.record for s in scores if s.paced_detected) or '-'} "
          f"(reference-paced: {' '.join(s.record for s in scores if s.paced) or '-'})")
    unpaced = [s for s in scores if not s.paced]
    tot = {k: sum(s.classes[k] for s in unpaced) for k in (unpaced[0].classes if unpaced else {})}
    print(f"\nQRS gross: Se {figures['qrs.gross.se']:.5f}  +P {figures['qrs.gross.ppv']:.5f}  "
          f"(FN {fn}, FP {fp}, {tp + fn} reference beats, {len(scores)} records)")
    if tot:
        for cls in ("V", "S"):
            figures[f"classes.{cls}.se"] = _ratio(tot[f"{cls}.tp"], tot[f"{cls}.ref"])
            figures[f"classes.{cls}.ppv"] = _ratio(tot[f"{cls}.tp"], tot[f"{cls}.det"])
            print(f"class {cls} gross ({len(unpaced)} unpaced records): "
                  f"Se {figures[f'classes.{cls}.se']:.4f}  +P {figures[f'classes.{cls}.ppv']:.4f}  "
                  f"(ref {tot[f'{cls}.ref']}, detected {tot[f'{cls}.det']})")
        print(f"class S, RR-only baseline (RR < {RR_ONLY_PREMATURITY} x local median): "
              f"Se {_ratio(tot['S.rr_only.tp'], tot['S.ref']):.4f}  "
              f"+P {_ratio(tot['S.rr_only.tp'], tot['S.rr_only.det']):.4f}")
    paced_scores = [s for s in scores if s.paced]
    if paced_scores:
        q_tp = sum(s.classes["Q.tp"] for s in paced_scores)
        q_ref = sum(s.classes["Q.ref"] for s in paced_scores)
        q_det = sum(s.classes["Q.det"] for s in paced_scores)
        figures["classes.Q.se"] = _ratio(q_tp, q_ref)
        figures["classes.Q.ppv"] = _ratio(q_tp, q_det)
        print(f"class Q (paced and fusion-of-paced beats) in {len(paced_scores)} paced records: "
              f"Se {figures['classes.Q.se']:.4f}  +P {figures['classes.Q.ppv']:.4f}  "
              f"(ref {q_ref}, detected {q_det})")
    af_ref = [iv for s in scores for iv in s.af_ref]
    af_det = [iv for s in scores for iv in s.af_det]
    overlap = sum(intervals_overlap_s(s.af_ref, s.af_det) for s in scores)
    if af_ref:
        ep_tp_ref = sum(sum(any_overlap(r, s.af_det) for r in s.af_ref) for s in scores)
        ep_tp_det = sum(sum(any_overlap(d, s.af_ref) for d in s.af_det) for s in scores)
        figures["af.duration_se"] = _ratio(overlap, total_s(af_ref))
        figures["af.duration_ppv"] = _ratio(overlap, total_s(af_det))
        figures["af.episode_se"] = _ratio(ep_tp_ref, len(af_ref))
        figures["af.episode_ppv"] = _ratio(ep_tp_det, len(af_det))
        print(f"AF duration: Se {figures['af.duration_se']:.4f}  +P "
              f"{figures['af.duration_ppv']:.4f}  (reference {total_s(af_ref):.0f} s, detected "
              f"{total_s(af_det):.0f} s)")
        print(f"AF episodes: Se {figures['af.episode_se']:.4f}  +P {figures['af.episode_ppv']:.4f}"
              f"  (reference {len(af_ref)}, detected {len(af_det)})")
    hours = sum(s.duration_s for s in scores) / 3600.0
    secs = sum(s.seconds for s in scores)
    print(f"pipeline time: {secs:.2f} s for {hours:.2f} h of ECG "
          f"({secs / max(hours, 1e-9):.3f} s/h)")
    return {k: v for k, v in figures.items() if not (isinstance(v, float) and np.isnan(v))}


# --------------------------------------------------------------------------- CinC 2017


def _read_cinc(path: Path) -> tuple[NDArray[np.float32], float]:
    from signal_io import open_recording

    rec = open_recording(path)
    ch = rec.channels[0]
    return np.asarray(rec.read(0, 0, ch.n_samples), dtype=np.float32), float(ch.fs)


def decide_cinc(x: NDArray[np.float32], fs: float, af_fraction: float) -> str:
    """Record-level rhythm class (``N``, ``A`` or ``O``) from the detector output.

    ``A`` when at least ``af_fraction`` of the record lies in detected AF (episodes of any
    length: ``af_min_s`` is 0 for these short strips); otherwise ``O`` when the pipeline found a
    pause, ventricular tachycardia, bigeminy or trigeminy, or when at least
    ``CINC_ECTOPIC_FRACTION`` of the beats are ectopic (S or V); otherwise ``N`` (sinus
    bradycardia and tachycardia count as normal, as in the challenge's labels).
    """
    params = EcgParams(rhythm=replace(EcgParams().rhythm, af_min_s=0.0))
    res = analyse_ecg(x, fs, params)
    dur = x.shape[0] / fs
    af = sum(e.offset_s - e.onset_s for e in res.rhythms if e.label == "AFIB")
    if dur > 0 and af / dur >= af_fraction:
        return "A"
    ectopic = float(np.isin(res.labels, ("S", "V")).mean()) if res.labels.size else 0.0
    if any(e.label in CINC_OTHER_EVENTS for e in res.rhythms) or ectopic >= CINC_ECTOPIC_FRACTION:
        return "O"
    return "N"


def _run_cinc(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    with (db / "REFERENCE.csv").open(newline="") as fh:
        reference = {row[0]: row[1] for row in csv.reader(fh) if len(row) >= 2}
    names = args.records or sorted(reference)
    missing = [r for r in names if r not in reference or not (db / f"{r}.hea").is_file()]
    if missing:
        raise EcgEvalError(f"record(s) {', '.join(missing[:5])} missing from {db}")
    pred: dict[str, str] = {}
    t0 = time.perf_counter()
    for i, rec in enumerate(names, 1):
        x, fs = _read_cinc(db / f"{rec}.hea")
        pred[rec] = decide_cinc(x, fs, args.af_fraction)
        if i % 25 == 0 or i == len(names):
            print(f"  {i}/{len(names)} records ({time.perf_counter() - t0:.1f} s)",
                  file=sys.stderr, flush=True)
    classes = ("N", "A", "O", "~")
    print("reference \\ decided   " + "  ".join(f"{c:>4}" for c in ("N", "A", "O")))
    for rc in classes:
        row = [sum(1 for r in names if reference[r] == rc and pred[r] == pc)
               for pc in ("N", "A", "O")]
        print(f"{rc:>19}   " + "  ".join(f"{v:>4}" for v in row))
    figures: dict[str, Any] = {}
    for cls, key in (("A", "cinc2017.af_f1"), ("N", "cinc2017.normal_f1")):
        tp = sum(1 for r in names if reference[r] == cls and pred[r] == cls)
        n_ref = sum(1 for r in names if reference[r] == cls)
        n_pred = sum(1 for r in names if pred[r] == cls)
        figures[key] = _ratio(2 * tp, n_ref + n_pred)
    o_tp = sum(1 for r in names if reference[r] == "O" and pred[r] == "O")
    o_f1 = _ratio(2 * o_tp, sum(reference[r] == "O" for r in names)
                  + sum(pred[r] == "O" for r in names))
    print(f"CinC 2017 F1: AF {figures['cinc2017.af_f1']:.3f}  normal "
          f"{figures['cinc2017.normal_f1']:.3f}  other {o_f1:.3f}  ({len(names)} records)")
    return {k: v for k, v in figures.items() if not np.isnan(v)}


__all__ = ["AAMI", "BEAT_SYMBOLS", "EcgEvalError", "add_arguments", "decide_cinc", "run",
           "score_record"]
