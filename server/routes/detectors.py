"""Detectors API: the registry, running a detector on a recording, and per-version review
statistics (how often experts confirmed, edited or rejected each detector version's proposals).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from detectors.registry import list_detectors
from server.auth import current_user
from server.routes.events import store_of
from server.routes.recordings import catalog_of
from server.services.detect import run_detection


# ---------------------------------------------------------------------------- wire structs
class DetectorOut(msgspec.Struct, frozen=True):
    """A registered detector and its parameter defaults."""

    name: str
    version: str
    description: str
    needs: list[str]
    params: dict[str, Any]


class DetectorListOut(msgspec.Struct, frozen=True):
    """Every registered detector."""

    detectors: list[DetectorOut]


class DetectorStatsOut(msgspec.Struct, frozen=True):
    """Review outcome of one detector version's proposals (rates over reviewed proposals)."""

    detector: str
    detector_version: str
    n_proposed: int
    n_reviewed: int
    n_confirmed: int
    n_edited: int
    n_rejected: int
    acceptance_rate: float | None
    edit_rate: float | None
    rejection_rate: float | None


class DetectorStatsListOut(msgspec.Struct, frozen=True):
    """Statistics of every detector version that proposed events."""

    detectors: list[DetectorStatsOut]


class DetectRunIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Run a detector; ``params`` override its defaults."""

    detector: str
    params: dict[str, Any] = {}


class DetectRunOut(msgspec.Struct, frozen=True):
    """What a detector run stored."""

    run_id: int
    recording_id: FromPath[str]
    detector: str
    detector_version: str
    n_events: int
    channels: list[int]
    elapsed_s: float


# ---------------------------------------------------------------------------- controllers
class RecordingDetectController(Controller):
    """Detector runs on one recording."""

    path = "/api/recordings/{recording_id:str}"
    tags = ("detectors",)

    @post("/detect", operation_id="runDetector", sync_to_thread=True, status_code=201)
    def run_detector(
        self,
        state: State,
        request: Request[Any, Any, Any],
        recording_id: FromPath[str],
        data: JSONBody[DetectRunIn],
    ) -> DetectRunOut:
        """Run a registered detector on the recording and store its proposals."""
        store = store_of(state)
        store.get_recording(recording_id)
        stored = catalog_of(state).stored(recording_id)
        out = run_detection(
            store, recording_id, data.detector, data.params, current_user(request), stored=stored
        )
        return DetectRunOut(
            run_id=out.run_id,
            recording_id=recording_id,
            detector=out.detector,
            detector_version=out.detector_version,
            n_events=out.n_events,
            channels=list(out.channels),
            elapsed_s=out.elapsed_s,
        )


class DetectorsController(Controller):
    """The detector registry and review statistics per detector version."""

    path = "/api"
    tags = ("detectors",)

    @get("/detectors", operation_id="listDetectors", sync_to_thread=True)
    def list_detectors(self) -> DetectorListOut:
        """Registered detectors with their parameters' defaults."""
        out = []
        for spec in list_detectors():
            try:
                defaults = msgspec.to_builtins(spec.params_type())
            except TypeError:
                defaults = {}
            out.append(
                DetectorOut(
                    name=spec.name,
                    version=spec.version,
                    description=spec.description,
                    needs=list(spec.needs),
                    params=defaults,
                )
            )
        return DetectorListOut(detectors=out)

    @get("/detectors/stats", operation_id="getDetectorStats", sync_to_thread=True)
    def detector_stats(self, state: State) -> DetectorStatsListOut:
        """Acceptance, edit and rejection rates per detector version."""
        return DetectorStatsListOut(
            detectors=[
                msgspec.convert(d, DetectorStatsOut) for d in store_of(state).detector_statistics()
            ]
        )


__all__ = ["DetectorsController", "RecordingDetectController"]
