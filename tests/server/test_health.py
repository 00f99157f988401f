"""``GET /api/health``: 200 with the schema version and pending decisions; 503 problem+json
while decisions cannot be folded into the database, and 200 again once they can."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from store import SYSTEM_USER, EventDraft, EventSource, Store
from store.decision_log import DecisionLogMixin
from tests.server.review_env import NIGHT_ID, ReviewEnv, make_env, running_client

Client = TestClient[Litestar]


@pytest.fixture
def env(tmp_path: Path) -> ReviewEnv:
    return make_env(tmp_path)


@pytest.fixture
def client(env: ReviewEnv) -> Iterator[Client]:
    with running_client(env) as c:
        store: Store = c.app.state.store
        store.flush_interval_s = 1e9  # decisions stay pending until a fold is asked for
        store.insert_events(NIGHT_ID, [EventDraft(10.0 * i, 1.0, "N", "beat", (0,), 0.5)
                                       for i in range(3)],
                            user=SYSTEM_USER, source=EventSource.DETECTOR)
        yield c


def test_health_is_public_and_reports_schema_and_pending_decisions(
    client: Client, env: ReviewEnv
) -> None:
    r = client.get("/api/health")  # no credentials
    assert r.status_code == 200
    store: Store = client.app.state.store
    assert r.json() == {"status": "ok", "schema_version": store.schema_version,
                        "pending_decisions": 0}
    event_id = store.list_events(NIGHT_ID)[0].event_id
    assert client.post(f"/api/events/{event_id}/confirm",
                       headers=env.auth("reviewer")).status_code == 200
    assert client.get("/api/health").json()["pending_decisions"] == 1


def test_health_answers_503_while_folds_fail_and_200_after_they_succeed(
    client: Client, env: ReviewEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: Store = client.app.state.store
    event_id = store.list_events(NIGHT_ID)[0].event_id
    assert client.post(f"/api/events/{event_id}/reject",
                       headers=env.auth("reviewer")).status_code == 200

    def disk_full(self: DecisionLogMixin, cur: object, records: object) -> None:
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr(DecisionLogMixin, "_apply", disk_full)
    with pytest.raises(duckdb.IOException):
        store.flush_decisions()
    r = client.get("/api/health")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["title"] == "Service unhealthy"
    assert "1 review decisions are safe in the decision log" in body["detail"]
    assert "No space left" not in body["detail"]  # the cause goes to the log, not the public
    assert store.decision_log_status().last_fold_error == (
        "IOException: No space left on device")
    # the decision itself stays readable through the pending overlay
    assert store.get_event(event_id).status.value == "rejected"

    monkeypatch.undo()
    assert store.flush_decisions() == 1
    assert client.get("/api/health").json() == {
        "status": "ok", "schema_version": store.schema_version, "pending_decisions": 0}
