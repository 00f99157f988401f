"""Events as CSV, and as BIDS ``events.tsv`` with its JSON sidecar.

CSV (``export_csv`` / ``import_csv``): one row per event, UTF-8, comma-separated, RFC 4180
quoting, columns :data:`CSV_COLUMNS`. Floats are written with Python's shortest round-trip
form, so onsets, durations and confidences come back bit for bit.

BIDS (``export_bids_tsv`` / ``import_bids_tsv``): ``onset``, ``duration``, ``trial_type`` then
wavescore's own columns (:data:`TSV_COLUMNS`), tab-separated, ``n/a`` for missing values, and a
sidecar ``<name>.json`` describing every column with ``Levels`` for ``trial_type`` and
``category``. See ``docs/import-export.md``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from server.interchange._common import (
    EventLike,
    ExportContext,
    ImportResult,
    as_draft,
    atomic_output,
    check_draft,
    check_export_events,
    decode_text,
    finish_import,
    format_channels,
    format_float,
    make_ref,
    parse_channels,
    parse_float,
    read_file_bytes,
    sort_key,
)
from store._event_types import Event, EventDraft
from store.errors import ExportFormatError, ImportFormatError
from store.labels import CATEGORIES

#: Columns of the CSV export, in order. Drafts leave the stored-event columns empty.
CSV_COLUMNS = (
    "onset_s", "duration_s", "label", "category", "channels", "channel_names", "confidence",
    "status", "source", "event_id", "recording_id", "version", "run_id", "schema_name",
    "schema_version", "created_by", "created_at", "updated_by", "updated_at", "deleted",
    "import_ref", "extra",
)
#: Columns a CSV must have to be imported.
CSV_REQUIRED = ("onset_s", "duration_s", "label", "category")
#: Columns of the BIDS events.tsv export, in order (``sample`` only when ``fs`` is known).
TSV_COLUMNS = (
    "onset", "duration", "trial_type", "category", "channels", "channel_names", "confidence",
    "status", "source", "event_id", "sample",
)
TSV_REQUIRED = ("onset", "duration", "trial_type")
NA = "n/a"


def _stored_fields(e: EventLike) -> dict[str, str]:
    """The stored-event columns as text (empty for drafts)."""
    if not isinstance(e, Event):
        return {}
    return {
        "status": str(e.status), "source": str(e.source), "event_id": str(e.event_id),
        "recording_id": e.recording_id, "version": str(e.version),
        "run_id": "" if e.run_id is None else str(e.run_id), "schema_name": e.schema_name,
        "schema_version": str(e.schema_version), "created_by": e.created_by,
        "created_at": e.created_at.isoformat(), "updated_by": e.updated_by,
        "updated_at": e.updated_at.isoformat(), "deleted": "true" if e.deleted else "false",
        "extra": json.dumps(e.extra, sort_keys=True) if e.extra else "",
    }


def _ordered(events: Sequence[EventLike], path: Path, fmt: str) -> list[EventLike]:
    check_export_events(events, path, fmt)
    return sorted(events, key=lambda e: sort_key(as_draft(e)))


def _names(channels: tuple[int, ...], context: ExportContext) -> str:
    names = context.channel_names
    return ";".join(names[c] if c < len(names) else str(c) for c in channels)


def export_csv(events: Sequence[EventLike], path: str | Path,
               context: ExportContext | None = None) -> None:
    """Write events to a CSV file with the columns :data:`CSV_COLUMNS`.

    Parameters
    ----------
    events
        Stored events or drafts; written sorted by onset.
    path
        Output file (replaced atomically).
    context
        ``channel_names`` fills the ``channel_names`` column.

    Raises
    ------
    ExportFormatError
        An event's values are invalid (see :func:`check_export_events`).
    """
    ctx = context or ExportContext()
    out = Path(path)
    rows = _ordered(events, out, "CSV")
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for e in rows:
        d = as_draft(e)
        row = {c: "" for c in CSV_COLUMNS}
        row.update({
            "onset_s": format_float(d.onset_s), "duration_s": format_float(d.duration_s),
            "label": d.label, "category": d.category, "channels": format_channels(d.channels),
            "channel_names": _names(d.channels, ctx),
            "confidence": "" if d.confidence is None else format_float(d.confidence),
            "import_ref": "" if d.import_ref is None else json.dumps(d.import_ref,
                                                                    sort_keys=True),
        })
        row.update(_stored_fields(e))
        writer.writerow(row)
    with atomic_output(out) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8", newline="")


def _original(row: dict[str, str], skip: set[str], na: str | None) -> dict[str, Any] | None:
    """Columns other than the event's own values, kept as provenance."""
    kept: dict[str, Any] = {}
    for key, value in row.items():
        if key in skip or value == "" or value == na:
            continue
        if key in ("import_ref", "extra"):
            try:
                kept[key] = json.loads(value)
            except json.JSONDecodeError:
                kept[key] = value
        else:
            kept[key] = value
    return kept or None


def _read_table(path: Path, text: str, delimiter: str, fmt: str,
                required: Sequence[str]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Parse a delimited table; return the header and ``(line, row)`` pairs."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        quoting=csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE,
                        strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFormatError(f"{path}: the {fmt} file has no header line") from None
    except csv.Error as exc:
        raise ImportFormatError(f"{path}, line 1: {exc}") from None
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportFormatError(
            f"{path}, line 1: the {fmt} header lacks the column(s) {', '.join(missing)}; it "
            f"has {', '.join(header) or 'none'} (required: {', '.join(required)})")
    if len(set(header)) != len(header):
        raise ImportFormatError(f"{path}, line 1: the {fmt} header repeats a column name")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != len(header):
                raise ImportFormatError(
                    f"{path}, line {line}: {len(fields)} fields where the header has "
                    f"{len(header)}")
            rows.append((line, dict(zip(header, fields, strict=True))))
    except csv.Error as exc:
        raise ImportFormatError(f"{path}, line {reader.line_num}: {exc}") from None
    return header, rows


def import_csv(path: str | Path, *, channel_names: Sequence[str] = ()) -> ImportResult:
    """Read events from a CSV file.

    Parameters
    ----------
    path
        A UTF-8 CSV with at least the columns ``onset_s``, ``duration_s``, ``label`` and
        ``category``; ``channels`` (``"0;2"``, or channel names from ``channel_names``) and
        ``confidence`` are read when present. Every other non-empty column (``status``,
        ``event_id``...) is kept in ``import_ref["original"]``.
    channel_names
        The target recording's channel names, to resolve names in ``channels``.

    Returns
    -------
    ImportResult
        Events sorted by onset; ``import_ref`` holds ``line`` and ``original``.

    Raises
    ------
    ImportFormatError
        Missing columns, a row with the wrong number of fields, a non-numeric or negative
        onset or duration, an unknown category, invalid UTF-8; the message names the line.
    """
    p, data, sha = read_file_bytes(path, "CSV")
    text = decode_text(p, data, "CSV")
    _, rows = _read_table(p, text, ",", "CSV", CSV_REQUIRED)
    own = {"onset_s", "duration_s", "label", "category", "channels", "confidence"}
    drafts: list[EventDraft] = []
    for line, row in rows:
        where = f"line {line}"
        conf_text = row.get("confidence", "").strip()
        draft = EventDraft(
            onset_s=parse_float(row["onset_s"], p, where, "onset_s"),
            duration_s=parse_float(row["duration_s"], p, where, "duration_s"),
            label=row["label"].strip(),
            category=row["category"].strip(),
            channels=parse_channels(row.get("channels", ""), p, where, channel_names),
            confidence=parse_float(conf_text, p, where, "confidence") if conf_text else None,
            import_ref=make_ref(sha, "csv", line=line, original=_original(row, own, None)),
        )
        drafts.append(check_draft(draft, p, where))
    return finish_import(drafts, sha, "csv")


def _tsv_cell(value: str, path: Path, what: str) -> str:
    if any(ch in value for ch in "\t\r\n"):
        raise ExportFormatError(f"cannot write {path} as BIDS TSV: {what} {value!r} holds a "
                                "tab or line break")
    if value == NA:
        raise ExportFormatError(f"cannot write {path} as BIDS TSV: {what} 'n/a' would read "
                                "back as a missing value")
    return value if value else NA


def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar of a BIDS ``*_events.tsv`` (same name, ``.json`` suffix)."""
    return Path(path).with_suffix(".json")


def _sidecar(drafts: Sequence[EventDraft], context: ExportContext,
             columns: Sequence[str]) -> dict[str, Any]:
    levels: dict[str, str] = {}
    for d in drafts:
        desc = context.label_descriptions.get((d.category, d.label), "")
        text = f"{d.category}: {desc}" if desc else d.category
        if d.label in levels and text not in levels[d.label].split("; "):
            levels[d.label] += f"; {text}"
        else:
            levels.setdefault(d.label, text)
    side: dict[str, Any] = {
        "onset": {"LongName": "Event onset",
                  "Description": "Onset of the event, in seconds from the start of the "
                                 "recording.", "Units": "s"},
        "duration": {"LongName": "Event duration",
                     "Description": "Duration of the event in seconds; 0 for instantaneous "
                                    "marks such as heart beats.", "Units": "s"},
        "trial_type": {"LongName": "Event label",
                       "Description": "Label of the event in the study's label schema; the "
                                      "category column says which taxonomy it belongs to.",
                       "Levels": dict(sorted(levels.items()))},
        "category": {"LongName": "Event category",
                     "Description": "Kind of event (wavescore category).",
                     "Levels": {c: f"{c.replace('_', ' ')} events" for c in CATEGORIES}},
        "channels": {"LongName": "Channel indices",
                     "Description": "0-based indices of the recording's signal channels the "
                                    "event concerns, separated by ';'; n/a means all channels."},
        "channel_names": {"LongName": "Channel names",
                          "Description": "Names of the channels in the channels column, "
                                         "separated by ';'; n/a means all channels."},
        "confidence": {"LongName": "Detector confidence",
                       "Description": "Confidence of an automatic detector in [0, 1]; n/a for "
                                      "events made by people or imported."},
        "status": {"LongName": "Review status", "Description": "Review state of the event.",
                   "Levels": {"proposed": "proposed by a detector, not yet reviewed",
                              "confirmed": "confirmed by a reviewer",
                              "edited": "changed by a reviewer",
                              "rejected": "rejected by a reviewer"}},
        "source": {"LongName": "Event source", "Description": "Where the event came from.",
                   "Levels": {"detector": "automatic detector", "human": "scored by a person",
                              "import": "imported from a file"}},
        "event_id": {"LongName": "Event identifier",
                     "Description": "wavescore event id; n/a for events not yet stored."},
        "sample": {"LongName": "Onset sample",
                   "Description": "Onset in samples of the reference channel, "
                                  f"round(onset * {context.fs}) (sampling rate "
                                  f"{context.fs} Hz)."},
    }
    if context.channel_names:
        side["channels"]["Levels"] = {str(i): n for i, n in enumerate(context.channel_names)}
    return {c: side[c] for c in columns}


def export_bids_tsv(events: Sequence[EventLike], path: str | Path,
                    context: ExportContext | None = None) -> None:
    """Write a BIDS ``events.tsv`` and its JSON sidecar (:func:`sidecar_path`).

    Parameters
    ----------
    events
        Stored events or drafts; written sorted by onset.
    path
        Output ``*_events.tsv``; the sidecar goes next to it with a ``.json`` suffix.
    context
        ``fs`` adds a ``sample`` column; ``channel_names`` fills ``channel_names`` and the
        sidecar's channel levels; ``label_descriptions`` describes the ``trial_type`` levels.

    Raises
    ------
    ExportFormatError
        An event's values are invalid, or a text holds a tab or line break or is ``n/a``.
    """
    ctx = context or ExportContext()
    out = Path(path)
    rows = _ordered(events, out, "BIDS TSV")
    columns = [c for c in TSV_COLUMNS if c != "sample" or ctx.fs is not None]
    lines = ["\t".join(columns)]
    for e in rows:
        d = as_draft(e)
        stored = _stored_fields(e)
        values = {
            "onset": format_float(d.onset_s), "duration": format_float(d.duration_s),
            "trial_type": _tsv_cell(d.label, out, "label"),
            "category": d.category,
            "channels": _tsv_cell(format_channels(d.channels), out, "channels"),
            "channel_names": _tsv_cell(_names(d.channels, ctx), out, "channel names"),
            "confidence": NA if d.confidence is None else format_float(d.confidence),
            "status": stored.get("status") or NA, "source": stored.get("source") or NA,
            "event_id": stored.get("event_id") or NA,
            "sample": NA if ctx.fs is None else str(round(d.onset_s * ctx.fs)),
        }
        lines.append("\t".join(values[c] for c in columns))
    side = _sidecar([as_draft(e) for e in rows], ctx, columns)
    side_path = sidecar_path(out)
    with atomic_output(side_path) as tmp_json, atomic_output(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
        tmp_json.write_text(json.dumps(side, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")


def import_bids_tsv(path: str | Path, *, default_category: str = "other",
                    channel_names: Sequence[str] = ()) -> ImportResult:
    """Read events from a BIDS ``events.tsv``.

    Parameters
    ----------
    path
        Tab-separated UTF-8 with at least ``onset``, ``duration`` and ``trial_type``;
        ``category``, ``channels`` and ``confidence`` are read when present; other columns
        with a value are kept in ``import_ref["original"]``. ``n/a`` marks a missing value.
    default_category
        Category of rows without a ``category`` value (third-party files).
    channel_names
        The target recording's channel names, to resolve names in ``channels``.

    Returns
    -------
    ImportResult
        Events sorted by onset. A duration of ``n/a`` reads as 0 with a warning.

    Raises
    ------
    ImportFormatError
        Missing columns, ragged rows, a missing or non-numeric onset, a negative duration, a
        missing ``trial_type``; the message names the line.
    """
    p, data, sha = read_file_bytes(path, "BIDS TSV")
    text = decode_text(p, data, "BIDS TSV")
    _, rows = _read_table(p, text, "\t", "BIDS TSV", TSV_REQUIRED)
    own = {"onset", "duration", "trial_type", "category", "channels", "confidence",
           "channel_names"}
    drafts: list[EventDraft] = []
    warnings: list[str] = []
    na_durations = 0
    for line, raw in rows:
        row = {k: v.strip() for k, v in raw.items()}
        where = f"line {line}"
        if row["onset"] in ("", NA):
            raise ImportFormatError(f"{p}, {where}: onset is missing (n/a); every event "
                                    "needs an onset")
        if row["trial_type"] in ("", NA):
            raise ImportFormatError(f"{p}, {where}: trial_type is missing (n/a); it holds "
                                    "the event label")
        if row["duration"] in ("", NA):
            duration = 0.0
            na_durations += 1
        else:
            duration = parse_float(row["duration"], p, where, "duration")
        category = row.get("category", NA)
        conf = row.get("confidence", NA)
        chans = row.get("channels", NA)
        draft = EventDraft(
            onset_s=parse_float(row["onset"], p, where, "onset"),
            duration_s=duration,
            label=row["trial_type"],
            category=default_category if category in ("", NA) else category,
            channels=() if chans in ("", NA) else parse_channels(chans, p, where,
                                                                  channel_names),
            confidence=None if conf in ("", NA) else parse_float(conf, p, where, "confidence"),
            import_ref=make_ref(sha, "bids-tsv", line=line, original=_original(row, own, NA)),
        )
        drafts.append(check_draft(draft, p, where))
    if na_durations:
        warnings.append(f"{na_durations} event(s) with duration n/a were read as "
                        "instantaneous (duration 0)")
    return finish_import(drafts, sha, "bids-tsv", warnings)

