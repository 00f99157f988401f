"""Turn an opened recording into the stored form, in one streaming pass, atomically.

The stored form (``docs/ARCHITECTURE.md``, read back by :func:`signal_io.stored.open_stored`)::

    <recordings_dir>/<recording_id>/
        meta.json           schema "wavescore.recording/1": id, format, duration_s,
                            de-identified start_time, channels, segments, content hashes
        ch000.f32 ...       raw little-endian float32 per channel
        ch000.pyr ...       min/max pyramid per channel (signal_io.pyramid)
        annotations.json    the recording's own annotations, de-identified
        deid_report.json    what de-identification changed (never original values)

The source is read chunk by chunk (all channels over the same span of time, about
:data:`DEFAULT_CHUNK_SAMPLES` samples per chunk): each chunk is appended to the channel's raw
file and fed to its :class:`~signal_io.pyramid.PyramidBuilder`, so no whole-channel copy is ever
held in memory. Everything is written into ``<recordings_dir>/.tmp-<id>-<pid>/``, flushed to
disk, and renamed to ``<recordings_dir>/<id>/`` only when complete: a failure at any point
removes the temporary folder and leaves nothing behind.

This module is pure (no database): the server's ingest service computes the pseudonymous id,
checks the registry, calls :func:`ingest_recording`, then registers the result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from signal_io._recording import Annotation, ChannelInfo, Recording
from signal_io.deid import DeidResult, deidentify
from signal_io.errors import CorruptRecordingError, IngestError, SignalIOError
from signal_io.pyramid import PyramidBuilder, write_pyramid

#: Schema tag of ``meta.json``.
META_SCHEMA = "wavescore.recording/1"
#: Schema tag of ``annotations.json``.
ANNOTATIONS_SCHEMA = "wavescore.annotations/1"
#: Samples read per chunk, summed over all channels (about 8 MiB of float32 per chunk).
DEFAULT_CHUNK_SAMPLES = 1 << 21
#: Prefix of the temporary folders of ingests in progress.
TMP_PREFIX = ".tmp-"
_TMP_NAME = re.compile(r"^\.tmp-(?P<id>[^-]+)-(?P<pid>\d+)$")
_HASH_BLOCK = 1 << 22

#: ``progress(channel, samples_done, samples_total)``: the channel just read, and samples done
#: and total summed over all channels.
ProgressCallback = Callable[[ChannelInfo, int, int], None]

__all__ = [
    "ANNOTATIONS_SCHEMA",
    "DEFAULT_CHUNK_SAMPLES",
    "META_SCHEMA",
    "IngestResult",
    "ProgressCallback",
    "channel_file_names",
    "clean_stale_tmp",
    "content_sha256",
    "hash_files",
    "ingest_recording",
    "remove_stored",
]


def hash_files(paths: Iterable[Path]) -> list[str]:
    """Return the hex sha256 of each file's content, in order (read in 4 MiB blocks).

    Raises
    ------
    IngestError
        A file cannot be read.
    """
    digests: list[str] = []
    for path in paths:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                while block := fh.read(_HASH_BLOCK):
                    h.update(block)
        except OSError as exc:
            raise IngestError(f"cannot read for hashing: {exc.strerror or exc}", path) from exc
        digests.append(h.hexdigest())
    return digests


def content_sha256(file_digests: Sequence[str]) -> str:
    """Combine per-file sha256 digests into one content hash, independent of names and order.

    Two copies of the same recording under different names or folders get the same hash.
    """
    h = hashlib.sha256(b"wavescore.content/1\n")
    for d in sorted(file_digests):
        h.update(d.encode("ascii") + b"\n")
    return h.hexdigest()


def channel_file_names(index: int) -> tuple[str, str]:
    """Return the raw and pyramid file names of channel ``index`` (``ch000.f32``, ``ch000.pyr``)."""
    return f"ch{index:03d}.f32", f"ch{index:03d}.pyr"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """A recording written to its stored folder.

    Attributes
    ----------
    recording_id
        The pseudonymous id (the folder name).
    path
        The stored folder.
    format
        Source format (``"wfdb"``, ``"edf+c"``...).
    duration_s
        Length of the longest channel in seconds.
    start_time
        De-identified start time, or ``None``.
    channels
        De-identified channels.
    n_annotations
        Annotations stored.
    deid_report
        Content of ``deid_report.json``.
    meta
        Content of ``meta.json``.
    """

    recording_id: str
    path: Path
    format: str
    duration_s: float
    start_time: datetime | None
    channels: list[ChannelInfo]
    n_annotations: int
    deid_report: dict[str, Any]
    meta: dict[str, Any]


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_tmp(recordings_dir: Path) -> list[Path]:
    """Remove temporary folders left by ingests whose process no longer runs.

    Folders of ingests still running (in this or another live process) are left alone.

    Returns
    -------
    list of Path
        The folders removed.
    """
    removed: list[Path] = []
    if not recordings_dir.is_dir():
        return removed
    for entry in recordings_dir.iterdir():
        m = _TMP_NAME.match(entry.name)
        if m is None or not entry.is_dir() or _pid_alive(int(m.group("pid"))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def remove_stored(path: Path) -> None:
    """Remove a stored folder (after a failed registration) without leaving a partial one.

    The folder is first renamed to a temporary name, so a crash during removal leaves a
    ``.tmp-*`` folder that :func:`clean_stale_tmp` removes later, never a damaged recording.
    """
    if not path.exists():
        return
    doomed = path.with_name(f"{TMP_PREFIX}{path.name}-{os.getpid()}")
    if doomed.exists():
        shutil.rmtree(doomed, ignore_errors=True)
    os.rename(path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, payload: object, *, indent: int | None = 1) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, ensure_ascii=False, indent=indent, allow_nan=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


def _annotation_json(a: Annotation) -> dict[str, Any]:
    return {"onset_s": a.onset_s, "duration_s": a.duration_s, "label": a.label, "kind": a.kind,
            "channel": a.channel, "source": a.source}


def _estimate_bytes(channels: Sequence[ChannelInfo]) -> int:
    n = sum(c.n_samples for c in channels)
    return 4 * n + n // 2 + (1 << 20)  # raw + pyramids (~0.67 byte/sample) + small files


def _check_disk_space(recordings_dir: Path, channels: Sequence[ChannelInfo], src: Path) -> None:
    need = _estimate_bytes(channels)
    free = shutil.disk_usage(recordings_dir).free
    if need > free:
        raise IngestError(
            f"the stored form needs about {need / 1e9:.2f} GB but {recordings_dir} has "
            f"{free / 1e9:.2f} GB free (check the declared sample counts, or free space)",
            src,
        )


def _stream_channels(
    rec: Recording,
    tmp: Path,
    chunk_samples: int,
    progress: ProgressCallback | None,
) -> None:
    """Copy every channel to ``tmp`` chunk by chunk, building the pyramids on the way."""
    channels = rec.channels
    total = sum(c.n_samples for c in channels)
    total_fs = sum(c.fs for c in channels) or 1.0
    chunk_s = max(1.0, chunk_samples / total_fs)
    builders = [PyramidBuilder(c.n_samples) for c in channels]
    pos = [0] * len(channels)
    files: list[BinaryIO] = []
    done = 0
    try:
        for c in channels:
            files.append(open(tmp / channel_file_names(c.index)[0], "wb"))  # noqa: SIM115
        k = 0
        while any(p < c.n_samples for p, c in zip(pos, channels, strict=True)):
            k += 1
            for i, c in enumerate(channels):
                lo = pos[i]
                hi = min(c.n_samples, round(k * chunk_s * c.fs))
                if hi <= lo:
                    continue
                try:
                    x = rec.read(i, lo, hi)
                except SignalIOError:
                    raise
                except (OSError, ValueError, EOFError) as exc:
                    raise CorruptRecordingError(
                        f"reading channel {c.name!r} samples [{lo}, {hi}) failed: {exc}", rec.path
                    ) from exc
                if x.shape != (hi - lo,):
                    raise CorruptRecordingError(
                        f"channel {c.name!r}: reader returned {x.shape} samples for [{lo}, {hi})",
                        rec.path,
                    )
                x32 = np.ascontiguousarray(x, dtype="<f4")
                files[i].write(x32.data)
                builders[i].feed(x32)
                pos[i] = hi
                done += hi - lo
                if progress is not None:
                    progress(c, done, total)
        for f in files:
            f.flush()
            os.fsync(f.fileno())
    finally:
        for f in files:
            f.close()
    for c, b in zip(channels, builders, strict=True):
        pyr_path = tmp / channel_file_names(c.index)[1]
        write_pyramid(b.finish(), pyr_path)
        with open(pyr_path, "rb") as fh:
            os.fsync(fh.fileno())


def _meta(
    rec: Recording,
    recording_id: str,
    deid: DeidResult,
    content_hash: str,
    source_files_sha256: Sequence[str],
) -> dict[str, Any]:
    chans = []
    for c in deid.channels:
        raw_name, pyr_name = channel_file_names(c.index)
        chans.append({"index": c.index, "name": c.name, "kind": str(c.kind), "unit": c.unit,
                      "fs": c.fs, "n_samples": c.n_samples, "raw": raw_name,
                      "pyramid": pyr_name})
    return {
        "schema": META_SCHEMA,
        "recording_id": recording_id,
        "format": rec.format,
        "duration_s": max((c.n_samples / c.fs for c in deid.channels), default=0.0),
        "start_time": None if deid.start_time is None else deid.start_time.isoformat(),
        "channels": chans,
        "segments": [{"onset_s": s.onset_s, "duration_s": s.duration_s} for s in rec.segments],
        "source_sha256": content_hash,
        "source_files_sha256": list(source_files_sha256),
        "header": {"patient": deid.patient, "recording": deid.recording,
                   "comments": deid.comments},
        "n_annotations": len(deid.annotations),
    }


def ingest_recording(
    rec: Recording,
    recordings_dir: Path,
    *,
    recording_id: str,
    content_sha256: str,
    source_files_sha256: Sequence[str],
    shift_days: int,
    progress: ProgressCallback | None = None,
    chunk_samples: int = DEFAULT_CHUNK_SAMPLES,
) -> IngestResult:
    """Write ``rec`` de-identified into ``recordings_dir/<recording_id>/``, atomically.

    Parameters
    ----------
    rec
        An opened recording (:func:`signal_io.open_recording`).
    recordings_dir
        Parent folder of the stored recordings (created if missing).
    recording_id
        Pseudonymous id (:func:`signal_io.deid.pseudonym`); the folder name.
    content_sha256, source_files_sha256
        Hashes of the source content (:func:`content_sha256`, :func:`hash_files`), stored in
        ``meta.json``.
    shift_days
        Whole-day date shift (:func:`signal_io.deid.date_shift_days`).
    progress
        Called as ``progress(channel, samples_done, samples_total)`` after each chunk of each
        channel (done and total summed over channels).
    chunk_samples
        Samples per chunk summed over channels (at least one second of every channel is read
        per chunk).

    Returns
    -------
    IngestResult

    Raises
    ------
    IngestError
        The folder already exists, disk space is short, or writing failed.
    CorruptRecordingError
        The reader failed part-way or returned inconsistent data.
    SignalIOError
        Any other reader error. In every case nothing is left in ``recordings_dir``.
    """
    if chunk_samples < 1:
        raise IngestError(f"chunk_samples must be >= 1, got {chunk_samples}", rec.path)
    final = recordings_dir / recording_id
    if final.exists():
        raise IngestError(f"stored folder {final} already exists", rec.path)
    try:
        recordings_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IngestError(f"cannot create {recordings_dir}: {exc.strerror or exc}") from exc
    _check_disk_space(recordings_dir, rec.channels, rec.path)
    tmp = recordings_dir / f"{TMP_PREFIX}{recording_id}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        deid = deidentify(header=rec.header, start_time=rec.start_time, channels=rec.channels,
                          annotations=rec.annotations(), shift_days=shift_days)
        tmp.mkdir()
        _stream_channels(rec, tmp, chunk_samples, progress)
        _write_json(tmp / "annotations.json", {
            "schema": ANNOTATIONS_SCHEMA,
            "annotations": [_annotation_json(a) for a in deid.annotations],
        }, indent=None)
        _write_json(tmp / "deid_report.json", deid.report)
        meta = _meta(rec, recording_id, deid, content_sha256, source_files_sha256)
        _write_json(tmp / "meta.json", meta)
        _fsync_dir(tmp)
        os.rename(tmp, final)
        _fsync_dir(recordings_dir)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, SignalIOError):
            raise IngestError(
                f"writing the stored form failed: {exc.strerror or exc}", rec.path
            ) from exc
        raise
    return IngestResult(
        recording_id=recording_id,
        path=final,
        format=rec.format,
        duration_s=float(meta["duration_s"]),
        start_time=deid.start_time,
        channels=deid.channels,
        n_annotations=len(deid.annotations),
        deid_report=deid.report,
        meta=meta,
    )
