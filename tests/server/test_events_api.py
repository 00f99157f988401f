"""The events API over a running app: overlay queries, create/edit/decide/delete, stale edits,
ownership rules, undo/redo, review queue, epoch scoring with sleep statistics, detector runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from server.services.sleep_stats import compute_sleep_stats
from store import SYSTEM_USER, EventDraft, EventSource, Store
from tests.server.conftest import SAMPLE_DATA, ingest_into
from tests.server.review_env import NIGHT_ID, ReviewEnv, make_env, register_night, running_client

Client = TestClient[Litestar]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> ReviewEnv:
    return make_env(tmp_path_factory.mktemp("events"))


@pytest.fixture(scope="module")
def client(env: ReviewEnv) -> Iterator[Client]:
    with running_client(env) as c:
        yield c


def _store(client: Client) -> Store:
    store: Store = client.app.state.store
    return store


def _fresh_recording(client: Client, name: str) -> str:
    rid = ("r" + name).ljust(13, "0")[:13]
    register_night(_store(client), rid, duration_s=3600.0, n_channels=3)
    return rid


def _propose(client: Client, rid: str, drafts: list[EventDraft]) -> list[dict[str, object]]:
    _store(client).insert_events(rid, drafts, user=SYSTEM_USER, source=EventSource.DETECTOR)
    r = client.get(f"/api/recordings/{rid}/events", headers={
        "Authorization": "Bearer " + _admin_token(client)}, params={"include_rejected": True})
    return list(r.json()["events"])


_ADMIN: dict[int, str] = {}


def _admin_token(client: Client) -> str:
    if id(client) not in _ADMIN:
        _ADMIN[id(client)] = _store(client).create_user(f"adm{id(client) % 10_000}",
                                                        "admin").token
    return _ADMIN[id(client)]


def test_window_query_returns_overlapping_events_in_onset_order(client: Client,
                                                                env: ReviewEnv) -> None:
    rid = _fresh_recording(client, "window")
    drafts = [
        EventDraft(95.0, 10.0, "artifact", "artifact", (), 0.9),      # spans the start: in
        EventDraft(100.0, 0.0, "N", "beat", (1,), 0.8),               # mark at start: in
        EventDraft(129.999, 0.0, "V", "beat", (2,), 0.3),             # just before stop: in
        EventDraft(130.0, 0.0, "N", "beat", (1,), 0.8),               # at stop: out
        EventDraft(50.0, 20.0, "spindle", "spindle", (0,), 0.5),      # ends before: out
    ]
    _propose(client, rid, drafts)
    h = env.auth("annotator")
    body = client.get(f"/api/recordings/{rid}/events", params={"start_s": 100, "stop_s": 130},
                      headers=h).json()
    assert [(e["onset_s"], e["label"]) for e in body["events"]] == [
        (95.0, "artifact"), (100.0, "N"), (129.999, "V")]
    assert body["truncated"] is False and body["stop_s"] == 130
    first = body["events"][0]
    assert first["status"] == "proposed" and first["source"] == "detector"
    assert first["version"] == 1 and first["confidence"] == pytest.approx(0.9)
    beats = client.get(f"/api/recordings/{rid}/events", headers=h,
                       params={"start_s": 100, "stop_s": 130, "category": "beat"}).json()
    assert [e["label"] for e in beats["events"]] == ["N", "V"]
    ch2 = client.get(f"/api/recordings/{rid}/events", headers=h,
                     params={"start_s": 100, "stop_s": 130, "channel": 2}).json()
    assert [e["label"] for e in ch2["events"]] == ["artifact", "V"]  # all-channel + channel 2
    limited = client.get(f"/api/recordings/{rid}/events", headers=h,
                         params={"limit": 2}).json()
    assert len(limited["events"]) == 2 and limited["truncated"] is True


def test_rejected_events_are_hidden_unless_asked_for(client: Client, env: ReviewEnv) -> None:
    rid = _fresh_recording(client, "reject")
    events = _propose(client, rid, [EventDraft(10.0, 1.0, "spindle", "spindle", (0,), 0.4),
                                    EventDraft(20.0, 1.0, "spindle", "spindle", (0,), 0.6)])
    h = env.auth("annotator")
    r = client.post(f"/api/events/{events[0]['event_id']}/reject", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    shown = client.get(f"/api/recordings/{rid}/events", headers=h).json()["events"]
    assert [e["onset_s"] for e in shown] == [20.0]
    every = client.get(f"/api/recordings/{rid}/events", headers=h,
                       params={"include_rejected": True}).json()["events"]
    assert [e["status"] for e in every] == ["rejected", "proposed"]


def test_create_then_edit_on_a_stale_version_is_409(client: Client, env: ReviewEnv) -> None:
    h = env.auth("annotator")
    r = client.post(f"/api/recordings/{NIGHT_ID}/events", headers=h,
                    json={"onset_s": 600.0, "duration_s": 12.5, "label": "arousal",
                          "category": "arousal", "channels": [0, 1]})
    assert r.status_code == 201
    ev = r.json()
    assert (ev["status"], ev["source"], ev["created_by"]) == ("confirmed", "human", "annotator")
    url = f"/api/events/{ev['event_id']}"
    r = client.patch(url, headers=h, json={"version": ev["version"], "duration_s": 15.0})
    assert r.status_code == 200 and r.json()["status"] == "edited"
    assert r.json()["duration_s"] == 15.0 and r.json()["version"] == ev["version"] + 1
    stale = client.patch(url, headers=h, json={"version": ev["version"], "label": "movement",
                                               "category": "artifact"})
    assert stale.status_code == 409
    assert "version" in stale.json()["detail"]
    assert client.get(url, headers=h).json()["label"] == "arousal"


@pytest.mark.parametrize("body,status", [
    ({"onset_s": -1.0, "label": "arousal", "category": "arousal"}, 422),
    ({"onset_s": 1.0, "duration_s": 1e9, "label": "arousal", "category": "arousal"}, 422),
    ({"onset_s": 1.0, "label": "not-a-stage", "category": "sleep_stage"}, 422),
    ({"onset_s": 1.0, "label": "arousal", "category": "arousal", "channels": [99]}, 422),
    ({"onset_s": 1.0, "label": "arousal"}, 400),
    ({"onset_s": 1.0, "label": "arousal", "category": "arousal", "colour": "red"}, 400),
])
def test_invalid_events_are_refused_with_a_problem(client: Client, env: ReviewEnv,
                                                   body: dict[str, object], status: int) -> None:
    r = client.post(f"/api/recordings/{NIGHT_ID}/events", headers=env.auth("annotator"),
                    json=body)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")


def test_unknown_recording_and_event_are_404(client: Client, env: ReviewEnv) -> None:
    h = env.auth("annotator")
    assert client.get("/api/recordings/rnope00000000/events", headers=h).status_code == 404
    assert client.post("/api/events/987654321/confirm", headers=h).status_code == 404


def test_annotator_may_not_change_another_persons_event_but_reviewer_may(
        client: Client, env: ReviewEnv) -> None:
    r = client.post(f"/api/recordings/{NIGHT_ID}/events", headers=env.auth("annotator"),
                    json={"onset_s": 900.0, "label": "spindle", "category": "spindle"})
    eid = r.json()["event_id"]
    other = client.post(f"/api/events/{eid}/reject", headers=env.auth("annotator2"))
    assert other.status_code == 403
    assert "reviewer" in other.json()["detail"]
    assert client.post(f"/api/events/{eid}/reject", headers=env.auth("reviewer")).status_code == 200
    assert client.post(f"/api/events/{eid}/confirm",
                       headers=env.auth("researcher")).status_code == 403


def test_delete_hides_the_event_and_undo_brings_it_back(client: Client, env: ReviewEnv) -> None:
    rid = _fresh_recording(client, "delete")
    h = env.auth("annotator2")
    ev = client.post(f"/api/recordings/{rid}/events", headers=h,
                     json={"onset_s": 5.0, "label": "artifact", "category": "artifact"}).json()
    r = client.delete(f"/api/events/{ev['event_id']}", headers=h,
                      params={"version": ev["version"]})
    assert r.status_code == 200
    assert client.get(f"/api/recordings/{rid}/events", headers=h).json()["events"] == []
    assert client.get(f"/api/events/{ev['event_id']}", headers=h).status_code == 404
    undone = client.post("/api/undo", headers=h)
    assert undone.status_code == 200 and undone.json()["event_id"] == ev["event_id"]
    shown = client.get(f"/api/recordings/{rid}/events", headers=h).json()["events"]
    assert [e["event_id"] for e in shown] == [ev["event_id"]]


def test_undo_and_redo_apply_to_the_callers_own_decisions(client: Client,
                                                          env: ReviewEnv) -> None:
    rid = _fresh_recording(client, "undo")
    events = _propose(client, rid, [EventDraft(1.0, 0.0, "N", "beat", (0,), 0.5),
                                    EventDraft(2.0, 0.0, "N", "beat", (0,), 0.5)])
    a, b = (e["event_id"] for e in events)
    ra, rv = env.auth("reviewer"), env.auth("admin")
    assert client.post(f"/api/events/{a}/confirm", headers=ra).status_code == 200
    assert client.post(f"/api/events/{b}/reject", headers=rv).status_code == 200
    # the admin's undo reverts the admin's reject only
    r = client.post("/api/undo", headers=rv)
    assert r.status_code == 200 and r.json()["event_id"] == b and r.json()["status"] == "proposed"
    assert client.get(f"/api/events/{a}", headers=ra).json()["status"] == "confirmed"
    r = client.post("/api/undo", headers=ra)
    assert r.json()["event_id"] == a and r.json()["status"] == "proposed"
    r = client.post("/api/redo", headers=ra)
    assert r.json()["event_id"] == a and r.json()["status"] == "confirmed"
    assert client.post("/api/redo", headers=ra).status_code == 409


def test_undo_is_refused_when_someone_changed_the_event_since(client: Client,
                                                              env: ReviewEnv) -> None:
    rid = _fresh_recording(client, "undostale")
    (ev,) = _propose(client, rid, [EventDraft(1.0, 0.0, "N", "beat", (0,), 0.5)])
    eid = ev["event_id"]
    assert client.post(f"/api/events/{eid}/confirm",
                       headers=env.auth("annotator")).status_code == 200
    assert client.patch(f"/api/events/{eid}", headers=env.auth("reviewer"),
                        json={"version": 2, "label": "V"}).status_code == 200
    r = client.post("/api/undo", headers=env.auth("annotator"))
    assert r.status_code == 409
    assert client.get(f"/api/events/{eid}", headers=env.auth("annotator")).json()["label"] == "V"


def test_batch_confirm_is_all_or_nothing(client: Client, env: ReviewEnv) -> None:
    rid = _fresh_recording(client, "batch")
    events = _propose(client, rid, [EventDraft(float(i), 0.0, "N", "beat", (0,), 0.5)
                                    for i in range(5)])
    ids = [e["event_id"] for e in events]
    h = env.auth("annotator")
    bad = client.post("/api/events/batch", headers=h,
                      json={"event_ids": [*ids[:2], 987654321], "action": "confirm"})
    assert bad.status_code == 404
    statuses = {e["status"] for e in client.get(f"/api/recordings/{rid}/events",
                                                headers=h).json()["events"]}
    assert statuses == {"proposed"}
    r = client.post("/api/events/batch", headers=h, json={"event_ids": ids, "action": "confirm"})
    assert r.status_code == 200 and {e["status"] for e in r.json()["events"]} == {"confirmed"}
    wrong = client.post("/api/events/batch", headers=h, json={"event_ids": ids, "action": "nuke"})
    assert wrong.status_code == 422


def test_review_queue_is_least_confident_first_and_next_walks_it(client: Client,
                                                                  env: ReviewEnv) -> None:
    rid = _fresh_recording(client, "queue")
    confs = [0.9, 0.2, 0.5, 0.7]
    events = _propose(client, rid, [EventDraft(10.0 * i, 1.0, "spindle", "spindle", (0,), c)
                                    for i, c in enumerate(confs)])
    h = env.auth("annotator")
    queue = client.get(f"/api/recordings/{rid}/review-queue", headers=h).json()
    assert [e["confidence"] for e in queue["events"]] == [0.2, 0.5, 0.7, 0.9]
    nxt = client.get(f"/api/recordings/{rid}/review-queue/next", headers=h).json()
    assert nxt["event"]["confidence"] == 0.2 and nxt["remaining"] == 4
    client.post(f"/api/events/{nxt['event']['event_id']}/confirm", headers=h)
    nxt = client.get(f"/api/recordings/{rid}/review-queue/next", headers=h).json()
    assert nxt["event"]["confidence"] == 0.5 and nxt["remaining"] == 3
    skip = client.get(f"/api/recordings/{rid}/review-queue/next", headers=h,
                      params={"after": nxt["event"]["event_id"]}).json()
    assert skip["event"]["confidence"] == 0.7
    for e in events:
        client.post(f"/api/events/{e['event_id']}/reject", headers=env.auth("reviewer"))
    done = client.get(f"/api/recordings/{rid}/review-queue/next", headers=h).json()
    assert done == {"event": None, "remaining": 0}


def test_epoch_scoring_feeds_sleep_statistics(client: Client, env: ReviewEnv) -> None:
    rid = _fresh_recording(client, "sleep")
    hyp = ["W", "W", "N1", "N2", "N2", "W", "N2", "N3", "N3", "R", "R", "W", "N2", "W"]
    # a staging proposal for epoch 3 with the right label gets confirmed, not duplicated
    _store(client).insert_events(rid, [EventDraft(90.0, 30.0, "N2", "sleep_stage", (), 0.6)],
                                 user=SYSTEM_USER, source=EventSource.DETECTOR)
    h = env.auth("annotator")
    for i, stage in enumerate(hyp):
        r = client.put(f"/api/recordings/{rid}/epochs/{i}", headers=h, json={"stage": stage})
        assert r.status_code == 200, r.text
        assert r.json()["onset_s"] == 30.0 * i and r.json()["label"] == stage
    # rescoring an epoch relabels it
    assert client.put(f"/api/recordings/{rid}/epochs/12", headers=h,
                      json={"stage": "N3"}).json()["label"] == "N3"
    hyp[12] = "N3"
    stages = client.get(f"/api/recordings/{rid}/events", headers=h,
                        params={"category": "sleep_stage"}).json()["events"]
    assert len(stages) == len(hyp)
    stats = client.get(f"/api/recordings/{rid}/sleep-stats", headers=h).json()
    expected = compute_sleep_stats(hyp, 30.0)
    assert stats["tst_min"] == pytest.approx(expected.tst_min) == pytest.approx(4.5)
    assert stats["sleep_efficiency_pct"] == pytest.approx(expected.sleep_efficiency_pct)
    assert stats["sol_min"] == pytest.approx(1.0)
    assert stats["rem_latency_min"] == pytest.approx(3.5)
    assert stats["waso_min"] == pytest.approx(1.0)
    assert stats["stage_min"]["N3"] == pytest.approx(1.5)
    assert client.put(f"/api/recordings/{rid}/epochs/120", headers=h,
                      json={"stage": "W"}).status_code == 422
    assert client.put(f"/api/recordings/{rid}/epochs/1", headers=h,
                      json={"stage": "N5"}).status_code == 422


def test_detector_run_over_the_api_stores_reviewable_proposals(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("detect")
    (rid,) = ingest_into(path, [SAMPLE_DATA / "208.hea"])
    env = make_env(path)
    with running_client(env) as client:
        h = env.auth("reviewer")
        assert client.post(f"/api/recordings/{rid}/detect", headers=env.auth("annotator"),
                           json={"detector": "ecg.beats"}).status_code == 403
        bad = client.post(f"/api/recordings/{rid}/detect", headers=h,
                          json={"detector": "ecg.beats", "params": {"no_such": 1}})
        assert bad.status_code == 422 and "no_such" in bad.json()["detail"]
        assert client.post(f"/api/recordings/{rid}/detect", headers=h,
                           json={"detector": "nope"}).status_code == 404
        r = client.post(f"/api/recordings/{rid}/detect", headers=h,
                        json={"detector": "ecg.beats"})
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["detector"] == "ecg.beats" and run["n_events"] > 2000  # 30 min at ~100 bpm
        queue = client.get(f"/api/recordings/{rid}/review-queue", headers=h,
                           params={"run_id": run["run_id"], "limit": 5}).json()
        assert queue["truncated"] and all(e["run_id"] == run["run_id"] for e in queue["events"])
        assert all(e["channels"] and set(e["channels"]) <= {0, 1} for e in queue["events"])
        ids = [e["event_id"] for e in queue["events"]]
        client.post("/api/events/batch", headers=h, json={"event_ids": ids[:4],
                                                          "action": "confirm"})
        client.post(f"/api/events/{ids[4]}/reject", headers=h)
        stats = client.get("/api/detectors/stats", headers=h).json()["detectors"]
        (row,) = [d for d in stats if d["detector"] == "ecg.beats"]
        assert row["n_reviewed"] == 5 and row["acceptance_rate"] == pytest.approx(0.8)
        names = {d["name"] for d in client.get("/api/detectors", headers=h).json()["detectors"]}
        assert {"ecg.beats", "sleep.staging"} <= names


def test_every_decision_is_in_a_verifying_audit_chain(client: Client, env: ReviewEnv) -> None:
    # Make one of each decision here, so the test does not depend on the others having run.
    rid = _fresh_recording(client, "audited")
    h = env.auth("annotator")
    made = client.post(f"/api/recordings/{rid}/events", headers=h, json={
        "onset_s": 5.0, "duration_s": 1.0, "label": "artifact", "category": "artifact"}).json()
    client.patch(f"/api/events/{made['event_id']}", headers=h,
                 json={"version": made["version"], "duration_s": 2.0})
    proposed = _propose(client, rid, [EventDraft(10.0 * k, 0.0, "V", "beat", (0,), 0.5)
                                      for k in range(1, 9)])
    first, second, *rest = [e for e in proposed if e["source"] == "detector"]
    client.post(f"/api/events/{first['event_id']}/confirm", headers=h)
    client.post(f"/api/events/{second['event_id']}/reject", headers=h)
    client.post("/api/events/batch", headers=h,
                json={"event_ids": [e["event_id"] for e in rest], "action": "confirm"})
    client.delete(f"/api/events/{made['event_id']}", headers=h)
    client.post("/api/undo", headers=h)
    client.post("/api/redo", headers=h)
    client.get(f"/api/recordings/{rid}/events", headers=h)
    store = _store(client)
    actions = {e.action for e in store.list_audit(limit=1_000_000)}
    assert {"event.create", "event.edit", "event.confirm", "event.reject", "event.delete",
            "event.undo", "event.redo", "recording.view"} <= actions
    assert store.verify_audit().ok
    audit = client.get("/api/audit/verify", headers=env.auth("admin")).json()
    assert audit["ok"] is True and audit["n_entries"] > 20
    page = client.get("/api/audit", headers=env.auth("admin"), params={"limit": 5}).json()
    assert [e["seq"] for e in page["entries"]] == [1, 2, 3, 4, 5] and page["next_after_seq"] == 5


def test_sleep_statistics_per_scorer_and_for_the_consensus(client: Client, env: ReviewEnv) -> None:
    rid = _fresh_recording(client, "two-scorers")
    mine = ["W", "N1", "N2", "N2", "N3", "R", "W"]
    theirs = ["W", "W", "N2", "N2", "N2", "R", "W"]
    for who, hyp in (("annotator", mine), ("annotator2", theirs)):
        for i, stage in enumerate(hyp):
            r = client.put(f"/api/recordings/{rid}/epochs/{i}", headers=env.auth(who),
                           json={"stage": stage})
            assert r.status_code == 200, r.text
    url = f"/api/recordings/{rid}/sleep-stats"
    me = client.get(url, headers=env.auth("annotator"), params={"scored_by": "me"}).json()
    other = client.get(url, headers=env.auth("annotator"),
                       params={"scored_by": "annotator2"}).json()
    assert me["stage_min"]["N1"] == pytest.approx(0.5)
    assert other["stage_min"]["N1"] == pytest.approx(0.0)
    assert me["tst_min"] == pytest.approx(compute_sleep_stats(mine, 30.0).tst_min)
    assert other["tst_min"] == pytest.approx(compute_sleep_stats(theirs, 30.0).tst_min)
    # epochs 1 and 4 disagree: the consensus leaves them unscored until adjudicated
    consensus = client.get(url, headers=env.auth("annotator"),
                           params={"scored_by": "consensus"}).json()
    assert consensus["n_epochs_scored"] == len(mine) - 2
    scored = client.put(f"/api/recordings/{rid}/epochs/6", headers=env.auth("annotator"),
                        json={"stage": "N1"}).json()
    deleted = client.delete(f"/api/events/{scored['event_id']}", headers=env.auth("annotator"))
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
