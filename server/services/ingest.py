"""Ingest recordings into the data folder: the use case behind ``wavescore ingest`` and ``demo``.

For each source recording:

1. open it lazily (:func:`signal_io.open_recording`) and hash its source files;
2. skip it when the same content is already registered (status ``"unchanged"``);
3. derive its pseudonymous id and date shift from the installation secret (``secret.key``);
4. write the de-identified stored form atomically (:func:`signal_io.ingest.ingest_recording`);
5. register it in the store; if that fails, remove the stored folder again.

A failure leaves neither a folder nor a row behind. Stale temporary folders of killed ingests are
removed at the start of every run.
"""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from signal_io import ChannelInfo, find_recordings, open_recording
from signal_io.deid import date_shift_days, pseudonym
from signal_io.errors import IngestError, SignalIOError, UnreadablePathError
from signal_io.ingest import (
    ProgressCallback,
    clean_stale_tmp,
    content_sha256,
    hash_files,
    ingest_recording,
    remove_stored,
)
from signal_io.stored import open_stored
from store import ChannelRow, Store
from store.errors import StoreError

#: Name of the per-installation secret in the data folder.
SECRET_FILE = "secret.key"
#: Folder of the stored recordings inside the data folder.
RECORDINGS_SUBDIR = "recordings"

#: Errors that describe bad input or a bad environment (reported as one line, exit status 1).
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    SignalIOError, StoreError, OSError, ValueError, LookupError,
)


def load_or_create_secret(data_dir: Path) -> bytes:
    """Return the installation secret, creating ``data_dir/secret.key`` on first use.

    The file holds 32 random bytes as 64 hex digits and is created with mode 0600. Losing it
    changes every future pseudonym and date shift, so back it up with the database.

    Raises
    ------
    IngestError
        The file exists but does not hold 64 hex digits, or cannot be created or read.
    """
    path = data_dir / SECRET_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise IngestError(f"cannot create the secret key: {exc.strerror or exc}", path) from exc
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"cannot read the secret key: {exc}", path) from exc
    if len(text) != 64 or any(c not in string.hexdigits for c in text):
        raise IngestError(
            "the secret key must hold 64 hex digits; restore it from a backup (a new key would "
            "change every pseudonym and date shift)",
            path,
        )
    return bytes.fromhex(text)


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What happened to one source recording.

    Attributes
    ----------
    source
        The file given (a WFDB ``.hea`` or an EDF/BDF file).
    status
        ``"ingested"``, ``"unchanged"`` (same content already registered) or ``"failed"``.
    recording_id
        Pseudonymous id, or ``None`` when the recording could not be opened.
    n_channels
        Signal channels (0 when failed).
    duration_s
        Length in seconds (0 when failed).
    error
        The one-line error when failed.
    expected
        False when the failure was an unexpected (internal) error.
    """

    source: Path
    status: str
    recording_id: str | None = None
    n_channels: int = 0
    duration_s: float = 0.0
    error: str | None = None
    expected: bool = True

    @property
    def ok(self) -> bool:
        """True for ``"ingested"`` and ``"unchanged"``."""
        return self.status in ("ingested", "unchanged")


#: Opens a progress display for one recording: ``(source, n_channels) -> context`` giving a
#: :data:`signal_io.ingest.ProgressCallback`.
ProgressFactory = Callable[[Path, int], AbstractContextManager[ProgressCallback | None]]


def _no_progress(_source: Path, _n: int) -> AbstractContextManager[ProgressCallback | None]:
    return nullcontext(None)


def _stored_ok(path: Path) -> bool:
    try:
        open_stored(path)
    except SignalIOError:
        return False
    return True


def ingest_file(
    source: Path,
    *,
    data_dir: Path,
    store: Store,
    secret: bytes,
    progress: ProgressFactory = _no_progress,
) -> IngestOutcome:
    """Ingest one recording; see the module docstring for the steps.

    Raises
    ------
    SignalIOError
        The recording cannot be opened or read (nothing was written).
    StoreError
        Registration failed (the stored folder was removed again).
    """
    recordings_dir = data_dir / RECORDINGS_SUBDIR
    with open_recording(source) as rec:
        digests = hash_files(rec.source_files)
        content = content_sha256(digests)
        rid = pseudonym(secret, content)
        existing = store.find_by_content_hash(content)
        if existing is not None:
            if _stored_ok(data_dir / existing.stored_path):
                return IngestOutcome(source, "unchanged", existing.recording_id,
                                     existing.n_channels, existing.duration_s)
            store.delete_recording(existing.recording_id)  # folder lost or damaged: redo it
            remove_stored(data_dir / existing.stored_path)
        remove_stored(recordings_dir / rid)  # an orphan folder without a registry row
        with progress(source, len(rec.channels)) as callback:
            result = ingest_recording(
                rec, recordings_dir, recording_id=rid, content_sha256=content,
                source_files_sha256=digests, shift_days=date_shift_days(secret),
                progress=callback,
            )
    try:
        store.register_recording(
            recording_id=rid,
            source_format=result.format,
            duration_s=result.duration_s,
            start_time=result.start_time,
            content_sha256=content,
            source_files_sha256=digests,
            stored_path=f"{RECORDINGS_SUBDIR}/{rid}",
            deid_report=result.deid_report,
            channels=[_channel_row(c) for c in result.channels],
        )
    except BaseException:
        remove_stored(result.path)
        raise
    return IngestOutcome(source, "ingested", rid, len(result.channels), result.duration_s)


def _channel_row(c: ChannelInfo) -> ChannelRow:
    return ChannelRow(c.index, c.name, str(c.kind), c.unit, c.fs, c.n_samples)


def _one_line(source: Path, exc: BaseException, *, with_type: bool = False) -> str:
    text = " ".join(str(exc).split())
    if with_type or not text:
        text = f"{type(exc).__name__}: {text}".rstrip(": ")
    return text if str(source) in text else f"{source}: {text}"


def expand_sources(paths: Iterable[Path]) -> Iterator[tuple[Path, BaseException | None]]:
    """Yield every recording file named by ``paths`` (files, or folders searched recursively).

    A path that cannot be expanded (missing, or a folder without recordings) is yielded with
    the error describing it.
    """
    for path in paths:
        if path.exists() and not (path.is_dir() or path.is_file()):
            # a FIFO, socket or device would block or never end when read
            yield path, UnreadablePathError("not a regular file or folder", path)
            continue
        try:
            found = find_recordings(path)
        except (SignalIOError, OSError) as exc:
            yield path, exc
            continue
        if not found:
            yield path, IngestError("no recordings (.hea, .edf, .bdf, .rec) found in folder", path)
        for f in found:
            yield f, None


def ingest_sources(
    sources: Iterable[tuple[Path, BaseException | None]],
    *,
    data_dir: Path,
    store: Store,
    progress: ProgressFactory = _no_progress,
    on_outcome: Callable[[IngestOutcome], None] | None = None,
) -> list[IngestOutcome]:
    """Ingest each source, isolating failures: one bad recording does not stop the others.

    Parameters
    ----------
    sources
        ``(file, error)`` pairs from :func:`expand_sources`; pairs with an error are reported
        as failed without being opened.
    data_dir
        The data folder (``secret.key``, ``recordings/``).
    store
        The open store.
    progress
        Progress display per recording.
    on_outcome
        Called after each recording (to print its summary line as soon as it is known).
    """
    secret = load_or_create_secret(data_dir)
    clean_stale_tmp(data_dir / RECORDINGS_SUBDIR)
    outcomes: list[IngestOutcome] = []
    for source, error in sources:
        if error is not None:
            outcome = IngestOutcome(source, "failed", error=_one_line(source, error))
        else:
            try:
                outcome = ingest_file(source, data_dir=data_dir, store=store, secret=secret,
                                      progress=progress)
            except EXPECTED_ERRORS as exc:
                outcome = IngestOutcome(source, "failed", error=_one_line(source, exc))
            except Exception as exc:  # a reader bug must not stop the batch
                outcome = IngestOutcome(source, "failed", expected=False,
                                        error=_one_line(source, exc, with_type=True))
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes
