"""``wavescore eval sleep``: metrics helpers and the full run on DREAMS."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from server.cli import main
from server.evaluation._datasets import DatasetError, load_dreams_excerpt, rk_to_aasm_30s
from server.evaluation.sleep import _union, match_events, staging_metrics
from tests.conftest import need_shared


def test_rk_majority_of_six_with_s3_s4_as_n3() -> None:
    codes = np.array([5, 5, 5, 4, 4, 4,   1, 0, 0, 2, 2, 2,   3, 3, 2, 2, 9, 9,   9] * 1)
    assert rk_to_aasm_30s(codes.astype(float)).tolist() == ["W", "N3", "N1"]


def test_staging_metrics_on_known_confusion() -> None:
    ref = ["W", "W", "N2", "N2", "N3", "?"]
    pred = ["W", "N2", "N2", "N2", "N3", "W"]
    m = staging_metrics(ref, pred)
    assert m["n_epochs"] == 5
    assert m["accuracy"] == pytest.approx(0.8)
    # po = 0.8; pe = (2*1 + 2*3 + 1*1) / 25 = 0.36
    assert m["kappa"] == pytest.approx((0.8 - 0.36) / 0.64)
    assert m["f1"]["N2"] == pytest.approx(0.8)
    assert m["confusion"][0][2] == 1


def test_event_matching_is_one_to_one_with_iou_threshold() -> None:
    ref = [(10.0, 1.0), (20.0, 1.0)]
    det = [(10.1, 1.0), (10.2, 0.8), (20.9, 1.0), (40.0, 1.0)]
    tp, n_det, n_ref = match_events(det, ref)
    assert (tp, n_det, n_ref) == (1, 4, 2)  # 20.9 overlaps 0.1 s: IoU 0.05 < 0.2
    assert _union([(1.0, 1.0)], [(1.5, 1.0), (5.0, 1.0)]) == [(1.0, 1.5), (5.0, 1.0)]


def test_missing_excerpt_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file not found"):
        load_dreams_excerpt(tmp_path, "excerpt1")
    assert main(["eval", "sleep", "--db", str(tmp_path), "--no-yasa"]) == 1


@pytest.mark.shared_data
@pytest.mark.slow
def test_eval_sleep_writes_the_documented_keys(tmp_path: Path) -> None:
    db = need_shared("dreams-spindles")
    out = tmp_path / "sleep.json"
    assert main(["eval", "sleep", "--db", str(db), "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    for key in ("staging.pooled.accuracy", "staging.pooled.kappa",
                "staging.excerpts.excerpt1.kappa", "spindles.f1.expert1", "spindles.f1.expert2",
                "spindles.f1.union", "human.dod.pairwise_kappa",
                "spindles.human.f1.expert1_vs_expert2"):
        assert 0.0 <= figures[key] <= 1.0, key
    assert figures["staging.pooled.kappa"] >= 0.52
    assert figures["spindles.f1.expert2"] >= 0.66  # measured 0.679 (in-sample defaults)
    # leave-one-excerpt-out threshold CV: measured 0.644 / 0.664 / 0.662
    for who, floor in (("expert1", 0.62), ("expert2", 0.64), ("union", 0.64)):
        assert figures[f"spindles.loo.f1.{who}"] >= floor, who
    assert len(figures["spindles.loo.chosen"]) == 5
    if "staging.yasa.pooled.kappa" in figures:
        assert figures["staging.pooled.kappa"] >= figures["staging.yasa.pooled.kappa"]
    assert 0.6 <= figures["human.dod.pairwise_kappa"] <= 0.8


def test_spindle_loo_cv_pools_held_out_counts_and_picks_per_fold() -> None:
    from server.evaluation._datasets import DreamsExcerpt
    from server.evaluation._spindle_cv import GRID, spindle_loo_cv
    from server.evaluation.sleep import _spindle_counts
    from tests.detectors.test_spindles import _eeg_with_spindles

    excerpts = []
    for seed in (1, 2, 3):
        x, truth = _eeg_with_spindles(100.0, 300.0, seed=seed)
        excerpts.append(DreamsExcerpt(name=f"excerpt{seed}", channel="C3-A1", data=x, fs=100.0,
                                      stages=np.array(["N2"] * 10), expert1=truth,
                                      expert2=truth))
    out = spindle_loo_cv(excerpts, [()] * 3, _spindle_counts)
    assert len(out["spindles.loo.chosen"]) == 3
    assert all(len(c) == len(GRID) for c in out["spindles.loo.chosen"])
    # clean injected spindles: the held-out detector finds most of them
    assert out["spindles.loo.f1.expert2"] >= 0.8
    assert 0.8 <= out["spindles.insample_best.f1.expert2"] <= 1.0
