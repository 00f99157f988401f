"""Read biosignal recordings (WFDB, EDF/EDF+/BDF/BDF+), store them, and serve windows.

Pure: imports numpy, scipy, numba and format libraries only, never the server, store or viewer.
"""

from signal_io._open import RECORDING_SUFFIXES, find_recordings, open_recording
from signal_io._recording import (
    Annotation,
    ChannelInfo,
    ChannelKind,
    HeaderFields,
    Recording,
    Segment,
    guess_channel_kind,
)
from signal_io.edf_writer import EdfSignal, write_edf
from signal_io.errors import (
    ChannelNotFoundError,
    CorruptRecordingError,
    IngestError,
    PyramidError,
    RecordingNotFoundError,
    SampleRangeError,
    SignalIOError,
    UnreadablePathError,
    UnsupportedFormatError,
)

__all__ = [
    "RECORDING_SUFFIXES",
    "Annotation",
    "ChannelInfo",
    "ChannelKind",
    "ChannelNotFoundError",
    "CorruptRecordingError",
    "EdfSignal",
    "HeaderFields",
    "IngestError",
    "PyramidError",
    "Recording",
    "RecordingNotFoundError",
    "SampleRangeError",
    "Segment",
    "SignalIOError",
    "UnreadablePathError",
    "UnsupportedFormatError",
    "find_recordings",
    "guess_channel_kind",
    "open_recording",
    "write_edf",
]
