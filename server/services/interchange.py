"""Import and export of a recording's events: the glue between the store and the interchange
formats, shared by the HTTP routes and the ``wavescore import``/``export`` commands.

What it adds to :mod:`server.interchange`:

* the recording's context (reference rate, channel names, de-identified start time, the
  study's epoch) handed to importers and exporters;
* checks of imported events against the recording (inside its duration, known channels, labels
  in the study's schema) naming the file's line, row, annotation or sample, before the store's
  all-or-nothing insert;
* refusal of a second import of the same file into the same recording (unless asked);
* audit entries: ``events.import`` (format, file sha256, count; the store also writes its
  ``events.insert``) and ``events.export`` (format, filters, count).

The reference channel (WFDB sample numbers, the BIDS ``sample`` column) is the channel with the
highest rate, except for WFDB recordings, where it is the lowest (the record's frame rate, which
MIT annotation files count in). File names of uploads are never stored (they may name the
patient); provenance is the file's SHA-256 in each event's ``import_ref``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from server.interchange import FORMATS, ExportContext, ImportResult
from signal_io import open_recording
from signal_io.errors import SignalIOError
from store import EventDraft, EventSource, EventStatus, Permission, Store, User
from store.errors import (
    ExportFormatError,
    ImportFormatError,
    InvalidEventError,
    UnknownLabelError,
)

#: Names accepted by the API and the CLI -> :data:`server.interchange.FORMATS` keys.
FORMAT_ALIASES: dict[str, str] = {
    "csv": "csv",
    "tsv": "bids-tsv",
    "bids-tsv": "bids-tsv",
    "parquet": "parquet",
    "edf": "edf+",
    "edf+": "edf+",
    "wfdb": "wfdb",
    "hypnogram": "hypnogram",
}
#: Export-only names: the BIDS sidecar alone, or events.tsv and its sidecar zipped.
EXPORT_EXTRAS = ("tsv-sidecar", "bids")
#: Most events one export may hold.
MAX_EXPORT_EVENTS = 1_000_000
_TIME_EPS_S = 1e-6

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "bids-tsv": "text/tab-separated-values; charset=utf-8",
    "tsv-sidecar": "application/json",
    "bids": "application/zip",
    "parquet": "application/vnd.apache.parquet",
    "edf+": "application/octet-stream",
    "wfdb": "application/octet-stream",
    "hypnogram": "text/plain; charset=utf-8",
}


def resolve_format(name: str, *, export: bool = False) -> str:
    """The interchange format key for an API/CLI format name.

    Raises
    ------
    ImportFormatError, ExportFormatError
        Unknown name (the error of the direction asked for).
    """
    key = name.strip().lower()
    if export and key in EXPORT_EXTRAS:
        return key
    if key in FORMAT_ALIASES:
        return FORMAT_ALIASES[key]
    names = sorted(FORMAT_ALIASES) + (list(EXPORT_EXTRAS) if export else [])
    message = f"unknown format {name!r}; formats: {', '.join(names)}"
    raise (ExportFormatError(message) if export else ImportFormatError(message))


def export_file_name(recording_id: str, fmt: str) -> str:
    """The download name of an export: the pseudonymous recording id and the format's suffix."""
    names = {
        "csv": f"{recording_id}_events.csv",
        "bids-tsv": f"{recording_id}_events.tsv",
        "tsv-sidecar": f"{recording_id}_events.json",
        "bids": f"{recording_id}_events_bids.zip",
        "parquet": f"{recording_id}_events.parquet",
        "edf+": f"{recording_id}_events.edf",
        "wfdb": f"{recording_id}.atr",
        "hypnogram": f"{recording_id}_hypnogram.txt",
    }
    return names[fmt]


# ---------------------------------------------------------------------------- context
@dataclass(frozen=True, slots=True)
class RecordingContext:
    """What importers and exporters need to know about one recording.

    Attributes
    ----------
    recording_id
        Pseudonymous id.
    duration_s
        Length in seconds.
    fs
        Rate in Hz of the reference channel (module docstring).
    channel_names
        Channel names by index.
    start_time
        De-identified (date-shifted) start, naive local clock time, or ``None``.
    epoch_s
        The study's scoring epoch in seconds.
    schema_name, schema_version
        The study's label schema.
    """

    recording_id: str
    duration_s: float
    fs: float | None
    channel_names: tuple[str, ...]
    start_time: datetime | None
    epoch_s: float
    schema_name: str
    schema_version: int

    def export_context(self, epoch_s: float | None = None) -> ExportContext:
        """The :class:`ExportContext` of this recording (``epoch_s`` overrides the study's)."""
        return ExportContext(fs=self.fs, channel_names=self.channel_names,
                             start_time=self.start_time, recording_id=self.recording_id,
                             epoch_s=self.epoch_s if epoch_s is None else epoch_s)


def recording_context(store: Store, recording_id: str) -> RecordingContext:
    """Build the :class:`RecordingContext` of a registered recording.

    Raises
    ------
    store.errors.RecordingNotFoundError
    """
    row = store.get_recording(recording_id)
    study = store.study_of(recording_id)
    rates = [float(c.fs) for c in row.channels if c.fs > 0]
    fs = None
    if rates:
        fs = min(rates) if row.source_format.lower().startswith("wfdb") else max(rates)
    return RecordingContext(
        recording_id=row.recording_id, duration_s=float(row.duration_s), fs=fs,
        channel_names=tuple(c.name for c in sorted(row.channels,
                                                    key=lambda c: c.channel_index)),
        start_time=row.start_time, epoch_s=float(study.epoch_s),
        schema_name=study.schema_name, schema_version=int(study.schema_version),
    )


# ---------------------------------------------------------------------------- import
@dataclass(frozen=True, slots=True)
class ImportOptions:
    """Format options of an import.

    Attributes
    ----------
    epoch_s
        Hypnogram epoch length in seconds (``None``: the study's epoch).
    codes
        Hypnogram stage coding: ``auto``, ``letters``, ``dreams``, ``rk`` or ``aasm``.
    onset_s
        Hypnogram: onset of the first epoch in seconds.
    default_category
        BIDS TSV: category of rows without one.
    fs
        WFDB: rate in Hz of files that declare none (``None``: the reference channel's).
    """

    epoch_s: float | None = None
    codes: str = "auto"
    onset_s: float = 0.0
    default_category: str = "other"
    fs: float | None = None


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import stored."""

    recording_id: str
    format: str
    file_sha256: str
    n_events: int
    status: str
    n_by_category: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def _edf_reference_start(path: Path, start: datetime | None) -> tuple[datetime | None, str]:
    """The start to measure an EDF+ file's onsets from, and a warning when it was aligned.

    Recordings are date-shifted at ingest (whole days, time of day kept), so a third-party file
    carrying the original date is aligned on the nearest whole day: only the time-of-day
    difference shifts onsets. The shift itself is never reported.
    """
    if start is None:
        return None, ""
    try:
        with open_recording(path) as rec:
            file_start = rec.start_time
    except SignalIOError:
        return start, ""  # the importer reports the file's problem
    if file_start is None:
        return start, ""
    if file_start.microsecond == 0:
        start = start.replace(microsecond=0)  # EDF headers hold whole seconds
    days = round((file_start - start).total_seconds() / 86400.0)
    if days == 0:
        return start, ""
    aligned = start + timedelta(days=days)
    offset_s = (file_start - aligned).total_seconds()
    return aligned, ("the file's start date differs from the recording's (de-identified) "
                     f"start date; onsets were aligned by time of day (file starts {offset_s:+g}"
                     " s from the recording)")


def _run_importer(fmt: str, path: Path, ctx: RecordingContext,
                  options: ImportOptions) -> ImportResult:
    importer = FORMATS[fmt].importer
    if fmt == "wfdb":
        return importer(path, fs=options.fs or ctx.fs, duration_s=ctx.duration_s)
    if fmt == "edf+":
        start, warning = _edf_reference_start(path, ctx.start_time)
        result = importer(path, channel_names=ctx.channel_names, recording_start_time=start)
        if warning:
            result.warnings.append(warning)
        return result
    if fmt == "hypnogram":
        return importer(path, epoch_s=options.epoch_s or ctx.epoch_s, codes=options.codes,
                        onset_s=options.onset_s)
    if fmt == "csv":
        return importer(path, channel_names=ctx.channel_names)
    if fmt == "bids-tsv":
        return importer(path, default_category=options.default_category,
                        channel_names=ctx.channel_names)
    return importer(path)


def _where(d: EventDraft) -> str:
    ref = d.import_ref or {}
    for key, word in (("line", "line"), ("row", "row"), ("index", "annotation"),
                      ("sample", "sample")):
        if key in ref:
            return f"{word} {ref[key]}"
    return f"event at {d.onset_s} s"


def check_against_recording(store: Store, ctx: RecordingContext, drafts: Sequence[EventDraft],
                            file_name: str) -> None:
    """Check imported events fit the recording, naming the file's line/row/annotation/sample.

    Raises
    ------
    InvalidEventError
        An event ends after the recording or names a channel it does not have.
    UnknownLabelError
        A label is not in the study's schema for its category.
    """
    n_channels = len(ctx.channel_names)
    allowed: dict[str, set[str]] = {}
    for d in drafts:
        where = f"{file_name}, {_where(d)}"
        if d.onset_s + d.duration_s > ctx.duration_s + _TIME_EPS_S:
            raise InvalidEventError(
                f"{where}: {d.category} {d.label!r} [{d.onset_s}, {d.onset_s + d.duration_s}] s "
                f"ends after the recording ({ctx.duration_s} s); is the file for another "
                "recording, or the rate/epoch wrong?")
        bad = [c for c in d.channels if c >= n_channels]
        if bad:
            raise InvalidEventError(
                f"{where}: channel index {bad[0]} does not exist; the recording has channels "
                f"0..{n_channels - 1}")
        if d.category == "other":
            continue
        if d.category not in allowed:
            allowed[d.category] = store.allowed_labels(ctx.schema_name, ctx.schema_version,
                                                       d.category)
        if d.label not in allowed[d.category]:
            raise UnknownLabelError(
                f"{where}: label {d.label!r} is not in schema {ctx.schema_name} "
                f"v{ctx.schema_version} for category {d.category!r}; allowed: "
                f"{', '.join(sorted(allowed[d.category]))}")


def count_previous_imports(store: Store, recording_id: str, file_sha256: str) -> int:
    """How many live events of the recording came from a file with this SHA-256."""
    row = store.cursor().execute(
        "SELECT count(*) FROM events WHERE recording_id = ? AND source = 'import' "
        "AND NOT deleted AND json_extract_string(import_ref, '$.file_sha256') = ?",
        [recording_id, file_sha256]).fetchone()
    return 0 if row is None else int(row[0])


def _relabel(exc: Exception, path: Path, file_name: str) -> str:
    text = str(exc)
    for old in (str(path), str(path.parent) + os.sep, str(path.parent)):
        text = text.replace(old, file_name)
    return text


def import_events_file(store: Store, recording_id: str, path: str | Path, fmt: str, user: User,
                       *, status: EventStatus = EventStatus.CONFIRMED,
                       options: ImportOptions | None = None, allow_duplicate: bool = False,
                       file_name: str | None = None) -> ImportOutcome:
    """Read an annotation file and store all its events (source ``import``) or none.

    Parameters
    ----------
    store
        The open store.
    recording_id
        Recording the events belong to.
    path
        The file (``RECORD.EXT`` for WFDB).
    fmt
        A name of :data:`FORMAT_ALIASES`.
    user
        Who imports (needs :attr:`Permission.IMPORT`); becomes the events' author.
    status
        ``confirmed`` (expert scorings, the default) or ``proposed`` (to be reviewed).
    options
        Format options.
    allow_duplicate
        Import even when events from the same file (same SHA-256) are already stored.
    file_name
        Name shown in error messages instead of ``path`` (uploads are stored under temporary
        names). Never stored.

    Raises
    ------
    PermissionDeniedError
        The user may not import.
    ImportFormatError
        The file is malformed, or was already imported into this recording.
    InvalidEventError, UnknownLabelError
        An event does not fit the recording or its schema (the message names the line).
    """
    user.require(Permission.IMPORT)
    key = resolve_format(fmt)
    if status not in (EventStatus.CONFIRMED, EventStatus.PROPOSED):
        raise InvalidEventError(f"imported events are 'confirmed' or 'proposed', not "
                                f"{status.value!r}")
    p = Path(path)
    shown = file_name or p.name
    options = options or ImportOptions()
    ctx = recording_context(store, recording_id)
    try:
        result = _run_importer(key, p, ctx, options)
    except ImportFormatError as exc:
        raise ImportFormatError(_relabel(exc, p, shown)) from None
    if not result.events:
        raise ImportFormatError(f"{shown}: holds no events; nothing was imported")
    check_against_recording(store, ctx, result.events, shown)
    if not allow_duplicate:
        before = count_previous_imports(store, recording_id, result.file_sha256)
        if before:
            raise ImportFormatError(
                f"{shown}: this file (sha256 {result.file_sha256[:12]}...) was already imported "
                f"into recording {recording_id} ({before} events still stored); delete them "
                "first or allow duplicates")
    n = store.insert_events(recording_id, result.events, user=user, source=EventSource.IMPORT,
                            status=status)
    by_category: dict[str, int] = {}
    for d in result.events:
        by_category[d.category] = by_category.get(d.category, 0) + 1
    store.audit(user.name, "events.import", f"recording:{recording_id}",
                {"format": key, "file_sha256": result.file_sha256, "n": n,
                 "status": status.value, "n_warnings": len(result.warnings)})
    return ImportOutcome(recording_id, key, result.file_sha256, n, status.value, by_category,
                         list(result.warnings))


@contextmanager
def private_temp_dir(root: Path, prefix: str) -> Iterator[Path]:
    """A folder under ``root`` (created 0700) removed with everything in it afterwards.

    Exports and uploads hold patient-derived data, so they stay inside the data folder.
    """
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def safe_upload_name(name: str | None, fmt: str) -> str:
    """A file name for an upload in a private folder: ``upload`` + the format's suffix
    (for WFDB, the original letters-only extension, which tells ``.seizures`` files apart)."""
    key = resolve_format(fmt)
    if key == "wfdb":
        ext = (name or "").rpartition(".")[2]
        return f"upload.{ext if ext.isalpha() and ext.isascii() and len(ext) <= 16 else 'atr'}"
    return "upload" + FORMATS[key].suffix


from server.services.interchange_export import (  # noqa: E402 - re-exported; needs the above
    ExportOutcome,
    ExportSelection,
    audit_export,
    export_events_file,
    select_events,
    write_export,
)

__all__ = [
    "EXPORT_EXTRAS",
    "FORMAT_ALIASES",
    "MAX_EXPORT_EVENTS",
    "MEDIA_TYPES",
    "ExportOutcome",
    "ExportSelection",
    "ImportOptions",
    "ImportOutcome",
    "RecordingContext",
    "audit_export",
    "check_against_recording",
    "count_previous_imports",
    "export_events_file",
    "export_file_name",
    "import_events_file",
    "private_temp_dir",
    "recording_context",
    "resolve_format",
    "safe_upload_name",
    "select_events",
    "write_export",
]
