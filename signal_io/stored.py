"""Read a recording in the stored form written by :mod:`signal_io.ingest`.

Typical use (the server's window service)::

    rec = open_stored(data_dir / "recordings" / recording_id)
    ch = rec.channels[0]
    win = rec.window(0, start=0, stop=ch.n_samples, px=1500)   # Envelope or RawWindow
    x = rec.raw(0)[1000:2000]                                    # memory-mapped float32

Opening checks the folder's consistency (``meta.json`` schema, every channel's raw file size and
pyramid header) and raises :class:`~signal_io.errors.CorruptRecordingError` naming the file
that is wrong. Raw files and pyramids are memory-mapped on first use and kept open.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from signal_io._recording import Annotation, ChannelInfo, ChannelKind, Segment
from signal_io.errors import (
    ChannelNotFoundError,
    CorruptRecordingError,
    RecordingNotFoundError,
)
from signal_io.ingest import ANNOTATIONS_SCHEMA, META_SCHEMA, channel_file_names
from signal_io.pyramid import Envelope, Pyramid, RawWindow, open_pyramid, raw_or_envelope

__all__ = ["StoredRecording", "open_stored"]


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise CorruptRecordingError("stored recording is missing a file", path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptRecordingError(f"unreadable JSON: {exc}", path) from exc


def _channel(entry: Any, meta_path: Path) -> ChannelInfo:
    try:
        return ChannelInfo(
            index=int(entry["index"]),
            name=str(entry["name"]),
            kind=ChannelKind(entry["kind"]),
            unit=str(entry["unit"]),
            fs=float(entry["fs"]),
            n_samples=int(entry["n_samples"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptRecordingError(f"bad channel entry in meta.json: {exc!r}", meta_path) from exc


class StoredRecording:
    """A stored recording opened for reading. Get one from :func:`open_stored`.

    Attributes
    ----------
    path
        The recording's folder.
    meta
        Content of ``meta.json``.
    recording_id
        Pseudonymous id.
    format
        Source format.
    start_time
        De-identified start (naive local clock time), or ``None``.
    channels
        Channels in index order.
    segments
        Spans with data, in seconds after :attr:`start_time`.
    """

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        meta_path = path / "meta.json"
        self.path = path
        self.meta = meta
        try:
            self.recording_id = str(meta["recording_id"])
            self.format = str(meta["format"])
            start = meta["start_time"]
            self.start_time = None if start is None else datetime.fromisoformat(start)
            self.channels = [_channel(e, meta_path) for e in meta["channels"]]
            self.segments = [Segment(float(s["onset_s"]), float(s["duration_s"]))
                             for s in meta["segments"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptRecordingError(f"bad meta.json: {exc!r}", meta_path) from exc
        if [c.index for c in self.channels] != list(range(len(self.channels))):
            raise CorruptRecordingError("channel indices are not 0..n-1 in order", meta_path)
        self._raw: dict[int, NDArray[np.float32]] = {}
        self._pyr: dict[int, Pyramid] = {}
        for c in self.channels:
            raw_name, pyr_name = channel_file_names(c.index)
            raw_path, pyr_path = path / raw_name, path / pyr_name
            if not raw_path.is_file():
                raise CorruptRecordingError("stored channel file is missing", raw_path)
            size = raw_path.stat().st_size
            if size != 4 * c.n_samples:
                raise CorruptRecordingError(
                    f"raw file holds {size} bytes but meta.json declares {c.n_samples} float32 "
                    f"samples ({4 * c.n_samples} bytes)",
                    raw_path,
                )
            if not pyr_path.is_file():
                raise CorruptRecordingError("stored pyramid file is missing", pyr_path)
        if not (path / "annotations.json").is_file():
            raise CorruptRecordingError("stored recording is missing a file",
                                        path / "annotations.json")

    @property
    def duration_s(self) -> float:
        """Length of the longest channel in seconds."""
        return max((c.duration_s for c in self.channels), default=0.0)

    def channel(self, i: int) -> ChannelInfo:
        """Return channel ``i``.

        Raises
        ------
        ChannelNotFoundError
        """
        if not 0 <= i < len(self.channels):
            raise ChannelNotFoundError(
                f"channel index {i} out of range 0..{len(self.channels) - 1}", self.path
            )
        return self.channels[i]

    def raw(self, i: int) -> NDArray[np.float32]:
        """Samples of channel ``i``: read-only memory-mapped float32, shape ``(n_samples,)``.

        Raises
        ------
        ChannelNotFoundError
        """
        ch = self.channel(i)
        arr = self._raw.get(i)
        if arr is None:
            if ch.n_samples == 0:
                arr = np.zeros(0, dtype=np.float32)
            else:
                mm = np.memmap(self.path / channel_file_names(i)[0], dtype="<f4", mode="r",
                               shape=(ch.n_samples,))
                arr = mm.view(np.ndarray).view(np.float32)
            self._raw[i] = arr
        return arr

    def pyramid(self, i: int) -> Pyramid:
        """The min/max pyramid of channel ``i`` (memory-mapped).

        Raises
        ------
        ChannelNotFoundError
        CorruptRecordingError
            The pyramid file is damaged or does not match the channel's length.
        """
        ch = self.channel(i)
        pyr = self._pyr.get(i)
        if pyr is None:
            pyr_path = self.path / channel_file_names(i)[1]
            pyr = open_pyramid(pyr_path)
            if pyr.n_samples != ch.n_samples:
                raise CorruptRecordingError(
                    f"pyramid covers {pyr.n_samples} samples, channel has {ch.n_samples}",
                    pyr_path,
                )
            self._pyr[i] = pyr
        return pyr

    def window(self, i: int, start: int, stop: int, px: int) -> RawWindow | Envelope:
        """Channel ``i`` over samples ``[start, stop)`` drawn on ``px`` pixel columns.

        Returns raw samples (:class:`~signal_io.pyramid.RawWindow`) when
        ``stop - start <= 2 * px``, else the exact min/max
        :class:`~signal_io.pyramid.Envelope` from the pyramid.

        Raises
        ------
        ChannelNotFoundError, SampleRangeError, PyramidError
        """
        return raw_or_envelope(self.raw(i), self.pyramid(i), start, stop, px)

    def annotations(self) -> list[Annotation]:
        """The recording's own (de-identified) annotations, sorted by onset.

        Raises
        ------
        CorruptRecordingError
            ``annotations.json`` is damaged.
        """
        path = self.path / "annotations.json"
        payload = _load_json(path)
        try:
            if payload["schema"] != ANNOTATIONS_SCHEMA:
                raise CorruptRecordingError(f"unknown schema {payload['schema']!r}", path)
            return [
                Annotation(float(a["onset_s"]), float(a["duration_s"]), str(a["label"]),
                           str(a["kind"]), a["channel"], str(a["source"]))
                for a in payload["annotations"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptRecordingError(f"bad annotations.json: {exc!r}", path) from exc

    def deid_report(self) -> dict[str, Any]:
        """Content of ``deid_report.json``."""
        report: dict[str, Any] = _load_json(self.path / "deid_report.json")
        return report


def open_stored(path: str | Path) -> StoredRecording:
    """Open the stored recording in folder ``path`` and check its consistency.

    Raises
    ------
    RecordingNotFoundError
        ``path`` is not a folder.
    CorruptRecordingError
        ``meta.json`` is missing, unreadable or of an unknown schema; a channel's raw file is
        missing or its size disagrees with ``meta.json``; a pyramid or ``annotations.json`` is
        missing.
    """
    p = Path(path)
    if not p.is_dir():
        raise RecordingNotFoundError("no stored recording folder", p)
    meta = _load_json(p / "meta.json")
    if not isinstance(meta, dict) or meta.get("schema") != META_SCHEMA:
        raise CorruptRecordingError(
            f"meta.json is not of schema {META_SCHEMA!r}", p / "meta.json"
        )
    return StoredRecording(p, meta)
