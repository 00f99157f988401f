"""HTTP controllers: thin, each handler names its ``operation_id`` and calls one service."""

from server.routes.annotations import AnnotationsController
from server.routes.recordings import RecordingsController
from server.routes.viewer import ViewerController, static_routers
from server.routes.windows import WindowsController

__all__ = [
    "AnnotationsController",
    "RecordingsController",
    "ViewerController",
    "WindowsController",
    "static_routers",
]
