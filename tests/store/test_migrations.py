"""Schema migrations: fresh databases, upgrades from older versions, failures roll back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from store import (
    DatabaseLockedError,
    MigrationError,
    SchemaTooNewError,
    Store,
    load_migrations,
)
from store._db import apply_migrations, schema_version


def _tables(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables")
                .fetchall()}


def test_empty_database_gets_every_shipped_migration(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with Store.open(db) as store:
        assert store.schema_version == len(load_migrations())
    assert {"schema_version", "recordings", "channels"} <= _tables(db)


def test_existing_v0_file_without_schema_table_is_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as conn:
        conn.execute("CREATE TABLE unrelated (x INTEGER)")
        assert schema_version(conn) == 0
    with Store.open(db) as store:
        assert store.schema_version >= 1
    assert {"unrelated", "recordings", "channels"} <= _tables(db)


def _write_migrations(folder: Path, *bodies: str) -> Path:
    folder.mkdir()
    for i, body in enumerate(bodies, start=1):
        (folder / f"{i:04d}_step{i}.sql").write_text(body)
    return folder


def test_version1_database_is_upgraded_to_version2_keeping_rows(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    shipped = load_migrations()
    with Store.open(db, migrations=shipped[:1]) as store:
        assert store.schema_version == 1
        store.cursor().execute(
            "INSERT INTO channels VALUES ('r1', 0, 'MLII', 'ECG', 'mV', 360, 10)"
        )
    extra = _write_migrations(
        tmp_path / "mig",
        shipped[0].sql,
        "ALTER TABLE channels ADD COLUMN note VARCHAR DEFAULT 'none';"
        "CREATE TABLE extra (y INTEGER);",
    )
    with Store.open(db, migrations=load_migrations(extra)) as store:
        assert store.schema_version == 2
        rows = store.cursor().execute("SELECT name, note FROM channels").fetchall()
        assert rows == [("MLII", "none")]
        versions = store.cursor().execute(
            "SELECT version, name FROM schema_version ORDER BY version"
        ).fetchall()
        assert versions == [(1, "recordings"), (2, "step2")]


def test_failing_migration_rolls_back_and_keeps_previous_version(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    shipped = load_migrations()
    with Store.open(db, migrations=shipped[:1]):
        pass
    bad = _write_migrations(
        tmp_path / "mig", shipped[0].sql, "CREATE TABLE half (x INTEGER); SELECT * FROM nope;"
    )
    with pytest.raises(MigrationError, match="0002_step2"):
        Store.open(db, migrations=load_migrations(bad))
    assert "half" not in _tables(db)
    with duckdb.connect(str(db)) as conn:
        assert schema_version(conn) == 1


def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as conn:
        apply_migrations(conn)
        conn.execute("INSERT INTO schema_version (version, name) VALUES (99, 'future')")
    with pytest.raises(SchemaTooNewError, match="99"):
        Store.open(db)


@pytest.mark.parametrize("names", [["0001_a.sql", "0003_c.sql"], ["1_a.sql"], ["0001_A.sql"]])
def test_misnumbered_migration_files_are_rejected(tmp_path: Path, names: list[str]) -> None:
    for n in names:
        (tmp_path / n).write_text("SELECT 1;")
    with pytest.raises(MigrationError):
        load_migrations(tmp_path)


def test_database_held_by_another_process_gives_clear_lock_error(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    Store.open(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
         "sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(DatabaseLockedError, match="wavescore serve") as info:
            Store.open(db)
        assert isinstance(info.value, OSError)
        assert str(db) in str(info.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
