"""``wavescore eval seizure``: CV thresholds, splicing and the full run on Bonn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from server.cli import main
from server.evaluation._datasets import BONN_FS
from server.evaluation.seizure import _cv_predict, _youden_threshold, splice_recordings
from tests.conftest import need_shared


def test_youden_threshold_separates_separable_scores() -> None:
    scores = np.array([0.1, 0.2, 0.3, 1.1, 1.2, 1.3])
    labels = np.array([False, False, False, True, True, True])
    thr = _youden_threshold(scores, labels)
    assert 0.3 < thr < 1.1
    rng = np.random.default_rng(0)
    s = np.concatenate([rng.normal(0, 1, 50), rng.normal(5, 1, 50)])
    lab = np.arange(100) >= 50
    assert (_cv_predict(s, lab, seed=1) == lab).mean() >= 0.97


def test_missing_bonn_folder_exits_1(tmp_path: Path) -> None:
    assert main(["eval", "seizure", "--db", str(tmp_path)]) == 1


@pytest.mark.shared_data
def test_splicing_is_reproducible_and_truth_points_at_seizure_segments() -> None:
    db = need_shared("bonn-eeg")
    a = splice_recordings(db, seed=3, hours=2.0, n_recordings=2)
    b = splice_recordings(db, seed=3, hours=2.0, n_recordings=2)
    for (xa, ta), (xb, tb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa, xb)
        assert ta == tb
        assert abs(xa.size / BONN_FS - 3600.0) < 60.0
        for on, off in ta:
            inside = xa[int((on + 1) * BONN_FS) : int((off - 1) * BONN_FS)]
            before = xa[int((on - 60) * BONN_FS) : int((on - 2) * BONN_FS)]
            assert inside.std() > before.std()  # ictal segments are larger here


@pytest.mark.shared_data
@pytest.mark.slow
def test_eval_seizure_writes_the_documented_keys(tmp_path: Path) -> None:
    out = tmp_path / "seizure.json"
    args = ["eval", "seizure", "--db", str(need_shared("bonn-eeg")), "--json", str(out),
            "--hours", "12", "--recordings", "4", "--sweep", "--dev-seeds", "1",
            "--heldout-seeds", "100"]
    assert main(args) == 0
    figures = json.loads(out.read_text())
    for key in ("bonn.sensitivity", "bonn.specificity", "bonn.auc", "spliced.sensitivity",
                "spliced.precision"):
        assert 0.0 <= figures[key] <= 1.0, key
    assert figures["spliced.fa_per_24h"] >= 0.0
    assert figures["bonn.auc"] >= 0.98
    assert figures["spliced.sensitivity"] >= 0.7
    for split in ("dev", "heldout"):  # separate seeds: operating point chosen on dev only
        assert 0.6 <= figures[f"spliced.{split}.sensitivity"] <= 1.0
        assert figures[f"spliced.{split}.fa_per_24h"] >= 0.0
