"""The one place that maps errors to HTTP: RFC 9457 problem details (``application/problem+json``).

Every error class of every layer (:mod:`signal_io.errors`, :mod:`store.errors`,
:mod:`server.errors`, the detector registry) has an entry in :data:`PROBLEMS` giving its HTTP
status and a short title. A test walks every subclass of each layer's base error and fails when
one has no entry here. Litestar's own HTTP exceptions (validation errors, unknown routes) keep
their status. Anything else is a bug: it is logged with its traceback and answered with a 500
whose body says nothing about the code.

The body is ``{"type", "title", "status", "detail"}`` plus ``"setting"`` when a configurable
limit was hit (the ``WAVESCORE_*`` variable that raises it).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

import signal_io.errors as sio
import store.errors as st
from detectors.registry import UnknownDetectorError
from server import errors as srv
from server.wire import ProblemOut

logger = logging.getLogger("wavescore.server")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:wavescore:problem:"


@dataclass(frozen=True, slots=True)
class Problem:
    """HTTP status and title of one error class."""

    status: int
    title: str


#: Status and title per error class. Every subclass of a layer's base error must appear.
PROBLEMS: dict[type[BaseException], Problem] = {
    # server
    srv.ServerError: Problem(400, "Bad request"),
    srv.WindowLimitError: Problem(400, "Window exceeds a limit"),
    srv.ServiceUnhealthyError: Problem(503, "Service unhealthy"),
    srv.InvalidWindowError: Problem(400, "Invalid window bounds"),
    srv.InvalidFilterError: Problem(400, "Invalid display filter"),
    srv.UnknownRecordingError: Problem(404, "Recording not found"),
    srv.UnknownChannelError: Problem(404, "Channel not found"),
    srv.DetectorParamsError: Problem(422, "Invalid detector parameters"),
    srv.NoSuitableChannelsError: Problem(422, "No channel the detector can use"),
    # signal_io
    sio.SignalIOError: Problem(500, "Signal error"),
    sio.RecordingNotFoundError: Problem(404, "Recording file not found"),
    sio.UnreadablePathError: Problem(500, "Stored recording unreadable"),
    sio.UnsupportedFormatError: Problem(415, "Unsupported recording format"),
    sio.CorruptRecordingError: Problem(422, "Corrupt recording"),
    sio.ChannelNotFoundError: Problem(404, "Channel not found"),
    sio.SampleRangeError: Problem(400, "Sample range out of bounds"),
    sio.IngestError: Problem(500, "Ingest failed"),
    sio.PyramidError: Problem(400, "Invalid envelope request"),
    # store
    st.StoreError: Problem(500, "Store error"),
    st.DatabaseLockedError: Problem(503, "Database in use"),
    st.DatabaseOpenError: Problem(503, "Database unavailable"),
    st.MigrationError: Problem(500, "Database migration failed"),
    st.SchemaTooNewError: Problem(500, "Database schema too new"),
    st.RecordingNotFoundError: Problem(404, "Recording not found"),
    st.DuplicateRecordingError: Problem(409, "Recording already registered"),
    st.EventNotFoundError: Problem(404, "Event not found"),
    st.InvalidEventError: Problem(422, "Invalid event"),
    st.UnknownLabelError: Problem(422, "Unknown label"),
    st.StaleEditError: Problem(409, "Event changed since it was loaded"),
    st.NothingToUndoError: Problem(409, "Nothing to undo"),
    st.UserExistsError: Problem(409, "User already exists"),
    st.UserNotFoundError: Problem(404, "User not found"),
    st.AuthenticationError: Problem(401, "Not authenticated"),
    st.PermissionDeniedError: Problem(403, "Permission denied"),
    st.SqlRefusedError: Problem(400, "SQL refused"),
    st.SqlTimeoutError: Problem(408, "SQL timed out"),
    st.SqlFailedError: Problem(422, "SQL failed"),
    st.AuditTamperedError: Problem(500, "Audit log does not verify"),
    st.DecisionLogCorruptError: Problem(500, "Decision log damaged"),
    st.ImportFormatError: Problem(422, "Malformed annotation file"),
    st.ExportFormatError: Problem(422, "Events cannot be written in this format"),
    # detectors
    UnknownDetectorError: Problem(404, "Detector not found"),
}

def _slug(cls: type[BaseException]) -> str:
    name = cls.__name__.removesuffix("Error").removesuffix("Exception")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem_for(exc: BaseException) -> ProblemOut:
    """Return the problem-details body for ``exc`` (the nearest mapped class in its MRO)."""
    if isinstance(exc, HTTPException):
        status = exc.status_code
        detail = str(exc.detail)
        if isinstance(exc, ValidationException) and exc.extra:
            detail = f"{detail}: {_describe_validation(exc.extra)}"
        title = "Invalid request" if isinstance(exc, ValidationException) else _title(status)
        return ProblemOut(
            type=TYPE_PREFIX + _slug(type(exc)), title=title, status=status, detail=detail
        )
    for cls in type(exc).__mro__:
        problem = PROBLEMS.get(cls)
        if problem is not None:
            detail = getattr(exc, "detail", None) or str(exc)
            setting = getattr(exc, "setting", None)
            return ProblemOut(
                type=TYPE_PREFIX + _slug(cls), title=problem.title, status=problem.status,
                detail=str(detail), setting=setting if isinstance(setting, str) else None,
            )
    return ProblemOut(
        type=TYPE_PREFIX + "internal", title="Internal server error", status=500,
        detail="The server hit an unexpected error; it has been logged.",
    )


def _describe_validation(extra: object) -> str:
    if isinstance(extra, list):
        parts = []
        for item in extra:
            if isinstance(item, dict):
                key = item.get("key") or item.get("source") or ""
                parts.append(f"{key}: {item.get('message', '')}".strip(": "))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(extra)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Litestar exception handler: answer any exception with ``application/problem+json``."""
    body = problem_for(exc)
    if body.status >= 500:
        logger.error(
            "%s %s failed: %s", request.method, request.url.path, type(exc).__name__,
            exc_info=exc,
        )
    headers = {}
    if body.status == 405 and isinstance(exc, HTTPException) and exc.headers:
        headers.update(exc.headers)
    return Response(
        content=msgspec.json.encode(body),
        status_code=body.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


#: Pass as ``exception_handlers`` to :class:`litestar.Litestar`.
EXCEPTION_HANDLERS = {Exception: problem_response}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEMS",
    "PROBLEM_MEDIA_TYPE",
    "Problem",
    "problem_for",
    "problem_response",
]
