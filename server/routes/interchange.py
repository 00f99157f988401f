"""Import and export of a recording's events over HTTP.

``POST /api/recordings/{id}/import`` takes an annotation file (multipart field ``file``, or the
raw request body) and stores all its events or none; ``GET``/``POST
/api/recordings/{id}/export`` stream the selected events as a file. Formats and options:
``docs/import-export.md``. The glue lives in :mod:`server.services.interchange`.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from server.auth import current_user
from server.interchange._common import MAX_IMPORT_BYTES
from server.routes.events import store_of
from server.services.interchange import (
    MEDIA_TYPES,
    ExportSelection,
    ImportOptions,
    audit_export,
    export_file_name,
    import_events_file,
    private_temp_dir,
    recording_context,
    resolve_format,
    safe_upload_name,
    select_events,
    write_export,
)
from server.settings import Settings
from store import EventStatus, Permission, Store, User
from store.errors import ImportFormatError, InvalidEventError

#: Room for multipart framing around the largest file an import accepts.
MAX_UPLOAD_BYTES = MAX_IMPORT_BYTES + (1 << 20)
_CHUNK = 1 << 20


class ImportOut(msgspec.Struct, frozen=True):
    """What an import stored (all the file's events; nothing on error)."""

    recording_id: str
    format: str
    file_sha256: str
    n_events: int
    status: str
    n_by_category: dict[str, int]
    warnings: list[str]


class ExportIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An export of a selection: explicit ``event_ids`` and/or filters."""

    format: str
    event_ids: list[int] | None = None
    category: list[str] | None = None
    status: list[str] | None = None
    source: list[str] | None = None
    start_s: float = 0.0
    stop_s: float | None = None
    epoch_s: float | None = None


def _tmp_root(state: State) -> Path:
    settings: Settings = state.settings
    return settings.data_dir / "tmp"


def _split(values: list[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    out = tuple(v.strip() for item in values for v in item.split(",") if v.strip())
    return out or None


def _status(value: str) -> EventStatus:
    if value not in ("confirmed", "proposed"):
        raise InvalidEventError(f"status of imported events is 'confirmed' or 'proposed', "
                                f"not {value!r}")
    return EventStatus(value)


def _stream_file(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := handle.read(_CHUNK):
            yield chunk
    finally:
        handle.close()


def _export_response(store: Store, tmp_root: Path, user: User, recording_id: str, fmt: str,
                     selection: ExportSelection, epoch_s: float | None) -> Stream:
    user.require(Permission.EXPORT)
    key = resolve_format(fmt, export=True)
    ctx = recording_context(store, recording_id)
    events = select_events(store, recording_id, selection)
    name = export_file_name(recording_id, key)
    with private_temp_dir(tmp_root, "export-") as tmp:
        out = tmp / name
        write_export(events, ctx, key, out, epoch_s=epoch_s)
        handle = out.open("rb")  # stays readable after the folder is removed
    try:
        audit_export(store, user, recording_id, key, selection, len(events))
    except BaseException:
        handle.close()
        raise
    return Stream(
        _stream_file(handle), media_type=MEDIA_TYPES[key],
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "no-store", "X-Event-Count": str(len(events))},
    )


class InterchangeController(Controller):
    """Annotation files in and out of a recording."""

    path = "/api/recordings/{recording_id:str}"
    tags = ("import-export",)

    @post("/import", operation_id="importEvents", status_code=201,
          request_max_body_size=MAX_UPLOAD_BYTES)
    async def import_events(
        self,
        request: Request[Any, Any, Any],
        state: State,
        recording_id: FromPath[str],
        fmt: Annotated[str, QueryParameter(
            name="format", description="wfdb, edf, hypnogram, csv, tsv or parquet.")],
        status: Annotated[str, QueryParameter(
            description="confirmed (expert scoring) or proposed (to review).")] = "confirmed",
        epoch_s: Annotated[float | None, QueryParameter(
            gt=0, description="Hypnogram epoch, s (default: the study's).")] = None,
        codes: Annotated[str, QueryParameter(
            description="Hypnogram coding: auto, letters, dreams, rk, aasm.")] = "auto",
        onset_s: Annotated[float, QueryParameter(
            ge=0, description="Hypnogram: onset of the first epoch, s.")] = 0.0,
        category: Annotated[str, QueryParameter(
            description="BIDS TSV: category of rows without one.")] = "other",
        fs: Annotated[float | None, QueryParameter(
            gt=0, description="WFDB: rate of files declaring none, Hz.")] = None,
        allow_duplicate: Annotated[bool, QueryParameter(
            description="Import a file already imported into this recording.")] = False,
        filename: Annotated[str | None, QueryParameter(
            description="Original name of a raw-body upload (WFDB extension).")] = None,
    ) -> ImportOut:
        """Import an annotation file (multipart field ``file`` or the raw body): all its events
        or none (422 naming the line or field at fault)."""
        user = current_user(request)
        user.require(Permission.IMPORT)
        status_value = _status(status)
        resolve_format(fmt)
        options = ImportOptions(epoch_s=epoch_s, codes=codes, onset_s=onset_s,
                                default_category=category, fs=fs)
        store = store_of(state)
        with private_temp_dir(_tmp_root(state), "import-") as tmp:
            content_type, _ = request.content_type
            if content_type == RequestEncodingType.MULTI_PART:
                form = await request.form()
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    raise ImportFormatError("the multipart upload has no file field named "
                                            "'file'")
                shown = Path(upload.filename or "upload").name
                target = tmp / safe_upload_name(shown, fmt)
                await anyio.to_thread.run_sync(_copy_upload, upload, target)
            else:
                shown = Path(filename or "upload").name
                target = tmp / safe_upload_name(shown, fmt)
                with target.open("wb") as fh:
                    async for chunk in request.stream():
                        fh.write(chunk)
            outcome = await anyio.to_thread.run_sync(
                lambda: import_events_file(store, recording_id, target, fmt, user,
                                           status=status_value, options=options,
                                           allow_duplicate=allow_duplicate, file_name=shown))
        return ImportOut(**dataclasses.asdict(outcome))

    @get("/export", operation_id="exportEvents", sync_to_thread=True)
    def export_events(
        self,
        request: Request[Any, Any, Any],
        state: State,
        recording_id: FromPath[str],
        fmt: Annotated[str, QueryParameter(
            name="format",
            description="csv, tsv, tsv-sidecar, bids (zip), parquet, edf, wfdb, hypnogram.")],
        category: Annotated[list[str] | None, QueryParameter(
            description="Categories (repeat or comma-separate).")] = None,
        status: Annotated[list[str] | None, QueryParameter(
            description="Statuses; default all but rejected.")] = None,
        source: Annotated[list[str] | None, QueryParameter(
            description="detector/human/import.")] = None,
        start_s: Annotated[float, QueryParameter(description="Span start, s.")] = 0.0,
        stop_s: Annotated[float | None, QueryParameter(
            description="Span end (exclusive), s.")] = None,
        epoch_s: Annotated[float | None, QueryParameter(
            gt=0, description="Hypnogram epoch, s (default: the study's).")] = None,
    ) -> Stream:
        """Download the events matching the filters as a file named after the recording id."""
        selection = ExportSelection(
            categories=_split(category), statuses=_split(status), sources=_split(source),
            start_s=start_s, stop_s=math.inf if stop_s is None else stop_s)
        return _export_response(store_of(state), _tmp_root(state), current_user(request),
                                recording_id, fmt, selection, epoch_s)

    @post("/export", operation_id="exportSelection", sync_to_thread=True, status_code=200)
    def export_selection(
        self,
        request: Request[Any, Any, Any],
        state: State,
        recording_id: FromPath[str],
        data: JSONBody[ExportIn],
    ) -> Stream:
        """Download a selection (``event_ids`` and/or filters) as a file."""
        selection = ExportSelection(
            categories=_split(data.category), statuses=_split(data.status),
            sources=_split(data.source), start_s=data.start_s,
            stop_s=math.inf if data.stop_s is None else data.stop_s,
            event_ids=None if data.event_ids is None else tuple(data.event_ids))
        return _export_response(store_of(state), _tmp_root(state), current_user(request),
                                recording_id, data.format, selection, data.epoch_s)


def _copy_upload(upload: UploadFile, target: Path) -> None:
    upload.file.seek(0)
    with target.open("wb") as fh:
        shutil.copyfileobj(upload.file, fh, _CHUNK)


__all__ = ["ExportIn", "ImportOut", "InterchangeController"]
