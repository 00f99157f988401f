"""``/api/recordings/{id}/window``: any span of a recording as envelopes or raw samples."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

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
        recording_id: FromPath[str],
        start_s: Annotated[float, QueryParameter(description="Window start (s).")],
        stop_s: Annotated[float, QueryParameter(description="Window end, exclusive (s).")],
        px: Annotated[int, QueryParameter(description="Pixel columns of the plot.")] = 1500,
        channels: Annotated[
            str | None, QueryParameter(description="Channel indices or names, comma-separated.")
        ] = None,
        hp: Annotated[float | None, QueryParameter(description="High-pass (Hz).")] = None,
        lp: Annotated[float | None, QueryParameter(description="Low-pass (Hz).")] = None,
        notch: Annotated[float | None, QueryParameter(description="Notch (Hz).")] = None,
        filters: Annotated[
            str | None, QueryParameter(description="Per channel: ch:hp:lp:notch;...")
        ] = None,
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
