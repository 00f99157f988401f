"""``/api/recordings``: which recordings there are and their channels."""

from __future__ import annotations

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath

from server.services.catalog import Catalog
from server.wire import RecordingListOut, RecordingOut


def catalog_of(state: State) -> Catalog:
    """The :class:`Catalog` the lifespan put on ``app.state``."""
    catalog: Catalog = state.catalog
    return catalog


class RecordingsController(Controller):
    """Recordings registered in the store."""

    path = "/api/recordings"
    tags = ("recordings",)

    @get("/", operation_id="listRecordings", sync_to_thread=True)
    def list_recordings(self, state: State) -> RecordingListOut:
        """List every recording with its channels, duration and de-identified start time."""
        return RecordingListOut(recordings=catalog_of(state).list_recordings())

    @get("/{recording_id:str}", operation_id="getRecording", sync_to_thread=True)
    def get_recording(self, state: State, recording_id: FromPath[str]) -> RecordingOut:
        """Describe one recording: channels (name, kind, unit, native rate, samples)."""
        return catalog_of(state).describe(recording_id)
