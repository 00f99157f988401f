"""``POST /api/sql``: formats, the truncated flag and header, refusals, timeout, roles, audit."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pyarrow.ipc as pa_ipc
import pyarrow.parquet as pq
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from store import SYSTEM_USER, EventDraft, EventSource, Store
from tests.server.review_env import NIGHT_ID, ReviewEnv, make_env, running_client

Client = TestClient[Litestar]
N_EVENTS = 30  # 10 each of N, V, S


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> ReviewEnv:
    return make_env(tmp_path_factory.mktemp("sql"))


@pytest.fixture(scope="module")
def client(env: ReviewEnv) -> Iterator[Client]:
    with running_client(env, sql_max_rows=20, sql_timeout_s=1.0) as c:
        store: Store = c.app.state.store
        store.insert_events(NIGHT_ID, [EventDraft(float(i), 0.0, "NVS"[i % 3], "beat", (0,), 0.5)
                                       for i in range(N_EVENTS)],
                            user=SYSTEM_USER, source=EventSource.DETECTOR)
        yield c


def test_json_answer_has_columns_rows_and_flag(client: Client, env: ReviewEnv) -> None:
    r = client.post("/api/sql", headers=env.auth("researcher"), json={
        "sql": "SELECT label, count(*) AS n FROM events GROUP BY label ORDER BY label"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["columns"] == ["label", "n"]
    assert body["rows"] == [["N", 10], ["S", 10], ["V", 10]]
    assert body["truncated"] is False and r.headers["x-wavescore-truncated"] == "false"


def test_row_cap_truncates_and_says_so_in_every_format(client: Client, env: ReviewEnv) -> None:
    q = "SELECT event_id, onset_s, channels FROM events ORDER BY onset_s"
    j = client.post("/api/sql", headers=env.auth("researcher"), json={"sql": q})
    assert j.json()["truncated"] is True and j.json()["row_count"] == 20
    p = client.post("/api/sql", headers=env.auth("researcher"), json={"sql": q,
                                                                      "format": "parquet"})
    assert p.headers["x-wavescore-truncated"] == "true"
    table = pq.read_table(io.BytesIO(p.content))
    assert table.num_rows == 20 and table.column("onset_s").to_pylist()[:3] == [0.0, 1.0, 2.0]
    a = client.post("/api/sql", headers=env.auth("researcher"), json={"sql": q,
                                                                      "format": "arrow"})
    assert a.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert pa_ipc.open_stream(io.BytesIO(a.content)).read_all().num_rows == 20
    c = client.post("/api/sql", headers=env.auth("researcher"), json={"sql": q, "format": "csv"})
    lines = c.text.strip().splitlines()
    assert lines[0].replace('"', "") == "event_id,onset_s,channels" and len(lines) == 21
    assert c.headers["x-wavescore-truncated"] == "true"


@pytest.mark.parametrize("sql", [
    "DELETE FROM events",
    "SELECT * FROM main.users",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT 1; SELECT 2",
    "ATTACH '/tmp/x.db' AS x",
    "SELECT token_sha256 FROM users",
])
def test_anything_but_one_select_over_the_views_is_refused(client: Client, env: ReviewEnv,
                                                           sql: str) -> None:
    r = client.post("/api/sql", headers=env.auth("researcher"), json={"sql": sql})
    assert r.status_code == 400
    assert r.json()["title"] == "SQL refused"


def test_runtime_error_and_bad_format_are_problems(client: Client, env: ReviewEnv) -> None:
    r = client.post("/api/sql", headers=env.auth("researcher"),
                    json={"sql": "SELECT no_such_column FROM events"})
    assert r.status_code in (400, 422)
    r = client.post("/api/sql", headers=env.auth("researcher"),
                    json={"sql": "SELECT 1", "format": "xlsx"})
    assert r.status_code == 400 and "xlsx" in r.json()["detail"]


def test_long_query_is_stopped_at_the_time_limit(client: Client, env: ReviewEnv) -> None:
    r = client.post("/api/sql", headers=env.auth("researcher"), json={
        "sql": "SELECT count(*) FROM range(100000000) a, range(100000000) b"})
    assert r.status_code == 408
    assert "WAVESCORE_SQL_TIMEOUT_S" in r.json()["detail"]


@pytest.mark.parametrize("who,status", [("annotator", 403), ("reviewer", 403),
                                        ("researcher", 200), ("admin", 200)])
def test_only_researchers_and_admins_may_run_sql(client: Client, env: ReviewEnv, who: str,
                                                 status: int) -> None:
    r = client.post("/api/sql", headers=env.auth(who), json={"sql": "SELECT 1 AS one"})
    assert r.status_code == status


def test_queries_are_audited_with_their_text(client: Client, env: ReviewEnv) -> None:
    marker = "SELECT 4242 AS audited_marker"
    assert client.post("/api/sql", headers=env.auth("researcher"),
                       json={"sql": marker}).status_code == 200
    client.post("/api/sql", headers=env.auth("researcher"), json={"sql": "DROP TABLE events"})
    store: Store = client.app.state.store
    entries = [e for e in store.list_audit(limit=1_000_000) if e.action.startswith("sql.")]
    ran = [e for e in entries if e.action == "sql.run" and e.detail["sql"] == marker]
    assert ran and ran[0].user_name == "researcher" and ran[0].detail["rows"] == 1
    refused = [e for e in entries if e.action == "sql.refused"
               and e.detail["sql"] == "DROP TABLE events"]
    assert refused and refused[0].detail["error"] == "SqlRefusedError"
    assert json.dumps(ran[0].detail)  # serialisable
