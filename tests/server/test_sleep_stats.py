"""Sleep statistics on hand-computed hypnograms (conventions in server/services/sleep_stats.py)."""

from __future__ import annotations

import pytest

from server.services.sleep_stats import compute_sleep_stats, hypnogram_from_epochs

# index:  0    1    2     3     4     5    6     7     8     9    10   11   12    13    14   15
NIGHT = ["W", "W", "N1", "N2", "N2", "W", "N2", "N3", "N3", "R", "R", "W", None, "N2", "W", "W"]


def test_known_hypnogram_gives_hand_computed_figures() -> None:
    s = compute_sleep_stats(NIGHT, 30.0)
    assert s.n_epochs_scored == 15
    assert s.tib_min == pytest.approx(8.0)           # epochs 0..15
    assert s.tst_min == pytest.approx(4.5)           # 9 sleep epochs
    assert s.sleep_efficiency_pct == pytest.approx(56.25)
    assert s.sol_min == pytest.approx(1.0)           # onset at epoch 2
    assert s.rem_latency_min == pytest.approx(3.5)   # first R at epoch 9, 7 epochs after onset
    assert s.waso_min == pytest.approx(1.0)          # W at 5 and 11 (14, 15 are after final wake)
    assert s.n_awakenings == 2
    assert s.unscored_in_sleep_period_min == pytest.approx(0.5)
    assert s.stage_min == pytest.approx({"W": 3.0, "N1": 0.5, "N2": 2.0, "N3": 1.0, "R": 1.0})
    pct = s.stage_pct_of_tst
    assert pct["N1"] == pytest.approx(100 / 9) and pct["N2"] == pytest.approx(400 / 9)
    assert sum(v for v in pct.values() if v is not None) == pytest.approx(100.0)


def test_leading_unscored_epochs_do_not_count_as_time_in_bed() -> None:
    s = compute_sleep_stats([None, None, *NIGHT], 30.0)
    assert s.tib_min == pytest.approx(8.0) and s.sol_min == pytest.approx(1.0)


def test_epoch_length_scales_every_duration() -> None:
    a = compute_sleep_stats(NIGHT, 30.0)
    b = compute_sleep_stats(NIGHT, 4.0)
    assert b.tst_min == pytest.approx(a.tst_min * 4 / 30)
    assert b.sleep_efficiency_pct == pytest.approx(a.sleep_efficiency_pct)


def test_wake_only_night_has_no_latencies() -> None:
    s = compute_sleep_stats(["W"] * 10, 30.0)
    assert s.tst_min == 0 and s.sleep_efficiency_pct == 0 and s.sol_min is None
    assert s.rem_latency_min is None and s.waso_min == 0


def test_no_rem_gives_no_rem_latency_and_empty_night_is_all_zero() -> None:
    assert compute_sleep_stats(["W", "N2", "N3", "W"], 30.0).rem_latency_min is None
    empty = compute_sleep_stats([], 30.0)
    assert empty.tib_min == 0 and empty.sleep_efficiency_pct is None


def test_unscorable_epochs_are_not_sleep() -> None:
    s = compute_sleep_stats(["W", "N2", "?", "N2", "W"], 30.0)
    assert s.tst_min == pytest.approx(1.0) and s.unscored_in_sleep_period_min == pytest.approx(0.5)


def test_bad_epoch_length_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        compute_sleep_stats(NIGHT, 0.0)


def test_hypnogram_from_epoch_map_fills_gaps_with_none() -> None:
    assert hypnogram_from_epochs({0: "W", 2: "N2"}, 4) == ["W", None, "N2", None]
    assert hypnogram_from_epochs({}) == []
