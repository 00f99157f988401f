"""The pyramid file format: a small versioned, checksummed header, then the levels.

Layout: a 64-byte little-endian header (magic ``\\x89WSPYR\\r\\n``, format version, header
size, base_bin, factor, levels, n_samples, CRC-32 of the data, CRC-32 of the header), then for
each level its mins then its maxs as little-endian float32. Files open memory-mapped read-only.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from signal_io.errors import CorruptRecordingError, RecordingNotFoundError, UnreadablePathError
from signal_io.pyramid import _MAX_BIN, _MAX_FACTOR, _MAX_SAMPLES, F32, Pyramid, level_sizes

MAGIC = b"\x89WSPYR\r\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sHHIIIQI24sI")  # magic version hdr_size base factor levels n crc pad crc
HEADER_SIZE = _HEADER.size  # 64 bytes

def _data_crc(arrays: list[F32]) -> int:
    crc = 0
    for a in arrays:
        crc = zlib.crc32(np.ascontiguousarray(a, dtype="<f4").data, crc)
    return crc


def write_pyramid(pyr: Pyramid, path: str | Path) -> None:
    """Write ``pyr`` to ``path`` (overwritten).

    Layout: a 64-byte little-endian header (magic ``\\x89WSPYR\\r\\n``, format version, header
    size, base_bin, factor, levels, n_samples, CRC-32 of the data, CRC-32 of the header), then for
    each level its mins then its maxs as little-endian float32.
    """
    arrays: list[F32] = []
    for lo, hi in zip(pyr.mins, pyr.maxs, strict=True):
        arrays += [lo, hi]
    header = _HEADER.pack(
        MAGIC, FORMAT_VERSION, HEADER_SIZE, pyr.base_bin, pyr.factor, pyr.levels, pyr.n_samples,
        _data_crc(arrays), bytes(24), 0,
    )
    header = header[:-4] + struct.pack("<I", zlib.crc32(header[:-4]))
    with open(path, "wb") as f:
        f.write(header)
        for a in arrays:
            f.write(np.ascontiguousarray(a, dtype="<f4").data)


def open_pyramid(path: str | Path, *, verify: bool = False) -> Pyramid:
    """Open a pyramid written by :func:`write_pyramid`, memory-mapped read-only.

    Parameters
    ----------
    path
        The ``.pyr`` file.
    verify
        Also check the CRC-32 of the data (reads the whole file: ~5 MB per channel-night at
        256 Hz). The header is always checked.

    Raises
    ------
    RecordingNotFoundError
        ``path`` does not exist.
    UnreadablePathError
        ``path`` is a folder or cannot be read.
    CorruptRecordingError
        Wrong magic, unknown version, damaged header, inconsistent layout, a file size that
        disagrees with the header, or (with ``verify``) a data checksum mismatch.
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(HEADER_SIZE)
            file_size = f.seek(0, 2)
    except FileNotFoundError as exc:
        raise RecordingNotFoundError("pyramid file does not exist", p) from exc
    except (IsADirectoryError, PermissionError) as exc:
        raise UnreadablePathError(f"cannot read pyramid file: {exc.strerror}", p) from exc
    if len(head) < HEADER_SIZE:
        raise CorruptRecordingError(
            f"pyramid file is {len(head)} bytes, shorter than its {HEADER_SIZE}-byte header", p
        )
    magic, version, hdr_size, base_bin, factor, levels, n, data_crc, _, hdr_crc = _HEADER.unpack(
        head
    )
    if magic != MAGIC:
        raise CorruptRecordingError("not a wavescore pyramid file (wrong magic bytes)", p)
    if version != FORMAT_VERSION:
        raise CorruptRecordingError(
            f"pyramid format version {version} is not supported (this wavescore reads version "
            f"{FORMAT_VERSION}); rebuild the pyramid by re-ingesting the recording", p
        )
    if zlib.crc32(head[:-4]) != hdr_crc:
        raise CorruptRecordingError("pyramid header checksum mismatch (damaged header)", p)
    if hdr_size != HEADER_SIZE:
        raise CorruptRecordingError(f"pyramid header size {hdr_size} is not {HEADER_SIZE}", p)
    if not (1 <= base_bin <= _MAX_BIN and 2 <= factor <= _MAX_FACTOR and n <= _MAX_SAMPLES):
        raise CorruptRecordingError(
            f"pyramid layout out of range: base_bin={base_bin} (1..{_MAX_BIN}), factor={factor} "
            f"(2..{_MAX_FACTOR}), n_samples={n} (<= {_MAX_SAMPLES})", p
        )
    sizes = level_sizes(n, base_bin, factor)
    if levels != len(sizes):
        raise CorruptRecordingError(
            f"pyramid header says {levels} levels but n_samples={n}, base_bin={base_bin}, "
            f"factor={factor} give {len(sizes)}", p
        )
    expected = HEADER_SIZE + 8 * sum(sizes)
    if file_size != expected:
        raise CorruptRecordingError(
            f"pyramid file is {file_size} bytes but its header implies {expected} "
            "(truncated or padded)", p
        )
    total = 2 * sum(sizes)
    if total:
        data: F32 = np.asarray(np.memmap(p, dtype="<f4", mode="r", offset=HEADER_SIZE,
                                         shape=(total,)))
    else:
        data = np.empty(0, dtype=np.float32)
        data.flags.writeable = False
    mins: list[F32] = []
    maxs: list[F32] = []
    off = 0
    for size in sizes:
        mins.append(data[off : off + size])
        maxs.append(data[off + size : off + 2 * size])
        off += 2 * size
    if verify and _data_crc([data]) != data_crc:
        raise CorruptRecordingError("pyramid data checksum mismatch (damaged data)", p)
    return Pyramid(int(n), int(base_bin), int(factor), tuple(mins), tuple(maxs))
