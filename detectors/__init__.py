"""Pure detectors over arrays: ECG beats/classes/rhythms, sleep stages, spindles, seizures.

Never imports the server, the store, the viewer or signal_io: callers hand in arrays.
"""

from detectors._types import ChannelInput, DetectedEvent, DetectorSpec, ProgressCallback
from detectors.registry import UnknownDetectorError, get_detector, list_detectors

__all__ = [
    "ChannelInput",
    "DetectedEvent",
    "DetectorSpec",
    "ProgressCallback",
    "UnknownDetectorError",
    "get_detector",
    "list_detectors",
]
