"""Build the viewer's HTML pages and its Bokeh document.

The server hands plain dictionaries (the JSON of ``GET /api/recordings/{id}``) to these functions;
the viewer never imports the server. The Bokeh document is embedded with
:func:`bokeh.embed.json_item`; BokehJS is loaded from the server's static route (no CDN).
Everything interactive lives in ``viewer/static/viewer.js`` (signal) and
``viewer/static/review.js`` (event overlays, review, annotation, sleep scoring, hypnogram): the
CustomJS callbacks below only hand Bokeh's models, range changes and UI events to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bokeh.document import Document
from bokeh.embed import json_item
from bokeh.layouts import column
from bokeh.models import (
    ColumnDataSource,
    CustomJS,
    CustomJSTickFormatter,
    FixedTicker,
    HoverTool,
    LinearAxis,
    PanTool,
    Range1d,
)
from bokeh.models.annotations import BoxAnnotation
from bokeh.plotting import figure
from bokeh.resources import Resources
from jinja2 import Environment, PackageLoader, select_autoescape

#: Window length shown when a recording is opened (s), and the presets offered.
DEFAULT_WINDOW_S = 30.0
WINDOW_PRESETS_S: tuple[tuple[str, float | None], ...] = (
    ("10 s", 10.0), ("30 s", 30.0), ("1 min", 60.0), ("2 min", 120.0), ("5 min", 300.0),
    ("30 min", 1800.0), ("whole night", None),
)
#: Colours of the traces, cycled by channel kind.
KIND_COLOURS = {
    "EEG": "#1f3b73", "EOG": "#5b2c83", "EMG": "#2e6b30", "ECG": "#a11d1d",
    "resp": "#0b6e75", "SpO2": "#b35c00", "other": "#333333",
}

_env = Environment(
    loader=PackageLoader("viewer", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def bokeh_resources(bokeh_root_url: str) -> str:
    """Script tags loading BokehJS (core bundle only) from ``{bokeh_root_url}static/js/``."""
    return str(Resources(mode="server", root_url=bokeh_root_url, components=["bokeh"]).render_js())


def build_document(recording: Mapping[str, Any]) -> dict[str, Any]:
    """Build the Bokeh document of one recording and return it as a :func:`json_item`.

    Parameters
    ----------
    recording
        The recording as ``GET /api/recordings/{id}`` returns it.

    Returns
    -------
    dict
        JSON-able item for ``Bokeh.embed.embed_item``; a ``document_ready`` callback hands its
        models to ``window.wavescore.attach``.
    """
    channels: Sequence[Mapping[str, Any]] = recording["channels"]
    duration_s = max(float(recording["duration_s"]), 1e-3)
    n = max(len(channels), 1)
    x_range = Range1d(
        start=0.0, end=min(DEFAULT_WINDOW_S, duration_s), bounds=(0.0, duration_s),
        min_interval=0.02, name="ws_x_range",
    )
    y_range = Range1d(start=-0.6, end=n - 0.4, name="ws_y_range")
    main = figure(
        x_range=x_range, y_range=y_range, sizing_mode="stretch_both",
        tools="xpan,xwheel_zoom,xbox_zoom,save", active_drag="xpan",
        active_scroll="xwheel_zoom", toolbar_location="right", output_backend="canvas",
        name="ws_main", min_border_left=110,
    )
    main.xaxis.visible = False
    main.xgrid.grid_line_alpha = 0.35
    main.ygrid.grid_line_alpha = 0.15
    clock_axis = LinearAxis(axis_label="clock time", name="ws_clock_axis")
    clock_axis.formatter = CustomJSTickFormatter(  # type: ignore[assignment]
        code="return window.wavescore.formatClock(tick);"
    )
    elapsed_axis = LinearAxis(axis_label="elapsed", name="ws_elapsed_axis")
    elapsed_axis.formatter = CustomJSTickFormatter(  # type: ignore[assignment]
        code="return window.wavescore.formatElapsed(tick);"
    )
    main.add_layout(clock_axis, "below")
    main.add_layout(elapsed_axis, "below")
    main.yaxis.ticker = FixedTicker(ticks=[float(n - 1 - k) for k in range(n)])
    main.yaxis.major_label_overrides = {
        float(n - 1 - k): f"{c['name']} ({c['unit'] or '-'})" for k, c in enumerate(channels)
    }
    main.yaxis.major_label_text_font_size = "11px"

    # Per channel: a line for raw samples and a filled band (min..max per pixel column) for
    # envelopes; the JS shows the one that matches the window's mode.
    sources = []
    renderers = []
    bands = []
    for c in channels:
        colour = KIND_COLOURS.get(str(c.get("kind", "other")), "#333333")
        src = ColumnDataSource(data={"x": [], "y": [], "lo": [], "hi": []},
                               name=f"ws_src_{c['index']}")
        bands.append(main.varea(x="x", y1="lo", y2="hi", source=src, fill_color=colour,
                                visible=False))
        renderers.append(main.line("x", "y", source=src, line_width=1.0, line_color=colour))
        sources.append(src)

    # Event overlays: one source per glyph kind, styled per row (colour by category, outline
    # dash by status); the JS fills them (viewer/static/review.js). Tooltip columns ride along.
    tip_cols: dict[str, list[Any]] = {
        k: [] for k in ("event_id", "label", "category", "status", "conf", "source", "author")
    }
    spans = ColumnDataSource(data={"left": [], "right": [], "bottom": [], "top": [],
                                   "color": [], "line": [], "dash": [], "width": [],
                                   "alpha": [], **tip_cols}, name="ws_ev_spans")
    points = ColumnDataSource(data={"x0": [], "y0": [], "x1": [], "y1": [], "color": [],
                                    "dash": [], "width": [], **tip_cols}, name="ws_ev_points")
    marks = ColumnDataSource(data={"x": [], "y": [], "color": []}, name="ws_ev_marks")
    labels = ColumnDataSource(data={"x": [], "y": [], "text": [], "color": []},
                              name="ws_ev_labels")
    span_r = main.quad(left="left", right="right", bottom="bottom", top="top", source=spans,
                       fill_color="color", fill_alpha="alpha", line_color="line",
                       line_dash="dash", line_width="width")
    point_r = main.segment(x0="x0", y0="y0", x1="x1", y1="y1", source=points,
                           line_color="color", line_dash="dash", line_width="width",
                           line_alpha=0.8)
    main.scatter(x="x", y="y", source=marks, marker="inverted_triangle", size=8,
                 fill_color="color", line_color="color")
    main.text(x="x", y="y", text="text", source=labels, text_color="color",
              text_font_size="10px", text_baseline="top", x_offset=2)
    selected_box = BoxAnnotation(left=0.0, right=0.0, bottom=0.0, top=1.0, visible=False,
                                 fill_color="#000000", fill_alpha=0.04, line_color="#000000",
                                 line_width=2.5, line_alpha=0.9)
    draft_box = BoxAnnotation(left=0.0, right=0.0, bottom=0.0, top=1.0, visible=False,
                              fill_color="#1f77b4", fill_alpha=0.2, line_color="#1f77b4",
                              line_dash="dashed")
    main.add_layout(selected_box)
    main.add_layout(draft_box)
    main.add_tools(HoverTool(
        renderers=[span_r, point_r], point_policy="follow_mouse", name="ws_event_hover",
        tooltips=(
            "<div class='ws-tip'><b>@label</b> · @category<br>@status · @source"
            "<br>confidence @conf<br>by @author · #@event_id</div>"
        ),
    ))
    pan_tool = next(t for t in main.toolbar.tools if isinstance(t, PanTool))
    for kind in ("tap", "panstart", "pan", "panend"):
        main.js_on_event(kind, CustomJS(code=f"window.wavescore.review.on_{kind}(cb_obj);"))

    # Hypnogram: the scorer's own stages (solid step line, REM bars), proposals (dashed), the
    # current window; hidden until the page switches it on.
    hypnogram = figure(
        x_range=Range1d(start=0.0, end=duration_s), y_range=Range1d(start=-0.6, end=4.6),
        height=120, sizing_mode="stretch_width", tools="", toolbar_location=None,
        name="ws_hypnogram", min_border_left=110, visible=False,
    )
    hypnogram.yaxis.ticker = FixedTicker(ticks=[0, 1, 2, 3, 4])
    hypnogram.yaxis.major_label_overrides = {0: "N3", 1: "N2", 2: "N1", 3: "R", 4: "W"}
    hypnogram.xaxis.formatter = CustomJSTickFormatter(
        code="return window.wavescore.formatClock(tick, false);"
    )
    hypnogram.xgrid.visible = False
    hyp_prop = ColumnDataSource(data={"x": [], "y": []}, name="ws_hyp_prop")
    hyp_own = ColumnDataSource(data={"x": [], "y": []}, name="ws_hyp_own")
    hyp_rem = ColumnDataSource(data={"left": [], "right": []}, name="ws_hyp_rem")
    hypnogram.line("x", "y", source=hyp_prop, line_color="#e6550d", line_dash="dashed",
                   line_width=1.2, line_alpha=0.8)
    hypnogram.quad(left="left", right="right", bottom=2.75, top=3.25, source=hyp_rem,
                   fill_color="#c0392b", line_alpha=0.0)
    hypnogram.line("x", "y", source=hyp_own, line_color="#1b1b1b", line_width=1.6)
    hyp_cursor = BoxAnnotation(left=0.0, right=min(DEFAULT_WINDOW_S, duration_s),
                               fill_color="#1f77b4", fill_alpha=0.3, line_color="#1f77b4",
                               line_alpha=0.9)
    hypnogram.add_layout(hyp_cursor)
    hypnogram.js_on_event("tap", CustomJS(
        code="window.wavescore.review.onHypnogramTap(cb_obj.x);"))

    overview = figure(
        x_range=Range1d(start=0.0, end=duration_s), y_range=Range1d(start=-0.05, end=1.05),
        height=64, sizing_mode="stretch_width", tools="tap", toolbar_location=None,
        name="ws_overview", min_border_left=110,
    )
    overview.yaxis.visible = False
    overview.xaxis.formatter = CustomJSTickFormatter(
        code="return window.wavescore.formatClock(tick, false);"
    )
    overview.grid.visible = False
    overview_src = ColumnDataSource(data={"x": [], "lo": [], "hi": []}, name="ws_overview_src")
    overview.varea(x="x", y1="lo", y2="hi", source=overview_src, fill_color="#555555")
    cursor = BoxAnnotation(left=0.0, right=min(DEFAULT_WINDOW_S, duration_s), fill_color="#1f77b4",
                           fill_alpha=0.25, line_color="#1f77b4", line_alpha=0.9)
    overview.add_layout(cursor)
    overview.js_on_event("tap", CustomJS(code="window.wavescore.onOverviewTap(cb_obj.x);"))

    on_range = CustomJS(code="window.wavescore.onRangeChange();")
    x_range.js_on_change("start", on_range)
    x_range.js_on_change("end", on_range)

    layout = column(overview, main, hypnogram, sizing_mode="stretch_both", name="ws_layout")
    doc = Document()
    doc.add_root(layout)
    doc.js_on_event(
        "document_ready",
        CustomJS(
            args={
                "plot": main, "x_range": x_range, "y_range": y_range, "sources": sources,
                "renderers": renderers, "bands": bands, "overview": overview,
                "overview_src": overview_src,
                "cursor": cursor, "spans": spans, "points": points, "labels": labels,
                "marks": marks, "yaxis": main.yaxis[0], "selected_box": selected_box,
                "draft_box": draft_box, "pan_tool": pan_tool, "hypnogram": hypnogram,
                "hyp_own": hyp_own, "hyp_prop": hyp_prop, "hyp_rem": hyp_rem,
                "hyp_cursor": hyp_cursor,
            },
            code=(
                "window.wavescore.attach({plot, x_range, y_range, sources, renderers, bands,"
                " overview, overview_src, cursor, spans, points, labels, marks, yaxis,"
                " selected_box, draft_box, pan_tool, hypnogram, hyp_own, hyp_prop, hyp_rem,"
                " hyp_cursor});"
            ),
        ),
    )
    item = json_item(layout)
    return dict(item)


def render_recording_page(
    recording: Mapping[str, Any],
    *,
    bokeh_root_url: str = "/bokeh/",
    static_url: str = "/static/viewer/",
    api_url: str = "/api",
    events_available: bool = False,
    max_px: int = 8000,
    study: Mapping[str, Any] | None = None,
    labels: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
    user: Mapping[str, Any] | None = None,
) -> str:
    """Render the HTML page viewing one recording.

    Parameters
    ----------
    recording
        The recording as ``GET /api/recordings/{id}`` returns it.
    bokeh_root_url
        Where the server serves BokehJS (``{root}static/js/bokeh.min.js``).
    static_url
        Where the server serves ``viewer/static``.
    api_url
        Prefix of the JSON/binary API.
    events_available
        The server has ``GET {api_url}/recordings/{id}/events``; the page then draws events
        from it, and otherwise the recording's own annotations.
    max_px
        The server's ``WAVESCORE_MAX_PX``: the page never asks for more columns.
    study
        The recording's study: ``study_id``, ``schema_name``, ``schema_version`` and
        ``epoch_s`` (the sleep-scoring epoch length in s; 30 when omitted).
    labels
        The study's label schema: per category, ``[{"label", "description"}, ...]`` (the label
        picker and the new-event menu offer these).
    user
        The signed-in user: ``name``, ``role`` and ``can_annotate`` (without it the page is
        read-only: review and scoring keys say so instead of writing).
    """
    study = dict(study or {})
    epoch_s = float(study.get("epoch_s") or 30.0)
    config = {
        "recording": dict(recording),
        "api_url": api_url,
        "events_available": events_available,
        "max_px": max_px,
        "default_window_s": DEFAULT_WINDOW_S,
        "epoch_s": epoch_s,
        "study": study,
        "labels": {k: [dict(x) for x in v] for k, v in (labels or {}).items()},
        "user": dict(user or {"name": "", "role": "", "can_annotate": False}),
        "presets": [{"label": label, "seconds": s} for label, s in WINDOW_PRESETS_S],
    }
    return _env.get_template("recording.html").render(
        recording=recording,
        bokeh_js=bokeh_resources(bokeh_root_url),
        static_url=static_url,
        config_json=_script_json(config),
        item_json=_script_json(build_document(recording)),
        presets=WINDOW_PRESETS_S,
        epoch_s=epoch_s,
        user=user or {},
    )


def render_index(
    recordings: Sequence[Mapping[str, Any]], *, static_url: str = "/static/viewer/"
) -> str:
    """Render the page listing every recording with a link to its viewer."""
    rows = []
    for r in recordings:
        seconds = float(r["duration_s"])
        rows.append({
            "id": r["id"], "format": r["format"], "start_time": r.get("start_time") or "",
            "duration": _hms(seconds), "n_channels": len(r["channels"]),
            "channels": ", ".join(str(c["name"]) for c in r["channels"][:8])
            + (" …" if len(r["channels"]) > 8 else ""),
        })
    return _env.get_template("index.html").render(recordings=rows, static_url=static_url)


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _script_json(value: object) -> str:
    """JSON safe to place inside a ``<script type="application/json">`` element."""
    return (
        json.dumps(value, separators=(",", ":"))
        .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    )


__all__ = [
    "DEFAULT_WINDOW_S",
    "WINDOW_PRESETS_S",
    "bokeh_resources",
    "build_document",
    "render_index",
    "render_recording_page",
]
