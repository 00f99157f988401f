"""Types every detector shares: proposed events, detector descriptions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class DetectedEvent:
    """One event proposed by a detector.

    Attributes
    ----------
    onset_s
        Seconds from the start of the input array.
    duration_s
        Length in seconds (0 for instantaneous marks such as beats).
    label
        Label in the detector's taxonomy (``"N"``, ``"V"``, ``"AFIB"``, ``"N2"``, ``"spindle"``).
    category
        One of ``beat``, ``rhythm``, ``sleep_stage``, ``seizure``, ``spindle``, ``arousal``,
        ``artifact``, ``other``.
    confidence
        In ``[0, 1]``.
    channels
        Indices (into the channel list given to the detector) the event concerns; empty means all.
    extra
        Detector-specific values (per-stage probabilities, features...), JSON-serialisable.
    """

    onset_s: float
    duration_s: float
    label: str
    category: str
    confidence: float
    channels: tuple[int, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChannelInput:
    """One channel handed to a detector.

    Attributes
    ----------
    name
        Channel label (used to pick channels from montages).
    kind
        ``EEG``, ``EOG``, ``EMG``, ``ECG``, ``resp``, ``SpO2`` or ``other``.
    data
        Shape ``(n,)`` float32 samples in physical units (NaN for gaps).
    fs
        Sampling rate in Hz.
    unit
        Physical unit (``"uV"``, ``"mV"``...).
    """

    name: str
    kind: str
    data: NDArray[np.float32]
    fs: float
    unit: str = ""


class ProgressCallback(Protocol):
    """Called with the fraction done in ``[0, 1]``."""

    def __call__(self, fraction: float) -> None: ...


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """A registered detector.

    Attributes
    ----------
    name
        Stable name used by the CLI and API (``"ecg.qrs"``, ``"sleep.staging"``...).
    version
        Bumped whenever output can change for the same input.
    description
        One line.
    params_type
        Frozen dataclass of parameters with defaults.
    run
        ``run(channels, params, progress) -> list[DetectedEvent]``.
    needs
        Channel kinds the detector uses (``("ECG",)``, ``("EEG", "EOG", "EMG")``).
    """

    name: str
    version: str
    description: str
    params_type: type
    run: Callable[[Sequence[ChannelInput], Any, ProgressCallback | None], list[DetectedEvent]]
    needs: tuple[str, ...]
