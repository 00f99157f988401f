"""Inter-rater agreement, disagreements, adjudication and consensus."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from store import EventDraft, Role, Store, User, cohen_kappa
from store.agreement import fleiss_kappa
from store.errors import PermissionDeniedError, UnknownLabelError
from tests.conftest import need_shared

REC = "rtest00000001"


def test_cohen_kappa_matches_a_hand_computed_example() -> None:
    # 2x2 table [[20, 5], [10, 15]]: p_o = 0.7, p_e = 0.5*0.6 + 0.5*0.4 = 0.5 -> kappa 0.4
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(a, a) == pytest.approx(1.0)


def test_fleiss_kappa_matches_the_wikipedia_worked_example() -> None:
    # Fleiss (1971) example as tabulated on Wikipedia: 10 items, 14 raters, 5 categories,
    # kappa = 0.210.
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
             [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
             [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ratings = [[str(c) for c, k in enumerate(row) for _ in range(k)] for row in table]
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=5e-4)


def _score(store: Store, user: User, labels: list[str]) -> None:
    for i, lab in enumerate(labels):
        store.set_epoch_stage(REC, i * 30.0, 30.0, lab, user)


def test_independent_scorers_do_not_overwrite_each_other_and_agreement_is_computed(
    store: Store, users: dict[str, User]
) -> None:
    a, b = users["annotator"], users["annotator2"]
    store.record_detector_run(
        REC, detector="sleep.staging", detector_version="1", params={}, code_version="t",
        started_at=datetime(2026, 1, 1), user=users["admin"],
        drafts=[EventDraft(i * 30.0, 30.0, lab, "sleep_stage", (), 0.7)
                for i, lab in enumerate(["W", "N1", "N2", "N2"])])
    _score(store, a, ["W", "N1", "N2", "N3"])
    _score(store, b, ["W", "N2", "N2", "N3"])
    _, scorings = store.stage_scorings(REC)
    assert scorings["annotator1"] == {0: "W", 1: "N1", 2: "N2", 3: "N3"}
    assert scorings["annotator2"] == {0: "W", 1: "N2", 2: "N2", 3: "N3"}
    assert scorings["detector:sleep.staging@1"] == {0: "W", 1: "N1", 2: "N2", 3: "N2"}
    report = store.stage_agreement(REC)
    pair = next(p for p in report.pairs if {p.scorer_a, p.scorer_b} == {"annotator1",
                                                                         "annotator2"})
    assert pair.n_epochs == 4 and pair.percent_agreement == pytest.approx(0.75)
    assert pair.kappa == pytest.approx(cohen_kappa(["W", "N1", "N2", "N3"],
                                                   ["W", "N2", "N2", "N3"]))
    assert report.fleiss_kappa is not None


def test_disagreements_are_listed_and_adjudication_settles_the_consensus(
    store: Store, users: dict[str, User]
) -> None:
    a, b = users["annotator"], users["annotator2"]
    _score(store, a, ["W", "N1", "N2"])
    _score(store, b, ["W", "N2", "N2"])
    (d,) = store.stage_disagreements(REC)
    assert d["epoch"] == 1 and d["labels"] == {"annotator1": "N1", "annotator2": "N2"}
    assert store.stage_consensus(REC) == {0: "W", 1: None, 2: "N2"}
    with pytest.raises(PermissionDeniedError):
        store.adjudicate_epoch(REC, 1, "N1", a)
    with pytest.raises(UnknownLabelError):
        store.adjudicate_epoch(REC, 1, "S9", users["reviewer"])
    store.adjudicate_epoch(REC, 1, "N2", users["reviewer"])
    store.adjudicate_epoch(REC, 1, "N1", users["reviewer"], note="spindle-free, theta")
    assert store.stage_consensus(REC) == {0: "W", 1: "N1", 2: "N2"}
    assert store.stage_disagreements(REC)[0]["adjudicated"] == "N1"
    assert store.verify_audit().ok


def test_pairwise_kappa_of_five_real_dod_scorers_equals_a_direct_computation(
    store: Store,
) -> None:
    """DOD-H: five scorers of one night, stored through the scoring API and compared."""
    folder = need_shared("dod-scorers", "scorers", "dodh")
    night = sorted((folder / "scorer_1").glob("*.json"))[0].name
    users = [store.create_user(f"scorer{i}", Role.ANNOTATOR).user for i in range(1, 6)]
    names = {0: "W", 1: "N1", 2: "N2", 3: "N3", 4: "R"}
    kappas = []
    seqs = []
    for i, user in enumerate(users, start=1):
        stages = json.loads((folder / f"scorer_{i}" / night).read_text())
        labels = [names.get(s, "?") for s in stages[:19]]  # the test recording has 20 epochs
        seqs.append(labels)
        _score(store, user, labels)
    report = store.stage_agreement(REC)
    for p in report.pairs:
        i, j = int(p.scorer_a[-1]) - 1, int(p.scorer_b[-1]) - 1
        kappas.append(p.kappa)
        assert p.kappa == pytest.approx(cohen_kappa(seqs[i], seqs[j]))
    assert len(kappas) == 10


def test_an_imported_hypnogram_is_a_scorer_of_its_own(store: Store, users: dict[str, User]) -> None:
    from store import EventSource, EventStatus

    store.insert_events(
        REC, [EventDraft(i * 30.0, 30.0, lab, "sleep_stage", (),
                         import_ref={"file_sha256": "f" * 64, "format": "hypnogram"})
              for i, lab in enumerate(["W", "N2", "N2"])],
        user=users["reviewer"], source=EventSource.IMPORT, status=EventStatus.CONFIRMED)
    _score(store, users["annotator"], ["W", "N1", "N2"])
    _, scorings = store.stage_scorings(REC)
    assert scorings["import:ffffffffffff"] == {0: "W", 1: "N2", 2: "N2"}
    (d,) = store.stage_disagreements(REC)
    assert d["labels"] == {"annotator1": "N1", "import:ffffffffffff": "N2"}
