"""Read-only researcher SQL over documented views.

A statement is accepted only when it is exactly one ``SELECT`` (``WITH`` included) whose
table references are the views of the ``research`` schema (``events``, ``reviews``,
``detector_runs``, ``recordings``, ``channels``, ``studies``, ``label_schemas``), its own CTEs,
or the table functions ``range``/``generate_series``/``unnest``. The check walks DuckDB's own
parse tree (``json_serialize_sql``), so quoting tricks do not get around it. As a second line,
the store's connection runs with external access disabled and its configuration locked: even a
statement that got through could not read files, attach databases or load extensions.

Queries run on their own cursor, are interrupted after the time limit
(:class:`~store.errors.SqlTimeoutError`), and return at most ``max_rows`` rows with a
``truncated`` flag.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.ipc as pa_ipc
import pyarrow.parquet as pq

from store._db import Database
from store.errors import SqlFailedError, SqlRefusedError, SqlTimeoutError

RESEARCH_VIEWS = frozenset(
    {"events", "reviews", "detector_runs", "recordings", "channels", "studies", "label_schemas",
     "adjudications"}
)
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
OUTPUT_FORMATS = ("json", "csv", "parquet", "arrow")


@dataclass(frozen=True, slots=True)
class SqlResult:
    """Rows of a researcher query.

    Attributes
    ----------
    table
        The rows (at most ``max_rows``).
    truncated
        True when the query had more rows than were returned.
    elapsed_s
        Wall time of the query in seconds.
    """

    table: pa.Table
    truncated: bool
    elapsed_s: float

    def to_bytes(self, fmt: str) -> bytes:
        """Serialise as ``json`` (an object with columns, rows, truncated), ``csv``,
        ``parquet`` or ``arrow`` (IPC stream)."""
        if fmt == "json":
            payload = {"columns": self.table.column_names, "rows": [
                list(r.values()) for r in self.table.to_pylist()],
                "truncated": self.truncated, "row_count": self.table.num_rows}
            return json.dumps(payload, default=str).encode("utf-8")
        sink = io.BytesIO()
        if fmt == "csv":
            pa_csv.write_csv(_stringify_nested(self.table), sink)
        elif fmt == "parquet":
            pq.write_table(self.table, sink)
        elif fmt == "arrow":
            with pa_ipc.new_stream(sink, self.table.schema) as writer:
                writer.write_table(self.table)
        else:
            raise SqlRefusedError(
                f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
        return sink.getvalue()


def _stringify_nested(table: pa.Table) -> pa.Table:
    cols = []
    for col in table.columns:
        if pa.types.is_nested(col.type):
            cols.append(pa.array([None if v is None else json.dumps(v, default=str)
                                  for v in col.to_pylist()], pa.string()))
        else:
            cols.append(col)
    return pa.table(cols, names=table.column_names)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _cte_names(tree: Any) -> set[str]:
    names: set[str] = set()
    for node in _walk(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map", []):
                key = entry.get("key") if isinstance(entry, dict) else None
                if isinstance(key, str):
                    names.add(key.lower())
    return names


def check_research_sql(conn: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Return the single SELECT statement in ``sql`` or raise :class:`SqlRefusedError`.

    Raises
    ------
    SqlRefusedError
        Not exactly one statement, not a SELECT, or it references something other than the
        research views, its CTEs and the allowed table functions.
    """
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise SqlRefusedError("empty statement; send one SELECT over the research views")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise SqlRefusedError(f"cannot parse the statement: {exc}") from exc
    if len(statements) != 1:
        raise SqlRefusedError(
            f"send exactly one statement; got {len(statements)} (multiple statements are "
            "refused)")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise SqlRefusedError(
            f"only SELECT (or WITH ... SELECT) is allowed; this is a "
            f"{statements[0].type.name} statement (writes, COPY, ATTACH, INSTALL, LOAD, PRAGMA "
            "and SET are refused)")
    row = conn.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise SqlRefusedError(
            f"statement refused: {tree.get('error_message', 'not a plain SELECT')}")
    ctes = _cte_names(tree)
    for node in _walk(tree):
        kind = node.get("type")
        if kind == "BASE_TABLE":
            schema = (node.get("schema_name") or "").lower()
            catalog = (node.get("catalog_name") or "").lower()
            table = (node.get("table_name") or "").lower()
            if catalog not in ("",):
                raise SqlRefusedError(f"catalog {catalog!r} is not accessible")
            if schema in ("", "research") and table in RESEARCH_VIEWS:
                continue
            if schema == "" and table in ctes:
                continue
            raise SqlRefusedError(
                f"table {'.'.join(p for p in (schema, table) if p)!r} is not accessible; query "
                f"the views {', '.join(sorted(RESEARCH_VIEWS))}")
        elif kind == "TABLE_FUNCTION":
            fn = node.get("function", {}).get("function_name", "").lower()
            if fn not in ALLOWED_TABLE_FUNCTIONS:
                raise SqlRefusedError(
                    f"table function {fn!r} is not allowed (no file or external access); "
                    f"allowed: {', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))}")
    return text


class SqlMixin(Database):
    """Researcher SQL."""

    def run_research_sql(self, sql: str, *, timeout_s: float, max_rows: int) -> SqlResult:
        """Run one read-only statement over the research views.

        Parameters
        ----------
        sql
            One SELECT / WITH statement.
        timeout_s
            Interrupt after this many seconds (``WAVESCORE_SQL_TIMEOUT_S``).
        max_rows
            Return at most this many rows (``WAVESCORE_SQL_MAX_ROWS``); ``truncated`` says if
            more existed.

        Raises
        ------
        SqlRefusedError, SqlTimeoutError, SqlFailedError
        """
        import time

        text = check_research_sql(self.cursor(), sql)
        cur = self._new_cursor()
        timed_out = threading.Event()

        def _interrupt() -> None:
            timed_out.set()
            cur.interrupt()

        timer = threading.Timer(timeout_s, _interrupt)
        t0 = time.perf_counter()
        timer.start()
        try:
            table: pa.Table = cur.sql(
                f"SELECT * FROM ({text}) AS q LIMIT {int(max_rows) + 1}"
            ).to_arrow_table()
        except duckdb.Error as exc:
            if timed_out.is_set() or isinstance(exc, duckdb.InterruptException):
                raise SqlTimeoutError(
                    f"query ran longer than {timeout_s:g} s and was stopped; the limit is "
                    "WAVESCORE_SQL_TIMEOUT_S") from exc
            raise SqlFailedError(f"query failed: {exc}") from exc
        finally:
            timer.cancel()
            cur.close()
        elapsed = time.perf_counter() - t0
        truncated = table.num_rows > max_rows
        if truncated:
            table = table.slice(0, max_rows)
        return SqlResult(table, truncated, elapsed)

    def _new_cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self._conn.cursor()
        cur.execute("SET search_path = 'research'")
        return cur
