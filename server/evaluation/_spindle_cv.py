"""Leave-one-excerpt-out cross-validation of the spindle detector's thresholds on DREAMS.

For each visible excerpt in turn, the thresholds are chosen on the other excerpts (the grid point
with the highest mean of the pooled by-event F1 against expert 1 and against expert 2; ties to
the first grid point), then applied to the held-out excerpt. The held-out counts are pooled over
the folds: that F1 estimates how the tuned detector does on excerpts it was not tuned on (the
DREAMS excerpts 6–8 are held back elsewhere for an independent check). The grid spans published
values (A7: correlation 0.69, minimum duration 0.3 s; YASA: relative power 0.2, RMS 1.5 SD,
correlation 0.65, minimum duration 0.5 s) and their neighbourhood.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.spindles import SpindleParams, spindle_energies, spindles_from_energies
from server.evaluation._datasets import DreamsExcerpt

__all__ = ["GRID", "spindle_loo_cv"]

GRID: dict[str, tuple[float, ...]] = {
    "rel_power_min": (0.15, 0.2, 0.25),
    "corr_min": (0.65, 0.7, 0.75, 0.8),
    "rms_sd": (1.5, 2.0, 2.5, 3.0),
    "min_duration_s": (0.3, 0.5),
    "merge_gap_s": (0.3, 0.5),
}
"""Threshold grid searched in every fold (192 points)."""

Counts = dict[str, tuple[int, int, int]]
WHO = ("expert1", "expert2", "union")


def _f1(c: tuple[int, int, int]) -> float:
    return 2 * c[0] / (c[1] + c[2]) if c[1] + c[2] else 0.0


def _pooled(per: Sequence[Counts], idx: Sequence[int], who: str) -> tuple[int, int, int]:
    return (sum(per[i][who][0] for i in idx), sum(per[i][who][1] for i in idx),
            sum(per[i][who][2] for i in idx))


def spindle_loo_cv(excerpts: Sequence[DreamsExcerpt], hypnograms: Sequence[tuple[str, ...]],
                   count: Callable[[list[tuple[float, float]], DreamsExcerpt], Counts]
                   ) -> dict[str, Any]:
    """Leave-one-excerpt-out F1 of the threshold-tuned spindle detector.

    Parameters
    ----------
    excerpts
        The visible DREAMS excerpts.
    hypnograms
        Stages per 30-s epoch used to restrict the search, one per excerpt (empty: none).
    count
        ``(detections, excerpt) -> {"expert1"|"expert2"|"union": (tp, n_det, n_ref)}``.

    Returns
    -------
    dict[str, Any]
        ``spindles.loo.f1.<who>``, ``spindles.loo.precision.<who>``,
        ``spindles.loo.recall.<who>`` (pooled held-out counts), ``spindles.loo.chosen`` (the
        grid point chosen in each fold, as lists in :data:`GRID` key order) and
        ``spindles.insample_best.f1.<who>`` (the grid point best on all excerpts, in-sample).
    """
    keys = list(GRID)
    base = SpindleParams()
    prepared: list[tuple[NDArray[np.float64], NDArray[np.int64], float]] = [
        spindle_energies(ex.data, ex.fs, base) for ex in excerpts]
    combos = list(itertools.product(*GRID.values()))
    table: list[list[Counts]] = []
    for combo in combos:
        chosen_values: dict[str, Any] = dict(zip(keys, combo, strict=True))
        params = replace(base, **chosen_values)
        per = []
        for ex, hyp, (energy, edges, fs_w) in zip(excerpts, hypnograms, prepared, strict=True):
            found = spindles_from_energies(energy, edges, fs_w, replace(params, hypnogram=hyp))
            per.append(count([(o, d) for o, d, _, _ in found], ex))
        table.append(per)

    def score(per: Sequence[Counts], idx: Sequence[int]) -> float:
        return 0.5 * (_f1(_pooled(per, idx, "expert1")) + _f1(_pooled(per, idx, "expert2")))

    n = len(excerpts)
    held = {w: [0, 0, 0] for w in WHO}
    chosen = []
    for i in range(n):
        train = [j for j in range(n) if j != i]
        best = max(range(len(combos)), key=lambda c: (score(table[c], train), -c))
        chosen.append(list(combos[best]))
        for w in WHO:
            for k in range(3):
                held[w][k] += table[best][i][w][k]
    out: dict[str, Any] = {"spindles.loo.chosen": chosen}
    for w in WHO:
        tp, n_det, n_ref = held[w]
        out[f"spindles.loo.f1.{w}"] = _f1((tp, n_det, n_ref))
        out[f"spindles.loo.precision.{w}"] = tp / n_det if n_det else float("nan")
        out[f"spindles.loo.recall.{w}"] = tp / n_ref if n_ref else float("nan")
    every = list(range(n))
    best_all = max(range(len(combos)), key=lambda c: (score(table[c], every), -c))
    out["spindles.insample_best.params"] = list(combos[best_all])
    for w in WHO:
        out[f"spindles.insample_best.f1.{w}"] = _f1(_pooled(table[best_all], every, w))
    return out
