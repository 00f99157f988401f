"""Every route of the app × every role (and anonymous) against the one permission table.

Routes are enumerated from ``app.routes``, so a route added later is covered automatically: if
it is missing from :data:`server.auth.ROUTE_PERMISSIONS` the first test fails, and the guard
refuses it for everyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from server.app import create_app
from server.auth import (
    PUBLIC,
    ROUTE_PERMISSIONS,
    auth_middleware,
    is_allowed,
    openapi_path_of,
    requirement_for,
    route_key,
)
from server.problems import EXCEPTION_HANDLERS
from server.settings import Settings
from store import ROLE_PERMISSIONS, Permission, Role, User
from tests.server.review_env import NIGHT_ID, ReviewEnv, make_env, running_client

Client = TestClient[Litestar]
PATH_VALUES = {"recording_id": NIGHT_ID, "event_id": "999999", "index": "0", "epoch": "0",
               "name": "no-such-user", "file_path": "no-such-file.js", "path": "nothing"}


def _routes(app: Litestar) -> list[tuple[str, str, str, Any]]:
    """(method, path template, key, handler) for every handler of the app."""
    out = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            key = route_key(handler, route.path, openapi_path_of(app))
            for method in sorted(handler.http_methods):
                out.append((method, route.path, key, handler))
    return out


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES[m.group(1)], path)


APP = create_app(Settings())
ROUTES = _routes(APP)


def test_every_route_has_a_declared_permission() -> None:
    missing = sorted({(p, k) for _, p, k, _ in ROUTES if requirement_for(k) is None})
    assert not missing, f"routes missing from server.auth.ROUTE_PERMISSIONS: {missing}"


def test_table_has_no_stale_entries() -> None:
    keys = {k for _, _, k, _ in ROUTES}
    assert set(ROUTE_PERMISSIONS) - keys == set()


def test_only_assets_login_schema_and_health_are_public() -> None:
    public = {k for k, v in ROUTE_PERMISSIONS.items() if v == PUBLIC}
    assert public == {"loginPage", "login", "favicon", "bokehjs", "bokehjs/head",
                      "viewer_static", "viewer_static/head", "openapi", "options", "getHealth"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> ReviewEnv:
    return make_env(tmp_path_factory.mktemp("roles"))


@pytest.fixture(scope="module")
def client(env: ReviewEnv) -> Iterator[Client]:
    with running_client(env) as c:
        yield c


def _user(role: str) -> User:
    from datetime import datetime

    return User("x", role, Role(role), datetime(2024, 1, 1))


@pytest.mark.parametrize("who", ["anonymous", *[r.value for r in Role]])
def test_every_route_allows_and_denies_by_the_table(client: Client, env: ReviewEnv,
                                                    who: str) -> None:
    headers = {} if who == "anonymous" else env.auth(who)
    user = None if who == "anonymous" else _user(who)
    wrong: list[str] = []
    for method, path, key, _handler in ROUTES:
        if method == "HEAD" or key in ("login", "logout"):
            continue  # HEAD mirrors GET; login/logout answer 401/303 by design (test_auth)
        url = _concrete(path)
        body: Any = {} if method in ("POST", "PUT", "PATCH") else None
        r = client.request(method, url, headers=headers, json=body, follow_redirects=False)
        allowed = is_allowed(requirement_for(key), user)
        denied_by_guard = r.status_code in (401, 403) or (
            r.status_code == 303 and r.headers.get("location", "").startswith("/login"))
        if allowed and denied_by_guard:
            wrong.append(f"{who} refused {method} {path} ({key}): {r.status_code}")
        if not allowed:
            expected = 401 if user is None else 403
            html_redirect = user is None and method == "GET" and r.status_code == 303
            if r.status_code != expected and not html_redirect:
                wrong.append(f"{who} got {r.status_code} on {method} {path} ({key}), "
                             f"expected {expected}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", list(Role))
def test_table_matches_the_role_descriptions(role: Role) -> None:
    user = _user(role.value)
    may = {k for k, v in ROUTE_PERMISSIONS.items() if is_allowed(v, user)}
    perms = ROLE_PERMISSIONS[role]
    assert ("confirmEvent" in may) == (Permission.ANNOTATE in perms)
    assert ("runDetector" in may) == (role in (Role.REVIEWER, Role.ADMIN))
    assert ("runSql" in may) == (role in (Role.RESEARCHER, Role.ADMIN))
    assert ("createUser" in may) == (role is Role.ADMIN)
    assert ("verifyAudit" in may) == (role is Role.ADMIN)
    assert "getWindow" in may and "listEvents" in may
    assert ("importEvents" in may) == (role in (Role.REVIEWER, Role.ADMIN))
    assert ("adjudicateEpoch" in may) == (role in (Role.REVIEWER, Role.ADMIN))
    assert "exportEvents" in may and "exportSelection" in may and "getAgreement" in may


@get("/api/undeclared", operation_id="undeclaredRoute", sync_to_thread=False)
def undeclared() -> str:
    return "should never be served"


def test_route_missing_from_the_table_is_refused_even_for_admins(env: ReviewEnv) -> None:
    from store import Store

    app = Litestar([undeclared], middleware=[auth_middleware],
                   exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
                   debug=False)
    with TestClient(app) as c, Store.open(env.path / "other.duckdb") as store:
        app.state.store = store
        token = store.create_user("root", "admin").token
        r = c.get("/api/undeclared", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403
        assert "undeclaredRoute" in r.json()["detail"]
        assert "should never" not in r.text
