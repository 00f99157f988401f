"""``wavescore users``, ``audit``, ``sql`` and ``detect`` through :func:`server.cli.main`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from server.cli import main
from store import Store
from tests.server.conftest import SAMPLE_DATA, ingest_into


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WAVESCORE_DATA_DIR", str(tmp_path))
    return tmp_path


def test_users_add_prints_the_token_alone_on_the_last_line(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "add", "alice", "--role", "reviewer"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("ws_") and " " not in token
    with Store.open(data_dir / "wavescore.duckdb") as store:
        assert store.user_for_token(token).name == "alice"


def test_users_add_with_password_from_stdin_allows_sign_in(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["users", "add", "bob", "--role", "admin", "--password-stdin"]) == 0
    capsys.readouterr()
    with Store.open(data_dir / "wavescore.duckdb") as store:
        assert store.check_password("bob", "correct horse battery").name == "bob"


def test_users_list_disable_and_errors(data_dir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    main(["users", "add", "carol", "--role", "annotator"])
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["users", "add", "carol", "--role", "annotator"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["users", "disable", "carol"]) == 0
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "carol" in out and "annotator" in out and "disabled" in out
    assert main(["users", "disable", "nobody"]) == 1
    with Store.open(data_dir / "wavescore.duckdb") as store, pytest.raises(PermissionError):
        store.user_for_token(token)
    with pytest.raises(SystemExit):
        main(["users", "add", "dave", "--role", "superuser"])


def test_audit_verify_passes_then_fails_after_tampering(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["users", "add", "erin", "--role", "annotator"])
    main(["users", "add", "frank", "--role", "annotator"])
    assert main(["audit", "verify"]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["audit", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["action"] for r in rows] == ["user.create", "user.create"]
    con = duckdb.connect(str(data_dir / "wavescore.duckdb"))
    con.execute("UPDATE audit_log SET user_name = 'mallory' WHERE seq = 1")
    con.close()
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "does NOT verify" in err and "entry 1" in err


def test_sql_formats_and_refusal(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["users", "add", "gina", "--role", "researcher"])
    capsys.readouterr()
    assert main(["sql", "SELECT name, role FROM recordings"]) == 1  # no such column
    capsys.readouterr()
    assert main(["sql", "SELECT count(*) AS n FROM events"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == [[0]]
    assert main(["sql", "SELECT * FROM range(5) t(i)", "--format", "csv"]) == 0
    assert capsys.readouterr().out.replace('"', "").split() == ["i", "0", "1", "2", "3", "4"]
    out = data_dir / "r.parquet"
    assert main(["sql", "SELECT * FROM range(7) t(i)", "--format", "parquet",
                 "--out", str(out)]) == 0
    assert pq.read_table(out).num_rows == 7
    assert main(["sql", "DELETE FROM events"]) == 1
    assert "only SELECT" in capsys.readouterr().err


def test_detect_stores_proposals_with_a_run_row(data_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (rid,) = ingest_into(data_dir, [SAMPLE_DATA / "208.hea"])
    assert main(["detect", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "ecg.beats" in listing and "sleep.staging" in listing
    assert main(["detect", rid, "--detector", "ecg.qrs", "--param", "refractory_s=0.2",
                 "--quiet"]) == 0
    assert "proposals stored as run 1" in capsys.readouterr().out
    with Store.open(data_dir / "wavescore.duckdb") as store:
        (run,) = store.run_research_sql(
            "SELECT detector, params, n_events FROM detector_runs", timeout_s=5,
            max_rows=10).table.to_pylist()
        n = store.run_research_sql("SELECT count(*) AS n FROM events WHERE run_id = 1",
                                   timeout_s=5, max_rows=1).table.to_pylist()[0]["n"]
    assert run["detector"] == "ecg.qrs" and json.loads(run["params"])["refractory_s"] == 0.2
    assert n == run["n_events"] > 2000
    assert main(["detect", rid, "--detector", "ecg.qrs", "--param", "bogus=1"]) == 1
    assert "bogus" in capsys.readouterr().err
    assert main(["detect", rid, "--detector", "no.such"]) == 1


def test_first_user_is_created_once_with_a_working_password(data_dir: Path) -> None:
    from server.commands.users import ensure_first_user
    from server.settings import Settings

    settings = Settings.from_env()
    message = ensure_first_user(settings)
    assert message is not None
    password = message.split("password ")[1].split()[0]
    with Store.open(data_dir / "wavescore.duckdb") as store:
        assert store.check_password("demo", password).role.value == "admin"
    assert ensure_first_user(settings) is None
