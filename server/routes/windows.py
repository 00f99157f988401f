"""``/api/recordings/{id}/window``: any span of a recording as envelopes or raw samples."""

from __future__ import annotations

from typing import Annotated

import anyio
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
        media_type=WINDOW_MEDIA_TYPE,
        responses=None,
    )
    async def get_window(
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

        def window_body() -> bytes:
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
            return encode_window(preamble, blocks)

        # An unfiltered window of an open recording reads O(px) values per channel from the
        # pyramid (about 0.5 ms for 20 channels) and runs on the event loop: the hop to a
        # worker thread cost more than the work. Opening a recording and display filters
        # (over the raw samples of the span) run in a worker thread.
        unfiltered = hp is None and lp is None and notch is None and filters is None
        if unfiltered and catalog.is_open(recording_id):
            body = window_body()
        else:
            body = await anyio.to_thread.run_sync(window_body)
        return Response(
            content=body,
            media_type=WINDOW_MEDIA_TYPE,
            headers={"Cache-Control": "no-store"},
        )
