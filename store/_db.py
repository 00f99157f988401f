"""The DuckDB connection and the schema migration runner.

One read-write connection per process (:meth:`Database.open`); each thread works through its
own cursor (:meth:`Database.cursor`). The schema is built by numbered SQL files in
``store/migrations/`` (``0001_recordings.sql``, ``0002_....sql``...) applied in order, each in
its own transaction, and recorded in the ``schema_version`` table. Opening an older database
applies the missing migrations; opening a newer one raises :class:`SchemaTooNewError`.

Other parts of the store add their tables with new migration files and their API as mixins on
:class:`Database` (see :class:`store.recordings.RecordingsMixin`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import duckdb

from store.errors import (
    DatabaseLockedError,
    DatabaseOpenError,
    MigrationError,
    SchemaTooNewError,
    StoreError,
)

#: Folder holding the migration files shipped with wavescore.
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change.

    Attributes
    ----------
    version
        Its number (``0001_recordings.sql`` is version 1).
    name
        The rest of the file name (``"recordings"``).
    sql
        The statements, separated by semicolons.
    """

    version: int
    name: str
    sql: str


def load_migrations(folder: str | Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read the migration files of ``folder`` sorted by version.

    Raises
    ------
    MigrationError
        A ``.sql`` file is misnamed, two files share a number, or the numbers have a gap.
    """
    folder = Path(folder)
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if m is None:
            raise MigrationError(
                f"migration file {path} is misnamed: expected NNNN_lower_case_name.sql"
            )
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"two migration files have number {version:04d} in {folder}")
        found[version] = Migration(version, m.group(2), path.read_text(encoding="utf-8"))
    versions = sorted(found)
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(
            f"migration numbers in {folder} must run 0001, 0002, ... without gaps; got "
            f"{', '.join(f'{v:04d}' for v in versions)}"
        )
    return [found[v] for v in versions]


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """Return the highest applied migration number, 0 for an empty database."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'schema_version' AND table_schema = 'main'"
    ).fetchone()
    if exists is None or exists[0] == 0:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return 0 if row is None else int(row[0])


def apply_migrations(
    conn: duckdb.DuckDBPyConnection, migrations: Sequence[Migration] | None = None
) -> list[int]:
    """Bring the schema up to date; return the versions applied now (maybe none).

    Each migration runs in its own transaction together with its ``schema_version`` row, so a
    failing migration leaves the database at the previous version.

    Raises
    ------
    SchemaTooNewError
        The database has a version higher than the newest migration known here.
    MigrationError
        A migration failed (it was rolled back).
    """
    migrations = load_migrations() if migrations is None else list(migrations)
    conn.execute(_SCHEMA_VERSION_DDL)
    current = schema_version(conn)
    newest = migrations[-1].version if migrations else 0
    if current > newest:
        raise SchemaTooNewError(
            f"the database is at schema version {current} but this wavescore knows versions up "
            f"to {newest}; upgrade wavescore"
        )
    applied: list[int] = []
    for mig in migrations:
        if mig.version <= current:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(mig.sql)
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES (?, ?)", [mig.version, mig.name]
            )
            conn.execute("COMMIT")
        except duckdb.Error as exc:
            conn.execute("ROLLBACK")
            detail = " ".join(str(exc).split())
            raise MigrationError(
                f"migration {mig.version:04d}_{mig.name}.sql failed and was rolled back: {detail}"
            ) from exc
        applied.append(mig.version)
    return applied


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, turning lock conflicts into :class:`DatabaseLockedError`.

    Raises
    ------
    DatabaseLockedError
        Another process has the file open.
    DatabaseOpenError
        The file is not a DuckDB database or cannot be opened.
    """
    path = Path(path)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLockedError(path) from exc
        detail = " ".join(str(exc).split())
        raise DatabaseOpenError(f"cannot open the database {path}: {detail}") from exc
    except duckdb.Error as exc:
        detail = " ".join(str(exc).split())
        raise DatabaseOpenError(f"cannot open the database {path}: {detail}") from exc


def reserve_ids(cur: duckdb.DuckDBPyConnection, sequence: str, n: int) -> int:
    """Take ``n`` consecutive values of ``sequence`` at once; return the first.

    One ``nextval``, then ``setval`` past the block (no per-row ``nextval``). Call with the
    process's write lock held, so the block is contiguous. Values only ever grow: a block left
    unused (a rolled-back load, a crash) is a gap, never a duplicate.
    """
    first = int(cur.execute(f"SELECT nextval('{sequence}')").fetchall()[0][0])
    if n > 1:
        cur.execute(f"SELECT setval('{sequence}', ?)", [first + n - 1]).fetchall()
    return first


class Database:
    """A DuckDB database with an up-to-date schema.

    Use :meth:`open` (or the ``with`` statement) and :meth:`close`. The connection is shared by
    the process; :meth:`cursor` returns the calling thread's own cursor.

    Attributes
    ----------
    path
        The database file.
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.path = path
        self._conn = conn
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(
        cls, path: str | Path, *, migrations: Sequence[Migration] | None = None
    ) -> Self:
        """Open (creating if needed) the database at ``path`` and apply pending migrations.

        Parameters
        ----------
        path
            The DuckDB file; its folder is created if missing.
        migrations
            Migrations to apply; the ones shipped in ``store/migrations`` by default.

        Raises
        ------
        DatabaseLockedError, DatabaseOpenError, MigrationError, SchemaTooNewError
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseOpenError(f"cannot create the folder of {path}: {exc}") from exc
        conn = connect(path)
        try:
            apply_migrations(conn, migrations)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Return the calling thread's cursor (created on first use).

        Raises
        ------
        StoreError
            The database was closed.
        """
        if self._closed:
            raise StoreError(f"the database {self.path} is closed")
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                cur = self._conn.cursor()
                self._cursors.append(cur)
            self._local.cursor = cur
        return cur

    def cursor_without_fold(self) -> duckdb.DuckDBPyConnection:
        """The calling thread's cursor, without folding pending decisions into DuckDB first.

        :meth:`cursor` of the full store first folds the decision log
        (:mod:`store.decision_log`). Reads may skip that when they touch only tables the log
        never writes (recordings, channels, users, sessions, label schemas, studies), or when
        they lay the pending decisions over their rows themselves.
        """
        return Database.cursor(self)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run the block in a transaction on this thread's cursor; roll back on any error."""
        cur = self.cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        """The highest applied migration number."""
        return schema_version(self.cursor())

    def close(self) -> None:
        """Close every cursor and the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            for cur in self._cursors:
                cur.close()
            self._cursors.clear()
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
