"""Parse EDF+ Time-stamped Annotation Lists (TALs) from annotation-channel bytes.

A TAL is ``+onset[\\x15duration]\\x14text\\x14[text\\x14...]\\x00``. Each data record's
annotation block starts with a time-keeping TAL whose first text is empty: its onset is the
record's start time relative to the header start time. Blocks are padded with ``\\x00``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from signal_io.errors import CorruptRecordingError

_ONSET_RE = re.compile(rb"[+-]\d+(?:\.\d*)?")
_DURATION_RE = re.compile(rb"\d+(?:\.\d*)?")


@dataclass(frozen=True, slots=True)
class Tal:
    """One annotation text from a TAL, with times relative to the header start time."""

    onset_s: float
    duration_s: float
    text: str


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # Older writers used Latin-1; keep the text rather than failing the whole file.
        return raw.decode("latin-1")


def parse_tal_block(block: bytes, record: int, path: Path) -> tuple[float | None, list[Tal]]:
    """Parse the annotation bytes of one data record.

    Parameters
    ----------
    block
        The annotation channel's bytes of this record.
    record
        Data record index, for error messages.
    path
        The file, for error messages.

    Returns
    -------
    keeping_onset_s, tals
        The onset of the record's time-keeping TAL (``None`` when the block has none) and the
        non-empty annotation texts it holds.

    Raises
    ------
    CorruptRecordingError
        A TAL's onset or duration is malformed.
    """
    keeping: float | None = None
    tals: list[Tal] = []
    first = True
    for chunk in block.split(b"\x00"):
        if not chunk:
            continue
        parts = chunk.split(b"\x14")
        timing = parts[0]
        onset_raw, _, dur_raw = timing.partition(b"\x15")
        if _ONSET_RE.fullmatch(onset_raw) is None or (
                dur_raw and _DURATION_RE.fullmatch(dur_raw) is None) or len(parts) < 2:
            raise CorruptRecordingError(
                f"EDF+ annotation in data record {record} is malformed: "
                f"{chunk[:40]!r} does not start with '+onset[\\x15duration]\\x14'", path)
        onset = float(onset_raw)
        duration = float(dur_raw) if dur_raw else 0.0
        # The final part after the last \x14 is empty in a well-formed TAL.
        texts = parts[1:-1] if parts[-1] == b"" else parts[1:]
        if first and texts and texts[0] == b"":
            keeping = onset
        first = False
        for t in texts:
            if t:
                tals.append(Tal(onset, duration, _decode(t)))
    return keeping, tals
