"""Events: validation and bulk loads of detector output and imports.

Bulk loads go through Arrow in one transaction with their audit entry (all or nothing), sorted
by onset so rows stay in (recording, onset) order. Review decisions on single events live in
:mod:`store.reviews`, reads in :mod:`store.event_queries`. Nothing is ever physically deleted:
deleting sets a flag.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from store._db import reserve_ids
from store._event_types import Event, EventDraft, EventSource, EventStatus
from store.errors import (
    InvalidEventError,
    RecordingNotFoundError,
    UnknownLabelError,
)
from store.event_queries import _TIME_EPS_S, EventQueriesMixin
from store.labels import CATEGORIES, Study
from store.users import User

_SNAPSHOT_FIELDS = ("onset_s", "duration_s", "label", "category", "channels", "status", "deleted")


def _snapshot(e: Event) -> dict[str, Any]:
    return {
        "onset_s": e.onset_s, "duration_s": e.duration_s, "label": e.label,
        "category": e.category, "channels": list(e.channels), "status": e.status.value,
        "deleted": e.deleted, "version": e.version,
    }


def _same_content(e: Event, snap: dict[str, Any]) -> bool:
    return all(
        (list(e.channels) if f == "channels" else
         e.status.value if f == "status" else getattr(e, f)) == snap[f]
        for f in _SNAPSHOT_FIELDS
    )


_RECORDING_META_SQL = (
    "SELECT r.recording_id, r.duration_s AS rec_duration_s, r.n_channels, s.schema_name, "
    "s.schema_version FROM recordings r LEFT JOIN recording_studies rs USING (recording_id) "
    "JOIN studies s ON s.study_id = coalesce(rs.study_id, 'default') "
    "WHERE r.recording_id IN (SELECT DISTINCT recording_id FROM {name})"
)


_INSERT_COLUMNS = (
    "event_id, recording_id, channels, onset_s, duration_s, label, category, source, run_id, "
    "import_ref, confidence, status, schema_name, schema_version, created_by, created_at, "
    "updated_by, updated_at, version, deleted"
)


def _is_sorted(table: pa.Table) -> bool:
    """Whether rows are in (recording_id, onset_s) order."""
    n = int(table.num_rows)
    if n < 2:
        return True
    rid, onset = table.column("recording_id"), table.column("onset_s")
    r0, r1 = rid.slice(0, n - 1), rid.slice(1)
    backwards = pc.or_(pc.less(r1, r0), pc.and_(pc.equal(r1, r0),
                                                pc.less(onset.slice(1), onset.slice(0, n - 1))))
    return not bool(pc.any(backwards).as_py())


def _with_ids_and_schema(table: pa.Table, first_id: int, meta: Sequence[Any]) -> pa.Table:
    """Add ``event_id`` (consecutive from ``first_id``) and each row's study schema."""
    n = int(table.num_rows)
    idx = pc.index_in(table.column("recording_id"),
                      value_set=pa.array([str(m[0]) for m in meta], pa.string()))
    return (table
            .append_column("event_id", pa.array(np.arange(first_id, first_id + n,
                                                          dtype=np.int64)))
            .append_column("schema_name", pc.take(pa.array([str(m[1]) for m in meta]), idx))
            .append_column("schema_version",
                           pc.take(pa.array([int(m[2]) for m in meta], pa.int32()), idx)))


def _normalise_event_columns(columns: pa.Table) -> pa.Table:
    """Cast the input columns to the types of the ``events`` table, adding missing optionals."""
    required = ("recording_id", "onset_s", "duration_s", "label", "category")
    missing = [c for c in required if c not in columns.column_names]
    if missing:
        raise InvalidEventError(
            f"event columns are missing {', '.join(missing)}; required: {', '.join(required)}")
    n = columns.num_rows
    out = {
        "recording_id": columns.column("recording_id").cast(pa.string()),
        "onset_s": columns.column("onset_s").cast(pa.float64()),
        "duration_s": columns.column("duration_s").cast(pa.float64()),
        "label": columns.column("label").cast(pa.string()),
        "category": columns.column("category").cast(pa.string()),
    }
    out["channels"] = (columns.column("channels").cast(pa.list_(pa.int32()))
                       if "channels" in columns.column_names
                       else pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)),
                                                     pa.array([], pa.int32())))
    out["confidence"] = (columns.column("confidence").cast(pa.float64())
                         if "confidence" in columns.column_names
                         else pa.nulls(n, pa.float64()))
    out["import_ref"] = (columns.column("import_ref").cast(pa.string())
                         if "import_ref" in columns.column_names else pa.nulls(n, pa.string()))
    return pa.table(out)


class EventsMixin(EventQueriesMixin):
    """Event validation and bulk loads (reads are in :class:`EventQueriesMixin`)."""

    # ----------------------------------------------------------------- validation
    def _recording_bounds(self, cur: duckdb.DuckDBPyConnection, recording_id: str
                          ) -> tuple[float, int]:
        row = cur.execute(
            "SELECT duration_s, n_channels FROM recordings WHERE recording_id = ?",
            [recording_id],
        ).fetchone()
        if row is None:
            raise RecordingNotFoundError(recording_id)
        return float(row[0]), int(row[1])

    def _validate(self, cur: duckdb.DuckDBPyConnection, recording_id: str, study: Study,
                  drafts: Sequence[EventDraft]) -> None:
        duration_s, n_channels = self._recording_bounds(cur, recording_id)
        allowed: dict[str, set[str]] = {}
        for i, d in enumerate(drafts):
            where = f"event {i} ({d.label!r} at {d.onset_s} s)" if len(drafts) > 1 else \
                f"event {d.label!r} at {d.onset_s} s"
            if not (math.isfinite(d.onset_s) and math.isfinite(d.duration_s)):
                raise InvalidEventError(f"{where}: onset and duration must be finite numbers")
            if d.duration_s < 0:
                raise InvalidEventError(f"{where}: duration {d.duration_s} s is negative")
            if d.onset_s < 0 or d.onset_s + d.duration_s > duration_s + _TIME_EPS_S:
                raise InvalidEventError(
                    f"{where}: [{d.onset_s}, {d.onset_s + d.duration_s}] s lies outside the "
                    f"recording [0, {duration_s}] s"
                )
            bad = [c for c in d.channels if not 0 <= c < n_channels]
            if bad:
                raise InvalidEventError(
                    f"{where}: unknown channel index {bad[0]}; the recording has channels "
                    f"0..{n_channels - 1}"
                )
            if d.confidence is not None and not 0.0 <= d.confidence <= 1.0:
                raise InvalidEventError(f"{where}: confidence {d.confidence} outside [0, 1]")
            if d.category not in CATEGORIES:
                raise UnknownLabelError(
                    f"{where}: unknown category {d.category!r}; categories are "
                    f"{', '.join(CATEGORIES)}"
                )
            if d.category == "other":
                if not d.label.strip():
                    raise UnknownLabelError(f"{where}: label must not be empty")
                continue
            if d.category not in allowed:
                allowed[d.category] = self.allowed_labels(
                    study.schema_name, study.schema_version, d.category, cur)
            if d.label not in allowed[d.category]:
                raise UnknownLabelError(
                    f"{where}: label {d.label!r} is not in schema {study.schema_name} "
                    f"v{study.schema_version} for category {d.category!r}; allowed: "
                    f"{', '.join(sorted(allowed[d.category]))}"
                )

    # ----------------------------------------------------------------- bulk loads
    def insert_events(
        self,
        recording_id: str,
        drafts: Sequence[EventDraft],
        *,
        user: User,
        source: EventSource,
        status: EventStatus = EventStatus.PROPOSED,
        run_id: int | None = None,
        validate: bool = True,
    ) -> int:
        """Insert many events at once through Arrow (sorted by onset); return how many.

        All or nothing: on any invalid event nothing is written.

        Raises
        ------
        RecordingNotFoundError, InvalidEventError, UnknownLabelError
        """
        if not drafts:
            return 0
        with self.write_lock:
            with self.transaction() as cur:
                n = self._insert_events_in(cur, recording_id, drafts, user=user, source=source,
                                           status=status, run_id=run_id, validate=validate)
                self.append_audit(cur, user.name, "events.insert", f"recording:{recording_id}",
                                  {"n": n, "source": source.value, "run_id": run_id})
            self.write_audit_anchor()
        return n

    def _insert_events_in(
        self, cur: duckdb.DuckDBPyConnection, recording_id: str, drafts: Sequence[EventDraft],
        *, user: User, source: EventSource, status: EventStatus, run_id: int | None,
        validate: bool,
    ) -> int:
        study = self.study_of(recording_id, cur)
        if validate:
            self._validate(cur, recording_id, study, drafts)
        order = sorted(range(len(drafts)), key=lambda i: drafts[i].onset_s)
        now = self.audit_now()
        n = len(drafts)
        first = reserve_ids(cur, "event_id_seq", n)
        table = pa.table({
            "event_id": pa.array(range(first, first + n), pa.int64()),
            "recording_id": pa.array([recording_id] * n),
            "channels": pa.array([list(drafts[i].channels) for i in order],
                                 pa.list_(pa.int32())),
            "onset_s": pa.array([drafts[i].onset_s for i in order], pa.float64()),
            "duration_s": pa.array([drafts[i].duration_s for i in order], pa.float64()),
            "label": pa.array([drafts[i].label for i in order]),
            "category": pa.array([drafts[i].category for i in order]),
            "source": pa.array([source.value] * n),
            "run_id": pa.array([run_id] * n, pa.int64()),
            "import_ref": pa.array([None if drafts[i].import_ref is None
                                    else json.dumps(drafts[i].import_ref) for i in order],
                                   pa.string()),
            "confidence": pa.array([drafts[i].confidence for i in order], pa.float64()),
            "status": pa.array([status.value] * n),
            "schema_name": pa.array([study.schema_name] * n),
            "schema_version": pa.array([study.schema_version] * n, pa.int32()),
            "created_by": pa.array([user.name] * n),
            "created_at": pa.array([now] * n, pa.timestamp("us")),
            "updated_by": pa.array([user.name] * n),
            "updated_at": pa.array([now] * n, pa.timestamp("us")),
            "version": pa.array([1] * n, pa.int32()),
            "deleted": pa.array([False] * n),
        })
        self._bulk_insert_arrow(cur, table)
        longest = max(d.duration_s for d in drafts)
        self.on_commit(lambda: self._raise_longest_event(recording_id, longest))
        return n

    def _bulk_insert_arrow(self, cur: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
        name = "_events_bulk"
        cur.register(name, table)
        try:
            cur.execute(
                "INSERT INTO events (event_id, recording_id, channels, onset_s, duration_s, "
                "label, category, source, run_id, import_ref, confidence, status, schema_name, "
                "schema_version, created_by, created_at, updated_by, updated_at, version, "
                f"deleted) SELECT * FROM {name}"
            )
        finally:
            cur.unregister(name)

    def insert_event_columns(
        self,
        columns: pa.Table,
        *,
        user: User,
        source: EventSource,
        status: EventStatus = EventStatus.PROPOSED,
        run_id: int | None = None,
    ) -> int:
        """Insert events given as columns (many recordings at once); return how many.

        The columnar twin of :meth:`insert_events` for bulk loads: no Python object per event.
        Validation (recording exists, finite onset/duration inside the recording, channel
        indices, confidence, category and label in each recording's study schema) and the
        insert both run inside DuckDB over the Arrow table. All or nothing. Rows are stored in
        (recording, onset) order with one audit entry for the load.

        Parameters
        ----------
        columns
            ``recording_id`` (string), ``onset_s``, ``duration_s`` (float64, s), ``label``,
            ``category`` (string); optional ``channels`` (list of int, empty = all channels),
            ``confidence`` (float64 or null), ``import_ref`` (JSON text or null).
        user, source, status, run_id
            As in :meth:`insert_events`.

        Raises
        ------
        RecordingNotFoundError, InvalidEventError, UnknownLabelError
        """
        table = _normalise_event_columns(columns)
        n = int(table.num_rows)
        if n == 0:
            return 0
        name, ready = "_events_columns", "_events_columns_ready"
        with self.write_lock:
            with self.transaction() as cur:
                cur.register(name, table)
                try:
                    self._check_event_columns(cur, name)
                    now = self.audit_now()
                    # one block of ids, numbered in storage order
                    lo = reserve_ids(cur, "event_id_seq", n)
                    meta = cur.execute(
                        "SELECT recording_id, schema_name, schema_version FROM "
                        f"({_RECORDING_META_SQL.format(name=name)})").fetchall()
                    n_rec = (len(meta),)
                    values = ("?, ?, import_ref, confidence, ?, schema_name, schema_version, "
                              "?, ?, ?, ?, 1, false")
                    params = [source.value, run_id, status.value, user.name, now, user.name,
                              now]
                    if _is_sorted(table):
                        # Already in storage order: ids and schema columns from Arrow, and a
                        # plain scan (no join, sort or window) keeps the order.
                        cur.register(ready, _with_ids_and_schema(table, int(lo), meta))
                        cur.execute(
                            f"INSERT INTO events ({_INSERT_COLUMNS}) SELECT event_id, "
                            "recording_id, channels, onset_s, duration_s, label, category, "
                            f"{values} FROM {ready}", params).fetchall()
                    else:
                        cur.execute(
                            f"INSERT INTO events ({_INSERT_COLUMNS}) "
                            f"SELECT {int(lo) - 1} + row_number() OVER (), recording_id, "
                            "channels, onset_s, duration_s, label, category, "
                            f"{values} FROM (SELECT i.*, m.schema_name, m.schema_version "
                            f"FROM {name} i JOIN ({_RECORDING_META_SQL.format(name=name)}) m "
                            "USING (recording_id) ORDER BY i.recording_id, i.onset_s)",
                            params).fetchall()
                finally:
                    cur.unregister(name)
                    cur.unregister(ready)
                self.on_commit(self._forget_longest_events)
                self.append_audit(cur, user.name, "events.insert", "recordings",
                                  {"n": n, "n_recordings": int(n_rec[0]),
                                   "source": source.value, "run_id": run_id})
            self.write_audit_anchor()
        return n

    def _check_event_columns(self, cur: duckdb.DuckDBPyConnection, name: str) -> None:
        cats = ", ".join(f"'{c}'" for c in CATEGORIES)
        rows = cur.execute(
            "SELECT i.recording_id, i.onset_s, i.duration_s, i.label, i.category, "
            "m.rec_duration_s, m.n_channels, CASE "
            "WHEN m.rec_duration_s IS NULL THEN 'recording' "
            "WHEN NOT (isfinite(i.onset_s) AND isfinite(i.duration_s)) THEN 'finite' "
            "WHEN i.duration_s < 0 THEN 'negative' "
            f"WHEN i.onset_s < 0 OR i.onset_s + i.duration_s > m.rec_duration_s + {_TIME_EPS_S} "
            "THEN 'outside' "
            "WHEN i.confidence IS NOT NULL AND NOT (i.confidence BETWEEN 0 AND 1) "
            "THEN 'confidence' "
            "WHEN len(i.channels) > 0 AND (list_min(i.channels) < 0 "
            "OR list_max(i.channels) >= m.n_channels) THEN 'channel' "
            f"WHEN i.category NOT IN ({cats}) THEN 'category' "
            "WHEN i.category = 'other' AND trim(i.label) = '' THEN 'empty' "
            "WHEN i.category <> 'other' AND ls.label IS NULL THEN 'label' END AS problem "
            f"FROM {name} i LEFT JOIN ({_RECORDING_META_SQL.format(name=name)}) m "
            "USING (recording_id) LEFT JOIN label_schemas ls ON ls.schema_name = m.schema_name "
            "AND ls.schema_version = m.schema_version AND ls.category = i.category "
            "AND ls.label = i.label WHERE problem IS NOT NULL LIMIT 1"
        ).fetchall()
        if not rows:
            return
        rid, onset, dur, label, category, rec_dur, n_ch, problem = rows[0]
        where = f"event {label!r} at {onset} s of recording {rid!r}"
        if problem == "recording":
            raise RecordingNotFoundError(str(rid))
        if problem == "category":
            raise UnknownLabelError(
                f"{where}: unknown category {category!r}; categories are {', '.join(CATEGORIES)}")
        if problem in ("label", "empty"):
            raise UnknownLabelError(
                f"{where}: label {label!r} is not allowed for category {category!r} in the "
                "recording's study schema")
        reasons = {
            "finite": "onset and duration must be finite numbers",
            "negative": f"duration {dur} s is negative",
            "outside": f"[{onset}, {onset + dur}] s lies outside the recording [0, {rec_dur}] s",
            "confidence": "confidence outside [0, 1]",
            "channel": f"channel index outside 0..{int(n_ch) - 1}",
        }
        raise InvalidEventError(f"{where}: {reasons[str(problem)]}")

    def record_detector_run(
        self,
        recording_id: str,
        *,
        detector: str,
        detector_version: str,
        params: dict[str, Any],
        code_version: str,
        started_at: datetime,
        drafts: Sequence[EventDraft],
        user: User,
    ) -> int:
        """Store a detector run and its proposals in one transaction; return the run id."""
        with self.write_lock:
            with self.transaction() as cur:
                row = cur.execute("SELECT nextval('run_id_seq')").fetchone()
                assert row is not None
                run_id = int(row[0])
                cur.execute(
                    "INSERT INTO detector_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, recording_id, detector, detector_version,
                     json.dumps(params, sort_keys=True, default=str), code_version, started_at,
                     self.audit_now(), len(drafts), user.name],
                )
                self._recording_bounds(cur, recording_id)
                n = self._insert_events_in(
                    cur, recording_id, drafts, user=user, source=EventSource.DETECTOR,
                    status=EventStatus.PROPOSED, run_id=run_id, validate=True)
                self.append_audit(cur, user.name, "detector.run", f"recording:{recording_id}",
                                  {"run_id": run_id, "detector": detector,
                                   "version": detector_version, "n_events": n})
            self.write_audit_anchor()
        return run_id

