"""The review workflow in a real browser: keyboard decisions on proposals, sleep scoring with the
hypnogram and statistics, undo/redo through the server, new events by Shift+drag, conflicts.

Each test signs in as its own user (``tests/viewer/conftest.py``: ``REVIEW_USERS``) so undo
histories and per-scorer epoch stages do not interfere; proposals are seeded into the store
before the server starts, as a detector run would leave them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.viewer.conftest import ARTIFACTS, SHORT_EPOCH_STUDY, LiveServer, Viewer

pytestmark = pytest.mark.browser

ST = "window.wavescore.state"
RV = "window.wavescore.review.state"


def api(server: LiveServer, who: str) -> httpx.Client:
    return httpx.Client(base_url=server.url,
                        headers={"Authorization": f"Bearer {server.tokens[who]}"}, timeout=10)


@pytest.fixture
def open_as(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest
            ) -> Iterator[Callable[..., Viewer]]:
    """Open the night's viewer signed in as a review user; screenshot on failure."""
    contexts: list[tuple[Any, Viewer]] = []

    def _open(who: str, recording_id: str | None = None) -> Viewer:
        context = browser.new_context(
            viewport={"width": 1400, "height": 900},
            extra_http_headers={"Authorization": f"Bearer {live_server.tokens[who]}"},
        )
        page = context.new_page()
        viewer = Viewer(page)
        page.on("console", lambda m: viewer.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: viewer.errors.append(f"pageerror: {e}"))
        page.goto(f"{live_server.url}/recordings/{recording_id or live_server.night_id}")
        page.wait_for_function(f"window.wavescore && {ST}.timings.length > 0", timeout=15000)
        contexts.append((context, viewer))
        return viewer

    yield _open
    rep = getattr(request.node, "rep_call", None)
    for k, (context, viewer) in enumerate(contexts):
        if rep is not None and rep.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            viewer.page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{k}.png"))
        context.close()


def idle(page: Any) -> None:
    page.evaluate("window.wavescore.review.idle()")


def press(page: Any, key: str) -> None:
    page.locator("body").press(key)


def assert_no_errors(viewer: Viewer) -> None:
    assert viewer.errors == [], viewer.errors
    assert viewer.page.evaluate(f"{ST}.errors") == []


def overlay_row(page: Any, event_id: int) -> dict[str, Any] | None:
    """The overlay's drawn style of one event (spans source), or None when not drawn."""
    row: dict[str, Any] | None = page.evaluate(
        f"""() => {{ const d = {ST}.m.spans.data;
            const k = Array.from(d.event_id).indexOf({event_id});
            return k < 0 ? null : {{dash: d.dash[k], status: d.status[k], alpha: d.alpha[k]}}; }}"""
    )
    return row


def to_screen(page: Any, x: float, y: float) -> tuple[float, float]:
    """Page pixel coordinates of data point (x s, y lane) in the traces' frame."""
    frame = page.evaluate(f"""() => {{ const v = Bokeh.index.find_one({ST}.m.plot);
        const r = v.el.getBoundingClientRect(); const b = v.frame.bbox;
        return [r.left + b.left, r.top + b.top, b.width, b.height]; }}""")
    x0, x1, y0, y1 = page.evaluate(
        f"[{ST}.m.x_range.start, {ST}.m.x_range.end, {ST}.m.y_range.start, {ST}.m.y_range.end]")
    left, top, width, height = frame
    return left + (x - x0) / (x1 - x0) * width, top + (y1 - y) / (y1 - y0) * height


def click_event(page: Any, event_id: int) -> None:
    """Click the middle of an event drawn on its first channel's lane, and check it is selected."""
    ev = page.evaluate(f"{RV}.items.find((e) => e.event_id === {event_id})")
    lane = page.evaluate(f"window.wavescore.laneOf({ev['channels'][0]})")
    page.mouse.click(*to_screen(page, ev["onset_s"] + ev["duration_s"] / 2, lane))
    page.wait_for_function(f"{RV}.selected && {RV}.selected.event_id === {event_id}",
                           timeout=3000)


def test_n_selects_the_least_confident_proposal_and_enter_confirms_it(
        open_as: Callable[..., Viewer], live_server: LiveServer) -> None:
    viewer = open_as("scorer-a")
    page = viewer.page
    page.locator("#ws-auto-advance").uncheck()
    press(page, "n")
    idle(page)
    selected = page.evaluate(f"{RV}.selected")
    assert selected is not None and selected["status"] == "proposed"
    with api(live_server, "scorer-a") as client:
        queue = client.get(f"/api/recordings/{live_server.night_id}/review-queue").json()
    assert selected["event_id"] == queue["events"][0]["event_id"]  # least confident first
    # the viewer moved to centre the event, and its overlay is drawn dashed (proposed)
    start, end = page.evaluate(f"[{ST}.m.x_range.start, {ST}.m.x_range.end]")
    middle = selected["onset_s"] + selected["duration_s"] / 2
    assert abs((start + end) / 2 - middle) < 0.5
    eid = selected["event_id"]
    page.wait_for_function(f"Array.from({ST}.m.spans.data.event_id).includes({eid})")
    assert overlay_row(page, eid) == {"dash": "dashed", "status": "proposed", "alpha": 0.07}
    assert page.evaluate(f"{ST}.m.selected_box.visible") is True
    # hovering the event shows its label, status, source, confidence and author
    lane = page.evaluate("window.wavescore.laneOf(0)")
    page.mouse.move(*to_screen(page, middle, lane))
    tip = page.locator(".ws-tip").first
    tip.wait_for(timeout=3000)
    text = tip.inner_text()
    assert "spindle" in text and "proposed" in text and "detector" in text
    assert f"confidence {selected['confidence']:.2f}" in text
    assert "by system" in text

    press(page, "Enter")
    idle(page)
    with api(live_server, "scorer-a") as client:
        after = client.get(f"/api/events/{eid}").json()
    assert after["status"] == "confirmed" and after["updated_by"] == "scorer-a"
    row = overlay_row(page, eid)
    assert row is not None and row["dash"] == "solid" and row["status"] == "confirmed"
    assert "confirmed" in page.locator("#ws-selected").inner_text()
    # N goes on to the next open proposal; Shift+N comes back to the one just decided
    press(page, "n")
    idle(page)
    following = page.evaluate(f"{RV}.selected")
    assert following["event_id"] != eid and following["status"] == "proposed"
    press(page, "Shift+N")
    idle(page)
    assert page.evaluate(f"[{RV}.selected.event_id, {RV}.selected.status]") == [eid, "confirmed"]
    assert_no_errors(viewer)


def test_reject_with_x_hides_the_event_unless_show_rejected(
        open_as: Callable[..., Viewer], live_server: LiveServer) -> None:
    viewer = open_as("scorer-e")
    page = viewer.page
    page.locator("#ws-auto-advance").uncheck()
    press(page, "n")
    idle(page)
    eid = page.evaluate(f"{RV}.selected.event_id")
    page.wait_for_function(f"Array.from({ST}.m.spans.data.event_id).includes({eid})")
    press(page, "x")
    idle(page)
    with api(live_server, "scorer-e") as client:
        assert client.get(f"/api/events/{eid}").json()["status"] == "rejected"
    assert overlay_row(page, eid) is None
    page.locator("#ws-show-rejected").check()
    page.wait_for_function(f"Array.from({ST}.m.spans.data.event_id).includes({eid})")
    assert overlay_row(page, eid)["dash"] == "dotted"  # type: ignore[index]
    # undo puts the proposal back
    press(page, "Control+z")
    idle(page)
    with api(live_server, "scorer-e") as client:
        assert client.get(f"/api/events/{eid}").json()["status"] == "proposed"
    assert overlay_row(page, eid)["dash"] == "dashed"  # type: ignore[index]
    assert_no_errors(viewer)


def test_scoring_ten_epochs_with_stage_keys_updates_api_hypnogram_and_stats(
        open_as: Callable[..., Viewer], live_server: LiveServer) -> None:
    viewer = open_as("scorer-b")
    page = viewer.page
    page.evaluate("window.wavescore.setRange(1200, 1230)")  # epoch 40
    press(page, "s")
    assert page.evaluate(f"{RV}.scoring") is True
    assert page.evaluate(f"{ST}.m.hypnogram.visible") is True
    keys = ["0", "1", "2", "2", "2", "3", "3", "5", "5", "2"]
    expected = ["W", "N1", "N2", "N2", "N2", "N3", "N3", "R", "R", "N2"]
    for k in keys:
        press(page, k)
    idle(page)
    start, end = page.evaluate(f"[{ST}.m.x_range.start, {ST}.m.x_range.end]")
    assert (start, end) == (1500.0, 1530.0)  # auto-advanced one epoch per key
    with api(live_server, "scorer-b") as client:
        events = client.get(f"/api/recordings/{live_server.night_id}/events",
                            params={"category": "sleep_stage", "start_s": 1200,
                                    "stop_s": 1500}).json()["events"]
        mine = [e for e in events if e["created_by"] == "scorer-b"]
        assert [e["label"] for e in mine] == expected
        assert [e["onset_s"] for e in mine] == [1200.0 + 30 * k for k in range(10)]
        assert all(e["status"] == "confirmed" and e["duration_s"] == 30.0 for e in mine)
        stats = client.get(f"/api/recordings/{live_server.night_id}/sleep-stats").json()
    # the hypnogram shows the ten stages (two points per epoch at the stage's level)
    assert [page.evaluate(f"window.wavescore.review.stageOf({i})") for i in range(40, 50)] \
        == expected
    ys = page.evaluate(f"Array.from({ST}.m.hyp_own.data.y).filter((v) => !Number.isNaN(v))")
    levels = {"W": 4, "R": 3, "N1": 2, "N2": 1, "N3": 0}
    assert ys == [levels[s] for s in expected for _ in range(2)]
    assert len(page.evaluate(f"{ST}.m.hyp_rem.data.left")) == 2
    # the seeded N2 proposals (epochs 100-109) are drawn on the dashed proposal line
    prop = page.evaluate(f"Array.from({ST}.m.hyp_prop.data.y).filter((v) => !Number.isNaN(v))")
    assert prop.count(1) >= 2 * 9
    # statistics panel: refreshed from the server after the scoring
    page.wait_for_function(f"{RV}.stats && {RV}.stats.n_epochs_scored >= 10")
    tst = page.locator("#ws-stats tr[data-key='total sleep time'] td").last.inner_text()
    assert tst == f"{stats['tst_min']:.1f} min"
    assert_no_errors(viewer)


def test_undo_and_redo_of_epoch_stages_and_decisions_go_through_the_server(
        open_as: Callable[..., Viewer], live_server: LiveServer) -> None:
    viewer = open_as("scorer-c")
    page = viewer.page
    page.evaluate("window.wavescore.setRange(2400, 2430)")  # epoch 80
    press(page, "s")
    press(page, "2")
    press(page, "3")
    idle(page)
    assert page.evaluate("window.wavescore.review.stageOf(81)") == "N3"
    with api(live_server, "scorer-c") as client:
        def stage_at(onset: float) -> list[str]:
            body = client.get(f"/api/recordings/{live_server.night_id}/events",
                              params={"category": "sleep_stage", "start_s": onset,
                                      "stop_s": onset + 1}).json()
            return [e["label"] for e in body["events"]
                    if e["created_by"] == "scorer-c" and e["onset_s"] == onset]

        assert stage_at(2430.0) == ["N3"]
        press(page, "Control+z")
        idle(page)
        assert stage_at(2430.0) == []  # the creation is undone on the server
        assert page.evaluate("window.wavescore.review.stageOf(81)") is None
        assert page.evaluate("window.wavescore.review.stageOf(80)") == "N2"
        # in scoring mode the view returns to the epoch whose stage was undone
        assert page.evaluate(f"{ST}.m.x_range.start") == 2430.0
        press(page, "Control+Shift+z")
        idle(page)
        assert stage_at(2430.0) == ["N3"]
        assert page.evaluate("window.wavescore.review.stageOf(81)") == "N3"
        press(page, "Control+z")
        press(page, "Control+y")
        idle(page)
        assert stage_at(2430.0) == ["N3"]
        messages = [m["text"] for m in page.evaluate(f"{RV}.messages")]
        assert any(m.startswith("Undone: N3") for m in messages)
        assert any(m.startswith("Redone: N3") for m in messages)
    assert_no_errors(viewer)


def test_stale_decision_shows_a_conflict_and_reloads_the_event(
        open_as: Callable[..., Viewer], live_server: LiveServer) -> None:
    viewer = open_as("scorer-d")
    page = viewer.page
    page.locator("#ws-auto-advance").uncheck()
    eid = live_server.seeded["spindle"][-1]
    page.evaluate("window.wavescore.setRange(590, 620)")
    page.wait_for_function(f"Array.from({ST}.m.spans.data.event_id).includes({eid})")
    click_event(page, eid)  # a click on the event selects it
    with api(live_server, "reviewer-r") as other:  # someone else relabels it meanwhile
        version = other.get(f"/api/events/{eid}").json()["version"]
        r = other.patch(f"/api/events/{eid}", json={"version": version, "label": "k_complex"})
        assert r.status_code == 200
    press(page, "Enter")
    idle(page)
    messages = page.evaluate(f"{RV}.messages")
    assert messages[-1]["kind"] == "error" and "changed by someone else" in messages[-1]["text"]
    page.wait_for_function(f"{RV}.selected && {RV}.selected.label === 'k_complex'")
    with api(live_server, "scorer-d") as client:
        assert client.get(f"/api/events/{eid}").json()["status"] == "edited"
    # the browser logs the refused request itself; nothing else may be logged
    assert [e for e in viewer.errors if "409 (Conflict)" not in e] == []
    assert page.evaluate(f"{ST}.errors") == []


def test_label_picker_relabels_and_shift_drag_creates_an_event_on_a_channel(
        open_as: Callable[..., Viewer], live_server: LiveServer) -> None:
    viewer = open_as("scorer-d")
    page = viewer.page
    page.locator("#ws-auto-advance").uncheck()
    eid = live_server.seeded["spindle"][3]
    page.evaluate("window.wavescore.setRange(290, 320)")
    page.wait_for_function(f"Array.from({ST}.m.spans.data.event_id).includes({eid})")
    click_event(page, eid)
    press(page, "l")
    assert page.locator("#ws-picker").is_visible()
    labels = page.locator("#ws-picker-list li").all_inner_texts()
    assert any(t.startswith("k_complex") for t in labels) and len(labels) == 2
    page.locator("#ws-picker-filter").fill("k_c")
    page.locator("#ws-picker-filter").press("Enter")
    idle(page)
    with api(live_server, "scorer-d") as client:
        ev = client.get(f"/api/events/{eid}").json()
    assert (ev["label"], ev["status"]) == ("k_complex", "edited")
    page.wait_for_function(f"{ST}.m.marks.data.x.length >= 1")  # edited marker drawn

    # Shift+drag across the third lane from the top: an artifact on that channel
    page.select_option("#ws-new-category", "artifact")
    page.select_option("#ws-new-label", "movement")
    shown = page.evaluate(f"{ST}.order.filter((i) => {ST}.visible.has(i))")
    target = shown[2]
    lane = page.evaluate(f"window.wavescore.laneOf({target})")
    x_a, y_px = to_screen(page, 290 + 0.25 * 30, lane)
    x_b, _ = to_screen(page, 290 + 0.45 * 30, lane)
    page.keyboard.down("Shift")
    page.mouse.move(x_a, y_px)
    page.mouse.down()
    for k in range(1, 6):
        page.mouse.move(x_a + (x_b - x_a) * k / 5, y_px)
    page.mouse.up()
    page.keyboard.up("Shift")
    idle(page)
    created = page.evaluate(f"{RV}.selected")
    assert created is not None and created["label"] == "movement"
    assert created["channels"] == [target] and created["status"] == "confirmed"
    assert created["onset_s"] == pytest.approx(290 + 0.25 * 30, abs=0.3)
    assert created["duration_s"] == pytest.approx(0.2 * 30, abs=0.3)
    x0, x1 = page.evaluate(f"[{ST}.m.x_range.start, {ST}.m.x_range.end]")
    assert (x0, x1) == (290.0, 320.0)  # Shift+drag did not pan
    assert_no_errors(viewer)


def test_read_only_role_cannot_decide(open_as: Callable[..., Viewer],
                                      live_server: LiveServer) -> None:
    viewer = open_as("researcher-x")
    page = viewer.page
    press(page, "n")
    idle(page)
    eid = page.evaluate(f"{RV}.selected.event_id")
    press(page, "Enter")
    idle(page)
    assert "may view but not annotate" in page.evaluate(f"{RV}.messages.at(-1).text")
    with api(live_server, "researcher-x") as client:
        assert client.get(f"/api/events/{eid}").json()["status"] == "proposed"
    assert_no_errors(viewer)


def test_scoring_follows_the_study_epoch_length(open_as: Callable[..., Viewer],
                                                live_server: LiveServer) -> None:
    viewer = open_as("scorer-e", live_server.mitbih_id)  # its study scores 10-s epochs
    page = viewer.page
    assert page.evaluate(f"{ST}.cfg.epoch_s") == SHORT_EPOCH_STUDY[1]
    assert page.locator("#ws-epoch-fwd").inner_text() == "10 s ›"
    page.evaluate("window.wavescore.setRange(23, 53)")
    press(page, "s")  # snaps to the 10-s epoch holding the window start
    assert page.evaluate(f"[{ST}.m.x_range.start, {ST}.m.x_range.end]") == [20.0, 30.0]
    press(page, "2")
    press(page, "4")  # not an AASM stage: refused, the epoch does not move
    press(page, "5")
    idle(page)
    assert page.evaluate(f"{ST}.m.x_range.start") == 40.0
    assert any("4 is not a stage" in m["text"] for m in page.evaluate(f"{RV}.messages"))
    with api(live_server, "scorer-e") as client:
        events = client.get(f"/api/recordings/{live_server.mitbih_id}/events",
                            params={"category": "sleep_stage"}).json()["events"]
    mine = [(e["onset_s"], e["duration_s"], e["label"]) for e in events
            if e["created_by"] == "scorer-e"]
    assert mine == [(20.0, 10.0, "N2"), (30.0, 10.0, "R")]
    assert_no_errors(viewer)
