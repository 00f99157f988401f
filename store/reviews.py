"""Review decisions on events: create, edit, confirm, reject, delete, batch, epoch scoring,
and server-side undo/redo.

Every decision is written together with its review row (previous and new values) and its
hash-chained audit entry, under the process write lock, and is durable when a method returns:
creation, confirm, reject, edit, delete and batch decisions through the decision log
(:mod:`store.decision_log`, one ``fdatasync``), undo and redo in one DuckDB transaction. A
batch is all or nothing either way. Edits name the event version the caller saw; a change made
by someone else in between is refused (:class:`~store.errors.StaleEditError`). Annotators may
change their own events and open proposals; changing others' events needs the reviewer role.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import duckdb

from store._event_types import Event, EventDraft, EventSource, EventStatus
from store.decision_log import LoggedDecision, ReviewRow
from store.errors import (
    InvalidEventError,
    NothingToUndoError,
    PermissionDeniedError,
    StaleEditError,
)
from store.events import EventsMixin, _same_content, _snapshot
from store.labels import Study
from store.users import Permission, User


class ReviewsMixin(EventsMixin):
    """The review workflow on top of :class:`store.events.EventsMixin`."""

    # ----------------------------------------------------------------- decisions
    def _may_change(self, user: User, e: Event) -> None:
        user.require(Permission.ANNOTATE)
        if user.can(Permission.ADJUDICATE):
            return
        own = e.created_by == user.name or e.updated_by == user.name
        open_proposal = e.source is not EventSource.HUMAN and e.status is EventStatus.PROPOSED
        if not (own or open_proposal):
            raise PermissionDeniedError(
                f"event {e.event_id} was made by {e.created_by!r} and last changed by "
                f"{e.updated_by!r}; changing others' events needs the reviewer role"
            )

    def _write_state(self, cur: duckdb.DuckDBPyConnection, e: Event, user: User) -> Event:
        """Store ``e`` (read in this transaction, then changed) as the event's next version.

        A plain UPDATE guarded by the version read; the new state is built here rather than
        read back (``RETURNING`` all columns cost ~2 ms more per decision at 5 M events).
        """
        now = self.audit_now()
        row = cur.execute(
            "UPDATE events SET onset_s = ?, duration_s = ?, label = ?, category = ?, "
            "channels = ?, status = ?, deleted = ?, updated_by = ?, updated_at = ?, "
            "version = version + 1 WHERE event_id = ? AND version = ?",
            [e.onset_s, e.duration_s, e.label, e.category, list(e.channels), e.status.value,
             e.deleted, user.name, now, e.event_id, e.version],
        ).fetchall()
        if not row or int(row[0][0]) != 1:
            current = self.get_event(e.event_id, cur, include_deleted=True)
            raise StaleEditError(e.event_id, e.version, current.version)
        return replace(e, version=e.version + 1, updated_by=user.name, updated_at=now)

    def _users_with_undone(self, cur: duckdb.DuckDBPyConnection) -> set[str]:
        """Users who may have undone decisions (a superset: never misses one).

        Kept in memory so a decision does not scan the whole review history to clear a redo
        stack that is almost always empty; changed only after commits.
        """
        users: set[str] | None = self.__dict__.get("_undone_users")
        if users is None:
            rows = cur.execute(
                "SELECT DISTINCT user_id FROM reviews WHERE undo_state = 'undone'").fetchall()
            users = self.__dict__.setdefault("_undone_users", {str(r[0]) for r in rows})
        return users

    def _log_review(self, cur: duckdb.DuckDBPyConnection, user: User, action: str,
                    before: Event, after: Event) -> None:
        """The review row (not an undoable decision) and audit entry of an undo or redo."""
        cur.execute(
            "INSERT INTO reviews VALUES (nextval('review_id_seq'), ?, ?, ?, ?, ?, ?, 'none')",
            [after.event_id, user.user_id, self.audit_now(), action,
             json.dumps(_snapshot(before)), json.dumps(_snapshot(after))],
        )
        self.append_audit(cur, user.name, f"event.{action}", f"event:{after.event_id}",
                          {"recording_id": after.recording_id, "version": after.version})

    def _log(self, user: User, logged: Sequence[LoggedDecision]) -> None:
        """Log the user's decisions; the first one ends their redo history, if they have one."""
        for d in logged:  # before logging: a fold may follow at once
            self._raise_longest_event(d.event.recording_id, d.event.duration_s, logged=True)
        undone = self._users_with_undone(self.cursor_without_fold())
        self.log_decisions(logged, ends_redo_of=user.user_id if user.user_id in undone
                           else None)
        undone.discard(user.user_id)

    @staticmethod
    def _logged(user: User, action: str, before: Event | None, after: Event,
                now: datetime) -> LoggedDecision:
        """``after`` with its review row and audit entry, as the decision log takes them."""
        return LoggedDecision(
            after,
            ReviewRow(user.user_id, now, action,
                      None if before is None else json.dumps(_snapshot(before)),
                      json.dumps(_snapshot(after))),
            user.name, f"event.{action}", f"event:{after.event_id}",
            {"recording_id": after.recording_id, "version": after.version},
            channels_changed=before is None or after.channels != before.channels,
            created=before is None)

    def _decide(self, event_id: int, user: User, expected_version: int | None, action: str,
                **changes: Any) -> Event:
        return self._decide_many([event_id], user, action, expected_version, **changes)[0]

    def _decide_many(self, event_ids: Sequence[int], user: User, action: str,
                     expected_version: int | None = None, **changes: Any) -> list[Event]:
        """Check and make the same decision on each event, all or nothing.

        Decisions go to the decision log (:mod:`store.decision_log`): durable on return, in
        DuckDB at the next fold.
        """
        with self.write_lock:
            now = self.audit_now()
            cur = self.cursor_without_fold()
            logged: list[LoggedDecision] = []
            seen: dict[int, Event] = {}
            for event_id in event_ids:
                before = seen.get(event_id) or self.get_event(event_id)
                after = self._decided(before, user, action, expected_version, changes, now, cur)
                seen[event_id] = after
                logged.append(self._logged(user, action, before, after, now))
            self._log(user, logged)
        return [d.event for d in logged]

    def _decided(self, before: Event, user: User, action: str, expected_version: int | None,
                 changes: dict[str, Any], now: datetime, cur: duckdb.DuckDBPyConnection
                 ) -> Event:
        """The event after ``action``, once the version, permission and values are checked."""
        if expected_version is not None and before.version != expected_version:
            raise StaleEditError(before.event_id, expected_version, before.version)
        self._may_change(user, before)
        target = replace(before, **changes)
        if action == "edit":
            draft = EventDraft(target.onset_s, target.duration_s, target.label,
                               target.category, target.channels)
            self._validate(cur, before.recording_id,
                           Study("", "", before.schema_name, before.schema_version, 30.0),
                           [draft])
        return replace(target, version=before.version + 1, updated_by=user.name,
                       updated_at=now)

    def create_event(self, recording_id: str, draft: EventDraft, user: User) -> Event:
        """Create a human event (status confirmed) and return it.

        Logged like a decision (:mod:`store.decision_log`), with an id reserved from the event
        sequence.

        Raises
        ------
        RecordingNotFoundError, InvalidEventError, UnknownLabelError, PermissionDeniedError
        """
        user.require(Permission.ANNOTATE)
        with self.write_lock:
            cur = self.cursor_without_fold()
            study = self.study_of(recording_id, cur)
            self._validate(cur, recording_id, study, [draft])
            now = self.audit_now()
            event = Event(
                event_id=self.reserve_event_id(), recording_id=recording_id,
                onset_s=float(draft.onset_s), duration_s=float(draft.duration_s),
                label=draft.label, category=draft.category,
                channels=tuple(int(c) for c in draft.channels), source=EventSource.HUMAN,
                status=EventStatus.CONFIRMED, confidence=draft.confidence, run_id=None,
                import_ref=draft.import_ref, schema_name=study.schema_name,
                schema_version=study.schema_version, created_by=user.name, created_at=now,
                updated_by=user.name, updated_at=now, version=1)
            self._log(user, [self._logged(user, "create", None, event, now)])
        return event

    def edit_event(self, event_id: int, user: User, expected_version: int | None, *,
                   onset_s: float | None = None, duration_s: float | None = None,
                   label: str | None = None, channels: Sequence[int] | None = None,
                   category: str | None = None) -> Event:
        """Change an event's values; its status becomes ``edited``.

        Raises
        ------
        StaleEditError, EventNotFoundError, InvalidEventError, UnknownLabelError,
        PermissionDeniedError
        """
        changes: dict[str, Any] = {"status": EventStatus.EDITED}
        for name, value in (("onset_s", onset_s), ("duration_s", duration_s),
                            ("label", label), ("category", category)):
            if value is not None:
                changes[name] = value
        if channels is not None:
            changes["channels"] = tuple(int(c) for c in channels)
        return self._decide(event_id, user, expected_version, "edit", **changes)

    def confirm_event(self, event_id: int, user: User,
                      expected_version: int | None = None) -> Event:
        """Confirm an event."""
        return self._decide(event_id, user, expected_version, "confirm",
                            status=EventStatus.CONFIRMED)

    def reject_event(self, event_id: int, user: User,
                     expected_version: int | None = None) -> Event:
        """Reject an event (kept, hidden by default in the viewer)."""
        return self._decide(event_id, user, expected_version, "reject",
                            status=EventStatus.REJECTED)

    def delete_event(self, event_id: int, user: User,
                     expected_version: int | None = None) -> Event:
        """Delete an event (a flag: the row and its history stay)."""
        return self._decide(event_id, user, expected_version, "delete", deleted=True)

    def decide_many(self, event_ids: Sequence[int], action: str, user: User) -> list[Event]:
        """Confirm or reject a selection at once (all or nothing)."""
        if action not in ("confirm", "reject"):
            raise InvalidEventError(f"batch action must be confirm or reject, not {action!r}")
        status = EventStatus.CONFIRMED if action == "confirm" else EventStatus.REJECTED
        return self._decide_many(event_ids, user, action, status=status)

    def set_epoch_stage(self, recording_id: str, onset_s: float, epoch_s: float, label: str,
                        user: User) -> Event:
        """Score one sleep epoch for ``user``: relabel their stage, take up a proposal, or create.

        Scorers work independently: the user's own stage event for the epoch (created by them,
        or a proposal they decided) is relabelled; otherwise an open proposal is confirmed (same
        label) or edited (other label) and becomes theirs; otherwise a new stage event of theirs
        is created. Other scorers' stages are never touched, so several people can score the
        same night and be compared (:mod:`store.agreement`).
        """
        candidates = [
            e for e in self.list_events(recording_id, onset_s, onset_s + epoch_s,
                                        categories=["sleep_stage"])
            if abs(e.onset_s - onset_s) < 1e-3
        ]
        own = [e for e in candidates if e.status is not EventStatus.PROPOSED and (
            e.created_by == user.name if e.source is EventSource.HUMAN
            else e.updated_by == user.name)]
        if own:
            e = own[0]
            if e.label == label and e.status is not EventStatus.REJECTED:
                return e
            return self.edit_event(e.event_id, user, e.version, label=label)
        proposals = [e for e in candidates if e.status is EventStatus.PROPOSED]
        if proposals:
            e = proposals[0]
            if e.label == label:
                return self.confirm_event(e.event_id, user, e.version)
            return self.edit_event(e.event_id, user, e.version, label=label)
        return self.create_event(
            recording_id, EventDraft(onset_s, epoch_s, label, "sleep_stage"), user)

    # ----------------------------------------------------------------- undo / redo
    def _undo_redo(self, user: User, redo: bool) -> Event:
        state = "undone" if redo else "active"
        with self.write_lock:
            with self.transaction() as cur:
                # Undo takes the newest active decision; the undone ones then form a suffix
                # of the user's history, so redo takes the oldest undone one.
                order = "ASC" if redo else "DESC"
                row = cur.execute(
                    "SELECT review_id, event_id, previous, new FROM reviews WHERE user_id = ? "
                    f"AND undo_state = ? ORDER BY review_id {order} LIMIT 1", [user.user_id, state]
                ).fetchone()
                if row is None:
                    raise NothingToUndoError(
                        f"{user.name!r} has no decision to {'redo' if redo else 'undo'}")
                review_id, event_id, previous, new = row
                current = self.get_event(int(event_id), cur, include_deleted=True)
                expect = json.loads(previous if redo else new) if (previous if redo else new) \
                    else None
                goal = json.loads(new if redo else previous) if (new if redo else previous) \
                    else None
                if expect is not None and not _same_content(current, expect):
                    raise StaleEditError(int(event_id), int(expect["version"]), current.version)
                target = replace(current, deleted=True) if goal is None else replace(
                    current, onset_s=goal["onset_s"], duration_s=goal["duration_s"],
                    label=goal["label"], category=goal["category"],
                    channels=tuple(goal["channels"]), status=EventStatus(goal["status"]),
                    deleted=goal["deleted"])
                after = self._write_state(cur, target, user)
                self.on_commit(lambda: self._raise_longest_event(after.recording_id,
                                                                 after.duration_s))
                cur.execute("UPDATE reviews SET undo_state = ? WHERE review_id = ?",
                            ["active" if redo else "undone", review_id])
                if not redo:
                    undone = self._users_with_undone(cur)
                    self.on_commit(lambda: undone.add(user.user_id))
                self._log_review(cur, user, "redo" if redo else "undo", current, after)
            self.write_audit_anchor()
        return after

    def undo(self, user: User) -> Event:
        """Undo the user's last decision that is not undone yet.

        Raises
        ------
        NothingToUndoError
            No decision left to undo.
        StaleEditError
            Someone changed the event since; the undo would overwrite their change.
        """
        return self._undo_redo(user, redo=False)

    def redo(self, user: User) -> Event:
        """Redo the user's last undone decision (until they make a new decision)."""
        return self._undo_redo(user, redo=True)
