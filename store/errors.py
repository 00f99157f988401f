"""Errors raised by :mod:`store`.

Each subclasses :class:`StoreError` and the builtin it is closest to, so callers may catch
either. Messages name the database file or the record concerned.
"""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """Base class of every error raised by :mod:`store`."""


class DatabaseLockedError(StoreError, OSError):
    """Another process holds the DuckDB file open for writing.

    Parameters
    ----------
    path
        The database file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(
            f"the database {self.path} is in use by another wavescore process "
            "(is `wavescore serve` running?); stop it or set WAVESCORE_DATA_DIR to another folder"
        )


class DatabaseOpenError(StoreError, OSError):
    """The database file could not be opened (not a DuckDB file, unreadable, ...)."""


class MigrationError(StoreError, RuntimeError):
    """A schema migration failed or the migration files are inconsistent.

    The failed migration was rolled back: the database stays at the previous version.
    """


class SchemaTooNewError(StoreError, RuntimeError):
    """The database was written by a newer wavescore than this one (higher schema version)."""


class RecordingNotFoundError(StoreError, LookupError):
    """No recording with this id is registered."""

    def __init__(self, recording_id: str) -> None:
        self.recording_id = recording_id
        super().__init__(f"no recording with id {recording_id!r} is registered")


class DuplicateRecordingError(StoreError, ValueError):
    """A recording with the same id or the same content hash is already registered."""

    def __init__(self, recording_id: str, content_sha256: str) -> None:
        self.recording_id = recording_id
        self.content_sha256 = content_sha256
        super().__init__(
            f"recording {recording_id!r} (content sha256 {content_sha256[:12]}...) is already "
            "registered"
        )


__all__ = [
    "DatabaseLockedError",
    "DatabaseOpenError",
    "DuplicateRecordingError",
    "MigrationError",
    "RecordingNotFoundError",
    "SchemaTooNewError",
    "StoreError",
]


class EventNotFoundError(StoreError, LookupError):
    """No (undeleted) event with this id exists."""

    def __init__(self, event_id: int) -> None:
        self.event_id = event_id
        super().__init__(f"no event with id {event_id}")


class InvalidEventError(StoreError, ValueError):
    """An event's values are impossible: outside the recording, negative duration, bad channel."""


class UnknownLabelError(StoreError, ValueError):
    """A label is not in the study's label schema for that category."""


class StaleEditError(StoreError, ValueError):
    """The event changed since the caller loaded it (optimistic concurrency check failed)."""

    def __init__(self, event_id: int, expected_version: int, actual_version: int) -> None:
        self.event_id = event_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"event {event_id} changed since you loaded it (you had version {expected_version}, "
            f"it is now at version {actual_version}); reload it and apply your change again"
        )


class NothingToUndoError(StoreError, LookupError):
    """Undo or redo was asked for but the user has no decision to undo or redo."""


class UserExistsError(StoreError, ValueError):
    """A user with this name already exists."""


class UserNotFoundError(StoreError, LookupError):
    """No user with this name or id."""


class AuthenticationError(StoreError, PermissionError):
    """A token, session or password is missing, unknown, expired or wrong."""


class PermissionDeniedError(StoreError, PermissionError):
    """The user's role does not allow the action."""


class SqlRefusedError(StoreError, ValueError):
    """Researcher SQL was refused before running (not one read-only SELECT over the views)."""


class SqlTimeoutError(StoreError, TimeoutError):
    """Researcher SQL ran longer than the limit and was interrupted."""


class SqlFailedError(StoreError, ValueError):
    """Researcher SQL was accepted but DuckDB reported an error while running it."""


class AuditTamperedError(StoreError, RuntimeError):
    """The audit log's hash chain does not verify."""


class ImportFormatError(StoreError, ValueError):
    """An annotation file to import is malformed; nothing was imported."""


class ExportFormatError(StoreError, ValueError):
    """Events cannot be written in the requested interchange format; no file was written."""


class DecisionLogCorruptError(StoreError, RuntimeError):
    """The decision log beside the database is damaged where acknowledged decisions lie."""
