"""``wavescore ingest``, ``recordings`` and ``demo`` run in-process and once as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pytest

from server.cli import main
from signal_io import Annotation
from signal_io.edf_writer import EdfSignal, write_edf
from store import Store, StoreError

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "server" / "sample_data"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("WAVESCORE_DATA_DIR", str(d))
    return d


def _copy_record(name: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for ext in ("hea", "dat", "atr"):
        shutil.copyfile(SAMPLE_DATA / f"{name}.{ext}", dest / f"{name}.{ext}")
    return dest / f"{name}.hea"


def _write_edf(path: Path, seed: int, *, patient: str = "X X X X",
               recording: str | None = None, notes: list[Annotation] | None = None) -> Path:
    rng = np.random.default_rng(seed)
    write_edf(path, [EdfSignal("EEG Fpz-Cz", rng.normal(0, 20, 100 * 120), 100.0),
                     EdfSignal("EOG", rng.normal(0, 20, 50 * 120), 50.0)],
              datetime(2021, 6, 1, 23, 12, 5), annotations=notes or [], patient=patient,
              recording=recording)
    return path


def _rows(data_dir: Path) -> list[str]:
    with Store.open(data_dir / "wavescore.duckdb") as store:
        return [r.recording_id for r in store.list_recordings()]


def _stored(data_dir: Path) -> list[str]:
    rec = data_dir / "recordings"
    return sorted(p.name for p in rec.iterdir()) if rec.exists() else []


def test_ingest_record_prints_summary_and_registers_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "-q", str(SAMPLE_DATA / "201.hea")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    rid, status, n_ch, _, duration, source = out[0].split()
    assert status == "ingested" and n_ch == "2" and duration == "0:30:06"
    assert source.endswith("201.hea") and rid.startswith("r") and len(rid) == 13
    assert _rows(data_dir) == [rid]
    assert _stored(data_dir) == [rid]
    key = data_dir / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(bytes.fromhex(key.read_text().strip())) == 32


def test_reingest_same_content_elsewhere_is_unchanged(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "-q", str(SAMPLE_DATA / "208.hea")]) == 0
    first = capsys.readouterr().out.split()[0]
    copy = _copy_record("208", tmp_path / "moved" / "deeper")
    assert main(["ingest", "-q", str(copy)]) == 0
    out = capsys.readouterr().out.split()
    assert out[:2] == [first, "unchanged"]
    assert _rows(data_dir) == [first] and _stored(data_dir) == [first]


def test_renamed_edf_with_same_bytes_is_unchanged(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _write_edf(tmp_path / "a.edf", 1)
    b = tmp_path / "other_name.edf"
    shutil.copyfile(a, b)
    assert main(["ingest", "-q", str(a), str(b)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[1] for ln in lines] == ["ingested", "unchanged"]
    assert lines[0].split()[0] == lines[1].split()[0]


def test_folder_ingest_finds_every_recording(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    _copy_record("201", src / "wfdb")
    _write_edf(src / "n1.edf", 1)
    (src / "sub").mkdir()
    _write_edf(src / "sub" / "n2.EDF", 2)
    (src / "notes.txt").write_text("not a recording")
    assert main(["ingest", "-q", str(src)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(" ingested " in ln for ln in lines)
    assert len(_rows(data_dir)) == 3 and len(_stored(data_dir)) == 3


def test_recordings_lists_table_and_json(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recordings"]) == 0
    assert "no recordings" in capsys.readouterr().err
    edf = _write_edf(tmp_path / "n.edf", 3)
    assert main(["ingest", "-q", str(edf)]) == 0
    rid = capsys.readouterr().out.split()[0]
    assert main(["recordings"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["recording_id", "format", "channels", "duration"]
    assert table[1].split()[:4] == [rid, "edf+c", "2", "0:02:00"]
    assert main(["recordings", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["recording_id"] == rid
    assert [c["fs"] for c in rows[0]["channels"]] == [100.0, 50.0]
    start = datetime.fromisoformat(rows[0]["start_time"])
    assert start.time() == datetime(2021, 6, 1, 23, 12, 5).time()
    assert 1000 <= (datetime(2021, 6, 1) - start.replace(hour=0, minute=0, second=0)).days <= 4000


def test_stale_tmp_folder_is_cleaned_on_next_ingest(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = data_dir / "recordings" / f".tmp-rdeadbeef0000-{2**22 + 99}"
    stale.mkdir(parents=True)
    (stale / "ch000.f32").write_bytes(b"\0" * 16)
    assert main(["ingest", "-q", str(SAMPLE_DATA / "201.hea")]) == 0
    assert not stale.exists()
    assert len(_stored(data_dir)) == 1


def test_failed_registration_removes_the_stored_folder(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(self: Store, **kw: object) -> None:
        raise StoreError("simulated registry failure")

    monkeypatch.setattr(Store, "register_recording", boom)
    assert main(["ingest", "-q", str(SAMPLE_DATA / "201.hea")]) == 1
    err = capsys.readouterr().err
    assert "simulated registry failure" in err and "Traceback" not in err
    monkeypatch.undo()
    assert _stored(data_dir) == [] and _rows(data_dir) == []


def test_lost_or_orphan_folders_are_repaired(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = str(SAMPLE_DATA / "201.hea")
    assert main(["ingest", "-q", src]) == 0
    rid = capsys.readouterr().out.split()[0]
    shutil.rmtree(data_dir / "recordings" / rid)  # row without folder
    assert main(["ingest", "-q", src]) == 0
    assert capsys.readouterr().out.split()[:2] == [rid, "ingested"]
    with Store.open(data_dir / "wavescore.duckdb") as store:  # folder without row
        store.delete_recording(rid)
    assert main(["ingest", "-q", src]) == 0
    assert capsys.readouterr().out.split()[:2] == [rid, "ingested"]
    assert _rows(data_dir) == [rid] and _stored(data_dir) == [rid]


PLANTED = ["Haagse", "Harry", "0234567", "1951", "PSG-7788", "Telemetry09", "2002",
           "Zoidberg", "998877"]


def test_planted_identifiers_reach_neither_stored_files_nor_database(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write_edf(
        tmp_path / "Haagse_Harry.edf", 5,
        patient="MCH-0234567 M 02-MAY-1951 Haagse_Harry",
        recording="Startdate 02-MAR-2002 PSG-7788/2002 NN Telemetry09",
        notes=[Annotation(1.0, 0.0, "Lights off"), Annotation(2.0, 0.0, "Dr Zoidberg here"),
               Annotation(3.0, 0.0, "MRN 998877")],
    )
    assert main(["ingest", "-q", str(src)]) == 0
    capsys.readouterr()
    blob = b"".join(p.read_bytes() for p in (data_dir / "recordings").rglob("*") if p.is_file())
    with duckdb.connect(str(data_dir / "wavescore.duckdb"), read_only=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()]
        dump = json.dumps([conn.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables],
                          default=str)
    db_bytes = (data_dir / "wavescore.duckdb").read_bytes()
    for original in PLANTED:
        assert original.encode() not in blob, original
        assert original not in dump, original
        assert original.encode() not in db_bytes, original
    assert "Lights off" in blob.decode("utf-8", "replace")


def test_database_in_use_gives_one_line_error(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Store.open(data_dir / "wavescore.duckdb").close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
         "print('ok', flush=True); sys.stdin.read()", str(data_dir / "wavescore.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        assert main(["ingest", "-q", str(SAMPLE_DATA / "201.hea")]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is in use by another wavescore process" in err[0]
        assert "wavescore serve" in err[0]
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    assert _stored(data_dir) == []


def test_demo_without_server_ingests_sample_records_idempotently(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import server.commands.demo as demo

    monkeypatch.setattr(demo, "demo_sources", lambda s: sorted(SAMPLE_DATA.glob("*.hea")))
    assert main(["demo", "--no-serve", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.count(" ingested ") == 2
    assert main(["demo", "--no-serve", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.count(" unchanged ") == 2 and "recording_id" in out


def test_ingest_as_subprocess_prints_summary_and_exits_zero(tmp_path: Path) -> None:
    env = {**os.environ, "WAVESCORE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "ingest", str(SAMPLE_DATA / "208.hea")],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert " ingested " in proc.stdout and "Traceback" not in proc.stderr


def test_progress_bar_reports_samples_and_current_channel(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from server.commands.ingest import tqdm_progress
    from signal_io import ChannelInfo, ChannelKind

    chans = [ChannelInfo(i, f"EEG {i}", ChannelKind.EEG, "uV", 100.0, 50) for i in range(2)]
    with tqdm_progress(True, mininterval_s=0)(Path("night.edf"), 2) as callback:
        assert callback is not None
        callback(chans[0], 50, 100)
        callback(chans[1], 100, 100)
    err = capsys.readouterr().err
    assert "night.edf" in err and "ch 2/2 EEG 1" in err and "100/100" in err, err
    with tqdm_progress(False)(Path("night.edf"), 2) as callback:
        assert callback is None


def test_demo_ingests_synthetic_set_then_calls_serve(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import server.commands.serve as serve_cmd
    import signal_io.synth as synth
    from server.settings import Settings

    made: list[Path] = []

    def fake_ensure(folder: Path) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        made[:] = [_write_edf(folder / "demo.edf", 9)]
        return made

    served: list[Settings] = []
    monkeypatch.setattr(synth, "ensure_demo_recordings", fake_ensure)
    monkeypatch.setattr(serve_cmd, "serve", lambda s: served.append(s) or 0)
    assert main(["demo", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.count(" ingested ") == 3
    assert made == [data_dir / "synthetic" / "demo.edf"]
    assert len(served) == 1 and served[0].data_dir == data_dir
