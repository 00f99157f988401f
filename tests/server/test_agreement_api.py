"""Agreement, disagreements, adjudication and consensus over HTTP.

Two annotators score the same six epochs through ``PUT /api/recordings/{id}/epochs/{index}``;
the expected statistics are worked out by hand below. A reviewer adjudicates; annotators and
researchers may not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from store import Store
from tests.server.review_env import ReviewEnv, make_env, register_night, running_client

Client = TestClient[Litestar]
RID = "ragree0000001"
A = ["W", "W", "N1", "N2", "N2", "N3"]
B = ["W", "N1", "N1", "N2", "N3", "N3"]
# Cohen: p_o = 4/6; marginals A (W2 N1 1 N2 2 N3 1), B (W1 N1 2 N2 1 N3 2):
# p_e = (2*1 + 1*2 + 2*1 + 1*2) / 36 = 8/36; kappa = (24/36 - 8/36) / (28/36) = 16/28.
COHEN = 16 / 28
# Fleiss (2 raters): pooled proportions 3/12 each -> p_e = 1/4; P-bar = 4/6; (2/3-1/4)/(3/4).
FLEISS = 5 / 9


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> ReviewEnv:
    env = make_env(tmp_path_factory.mktemp("agreement"))
    with Store.open(env.path / "wavescore.duckdb") as store:
        register_night(store, RID)
    return env


@pytest.fixture(scope="module")
def client(env: ReviewEnv) -> Iterator[Client]:
    with running_client(env) as c:
        for who, stages in (("annotator", A), ("annotator2", B)):
            for i, stage in enumerate(stages):
                r = c.put(f"/api/recordings/{RID}/epochs/{i}", json={"stage": stage},
                          headers=env.auth(who))
                assert r.status_code == 200, r.text
        yield c


def test_agreement_reports_pairwise_cohen_and_fleiss_kappa(client: Client,
                                                           env: ReviewEnv) -> None:
    r = client.get(f"/api/recordings/{RID}/agreement", headers=env.auth("researcher"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scorers"] == ["annotator", "annotator2"]
    assert body["n_epochs_scored"] == {"annotator": 6, "annotator2": 6}
    (pair,) = body["pairs"]
    assert (pair["scorer_a"], pair["scorer_b"], pair["n_epochs"]) == ("annotator", "annotator2",
                                                                      6)
    assert pair["percent_agreement"] == pytest.approx(100 * 4 / 6)
    assert pair["kappa"] == pytest.approx(COHEN)
    assert body["fleiss_kappa"] == pytest.approx(FLEISS)
    assert body["epoch_s"] == 30.0 and body["n_disagreements"] == 2


def test_reviewer_adjudicates_and_consensus_follows(client: Client, env: ReviewEnv) -> None:
    r = client.get(f"/api/recordings/{RID}/disagreements", headers=env.auth("annotator"))
    assert r.status_code == 200
    items = r.json()["disagreements"]
    assert [(d["epoch"], d["onset_s"]) for d in items] == [(1, 30.0), (4, 120.0)]
    assert items[0]["labels"] == {"annotator": "W", "annotator2": "N1"}
    assert all(d["adjudicated"] is None for d in items)

    for who in ("annotator", "annotator2", "researcher"):
        denied = client.put(f"/api/recordings/{RID}/adjudications/1",
                            json={"stage": "N1"}, headers=env.auth(who))
        assert denied.status_code == 403, who
    r = client.put(f"/api/recordings/{RID}/adjudications/1",
                   json={"stage": "W", "note": "alpha on O2"}, headers=env.auth("reviewer"))
    assert r.status_code == 200, r.text
    assert r.json() == {"recording_id": RID, "epoch": 1, "onset_s": 30.0, "stage": "W",
                        "note": "alpha on O2", "adjudicated_by": "reviewer"}

    after = client.get(f"/api/recordings/{RID}/disagreements",
                       headers=env.auth("annotator")).json()
    assert [d["adjudicated"] for d in after["disagreements"]] == ["W", None]
    assert after["n_unresolved"] == 1
    consensus = client.get(f"/api/recordings/{RID}/consensus",
                           headers=env.auth("annotator")).json()
    assert [(e["epoch"], e["stage"]) for e in consensus["epochs"]] == [
        (0, "W"), (1, "W"), (2, "N1"), (3, "N2"), (4, None), (5, "N3")]
    assert consensus["n_unresolved"] == 1
    agreement = client.get(f"/api/recordings/{RID}/agreement",
                           headers=env.auth("annotator")).json()
    assert agreement["n_disagreements"] == 2 and agreement["n_unresolved"] == 1

    # a later adjudication of the same epoch replaces the earlier one
    r = client.put(f"/api/recordings/{RID}/adjudications/1", json={"stage": "N1"},
                   headers=env.auth("admin"))
    assert r.status_code == 200
    consensus = client.get(f"/api/recordings/{RID}/consensus",
                           headers=env.auth("annotator")).json()
    assert consensus["epochs"][1]["stage"] == "N1"
    store: Store = client.app.state.store
    actions = [e.action for e in store.list_audit(limit=100_000)]
    assert actions.count("stage.adjudicate") == 2


def test_adjudication_refuses_bad_stages_and_epochs(client: Client, env: ReviewEnv) -> None:
    bad = client.put(f"/api/recordings/{RID}/adjudications/2", json={"stage": "N4"},
                     headers=env.auth("reviewer"))
    assert bad.status_code == 422 and "N4" in bad.json()["detail"]
    outside = client.put(f"/api/recordings/{RID}/adjudications/100000", json={"stage": "W"},
                         headers=env.auth("reviewer"))
    assert outside.status_code == 422 and "outside" in outside.json()["detail"]
    unknown = client.get("/api/recordings/rnope/agreement", headers=env.auth("reviewer"))
    assert unknown.status_code == 404
    anonymous = client.get(f"/api/recordings/{RID}/agreement")
    assert anonymous.status_code == 401


def test_recording_nobody_scored_has_empty_agreement(client: Client, env: ReviewEnv) -> None:
    from tests.server.review_env import NIGHT_ID

    body = client.get(f"/api/recordings/{NIGHT_ID}/agreement",
                      headers=env.auth("annotator")).json()
    assert body["scorers"] == [] and body["pairs"] == [] and body["fleiss_kappa"] is None
    assert client.get(f"/api/recordings/{NIGHT_ID}/consensus",
                      headers=env.auth("annotator")).json()["epochs"] == []
