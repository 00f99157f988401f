"""The browser viewer: recording list, viewing page, BokehJS and the viewer's static files."""

from __future__ import annotations

from typing import Any

import msgspec
from bokeh.settings import settings as bokeh_settings
from litestar import Controller, Request, Response, Router, get
from litestar.datastructures import CacheControlHeader, State
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

import viewer
from server.auth import current_user
from server.routes.recordings import catalog_of
from server.settings import Settings
from store import Permission, Store
from store.labels import BUILTIN_SCHEMAS, CATEGORIES

BOKEH_ROOT_URL = "/bokeh/"
VIEWER_STATIC_URL = "/static/viewer/"


class ViewerController(Controller):
    """HTML pages of the viewer."""

    path = "/"
    include_in_schema = False

    @get("/", operation_id="viewerIndex", sync_to_thread=True, media_type="text/html")
    def index(self, state: State) -> str:
        """Page listing every recording with a link to its viewer."""
        recordings = msgspec.to_builtins(catalog_of(state).list_recordings())
        return viewer.render_index(recordings, static_url=VIEWER_STATIC_URL)

    @get(
        "/recordings/{recording_id:str}", operation_id="viewerRecording", sync_to_thread=True,
        media_type="text/html",
    )
    def recording(
        self, state: State, request: Request[Any, Any, Any], recording_id: FromPath[str]
    ) -> Response[str]:
        """Viewing page of one recording."""
        settings: Settings = state.settings
        description = msgspec.to_builtins(catalog_of(state).describe(recording_id))
        has_events = any(
            route.path.endswith("/events") and route.path.startswith("/api/recordings/")
            for route in request.app.routes
        )
        study, labels = _study_and_labels(state.store, recording_id)
        user = current_user(request)
        html = viewer.render_recording_page(
            description, bokeh_root_url=BOKEH_ROOT_URL, static_url=VIEWER_STATIC_URL,
            api_url="/api", events_available=has_events, max_px=settings.max_px,
            study=study, labels=labels,
            user={"name": user.name, "role": user.role.value,
                  "can_annotate": user.can(Permission.ANNOTATE)},
        )
        return Response(html, media_type="text/html", headers={"Cache-Control": "no-cache"})

    @get("/favicon.ico", operation_id="favicon", sync_to_thread=False)
    def favicon(self) -> Redirect:
        """Browsers ask for /favicon.ico; the icon is an SVG among the static files."""
        return Redirect(VIEWER_STATIC_URL + "favicon.svg", status_code=301)


def _study_and_labels(
    store: Store, recording_id: str
) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    """The recording's study and its label schema (per category: label and description)."""
    study = store.study_of(recording_id)
    builtin = BUILTIN_SCHEMAS.get((study.schema_name, study.schema_version), ())
    described = {(c, lab): (k, d) for k, (c, lab, d) in enumerate(builtin)}
    labels: dict[str, list[dict[str, str]]] = {}
    for category in CATEGORIES:
        allowed = store.allowed_labels(study.schema_name, study.schema_version, category)

        def rank(lab: str, c: str = category) -> tuple[int, str]:
            return described.get((c, lab), (len(builtin), ""))[0], lab

        ordered = sorted(allowed, key=rank)
        labels[category] = [
            {"label": lab, "description": described.get((category, lab), (0, ""))[1]}
            for lab in ordered
        ]
    return {
        "study_id": study.study_id, "schema_name": study.schema_name,
        "schema_version": study.schema_version, "epoch_s": study.epoch_s,
    }, labels


def static_routers(settings: Settings) -> list[Router]:
    """Static routes: BokehJS from the installed bokeh package, and ``viewer/static``.

    Both send ``Cache-Control: public, max-age=WAVESCORE_STATIC_MAX_AGE_S``; nothing comes from a
    CDN, so the viewer works without internet.
    """
    cache = CacheControlHeader(public=True, max_age=settings.static_max_age_s)
    return [
        create_static_files_router(
            path=BOKEH_ROOT_URL + "static",
            directories=[bokeh_settings.bokehjs_path()],
            cache_control=cache,
            include_in_schema=False,
            name="bokehjs",
        ),
        create_static_files_router(
            path=VIEWER_STATIC_URL.rstrip("/"),
            directories=[viewer.STATIC_DIR],
            cache_control=cache,
            include_in_schema=False,
            name="viewer_static",
        ),
    ]
