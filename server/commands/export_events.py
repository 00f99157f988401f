"""``wavescore export``: write a stored recording's events to an annotation file.

Selects events by category, status, source and span (default: every status but rejected) and
writes them atomically to ``--out`` (BIDS TSV also writes its JSON sidecar beside it; ``bids``
writes both in a zip). The export is audited with its format, filters and count. Runs as the
``system`` user; the server must be stopped (or use ``GET /api/recordings/{id}/export``).
Formats: ``docs/import-export.md``.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from server.settings import Settings


def _split(values: list[str] | None) -> tuple[str, ...] | None:
    if not values:
        return None
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip()) or None


def _run(args: argparse.Namespace) -> int:
    from server.services.interchange import ExportSelection, export_events_file
    from store import SYSTEM_USER, Store

    settings = Settings.from_env()
    selection = ExportSelection(
        categories=_split(args.category), statuses=_split(args.status),
        sources=_split(args.source), start_s=args.start_s,
        stop_s=math.inf if args.stop_s is None else args.stop_s)
    with Store.open(settings.database_path) as store:
        out = export_events_file(store, args.recording_id, args.format, args.out, SYSTEM_USER,
                                 selection, epoch_s=args.epoch_s)
    print(f"exported {out.n_events} events of {out.recording_id} as {out.format} to {out.path}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``export`` to the CLI."""
    from server.services.interchange import EXPORT_EXTRAS, FORMAT_ALIASES

    parser = subparsers.add_parser("export", help="write a recording's events to a file",
                                   description=__doc__)
    parser.add_argument("recording_id", help="stored recording id")
    parser.add_argument("--format", required=True,
                        choices=sorted([*FORMAT_ALIASES, *EXPORT_EXTRAS]), help="file format")
    parser.add_argument("--out", required=True,
                        help="output file (RECORD.EXT for WFDB, e.g. r0123.atr)")
    parser.add_argument("--category", action="append",
                        help="categories to export (repeat or comma-separate)")
    parser.add_argument("--status", action="append",
                        help="statuses to export (default: all but rejected)")
    parser.add_argument("--source", action="append", help="detector, human and/or import")
    parser.add_argument("--start-s", type=float, default=0.0, help="span start in seconds")
    parser.add_argument("--stop-s", type=float, default=None, help="span end in seconds")
    parser.add_argument("--epoch-s", type=float, default=None,
                        help="hypnogram epoch in seconds (default: the study's)")
    parser.set_defaults(func=_run)


__all__ = ["register"]
