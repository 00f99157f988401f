"""Authentication: bearer tokens, browser sessions (cookie flags, logout), redirects of pages,
safe post-login targets, cross-origin refusal, the view audit coalescing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from server.auth import SESSION_COOKIE, ViewAuditor, safe_next
from store import Store
from tests.server.review_env import NIGHT_ID, ReviewEnv, make_env, running_client

Client = TestClient[Litestar]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> ReviewEnv:
    return make_env(tmp_path_factory.mktemp("auth"))


@pytest.fixture
def client(env: ReviewEnv) -> Iterator[Client]:
    with running_client(env) as c:
        yield c


def test_api_without_credentials_is_401_problem(client: Client) -> None:
    r = client.get("/api/recordings")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Bearer" in r.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer ws_not_a_real_token", "Basic dXNlcjpwdw==",
                                    "Bearer", "ws_token_without_scheme"])
def test_bad_or_unknown_authorization_is_401(client: Client, header: str) -> None:
    r = client.get("/api/recordings", headers={"Authorization": header})
    assert r.status_code == 401


def test_valid_token_reaches_the_api_and_me_names_the_user(client: Client,
                                                           env: ReviewEnv) -> None:
    r = client.get("/api/me", headers=env.auth("reviewer"))
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "reviewer" and body["role"] == "reviewer"
    assert "adjudicate" in body["permissions"] and "sql" not in body["permissions"]
    assert client.get("/api/recordings", headers=env.auth("reviewer")).status_code == 200


def test_anonymous_html_page_redirects_to_login_with_next(client: Client) -> None:
    r = client.get(f"/recordings/{NIGHT_ID}?x=1", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=/recordings/{NIGHT_ID}%3Fx%3D1"
    page = client.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text


def test_login_sets_httponly_samesite_cookie_and_session_works(client: Client,
                                                               env: ReviewEnv) -> None:
    r = client.post("/login", data={"name": "annotator", "password": env.passwords["annotator"],
                                    "next": "/api/me"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/api/me"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    me = client.get("/api/me")
    assert me.status_code == 200 and me.json()["name"] == "annotator"
    # the cookie is refused for a cross-origin write, accepted for a same-origin one
    r = client.post("/api/undo", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["detail"]
    r = client.post("/api/undo", headers={"Origin": "http://testserver.local"})
    assert r.status_code == 409  # allowed through; nothing to undo
    out = client.post("/logout", follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()
    assert client.get("/api/me").status_code == 401


def test_session_id_stops_working_after_logout(client: Client, env: ReviewEnv) -> None:
    r = client.post("/login", data={"name": "researcher",
                                    "password": env.passwords["researcher"]},
                    follow_redirects=False)
    session = r.cookies[SESSION_COOKIE]
    client.post("/logout")
    client.cookies.clear()
    r = client.get("/api/me", headers={"Cookie": f"{SESSION_COOKIE}={session}"})
    assert r.status_code == 401


@pytest.mark.parametrize("name,password", [("annotator", "wrong-password"),
                                           ("nobody", "whatever-password")])
def test_wrong_name_or_password_is_401_page_without_saying_which(client: Client, name: str,
                                                                 password: str) -> None:
    r = client.post("/login", data={"name": name, "password": password},
                    follow_redirects=False)
    assert r.status_code == 401
    assert "wrong user name or password" in r.text
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")


def test_disabled_user_token_is_refused(env: ReviewEnv, tmp_path: Path) -> None:
    with running_client(env) as client:
        h = env.auth("admin")
        created = client.post("/api/users", headers=h,
                              json={"name": "temp-user", "role": "annotator"})
        assert created.status_code == 201
        token = created.json()["token"]
        other = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/me", headers=other).status_code == 200
        assert client.post("/api/users/temp-user/disable", headers=h).status_code == 200
        assert client.get("/api/me", headers=other).status_code == 401
        assert client.post("/api/users/temp-user/enable", headers=h).status_code == 200
        assert client.get("/api/me", headers=other).status_code == 200


@pytest.mark.parametrize("target,expected", [
    ("/recordings/r1?x=1", "/recordings/r1?x=1"), ("https://evil.example/", "/"),
    ("//evil.example/x", "/"), ("/\\evil.example", "/"), ("", "/"), (None, "/"),
    ("javascript:alert(1)", "/"),
])
def test_post_login_target_stays_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_public_assets_need_no_credentials(client: Client) -> None:
    assert client.get("/static/viewer/viewer.css").status_code == 200
    assert client.get("/schema/openapi.json").status_code == 200
    assert client.get("/favicon.ico", follow_redirects=False).status_code in (301, 302, 307, 308)


def test_view_auditor_coalesces_per_user_recording_kind() -> None:
    from datetime import datetime

    from store import Role, User

    a = User("1", "a", Role.ANNOTATOR, datetime(2024, 1, 1))
    b = User("2", "b", Role.ANNOTATOR, datetime(2024, 1, 1))
    aud = ViewAuditor(interval_s=60.0)
    assert aud.due(a, "r1", "signal", now=0.0)
    assert not aud.due(a, "r1", "signal", now=59.9)
    assert aud.due(a, "r1", "events", now=1.0)
    assert aud.due(b, "r1", "signal", now=1.0)
    assert aud.due(a, "r2", "signal", now=1.0)
    assert aud.due(a, "r1", "signal", now=60.0)


def test_event_reads_are_audited_once_per_minute(env: ReviewEnv) -> None:
    with running_client(env) as client:
        h = env.auth("researcher")
        for start in range(0, 300, 30):
            r = client.get(f"/api/recordings/{NIGHT_ID}/events",
                           params={"start_s": start, "stop_s": start + 30}, headers=h)
            assert r.status_code == 200
        store: Store = client.app.state.store
        views = [e for e in store.list_audit(limit=100_000)
                 if e.action == "recording.view" and e.user_name == "researcher"]
    assert len(views) == 1
    assert views[0].target == f"recording:{NIGHT_ID}" and views[0].detail == {"kind": "events"}
