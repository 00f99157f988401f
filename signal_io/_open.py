"""Open any supported recording by looking at its content."""

from __future__ import annotations

import os
from pathlib import Path

from signal_io._recording import Recording
from signal_io.errors import (
    RecordingNotFoundError,
    UnreadablePathError,
    UnsupportedFormatError,
)

#: File suffixes (lower case) that name a recording on their own.
RECORDING_SUFFIXES = (".hea", ".edf", ".bdf", ".rec")


def open_recording(path: str | Path) -> Recording:
    """Open a recording lazily, choosing the reader from the file's content.

    Parameters
    ----------
    path
        A WFDB header (``.hea``; a record name without suffix also works when ``NAME.hea``
        exists), or an EDF/EDF+/BDF/BDF+ file.

    Returns
    -------
    Recording

    Raises
    ------
    RecordingNotFoundError
        The path does not exist.
    UnreadablePathError
        The path is a folder or cannot be read.
    UnsupportedFormatError
        The content is not a format wavescore reads.
    CorruptRecordingError
        The content claims a supported format but is inconsistent.
    """
    p = Path(path)
    if not p.exists() and p.with_name(p.name + ".hea").exists():
        p = p.with_name(p.name + ".hea")
    if not p.exists():
        raise RecordingNotFoundError("no such file", p)
    if p.is_dir():
        raise UnreadablePathError("is a folder, not a recording file", p)
    if not os.access(p, os.R_OK):
        raise UnreadablePathError("permission denied", p)
    try:
        with p.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise UnreadablePathError(f"cannot read: {exc.strerror}", p) from exc
    suffix = p.suffix.lower()
    if suffix == ".hea":
        from signal_io._wfdb import open_wfdb

        return open_wfdb(p)
    if head[:8] == b"0       " or head[:8] == b"\xffBIOSEMI":
        from signal_io._edf import open_edf

        return open_edf(p)
    if len(head) == 0:
        raise UnsupportedFormatError("file is empty (0 bytes)", p)
    raise UnsupportedFormatError(
        "not a recognised recording: expected a WFDB header (.hea) or a file starting with an "
        "EDF/BDF version field",
        p,
    )


def find_recordings(path: str | Path) -> list[Path]:
    """List the recordings in a folder (recursively), or the path itself if it is a file.

    Parameters
    ----------
    path
        A file or a folder.

    Returns
    -------
    list of Path
        Sorted recording files: WFDB headers and EDF/BDF files.

    Raises
    ------
    RecordingNotFoundError
        The path does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise RecordingNotFoundError("no such file or folder", p)
    if p.is_file():
        return [p]
    return sorted(
        f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in RECORDING_SUFFIXES
    )
