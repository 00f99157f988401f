"""``wavescore import``, ``export`` and ``agreement`` through :func:`server.cli.main`.

Real data: MIT-BIH record 208 (``server/sample_data``) is ingested, its reference annotation file
``208.atr`` imported and exported again; beat sample numbers must survive unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import wfdb

from server.cli import main
from server.interchange.wfdb_ann import BEAT_SYMBOLS
from store import Store
from tests.server.conftest import SAMPLE_DATA, ingest_into


@pytest.fixture(scope="module")
def mitbih(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("cli-interchange")
    (rid,) = ingest_into(root, [SAMPLE_DATA / "208.hea"])
    return root, rid


@pytest.fixture
def data_dir(mitbih: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WAVESCORE_DATA_DIR", str(mitbih[0]))
    return mitbih[0]


def _delete_all(data_dir: Path, rid: str) -> None:
    from store import SYSTEM_USER

    with Store.open(data_dir / "wavescore.duckdb") as store:
        for e in store.list_events(rid, limit=1_000_000):
            store.delete_event(e.event_id, SYSTEM_USER)


def test_import_mitbih_atr_then_export_wfdb_keeps_every_beat_sample(
        data_dir: Path, mitbih: tuple[Path, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    rid = mitbih[1]
    ref = wfdb.rdann(str(SAMPLE_DATA / "208"), "atr")
    ref_beats = np.array([s for s, sym in zip(ref.sample, ref.symbol, strict=True)
                          if sym in BEAT_SYMBOLS])
    assert main(["import", rid, str(SAMPLE_DATA / "208.atr"), "--format", "wfdb"]) == 0
    out = capsys.readouterr().out
    assert f"{len(ref_beats)} beat" in out and "status confirmed" in out
    with Store.open(data_dir / "wavescore.duckdb") as store:
        beats = store.list_events(rid, categories=["beat"], limit=1_000_000)
        assert {e.source.value for e in beats} == {"import"}
        assert (beats[0].import_ref or {})["format"] == "wfdb"
    assert len(beats) == len(ref_beats)
    np.testing.assert_array_equal(np.round(np.array([e.onset_s for e in beats]) * 360.0),
                                  ref_beats)

    out_path = tmp_path / "export208.atr"
    assert main(["export", rid, "--format", "wfdb", "--out", str(out_path),
                 "--category", "beat"]) == 0
    assert f"exported {len(ref_beats)} events" in capsys.readouterr().out
    back = wfdb.rdann(str(tmp_path / "export208"), "atr")
    np.testing.assert_array_equal(back.sample, ref_beats)
    assert [s for s in back.symbol] == [s for s in ref.symbol if s in BEAT_SYMBOLS]

    # the same file again is refused unless duplicates are allowed
    assert main(["import", rid, str(SAMPLE_DATA / "208.atr"), "--format", "wfdb"]) == 1
    assert "already imported" in capsys.readouterr().err
    _delete_all(data_dir, rid)


def test_export_then_import_csv_and_bids_through_the_cli(
        data_dir: Path, mitbih: tuple[Path, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    rid = mitbih[1]
    hyp = tmp_path / "night.txt"
    hyp.write_text("W\nN1\nN2\nN2\nN3\nR\n", encoding="utf-8")
    assert main(["import", rid, str(hyp), "--format", "hypnogram", "--epoch-s", "20",
                 "--proposed"]) == 0
    capsys.readouterr()
    with Store.open(data_dir / "wavescore.duckdb") as store:
        before = [(e.onset_s, e.duration_s, e.label, e.category)
                  for e in store.list_events(rid)]
        assert {e.status.value for e in store.list_events(rid)} == {"proposed"}
    assert before[1] == (20.0, 20.0, "N1", "sleep_stage")
    for fmt, name in (("csv", "ev.csv"), ("tsv", "ev_events.tsv"), ("parquet", "ev.parquet"),
                      ("edf", "ev.edf")):
        out = tmp_path / name
        assert main(["export", rid, "--format", fmt, "--out", str(out)]) == 0, fmt
        if fmt == "tsv":
            assert (tmp_path / "ev_events.json").exists()
        _delete_all(data_dir, rid)
        assert main(["import", rid, str(out), "--format", fmt]) == 0, fmt
        capsys.readouterr()
        with Store.open(data_dir / "wavescore.duckdb") as store:
            after = [(e.onset_s, e.duration_s, e.label, e.category)
                     for e in store.list_events(rid)]
        assert after == before, fmt
    with Store.open(data_dir / "wavescore.duckdb") as store:
        exports = [e for e in store.list_audit(limit=100_000) if e.action == "events.export"]
    assert [e.detail["format"] for e in exports[-4:]] == ["csv", "bids-tsv", "parquet", "edf+"]
    _delete_all(data_dir, rid)


def test_import_errors_are_one_line_and_write_nothing(
        data_dir: Path, mitbih: tuple[Path, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    rid = mitbih[1]
    bad = tmp_path / "bad.csv"
    bad.write_text("onset_s,duration_s,label,category\n1,0,N,beat\n2,0,N,bogus\n",
                   encoding="utf-8")
    assert main(["import", rid, str(bad), "--format", "csv"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 3" in err and "bogus" in err
    assert main(["import", "rnope", str(bad), "--format", "csv"]) == 1
    assert "rnope" in capsys.readouterr().err
    with Store.open(data_dir / "wavescore.duckdb") as store:
        assert store.list_events(rid) == []


def test_agreement_prints_kappa_table_and_json(
        data_dir: Path, mitbih: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    rid = mitbih[1]
    a = ["W", "W", "N1", "N2", "N2", "N3"]
    b = ["W", "N1", "N1", "N2", "N3", "N3"]
    with Store.open(data_dir / "wavescore.duckdb") as store:
        users = [store.create_user(name, "annotator").user for name in ("ann", "bea")]
        for user, stages in zip(users, (a, b), strict=True):
            for i, stage in enumerate(stages):
                store.set_epoch_stage(rid, i * 30.0, 30.0, stage, user)
    assert main(["agreement", rid]) == 0
    out = capsys.readouterr().out
    assert "ann (6 epochs), bea (6 epochs)" in out
    assert " 66.7   0.571" in out  # percent agreement, Cohen's kappa 16/28
    assert "Fleiss' kappa (human scorers): 0.556" in out  # 5/9
    assert "disagreements: 2 epochs (2 not adjudicated)" in out
    assert main(["agreement", rid, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["pairs"][0]["kappa"] == pytest.approx(16 / 28)
    assert body["fleiss_kappa"] == pytest.approx(5 / 9) and body["n_disagreements"] == 2
