"""``wavescore recordings``: list the ingested recordings (de-identified) as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from server.commands.ingest import format_duration
from server.settings import Settings
from store import RecordingRow, Store


def recording_json(r: RecordingRow) -> dict[str, Any]:
    """The JSON form of a registry row (snake_case, ISO times)."""
    return {
        "recording_id": r.recording_id,
        "source_format": r.source_format,
        "n_channels": r.n_channels,
        "duration_s": r.duration_s,
        "start_time": None if r.start_time is None else r.start_time.isoformat(),
        "ingested_at": r.ingested_at.isoformat(),
        "channels": [
            {"index": c.channel_index, "name": c.name, "kind": c.kind, "unit": c.unit,
             "fs": c.fs, "n_samples": c.n_samples}
            for c in r.channels
        ],
    }


def format_table(rows: list[RecordingRow]) -> str:
    """Rows as an aligned text table."""
    header = ("recording_id", "format", "channels", "duration", "start (de-identified)")
    body = [
        (r.recording_id, r.source_format, str(r.n_channels), format_duration(r.duration_s),
         "-" if r.start_time is None else r.start_time.isoformat(sep=" "))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in (header, *body)]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    with Store.open(settings.database_path) as store:
        rows = store.list_recordings()
    if args.json:
        json.dump([recording_json(r) for r in rows], sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif rows:
        print(format_table(rows))
    else:
        print(f"no recordings in {settings.data_dir} yet; add some with `wavescore ingest PATH`",
              file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("recordings", help="list ingested recordings",
                                   description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=_run)


__all__ = ["format_table", "recording_json", "register"]
