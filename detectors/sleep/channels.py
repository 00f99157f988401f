"""Pick EEG, EOG and chin-EMG channels by name from common PSG montages."""

from __future__ import annotations

import re
from collections.abc import Sequence

from detectors._types import ChannelInput

__all__ = [
    "ChannelPickError",
    "pick_eeg",
    "pick_emg",
    "pick_eog",
]


class ChannelPickError(LookupError):
    """A channel named in the parameters is absent, or no usable channel of a kind exists."""


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower().replace("eeg", "", 1))


# Preference order for central EEG: contralateral mastoid references first (AASM), then
# ear references, then bipolar Fpz-Cz / Pz-Oz (Sleep-EDF style), then anything labelled EEG.
_EEG_PREFERENCE = (
    "c4m1", "c3m2", "c4a1", "c3a2", "c4", "c3", "czm1", "czm2", "cza1", "cza2", "cz",
    "c3a1", "c4a2", "fpzcz", "pzoz", "f4m1", "f3m2", "o2m1", "o1m2", "f4", "f3", "o2", "o1",
)
_EOG_HINTS = ("eog", "loc", "roc", "e1", "e2", "horizontal")
_EMG_HINTS = ("chin", "submental", "emg", "ment")
_NOT_CHIN = ("leg", "tib", "lat", "rat", "ltib", "rtib", "arm", "intercostal")


def _find(channels: Sequence[ChannelInput], name: str) -> int:
    for i, ch in enumerate(channels):
        if ch.name == name:
            return i
    target = _norm(name)
    for i, ch in enumerate(channels):
        if _norm(ch.name) == target:
            return i
    known = ", ".join(ch.name for ch in channels) or "none"
    raise ChannelPickError(f"channel {name!r} not found; channels are: {known}")


def pick_eeg(channels: Sequence[ChannelInput], names: Sequence[str] = (),
             max_channels: int = 2) -> list[int]:
    """Return the indices of the EEG channels to stage from.

    Parameters
    ----------
    channels
        Every channel of the recording.
    names
        Explicit channel names (override); empty means pick by montage preference.
    max_channels
        At most this many channels are returned when picking automatically.

    Raises
    ------
    ChannelPickError
        When a named channel is missing or no EEG channel exists.
    """
    if names:
        return [_find(channels, n) for n in names]
    eeg = [i for i, ch in enumerate(channels) if ch.kind.upper() == "EEG"]
    if not eeg:
        known = ", ".join(f"{ch.name} ({ch.kind})" for ch in channels) or "none"
        raise ChannelPickError(f"no EEG channel to stage from; channels are: {known}")

    def rank(i: int) -> tuple[int, int]:
        key = _norm(channels[i].name)
        for r, pref in enumerate(_EEG_PREFERENCE):
            if key == pref:
                return (r, i)
        for r, pref in enumerate(_EEG_PREFERENCE):
            if key.startswith(pref):
                return (len(_EEG_PREFERENCE) + r, i)
        return (10 * len(_EEG_PREFERENCE), i)

    return sorted(eeg, key=rank)[: max(1, max_channels)]


def pick_eog(channels: Sequence[ChannelInput], name: str | None = None) -> int | None:
    """Index of one EOG channel (by kind, then by name hints), or ``None``."""
    if name:
        return _find(channels, name)
    for i, ch in enumerate(channels):
        if ch.kind.upper() == "EOG":
            return i
    for i, ch in enumerate(channels):
        key = ch.name.lower()
        if ch.kind.upper() in ("OTHER", "") and any(h in key for h in _EOG_HINTS):
            return i
    return None


def pick_emg(channels: Sequence[ChannelInput], name: str | None = None) -> int | None:
    """Index of the chin EMG channel (leg EMG is skipped), or ``None``."""
    if name:
        return _find(channels, name)
    cands = [
        i for i, ch in enumerate(channels)
        if ch.kind.upper() == "EMG" or any(h in ch.name.lower() for h in _EMG_HINTS)
    ]
    cands = [i for i in cands if not any(b in channels[i].name.lower() for b in _NOT_CHIN)]
    for i in cands:
        if any(h in channels[i].name.lower() for h in ("chin", "submental", "ment")):
            return i
    return cands[0] if cands else None
