"""Researcher SQL: one read-only SELECT over the research views; every escape refused."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.ipc as pa_ipc
import pyarrow.parquet as pq
import pytest

from store import EventDraft, EventSource, Store, User
from store.errors import SqlFailedError, SqlRefusedError, SqlTimeoutError

REC = "rtest00000001"


@pytest.fixture
def filled(store: Store, users: dict[str, User]) -> Store:
    drafts = [EventDraft(float(i), 0.0, "N" if i % 4 else "V", "beat", (0,), 0.9)
              for i in range(100)]
    store.insert_events(REC, drafts, user=users["admin"], source=EventSource.DETECTOR)
    return store


def run(store: Store, sql: str, **kw: float) -> object:
    return store.run_research_sql(sql, timeout_s=kw.get("timeout_s", 5.0),
                                  max_rows=int(kw.get("max_rows", 1000)))


def test_select_over_views_returns_rows(filled: Store) -> None:
    result = filled.run_research_sql(
        "SELECT label, count(*) AS n FROM events GROUP BY label ORDER BY label",
        timeout_s=5, max_rows=100)
    assert result.table.to_pylist() == [{"label": "N", "n": 75}, {"label": "V", "n": 25}]
    assert not result.truncated


def test_with_queries_and_research_schema_names_are_allowed(filled: Store) -> None:
    result = filled.run_research_sql(
        "WITH v AS (SELECT * FROM research.events WHERE label = 'V') "
        "SELECT count(*) AS n FROM v JOIN recordings USING (recording_id)",
        timeout_s=5, max_rows=10)
    assert result.table.to_pylist() == [{"n": 25}]


def test_row_cap_sets_truncated(filled: Store) -> None:
    result = filled.run_research_sql("SELECT * FROM events", timeout_s=5, max_rows=10)
    assert result.table.num_rows == 10 and result.truncated


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM glob('/*')",
        "SELECT * FROM read_parquet('x.parquet')",
        "SELECT 1; SELECT 2",
        "SELECT 1; DROP TABLE events",
        "DELETE FROM events",
        "UPDATE events SET label = 'X'",
        "INSERT INTO events SELECT * FROM events",
        "CREATE TABLE x AS SELECT 1",
        "ATTACH 'other.duckdb' AS o",
        "INSTALL httpfs",
        "LOAD httpfs",
        "COPY events TO '/tmp/leak.csv'",
        "PRAGMA database_list",
        "SET enable_external_access = true",
        "SET threads = 1",
        "SELECT * FROM users",
        "SELECT * FROM main.users",
        "SELECT * FROM main.events",
        "SELECT * FROM sessions",
        "SELECT token_sha256 FROM users",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM o.events",
        "EXPORT DATABASE '/tmp/x'",
        "CALL pragma_version()",
        "",
    ],
)
def test_escapes_are_refused_with_a_clear_error(filled: Store, sql: str) -> None:
    with pytest.raises(SqlRefusedError) as info:
        filled.run_research_sql(sql, timeout_s=5, max_rows=10)
    assert len(str(info.value)) > 10


def test_external_access_is_disabled_even_for_the_store_itself(filled: Store) -> None:
    import duckdb

    with pytest.raises(duckdb.Error):
        filled.cursor().execute("SELECT * FROM read_csv('/etc/passwd')")


def test_endless_query_is_interrupted_at_the_time_limit(filled: Store) -> None:
    with pytest.raises(SqlTimeoutError, match="WAVESCORE_SQL_TIMEOUT_S"):
        filled.run_research_sql(
            "SELECT count(*) FROM range(1000000000000) a, range(1000000) b",
            timeout_s=0.5, max_rows=10)
    # the store still works afterwards
    assert filled.run_research_sql("SELECT 1 AS x", timeout_s=5, max_rows=1).table.num_rows == 1


def test_runtime_errors_are_typed(filled: Store) -> None:
    with pytest.raises(SqlFailedError):
        filled.run_research_sql("SELECT no_such_column FROM events", timeout_s=5, max_rows=1)


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet", "arrow"])
def test_results_serialise_in_every_format(filled: Store, fmt: str) -> None:
    import io

    result = filled.run_research_sql(
        "SELECT event_id, label, channels FROM events ORDER BY event_id LIMIT 3",
        timeout_s=5, max_rows=100)
    data = result.to_bytes(fmt)
    if fmt == "json":
        payload = json.loads(data)
        assert payload["columns"] == ["event_id", "label", "channels"]
        assert len(payload["rows"]) == 3 and payload["truncated"] is False
    elif fmt == "csv":
        lines = data.decode().strip().splitlines()
        assert lines[0].replace('"', "") == "event_id,label,channels" and len(lines) == 4
    elif fmt == "parquet":
        assert pq.read_table(io.BytesIO(data)).num_rows == 3
    else:
        table: pa.Table = pa_ipc.open_stream(io.BytesIO(data)).read_all()
        assert table.column_names == ["event_id", "label", "channels"]
