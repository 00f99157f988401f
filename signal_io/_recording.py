"""The one reader interface every format implements.

A :class:`Recording` is opened lazily: opening reads headers only, and
:meth:`Recording.read` reads any half-open sample range ``[start, stop)`` of one channel in
physical units as float32. Channels keep their native sampling rates.

Time model
----------
Sample ``i`` of a channel with rate ``fs`` lies at ``i / fs`` seconds after
:attr:`Recording.start_time`. Discontinuous recordings (EDF+D) are laid on that same uniform
grid: samples that fall in a gap read as NaN, and :attr:`Recording.segments` lists the spans
that hold data. Nothing is concatenated across a gap.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
from numpy.typing import NDArray

from signal_io.errors import ChannelNotFoundError, SampleRangeError


class ChannelKind(enum.StrEnum):
    """What a channel measures; guessed from its name, type field and unit."""

    EEG = "EEG"
    EOG = "EOG"
    EMG = "EMG"
    ECG = "ECG"
    RESP = "resp"
    SPO2 = "SpO2"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One signal channel.

    Attributes
    ----------
    index
        Position among the recording's signal channels (annotation channels excluded), 0-based.
    name
        Label as written in the file, stripped of padding.
    kind
        What the channel measures.
    unit
        Physical unit as written in the file (``"uV"``, ``"mV"``, ``"%"``...); ``""`` if none.
    fs
        Native sampling rate in Hz.
    n_samples
        Number of samples on the uniform time grid (gaps of EDF+D included).
    """

    index: int
    name: str
    kind: ChannelKind
    unit: str
    fs: float
    n_samples: int

    @property
    def duration_s(self) -> float:
        """Length of the channel in seconds."""
        return self.n_samples / self.fs


@dataclass(frozen=True, slots=True)
class Annotation:
    """An annotation stored in the recording itself.

    Attributes
    ----------
    onset_s
        Seconds after :attr:`Recording.start_time`.
    duration_s
        Length in seconds; 0 for instantaneous marks such as beats.
    label
        Text of the annotation. For WFDB beats, the beat symbol (``"N"``, ``"V"``...); for
        WFDB rhythm changes, the aux text without the leading parenthesis (``"AFIB"``).
    kind
        ``"beat"``, ``"rhythm"``, ``"seizure"``, ``"stage"``, ``"text"`` or another short word.
    channel
        Channel name the annotation applies to, or ``None`` for all channels.
    source
        Where it came from: ``"edf+"``, the WFDB annotator extension (``"atr"``...).
    """

    onset_s: float
    duration_s: float
    label: str
    kind: str = "text"
    channel: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class Segment:
    """A span of real time that holds data, in seconds after the start time."""

    onset_s: float
    duration_s: float


@dataclass(slots=True)
class HeaderFields:
    """Identifying and descriptive header content, exposed for de-identification.

    Attributes
    ----------
    patient
        EDF patient identification field, or WFDB patient-related header comments, raw.
    recording
        EDF recording identification field (raw).
    comments
        Free-text header comments (WFDB ``#`` lines, EDF reserved field), in order.
    """

    patient: str = ""
    recording: str = ""
    comments: list[str] = field(default_factory=list)


class Recording(ABC):
    """A recording opened for lazy reading. Use :func:`signal_io.open_recording` to get one.

    Subclasses set the attributes in ``__init__`` and implement :meth:`_read` and
    :meth:`annotations`.

    Attributes
    ----------
    path
        The file that was opened (the ``.hea`` header for WFDB).
    source_files
        Every file the recording's content comes from (header, data, annotation files).
    format
        ``"wfdb"``, ``"edf"``, ``"edf+c"``, ``"edf+d"``, ``"bdf"`` or ``"bdf+"``.
    channels
        Signal channels (annotation channels excluded).
    start_time
        Start of the recording as written in the file (naive, local clock time), or ``None``.
    header
        Identifying header content, for de-identification.
    segments
        Spans of real time that hold data (one span for continuous recordings).
    """

    path: Path
    source_files: list[Path]
    format: str
    channels: list[ChannelInfo]
    start_time: datetime | None
    header: HeaderFields
    segments: list[Segment]

    @property
    def duration_s(self) -> float:
        """Length of the longest channel in seconds."""
        return max((c.duration_s for c in self.channels), default=0.0)

    def channel(self, key: int | str) -> ChannelInfo:
        """Return the channel with this index or exact name.

        Raises
        ------
        ChannelNotFoundError
            If no channel matches.
        """
        if isinstance(key, str):
            for ch in self.channels:
                if ch.name == key:
                    return ch
            names = ", ".join(c.name for c in self.channels)
            raise ChannelNotFoundError(f"no channel named {key!r}; channels are {names}", self.path)
        if 0 <= key < len(self.channels):
            return self.channels[key]
        raise ChannelNotFoundError(
            f"channel index {key} out of range 0..{len(self.channels) - 1}", self.path
        )

    def read(self, key: int | str, start: int = 0, stop: int | None = None) -> NDArray[np.float32]:
        """Read samples ``[start, stop)`` of one channel in physical units.

        Parameters
        ----------
        key
            Channel index or name.
        start, stop
            Half-open sample range at the channel's native rate; ``stop=None`` means the end.

        Returns
        -------
        numpy.ndarray
            Shape ``(stop - start,)``, float32, physical units of :attr:`ChannelInfo.unit`;
            NaN where the recording has a gap.

        Raises
        ------
        ChannelNotFoundError, SampleRangeError
        """
        ch, start, stop = self.check_range(key, start, stop)
        return self._read(ch, start, stop)

    def check_range(
        self, key: int | str, start: int = 0, stop: int | None = None
    ) -> tuple[ChannelInfo, int, int]:
        """Return the channel and the validated range ``[start, stop)`` (``None`` = the end).

        Raises
        ------
        ChannelNotFoundError, SampleRangeError
        """
        ch = self.channel(key)
        stop = ch.n_samples if stop is None else stop
        if not 0 <= start <= stop <= ch.n_samples:
            raise SampleRangeError(
                f"sample range [{start}, {stop}) outside [0, {ch.n_samples}] of channel "
                f"{ch.name!r}",
                self.path,
            )
        return ch, start, stop

    @abstractmethod
    def _read(self, ch: ChannelInfo, start: int, stop: int) -> NDArray[np.float32]:
        """Read a validated range; see :meth:`read`."""

    @abstractmethod
    def annotations(self) -> list[Annotation]:
        """Return the recording's own annotations sorted by onset."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release open files."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_EEG_HINTS = ("EEG", "FP1", "FP2", "FPZ", "F3", "F4", "F7", "F8", "FZ", "C3", "C4", "CZ", "P3",
              "P4", "PZ", "O1", "O2", "OZ", "T3", "T4", "T5", "T6", "T7", "T8", "M1", "M2", "A1",
              "A2")


def guess_channel_kind(name: str, type_hint: str = "", unit: str = "") -> ChannelKind:
    """Guess what a channel measures from its label, EDF transducer/type field and unit.

    Parameters
    ----------
    name
        Channel label (``"EEG Fpz-Cz"``, ``"MLII"``, ``"SaO2"``...).
    type_hint
        Extra text such as an EDF transducer field or an explicit type prefix.
    unit
        Physical unit.

    Returns
    -------
    ChannelKind
    """
    text = f"{type_hint} {name}".upper()
    if any(k in text for k in ("SPO2", "SAO2", "OXY", "SAT")) or unit.strip() == "%":
        return ChannelKind.SPO2
    if any(k in text for k in ("ECG", "EKG", "MLII", " V1", " V2", " V5", "LEAD")) or \
            name.strip().upper() in {"I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3",
                                     "V4", "V5", "V6", "MLI", "MLIII", "ML2"}:
        return ChannelKind.ECG
    if any(k in text for k in ("EOG", "ROC", "LOC", "E1-", "E2-", "HORIZONTAL")):
        return ChannelKind.EOG
    if any(k in text for k in ("EMG", "CHIN", "LEG", "SUBMENTAL")):
        return ChannelKind.EMG
    if any(k in text for k in ("RESP", "THOR", "ABDO", "ABD", "FLOW", "AIRFLOW", "NASAL",
                               "PRESS", "THERM", "CHEST", "EFFORT")):
        return ChannelKind.RESP
    tokens = text.replace("-", " ").replace(":", " ").split()
    if any(t in _EEG_HINTS for t in tokens) or "EEG" in text:
        return ChannelKind.EEG
    return ChannelKind.OTHER


def check_float32(x: NDArray[np.floating]) -> NDArray[np.float32]:
    """Return ``x`` as a C-contiguous float32 array (no copy when it already is one)."""
    return np.ascontiguousarray(x, dtype=np.float32)
