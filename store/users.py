"""Users, roles, API tokens, passwords and browser sessions.

Roles and what they may do:

========== =============================================================================
annotator  view recordings and events; create events; review (confirm/reject/edit) events
           they created or that are proposals; undo/redo their own decisions
reviewer   everything an annotator may, plus change others' events and adjudicate
researcher view recordings and events; run read-only SQL; export
admin      everything, plus manage users and recordings
========== =============================================================================

API tokens are 256-bit random strings shown once; only their sha256 is stored. Passwords (for
browser sign-in) are hashed with Argon2id. Browser sessions are random ids whose sha256 is
stored with an expiry.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from store.audit import AuditMixin
from store.errors import (
    AuthenticationError,
    PermissionDeniedError,
    UserExistsError,
    UserNotFoundError,
)


class Role(enum.StrEnum):
    """A user's role."""

    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    RESEARCHER = "researcher"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    """Actions guarded by roles."""

    VIEW = "view"                  # recordings, signals, events
    ANNOTATE = "annotate"          # create events, review proposals, undo own decisions
    ADJUDICATE = "adjudicate"      # change others' events, adjudicate disagreements
    RUN_DETECTORS = "run_detectors"
    SQL = "sql"                    # researcher SQL
    EXPORT = "export"
    IMPORT = "import"
    MANAGE_USERS = "manage_users"
    MANAGE_RECORDINGS = "manage_recordings"
    AUDIT = "audit"                # read and verify the audit log


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ANNOTATOR: frozenset({Permission.VIEW, Permission.ANNOTATE, Permission.EXPORT}),
    Role.REVIEWER: frozenset({Permission.VIEW, Permission.ANNOTATE, Permission.ADJUDICATE,
                              Permission.RUN_DETECTORS, Permission.EXPORT, Permission.IMPORT}),
    Role.RESEARCHER: frozenset({Permission.VIEW, Permission.SQL, Permission.EXPORT}),
    Role.ADMIN: frozenset(Permission),
}

SESSION_LIFETIME = timedelta(hours=12)
_HASHER = PasswordHasher()  # Argon2id with the library's recommended cost


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class User:
    """A wavescore user (never carries secrets)."""

    user_id: str
    name: str
    role: Role
    created_at: datetime
    disabled: bool = False

    def can(self, permission: Permission) -> bool:
        """Whether the user's role grants ``permission`` (disabled users can do nothing)."""
        return not self.disabled and permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        """Raise :class:`PermissionDeniedError` unless the user may do ``permission``."""
        if not self.can(permission):
            raise PermissionDeniedError(
                f"user {self.name!r} with role {self.role.value} may not {permission.value}"
            )


#: The user recorded for actions done from the command line without signing in.
SYSTEM_USER = User("system", "system", Role.ADMIN, datetime(2000, 1, 1))


@dataclass(frozen=True, slots=True)
class NewUser:
    """A created user with its API token (shown once)."""

    user: User
    token: str


def _row_to_user(row: tuple[object, ...]) -> User:
    return User(str(row[0]), str(row[1]), Role(str(row[2])), row[3], bool(row[4]))  # type: ignore[arg-type]


_USER_COLUMNS = "user_id, name, role, created_at, disabled"


class UsersMixin(AuditMixin):
    """Users, tokens, passwords, sessions."""

    def create_user(
        self, name: str, role: Role | str, password: str | None = None,
        actor: User = SYSTEM_USER,
    ) -> NewUser:
        """Create a user and return it with a fresh API token.

        Raises
        ------
        UserExistsError
            The name is taken.
        ValueError
            Empty name, unknown role, or a password shorter than 8 characters.
        """
        name = name.strip()
        if not name or len(name) > 64 or any(c.isspace() for c in name):
            raise ValueError("user name must be 1-64 characters without spaces")
        try:
            role = Role(role)
        except ValueError:
            raise ValueError(
                f"unknown role {role!r}; roles are {', '.join(r.value for r in Role)}"
            ) from None
        if password is not None and len(password) < 8:
            raise ValueError("password must have at least 8 characters")
        token = "ws_" + secrets.token_urlsafe(32)
        user = User(uuid.uuid4().hex[:12], name, role, self.audit_now())
        pw_hash = None if password is None else _HASHER.hash(password)
        with self.write_lock:
            with self.transaction() as cur:
                taken = cur.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone()
                if taken is not None:
                    raise UserExistsError(f"a user named {name!r} already exists")
                cur.execute(
                    "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, false)",
                    [user.user_id, name, role.value, _sha256(token), pw_hash, user.created_at],
                )
                self.append_audit(cur, actor.name, "user.create", f"user:{name}",
                                  {"role": role.value, "password_set": pw_hash is not None})
            self.write_audit_anchor()
        return NewUser(user, token)

    def get_user(self, name: str) -> User:
        """Return the user called ``name``.

        Raises
        ------
        UserNotFoundError
        """
        row = self.cursor_without_fold().execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", [name]
        ).fetchone()
        if row is None:
            raise UserNotFoundError(f"no user named {name!r}")
        return _row_to_user(row)

    def list_users(self) -> list[User]:
        """Every user, by name."""
        rows = self.cursor_without_fold().execute(
            f"SELECT {_USER_COLUMNS} FROM users ORDER BY name"
        ).fetchall()
        return [_row_to_user(r) for r in rows]

    def set_user_disabled(self, name: str, disabled: bool, actor: User = SYSTEM_USER) -> None:
        """Disable or re-enable a user (their token and sessions stop working)."""
        with self.write_lock:
            with self.transaction() as cur:
                row = cur.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone()
                if row is None:
                    raise UserNotFoundError(f"no user named {name!r}")
                cur.execute("UPDATE users SET disabled = ? WHERE name = ?", [disabled, name])
                self.append_audit(cur, actor.name, "user.disable" if disabled else "user.enable",
                                  f"user:{name}")
            self.write_audit_anchor()

    def user_for_token(self, token: str) -> User:
        """Return the user holding an API token.

        Raises
        ------
        AuthenticationError
            Unknown token or disabled user.
        """
        row = self.cursor_without_fold().execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE token_sha256 = ?", [_sha256(token)]
        ).fetchone()
        if row is None:
            raise AuthenticationError("unknown API token")
        user = _row_to_user(row)
        if user.disabled:
            raise AuthenticationError(f"user {user.name!r} is disabled")
        return user

    def check_password(self, name: str, password: str) -> User:
        """Return the user if the password is right.

        Raises
        ------
        AuthenticationError
            Wrong name or password (the message does not say which), or disabled user.
        """
        row = self.cursor_without_fold().execute(
            f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE name = ?", [name]
        ).fetchone()
        if row is None or row[5] is None:
            _HASHER.hash(password)  # same cost whether or not the user exists
            raise AuthenticationError("wrong user name or password")
        try:
            _HASHER.verify(str(row[5]), password)
        except (VerificationError, InvalidHashError):
            raise AuthenticationError("wrong user name or password") from None
        user = _row_to_user(row[:5])
        if user.disabled:
            raise AuthenticationError(f"user {user.name!r} is disabled")
        return user

    def create_session(self, user: User) -> str:
        """Start a browser session for ``user``; return the session id for the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = self.audit_now()
        with self.write_lock:
            with self.transaction() as cur:
                cur.execute(
                    "INSERT INTO sessions VALUES (?, ?, ?, ?)",
                    [_sha256(session_id), user.user_id, now, now + SESSION_LIFETIME],
                )
                self.append_audit(cur, user.name, "session.start", f"user:{user.name}")
            self.write_audit_anchor()
        return session_id

    def user_for_session(self, session_id: str) -> User:
        """Return the user of a live session.

        Raises
        ------
        AuthenticationError
            Unknown or expired session, or disabled user.
        """
        row = self.cursor_without_fold().execute(
            "SELECT u.user_id, u.name, u.role, u.created_at, u.disabled, s.expires_at "
            "FROM sessions s JOIN users u USING (user_id) WHERE s.session_sha256 = ?",
            [_sha256(session_id)],
        ).fetchone()
        if row is None:
            raise AuthenticationError("unknown session; sign in again")
        if row[5] < self.audit_now():
            raise AuthenticationError("session expired; sign in again")
        user = _row_to_user(row[:5])
        if user.disabled:
            raise AuthenticationError(f"user {user.name!r} is disabled")
        return user

    def end_session(self, session_id: str) -> None:
        """Sign out (idempotent)."""
        with self.write_lock:
            self.cursor().execute(
                "DELETE FROM sessions WHERE session_sha256 = ?", [_sha256(session_id)]
            )
