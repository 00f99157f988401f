"""Cross-validation of the AF thresholds across MIT-BIH records and CinC 2017 strips.

The AF rule of :func:`detectors.ecg.detect_af` has three thresholds (``af_irregularity``,
``af_irregularity_high``, ``af_p_consistency``). Figures measured with thresholds chosen on the
same data are in-sample; this module estimates how they generalise. The pipeline (beats, classes,
similarity, P-wave consistency) runs once per record; then only ``detect_af`` is re-run for each
point of :data:`GRID`, and the thresholds are chosen on one part of the data and scored on
another:

- fitted on the MIT-BIH records (highest AF duration Se with +P >= 0.6), scored on CinC (AF F1);
- fitted on CinC (highest AF F1), scored on MIT-BIH (duration Se / +P);
- 5-fold by strip within CinC; leave-one-record-out within MIT-BIH.

Ties go to the grid point closest to the defaults. Run::

    .venv/bin/python -m server.evaluation._ecg_af_cv --mitdb /work/shared/data/mitdb \\
        --cinc /work/shared/data/cinc2017-af/validation
"""

from __future__ import annotations

import argparse
import csv
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from detectors.ecg import RhythmParams, classify_beats, detect_af, detect_qrs
from detectors.ecg.atrial import p_wave_consistency
from detectors.ecg.classify import morphology_signal
from server.evaluation._match import intervals_overlap_s, total_s

__all__ = ["GRID", "choose", "main", "run_cv"]

GRID: list[tuple[float, float, float]] = [
    g for g in itertools.product((0.03, 0.04, 0.05, 0.06, 0.07), (0.09, 0.10, 0.12, 0.14, 0.17),
                                 (0.5, 0.55, 0.6, 0.65, 0.7)) if g[1] > g[0]
]
"""``(af_irregularity, af_irregularity_high, af_p_consistency)`` points searched (115)."""

MIN_PPV = 0.6
CINC_AF_FRACTION = 0.5


@dataclass(frozen=True, slots=True)
class _Prepared:
    beats_s: NDArray[np.float64]
    labels: NDArray[np.str_]
    similarity: NDArray[np.float64]
    p_cons: NDArray[np.float64]
    duration_s: float


def _prepare(x: NDArray[np.float32], fs: float) -> _Prepared:
    qrs = detect_qrs(x, fs)
    shape = morphology_signal(x, fs)
    cls = classify_beats(x, fs, qrs.beats, filtered=shape)
    pc = p_wave_consistency(x, fs, qrs.beats, filtered=shape)
    return _Prepared(qrs.beats / fs, cls.labels, cls.similarity, pc, x.shape[0] / fs)


def _params(g: tuple[float, float, float]) -> RhythmParams:
    return replace(RhythmParams(), af_irregularity=g[0], af_irregularity_high=g[1],
                   af_p_consistency=g[2])


def choose(scores: Sequence[tuple[float, ...]],
           default: tuple[float, float, float] = (0.05, 0.12, 0.6)) -> int:
    """Index of the best score tuple (compared in order); ties to the point nearest ``default``.

    Parameters
    ----------
    scores
        One comparable tuple per :data:`GRID` point (higher is better).
    default
        The detector's defaults.

    Returns
    -------
    int
        Index into :data:`GRID`.
    """
    def key(i: int) -> tuple[tuple[float, ...], float]:
        return scores[i], -sum(abs(a - b) for a, b in zip(GRID[i], default, strict=True))

    return max(range(len(scores)), key=key)


def _f1(dec: NDArray[np.bool_], ref: NDArray[np.bool_]) -> float:
    tp = int((dec & ref).sum())
    den = int(ref.sum() + dec.sum())
    return 2 * tp / den if den else float("nan")


def _mit_se_ppv(m: NDArray[np.float64]) -> tuple[float, float]:
    ov, ref, det = m.sum(axis=0)
    return float(ov / max(ref, 1e-9)), float(ov / max(det, 1e-9))


def _mit_key(m: NDArray[np.float64]) -> tuple[float, float]:
    se, ppv = _mit_se_ppv(m)
    return (se if ppv >= MIN_PPV else -1.0, ppv)


def run_cv(mitdb: Path, cinc: Path, progress: Callable[[str], None] = print) -> dict[str, float]:
    """Run every cross-validation described in the module docstring; return its figures."""
    from server.evaluation.ecg import (
        _af_intervals,
        _read_cinc,
        _read_lead,
        _read_reference,
        _record_names,
    )

    with (cinc / "REFERENCE.csv").open(newline="") as fh:
        reference = {row[0]: row[1] for row in csv.reader(fh) if len(row) >= 2}
    strips = sorted(reference)
    ref_a = np.array([reference[r] == "A" for r in strips])
    cinc_prep = [_prepare(*_read_cinc(cinc / f"{r}.hea")) for r in strips]
    records = _record_names(mitdb, None)
    mit_prep = []
    mit_af = []
    for r in records:
        x, fs = _read_lead(mitdb / f"{r}.hea", "MLII")
        mit_prep.append(_prepare(x, fs))
        mit_af.append(_af_intervals(_read_reference(mitdb, r)[3], fs, x.shape[0] / fs))
    progress(f"prepared {len(strips)} CinC strips and {len(records)} MIT-BIH records")
    dec = np.zeros((len(GRID), len(strips)), dtype=bool)
    mit = np.zeros((len(GRID), len(records), 3))
    for gi, point in enumerate(GRID):
        p = _params(point)
        p_short = replace(p, af_min_s=0.0)
        for j, d in enumerate(cinc_prep):
            ev = detect_af(d.beats_s, d.labels, p_short, d.similarity, d.p_cons)
            dec[gi, j] = sum(e.offset_s - e.onset_s for e in ev) / d.duration_s >= CINC_AF_FRACTION
        for j, d in enumerate(mit_prep):
            det = [(e.onset_s, e.offset_s)
                   for e in detect_af(d.beats_s, d.labels, p, d.similarity, d.p_cons)]
            mit[gi, j] = (intervals_overlap_s(mit_af[j], det), total_s(mit_af[j]), total_s(det))
    out: dict[str, float] = {}
    di = GRID.index((0.05, 0.12, 0.6))
    out["default.cinc_af_f1"] = _f1(dec[di], ref_a)
    out["default.mit_se"], out["default.mit_ppv"] = _mit_se_ppv(mit[di])
    gm = choose([_mit_key(mit[g]) for g in range(len(GRID))])
    out["fit_mit.cinc_af_f1"] = _f1(dec[gm], ref_a)
    out["fit_mit.in_sample_se"], out["fit_mit.in_sample_ppv"] = _mit_se_ppv(mit[gm])
    gc = choose([(_f1(dec[g], ref_a),) for g in range(len(GRID))])
    out["fit_cinc.in_sample_af_f1"] = _f1(dec[gc], ref_a)
    out["fit_cinc.mit_se"], out["fit_cinc.mit_ppv"] = _mit_se_ppv(mit[gc])
    folds = np.arange(len(strips)) % 5
    np.random.default_rng(0).shuffle(folds)
    held = np.zeros(len(strips), dtype=bool)
    for k in range(5):
        tr = folds != k
        g = choose([(_f1(dec[i][tr], ref_a[tr]),) for i in range(len(GRID))])
        held[~tr] = dec[g][~tr]
    out["cinc_5fold.af_f1"] = _f1(held, ref_a)
    tot = np.zeros(3)
    for j in range(len(records)):
        tr = np.arange(len(records)) != j
        g = choose([_mit_key(mit[i][tr]) for i in range(len(GRID))])
        tot += mit[g][j]
    out["mit_loro.se"], out["mit_loro.ppv"] = _mit_se_ppv(tot[None, :])
    for name, g in (("fit_mit", gm), ("fit_cinc", gc)):
        progress(f"{name} chose (af_irregularity, af_irregularity_high, af_p_consistency) = "
                 f"{GRID[g]}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the cross-validated AF figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--cinc", type=Path, required=True)
    args = parser.parse_args(argv)
    for key, value in run_cv(args.mitdb, args.cinc).items():
        print(f"{key:28s} {value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
