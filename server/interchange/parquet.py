"""Events as Apache Parquet, with every stored field.

One row per event, columns :data:`PARQUET_SCHEMA` (snappy-compressed). Drafts leave the
stored-event columns null. The file's key-value metadata ``wavescore`` holds JSON with the
format tag ``wavescore.events/1`` and the recording context (id, reference ``fs``, channel
names, start time). Timestamps are stored as microseconds (UTC when the values are
timezone-aware). polars, pandas, DuckDB and R's arrow read these files directly.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from server.interchange._common import (
    EventLike,
    ExportContext,
    ImportResult,
    as_draft,
    atomic_output,
    check_draft,
    check_export_events,
    finish_import,
    guard_import,
    make_ref,
    read_file_bytes,
    sort_key,
)
from store._event_types import Event, EventDraft, EventSource, EventStatus
from store.errors import ExportFormatError, ImportFormatError

FORMAT_TAG = "wavescore.events/1"
REQUIRED = ("onset_s", "duration_s", "label", "category")
_STORED = ("status", "source", "event_id", "recording_id", "version", "run_id", "schema_name",
           "schema_version", "created_by", "created_at", "updated_by", "updated_at", "deleted",
           "extra")


def _schema(tz: str | None) -> pa.Schema:
    ts = pa.timestamp("us", tz=tz)
    return pa.schema([
        ("onset_s", pa.float64()), ("duration_s", pa.float64()), ("label", pa.string()),
        ("category", pa.string()), ("channels", pa.list_(pa.int32())),
        ("confidence", pa.float64()), ("import_ref", pa.string()), ("status", pa.string()),
        ("source", pa.string()), ("event_id", pa.int64()), ("recording_id", pa.string()),
        ("version", pa.int64()), ("run_id", pa.int64()), ("schema_name", pa.string()),
        ("schema_version", pa.int64()), ("created_by", pa.string()), ("created_at", ts),
        ("updated_by", pa.string()), ("updated_at", ts), ("deleted", pa.bool_()),
        ("extra", pa.string()),
    ])


#: Column names and types (timestamps naive; UTC-zoned when the events' times are aware).
PARQUET_SCHEMA = _schema(None)


def _timezone(events: Sequence[EventLike], path: Path) -> str | None:
    stored = [e for e in events if isinstance(e, Event)]
    aware = {t.tzinfo is not None for e in stored for t in (e.created_at, e.updated_at)}
    if len(aware) > 1:
        raise ExportFormatError(f"cannot write {path} as Parquet: the events mix naive and "
                                "timezone-aware timestamps")
    return "UTC" if aware == {True} else None


def export_parquet(events: Sequence[EventLike], path: str | Path,
                   context: ExportContext | None = None) -> None:
    """Write events to a Parquet file with every stored field.

    Parameters
    ----------
    events
        Stored events or drafts; written sorted by onset.
    path
        Output file (replaced atomically).
    context
        Recording context, stored in the file metadata.

    Raises
    ------
    ExportFormatError
        An event's values are invalid or the events mix naive and aware timestamps.
    """
    ctx = context or ExportContext()
    out = Path(path)
    check_export_events(events, out, "Parquet")
    rows = sorted(events, key=lambda e: sort_key(as_draft(e)))
    tz = _timezone(rows, out)
    cols: dict[str, list[Any]] = {name: [] for name in PARQUET_SCHEMA.names}
    for e in rows:
        d = as_draft(e)
        cols["onset_s"].append(d.onset_s)
        cols["duration_s"].append(d.duration_s)
        cols["label"].append(d.label)
        cols["category"].append(d.category)
        cols["channels"].append(list(d.channels))
        cols["confidence"].append(d.confidence)
        cols["import_ref"].append(None if d.import_ref is None
                                  else json.dumps(d.import_ref, sort_keys=True))
        s: Event | None = e if isinstance(e, Event) else None
        cols["status"].append(None if s is None else str(s.status))
        cols["source"].append(None if s is None else str(s.source))
        for name in ("event_id", "recording_id", "version", "run_id", "schema_name",
                     "schema_version", "created_by", "created_at", "updated_by", "updated_at",
                     "deleted"):
            cols[name].append(None if s is None else getattr(s, name))
        cols["extra"].append(None if s is None else json.dumps(s.extra, sort_keys=True))
    meta = {
        "format": FORMAT_TAG, "recording_id": ctx.recording_id, "fs": ctx.fs,
        "channel_names": list(ctx.channel_names),
        "start_time": None if ctx.start_time is None else ctx.start_time.isoformat(),
    }
    schema = _schema(tz).with_metadata({"wavescore": json.dumps(meta)})
    table = pa.Table.from_pydict(cols, schema=schema)
    with atomic_output(out) as tmp:
        pq.write_table(table, tmp, compression="snappy")


def _read_table(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ImportFormatError(f"{path}: not a readable Parquet file: {exc}") from None


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def import_parquet(path: str | Path) -> ImportResult:
    """Read events from a Parquet file (ours or any with the required columns).

    Parameters
    ----------
    path
        Parquet with at least ``onset_s``, ``duration_s`` (numbers), ``label`` and
        ``category`` (strings); ``channels`` (list of ints, or ``"0;2"`` text) and
        ``confidence`` are read when present. The other stored fields (status, source, ids,
        timestamps...) are kept in ``import_ref["original"]`` (timestamps as ISO text).

    Returns
    -------
    ImportResult
        Events sorted by onset; ``import_ref`` holds ``row`` (0-based) and ``original``.

    Raises
    ------
    ImportFormatError
        Not Parquet, missing or mistyped columns, null or negative onsets/durations.
    """
    p, _, sha = read_file_bytes(path, "Parquet")
    return guard_import(p, "Parquet", lambda: _import_table(p, _read_table(p), sha))


def _import_table(p: Path, table: pa.Table, sha: str) -> ImportResult:
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise ImportFormatError(f"{p}: Parquet columns {', '.join(missing)} are missing; "
                                f"required: {', '.join(REQUIRED)}")
    for name in ("onset_s", "duration_s", "confidence"):
        if name in table.column_names and not (pa.types.is_floating(table.schema.field(
                name).type) or pa.types.is_integer(table.schema.field(name).type)):
            raise ImportFormatError(f"{p}: column {name} has type "
                                    f"{table.schema.field(name).type}; a number was expected")
    data = table.to_pylist()
    drafts: list[EventDraft] = []
    for i, row in enumerate(data):
        where = f"row {i}"
        for name in REQUIRED:
            if row[name] is None:
                raise ImportFormatError(f"{p}, {where}: {name} is null")
        if not isinstance(row["label"], str) or not isinstance(row["category"], str):
            raise ImportFormatError(f"{p}, {where}: label and category must be text")
        chans = row.get("channels")
        if chans is None:
            channels: tuple[int, ...] = ()
        elif isinstance(chans, str):
            channels = tuple(sorted(int(c) for c in chans.split(";") if c.strip()))
        else:
            channels = tuple(sorted(int(c) for c in chans))
        original = {k: _json_value(v) for k, v in row.items()
                    if k not in (*REQUIRED, "channels", "confidence") and v is not None}
        for key in ("import_ref", "extra"):
            if isinstance(original.get(key), str):
                with contextlib.suppress(json.JSONDecodeError):
                    original[key] = json.loads(original[key])
        conf = row.get("confidence")
        draft = EventDraft(float(row["onset_s"]), float(row["duration_s"]), row["label"],
                           row["category"], channels, None if conf is None else float(conf),
                           make_ref(sha, "parquet", row=i, original=original or None))
        drafts.append(check_draft(draft, p, where))
    return finish_import(drafts, sha, "parquet")


def read_events_parquet(path: str | Path) -> list[Event]:
    """Read stored events back, with every field, from a file written by :func:`export_parquet`.

    Raises
    ------
    ImportFormatError
        The file is not readable Parquet, or a row lacks a stored-event field (it was
        written from drafts or by another tool: use :func:`import_parquet`).
    """
    p = Path(path)
    table = _read_table(p)
    missing = [c for c in (*REQUIRED, "channels", *_STORED) if c not in table.column_names]
    if missing:
        raise ImportFormatError(f"{p}: columns {', '.join(missing)} are missing; not a "
                                "wavescore event export")
    out: list[Event] = []
    for i, r in enumerate(table.to_pylist()):
        needed = ("event_id", "recording_id", "version", "status", "source", "schema_name",
                  "schema_version", "created_by", "created_at", "updated_by", "updated_at")
        if any(r[k] is None for k in needed):
            raise ImportFormatError(f"{p}, row {i}: stored-event fields are null (the row "
                                    "was exported from a draft)")
        try:
            out.append(Event(
                event_id=r["event_id"], recording_id=r["recording_id"], onset_s=r["onset_s"],
                duration_s=r["duration_s"], label=r["label"], category=r["category"],
                channels=tuple(r["channels"] or ()), source=EventSource(r["source"]),
                status=EventStatus(r["status"]), confidence=r["confidence"],
                run_id=r["run_id"],
                import_ref=None if r["import_ref"] is None else json.loads(r["import_ref"]),
                schema_name=r["schema_name"], schema_version=r["schema_version"],
                created_by=r["created_by"], created_at=r["created_at"],
                updated_by=r["updated_by"], updated_at=r["updated_at"], version=r["version"],
                deleted=bool(r["deleted"]),
                extra={} if r["extra"] is None else json.loads(r["extra"])))
        except (ValueError, TypeError) as exc:
            raise ImportFormatError(f"{p}, row {i}: {exc}") from None
    return out
