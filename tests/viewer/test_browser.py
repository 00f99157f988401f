"""The viewer in a real browser: traces drawn, navigation fetches the right windows, no errors."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.viewer.conftest import NIGHT_S, LiveServer, Viewer

pytestmark = pytest.mark.browser

STATE = "window.wavescore.state"


def open_viewer(viewer: Viewer, server: LiveServer, rid: str) -> Any:
    page = viewer.page
    page.goto(f"{server.url}/recordings/{rid}")
    page.wait_for_function(f"window.wavescore && {STATE}.timings.length > 0", timeout=15000)
    return page


def x_range(page: Any) -> tuple[float, float]:
    start, end = page.evaluate(f"[{STATE}.m.x_range.start, {STATE}.m.x_range.end]")
    return float(start), float(end)


def wait_drawn(page: Any, start: float, stop: float, timeout_ms: int = 5000,
               kind: str = "") -> dict[str, Any]:
    """Wait until the newest paint shows ``[start, stop)``; return its timing record.

    ``kind``: ``"fetched"`` waits for data fetched for that range, ``"cached"`` for a paint of
    data already loaded, ``""`` for either.
    """
    page.wait_for_function(
        f"""() => {{ const t = {STATE}.timings; if (!t.length) return false;
            const last = t[t.length - 1];
            return Math.abs(last.start_s - {start}) < 1e-3 && Math.abs(last.stop_s - {stop}) < 1e-3
                && ("{kind}" === "" || last.kind === "{kind}");
        }}""",
        timeout=timeout_ms,
    )
    record: dict[str, Any] = page.evaluate(f"{STATE}.timings[{STATE}.timings.length - 1]")
    return record


def dark_fraction(png: bytes) -> float:
    """Fraction of pixels dark enough to be trace ink (background and shading are light)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int32)
    return float(np.mean(rgb.sum(axis=2) < 450))


def assert_no_errors(viewer: Viewer) -> None:
    assert viewer.errors == [], viewer.errors
    assert viewer.page.evaluate(f"{STATE}.errors") == []


def test_page_draws_every_channel_and_the_canvas_is_not_blank(
        viewer_page: Viewer, live_server: LiveServer) -> None:
    page = open_viewer(viewer_page, live_server, live_server.night_id)
    lengths = page.evaluate(f"{STATE}.m.sources.map((s) => s.data.x.length)")
    assert len(lengths) == 10 and all(n > 0 for n in lengths), lengths
    canvas = page.locator(".bk-Figure").nth(1)
    assert dark_fraction(canvas.screenshot()) > 0.02
    assert page.locator("#ws-range").inner_text().startswith("22:47:05")
    labels = page.evaluate(f"Object.values({STATE}.m.yaxis.major_label_overrides)")
    assert "C3-M2 (uV)" in labels and "SpO2 (%)" in labels
    assert_no_errors(viewer_page)


def test_keyboard_paging_moves_by_one_epoch_and_one_window(
        viewer_page: Viewer, live_server: LiveServer) -> None:
    page = open_viewer(viewer_page, live_server, live_server.night_id)
    assert x_range(page) == (0.0, 30.0)
    fetches = page.evaluate(f"{STATE}.fetches")
    page.locator("body").press("ArrowRight")
    wait_drawn(page, 30.0, 60.0)
    assert page.locator("#ws-range").inner_text().startswith("22:47:35 – 22:48:05")
    page.select_option("#ws-preset", "120.0")
    wait_drawn(page, 30.0, 150.0)
    page.locator("body").press("PageDown")
    wait_drawn(page, 150.0, 270.0)
    page.locator("body").press("PageUp")
    page.locator("body").press("ArrowLeft")
    wait_drawn(page, 0.0, 120.0)
    assert x_range(page) == (0.0, 120.0)
    # a range inside the loaded data (fetched with a window of padding each side) is drawn from
    # it, and quick key presses coalesce into one request, so how many of the five moves fetch
    # depends on timing; leaving the 30-s data for 120-s windows must fetch at least once
    assert page.evaluate(f"{STATE}.fetches") > fetches
    assert_no_errors(viewer_page)


def test_drag_pan_fetches_the_new_range_and_shifts_the_axis(
        viewer_page: Viewer, live_server: LiveServer) -> None:
    page = open_viewer(viewer_page, live_server, live_server.night_id)
    page.evaluate("window.wavescore.setRange(600, 630)")
    wait_drawn(page, 600.0, 630.0)
    width = page.evaluate(f"{STATE}.m.plot.inner_width")
    box = page.locator(".bk-Figure").nth(1).bounding_box()
    y = box["y"] + box["height"] / 2
    x0 = box["x"] + box["width"] / 2
    page.mouse.move(x0, y)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x0 - 30 * k, y)
    page.mouse.up()
    start, stop = x_range(page)
    expected_shift = 300 * 30.0 / width
    assert start - 600.0 == pytest.approx(expected_shift, rel=0.05)
    assert stop - start == pytest.approx(30.0)
    wait_drawn(page, round(start, 6), round(stop, 6), kind="fetched")
    # the drawn traces cover the new range (plus up to one window each side, fetched ahead)
    xs = page.evaluate(f"[{STATE}.m.sources[0].data.x[0], {STATE}.m.sources[0].data.x.at(-1)]")
    column_s = 30.0 / width
    assert start - 30.0 - column_s <= xs[0] <= start + column_s
    assert stop - column_s <= xs[1] <= stop + 30.0 + column_s
    assert_no_errors(viewer_page)


def test_whole_night_shows_envelope_bands_and_overview_click_jumps(
        viewer_page: Viewer, live_server: LiveServer) -> None:
    page = open_viewer(viewer_page, live_server, live_server.night_id)
    page.select_option("#ws-preset", "all")
    wait_drawn(page, 0.0, NIGHT_S, kind="fetched")
    modes = page.evaluate(f"Object.values({STATE}.data).map((d) => d.mode)")
    assert "minmax" in modes
    assert page.evaluate(f"{STATE}.m.bands[0].visible") is True
    assert page.evaluate(f"{STATE}.m.renderers[0].visible") is False
    page.select_option("#ws-preset", "30.0")
    wait_drawn(page, 0.0, 30.0)
    overview = page.locator(".bk-Figure").first.bounding_box()
    inner_width = page.evaluate(f"{STATE}.m.overview.inner_width")
    border = page.evaluate(f"{STATE}.m.overview.min_border_left")
    # click three quarters of the way through the night (the frame starts after the border)
    page.mouse.click(overview["x"] + border + 0.75 * inner_width, overview["y"] + 20)
    start, stop = x_range(page)
    assert (start + stop) / 2 == pytest.approx(0.75 * NIGHT_S, rel=0.02)
    assert page.evaluate(f"[{STATE}.m.cursor.left, {STATE}.m.cursor.right]") == [start, stop]
    assert_no_errors(viewer_page)


def test_jump_to_clock_time(viewer_page: Viewer, live_server: LiveServer) -> None:
    page = open_viewer(viewer_page, live_server, live_server.night_id)
    page.fill("#ws-jump-time", "23:47:05")
    page.click("#ws-jump button[type=submit]")
    wait_drawn(page, 3600.0, 3630.0)
    assert page.locator("#ws-range").inner_text().startswith("23:47:05")
    assert_no_errors(viewer_page)


def test_gain_keys_rescale_selected_channel_without_refetching(
        viewer_page: Viewer, live_server: LiveServer) -> None:
    page = open_viewer(viewer_page, live_server, live_server.night_id)
    spread = f"(() => {{ const y = {STATE}.m.sources[0].data.y; let lo = Infinity, hi = -Infinity; for (const v of y) {{ if (v < lo) lo = v; if (v > hi) hi = v; }} return hi - lo; }})()"  # noqa: E501
    before = page.evaluate(spread)
    fetches = page.evaluate(f"{STATE}.fetches")
    page.locator("body").press("+")
    page.locator("body").press("+")
    assert page.evaluate(spread) == pytest.approx(2 * before, rel=1e-6)
    page.locator("body").press("-")
    assert page.evaluate(spread) == pytest.approx(2 ** 0.5 * before, rel=1e-6)
    assert page.evaluate(f"{STATE}.fetches") == fetches
    # hiding a channel removes its lane and refetches without it
    page.locator("#ws-channel-list li").first.locator("input").click()
    page.wait_for_function(f"{STATE}.m.yaxis.ticker.ticks.length === 9")
    assert page.evaluate(f"{STATE}.m.renderers[0].visible") is False
    assert_no_errors(viewer_page)


def test_beat_level_zoom_on_ecg_draws_raw_samples_and_beat_labels(
        viewer_page: Viewer, live_server: LiveServer) -> None:
    page = open_viewer(viewer_page, live_server, live_server.mitbih_id)
    page.evaluate("window.wavescore.setRange(60, 62.5)")
    wait_drawn(page, 60.0, 62.5, kind="fetched")
    modes = page.evaluate(f"Object.values({STATE}.data).map((d) => [d.mode, d.n])")
    assert modes == [["raw", 2700], ["raw", 2700]]  # 2.5 s shown + 2.5 s fetched each side
    assert page.evaluate(f"{STATE}.m.renderers[0].visible") is True
    page.wait_for_function(f"{STATE}.m.labels.data.text.length > 5")
    labels = page.evaluate(f"{STATE}.m.labels.data.text")
    assert "N" in labels or "V" in labels
    assert_no_errors(viewer_page)


def test_rapid_range_changes_end_on_the_last_range(viewer_page: Viewer,
                                                   live_server: LiveServer) -> None:
    page = open_viewer(viewer_page, live_server, live_server.night_id)
    page.evaluate(
        "() => { for (let k = 1; k <= 25; k++) window.wavescore.setRange(k * 7, k * 7 + 30); }"
    )
    wait_drawn(page, 175.0, 205.0, kind="fetched")
    page.wait_for_timeout(300)
    last = page.evaluate(f"{STATE}.timings.at(-1)")
    assert (last["start_s"], last["stop_s"]) == (175.0, 205.0)
    assert page.evaluate(f"{STATE}.fetches") < 12  # debounced, one in flight
    assert_no_errors(viewer_page)
