"""``GET /api/health``: whether this server can serve and record decisions, for load balancers
and monitoring.

Public (no sign-in) and free of patient data: it answers 200 with the schema version and the
number of decisions waiting in the decision log, or 503 (problem+json) when the database does not
answer or decisions are not reaching it.
"""

from __future__ import annotations

import duckdb
import msgspec
from litestar import Controller, get
from litestar.datastructures import State

from server.errors import ServiceUnhealthyError
from server.routes.events import store_of


class HealthOut(msgspec.Struct, frozen=True):
    """A healthy server.

    Attributes
    ----------
    status
        Always ``"ok"`` (an unhealthy server answers 503 instead).
    schema_version
        The database's schema version.
    pending_decisions
        Decisions durable in the decision log, not yet folded into the database (folds run
        every second while decisions arrive).
    """

    status: str
    schema_version: int
    pending_decisions: int


class HealthController(Controller):
    """Liveness and readiness in one check."""

    path = "/api/health"
    tags = ("health",)

    @get("/", operation_id="getHealth", sync_to_thread=True)
    def get_health(self, state: State) -> HealthOut:
        """200 when the database answers and decisions reach it; 503 otherwise."""
        store = store_of(state)
        log = store.decision_log_status()
        if log.last_fold_error is not None:
            raise ServiceUnhealthyError(
                f"{log.pending} review decisions are safe in the decision log but folding them "
                "into the database fails (see the server log); reads other than event windows "
                "fail until it succeeds")
        try:
            row = store.cursor_without_fold().execute(
                "SELECT coalesce(max(version), 0) FROM schema_version").fetchall()
        except duckdb.Error as exc:
            raise ServiceUnhealthyError(
                "the database does not answer a query (see the server log)") from exc
        return HealthOut(status="ok", schema_version=int(row[0][0]),
                         pending_decisions=log.pending)


__all__ = ["HealthController", "HealthOut"]
