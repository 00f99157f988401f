"""``wavescore users``: add, list, disable and enable users.

``users add NAME --role ROLE`` prints the new user's API token alone on the last line (shown
once; only its hash is stored), so scripts can take it with ``tail -n 1``. With
``--password-stdin`` the first line of standard input becomes the browser sign-in password.
The server must be stopped (the database is opened for writing).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from server.settings import Settings
from store import Role, Store


def _add(args: argparse.Namespace) -> int:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            print("wavescore: error: --password-stdin given but standard input is empty",
                  file=sys.stderr)
            return 1
    settings = Settings.from_env()
    with Store.open(settings.database_path) as store:
        new = store.create_user(args.name, args.role, password)
    print(f"created {new.user.role.value} {new.user.name!r}"
          f"{' with a password' if password else ''}; API token (shown once):")
    print(new.token)
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    with Store.open(settings.database_path) as store:
        users = store.list_users()
    if not users:
        print("no users yet; add one with `wavescore users add NAME --role admin`",
              file=sys.stderr)
        return 0
    width = max(len(u.name) for u in users)
    for u in users:
        state = "disabled" if u.disabled else "active"
        print(f"{u.name.ljust(width)}  {u.role.value:<10}  {state:<8}  "
              f"{u.created_at.isoformat(sep=' ', timespec='seconds')}")
    return 0


def _set_disabled(disabled: bool) -> Any:
    def run(args: argparse.Namespace) -> int:
        settings = Settings.from_env()
        with Store.open(settings.database_path) as store:
            store.set_user_disabled(args.name, disabled)
        print(f"user {args.name!r} {'disabled' if disabled else 'enabled'}")
        return 0

    return run


def ensure_first_user(settings: Settings, name: str = "demo") -> str | None:
    """Create an admin with a random password when the store has no users yet.

    Every route but the sign-in page needs a user, so a fresh installation started by
    ``wavescore demo`` would otherwise show a login nobody can pass. Returns the lines to print
    (name, password, API token; shown once) or ``None`` when users already exist.
    """
    import secrets

    with Store.open(settings.database_path) as store:
        if store.list_users():
            return None
        password = secrets.token_urlsafe(12)
        new = store.create_user(name, Role.ADMIN, password)
    return (f"created the first user {name!r} (admin); sign in with password {password}\n"
            f"API token (shown once): {new.token}\n"
            "add people with `wavescore users add NAME --role ROLE`")


def register(subparsers: Any) -> None:
    """Add ``users`` to the CLI."""
    parser = subparsers.add_parser("users", help="manage users and API tokens",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create a user and print its API token")
    add.add_argument("name", help="user name (no spaces)")
    add.add_argument("--role", required=True, choices=[r.value for r in Role],
                     help="annotator, reviewer, researcher or admin")
    add.add_argument("--password-stdin", action="store_true",
                     help="read a browser sign-in password (8+ characters) from stdin")
    add.set_defaults(func=_add)
    lst = sub.add_parser("list", help="list users")
    lst.set_defaults(func=_list)
    dis = sub.add_parser("disable", help="disable a user (token and sessions stop working)")
    dis.add_argument("name")
    dis.set_defaults(func=_set_disabled(True))
    ena = sub.add_parser("enable", help="re-enable a disabled user")
    ena.add_argument("name")
    ena.set_defaults(func=_set_disabled(False))


__all__ = ["ensure_first_user", "register"]
