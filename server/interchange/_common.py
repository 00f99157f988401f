"""Shared pieces of the annotation importers and exporters.

Every importer returns an :class:`ImportResult` holding :class:`~store.EventDraft` values sorted
by onset, or raises :class:`~store.errors.ImportFormatError` naming the file and the line, row
or field at fault: nothing is ever returned half-read. Every exporter takes events (stored
:class:`~store.Event` values or drafts) and an :class:`ExportContext`, writes to a temporary file
next to the target and renames it into place, and raises
:class:`~store.errors.ExportFormatError` when an event cannot be written in the format.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from store._event_types import Event, EventDraft
from store.errors import ExportFormatError, ImportFormatError
from store.labels import BUILTIN_SCHEMAS, CATEGORIES

#: Files larger than this are refused by every importer (a night of beats is ~2 MB of CSV).
MAX_IMPORT_BYTES = 256 * 1024 * 1024

EventLike = Event | EventDraft


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an importer read.

    Attributes
    ----------
    events
        The events, sorted by ``(onset_s, duration_s, category, label)``; each carries an
        ``import_ref`` with ``file_sha256``, ``format`` and where it came from in the file.
    file_sha256
        SHA-256 of the file's bytes (hex).
    format
        ``"wfdb"``, ``"edf+"``, ``"hypnogram"``, ``"csv"``, ``"bids-tsv"`` or ``"parquet"``.
    warnings
        Recoverable quirks met while reading, in stable wording.
    """

    events: list[EventDraft]
    file_sha256: str
    format: str
    warnings: list[str] = field(default_factory=list)


def _default_descriptions() -> dict[tuple[str, str], str]:
    return {(c, lab): d for c, lab, d in BUILTIN_SCHEMAS[("wavescore", 1)]}


@dataclass(frozen=True, slots=True)
class ExportContext:
    """What an exporter needs to know about the recording.

    Attributes
    ----------
    fs
        Sampling rate in Hz of the reference channel; WFDB sample numbers are
        ``round(onset_s * fs)``. Required by the WFDB exporter only.
    channel_names
        Channel names by index, written next to channel indices where a format has room.
    start_time
        Recording start (naive local clock time), written to EDF+ headers.
    recording_id
        Written to metadata where a format has room.
    epoch_s
        Scoring epoch in seconds, for hypnograms.
    label_descriptions
        ``(category, label) -> description`` for BIDS sidecar ``Levels``; defaults to the
        built-in ``wavescore`` v1 schema.
    """

    fs: float | None = None
    channel_names: tuple[str, ...] = ()
    start_time: datetime | None = None
    recording_id: str | None = None
    epoch_s: float = 30.0
    label_descriptions: Mapping[tuple[str, str], str] = field(
        default_factory=_default_descriptions)


def as_draft(event: EventLike) -> EventDraft:
    """Return the draft values of a stored event or draft."""
    return event.to_draft() if isinstance(event, Event) else event


def sort_key(e: EventDraft) -> tuple[float, float, str, str, tuple[int, ...]]:
    """Key used to order events in every file written and every import result."""
    return (e.onset_s, e.duration_s, e.category, e.label, e.channels)


def check_export_events(events: Sequence[EventLike], path: Path, fmt: str) -> list[EventDraft]:
    """Validate events before writing; return them as drafts sorted by :func:`sort_key`.

    Raises
    ------
    ExportFormatError
        An onset or duration is negative or not finite, a label is empty, padded with
        whitespace or holds a control character, a category is unknown, a channel index is
        negative, or a confidence lies outside ``[0, 1]``.
    """
    drafts = [as_draft(e) for e in events]
    for i, d in enumerate(drafts):
        where = f"event {i} ({d.category} {d.label!r} at {d.onset_s} s)"
        if not (math.isfinite(d.onset_s) and d.onset_s >= 0):
            raise ExportFormatError(f"cannot write {path} as {fmt}: {where} has onset_s "
                                    f"{d.onset_s}; onsets must be finite and >= 0")
        if not (math.isfinite(d.duration_s) and d.duration_s >= 0):
            raise ExportFormatError(f"cannot write {path} as {fmt}: {where} has duration_s "
                                    f"{d.duration_s}; durations must be finite and >= 0")
        if not d.label or d.label != d.label.strip():
            raise ExportFormatError(f"cannot write {path} as {fmt}: {where} has an empty label "
                                    "or one with leading/trailing whitespace")
        if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in d.label):
            raise ExportFormatError(f"cannot write {path} as {fmt}: {where} has a control "
                                    "character in its label")
        if d.category not in CATEGORIES:
            raise ExportFormatError(f"cannot write {path} as {fmt}: {where} has category "
                                    f"{d.category!r}; allowed: {', '.join(CATEGORIES)}")
        if any(c < 0 for c in d.channels):
            raise ExportFormatError(f"cannot write {path} as {fmt}: {where} has a negative "
                                    "channel index")
        if d.confidence is not None and not 0.0 <= d.confidence <= 1.0:
            raise ExportFormatError(f"cannot write {path} as {fmt}: {where} has confidence "
                                    f"{d.confidence}; allowed: 0..1 or none")
    drafts.sort(key=sort_key)
    return drafts


def read_file_bytes(path: str | Path, fmt: str) -> tuple[Path, bytes, str]:
    """Read a whole file to import; return the path, its bytes and their SHA-256.

    Raises
    ------
    ImportFormatError
        The file is missing, unreadable, empty or larger than :data:`MAX_IMPORT_BYTES`.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise ImportFormatError(f"{p}: is a folder, not a {fmt} file")
        if size > MAX_IMPORT_BYTES:
            raise ImportFormatError(f"{p}: {size} bytes is above the {MAX_IMPORT_BYTES}-byte "
                                    f"limit for {fmt} imports")
        data = p.read_bytes()
    except FileNotFoundError:
        raise ImportFormatError(f"{p}: no such file") from None
    except OSError as exc:
        raise ImportFormatError(f"{p}: cannot read: {exc.strerror}") from None
    if not data:
        raise ImportFormatError(f"{p}: the file is empty (0 bytes); a {fmt} file was expected")
    return p, data, hashlib.sha256(data).hexdigest()


def decode_text(path: Path, data: bytes, fmt: str) -> str:
    """Decode UTF-8 text (a BOM is allowed), naming the line of the first invalid byte.

    Raises
    ------
    ImportFormatError
        The bytes are not UTF-8 or hold NUL bytes.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFormatError(
            f"{path}, line {line}: byte {data[exc.start]:#04x} at offset {exc.start} is not "
            f"UTF-8; save the {fmt} file as UTF-8") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportFormatError(f"{path}, line {line}: NUL byte in a {fmt} text file (is it "
                                "a binary file or UTF-16?)")
    return text


def check_draft(d: EventDraft, path: Path, where: str) -> EventDraft:
    """Check one imported event's values; return it unchanged.

    Raises
    ------
    ImportFormatError
        A negative or non-finite onset or duration, an empty label, an unknown category, a
        negative channel index or a confidence outside ``[0, 1]``.
    """
    prefix = f"{path}, {where}"
    if not math.isfinite(d.onset_s) or d.onset_s < 0:
        raise ImportFormatError(f"{prefix}: onset {d.onset_s} s must be a finite number >= 0")
    if not math.isfinite(d.duration_s) or d.duration_s < 0:
        raise ImportFormatError(f"{prefix}: duration {d.duration_s} s must be a finite "
                                "number >= 0")
    if not d.label.strip():
        raise ImportFormatError(f"{prefix}: the label is empty")
    if d.category not in CATEGORIES:
        raise ImportFormatError(f"{prefix}: category {d.category!r} is not one of "
                                f"{', '.join(CATEGORIES)}")
    if any(c < 0 for c in d.channels):
        raise ImportFormatError(f"{prefix}: channel indices must be >= 0, got {d.channels}")
    if d.confidence is not None and not (math.isfinite(d.confidence)
                                         and 0.0 <= d.confidence <= 1.0):
        raise ImportFormatError(f"{prefix}: confidence {d.confidence} must lie in [0, 1]")
    return d


def parse_float(text: str, path: Path, where: str, what: str) -> float:
    """Parse a finite float, raising :class:`ImportFormatError` naming ``where``."""
    try:
        value = float(text)
    except ValueError:
        raise ImportFormatError(f"{path}, {where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ImportFormatError(f"{path}, {where}: {what} {text!r} is not a finite number")
    return value


def parse_channels(text: str, path: Path, where: str,
                   channel_names: Sequence[str] = ()) -> tuple[int, ...]:
    """Parse ``"0;2"`` (indices, or names found in ``channel_names``); ``""`` means all."""
    text = text.strip()
    if not text:
        return ()
    out: list[int] = []
    for token in text.split(";"):
        token = token.strip()
        if token.isdigit():
            out.append(int(token))
        elif token in channel_names:
            out.append(list(channel_names).index(token))
        else:
            raise ImportFormatError(
                f"{path}, {where}: channel {token!r} is neither a channel index (0, 1, ...) "
                "nor one of the recording's channel names; separate channels with ';'")
    if len(set(out)) != len(out):
        raise ImportFormatError(f"{path}, {where}: channel list {text!r} repeats a channel")
    return tuple(sorted(out))


def format_channels(channels: tuple[int, ...]) -> str:
    """``(0, 2) -> "0;2"``; ``() -> ""``."""
    return ";".join(str(c) for c in channels)


def format_float(value: float) -> str:
    """Shortest text that parses back to the same float (``repr``)."""
    return repr(float(value))


def finish_import(drafts: list[EventDraft], sha: str, fmt: str,
                  warnings: list[str] | None = None) -> ImportResult:
    """Sort the drafts and wrap them in an :class:`ImportResult`."""
    drafts.sort(key=sort_key)
    return ImportResult(drafts, sha, fmt, list(warnings or []))


def make_ref(sha: str, fmt: str, **extra: Any) -> dict[str, Any]:
    """The ``import_ref`` of one imported event."""
    ref: dict[str, Any] = {"file_sha256": sha, "format": fmt}
    ref.update({k: v for k, v in extra.items() if v is not None})
    return ref


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place if the block succeeds."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def guard_import(path: Path, fmt: str, parse: Callable[[], ImportResult]) -> ImportResult:
    """Run ``parse``; turn an unexpected ``ValueError``/``KeyError`` into ImportFormatError."""
    try:
        return parse()
    except ImportFormatError:
        raise
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ImportFormatError(f"{path}: not a readable {fmt} file: "
                                f"{type(exc).__name__}: {exc}") from None
