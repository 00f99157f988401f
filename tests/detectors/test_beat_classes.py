"""AAMI beat classes: clustering kernel, synthetic ectopy, paced records, real MIT-BIH records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.ecg import BeatClassParams, analyse_ecg, classify_beats, detect_qrs
from detectors.ecg._classify_kernels import _cluster_kernel, _cluster_py
from detectors.ecg.classify import align_beats, local_rr_ratio
from server.evaluation._match import match_beats
from signal_io.synth.ecg import make_ecg
from tests.conftest import need_shared

AAMI = {**dict.fromkeys("NLRej", "N"), **dict.fromkeys("AaJS", "S"), **dict.fromkeys("VE", "V"),
        "F": "F", **dict.fromkeys("/fQ", "Q")}


@pytest.mark.parametrize("k", [0, 1, 2, 5, 64, 333])
@pytest.mark.parametrize("max_clusters", [1, 3, 24])
def test_cluster_kernel_matches_reference(k: int, max_clusters: int) -> None:
    rng = np.random.default_rng(k * 31 + max_clusters)
    shapes = rng.standard_normal((4, 40))
    waves = (shapes[rng.integers(0, 4, size=k)] + 0.3 * rng.standard_normal((k, 40)))
    waves = (waves - waves.mean(axis=1, keepdims=True)).astype(np.float32)
    lab_k, corr_k = _cluster_kernel(waves, 0.9, max_clusters)
    lab_p, corr_p = _cluster_py(waves, 0.9, max_clusters)
    np.testing.assert_array_equal(lab_k, lab_p)
    np.testing.assert_allclose(corr_k, corr_p, atol=1e-9)


def test_local_rr_ratio_marks_premature_beats() -> None:
    beats_s = np.arange(20, dtype=np.float64)
    beats_s[10] -= 0.4
    ratio = local_rr_ratio(beats_s, 4)
    assert ratio[10] == pytest.approx(0.6)
    assert ratio[11] == pytest.approx(1.4)
    assert ratio[5] == pytest.approx(1.0)


def test_alignment_does_not_move_a_symmetric_beat() -> None:
    x = np.zeros(1000, dtype=np.float32)
    x[495:506] = np.hanning(11)
    assert align_beats(x, np.array([500]), 250.0)[0] == 500


def _truth_classes(fs: float, polarity: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    ecg = make_ecg(fs, 600.0, seed=seed, pvc_fraction=0.08, svpb_fraction=0.05,
                   polarity=polarity)
    res = analyse_ecg(ecg.signal, ecg.fs)
    ref = np.round(ecg.beats_s * fs).astype(np.int64)
    m = match_beats(ref, res.beats, round(0.15 * fs))
    truth = np.array([AAMI[s] for s in ecg.beat_labels])
    got = np.where(m >= 0, res.labels[np.maximum(m, 0)], "-")
    return truth, got


@pytest.mark.parametrize("fs", [128.0, 360.0, 1000.0])
@pytest.mark.parametrize("polarity", [1, -1])
def test_synthetic_pvcs_are_labelled_v(fs: float, polarity: int) -> None:
    truth, got = _truth_classes(fs, polarity, seed=21)
    v_ref = truth == "V"
    se = float(np.mean(got[v_ref] == "V"))
    ppv = float(np.mean(truth[got == "V"] == "V"))
    assert se >= 0.95
    assert ppv >= 0.95


def test_synthetic_svpbs_are_labelled_s_and_sinus_beats_n() -> None:
    truth, got = _truth_classes(360.0, 1, seed=22)
    s_ref = truth == "S"
    assert float(np.mean(got[s_ref] == "S")) >= 0.8
    assert float(np.mean(truth[got == "S"] == "S")) >= 0.8
    assert float(np.mean(got[truth == "N"] == "N")) >= 0.98


def test_paced_recording_labels_dominant_beats_q() -> None:
    ecg = make_ecg(360.0, 120.0, seed=3, pvc_fraction=0.05, svpb_fraction=0.0)
    q = detect_qrs(ecg.signal, ecg.fs)
    res = classify_beats(ecg.signal, ecg.fs, q.beats, BeatClassParams(paced=True))
    assert set(np.unique(res.labels)) <= {"Q", "V"}
    assert float(np.mean(res.labels == "Q")) > 0.85


def test_no_beats_give_empty_classes() -> None:
    res = classify_beats(np.zeros(1000, dtype=np.float32), 250.0, np.zeros(0, dtype=np.int64))
    assert res.labels.size == 0
    assert res.similarity.size == 0


def test_confidence_is_within_unit_interval() -> None:
    ecg = make_ecg(250.0, 120.0, seed=8, pvc_fraction=0.1, svpb_fraction=0.05)
    res = analyse_ecg(ecg.signal, ecg.fs)
    assert np.all((res.class_confidence >= 0) & (res.class_confidence <= 1))


def _mitdb_v(record: str) -> tuple[float, float]:
    import wfdb

    db: Path = need_shared("mitdb")
    rec = wfdb.rdrecord(str(db / record))
    names = list(rec.sig_name)
    x = rec.p_signal[:, names.index("MLII") if "MLII" in names else 0].astype(np.float32)
    fs = float(rec.fs)
    ann = wfdb.rdann(str(db / record), "atr")
    pairs = [(s, AAMI[y]) for s, y in zip(ann.sample, ann.symbol, strict=True) if y in AAMI]
    ref = np.array([s for s, _ in pairs], dtype=np.int64)
    cls = np.array([c for _, c in pairs])
    res = analyse_ecg(x, fs)
    m = match_beats(ref, res.beats, round(0.15 * fs))
    got = np.where(m >= 0, res.labels[np.maximum(m, 0)], "-")
    tp = int(np.sum((cls == "V") & (got == "V")))
    return tp / max(int(np.sum(cls == "V")), 1), tp / max(int(np.sum(res.labels == "V")), 1)


# measured V (Se, +P): 119 1.000/0.998, 208 0.916/0.986, 215 0.976/0.958, 106 0.998/0.996
@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("record", "min_se", "min_ppv"),
    [("119", 0.99, 0.99), ("208", 0.89, 0.97), ("215", 0.95, 0.95), ("106", 0.98, 0.98)],
)
def test_mitdb_ventricular_beats_meet_measured_accuracy(
    record: str, min_se: float, min_ppv: float
) -> None:
    se, ppv = _mitdb_v(record)
    assert se >= min_se
    assert ppv >= min_ppv
