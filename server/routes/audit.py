"""``/api/audit``: read and verify the hash-chained audit log (admin)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import QueryParameter

from store import AuditEntry, Store


class AuditEntryOut(msgspec.Struct, frozen=True):
    """One audit entry (``at`` in UTC, ISO 8601)."""

    seq: int
    at: str
    user_name: str
    action: str
    target: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditListOut(msgspec.Struct, frozen=True):
    """Entries with ``seq > after_seq``; page on with ``after_seq = next_after_seq``."""

    entries: list[AuditEntryOut]
    next_after_seq: int | None


class AuditVerifyOut(msgspec.Struct, frozen=True):
    """Result of recomputing the hash chain and checking the anchor file."""

    ok: bool
    n_entries: int
    problems: list[str]


def entry_out(e: AuditEntry) -> AuditEntryOut:
    """The wire form of an audit entry."""
    return AuditEntryOut(
        seq=e.seq,
        at=e.at.isoformat(),
        user_name=e.user_name,
        action=e.action,
        target=e.target,
        detail=e.detail,
        prev_hash=e.prev_hash,
        hash=e.hash,
    )


class AuditController(Controller):
    """The audit log."""

    path = "/api/audit"
    tags = ("admin",)

    @get("/", operation_id="listAudit", sync_to_thread=True)
    def list_audit(
        self,
        state: State,
        after_seq: Annotated[int, QueryParameter(ge=0, description="Entries after this.")] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=10_000)] = 100,
    ) -> AuditListOut:
        """Audit entries in order."""
        store: Store = state.store
        entries = store.list_audit(limit=limit, after_seq=after_seq)
        return AuditListOut(
            entries=[entry_out(e) for e in entries],
            next_after_seq=entries[-1].seq if len(entries) == limit else None,
        )

    @get("/verify", operation_id="verifyAudit", sync_to_thread=True)
    def verify(self, state: State) -> AuditVerifyOut:
        """Recompute the chain: ``ok`` is false if any entry was altered, inserted or removed."""
        store: Store = state.store
        report = store.verify_audit()
        return AuditVerifyOut(ok=report.ok, n_entries=report.n_entries, problems=report.problems)


__all__ = ["AuditController", "AuditEntryOut", "AuditListOut", "AuditVerifyOut", "entry_out"]
