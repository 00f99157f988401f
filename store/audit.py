"""The append-only audit log, a hash chain.

Each entry hashes the previous entry's hash together with its own content, so changing or
deleting any entry breaks every later hash. A small anchor file beside the database
(``<db>.audit-head``) records the newest sequence number and hash, so deleting entries from the
end is detected too. :meth:`AuditMixin.verify_audit` recomputes the chain.

Every write to the store appends its audit entry in the same transaction, under the process's
write lock, so the chain order is the commit order.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from store._db import Database

GENESIS_HASH = "0" * 64
_ANCHOR_RECORD_SIZE = 128  # bytes; the JSON record is padded with spaces


def audit_row(entry: AuditEntry) -> list[Any]:
    """The ``audit_log`` column values of ``entry`` (``detail`` as canonical JSON text)."""
    detail_text = json.dumps(entry.detail, sort_keys=True, ensure_ascii=False,
                             separators=(",", ":"), default=str)
    return [entry.seq, entry.at, entry.user_name, entry.action, entry.target, detail_text,
            entry.prev_hash, entry.hash]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def entry_hash(
    prev_hash: str, seq: int, at: datetime, user_name: str, action: str, target: str, detail: str
) -> str:
    """Return the sha256 hex digest chaining one audit entry to the previous one."""
    payload = json.dumps(
        [prev_hash, seq, at.isoformat(timespec="microseconds"), user_name, action, target, detail],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit log row."""

    seq: int
    at: datetime
    user_name: str
    action: str
    target: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Result of :meth:`AuditMixin.verify_audit`.

    Attributes
    ----------
    ok
        True when the chain and the anchor verify.
    n_entries
        Entries checked.
    problems
        One line per problem found (altered entry, gap, missing tail...).
    """

    ok: bool
    n_entries: int
    problems: list[str]


class AuditMixin(Database):
    """Audit log API; also owns the process-wide write lock."""

    @property
    def write_lock(self) -> threading.RLock:
        """Serialises every write of this process (keeps the audit chain in commit order)."""
        lock = self.__dict__.get("_write_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_write_lock", threading.RLock())
        return lock  # type: ignore[no-any-return]

    @property
    def audit_anchor_path(self) -> Path:
        """The anchor file holding the newest ``seq`` and hash."""
        return self.path.with_name(self.path.name + ".audit-head")

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """As :meth:`store._db.Database.transaction`; also tracks the audit chain's head."""
        self._local.audit_tx_head = None
        self._local.on_commit = []
        try:
            with super().transaction() as cur:
                yield cur
        except BaseException:
            self._local.audit_tx_head = None
            self._local.on_commit = []
            raise
        head = getattr(self._local, "audit_tx_head", None)
        self._local.audit_tx_head = None
        if head is not None:
            self.__dict__["_audit_head_cache"] = head
        callbacks, self._local.on_commit = self._local.on_commit, []
        for callback in callbacks:
            callback()

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after the calling thread's open transaction commits (never on
        rollback). Used to keep in-memory caches in step with committed state."""
        pending: list[Callable[[], None]] | None = getattr(self._local, "on_commit", None)
        if pending is None:
            raise RuntimeError("on_commit called outside a transaction")
        pending.append(callback)

    def _audit_head(self, cur: duckdb.DuckDBPyConnection) -> tuple[int, str]:
        # The newest entry is remembered: within the open transaction of this thread, and the
        # newest committed one (one writing process per database, writes serialised by
        # write_lock), so an append does not scan the log. A stale head could only make the
        # next insert collide on the seq primary key (a loud failure), never fork the chain.
        in_tx: tuple[int, str] | None = getattr(self._local, "audit_tx_head", None)
        if in_tx is not None:
            return in_tx
        cached: tuple[int, str] | None = self.__dict__.get("_audit_head_cache")
        if cached is not None:
            return cached
        row = cur.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def load_audit_head(self) -> None:
        """Read the chain's newest entry now, so the first append of the process does not."""
        with self.write_lock:
            if self.__dict__.get("_audit_head_cache") is None:
                self.__dict__["_audit_head_cache"] = self._audit_head(self.cursor())

    def append_audit(
        self,
        cur: duckdb.DuckDBPyConnection,
        user_name: str,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry inside the caller's transaction (hold :attr:`write_lock`).

        Parameters
        ----------
        cur
            The cursor of the open transaction that makes the audited change.
        user_name
            Who did it (``"system"`` for the CLI without a user).
        action
            Verb such as ``event.confirm``, ``recording.view``, ``user.create``.
        target
            What it was done to (``event:42``, ``recording:r0123...``).
        detail
            JSON-serialisable specifics; never identifying patient data.
        """
        entry = self.next_audit_entry(cur, user_name, action, target, detail)
        cur.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    audit_row(entry))
        self.__dict__["_pending_anchor"] = (entry.seq, entry.hash)
        self._local.audit_tx_head = (entry.seq, entry.hash)
        return entry

    def next_audit_entry(
        self,
        cur: duckdb.DuckDBPyConnection,
        user_name: str,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
        after: AuditEntry | None = None,
    ) -> AuditEntry:
        """Build (not store) the entry that follows ``after``, or the chain's head when None.

        The caller stores it and moves the head on; see :meth:`append_audit`.
        """
        seq, prev = (after.seq, after.hash) if after is not None else self._audit_head(cur)
        seq += 1
        at = _now()
        detail_text = json.dumps(detail or {}, sort_keys=True, ensure_ascii=False,
                                 separators=(",", ":"), default=str)
        digest = entry_hash(prev, seq, at, user_name, action, target, detail_text)
        return AuditEntry(seq, at, user_name, action, target, detail or {}, prev, digest)

    def write_audit_anchor(self) -> None:
        """Record the newest entry in the anchor file (call after the transaction commits)."""
        pending = self.__dict__.pop("_pending_anchor", None)
        if pending is None:
            return
        # One fixed-size record rewritten in place: a single small pwrite on a file kept open
        # (a temp file + rename per decision cost milliseconds in directory updates).
        record = json.dumps({"seq": pending[0], "hash": pending[1]}).encode()
        fd = self.__dict__.get("_anchor_fd")
        if fd is None:
            fd = os.open(self.audit_anchor_path, os.O_RDWR | os.O_CREAT, 0o600)
            self.__dict__["_anchor_fd"] = fd
        os.pwrite(fd, record.ljust(_ANCHOR_RECORD_SIZE), 0)

    def close(self) -> None:
        """Close the anchor file and the database (idempotent)."""
        fd = self.__dict__.pop("_anchor_fd", None)
        if fd is not None:
            os.close(fd)
        super().close()

    def audit(self, user_name: str, action: str, target: str,
              detail: dict[str, Any] | None = None) -> AuditEntry:
        """Append one entry in its own transaction (for views and other read-only actions)."""
        with self.write_lock:
            with self.transaction() as cur:
                entry = self.append_audit(cur, user_name, action, target, detail)
            self.write_audit_anchor()
        return entry

    def list_audit(self, limit: int = 100, after_seq: int = 0) -> list[AuditEntry]:
        """Return entries with ``seq > after_seq`` in order, at most ``limit``."""
        rows = self.cursor().execute(
            "SELECT seq, logged_at, user_name, action, target, detail, prev_hash, hash "
            "FROM audit_log "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            [after_seq, limit],
        ).fetchall()
        return [
            AuditEntry(int(r[0]), r[1], str(r[2]), str(r[3]), str(r[4]), json.loads(r[5]),
                       str(r[6]), str(r[7]))
            for r in rows
        ]

    def verify_audit(self) -> AuditReport:
        """Recompute the hash chain and compare with the anchor.

        Returns
        -------
        AuditReport
            ``ok`` is False when any entry was altered, inserted or deleted.
        """
        problems: list[str] = []
        prev = GENESIS_HASH
        expected_seq = 1
        n = 0
        cur = self.cursor()
        result = cur.execute(
            "SELECT seq, logged_at, user_name, action, target, detail, prev_hash, hash "
            "FROM audit_log "
            "ORDER BY seq"
        )
        while batch := result.fetchmany(10_000):
            for seq, at, user, action, target, detail, prev_hash, digest in batch:
                n += 1
                if seq != expected_seq:
                    problems.append(f"entry {expected_seq} is missing (next entry is {seq})")
                if prev_hash != prev:
                    problems.append(f"entry {seq}: previous-hash link broken")
                if entry_hash(prev_hash, seq, at, user, action, target, detail) != digest:
                    problems.append(f"entry {seq}: content does not match its hash (altered)")
                prev = digest
                expected_seq = seq + 1
        anchor = self.audit_anchor_path
        if anchor.exists():
            try:
                head = json.loads(anchor.read_bytes().strip() or b"null")
                a_seq, a_hash = int(head["seq"]), str(head["hash"])
            except (ValueError, KeyError, TypeError):
                problems.append(f"anchor file {anchor} is unreadable")
            else:
                row = cur.execute("SELECT hash FROM audit_log WHERE seq = ?", [a_seq]).fetchone()
                if row is None:
                    problems.append(
                        f"entries up to {a_seq} were written but the log ends at "
                        f"{expected_seq - 1} (entries deleted from the end)"
                    )
                elif row[0] != a_hash:
                    problems.append(f"entry {a_seq} differs from the anchored hash")
        elif n:
            problems.append(f"anchor file {anchor} is missing")
        return AuditReport(ok=not problems, n_entries=n, problems=problems)

    def audit_now(self) -> datetime:
        """Current UTC time as stored (naive)."""
        return _now()


