"""Events: bulk loads, window queries, decisions, stale edits, permissions, undo/redo."""

from __future__ import annotations

import pytest

from store import EventDraft, EventSource, EventStatus, Store, User
from store.errors import (
    EventNotFoundError,
    InvalidEventError,
    NothingToUndoError,
    PermissionDeniedError,
    RecordingNotFoundError,
    StaleEditError,
    UnknownLabelError,
)

REC = "rtest00000001"


def _proposals(n: int) -> list[EventDraft]:
    return [EventDraft(float(i * 7 % 590), 1.0, "V", "beat", (0,), confidence=(i % 10) / 10)
            for i in range(n)]


def test_bulk_insert_then_window_query_returns_overlapping_events_in_onset_order(
    store: Store, users: dict[str, User]
) -> None:
    n = store.insert_events(REC, _proposals(200), user=users["admin"],
                            source=EventSource.DETECTOR)
    assert n == 200
    got = store.list_events(REC, 100.0, 130.0)
    expected = sorted(d.onset_s for d in _proposals(200) if d.onset_s < 130 and
                      d.onset_s + d.duration_s >= 100)
    assert [e.onset_s for e in got] == expected
    assert all(e.status is EventStatus.PROPOSED and e.source is EventSource.DETECTOR
               for e in got)


def test_filters_by_category_status_and_channel(store: Store, users: dict[str, User]) -> None:
    a = users["annotator"]
    store.create_event(REC, EventDraft(10, 2, "artifact", "artifact", (1,)), a)
    store.create_event(REC, EventDraft(11, 30, "N2", "sleep_stage", ()), a)
    store.insert_events(REC, [EventDraft(12, 0, "N", "beat", (0,), 0.9)], user=a,
                        source=EventSource.DETECTOR)
    assert {e.label for e in store.list_events(REC, 0, 60, categories=["beat"])} == {"N"}
    assert {e.label for e in store.list_events(REC, 0, 60, statuses=["confirmed"])} == {
        "artifact", "N2"}
    on_ch1 = {e.label for e in store.list_events(REC, 0, 60, channel=1)}
    assert on_ch1 == {"artifact", "N2"}  # N2 spans all channels, the beat is on channel 0


@pytest.mark.parametrize(
    ("draft", "error"),
    [
        (EventDraft(590, 20, "N2", "sleep_stage"), InvalidEventError),   # ends after the end
        (EventDraft(-1, 1, "N2", "sleep_stage"), InvalidEventError),     # before the start
        (EventDraft(10, -1, "N2", "sleep_stage"), InvalidEventError),    # negative duration
        (EventDraft(10, 1, "N2", "sleep_stage", (7,)), InvalidEventError),  # unknown channel
        (EventDraft(10, 1, "S5", "sleep_stage"), UnknownLabelError),     # not in the schema
        (EventDraft(10, 1, "x", "nonsense"), UnknownLabelError),         # unknown category
        (EventDraft(float("nan"), 1, "N2", "sleep_stage"), InvalidEventError),
    ],
)
def test_invalid_events_are_refused_and_nothing_is_written(
    store: Store, users: dict[str, User], draft: EventDraft, error: type[Exception]
) -> None:
    good = EventDraft(1, 1, "W", "sleep_stage")
    with pytest.raises(error) as info:
        store.insert_events(REC, [good, draft], user=users["admin"], source=EventSource.IMPORT)
    assert str(info.value)
    assert store.list_events(REC) == []


def test_events_for_an_unknown_recording_are_refused(
    store: Store, users: dict[str, User]
) -> None:
    with pytest.raises(RecordingNotFoundError):
        store.create_event("rnope", EventDraft(1, 1, "W", "sleep_stage"), users["annotator"])


def test_confirm_reject_edit_keep_history_and_bump_version(
    store: Store, users: dict[str, User]
) -> None:
    a = users["annotator"]
    store.insert_events(REC, _proposals(3), user=a, source=EventSource.DETECTOR)
    e1, e2, e3 = store.list_events(REC)
    c = store.confirm_event(e1.event_id, a, e1.version)
    r = store.reject_event(e2.event_id, a, e2.version)
    ed = store.edit_event(e3.event_id, a, e3.version, onset_s=100.0, label="A")
    assert (c.status, r.status, ed.status) == (EventStatus.CONFIRMED, EventStatus.REJECTED,
                                                EventStatus.EDITED)
    assert ed.onset_s == 100.0 and ed.label == "A" and ed.version == e3.version + 1
    n_reviews = store.cursor().execute("SELECT count(*) FROM reviews").fetchone()
    assert n_reviews == (3,)


def test_stale_edit_is_refused_with_both_versions(store: Store, users: dict[str, User]) -> None:
    a, r = users["annotator"], users["reviewer"]
    e = store.create_event(REC, EventDraft(5, 1, "artifact", "artifact"), a)
    store.edit_event(e.event_id, r, e.version, duration_s=2.0)
    with pytest.raises(StaleEditError) as info:
        store.edit_event(e.event_id, a, e.version, duration_s=3.0)
    assert info.value.expected_version == e.version
    assert info.value.actual_version == e.version + 1
    assert store.get_event(e.event_id).duration_s == 2.0


def test_annotators_cannot_change_others_events_but_reviewers_can(
    store: Store, users: dict[str, User]
) -> None:
    e = store.create_event(REC, EventDraft(5, 1, "artifact", "artifact"), users["annotator"])
    with pytest.raises(PermissionDeniedError):
        store.reject_event(e.event_id, users["annotator2"])
    with pytest.raises(PermissionDeniedError):
        store.create_event(REC, EventDraft(5, 1, "artifact", "artifact"), users["researcher"])
    assert store.reject_event(e.event_id, users["reviewer"]).status is EventStatus.REJECTED


def test_undo_and_redo_walk_back_and_forth_through_own_decisions(
    store: Store, users: dict[str, User]
) -> None:
    a = users["annotator"]
    store.insert_events(REC, _proposals(1), user=a, source=EventSource.DETECTOR)
    (e,) = store.list_events(REC)
    store.confirm_event(e.event_id, a)
    store.edit_event(e.event_id, a, None, label="A")
    assert store.undo(a).label == "V"
    undone = store.undo(a)
    assert undone.status is EventStatus.PROPOSED and undone.label == "V"
    with pytest.raises(NothingToUndoError):
        store.undo(a)
    assert store.redo(a).status is EventStatus.CONFIRMED
    redone = store.redo(a)
    assert (redone.label, redone.status) == ("A", EventStatus.EDITED)
    with pytest.raises(NothingToUndoError):
        store.redo(a)


def test_undo_of_a_creation_deletes_and_a_new_decision_clears_redo(
    store: Store, users: dict[str, User]
) -> None:
    a = users["annotator"]
    e = store.create_event(REC, EventDraft(5, 1, "artifact", "artifact"), a)
    store.undo(a)
    with pytest.raises(EventNotFoundError):
        store.get_event(e.event_id)
    store.create_event(REC, EventDraft(9, 1, "artifact", "artifact"), a)
    with pytest.raises(NothingToUndoError):
        store.redo(a)


def test_undo_refuses_to_overwrite_someone_elses_later_change(
    store: Store, users: dict[str, User]
) -> None:
    a, r = users["annotator"], users["reviewer"]
    e = store.create_event(REC, EventDraft(5, 1, "artifact", "artifact"), a)
    store.edit_event(e.event_id, a, None, duration_s=3.0)
    store.edit_event(e.event_id, r, None, duration_s=4.0)
    with pytest.raises(StaleEditError):
        store.undo(a)
    assert store.get_event(e.event_id).duration_s == 4.0


def test_batch_confirm_is_all_or_nothing(store: Store, users: dict[str, User]) -> None:
    a = users["annotator"]
    store.insert_events(REC, _proposals(4), user=a, source=EventSource.DETECTOR)
    ids = [e.event_id for e in store.list_events(REC)]
    with pytest.raises(EventNotFoundError):
        store.decide_many([*ids, 99999], "confirm", a)
    assert {e.status for e in store.list_events(REC)} == {EventStatus.PROPOSED}
    store.decide_many(ids, "confirm", a)
    assert {e.status for e in store.list_events(REC)} == {EventStatus.CONFIRMED}


def test_review_queue_orders_least_confident_first_and_stats_count_decisions(
    store: Store, users: dict[str, User]
) -> None:
    from datetime import datetime

    a = users["annotator"]
    run = store.record_detector_run(
        REC, detector="ecg.beats", detector_version="1.0", params={"k": 1}, code_version="t",
        started_at=datetime(2026, 1, 1), drafts=_proposals(10), user=a)
    queue = store.review_queue(REC, run)
    confidences = [e.confidence for e in queue]
    assert confidences == sorted(confidences)  # type: ignore[type-var]
    store.confirm_event(queue[0].event_id, a)
    store.reject_event(queue[1].event_id, a)
    store.edit_event(queue[2].event_id, a, None, label="A")
    store.confirm_event(queue[3].event_id, a)
    (stats,) = store.detector_statistics()
    assert stats["n_proposed"] == 10 and stats["n_reviewed"] == 4
    assert stats["acceptance_rate"] == pytest.approx(0.5)
    assert stats["rejection_rate"] == pytest.approx(0.25)


def test_scoring_an_epoch_confirms_relabels_or_creates_the_stage(
    store: Store, users: dict[str, User]
) -> None:
    a = users["annotator"]
    store.insert_events(REC, [EventDraft(0, 30, "N2", "sleep_stage", (), 0.8),
                              EventDraft(30, 30, "N3", "sleep_stage", (), 0.6)],
                        user=a, source=EventSource.DETECTOR)
    assert store.set_epoch_stage(REC, 0, 30, "N2", a).status is EventStatus.CONFIRMED
    relabelled = store.set_epoch_stage(REC, 30, 30, "R", a)
    assert (relabelled.label, relabelled.status) == ("R", EventStatus.EDITED)
    created = store.set_epoch_stage(REC, 60, 30, "W", a)
    assert created.source is EventSource.HUMAN and created.duration_s == 30
    assert [e.label for e in store.list_events(REC, categories=["sleep_stage"])] == [
        "N2", "R", "W"]
