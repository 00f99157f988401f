"""``wavescore sql``: run one read-only SELECT over the research views.

Output is JSON (default), CSV, Parquet or Arrow IPC, to standard output or ``--out FILE``
(binary formats need ``--out`` or a redirected stdout). A refused, failed or timed-out query
exits 1 with a one-line reason; a truncated result (``WAVESCORE_SQL_MAX_ROWS``) is reported on
standard error. Queries run as the ``system`` user and are written to the audit log. See
``docs/researcher-sql.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from server.settings import Settings
from store import OUTPUT_FORMATS, SYSTEM_USER, Store


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    binary = args.format in ("parquet", "arrow")
    if binary and args.out is None and sys.stdout.isatty():
        print(f"wavescore: error: {args.format} is binary; write it with --out FILE or "
              "redirect standard output", file=sys.stderr)
        return 1
    with Store.open(settings.database_path) as store:
        detail: dict[str, Any] = {"sql": args.query[:4000], "format": args.format,
                                  "via": "cli"}
        try:
            result = store.run_research_sql(args.query, timeout_s=settings.sql_timeout_s,
                                            max_rows=settings.sql_max_rows)
        except Exception as exc:
            store.audit(SYSTEM_USER.name, "sql.refused", "research",
                        detail | {"error": type(exc).__name__})
            raise
        store.audit(SYSTEM_USER.name, "sql.run", "research",
                    detail | {"rows": result.table.num_rows, "truncated": result.truncated})
    body = result.to_bytes(args.format)
    if args.out is not None:
        Path(args.out).write_bytes(body)
    else:
        sys.stdout.buffer.write(body)
        if args.format == "json":
            sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
    if result.truncated:
        print(f"wavescore: result truncated to {settings.sql_max_rows} rows "
              "(WAVESCORE_SQL_MAX_ROWS)", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    """Add ``sql`` to the CLI."""
    parser = subparsers.add_parser("sql", help="run read-only SQL over the research views",
                                   description=__doc__)
    parser.add_argument("query", help='one SELECT, e.g. "SELECT label, count(*) FROM events '
                                      'GROUP BY label"')
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="json",
                        help="output format (default json)")
    parser.add_argument("--out", type=Path, default=None, help="write to FILE")
    parser.set_defaults(func=_run)


__all__ = ["register"]
