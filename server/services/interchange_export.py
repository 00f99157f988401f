"""Export of a recording's events: selection by filters or ids, writing in any format, audit.

Part of :mod:`server.services.interchange` (which re-exports every name here).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.interchange import FORMATS, sidecar_path
from server.services.interchange import (
    MAX_EXPORT_EVENTS,
    RecordingContext,
    recording_context,
    resolve_format,
)
from store import Event, EventStatus, Permission, Store, User
from store.errors import (
    EventNotFoundError,
    InvalidEventError,
)


@dataclass(frozen=True, slots=True)
class ExportSelection:
    """Which events to export: filters, or an explicit list of event ids.

    Attributes
    ----------
    categories, statuses, sources
        Keep only these (``None``: any). Without ``statuses``, rejected events are left out.
    start_s, stop_s
        Events overlapping ``[start_s, stop_s)`` (seconds).
    event_ids
        Exactly these events of the recording (the filters still apply).
    """

    categories: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    start_s: float = 0.0
    stop_s: float = math.inf
    event_ids: tuple[int, ...] | None = None

    def describe(self) -> dict[str, Any]:
        """The selection as JSON-able values (for the audit log)."""
        out: dict[str, Any] = {}
        for name in ("categories", "statuses", "sources"):
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value)
        if self.start_s > 0:
            out["start_s"] = self.start_s
        if math.isfinite(self.stop_s):
            out["stop_s"] = self.stop_s
        if self.event_ids is not None:
            out["n_event_ids"] = len(self.event_ids)
        return out


def select_events(store: Store, recording_id: str, selection: ExportSelection) -> list[Event]:
    """The events a selection names, in onset order.

    Raises
    ------
    InvalidEventError
        Bad span, or more than :data:`MAX_EXPORT_EVENTS` events.
    EventNotFoundError
        An explicit event id is not a live event of the recording.
    """
    if math.isnan(selection.start_s) or math.isnan(selection.stop_s) or \
            selection.stop_s < selection.start_s or selection.start_s < 0:
        raise InvalidEventError(f"the span [{selection.start_s:g}, {selection.stop_s:g}) s is "
                                "not valid: 0 <= start_s <= stop_s")
    store.get_recording(recording_id)
    statuses: Sequence[str] | None = selection.statuses
    if statuses is None and selection.event_ids is None:
        statuses = [s.value for s in EventStatus if s is not EventStatus.REJECTED]
    found = store.list_events(recording_id, selection.start_s, selection.stop_s,
                              categories=selection.categories, statuses=statuses,
                              sources=selection.sources, limit=MAX_EXPORT_EVENTS + 1)
    if len(found) > MAX_EXPORT_EVENTS:
        raise InvalidEventError(f"the selection holds more than {MAX_EXPORT_EVENTS} events; "
                                "narrow it by category, status or span")
    if selection.event_ids is None:
        return found
    by_id = {e.event_id: e for e in found}
    missing = [i for i in selection.event_ids if i not in by_id]
    if missing:
        raise EventNotFoundError(missing[0])
    wanted = set(selection.event_ids)
    return [e for e in found if e.event_id in wanted]


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    """What an export wrote."""

    recording_id: str
    format: str
    path: Path
    n_events: int
    file_name: str


def write_export(events: Sequence[Event], ctx: RecordingContext, fmt: str, out: Path,
                 *, epoch_s: float | None = None) -> list[Path]:
    """Write ``events`` in ``fmt`` to ``out`` (BIDS TSV also writes its sidecar); return the
    files written.

    ``tsv-sidecar`` and ``bids`` write the TSV beside ``out`` in a private folder first.

    Raises
    ------
    ExportFormatError
    """
    context = ctx.export_context(epoch_s)
    if fmt in ("tsv-sidecar", "bids"):
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".bids-") as tmp:
            tsv = Path(tmp) / f"{ctx.recording_id}_events.tsv"
            FORMATS["bids-tsv"].exporter(events, tsv, context)
            side = sidecar_path(tsv)
            if fmt == "tsv-sidecar":
                shutil.move(side, out)
            else:
                part = out.with_name(f".{out.name}.part")
                with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                    zf.write(tsv, tsv.name)
                    zf.write(side, side.name)
                os.replace(part, out)
        return [out]
    FORMATS[fmt].exporter(events, out, context)
    return [out, sidecar_path(out)] if fmt == "bids-tsv" else [out]


def audit_export(store: Store, user: User, recording_id: str, fmt: str,
                 selection: ExportSelection, n: int) -> None:
    """Write the ``events.export`` audit entry (format, filters, row count)."""
    store.audit(user.name, "events.export", f"recording:{recording_id}",
                {"format": fmt, "filters": selection.describe(), "n": n})


def export_events_file(store: Store, recording_id: str, fmt: str, out: str | Path, user: User,
                       selection: ExportSelection | None = None, *,
                       epoch_s: float | None = None) -> ExportOutcome:
    """Select a recording's events, write them to ``out`` and audit the export.

    Raises
    ------
    PermissionDeniedError, ExportFormatError, InvalidEventError, EventNotFoundError
    """
    user.require(Permission.EXPORT)
    key = resolve_format(fmt, export=True)
    selection = selection or ExportSelection()
    ctx = recording_context(store, recording_id)
    events = select_events(store, recording_id, selection)
    path = Path(out)
    write_export(events, ctx, key, path, epoch_s=epoch_s)
    audit_export(store, user, recording_id, key, selection, len(events))
    return ExportOutcome(recording_id, key, path, len(events), path.name)


