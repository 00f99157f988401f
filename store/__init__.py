"""The DuckDB store: schema migrations and the registry of recordings.

Open it once per process with :meth:`Store.open`; use :meth:`Store.cursor` per thread. Tables
are created by the numbered SQL files in ``store/migrations``; the API of each table group is a
mixin on :class:`store._db.Database` composed into :class:`Store` here.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Self

from store._db import MIGRATIONS_DIR, Database, Migration, apply_migrations, load_migrations
from store._event_types import Event, EventDraft, EventSource, EventStatus
from store.agreement import AgreementMixin, PairAgreement, StageAgreement, cohen_kappa
from store.audit import AuditEntry, AuditReport
from store.decision_log import DecisionLogStatus
from store.errors import (
    DatabaseLockedError,
    DatabaseOpenError,
    DecisionLogCorruptError,
    DuplicateRecordingError,
    MigrationError,
    RecordingNotFoundError,
    SchemaTooNewError,
    StoreError,
)
from store.events import EventsMixin
from store.labels import CATEGORIES, Study
from store.recordings import ChannelRow, RecordingRow, RecordingsMixin
from store.reviews import ReviewsMixin
from store.sql import OUTPUT_FORMATS, RESEARCH_VIEWS, SqlMixin, SqlResult
from store.users import ROLE_PERMISSIONS, SYSTEM_USER, NewUser, Permission, Role, User


class Store(AgreementMixin, SqlMixin):
    """The wavescore database: every table API in one object.

    Opening applies migrations, installs the built-in label schemas, and disables DuckDB's
    external access for the rest of the process's use of this database (no file reads, COPY,
    ATTACH, INSTALL or LOAD from any statement, including researcher SQL).

    Examples
    --------
    >>> with Store.open(settings.database_path) as store:  # doctest: +SKIP
    ...     rows = store.list_recordings()
    """

    @classmethod
    def open(cls, path: str | Path, *, migrations: Sequence[Migration] | None = None) -> Self:
        """Open the store at ``path`` (see :meth:`store._db.Database.open`)."""
        store = super().open(path, migrations=migrations)
        try:
            store.recover_decision_log()
            store.cursor().execute("SET enable_external_access = false")
            if migrations is None:
                store.ensure_builtin_schemas()
        except BaseException:
            store.close()
            raise
        return store


__all__ = [
    "CATEGORIES",
    "MIGRATIONS_DIR",
    "OUTPUT_FORMATS",
    "RESEARCH_VIEWS",
    "ROLE_PERMISSIONS",
    "SYSTEM_USER",
    "AuditEntry",
    "AuditReport",
    "ChannelRow",
    "Database",
    "DatabaseLockedError",
    "DatabaseOpenError",
    "DecisionLogCorruptError",
    "DecisionLogStatus",
    "DuplicateRecordingError",
    "Event",
    "EventDraft",
    "EventSource",
    "EventStatus",
    "EventsMixin",
    "Migration",
    "MigrationError",
    "NewUser",
    "PairAgreement",
    "Permission",
    "RecordingNotFoundError",
    "RecordingRow",
    "RecordingsMixin",
    "ReviewsMixin",
    "Role",
    "SchemaTooNewError",
    "SqlResult",
    "StageAgreement",
    "Store",
    "StoreError",
    "Study",
    "User",
    "apply_migrations",
    "cohen_kappa",
    "load_migrations",
]
