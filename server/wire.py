"""Structs that cross the wire (JSON bodies and the window preamble), as :mod:`msgspec` structs.

Names carry a suffix (``...Out``, ``...Query``) so they never shadow domain types. Field names are
snake_case, with units in the name (``fs`` in Hz, ``*_s`` in seconds).
"""

from __future__ import annotations

import msgspec


class ChannelOut(msgspec.Struct, frozen=True):
    """One signal channel of a recording.

    ``fs`` is the native sampling rate in Hz; ``n_samples`` counts samples on the uniform grid.
    """

    index: int
    name: str
    kind: str
    unit: str
    fs: float
    n_samples: int
    duration_s: float


class RecordingOut(msgspec.Struct, frozen=True):
    """A stored recording. ``start_time`` is the de-identified clock start (ISO 8601, no zone)."""

    id: str
    format: str
    duration_s: float
    start_time: str | None
    channels: list[ChannelOut]
    n_annotations: int | None = None


class RecordingListOut(msgspec.Struct, frozen=True):
    """Every recording available to view."""

    recordings: list[RecordingOut]


class AnnotationOut(msgspec.Struct, frozen=True):
    """One annotation stored in the recording itself (de-identified at ingest)."""

    onset_s: float
    duration_s: float
    label: str
    kind: str
    channel: str | None
    source: str


class AnnotationListOut(msgspec.Struct, frozen=True):
    """Annotations overlapping ``[start_s, stop_s)``, sorted by onset, at most ``limit``."""

    recording_id: str
    start_s: float
    stop_s: float | None
    annotations: list[AnnotationOut]
    truncated: bool


class FilterOut(msgspec.Struct, frozen=True, omit_defaults=True):
    """Display filter applied to a channel; cut-offs in Hz, ``None`` when that stage is off."""

    hp_hz: float | None = None
    lp_hz: float | None = None
    notch_hz: float | None = None


class WindowChannelOut(msgspec.Struct, frozen=True):
    """Where one channel's values sit in the binary body and how to lay them on the time axis.

    ``mode`` is ``"raw"`` (``n`` samples; sample ``k`` at ``t0_s + k * step_s``) or ``"minmax"``
    (``n`` pixel columns stored as interleaved ``min, max`` pairs, ``2 * n`` floats; column ``k``
    covers ``[t0_s + k * step_s, t0_s + (k + 1) * step_s)`` clipped to the window).
    ``offset`` and ``length`` count float32 values from the start of the data block.
    """

    index: int
    name: str
    unit: str
    fs: float
    mode: str
    t0_s: float
    step_s: float
    n: int
    offset: int
    length: int
    filtered: bool
    filter: FilterOut | None
    note: str


class WindowPreambleOut(msgspec.Struct, frozen=True):
    """The JSON preamble of a window response (see ``docs/server-api.md``)."""

    format: str
    recording_id: str
    requested_start_s: float
    requested_stop_s: float
    start_s: float
    stop_s: float
    clipped: bool
    px: int
    channels: list[WindowChannelOut]


class ProblemOut(msgspec.Struct, frozen=True, omit_defaults=True):
    """An RFC 9457 problem-details body (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    setting: str | None = None


__all__ = [
    "AnnotationListOut",
    "AnnotationOut",
    "ChannelOut",
    "FilterOut",
    "ProblemOut",
    "RecordingListOut",
    "RecordingOut",
    "WindowChannelOut",
    "WindowPreambleOut",
]
