"""The decision log: review decisions made durable in a journal, folded into DuckDB in batches.

A review decision (create, confirm, reject, edit, delete) writes one event row, one review row
and one audit entry. Written straight to DuckDB that is four statements and a commit, several
milliseconds each time. Here the decision is instead appended to a journal beside the database
(``<db>.decision-log``, see :mod:`store._journal`) and synced to disk before the call returns,
so an acknowledged decision survives a crash; the same goes for audit entries written alone
(views of a recording, exports, researcher SQL).

Pending writes are folded into DuckDB (created events inserted, changed event rows updated,
the review and audit rows inserted) in one transaction, then the journal is emptied:

- by a background thread every :attr:`DecisionLogMixin.flush_interval_s` seconds;
- at once when :attr:`DecisionLogMixin.flush_after_writes` writes are pending;
- before anything else reads or writes the database: :meth:`DecisionLogMixin.cursor` folds
  first, so every query, researcher SQL included, sees every acknowledged decision;
- when the store closes, and on the next open after a crash (:meth:`recover_decision_log`).

Only the hot review reads skip the fold: :meth:`pending_event` and
:meth:`pending_events_of` give the pending states, which :mod:`store.events` lays over what
DuckDB returns (the events read that way are the only rows a decision changes).

Each journal record carries its audit entry, whose sequence number says whether the record is
already in DuckDB: recovery applies the records beyond the newest audit entry, so a crash
between the DuckDB commit and emptying the journal applies nothing twice.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from store._db import reserve_ids
from store._event_types import Event
from store._journal import Journal
from store.audit import GENESIS_HASH, AuditEntry, AuditMixin, audit_row
from store.errors import DecisionLogCorruptError, StoreError

logger = logging.getLogger(__name__)

_EVENT_STATE_FIELDS = ("event_id", "recording_id", "onset_s", "duration_s", "label", "category",
                       "channels", "status", "deleted", "updated_by", "updated_at", "version")


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One ``reviews`` row to log (``review_id`` is given when it is folded into DuckDB).

    Attributes
    ----------
    user_id, decided_at, action, undo_state
        As in the ``reviews`` table.
    previous, new
        The event's values before and after, as JSON text (``previous`` None for a creation).
    """

    user_id: str
    decided_at: datetime
    action: str
    previous: str | None
    new: str
    undo_state: str = "active"


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """A decision to log: the event's new state, its review row and its audit entry's content.

    Attributes
    ----------
    event
        The event after the decision (its ``version`` one more than before).
    review
        The review row.
    user_name, action, target, detail
        The audit entry's content (its sequence number and hash are chained when logged).
    channels_changed
        Whether the decision changed the event's channels (folding a list column costs
        several times the other columns, so it is written only when needed).
    created
        The decision creates ``event`` (its id reserved by the caller): the fold inserts it.
    """

    event: Event
    review: ReviewRow
    user_name: str
    action: str
    target: str
    detail: dict[str, Any]
    channels_changed: bool = True
    created: bool = False


@dataclass(frozen=True, slots=True)
class DecisionLogStatus:
    """State of the decision log, for health checks.

    Attributes
    ----------
    pending
        Writes durable in the journal and not folded into DuckDB yet.
    last_fold_error
        Why the most recent fold failed (type and message), or None when it succeeded or none
        ran. While folds fail, decisions stay durable in the journal but other reads fail.
    """

    pending: int
    last_fold_error: str | None


def _audit_record(entry: AuditEntry) -> list[Any]:
    row = audit_row(entry)
    row[1] = entry.at.isoformat(timespec="microseconds")
    return row


def _event_record(e: Event, channels_changed: bool) -> dict[str, Any]:
    return {
        "channels_changed": channels_changed, "event_id": e.event_id,
        "recording_id": e.recording_id, "onset_s": e.onset_s, "duration_s": e.duration_s,
        "label": e.label, "category": e.category, "channels": list(e.channels),
        "status": e.status.value, "deleted": e.deleted, "updated_by": e.updated_by,
        "updated_at": e.updated_at.isoformat(timespec="microseconds"), "version": e.version,
    }


def _created_record(e: Event) -> dict[str, Any]:
    """Every ``events`` column of a created event (JSON-ready)."""
    return {
        "event_id": e.event_id, "recording_id": e.recording_id, "channels": list(e.channels),
        "onset_s": e.onset_s, "duration_s": e.duration_s, "label": e.label,
        "category": e.category, "source": e.source.value, "run_id": e.run_id,
        "import_ref": None if e.import_ref is None else json.dumps(e.import_ref),
        "confidence": e.confidence, "status": e.status.value, "schema_name": e.schema_name,
        "schema_version": e.schema_version, "created_by": e.created_by,
        "created_at": e.created_at.isoformat(timespec="microseconds"),
        "updated_by": e.updated_by,
        "updated_at": e.updated_at.isoformat(timespec="microseconds"), "version": e.version,
        "deleted": e.deleted,
    }


def _review_record(event_id: int, r: ReviewRow) -> list[Any]:
    return [event_id, r.user_id, r.decided_at.isoformat(timespec="microseconds"), r.action,
            r.previous, r.new, r.undo_state]


# Column types of the rows each fold statement unnests from JSON (key order: column order).
_EVENT_STATE_TYPES = {
    "event_id": "BIGINT", "base_version": "INTEGER", "onset_s": "DOUBLE", "duration_s": "DOUBLE",
    "label": "VARCHAR", "category": "VARCHAR", "status": "VARCHAR", "deleted": "BOOLEAN",
    "updated_by": "VARCHAR", "updated_at": "TIMESTAMP", "version": "INTEGER"}
_CHANNELS_TYPES = {"event_id": "BIGINT", "channels": "INTEGER[]"}
_CREATED_TYPES = {
    "event_id": "BIGINT", "recording_id": "VARCHAR", "channels": "INTEGER[]",
    "onset_s": "DOUBLE", "duration_s": "DOUBLE", "label": "VARCHAR", "category": "VARCHAR",
    "source": "VARCHAR", "run_id": "BIGINT", "import_ref": "VARCHAR", "confidence": "DOUBLE",
    "status": "VARCHAR", "schema_name": "VARCHAR", "schema_version": "INTEGER",
    "created_by": "VARCHAR", "created_at": "TIMESTAMP", "updated_by": "VARCHAR",
    "updated_at": "TIMESTAMP", "version": "INTEGER", "deleted": "BOOLEAN"}
_REVIEW_TYPES = {
    "review_id": "BIGINT", "event_id": "BIGINT", "user_id": "VARCHAR", "decided_at": "TIMESTAMP",
    "action": "VARCHAR", "previous": "VARCHAR", "new": "VARCHAR", "undo_state": "VARCHAR"}
_AUDIT_TYPES = {
    "seq": "BIGINT", "logged_at": "TIMESTAMP", "user_name": "VARCHAR", "action": "VARCHAR",
    "target": "VARCHAR", "detail": "VARCHAR", "prev_hash": "VARCHAR", "hash": "VARCHAR"}


def _json_rows(types: dict[str, str]) -> str:
    """SQL unnesting the JSON parameter into rows of ``types``' columns."""
    return f"SELECT unnest(from_json(?, '{json.dumps([types])}'), recursive := true)"


def _insert_json_rows(cur: duckdb.DuckDBPyConnection, table: str, types: dict[str, str],
                      rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (the columns of ``types``) into ``table`` as one JSON parameter.

    A fold is at most a few hundred rows: one JSON text unnested by DuckDB costs less than
    thousands of bound parameters, and converting to Arrow would import pandas into the
    server (~35 MB) for nothing.
    """
    cur.execute(f"INSERT INTO {table} ({', '.join(types)}) {_json_rows(types)}",
                [json.dumps(rows)]).fetchall()


def _check_record(record: Any, path: Path) -> dict[str, Any]:
    change = None if not isinstance(record, dict) else (
        "event" if "event" in record else "create" if "create" in record else None)
    ok = (isinstance(record, dict) and isinstance(record.get("audit"), list)
          and len(record["audit"]) == 8
          and (change is None or (
              isinstance(record[change], dict)
              and (set(_EVENT_STATE_FIELDS) if change == "event" else set(_CREATED_TYPES))
              <= set(record[change])
              and isinstance(record.get("review"), list) and len(record["review"]) == 7))
          and isinstance(record.get("ends_redo_of", ""), str))
    if not ok:
        raise DecisionLogCorruptError(
            f"the decision log {path} holds a record of an unknown shape; it was written by "
            "another program or version, so nothing was applied")
    return record  # type: ignore[no-any-return]


class DecisionLogMixin(AuditMixin):
    """Journal-first review decisions and audit entries, folded into DuckDB in batches."""

    #: Fold into DuckDB at once when this many writes are pending (bounds a fold's time,
    #: about 0.1 ms per changed event row at 5 M events).
    flush_after_writes: int = 256
    #: Seconds between background folds while writes are pending.
    flush_interval_s: float = 1.0

    def __init__(self, conn: duckdb.DuckDBPyConnection, path: Path) -> None:
        super().__init__(conn, path)
        self._journal: Journal | None = None
        self._pending_records: list[dict[str, Any]] = []
        self._overlay_lock = threading.Lock()
        self._overlay: dict[int, Event] = {}
        self._overlay_by_recording: dict[str, dict[int, Event]] = {}
        self._fold_cursor: duckdb.DuckDBPyConnection | None = None
        self._flusher: threading.Thread | None = None
        self._flusher_stop = threading.Event()
        self._last_fold_error: str | None = None
        self._id_block = (1, 0)  # next free, last reserved: empty

    @property
    def decision_log_path(self) -> Path:
        """The journal file beside the database."""
        return self.path.with_name(self.path.name + ".decision-log")

    # ----------------------------------------------------------------- cursors
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """The calling thread's cursor, after folding pending decisions into DuckDB."""
        if self._pending_records:
            self.flush_decisions()
        return super().cursor()

    # ----------------------------------------------------------------- pending reads
    def pending_event(self, event_id: int) -> Event | None:
        """The newest logged state of an event not folded into DuckDB yet, else None."""
        return self._overlay.get(event_id)

    def pending_events_of(self, recording_id: str) -> list[Event]:
        """Newest logged states of a recording's events not folded into DuckDB yet.

        Take this before querying DuckDB: a fold in between then only makes both agree.
        """
        with self._overlay_lock:
            found = self._overlay_by_recording.get(recording_id)
            return list(found.values()) if found else []

    def decision_log_status(self) -> DecisionLogStatus:
        """How many writes wait in the journal, and why the last fold failed (None: it did
        not)."""
        return DecisionLogStatus(len(self._pending_records), self._last_fold_error)

    # ----------------------------------------------------------------- writing
    def _open_journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(self.decision_log_path)
        return self._journal

    def log_decisions(self, decisions: Sequence[LoggedDecision],
                      ends_redo_of: str | None = None) -> list[AuditEntry]:
        """Make ``decisions`` durable in the journal; return their audit entries.

        Call with :attr:`write_lock` held, after checking each decision against the event's
        current state (:meth:`pending_event`, else DuckDB). When this returns, the decisions
        are on disk and visible to every read. ``ends_redo_of`` names a user whose undone
        decisions these decisions make final (their reviews become ``dropped`` in the fold).
        """
        cur = self.cursor_without_fold()
        entries: list[AuditEntry] = []
        records: list[dict[str, Any]] = []
        last: AuditEntry | None = None
        for d in decisions:
            last = self.next_audit_entry(cur, d.user_name, d.action, d.target, d.detail, last)
            entries.append(last)
            change = ({"create": _created_record(d.event)} if d.created
                      else {"event": _event_record(d.event, d.channels_changed)})
            records.append({**change, "review": _review_record(d.event.event_id, d.review),
                            "audit": _audit_record(last)})
        if ends_redo_of is not None and records:
            records[0]["ends_redo_of"] = ends_redo_of
        self._append(records, entries)
        with self._overlay_lock:
            for d in decisions:
                self._overlay[d.event.event_id] = d.event
                self._overlay_by_recording.setdefault(d.event.recording_id, {})[
                    d.event.event_id] = d.event
        self._after_append()
        return entries

    #: Event ids reserved from ``event_id_seq`` at a time for created events (a crash leaves
    #: a gap in the ids, never a duplicate: the sequence moves past the block first).
    event_id_block: int = 1000

    def reserve_event_id(self) -> int:
        """A new event id for a creation logged here (call with :attr:`write_lock` held)."""
        lo, hi = self._id_block
        if lo > hi:
            lo = reserve_ids(self.cursor_without_fold(), "event_id_seq", self.event_id_block)
            hi = lo + self.event_id_block - 1
        self._id_block = (lo + 1, hi)
        return lo

    def audit(self, user_name: str, action: str, target: str,
              detail: dict[str, Any] | None = None) -> AuditEntry:
        """Append one audit entry on its own (views, exports, SQL) through the journal."""
        with self.write_lock:
            entry = self.next_audit_entry(self.cursor_without_fold(), user_name, action,
                                          target, detail)
            self._append([{"audit": _audit_record(entry)}], [entry])
            self._after_append()
        return entry

    def _append(self, records: list[dict[str, Any]], entries: list[AuditEntry]) -> None:
        self._open_journal().append(records)
        self._pending_records.extend(records)
        head = entries[-1]
        self.__dict__["_audit_head_cache"] = (head.seq, head.hash)
        self.__dict__["_pending_anchor"] = (head.seq, head.hash)
        self.write_audit_anchor()

    def _after_append(self) -> None:
        # After a failed fold, decisions do not retry inline (each would pay a failing fold);
        # the background thread retries once per interval.
        if (len(self._pending_records) >= self.flush_after_writes
                and self._last_fold_error is None):
            try:
                self.flush_decisions()
            except Exception:  # the writes are durable; the background fold retries
                logger.exception("folding the decision log into DuckDB failed")
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_periodically,
                                             name="wavescore-decision-log", daemon=True)
            self._flusher.start()

    def _flush_periodically(self) -> None:
        while not self._flusher_stop.wait(self.flush_interval_s):
            if self._pending_records:
                try:
                    self.flush_decisions()
                except Exception:
                    logger.exception("folding the decision log into DuckDB failed")

    # ----------------------------------------------------------------- folding
    def flush_decisions(self) -> int:
        """Fold every pending write into DuckDB in one transaction; return how many.

        Raises
        ------
        StoreError
            The events table does not hold the versions the log expects (the database was
            changed behind this process's back); nothing was folded.
        """
        with self.write_lock:
            records = self._pending_records
            if not records:
                return 0
            if self._fold_cursor is None:
                self._fold_cursor = self._conn.cursor()
            try:
                self._apply(self._fold_cursor, records)
            except Exception as exc:
                self._last_fold_error = " ".join(f"{type(exc).__name__}: {exc}".split())
                raise
            self._last_fold_error = None
            self._open_journal().clear()
            self._pending_records = []
            with self._overlay_lock:
                self._overlay = {}
                self._overlay_by_recording = {}
            return len(records)

    def _apply(self, cur: duckdb.DuckDBPyConnection, records: Sequence[dict[str, Any]]) -> None:
        """Write ``records`` to the events, reviews and audit tables in one transaction.

        Rows go in as one JSON text per statement, unnested by DuckDB (see
        :func:`_insert_json_rows`).
        """
        # an event created in this batch goes in with its newest state; the others are updated
        created = {int(r["create"]["event_id"]): dict(r["create"])
                   for r in records if "create" in r}
        decided = []
        for r in records:
            state = r.get("event")
            if state is None:
                continue
            if int(state["event_id"]) in created:
                created[int(state["event_id"])].update(
                    {k: v for k, v in state.items() if k != "channels_changed"})
            else:
                decided.append(r)
        reviewed = [r for r in records if "review" in r]
        cur.execute("BEGIN TRANSACTION")
        try:
            # the user's undone decisions became final with a new decision (undo, which marks
            # them, folds first: they are in DuckDB, and this batch adds none)
            for user_id in dict.fromkeys(r["ends_redo_of"] for r in records
                                         if "ends_redo_of" in r):
                cur.execute("UPDATE reviews SET undo_state = 'dropped' WHERE user_id = ? "
                            "AND undo_state = 'undone'", [user_id]).fetchall()
            if created:
                _insert_json_rows(cur, "events", _CREATED_TYPES,
                                  [created[i] for i in sorted(created)])
            if decided:
                self._apply_event_states(cur, decided)
            if reviewed:
                self._apply_reviews(cur, reviewed)
            _insert_json_rows(cur, "audit_log", _AUDIT_TYPES,
                              [dict(zip(_AUDIT_TYPES, r["audit"], strict=True))
                               for r in records])
            cur.execute("COMMIT")
        except BaseException:
            # when the COMMIT itself failed there is nothing left to roll back
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise

    @staticmethod
    def _apply_event_states(cur: duckdb.DuckDBPyConnection,
                            decided: Sequence[dict[str, Any]]) -> None:
        # newest state per event; the row must still hold the version before the first one
        newest: dict[int, dict[str, Any]] = {}
        base: dict[int, int] = {}
        new_channels: set[int] = set()
        for r in decided:
            e = r["event"]
            newest[e["event_id"]] = e
            base.setdefault(e["event_id"], int(e["version"]) - 1)
            if e.get("channels_changed", True):
                new_channels.add(e["event_id"])
        # the id range lets zone maps skip row groups holding none of the ids
        in_range = f"events.event_id BETWEEN {int(min(newest))} AND {int(max(newest))}"
        if new_channels:
            cur.execute(
                f"UPDATE events SET channels = u.channels FROM ({_json_rows(_CHANNELS_TYPES)}) u "
                f"WHERE events.event_id = u.event_id AND {in_range}",
                [json.dumps([{"event_id": i, "channels": newest[i]["channels"]}
                             for i in sorted(new_channels)])]).fetchall()
        rows = [{"event_id": e["event_id"], "base_version": base[e["event_id"]],
                 **{f: e[f] for f in _EVENT_STATE_FIELDS if f not in ("event_id", "channels",
                                                                     "recording_id")}}
                for e in newest.values()]
        result = cur.execute(
            "UPDATE events SET onset_s = u.onset_s, duration_s = u.duration_s, "
            "label = u.label, category = u.category, status = u.status, deleted = u.deleted, "
            "updated_by = u.updated_by, updated_at = u.updated_at, version = u.version "
            f"FROM ({_json_rows(_EVENT_STATE_TYPES)}) u "
            "WHERE events.event_id = u.event_id AND events.version = u.base_version "
            f"AND {in_range}", [json.dumps(rows)]).fetchall()
        changed = int(result[0][0])
        if changed != len(rows):
            raise StoreError(
                f"the decision log expected {len(rows)} events at their logged versions but "
                f"DuckDB matched {changed}; the events table was changed outside this wavescore "
                "process")

    @staticmethod
    def _apply_reviews(cur: duckdb.DuckDBPyConnection, decided: Sequence[dict[str, Any]]
                       ) -> None:
        lo = reserve_ids(cur, "review_id_seq", len(decided))
        rows = [dict(zip(_REVIEW_TYPES, [lo + k, *r["review"]], strict=True))
                for k, r in enumerate(decided)]
        _insert_json_rows(cur, "reviews", _REVIEW_TYPES, rows)

    # ----------------------------------------------------------------- recovery
    def recover_decision_log(self) -> int:
        """Apply what the journal holds beyond DuckDB (after a crash); return how many.

        Call once, right after opening, before any other write.

        Raises
        ------
        DecisionLogCorruptError
            The journal is damaged where acknowledged decisions lie, or does not continue
            this database's audit chain.
        """
        with self.write_lock:
            journal = self._open_journal()
            records = [_check_record(r, journal.path) for r in journal.read()]
            if not records:
                return 0
            cur = self.cursor_without_fold()
            row = cur.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchall()
            applied = int(row[0][0])
            self._check_continues_chain(cur, records, applied, journal.path)
            todo = [r for r in records if int(r["audit"][0]) > applied]
            if todo:
                self._apply(cur, todo)
            journal.clear()
            self.__dict__.pop("_audit_head_cache", None)
            if todo:
                self.__dict__["_pending_anchor"] = (int(todo[-1]["audit"][0]),
                                                    str(todo[-1]["audit"][7]))
                self.write_audit_anchor()
            return len(todo)

    @staticmethod
    def _check_continues_chain(cur: duckdb.DuckDBPyConnection,
                               records: Sequence[dict[str, Any]], applied: int,
                               path: Path) -> None:
        """Refuse a journal that is not this database's: its entries must chain to each other,
        those already applied must be the database's own, and the rest must follow on."""
        def refuse(why: str) -> DecisionLogCorruptError:
            return DecisionLogCorruptError(
                f"the decision log {path} does not continue this database's audit log "
                f"(which ends at entry {applied}): {why}; nothing was applied and the file was "
                "kept")

        entries = [(int(r["audit"][0]), str(r["audit"][6]), str(r["audit"][7]))
                   for r in records]
        for (seq_a, _, hash_a), (seq_b, prev_b, _) in itertools.pairwise(entries):
            if seq_b != seq_a + 1 or prev_b != hash_a:
                raise refuse(f"its entries {seq_a} and {seq_b} do not chain")
        first_seq, first_prev, _ = entries[0]
        if first_seq > applied + 1:
            raise refuse(f"it starts at entry {first_seq}")
        lo = first_seq - 1
        stored = dict(cur.execute(
            "SELECT seq, hash FROM audit_log WHERE seq BETWEEN ? AND ?",
            [lo, min(applied, entries[-1][0])]).fetchall())
        if lo == 0:
            stored[0] = GENESIS_HASH
        if stored.get(lo) != first_prev:
            raise refuse(f"its entry {first_seq} does not follow the database's entry {lo}")
        for seq, _, digest in entries:
            if seq <= applied and stored.get(seq) != digest:
                raise refuse(f"its entry {seq} differs from the database's")

    def close(self) -> None:
        """Stop the background fold, fold what is pending, close the journal and database."""
        if self._closed:
            return
        self._flusher_stop.set()
        if self._flusher is not None:
            self._flusher.join()
        try:
            self.flush_decisions()
        finally:
            if self._journal is not None:
                self._journal.close()
            if self._fold_cursor is not None:
                self._fold_cursor.close()
            super().close()
