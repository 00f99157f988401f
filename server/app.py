"""The Litestar application factory.

``create_app(settings)`` builds the app; its lifespan opens the store, puts the shared
:class:`server.services.catalog.Catalog` and the settings on ``app.state``, and warms the numba
kernels (pyramid envelope, and one window per code path on a stored recording when there is one)
so the first request is as fast as the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig

from server.auth import ViewAuditor, auth_middleware
from server.problems import EXCEPTION_HANDLERS
from server.routes import (
    AnnotationsController,
    RecordingsController,
    ViewerController,
    WindowsController,
    static_routers,
)
from server.routes.agreement import AgreementController
from server.routes.audit import AuditController
from server.routes.auth import AuthController
from server.routes.detectors import DetectorsController, RecordingDetectController
from server.routes.events import EventsController, RecordingEventsController
from server.routes.health import HealthController
from server.routes.interchange import InterchangeController
from server.routes.sql import SqlController
from server.routes.users import UsersController
from server.services.catalog import Catalog
from server.services.windows import FilterSpec, assemble_window, build_request
from server.settings import Settings
from signal_io import pyramid
from signal_io.errors import SignalIOError
from store import Store

logger = logging.getLogger("wavescore.server")


def warm_up(catalog: Catalog, settings: Settings) -> float:
    """Compile/load every kernel a window request uses and open recent recordings; return the
    seconds it took.

    Runs :func:`signal_io.pyramid.warm_up`, then a filtered raw window on the first stored
    recording, then one whole-recording envelope window on each of the
    ``settings.warm_recordings`` most recently ingested recordings, which opens their
    memory-mapped files (otherwise the first request for a recording pays ~10 ms to open them).
    A recording whose stored folder is missing is skipped, not fatal.
    """
    t0 = time.perf_counter()
    pyramid.warm_up()
    recordings = catalog.list_recordings()
    filtered_done = False
    for rec_out in reversed(recordings[-max(settings.warm_recordings, 1):]):
        try:
            rec = catalog.stored(rec_out.id)
        except SignalIOError as exc:
            logger.warning("warm-up skipped recording %s: %s", rec_out.id, exc)
            continue
        channels = [c.index for c in rec_out.channels][: settings.max_channels]
        if not channels:
            continue
        requests: list[tuple[float, float, dict[int, FilterSpec]]] = [
            (0.0, rec_out.duration_s, {})]
        if not filtered_done:
            requests.append((0.0, min(2.0, rec_out.duration_s),
                             {channels[0]: FilterSpec(0.3, 35.0, 50.0)}))
            filtered_done = True
        for start_s, stop_s, filters in requests:
            req = build_request(
                start_s=start_s, stop_s=max(stop_s, start_s + 1e-3), px=1000,
                channels=channels, filters=filters, settings=settings,
            )
            assemble_window(rec, rec_out.id, rec_out.duration_s, req)
    return time.perf_counter() - t0


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the wavescore application.

    Parameters
    ----------
    settings
        Installation settings; ``Settings.from_env()`` when omitted.
    """
    settings = Settings.from_env() if settings is None else settings

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        store = Store.open(settings.database_path)
        catalog = Catalog(store, settings.data_dir)
        app.state.store = store
        app.state.catalog = catalog
        app.state.view_auditor = ViewAuditor()
        try:
            seconds = warm_up(catalog, settings)
            t0 = time.perf_counter()
            store.warm_up()
            logger.info("kernels warmed in %.2f s, the event store in %.2f s", seconds,
                        time.perf_counter() - t0)
            yield
        finally:
            catalog.close()
            store.close()

    return Litestar(
        route_handlers=[
            RecordingsController,
            WindowsController,
            AnnotationsController,
            ViewerController,
            AuthController,
            RecordingEventsController,
            EventsController,
            RecordingDetectController,
            DetectorsController,
            InterchangeController,
            AgreementController,
            SqlController,
            AuditController,
            UsersController,
            HealthController,
            *static_routers(settings),
        ],
        middleware=[auth_middleware],
        lifespan=[lifespan],
        state=State({"settings": settings}),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(
            title="wavescore", version="0.1.0",
            description="Biosignal windows, recordings and annotations. Window bodies are "
            "binary: see docs/server-api.md.",
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=4096,
                                             exclude=["/api/recordings/.*/window"]),
        debug=False,
    )


__all__ = ["create_app", "warm_up"]
