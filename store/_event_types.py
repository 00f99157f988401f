"""Event value types shared by the event API, import/export and the server."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class EventStatus(enum.StrEnum):
    """Review state of an event."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    EDITED = "edited"
    REJECTED = "rejected"


class EventSource(enum.StrEnum):
    """Where an event came from."""

    DETECTOR = "detector"
    HUMAN = "human"
    IMPORT = "import"


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event to create (by a person, an import or a detector).

    Attributes
    ----------
    onset_s
        Seconds from the recording start, ``>= 0``.
    duration_s
        Seconds, ``>= 0`` (0 for instantaneous marks such as beats).
    label
        Label in the study's schema for ``category`` (any text for ``other``).
    category
        ``beat``, ``rhythm``, ``sleep_stage``, ``seizure``, ``spindle``, ``arousal``,
        ``artifact`` or ``other``.
    channels
        Channel indices the event concerns; empty means all channels.
    confidence
        In ``[0, 1]`` for detector proposals; ``None`` for human and imported events.
    import_ref
        For imports: provenance such as ``{"file_sha256": ..., "format": ..., "original_label":
        ...}``.
    """

    onset_s: float
    duration_s: float
    label: str
    category: str
    channels: tuple[int, ...] = ()
    confidence: float | None = None
    import_ref: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event.

    Attributes
    ----------
    event_id
        Unique id.
    recording_id
        The recording it belongs to.
    version
        Increases with every change; edits must name the version they were made on.
    Other attributes
        As in :class:`EventDraft` plus provenance and review state.
    """

    event_id: int
    recording_id: str
    onset_s: float
    duration_s: float
    label: str
    category: str
    channels: tuple[int, ...]
    source: EventSource
    status: EventStatus
    confidence: float | None
    run_id: int | None
    import_ref: dict[str, Any] | None
    schema_name: str
    schema_version: int
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    version: int
    deleted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_draft(self) -> EventDraft:
        """The event's values as a draft (for export/import round trips)."""
        return EventDraft(self.onset_s, self.duration_s, self.label, self.category,
                          self.channels, self.confidence, self.import_ref)
