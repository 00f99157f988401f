"""Users, roles, tokens, passwords, sessions, and the audit hash chain."""

from __future__ import annotations

import pytest

from store import EventDraft, Permission, Role, Store, User
from store.errors import AuthenticationError, UserExistsError

REC = "rtest00000001"


def test_a_new_user_gets_a_token_that_authenticates_and_only_its_hash_is_stored(
    store: Store,
) -> None:
    new = store.create_user("alice", Role.ANNOTATOR)
    assert store.user_for_token(new.token).name == "alice"
    stored = store.cursor().execute("SELECT * FROM users").fetchall()
    assert new.token not in repr(stored)
    with pytest.raises(AuthenticationError):
        store.user_for_token(new.token + "x")


def test_passwords_are_hashed_with_argon2_and_checked(store: Store) -> None:
    store.create_user("bob", Role.REVIEWER, password="correct horse")
    (pw_hash,) = store.cursor().execute(
        "SELECT password_hash FROM users WHERE name = 'bob'").fetchone()  # type: ignore[misc]
    assert pw_hash.startswith("$argon2id$") and "correct horse" not in pw_hash
    assert store.check_password("bob", "correct horse").role is Role.REVIEWER
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        store.check_password("bob", "wrong horse")
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        store.check_password("nobody", "correct horse")


def test_sessions_authenticate_until_ended_and_disabled_users_are_refused(store: Store) -> None:
    new = store.create_user("carol", Role.RESEARCHER, password="12345678")
    sid = store.create_session(new.user)
    assert store.user_for_session(sid).name == "carol"
    store.set_user_disabled("carol", True)
    with pytest.raises(AuthenticationError, match="disabled"):
        store.user_for_session(sid)
    with pytest.raises(AuthenticationError, match="disabled"):
        store.user_for_token(new.token)
    store.set_user_disabled("carol", False)
    store.end_session(sid)
    with pytest.raises(AuthenticationError):
        store.user_for_session(sid)


def test_duplicate_names_bad_roles_and_short_passwords_are_refused(store: Store) -> None:
    store.create_user("dave", Role.ADMIN)
    with pytest.raises(UserExistsError):
        store.create_user("dave", Role.ADMIN)
    with pytest.raises(ValueError, match="unknown role"):
        store.create_user("erin", "superuser")
    with pytest.raises(ValueError, match="at least 8"):
        store.create_user("erin", Role.ADMIN, password="short")


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.ANNOTATOR, {Permission.VIEW, Permission.ANNOTATE, Permission.EXPORT}),
        (Role.RESEARCHER, {Permission.VIEW, Permission.SQL, Permission.EXPORT}),
        (Role.ADMIN, set(Permission)),
    ],
)
def test_role_permissions(role: Role, allowed: set[Permission]) -> None:
    from datetime import datetime

    user = User("u", "u", role, datetime(2026, 1, 1))
    assert {p for p in Permission if user.can(p)} == allowed


def _some_history(store: Store, users: dict[str, User]) -> None:
    a = users["annotator"]
    e = store.create_event(REC, EventDraft(5, 1, "artifact", "artifact"), a)
    store.edit_event(e.event_id, a, None, duration_s=2.0)
    store.audit(a.name, "recording.view", f"recording:{REC}", {"start_s": 0, "stop_s": 30})


def test_audit_log_records_every_write_and_verifies(
    store: Store, users: dict[str, User]
) -> None:
    _some_history(store, users)
    actions = [e.action for e in store.list_audit(limit=100)]
    assert actions[-3:] == ["event.create", "event.edit", "recording.view"]
    assert actions.count("user.create") == len(users)
    report = store.verify_audit()
    assert report.ok, report.problems
    assert report.n_entries == len(actions)


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_log SET detail = '{}' WHERE seq = 2",
        "UPDATE audit_log SET user_name = 'mallory' WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
        "UPDATE audit_log SET logged_at = logged_at + INTERVAL 1 SECOND WHERE seq = 1",
    ],
    ids=["altered-detail", "altered-user", "deleted-middle", "deleted-tail", "altered-time"],
)
def test_audit_verification_detects_tampering(
    store: Store, users: dict[str, User], tamper: str
) -> None:
    _some_history(store, users)
    assert store.verify_audit().ok
    store.cursor().execute(tamper)
    report = store.verify_audit()
    assert not report.ok
    assert report.problems
