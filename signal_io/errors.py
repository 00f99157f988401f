"""Errors raised by :mod:`signal_io`.

Every error names the file it concerns and says what was wrong. Each subclasses
:class:`SignalIOError` and the builtin it is closest to, so callers may catch either.
"""

from __future__ import annotations

from pathlib import Path


class SignalIOError(Exception):
    """Base class of every error raised by :mod:`signal_io`.

    Parameters
    ----------
    message
        What is wrong, in words a user can act on.
    path
        The file or folder concerned, when there is one.
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.detail = message
        super().__init__(f"{message} ({self.path})" if self.path is not None else message)


class RecordingNotFoundError(SignalIOError, FileNotFoundError):
    """A path does not exist or a record's companion file is missing."""


class UnreadablePathError(SignalIOError, PermissionError):
    """A path exists but cannot be read (permissions, a folder where a file was expected)."""


class UnsupportedFormatError(SignalIOError, ValueError):
    """The file is not in a format wavescore reads (judged by content, not only by name)."""


class CorruptRecordingError(SignalIOError, ValueError):
    """The file claims a supported format but its content is inconsistent.

    Examples: a header whose declared sample count disagrees with the data size, a truncated
    ``.dat`` file, absurd field values, a zero-length file.
    """


class ChannelNotFoundError(SignalIOError, LookupError):
    """A channel name or index does not exist in the recording."""


class SampleRangeError(SignalIOError, IndexError):
    """A requested sample range lies outside ``[0, n_samples]`` or is reversed."""


class IngestError(SignalIOError, RuntimeError):
    """Turning a recording into the stored form failed; nothing was left half-written."""


class PyramidError(SignalIOError, ValueError):
    """A min/max pyramid or envelope was asked for with invalid arguments.

    Examples: a chunk that is not 1-D float32, more samples fed than declared, ``finish()`` before
    every sample was fed, ``px < 1``, a raw signal whose length differs from the pyramid's.
    """


__all__ = [
    "ChannelNotFoundError",
    "CorruptRecordingError",
    "IngestError",
    "PyramidError",
    "RecordingNotFoundError",
    "SampleRangeError",
    "SignalIOError",
    "UnreadablePathError",
    "UnsupportedFormatError",
]
