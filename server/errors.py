"""Errors raised by the server layer itself (request validation beyond types, limits).

Each subclasses :class:`ServerError` and the closest builtin. :mod:`server.problems` maps every
one of them to an HTTP problem-details response; nothing here knows HTTP status codes.
"""

from __future__ import annotations


class ServerError(Exception):
    """Base class of errors raised by :mod:`server`.

    Parameters
    ----------
    message
        What is wrong and what is allowed, in words a user can act on.
    setting
        The ``WAVESCORE_*`` variable that changes the limit, when a limit was hit.
    """

    def __init__(self, message: str, setting: str | None = None) -> None:
        self.detail = message
        self.setting = setting
        super().__init__(message)


class WindowLimitError(ServerError, ValueError):
    """A window request asks for more pixels, channels or seconds than the settings allow."""


class InvalidWindowError(ServerError, ValueError):
    """A window's bounds are not finite numbers or are reversed (``stop_s <= start_s``)."""


class InvalidFilterError(ServerError, ValueError):
    """A display-filter specification cannot be parsed or cannot be realised at a channel's rate."""


class UnknownRecordingError(ServerError, LookupError):
    """No recording with this id is registered in the store or present on disk."""


class UnknownChannelError(ServerError, LookupError):
    """A requested channel index or name does not exist in the recording."""


class DetectorParamsError(ServerError, ValueError):
    """Detector parameters name an unknown parameter or hold a value of the wrong type."""


class NoSuitableChannelsError(ServerError, LookupError):
    """The recording has no channel of a kind the detector needs."""


class ServiceUnhealthyError(ServerError, RuntimeError):
    """The server cannot serve reliably: the database does not answer, or review decisions are
    not reaching it (they stay durable in the decision log meanwhile)."""


__all__ = [
    "DetectorParamsError",
    "InvalidFilterError",
    "InvalidWindowError",
    "NoSuitableChannelsError",
    "ServerError",
    "ServiceUnhealthyError",
    "UnknownChannelError",
    "UnknownRecordingError",
    "WindowLimitError",
]
