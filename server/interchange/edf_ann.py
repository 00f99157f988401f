"""Events as an annotations-only EDF+ file, and import of any EDF+ file's annotations.

Export writes an EDF+C file with no signal, only an ``EDF Annotations`` channel in a single data
record of duration 0 (the layout of the Sleep-EDF ``*-Hypnogram.edf`` files), because the
shared EDF writer needs at least one signal. Each event is one TAL (onset, duration, text).
Onsets and durations are written as the exact decimal of the float (shortest round-trip
form), so they read back bit for bit. Texts:

* sleep stages ``W N1 N2 N3 R ?`` with no channels and no confidence -> ``Sleep stage <label>``
  (the AASM spelling used by the HMC database);
* ``other`` events with no channels and no confidence -> the label itself, when it cannot be
  mistaken for one of the other two forms or for a ``text@@channel`` suffix;
* everything else -> ``wavescore:category=<c>;label=<percent-encoded>[;channels=0,2]
  [;confidence=<float>]``.

Import reads annotations through :func:`signal_io.open_recording`, so it takes our files and
third-party EDF+ (annotation-only hypnograms or full recordings). Third-party stage texts are
mapped (R&K ``Sleep stage 1/2/3/4`` -> ``N1/N2/N3/N3``); the original text is kept in
``import_ref["original_label"]``. See ``docs/import-export.md``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, unquote

from server.interchange._common import (
    EventLike,
    ExportContext,
    ImportResult,
    atomic_output,
    check_draft,
    check_export_events,
    finish_import,
    make_ref,
    read_file_bytes,
)
from signal_io import SignalIOError, open_recording
from store._event_types import EventDraft
from store.errors import ExportFormatError, ImportFormatError

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
#: Labels written as ``Sleep stage <label>``.
AASM_STAGES = ("W", "N1", "N2", "N3", "R", "?")
#: Third-party stage suffixes (after ``Sleep stage``) -> wavescore stage, case-insensitive.
STAGE_MAP = {
    "w": "W", "wake": "W", "1": "N1", "n1": "N1", "2": "N2", "n2": "N2", "3": "N3",
    "n3": "N3", "4": "N3", "n4": "N3", "r": "R", "rem": "R", "?": "?",
}
PREFIX = "wavescore:"
_STAGE_RE = re.compile(r"^sleep stage\s+(.+)$", re.IGNORECASE)
_RESERVED = ("\x00", "\x14", "\x15")


def _decimal(value: float) -> str:
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def encode_text(d: EventDraft) -> str:
    """The TAL text of one event (see the module docstring)."""
    plain = not d.channels and d.confidence is None
    if plain and d.category == "sleep_stage" and d.label in AASM_STAGES:
        return f"Sleep stage {d.label}"
    if (plain and d.category == "other" and not _STAGE_RE.match(d.label)
            and not d.label.startswith(PREFIX) and "@@" not in d.label
            and not any(b in d.label for b in _RESERVED)):
        return d.label
    parts = [f"category={d.category}", f"label={quote(d.label, safe=' ')}"]
    if d.channels:
        parts.append("channels=" + ",".join(str(c) for c in d.channels))
    if d.confidence is not None:
        parts.append(f"confidence={d.confidence!r}")
    return PREFIX + ";".join(parts)


def _tal(d: EventDraft) -> bytes:
    timing = "+" + _decimal(d.onset_s)
    if d.duration_s > 0:
        timing += "\x15" + _decimal(d.duration_s)
    return (timing + "\x14" + encode_text(d) + "\x14\x00").encode("utf-8")


def _field(value: str, width: int) -> bytes:
    return value[:width].ljust(width).encode("ascii")


def _header(n_bytes: int, start: datetime | None) -> bytes:
    if start is not None and not 1985 <= start.year <= 2084:
        raise ExportFormatError(f"EDF start dates must lie in 1985-2084, got {start.year}")
    if start is None:
        recording = "Startdate X X X X"
        date, clock = "01.01.85", "00.00.00"
    else:
        recording = (f"Startdate {start.day:02d}-{_MONTHS[start.month - 1]}-{start.year} "
                     "X X X")
        date, clock = start.strftime("%d.%m.%y"), start.strftime("%H.%M.%S")
    spr = -(-n_bytes // 2)
    if len(str(spr)) > 8:
        raise ExportFormatError(f"{n_bytes} bytes of annotations exceed what one EDF+ data "
                                "record can hold")
    return b"".join([
        _field("0", 8), _field("X X X X", 80), _field(recording, 80), date.encode(),
        clock.encode(), _field("512", 8), _field("EDF+C", 44), _field("1", 8),
        _field("0", 8), _field("1", 4),
        _field("EDF Annotations", 16), _field("", 80), _field("", 8), _field("-1", 8),
        _field("1", 8), _field("-32768", 8), _field("32767", 8), _field("", 80),
        _field(str(spr), 8), _field("", 32),
    ])


def export_edf_annotations(events: Sequence[EventLike], path: str | Path,
                           context: ExportContext | None = None) -> None:
    """Write events to an annotations-only EDF+C file.

    Parameters
    ----------
    events
        Stored events or drafts; written sorted by onset.
    path
        Output ``.edf`` (replaced atomically).
    context
        ``start_time`` goes to the header (whole seconds; ``01.01.85 00.00.00`` and
        ``Startdate X`` when unknown).

    Raises
    ------
    ExportFormatError
        An event's values are invalid, or the start year lies outside 1985-2084.
    """
    ctx = context or ExportContext()
    out = Path(path)
    drafts = check_export_events(events, out, "EDF+")
    body = b"+0\x14\x14\x00" + b"".join(_tal(d) for d in drafts)
    body += b"\x00" * (len(body) % 2)
    with atomic_output(out) as tmp:
        tmp.write_bytes(_header(len(body), ctx.start_time) + body)


def _decode_wavescore(text: str, path: Path, where: str) -> tuple[str, str, tuple[int, ...],
                                                                   float | None]:
    fields: dict[str, str] = {}
    for part in text[len(PREFIX):].split(";"):
        key, sep, value = part.partition("=")
        if not sep or key in fields:
            raise ImportFormatError(f"{path}, {where}: malformed wavescore annotation "
                                    f"{text[:80]!r} (expected key=value pairs separated by ';')")
        fields[key] = value
    try:
        category, label = fields["category"], unquote(fields["label"], errors="strict")
        chans = tuple(int(c) for c in fields["channels"].split(",")) if "channels" in fields \
            else ()
        conf = float(fields["confidence"]) if "confidence" in fields else None
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{path}, {where}: malformed wavescore annotation "
                                f"{text[:80]!r}: {type(exc).__name__} {exc}") from None
    return category, label, chans, conf


def import_edf_annotations(path: str | Path, *, channel_names: Sequence[str] = (),
                           recording_start_time: datetime | None = None) -> ImportResult:
    """Read the annotations of an EDF+ (or BDF+) file as events.

    Parameters
    ----------
    path
        Our export, a third-party hypnogram (``Sleep stage W/1/2/3/4/R/?``) or any EDF+ with
        annotations.
    channel_names
        The target recording's channel names, used to resolve ``text@@channel`` suffixes.
    recording_start_time
        Start of the recording the events belong to; onsets are shifted by the difference
        between the file's start time and this one.

    Returns
    -------
    ImportResult
        Events sorted by onset. Unrecognised texts become category ``other``.

    Raises
    ------
    ImportFormatError
        The file is not EDF, is truncated or corrupt, has no annotation channel, holds a
        malformed ``wavescore:`` text, or an event would start before the recording.
    """
    p, _, sha = read_file_bytes(path, "EDF+")
    try:
        with open_recording(p) as rec:
            if not rec.format.endswith(("+", "+c", "+d")):
                raise ImportFormatError(f"{p}: a plain {rec.format.upper()} file holds no "
                                        "annotations; an EDF+ file was expected")
            anns = rec.annotations()
            start = rec.start_time
    except SignalIOError as exc:
        raise ImportFormatError(f"{p}: cannot read as EDF+: {exc.detail}") from None
    shift = 0.0
    warnings: list[str] = []
    if recording_start_time is not None and start is not None:
        shift = (start - recording_start_time).total_seconds()
    unknown: set[str] = set()
    drafts: list[EventDraft] = []
    for i, a in enumerate(anns):
        where = f"annotation {i} (onset {a.onset_s} s)"
        text = a.label.strip()
        ref: dict[str, object] = {"index": i}
        channels: tuple[int, ...] = ()
        confidence = None
        stage = _STAGE_RE.match(text)
        if text.startswith(PREFIX):
            category, label, channels, confidence = _decode_wavescore(text, p, where)
        elif stage is not None:
            mapped = STAGE_MAP.get(stage.group(1).strip().lower())
            category, label = ("sleep_stage", mapped) if mapped else ("other", text)
            if mapped is None:
                unknown.add(text)
            if mapped != stage.group(1).strip():
                ref["original_label"] = text
        else:
            category, label = "other", text
            if "@@" in text:
                label, _, names = text.partition("@@")
                label = label.strip()
                ref["original_label"] = text
                wanted = [n.strip() for n in names.split(",") if n.strip()]
                if wanted and all(n in channel_names for n in wanted):
                    channels = tuple(sorted(list(channel_names).index(n) for n in wanted))
                else:
                    ref["channel_names"] = wanted
        draft = EventDraft(a.onset_s + shift, a.duration_s, label, category, channels,
                           confidence, make_ref(sha, "edf+", **ref))
        drafts.append(check_draft(draft, p, where))
    if unknown:
        warnings.append("sleep stage texts not mapped to W/N1/N2/N3/R/? were imported as "
                        f"category other: {', '.join(sorted(unknown))}")
    return finish_import(drafts, sha, "edf+", warnings)
