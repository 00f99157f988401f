"""``/api/recordings/{id}/annotations``: the recording's own annotations in a time span."""

from __future__ import annotations

import math
from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from server.errors import InvalidWindowError
from server.routes.recordings import catalog_of
from server.settings import Settings
from server.wire import AnnotationListOut


class AnnotationsController(Controller):
    """Annotations imported with the recording (beats, rhythms, stages...), de-identified."""

    path = "/api/recordings/{recording_id:str}/annotations"
    tags = ("annotations",)

    @get("/", operation_id="listRecordingAnnotations", sync_to_thread=True)
    def list_annotations(
        self,
        state: State,
        recording_id: FromPath[str],
        start_s: Annotated[float, QueryParameter(description="Span start (s).")] = 0.0,
        stop_s: Annotated[float, QueryParameter(description="Span end, exclusive (s).")] = math.inf,
        limit: Annotated[
            int | None, QueryParameter(description="Most returned (WAVESCORE_MAX_ANNOTATIONS).")
        ] = None,
    ) -> AnnotationListOut:
        """Annotations overlapping ``[start_s, stop_s)``, sorted by onset."""
        settings: Settings = state.settings
        if math.isnan(start_s) or math.isnan(stop_s) or stop_s < start_s:
            raise InvalidWindowError(
                f"stop_s ({stop_s:g}) must be a number not below start_s ({start_s:g})"
            )
        cap = settings.max_annotations
        if limit is not None:
            cap = max(0, min(limit, cap))
        found = catalog_of(state).annotations_in(recording_id, start_s, stop_s)
        return AnnotationListOut(
            recording_id=recording_id, start_s=start_s,
            stop_s=stop_s if math.isfinite(stop_s) else None,
            annotations=found[:cap], truncated=len(found) > cap,
        )
