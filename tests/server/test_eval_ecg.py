"""``wavescore eval ecg``: JSON keys, figures on bundled and shared records, CinC-style folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from server.cli import main
from server.evaluation._match import any_overlap, intervals_overlap_s, match_beats, total_s
from server.evaluation.ecg import AAMI, EcgEvalError
from signal_io.synth.ecg import make_ecg
from tests.conftest import need_shared

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "server" / "sample_data"


def test_match_beats_pairs_nearest_within_window_once() -> None:
    ref = np.array([100, 200, 300, 400], dtype=np.int64)
    det = np.array([95, 104, 260, 401, 900], dtype=np.int64)
    m = match_beats(ref, det, 20)
    np.testing.assert_array_equal(m, [1, -1, -1, 3])


def test_match_beats_handles_empty_inputs() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert match_beats(empty, np.array([1], dtype=np.int64), 5).size == 0
    np.testing.assert_array_equal(match_beats(np.array([3], dtype=np.int64), empty, 5), [-1])


def test_interval_helpers() -> None:
    a = [(0.0, 10.0), (20.0, 30.0)]
    b = [(5.0, 25.0)]
    assert intervals_overlap_s(a, b) == pytest.approx(10.0)
    assert total_s(a) == pytest.approx(20.0)
    assert any_overlap((9.0, 11.0), a)
    assert not any_overlap((10.0, 20.0), a)


def test_aami_mapping_follows_ec57() -> None:
    assert {k for k, v in AAMI.items() if v == "V"} == {"V", "E"}
    assert {k for k, v in AAMI.items() if v == "S"} == {"A", "a", "J", "S"}
    assert {k for k, v in AAMI.items() if v == "Q"} == {"/", "f", "Q"}


@pytest.mark.slow
def test_eval_on_bundled_records_writes_flat_json(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ecg.json"
    status = main(["eval", "ecg", "--db", str(SAMPLE_DATA), "--records", "201", "208",
                   "--json", str(out)])
    assert status == 0
    figures = json.loads(out.read_text())
    expected = {"qrs.gross.se", "qrs.gross.ppv", "qrs.records.201.se", "qrs.records.201.ppv",
                "qrs.records.208.se", "qrs.records.208.ppv", "classes.V.se", "classes.V.ppv",
                "classes.S.se", "classes.S.ppv", "af.duration_se", "af.duration_ppv",
                "af.episode_se", "af.episode_ppv", "pacing.specificity"}
    assert set(figures) == expected
    assert all(0.0 <= v <= 1.0 for v in figures.values())
    # measured: QRS 0.9978 / 0.9992, V 0.930 / 0.917, AF duration 0.987 / 0.705
    assert figures["qrs.gross.se"] >= 0.997
    assert figures["qrs.gross.ppv"] >= 0.998
    assert figures["classes.V.se"] >= 0.9
    assert figures["classes.V.ppv"] >= 0.9
    assert figures["af.duration_se"] >= 0.95
    printed = capsys.readouterr().out
    assert "QRS gross" in printed
    assert "RR-only baseline" in printed


def _write_strip(folder: Path, name: str, x: np.ndarray, fs: float) -> None:
    import wfdb

    wfdb.wrsamp(name, fs=fs, units=["mV"], sig_name=["ECG"], p_signal=x[:, None].astype(float),
                fmt=["16"], adc_gain=[1000.0], baseline=[0], write_dir=str(folder))


def test_eval_on_reference_csv_folder_scores_af(tmp_path: Path) -> None:
    rows = []
    for i in range(3):
        n = make_ecg(300.0, 40.0, seed=100 + i, pvc_fraction=0.0, svpb_fraction=0.0)
        a = make_ecg(300.0, 40.0, seed=200 + i, pvc_fraction=0.0, svpb_fraction=0.0,
                     af_episodes=[(0.0, 40.0)])
        _write_strip(tmp_path, f"N{i}", n.signal, 300.0)
        _write_strip(tmp_path, f"A{i}", a.signal, 300.0)
        rows += [f"N{i},N", f"A{i},A"]
    (tmp_path / "REFERENCE.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "cinc.json"
    assert main(["eval", "ecg", "--db", str(tmp_path), "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert set(figures) == {"cinc2017.af_f1", "cinc2017.normal_f1"}
    assert figures["cinc2017.af_f1"] == pytest.approx(1.0)
    assert figures["cinc2017.normal_f1"] == pytest.approx(1.0)


def test_folder_without_annotations_is_a_clear_error(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "ecg", "--db", str(tmp_path)]) != 0
    assert "no WFDB records with .atr" in capsys.readouterr().err


def test_unknown_record_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copy(SAMPLE_DATA / "201.hea", tmp_path / "201.hea")
    from server.evaluation.ecg import _record_names

    with pytest.raises(EcgEvalError, match="999"):
        _record_names(tmp_path, ["999"])


@pytest.mark.shared_data
def test_eval_on_cinc2017_subset(tmp_path: Path) -> None:
    db = need_shared("cinc2017-af", "validation")
    out = tmp_path / "cinc.json"
    assert main(["eval", "ecg", "--db", str(db), "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    # measured on the 150 validation records: AF F1 0.809, normal F1 0.688
    assert figures["cinc2017.af_f1"] >= 0.75
    assert figures["cinc2017.normal_f1"] >= 0.6


@pytest.mark.shared_data
def test_eval_detects_pacing_without_flags(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    db = need_shared("mitdb")
    out = tmp_path / "paced.json"
    assert main(["eval", "ecg", "--db", str(db), "--records", "101", "107", "217",
                 "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["pacing.sensitivity"] == pytest.approx(1.0)
    assert figures["pacing.specificity"] == pytest.approx(1.0)
    # measured: Q Se 0.930 / +P 0.999 over 107 and 217; AF in 217 (paced) 107 of 252 s
    assert figures["classes.Q.se"] >= 0.91
    assert figures["classes.Q.ppv"] >= 0.99
    assert figures["af.duration_se"] >= 0.3
    assert figures["af.duration_ppv"] >= 0.6
    assert "pacing detected in 2 record(s): 107 217" in capsys.readouterr().out


@pytest.mark.shared_data
def test_forced_pacing_labels_every_non_v_beat_q(tmp_path: Path) -> None:
    db = need_shared("mitdb")
    out = tmp_path / "forced.json"
    assert main(["eval", "ecg", "--db", str(db), "--records", "217", "--paced", "217",
                 "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["classes.Q.se"] >= 0.98


def test_cv_choice_takes_the_best_score_and_breaks_ties_towards_the_defaults() -> None:
    from server.evaluation._ecg_af_cv import GRID, choose

    flat = [(0.5,)] * len(GRID)
    assert GRID[choose(flat)] == (0.05, 0.12, 0.6)
    best = GRID.index((0.03, 0.09, 0.7))
    scores = [(0.5,)] * len(GRID)
    scores[best] = (0.6,)
    assert choose(scores) == best
    # the second element only breaks ties of the first
    pairs = [(0.5, 0.0)] * len(GRID)
    pairs[best] = (0.5, 0.1)
    assert choose(pairs) == best
