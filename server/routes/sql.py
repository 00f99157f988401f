"""``POST /api/sql``: read-only researcher SQL over the documented ``research`` views.

The body is ``{"sql": "SELECT ...", "format": "json"}``. JSON answers carry ``columns``,
``rows``, ``row_count`` and ``truncated``; CSV, Parquet and Arrow IPC (stream) answers carry the
same flag in the ``X-Wavescore-Truncated`` header (every format has the header). Limits:
``WAVESCORE_SQL_TIMEOUT_S`` and ``WAVESCORE_SQL_MAX_ROWS``. Every query is written to the audit
log with its text. See ``docs/researcher-sql.md``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.params import JSONBody

from server.auth import current_user
from server.settings import Settings
from store import OUTPUT_FORMATS, Store
from store.errors import SqlRefusedError

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}
TRUNCATED_HEADER = "X-Wavescore-Truncated"


class SqlQueryIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One SELECT over the research views and the output format."""

    sql: str
    format: str = "json"


class SqlController(Controller):
    """Researcher SQL."""

    path = "/api/sql"
    tags = ("research",)

    @post("/", operation_id="runSql", sync_to_thread=True, status_code=200)
    def run_sql(
        self, state: State, request: Request[Any, Any, Any], data: JSONBody[SqlQueryIn]
    ) -> Response[bytes]:
        """Run one read-only SELECT; JSON, CSV, Parquet or Arrow IPC."""
        settings: Settings = state.settings
        store: Store = state.store
        user = current_user(request)
        if data.format not in OUTPUT_FORMATS:
            raise SqlRefusedError(
                f"unknown format {data.format!r}; choose one of {', '.join(OUTPUT_FORMATS)}"
            )
        detail: dict[str, Any] = {"sql": data.sql[:4000], "format": data.format}
        try:
            result = store.run_research_sql(
                data.sql, timeout_s=settings.sql_timeout_s, max_rows=settings.sql_max_rows
            )
        except Exception as exc:
            store.audit(
                user.name, "sql.refused", "research", detail | {"error": type(exc).__name__}
            )
            raise
        store.audit(
            user.name,
            "sql.run",
            "research",
            detail | {"rows": result.table.num_rows, "truncated": result.truncated},
        )
        body = result.to_bytes(data.format)
        headers = {
            TRUNCATED_HEADER: "true" if result.truncated else "false",
            "Cache-Control": "no-store",
        }
        if data.format != "json":
            headers["Content-Disposition"] = f'attachment; filename="query.{data.format}"'
        return Response(body, media_type=MEDIA_TYPES[data.format], headers=headers)


__all__ = ["MEDIA_TYPES", "TRUNCATED_HEADER", "SqlController", "SqlQueryIn"]
