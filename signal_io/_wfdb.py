"""Lazy reader for single-segment WFDB records (``.hea`` + ``.dat``/``.mat``).

Opening parses the header and checks every data file's size against the declared sample
count; reading a range seeks to the bytes that hold it and decodes only those, in bounded
chunks. Supported storage formats: 16, 61, 160 (16-bit), 24, 32, 80 (8-bit offset) and 212
(12-bit packed, 3 bytes per 2 samples), interleaved across the signals of a file, with
``xN`` samples per frame, skew and byte offsets. MATLAB records (``.mat`` v4 files written by
``wfdb2mat``) are format-16/24/32 data behind a byte offset; the MAT header is checked against
that offset.

Physical value = ``(digital - baseline) / gain``, float32; the WFDB "invalid sample" value of
each format reads as NaN.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from signal_io._recording import (
    Annotation,
    ChannelInfo,
    ChannelKind,
    HeaderFields,
    Recording,
    Segment,
    guess_channel_kind,
)
from signal_io._wfdb_annotations import ANNOTATION_EXTENSIONS, read_annotation_file
from signal_io._wfdb_header import INVALID_SAMPLE, SignalSpec, WfdbHeader, read_header
from signal_io.errors import (
    CorruptRecordingError,
    RecordingNotFoundError,
    UnreadablePathError,
)

#: Bytes per sample of each byte-aligned format (212 packs 2 samples in 3 bytes).
_BYTES_PER_SAMPLE: dict[int, int] = {16: 2, 61: 2, 160: 2, 24: 3, 32: 4, 80: 1}
#: Samples decoded per chunk when reading long ranges (bounds temporary memory).
CHUNK_SAMPLES = 1 << 21
#: Frank/lead names WFDB databases use that the generic guesser does not know.
_ECG_NAMES = frozenset({"V", "VX", "VY", "VZ", "MLI", "MLII", "MLIII", "ECG", "AVR", "AVL",
                        "AVF", "D1", "D2", "D3", "CM5", "CC5", "ML5", "MV1"})
_RESP_NAMES = frozenset({"RESP", "RESPIRATION", "THO", "ABD", "CO2"})


def bytes_for_samples(fmt: int, n: int) -> int:
    """Bytes that ``n`` samples occupy in storage format ``fmt``."""
    if fmt == 212:
        return (n // 2) * 3 + (2 if n % 2 else 0)
    return n * _BYTES_PER_SAMPLE[fmt]


def samples_in_bytes(fmt: int, n_bytes: int) -> int:
    """Whole samples that ``n_bytes`` bytes hold in storage format ``fmt``."""
    if fmt == 212:
        return (n_bytes // 3) * 2 + (1 if n_bytes % 3 >= 2 else 0)
    return n_bytes // _BYTES_PER_SAMPLE[fmt]


def decode_samples(fmt: int, raw: bytes, n: int) -> NDArray[np.int32]:
    """Decode the first ``n`` samples stored in ``raw`` (format ``fmt``) to digital values.

    Parameters
    ----------
    fmt
        WFDB storage format.
    raw
        Bytes starting at a sample boundary (a pair boundary for 212).
    n
        Samples wanted; ``raw`` must hold at least ``bytes_for_samples(fmt, n)`` bytes.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, int32 digital values.
    """
    if fmt == 212:
        n_pairs = (n + 1) // 2
        buf = np.frombuffer(raw[: 3 * n_pairs].ljust(3 * n_pairs, b"\x00"), dtype=np.uint8)
        trip = buf.reshape(n_pairs, 3).astype(np.int32)
        out = np.empty(2 * n_pairs, dtype=np.int32)
        out[0::2] = trip[:, 0] | ((trip[:, 1] & 0x0F) << 8)
        out[1::2] = trip[:, 2] | ((trip[:, 1] & 0xF0) << 4)
        out = out[:n]
        out[out >= 2048] -= 4096
        return out
    size = _BYTES_PER_SAMPLE[fmt] * n
    if fmt == 16:
        return np.frombuffer(raw, dtype="<i2", count=n).astype(np.int32)
    if fmt == 61:
        return np.frombuffer(raw, dtype=">i2", count=n).astype(np.int32)
    if fmt == 160:
        return np.frombuffer(raw, dtype="<u2", count=n).astype(np.int32) - 32768
    if fmt == 32:
        return np.frombuffer(raw, dtype="<i4", count=n).astype(np.int32)
    if fmt == 80:
        return np.frombuffer(raw, dtype=np.uint8, count=n).astype(np.int32) - 128
    # 24-bit little-endian two's complement
    b = np.frombuffer(raw[:size], dtype=np.uint8).reshape(n, 3).astype(np.int32)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    v[v >= 1 << 23] -= 1 << 24
    return v


@dataclass(frozen=True, slots=True)
class _DataFile:
    """One data file and the interleaving of its signals."""

    path: Path
    fmt: int
    byte_offset: int
    frame_samples: int  # samples of all its signals in one frame
    n_frames: int  # whole frames the file holds


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where one channel's samples sit in its data file."""

    file: int
    position: int  # first slot of this channel within a frame
    spf: int
    skew: int
    gain: float
    baseline: int
    invalid: int


def _kind(spec: SignalSpec) -> ChannelKind:
    name = spec.description.strip()
    upper = name.upper()
    if upper in _ECG_NAMES:
        return ChannelKind.ECG
    if upper in _RESP_NAMES:
        return ChannelKind.RESP
    return guess_channel_kind(name, "", spec.unit)


def _check_mat(path: Path, byte_offset: int, header_path: Path) -> None:
    """Check that a ``.mat`` v4 file's data starts where the WFDB header says it does."""
    try:
        with path.open("rb") as fh:
            head = fh.read(20)
    except OSError as exc:
        raise UnreadablePathError(f"cannot read data file: {exc.strerror}", path) from None
    if len(head) < 20:
        raise CorruptRecordingError(
            f"MAT file is {len(head)} bytes, shorter than a MAT v4 header (20 bytes)", path
        )
    mopt, _rows, _cols, imag, name_len = struct.unpack("<5i", head)
    if not (0 <= mopt < 5000 and imag in (0, 1) and 0 < name_len < 1024):
        raise CorruptRecordingError("not a little-endian MAT v4 file (bad matrix header)", path)
    data_start = 20 + name_len
    if data_start != byte_offset:
        raise CorruptRecordingError(
            f"MAT v4 data starts at byte {data_start} but header {header_path.name} declares "
            f"byte offset {byte_offset}",
            path,
        )


class WfdbRecording(Recording):
    """A single-segment WFDB record opened for lazy reading; see :func:`open_wfdb`."""

    def __init__(self, path: Path, header: WfdbHeader) -> None:
        self.path = path
        self.format = "wfdb"
        self._header = header
        self.start_time = header.start_time
        self.header = HeaderFields(comments=list(header.comments))
        files, layouts = self._plan_files(header)
        n_frames = header.n_frames
        if n_frames is None:
            n_frames = min((f.n_frames for f in files), default=0)
        self._files = files
        self._layouts = layouts
        self.channels = [
            ChannelInfo(
                index=i,
                name=sig.description,
                kind=_kind(sig),
                unit=sig.unit,
                fs=header.fs * sig.samples_per_frame,
                n_samples=n_frames * sig.samples_per_frame,
            )
            for i, sig in enumerate(header.signals)
        ]
        self.segments = [Segment(0.0, n_frames / header.fs)] if n_frames else []
        self._n_frames = n_frames
        self._annotation_files = [
            f for ext in ANNOTATION_EXTENSIONS
            if (f := path.with_name(f"{path.stem}.{ext}")).is_file()
        ]
        self.source_files = [path, *(f.path for f in files), *self._annotation_files]

    def _plan_files(self, header: WfdbHeader) -> tuple[list[_DataFile], list[_Layout]]:
        files: list[_DataFile] = []
        layouts: list[_Layout] = []
        groups: list[list[SignalSpec]] = []
        for sig in header.signals:
            if groups and groups[-1][0].file_name == sig.file_name:
                groups[-1].append(sig)
            elif any(g[0].file_name == sig.file_name for g in groups):
                raise CorruptRecordingError(
                    f"signals stored in {sig.file_name} are not listed consecutively", self.path
                )
            else:
                groups.append([sig])
        for gi, group in enumerate(groups):
            first = group[0]
            if any(s.fmt != first.fmt for s in group):
                raise CorruptRecordingError(
                    f"signals in {first.file_name} use different storage formats "
                    f"({sorted({s.fmt for s in group})}); WFDB requires one per file",
                    self.path,
                )
            frame_samples = sum(s.samples_per_frame for s in group)
            dat = self.path.with_name(first.file_name)
            n_bytes = self._data_bytes(dat, first.byte_offset)
            if dat.suffix.lower() == ".mat":
                _check_mat(dat, first.byte_offset, self.path)
            available = samples_in_bytes(first.fmt, n_bytes) // frame_samples
            if header.n_frames is not None:
                need = bytes_for_samples(first.fmt, header.n_frames * frame_samples)
                if n_bytes < need:
                    raise CorruptRecordingError(
                        f"data file is truncated: header {self.path.name} declares "
                        f"{header.n_frames} frames of {frame_samples} format-{first.fmt} "
                        f"samples, expected {need} bytes after the {first.byte_offset}-byte "
                        f"offset, actual {n_bytes} bytes",
                        dat,
                    )
            files.append(_DataFile(dat, first.fmt, first.byte_offset, frame_samples, available))
            pos = 0
            for sig in group:
                layouts.append(_Layout(gi, pos, sig.samples_per_frame, sig.skew, sig.gain,
                                       sig.baseline, INVALID_SAMPLE[sig.fmt]))
                pos += sig.samples_per_frame
        return files, layouts

    def _data_bytes(self, dat: Path, offset: int) -> int:
        try:
            st = dat.stat()
        except FileNotFoundError:
            raise RecordingNotFoundError(
                f"data file named in header {self.path.name} is missing", dat
            ) from None
        except OSError as exc:
            raise UnreadablePathError(f"cannot read data file: {exc.strerror}", dat) from None
        if dat.is_dir():
            raise UnreadablePathError("data file is a folder", dat)
        if not os.access(dat, os.R_OK):
            raise UnreadablePathError("data file: permission denied", dat)
        if st.st_size == 0:
            raise CorruptRecordingError("data file is empty (0 bytes)", dat)
        n_bytes = st.st_size - offset
        if n_bytes <= 0:
            raise CorruptRecordingError(
                f"data file is {st.st_size} bytes, no data after the {offset}-byte offset "
                f"declared in {self.path.name}",
                dat,
            )
        return n_bytes

    def _read_file_samples(self, f: _DataFile, s0: int, s1: int) -> NDArray[np.int32]:
        """Digital samples ``[s0, s1)`` of a data file (all signals interleaved)."""
        if f.fmt == 212:
            a0 = s0 - s0 % 2
            pos = f.byte_offset + (a0 // 2) * 3
        else:
            a0 = s0
            pos = f.byte_offset + a0 * _BYTES_PER_SAMPLE[f.fmt]
        n = s1 - a0
        want = bytes_for_samples(f.fmt, n)
        try:
            with f.path.open("rb") as fh:
                fh.seek(pos)
                raw = fh.read(want)
        except OSError as exc:
            raise UnreadablePathError(f"cannot read data file: {exc.strerror}", f.path) from None
        if len(raw) < want:
            raise CorruptRecordingError(
                f"data file ended early: expected {want} bytes at byte {pos}, actual "
                f"{len(raw)} (was it truncated after opening?)",
                f.path,
            )
        return decode_samples(f.fmt, raw, n)[s0 - a0:]

    def _read_digital(self, lay: _Layout, lo: int, hi: int) -> NDArray[np.int32]:
        """Digital samples ``[lo, hi)`` of one channel, counted in the file (skew applied)."""
        f = self._files[lay.file]
        out = np.empty(hi - lo, dtype=np.int32)
        f0, f1 = lo // lay.spf, -(-hi // lay.spf)
        step = max(1, CHUNK_SAMPLES // f.frame_samples)
        filled = 0
        for fa in range(f0, f1, step):
            fb = min(fa + step, f1)
            block = self._read_file_samples(f, fa * f.frame_samples, fb * f.frame_samples)
            mine = block.reshape(fb - fa, f.frame_samples)[:, lay.position:lay.position + lay.spf]
            flat = mine.reshape(-1)
            first = max(lo - fa * lay.spf, 0)
            last = min(hi - fa * lay.spf, flat.size)
            out[filled:filled + last - first] = flat[first:last]
            filled += last - first
        return out

    def read_digital(self, key: int | str, start: int = 0,
                     stop: int | None = None) -> NDArray[np.int32]:
        """Read stored digital values ``[start, stop)`` of one channel (no skew handling).

        Returns
        -------
        numpy.ndarray
            Shape ``(stop - start,)``, int32, as stored in the data file.

        Raises
        ------
        ChannelNotFoundError, SampleRangeError
        """
        ch, start, stop = self.check_range(key, start, stop)
        return self._read_digital(self._layouts[ch.index], start, stop)

    def _read(self, ch: ChannelInfo, start: int, stop: int) -> NDArray[np.float32]:
        lay = self._layouts[ch.index]
        out = np.full(stop - start, np.nan, dtype=np.float32)
        shift = lay.skew * lay.spf
        limit = self._files[lay.file].n_frames * lay.spf
        lo, hi = max(start + shift, 0), min(stop + shift, limit)
        if hi <= lo:
            return out
        dst = out[lo - shift - start:hi - shift - start]
        step = CHUNK_SAMPLES
        for a in range(lo, hi, step):
            b = min(a + step, hi)
            d = self._read_digital(lay, a, b)
            phys = (d.astype(np.float64) - lay.baseline) / lay.gain
            phys[d == lay.invalid] = np.nan
            dst[a - lo:b - lo] = phys
        return out

    def annotations(self) -> list[Annotation]:
        """Read every annotation file of the record (see :mod:`signal_io._wfdb_annotations`).

        Returns
        -------
        list of Annotation
            Sorted by onset (stable: file order within one onset).

        Raises
        ------
        CorruptRecordingError, UnreadablePathError
            An annotation file cannot be read or decoded.
        """
        names = [c.name for c in self.channels]
        duration = self._n_frames / self._header.fs if self._n_frames else None
        out: list[Annotation] = []
        for f in self._annotation_files:
            out.extend(read_annotation_file(f, self._header.fs, names, duration))
        out.sort(key=lambda a: a.onset_s)
        return out


def open_wfdb(path: Path) -> WfdbRecording:
    """Open a single-segment WFDB record lazily.

    Parameters
    ----------
    path
        The ``.hea`` header (or the record path without suffix).

    Returns
    -------
    WfdbRecording

    Raises
    ------
    RecordingNotFoundError
        The header or a data file is missing.
    UnreadablePathError
        A file cannot be read.
    UnsupportedFormatError
        Multi-segment records, storage formats not decoded here.
    CorruptRecordingError
        Header fields that are not numbers or out of range, data files shorter than declared,
        empty files.
    """
    p = Path(path)
    if p.suffix.lower() != ".hea" and not p.exists():
        p = p.with_name(p.name + ".hea")
    header = read_header(p)
    return WfdbRecording(p, header)
