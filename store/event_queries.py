"""Event reads: window queries with the decision log's pending states laid over, single events,
the review queue, detector statistics, and the longest-event bounds that narrow window scans.

Writes live in :mod:`store.events` (bulk loads) and :mod:`store.reviews` (decisions).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

from store._event_types import Event, EventSource, EventStatus
from store.decision_log import DecisionLogMixin
from store.errors import EventNotFoundError
from store.labels import LabelsMixin
from store.recordings import RecordingsMixin
from store.users import UsersMixin

EVENT_COLUMNS = (
    "event_id, recording_id, onset_s, duration_s, label, category, channels, source, status, "
    "confidence, run_id, import_ref, schema_name, schema_version, created_by, created_at, "
    "updated_by, updated_at, version, deleted"
)
_TIME_EPS_S = 1e-6
#: Windows up to this long are sorted in Python (a handful of rows; an SQL ORDER BY costs more
#: than the scan); longer ones, which may hit ``limit``, are sorted and cut in DuckDB.
_SORT_IN_PYTHON_UP_TO_S = 600.0


def _row_to_event(r: Sequence[Any]) -> Event:
    return Event(
        event_id=int(r[0]), recording_id=str(r[1]), onset_s=float(r[2]),
        duration_s=float(r[3]), label=str(r[4]), category=str(r[5]),
        channels=tuple(int(c) for c in r[6]), source=EventSource(r[7]),
        status=EventStatus(r[8]), confidence=None if r[9] is None else float(r[9]),
        run_id=None if r[10] is None else int(r[10]),
        import_ref=None if r[11] is None else json.loads(r[11]),
        schema_name=str(r[12]), schema_version=int(r[13]), created_by=str(r[14]),
        created_at=r[15], updated_by=str(r[16]), updated_at=r[17], version=int(r[18]),
        deleted=bool(r[19]),
    )


def _matches(e: Event, start_s: float, stop_s: float, include_deleted: bool,
             wanted: dict[str, set[str] | None], channel: int | None) -> bool:
    """Whether ``e`` passes :meth:`EventsMixin.list_events`' filters (its SQL, in Python)."""
    if not (e.onset_s < stop_s and e.onset_s + e.duration_s >= start_s):
        return False
    if e.deleted and not include_deleted:
        return False
    for column, value in (("category", e.category), ("status", e.status.value),
                          ("source", e.source.value)):
        allowed = wanted[column]
        if allowed is not None and value not in allowed:
            return False
    return channel is None or not e.channels or channel in e.channels



class EventQueriesMixin(LabelsMixin, UsersMixin, RecordingsMixin, DecisionLogMixin):
    """Event reads (see the module docstring)."""

    # ----------------------------------------------------------------- longest events
    # A window query reads events with onset in [start - longest, stop): an upper bound of the
    # recording's longest event lets zone maps skip the rest of the recording's rows. The bound
    # may be loose (a shortened or deleted event leaves it) but never too small.
    def _longest_events(self) -> dict[str, float]:
        """Per recording, at least the longest stored event's duration (s); load if needed."""
        with self._longest_lock:
            found: dict[str, float] | None = self.__dict__.get("_longest_s")
            if found is None:
                rows = self.cursor_without_fold().execute(
                    "SELECT recording_id, max(duration_s) FROM events GROUP BY recording_id"
                ).fetchall()
                found = {str(r[0]): float(r[1]) for r in rows}
                self.__dict__["_longest_s"] = found
            return found

    @property
    def _longest_lock(self) -> threading.Lock:
        lock = self.__dict__.get("_longest_lock_")
        if lock is None:
            lock = self.__dict__.setdefault("_longest_lock_", threading.Lock())
        return lock  # type: ignore[no-any-return]

    def _raise_longest_event(self, recording_id: str, duration_s: float, *,
                             logged: bool = False) -> None:
        """Note an event of ``duration_s`` in ``recording_id``, committed or ``logged``.

        A committed event is read by the next load, so with nothing loaded there is nothing
        to do; a logged one reaches DuckDB later, so the bounds are loaded first.
        """
        if logged:
            self._longest_events()
        with self._longest_lock:
            found: dict[str, float] | None = self.__dict__.get("_longest_s")
            if found is not None and duration_s > found.get(recording_id, -1.0):
                found[recording_id] = duration_s

    def warm_up(self) -> None:
        """Load now what the first requests would: the longest-event bounds (one GROUP BY over
        the events, ~20 ms at 5 M) and the audit chain's newest entry."""
        self._longest_events()
        self.load_audit_head()

    def _forget_longest_events(self) -> None:
        with self._longest_lock:
            self.__dict__.pop("_longest_s", None)

    # ----------------------------------------------------------------- queries
    def list_events(
        self,
        recording_id: str,
        start_s: float = 0.0,
        stop_s: float = math.inf,
        *,
        categories: Iterable[str] | None = None,
        statuses: Iterable[str] | None = None,
        sources: Iterable[str] | None = None,
        channel: int | None = None,
        include_deleted: bool = False,
        limit: int = 100_000,
    ) -> list[Event]:
        """Events overlapping ``[start_s, stop_s)`` in onset order.

        An event overlaps when ``onset_s < stop_s`` and ``onset_s + duration_s >= start_s``
        (instantaneous events at ``start_s`` are included). ``channel`` keeps events on that
        channel and events spanning all channels.
        """
        # pending decisions first: a fold between the two reads then only makes them agree
        pending = self.pending_events_of(recording_id)
        stop = stop_s if math.isfinite(stop_s) else 1e300
        lowest_onset_s = start_s - self._longest_events().get(recording_id, 0.0) - _TIME_EPS_S
        sql = [f"SELECT {EVENT_COLUMNS} FROM events WHERE recording_id = ? AND onset_s < ? "
               "AND onset_s >= ? AND onset_s + duration_s >= ?"]
        params: list[Any] = [recording_id, stop, lowest_onset_s, start_s]
        if not include_deleted:
            sql.append("AND NOT deleted")
        filters = {"category": categories, "status": statuses, "source": sources}
        wanted = {column: None if values is None else {str(v) for v in values}
                  for column, values in filters.items()}
        for column, values in wanted.items():
            if values is not None:
                sql.append(f"AND {column} IN ({', '.join('?' * len(values)) or 'NULL'})")
                params.extend(sorted(values))
        if channel is not None:
            sql.append("AND (len(channels) = 0 OR list_contains(channels, ?))")
            params.append(channel)
        sort_in_sql = stop - start_s > _SORT_IN_PYTHON_UP_TO_S
        if sort_in_sql:
            # enough for the cut even when every pending event leaves the result
            sql.append("ORDER BY onset_s, event_id LIMIT ?")
            params.append(limit + len(pending))
        rows = self.cursor_without_fold().execute(" ".join(sql), params).fetchall()
        events = [_row_to_event(r) for r in rows]
        if pending:
            changed = {e.event_id for e in pending}
            events = [e for e in events if e.event_id not in changed]
            events.extend(e for e in pending if _matches(
                e, start_s, stop, include_deleted, wanted, channel))
        events.sort(key=lambda e: (e.onset_s, e.event_id))
        return events[:limit]

    def get_event(self, event_id: int, cur: duckdb.DuckDBPyConnection | None = None,
                  *, include_deleted: bool = False) -> Event:
        """Return one event.

        Raises
        ------
        EventNotFoundError
        """
        if cur is None:
            pending = self.pending_event(event_id)
            if pending is not None:
                if pending.deleted and not include_deleted:
                    raise EventNotFoundError(event_id)
                return pending
            cur = self.cursor_without_fold()
        rows = cur.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?", [event_id]
        ).fetchall()
        row = rows[0] if rows else None
        if row is None or (row[19] and not include_deleted):
            raise EventNotFoundError(event_id)
        return _row_to_event(row)

    def review_queue(self, recording_id: str, run_id: int | None = None,
                     limit: int = 10_000) -> list[Event]:
        """Proposed events of a recording (optionally one detector run), least confident first.

        Events with a pending decision are left out without folding: a logged decision
        (confirm, reject, edit, delete) always takes an event out of the proposals, and the
        only way back to ``proposed``, undo, folds first.
        """
        decided = {e.event_id for e in self.pending_events_of(recording_id)}
        sql = (f"SELECT {EVENT_COLUMNS} FROM events WHERE recording_id = ? AND NOT deleted "
               "AND status = 'proposed'")
        params: list[Any] = [recording_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        sql += " ORDER BY coalesce(confidence, 0), onset_s, event_id LIMIT ?"
        params.append(limit + len(decided))
        rows = self.cursor_without_fold().execute(sql, params).fetchall()
        return [e for e in map(_row_to_event, rows) if e.event_id not in decided][:limit]

    def detector_statistics(self) -> list[dict[str, Any]]:
        """Acceptance, edit and rejection rates per detector and version.

        Rates are fractions of the proposals that were reviewed (confirmed + edited + rejected).
        """
        rows = self.cursor().execute(
            "SELECT r.detector, r.detector_version, count(*) AS n_proposed, "
            "count(*) FILTER (WHERE e.status = 'confirmed') AS n_confirmed, "
            "count(*) FILTER (WHERE e.status = 'edited') AS n_edited, "
            "count(*) FILTER (WHERE e.status = 'rejected') AS n_rejected "
            "FROM events e JOIN detector_runs r USING (run_id) WHERE NOT e.deleted "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        out = []
        for det, ver, n, nc, ne, nr in rows:
            reviewed = nc + ne + nr
            out.append({
                "detector": det, "detector_version": ver, "n_proposed": n,
                "n_reviewed": reviewed, "n_confirmed": nc, "n_edited": ne, "n_rejected": nr,
                "acceptance_rate": nc / reviewed if reviewed else None,
                "edit_rate": ne / reviewed if reviewed else None,
                "rejection_rate": nr / reviewed if reviewed else None,
            })
        return out
