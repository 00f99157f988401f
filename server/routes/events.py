"""Events API: window queries for overlays, creation, review decisions, undo/redo, review queue,
sleep scoring and statistics. Detector runs and statistics are in :mod:`server.routes.detectors`.

Every write goes through the store, which makes it durable with its review row and a
hash-chained audit entry before the handler answers (a DuckDB commit, or for review decisions
the decision log's ``fdatasync``): a 200 means the decision survives a crash. See
``docs/events-and-review.md``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from server.auth import current_user
from server.routes.recordings import catalog_of
from server.services.sleep_stats import STAGES, compute_sleep_stats, hypnogram_from_epochs
from store import Event, EventDraft, EventStatus, Store
from store.errors import InvalidEventError

MAX_EVENTS_PER_REQUEST = 50_000


# ---------------------------------------------------------------------------- wire structs
class EventOut(msgspec.Struct, frozen=True):
    """A stored event. Times in seconds from the recording start; ``version`` for edits."""

    event_id: FromPath[int]
    recording_id: FromPath[str]
    onset_s: float
    duration_s: float
    label: str
    category: str
    channels: list[int]
    source: str
    status: str
    confidence: float | None
    run_id: int | None
    schema_name: str
    schema_version: int
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    version: int
    deleted: bool = False


class EventListOut(msgspec.Struct, frozen=True):
    """Events overlapping ``[start_s, stop_s)`` in onset order (``truncated`` past the limit)."""

    recording_id: FromPath[str]
    start_s: float
    stop_s: float | None
    events: list[EventOut]
    truncated: bool


class EventCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A new human event; ``channels`` empty means all channels."""

    onset_s: float
    label: str
    category: str
    duration_s: float = 0.0
    channels: list[int] = []


class EventEdit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Changes to an event, made on ``version`` (409 when the event moved on since)."""

    version: int
    onset_s: float | None = None
    duration_s: float | None = None
    label: str | None = None
    category: str | None = None
    channels: list[int] | None = None


class DecisionIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Optional body of confirm/reject/delete: the version the decision was made on."""

    version: int | None = None


class BatchDecisionIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Confirm or reject many events at once (all or nothing)."""

    event_ids: list[int]
    action: str


class EventBatchOut(msgspec.Struct, frozen=True):
    """The events after a batch decision."""

    events: list[EventOut]


class ReviewQueueOut(msgspec.Struct, frozen=True):
    """Proposed events, least confident first."""

    recording_id: FromPath[str]
    run_id: int | None
    events: list[EventOut]
    truncated: bool


class NextEventOut(msgspec.Struct, frozen=True):
    """The next event of a review queue, ``None`` when the queue is done."""

    event: EventOut | None
    remaining: int


class EpochStageIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The stage of one scoring epoch (``W``, ``N1``, ``N2``, ``N3``, ``R`` or ``?``)."""

    stage: str


class SleepStatsOut(msgspec.Struct, frozen=True):
    """Sleep statistics from confirmed/edited stage events (minutes; see the docs)."""

    recording_id: FromPath[str]
    epoch_s: float
    n_epochs_scored: int
    tib_min: float
    tst_min: float
    sleep_efficiency_pct: float | None
    sol_min: float | None
    rem_latency_min: float | None
    waso_min: float
    n_awakenings: int
    unscored_in_sleep_period_min: float
    stage_min: dict[str, float]
    stage_pct_of_tst: dict[str, float | None]


# ---------------------------------------------------------------------------- helpers
def event_out(e: Event) -> EventOut:
    """The wire form of a stored event."""
    return EventOut(
        event_id=e.event_id,
        recording_id=e.recording_id,
        onset_s=e.onset_s,
        duration_s=e.duration_s,
        label=e.label,
        category=e.category,
        channels=list(e.channels),
        source=e.source.value,
        status=e.status.value,
        confidence=e.confidence,
        run_id=e.run_id,
        schema_name=e.schema_name,
        schema_version=e.schema_version,
        created_by=e.created_by,
        created_at=e.created_at.isoformat(),
        updated_by=e.updated_by,
        updated_at=e.updated_at.isoformat(),
        version=e.version,
        deleted=e.deleted,
    )


def store_of(state: State) -> Store:
    """The store the lifespan put on ``app.state``."""
    store: Store = state.store
    return store


def _split(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return out or None


def _check_span(start_s: float, stop_s: float) -> None:
    if math.isnan(start_s) or math.isnan(stop_s) or stop_s < start_s:
        raise InvalidEventError(
            f"stop_s ({stop_s:g}) must be a number not below start_s ({start_s:g})"
        )


# ---------------------------------------------------------------------------- controllers
class RecordingEventsController(Controller):
    """Events of one recording."""

    path = "/api/recordings/{recording_id:str}"
    tags = ("events",)

    @get("/events", operation_id="listEvents", sync_to_thread=True)
    def list_events(
        self,
        state: State,
        recording_id: FromPath[str],
        start_s: Annotated[float, QueryParameter(description="Span start, s.")] = 0.0,
        stop_s: Annotated[float, QueryParameter(description="Span end (exclusive), s.")] = math.inf,
        category: Annotated[
            list[str] | None, QueryParameter(description="Categories (repeat or comma-separate).")
        ] = None,
        status: Annotated[
            list[str] | None, QueryParameter(description="Statuses; default all but rejected.")
        ] = None,
        source: Annotated[
            list[str] | None, QueryParameter(description="detector/human/import.")
        ] = None,
        channel: Annotated[
            int | None,
            QueryParameter(description="Only events on this channel (or on all channels)."),
        ] = None,
        include_rejected: Annotated[
            bool, QueryParameter(description="Also return rejected events.")
        ] = False,
        limit: Annotated[
            int,
            QueryParameter(ge=1, le=MAX_EVENTS_PER_REQUEST, description="Most events returned."),
        ] = MAX_EVENTS_PER_REQUEST,
    ) -> EventListOut:
        """Events overlapping ``[start_s, stop_s)`` in onset order, for the viewer's overlays."""
        _check_span(start_s, stop_s)
        store = store_of(state)
        catalog_of(state).row(recording_id)  # cached registry row; 404 if unknown
        statuses = _split(status)
        if statuses is None and not include_rejected:
            statuses = [s.value for s in EventStatus if s is not EventStatus.REJECTED]
        found = store.list_events(
            recording_id,
            start_s,
            stop_s,
            categories=_split(category),
            statuses=statuses,
            sources=_split(source),
            channel=channel,
            limit=limit + 1,
        )
        return EventListOut(
            recording_id=recording_id,
            start_s=start_s,
            stop_s=stop_s if math.isfinite(stop_s) else None,
            events=[event_out(e) for e in found[:limit]],
            truncated=len(found) > limit,
        )

    @post("/events", operation_id="createEvent", sync_to_thread=True, status_code=201)
    def create_event(
        self,
        state: State,
        request: Request[Any, Any, Any],
        recording_id: FromPath[str],
        data: JSONBody[EventCreate],
    ) -> EventOut:
        """Create a human event (status ``confirmed``)."""
        draft = EventDraft(
            data.onset_s, data.duration_s, data.label, data.category, tuple(data.channels)
        )
        return event_out(store_of(state).create_event(recording_id, draft, current_user(request)))

    @get("/review-queue", operation_id="getReviewQueue", sync_to_thread=True)
    def review_queue(
        self,
        state: State,
        recording_id: FromPath[str],
        run_id: Annotated[int | None, QueryParameter(description="Only this detector run.")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_EVENTS_PER_REQUEST)] = 1000,
    ) -> ReviewQueueOut:
        """Proposed events, least confident first (ties by onset)."""
        store = store_of(state)
        catalog_of(state).row(recording_id)  # cached registry row; 404 if unknown
        found = store.review_queue(recording_id, run_id, limit + 1)
        return ReviewQueueOut(
            recording_id=recording_id,
            run_id=run_id,
            events=[event_out(e) for e in found[:limit]],
            truncated=len(found) > limit,
        )

    @get("/review-queue/next", operation_id="getNextInReviewQueue", sync_to_thread=True)
    def next_in_queue(
        self,
        state: State,
        recording_id: FromPath[str],
        run_id: Annotated[int | None, QueryParameter(description="Only this detector run.")] = None,
        after: Annotated[
            int | None,
            QueryParameter(description="Skip past this event (when it stays undecided)."),
        ] = None,
    ) -> NextEventOut:
        """The next proposal to review: the head of the queue, or the one after ``after``."""
        store = store_of(state)
        catalog_of(state).row(recording_id)  # cached registry row; 404 if unknown
        queue = store.review_queue(recording_id, run_id, MAX_EVENTS_PER_REQUEST)
        pos = 0
        if after is not None:
            ids = [e.event_id for e in queue]
            pos = ids.index(after) + 1 if after in ids else 0
        rest = queue[pos:]
        return NextEventOut(event=event_out(rest[0]) if rest else None, remaining=len(rest))

    @put("/epochs/{index:int}", operation_id="scoreEpoch", sync_to_thread=True)
    def score_epoch(
        self,
        state: State,
        request: Request[Any, Any, Any],
        recording_id: FromPath[str],
        index: FromPath[int],
        data: JSONBody[EpochStageIn],
    ) -> EventOut:
        """Score one epoch of the study's epoch length: confirm, relabel or create its stage."""
        store = store_of(state)
        row = store.get_recording(recording_id)
        epoch_s = store.study_of(recording_id).epoch_s
        if index < 0 or index * epoch_s >= row.duration_s:
            raise InvalidEventError(
                f"epoch {index} is outside the recording (epochs 0.."
                f"{max(math.ceil(row.duration_s / epoch_s) - 1, 0)} of {epoch_s:g} s)"
            )
        onset = index * epoch_s
        length = min(epoch_s, row.duration_s - onset)
        return event_out(
            store.set_epoch_stage(recording_id, onset, length, data.stage, current_user(request))
        )

    @get("/sleep-stats", operation_id="getSleepStats", sync_to_thread=True)
    def sleep_stats(
        self,
        state: State,
        request: Request[Any, Any, Any],
        recording_id: FromPath[str],
        scored_by: Annotated[str | None, QueryParameter(
            description="whose stages: 'me', a user name, or 'consensus' (adjudicated or "
            "unanimous epochs); default: the latest confirmed or edited stage of each epoch, "
            "whoever scored it")] = None,
    ) -> SleepStatsOut:
        """TST, sleep efficiency, latencies, WASO and stage minutes from reviewed stages."""
        store = store_of(state)
        row = store.get_recording(recording_id)
        epoch_s = store.study_of(recording_id).epoch_s
        labels: dict[int, str]
        if scored_by is None:
            stages = store.list_events(
                recording_id,
                categories=["sleep_stage"],
                statuses=["confirmed", "edited"],
                limit=MAX_EVENTS_PER_REQUEST * 4,
            )
            latest: dict[int, Event] = {}
            for e in stages:
                i = round(e.onset_s / epoch_s)
                if i not in latest or e.updated_at >= latest[i].updated_at:
                    latest[i] = e
            labels = {i: e.label for i, e in latest.items()}
        elif scored_by == "consensus":
            labels = {i: lab for i, lab in store.stage_consensus(recording_id).items()
                      if lab is not None}
        else:
            name = current_user(request).name if scored_by == "me" else scored_by
            _, scorings = store.stage_scorings(recording_id)
            labels = scorings.get(name, {})
        hyp = hypnogram_from_epochs(
            {i: lab for i, lab in labels.items() if lab in STAGES or lab == "?"},
            math.ceil(row.duration_s / epoch_s - 1e-9) if labels else None,
        )
        s = compute_sleep_stats(hyp, epoch_s)
        return SleepStatsOut(recording_id=recording_id, **dataclasses.asdict(s))

class EventsController(Controller):
    """One event: read, edit, decide, delete; batch decisions; undo/redo."""

    path = "/api"
    tags = ("events",)

    @get("/events/{event_id:int}", operation_id="getEvent", sync_to_thread=True)
    def get_event(self, state: State, event_id: FromPath[int]) -> EventOut:
        """One event by id."""
        return event_out(store_of(state).get_event(event_id))

    @patch("/events/{event_id:int}", operation_id="editEvent", sync_to_thread=True)
    def edit_event(
        self,
        state: State,
        request: Request[Any, Any, Any],
        event_id: FromPath[int],
        data: JSONBody[EventEdit],
    ) -> EventOut:
        """Change an event made on ``version``; its status becomes ``edited`` (409 if stale)."""
        return event_out(
            store_of(state).edit_event(
                event_id,
                current_user(request),
                data.version,
                onset_s=data.onset_s,
                duration_s=data.duration_s,
                label=data.label,
                channels=data.channels,
                category=data.category,
            )
        )

    @post(
        "/events/{event_id:int}/confirm",
        operation_id="confirmEvent",
        sync_to_thread=True,
        status_code=200,
    )
    def confirm_event(
        self,
        state: State,
        request: Request[Any, Any, Any],
        event_id: FromPath[int],
        data: JSONBody[DecisionIn | None] = None,
    ) -> EventOut:
        """Confirm an event (optionally only if still at ``version``)."""
        version = None if data is None else data.version
        return event_out(store_of(state).confirm_event(event_id, current_user(request), version))

    @post(
        "/events/{event_id:int}/reject",
        operation_id="rejectEvent",
        sync_to_thread=True,
        status_code=200,
    )
    def reject_event(
        self,
        state: State,
        request: Request[Any, Any, Any],
        event_id: FromPath[int],
        data: JSONBody[DecisionIn | None] = None,
    ) -> EventOut:
        """Reject an event (kept, hidden from overlays unless ``include_rejected``)."""
        version = None if data is None else data.version
        return event_out(store_of(state).reject_event(event_id, current_user(request), version))

    @delete(
        "/events/{event_id:int}", operation_id="deleteEvent", sync_to_thread=True, status_code=200
    )
    def delete_event(
        self,
        state: State,
        request: Request[Any, Any, Any],
        event_id: FromPath[int],
        version: Annotated[
            int | None, QueryParameter(description="Only if the event is still at it.")
        ] = None,
    ) -> EventOut:
        """Delete an event (a flag; history stays and the deletion can be undone)."""
        return event_out(store_of(state).delete_event(event_id, current_user(request), version))

    @post("/events/batch", operation_id="decideEvents", sync_to_thread=True, status_code=200)
    def decide_events(
        self, state: State, request: Request[Any, Any, Any], data: JSONBody[BatchDecisionIn]
    ) -> EventBatchOut:
        """Confirm or reject a selection in one transaction (all or nothing)."""
        if not data.event_ids:
            raise InvalidEventError("event_ids must name at least one event")
        if len(data.event_ids) > MAX_EVENTS_PER_REQUEST:
            raise InvalidEventError(
                f"at most {MAX_EVENTS_PER_REQUEST} events per batch; got {len(data.event_ids)}"
            )
        out = store_of(state).decide_many(data.event_ids, data.action, current_user(request))
        return EventBatchOut(events=[event_out(e) for e in out])

    @post("/undo", operation_id="undoDecision", sync_to_thread=True, status_code=200)
    def undo(self, state: State, request: Request[Any, Any, Any]) -> EventOut:
        """Undo the caller's own last decision (409 when none, or when someone changed the
        event since)."""
        return event_out(store_of(state).undo(current_user(request)))

    @post("/redo", operation_id="redoDecision", sync_to_thread=True, status_code=200)
    def redo(self, state: State, request: Request[Any, Any, Any]) -> EventOut:
        """Redo the caller's last undone decision (until they make a new one)."""
        return event_out(store_of(state).redo(current_user(request)))

__all__ = [
    "BatchDecisionIn",
    "DecisionIn",
    "EpochStageIn",
    "EventCreate",
    "EventEdit",
    "EventListOut",
    "EventOut",
    "EventsController",
    "RecordingEventsController",
    "event_out",
]
