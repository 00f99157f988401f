"""``/api/recordings/{id}/window``: any span of a recording as envelopes or raw samples."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import Parameter

from server.routes.recordings import catalog_of
from server.services.windows import (
    assemble_window,
    build_request,
    encode_window,
    parse_filters,
    resolve_channels,
)
from server.settings import Settings

WINDOW_MEDIA_TYPE = "application/vnd.wavescore.window"


class WindowsController(Controller):
    """Windows of signal, binary float32 after a JSON preamble (see docs/server-api.md)."""

    path = "/api/recordings/{recording_id:str}/window"
    tags = ("windows",)

    @get(
        "/",
        operation_id="getWindow",
        sync_to_thread=True,
        media_type=WINDOW_MEDIA_TYPE,
        responses=None,
    )
    def get_window(
        self,
        state: State,
        recording_id: str,
        start_s: float = Parameter(description="Window start, s from the recording start."),
        stop_s: float = Parameter(description="Window end (exclusive), s."),
        px: int = Parameter(default=1500, description="Pixel columns of the plot."),
        channels: str | None = Parameter(
            default=None, description="Comma-separated channel indices or names; default all."
        ),
        hp: float | None = Parameter(default=None, description="High-pass cut-off (Hz)."),
        lp: float | None = Parameter(default=None, description="Low-pass cut-off (Hz)."),
        notch: float | None = Parameter(default=None, description="Notch frequency (Hz)."),
        filters: str | None = Parameter(
            default=None, description="Per-channel filters: ch:hp:lp:notch items joined by ';'."
        ),
    ) -> Response[bytes]:
        """Min/max envelope per pixel column, or raw samples at deep zoom, for each channel."""
        settings: Settings = state.settings
        catalog = catalog_of(state)
        row = catalog.row(recording_id)
        rec = catalog.stored(recording_id)
        selected = resolve_channels(channels, rec.channels)
        specs = parse_filters(
            None if hp is None else str(hp), None if lp is None else str(lp),
            None if notch is None else str(notch), filters, selected, rec.channels,
        )
        req = build_request(
            start_s=start_s, stop_s=stop_s, px=px, channels=selected, filters=specs,
            settings=settings,
        )
        preamble, blocks = assemble_window(rec, recording_id, float(row.duration_s), req)
        return Response(
            content=encode_window(preamble, blocks),
            media_type=WINDOW_MEDIA_TYPE,
            headers={"Cache-Control": "no-store"},
        )
