"""Lazy reader for EDF, EDF+ (continuous and discontinuous), BDF and BDF+ files.

Opening reads the header (and, for EDF+/BDF+, the time-keeping annotation of the first data
record, or of every record when discontinuous). :meth:`EdfRecording.read` then reads only the
data records that cover the requested range, with positioned reads (``os.pread``), and scales
digital values to physical units::

    physical = (digital - digital_min) * (physical_max - physical_min)
               / (digital_max - digital_min) + physical_min

with gain and offset computed in float64 and the result stored as float32. Channels keep their
native rates; nothing is resampled. See ``docs/formats-edf.md`` for quirks and limits.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from signal_io._edf_header import EdfHeader, EdfSignalHeader, decode_samples, parse_header
from signal_io._edf_tal import parse_tal_block
from signal_io._recording import (
    Annotation,
    ChannelInfo,
    HeaderFields,
    Recording,
    Segment,
    guess_channel_kind,
)
from signal_io.errors import CorruptRecordingError, RecordingNotFoundError, UnreadablePathError

#: Bytes read per positioned read when a range spans many data records.
_READ_BLOCK_BYTES = 8 << 20
#: Samples scaled per step (bounds float64 temporaries).
_SCALE_BLOCK = 1 << 20
#: Longest time grid accepted for a discontinuous file, in seconds (about 116 days).
MAX_GRID_S = 1e7
_STAGE_RE = re.compile(r"^sleep stage\b", re.IGNORECASE)


class EdfRecording(Recording):
    """An EDF/EDF+/BDF/BDF+ file opened for lazy reading; see :func:`open_edf`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.source_files = [path]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise RecordingNotFoundError("no such file", path) from None
        except OSError as exc:
            raise UnreadablePathError(f"cannot read: {exc.strerror}", path) from exc
        self._hdr: EdfHeader = parse_header(path, size)
        hdr = self._hdr
        self._fd: int | None = None
        self._lock = threading.Lock()
        # The last block of whole data records read: readers of several channels over the same
        # time span (ingest reads every channel chunk by chunk) slice it instead of re-reading.
        self._block: tuple[int, NDArray[np.uint8]] | None = None
        self._annotations: list[Annotation] | None = None
        self._signals: list[EdfSignalHeader] = [s for s in hdr.signals if not s.is_annotation]
        plus = hdr.plus_kind
        kind = "bdf" if hdr.is_bdf else "edf"
        self.format = kind if not plus else ("bdf+" if hdr.is_bdf else f"edf+{plus.lower()}")
        self.header = HeaderFields(patient=hdr.patient, recording=hdr.recording,
                                   comments=[hdr.reserved] if hdr.reserved else [])
        # Record onsets relative to the header start time (time-keeping TALs).
        self._t0_s = 0.0
        self._onsets_s: NDArray[np.float64] | None = None
        if plus and hdr.annotation_indices and hdr.n_records > 0:
            if plus == "D":
                self._onsets_s = self._read_keeping(range(hdr.n_records))
                self._t0_s = float(self._onsets_s[0])
            else:
                first = self._read_keeping(range(1), required=False)
                self._t0_s = float(first[0]) if first.size and np.isfinite(first[0]) else 0.0
        self.start_time = hdr.start_time
        if self.start_time is not None and self._t0_s != 0.0:
            if not abs(self._t0_s) < 86_400 * 366:
                raise CorruptRecordingError(
                    f"EDF+ first data record starts {self._t0_s} s from the header start time; "
                    "that is absurd", path)
            self.start_time += timedelta(seconds=self._t0_s)
        self._positions: dict[float, NDArray[np.int64]] = {}
        self.channels = [self._channel_info(i, s) for i, s in enumerate(self._signals)]
        self.segments = self._compute_segments()

    # ------------------------------------------------------------------ metadata

    def _fs(self, sig: EdfSignalHeader) -> float:
        return sig.samples_per_record / self._hdr.record_duration_s

    def _channel_info(self, index: int, sig: EdfSignalHeader) -> ChannelInfo:
        fs = self._fs(sig)
        if self._onsets_s is None:
            n = self._hdr.n_records * sig.samples_per_record
        else:
            n = int(self._grid_positions(fs)[-1]) + sig.samples_per_record
        kind = guess_channel_kind(sig.label, f"{sig.type_prefix} {sig.transducer}", sig.unit)
        return ChannelInfo(index=index, name=sig.label, kind=kind, unit=sig.unit, fs=fs,
                           n_samples=n)

    def _grid_positions(self, fs: float) -> NDArray[np.int64]:
        """First grid sample of each data record at rate ``fs`` (discontinuous files)."""
        pos = self._positions.get(fs)
        if pos is None:
            assert self._onsets_s is not None
            # Record onsets that fall between samples are rounded to the nearest sample.
            pos = np.rint((self._onsets_s - self._t0_s) * fs).astype(np.int64)
            self._positions[fs] = pos
        return pos

    def _compute_segments(self) -> list[Segment]:
        hdr = self._hdr
        dur = hdr.record_duration_s
        if hdr.n_records == 0 or dur == 0 or not self._signals:
            return []
        if self._onsets_s is None:
            return [Segment(0.0, hdr.n_records * dur)]
        max_fs = max(self._fs(s) for s in self._signals)
        tol = 0.5 / max_fs
        rel = self._onsets_s - self._t0_s
        segments: list[Segment] = []
        seg_start = float(rel[0])
        seg_end = seg_start + dur
        for onset in rel[1:]:
            if abs(onset - seg_end) > tol:
                segments.append(Segment(seg_start, seg_end - seg_start))
                seg_start = float(onset)
            seg_end = float(onset) + dur
        segments.append(Segment(seg_start, seg_end - seg_start))
        return segments

    # ------------------------------------------------------------------ raw access

    def _pread(self, offset: int, nbytes: int) -> bytes:
        with self._lock:
            if self._fd is None:
                try:
                    self._fd = os.open(self.path, os.O_RDONLY)
                except FileNotFoundError:
                    raise RecordingNotFoundError("file disappeared after opening",
                                                 self.path) from None
                except OSError as exc:
                    raise UnreadablePathError(f"cannot read: {exc.strerror}",
                                              self.path) from exc
            fd = self._fd
        try:
            data = os.pread(fd, nbytes, offset)
        except OSError as exc:
            raise UnreadablePathError(f"read failed: {exc.strerror}", self.path) from exc
        if len(data) != nbytes:
            raise CorruptRecordingError(
                f"EDF file shorter than its header says (changed after opening?): wanted "
                f"{nbytes} bytes at offset {offset}, got {len(data)}", self.path)
        return data

    def _records_column(self, rec_lo: int, rec_hi: int, sig: EdfSignalHeader) -> NDArray[
            np.uint8]:
        """Bytes of one signal in data records ``[rec_lo, rec_hi)``, shape ``(n, nbytes)``."""
        hdr = self._hdr
        nb = sig.samples_per_record * hdr.bytes_per_sample
        out = np.empty((rec_hi - rec_lo, nb), dtype=np.uint8)
        per_block = max(1, _READ_BLOCK_BYTES // hdr.record_bytes)
        for a in range(rec_lo, rec_hi, per_block):
            b = min(rec_hi, a + per_block)
            recs = self._records(a, b)
            out[a - rec_lo:b - rec_lo] = recs[:, sig.offset_bytes:sig.offset_bytes + nb]
        return out

    def _records(self, a: int, b: int) -> NDArray[np.uint8]:
        """Whole data records ``[a, b)``, shape ``(b - a, record_bytes)``.

        Reuses the last block read when it covers them (the channels of one time span ask for
        the same records); nothing is read ahead, so a file changed after opening is noticed.
        """
        hdr = self._hdr
        block = self._block
        if block is None or not block[0] <= a or b > block[0] + len(block[1]):
            buf = self._pread(hdr.header_bytes + a * hdr.record_bytes, (b - a) * hdr.record_bytes)
            block = (a, np.frombuffer(buf, dtype=np.uint8).reshape(b - a, hdr.record_bytes))
            self._block = block
        return block[1][a - block[0]:b - block[0]]

    def _read_keeping(self, records: range, *, required: bool = True) -> NDArray[np.float64]:
        """Onsets of the time-keeping TALs of ``records`` (NaN where absent if not required)."""
        sig = self._hdr.signals[self._hdr.annotation_indices[0]]
        col = self._records_column(records.start, records.stop, sig)
        onsets = np.full(len(records), np.nan)
        for k, r in enumerate(records):
            keeping, _ = parse_tal_block(col[k].tobytes(), r, self.path)
            if keeping is None:
                if required:
                    raise CorruptRecordingError(
                        f"EDF+D data record {r} has no time-keeping annotation", self.path)
                continue
            onsets[k] = keeping
        if required and len(onsets) > 1:
            dur = self._hdr.record_duration_s
            gaps = np.diff(onsets)
            bad = np.flatnonzero(gaps < dur - 1e-6 * max(dur, 1.0))
            if bad.size:
                r = int(bad[0]) + 1
                raise CorruptRecordingError(
                    f"EDF+D data record {r} starts at {onsets[r]} s, before the previous record "
                    f"ends at {onsets[r - 1] + dur} s; records must be in time order without "
                    "overlap", self.path)
            if onsets[-1] - onsets[0] > MAX_GRID_S:
                raise CorruptRecordingError(
                    f"EDF+D data records span {onsets[-1] - onsets[0]:.0f} s; more than "
                    f"{MAX_GRID_S:.0f} s is not accepted", self.path)
        return onsets

    def _digital_into(self, out: NDArray[np.float32], sig: EdfSignalHeader, rec_base: int,
                      lo: int, hi: int) -> None:
        """Scale samples ``[lo, hi)`` counted from the start of record ``rec_base`` into ``out``.

        Records ``rec_base, rec_base + 1, ...`` are taken as contiguous in time.
        """
        spr = sig.samples_per_record
        gain, offset = sig.gain_offset()
        step = max(1, _SCALE_BLOCK // spr) * spr
        pos = lo
        while pos < hi:
            end = min(hi, (pos // spr) * spr + step)
            r0 = rec_base + pos // spr
            r1 = rec_base + -(-end // spr)
            raw = self._records_column(r0, r1, sig)
            dig = decode_samples(raw, self._hdr.is_bdf).reshape(-1)
            first = pos - (r0 - rec_base) * spr
            chunk = dig[first:first + (end - pos)]
            out[pos - lo:end - lo] = chunk * gain + offset
            pos = end

    def _read(self, ch: ChannelInfo, start: int, stop: int) -> NDArray[np.float32]:
        sig = self._signals[ch.index]
        spr = sig.samples_per_record
        if self._onsets_s is None:
            out = np.empty(stop - start, dtype=np.float32)
            self._digital_into(out, sig, 0, start, stop)
            return out
        out = np.full(stop - start, np.nan, dtype=np.float32)
        pos = self._grid_positions(ch.fs)
        # Runs of records that are contiguous on the grid are read in one go; a later record
        # that overlaps an earlier one by rounding overwrites it.
        breaks = np.flatnonzero(pos[1:] != pos[:-1] + spr) + 1
        run_starts = np.concatenate(([0], breaks))
        run_stops = np.concatenate((breaks, [len(pos)]))
        for a, b in zip(run_starts.tolist(), run_stops.tolist(), strict=True):
            g0 = int(pos[a])
            g1 = g0 + (b - a) * spr
            lo, hi = max(start, g0), min(stop, g1)
            if lo < hi:
                self._digital_into(out[lo - start:hi - start], sig, a, lo - g0, hi - g0)
        return out

    # ------------------------------------------------------------------ annotations

    def annotations(self) -> list[Annotation]:
        """Return the EDF+ annotations of every annotation channel, sorted by onset.

        Time-keeping entries are skipped. Onsets are seconds after :attr:`start_time` (which
        includes the subsecond start of the first data record).
        """
        if self._annotations is None:
            self._annotations = self._parse_annotations()
        return list(self._annotations)

    def _parse_annotations(self) -> list[Annotation]:
        hdr = self._hdr
        found: list[Annotation] = []
        for idx in hdr.annotation_indices:
            sig = hdr.signals[idx]
            col = self._records_column(0, hdr.n_records, sig)
            for r in range(hdr.n_records):
                _, tals = parse_tal_block(col[r].tobytes(), r, self.path)
                for t in tals:
                    kind = "stage" if _STAGE_RE.match(t.text) else "text"
                    found.append(Annotation(onset_s=t.onset_s - self._t0_s,
                                            duration_s=t.duration_s, label=t.text, kind=kind,
                                            source="edf+"))
        found.sort(key=lambda a: a.onset_s)
        return found

    def close(self) -> None:
        """Close the file descriptor (a later read reopens it)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._block = None

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


def open_edf(path: str | Path) -> EdfRecording:
    """Open an EDF, EDF+, BDF or BDF+ file lazily.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    EdfRecording
        ``format`` is ``"edf"``, ``"edf+c"``, ``"edf+d"``, ``"bdf"`` or ``"bdf+"``.

    Raises
    ------
    RecordingNotFoundError
        The file does not exist.
    UnsupportedFormatError
        The file does not start with an EDF/BDF version field.
    CorruptRecordingError
        The header is malformed or disagrees with the file size, or an EDF+D time-keeping
        annotation is missing or out of order.
    """
    p = Path(path)
    if p.is_dir():
        raise UnreadablePathError("is a folder, not an EDF file", p)
    return EdfRecording(p)
