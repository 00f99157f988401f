"""Signing in and out: ``GET/POST /login``, ``POST /logout``, ``GET /api/me``.

The browser posts the login form; a right name and password start a session (12 h) whose id is
set as the ``wavescore_session`` cookie (HttpOnly, SameSite=Lax, Secure on HTTPS) and redirect
to ``next`` (a path on this site only). A wrong name or password answers 401 with the form again,
without saying which of the two was wrong.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import msgspec
from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Redirect

from server.auth import (
    SESSION_COOKIE,
    credential_cache_of,
    current_user,
    safe_next,
    session_id_from,
)
from server.routes.viewer import VIEWER_STATIC_URL
from store import ROLE_PERMISSIONS, Store
from store.errors import AuthenticationError
from store.users import SESSION_LIFETIME

_env = Environment(
    loader=PackageLoader("viewer", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class LoginForm(msgspec.Struct, frozen=True):
    """The sign-in form."""

    name: str = ""
    password: str = ""
    next: str = "/"


class MeOut(msgspec.Struct, frozen=True):
    """The signed-in user."""

    name: str
    role: str
    permissions: list[str]


def render_login(error: str = "", name: str = "", next_path: str = "/") -> str:
    """The sign-in page."""
    return _env.get_template("login.html").render(
        error=error, name=name, next=safe_next(next_path), static_url=VIEWER_STATIC_URL
    )


class AuthController(Controller):
    """Browser sign-in and the caller's identity."""

    path = "/"
    tags = ("auth",)

    @get(
        "/login",
        operation_id="loginPage",
        media_type="text/html",
        sync_to_thread=False,
        include_in_schema=False,
    )
    def login_page(
        self,
        next: Annotated[str, QueryParameter(description="Page to open after.")] = "/",
    ) -> Response[str]:
        """The sign-in form."""
        return Response(
            render_login(next_path=next),
            media_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    @post("/login", operation_id="login", media_type="text/html", status_code=303)
    async def login(
        self,
        state: State,
        request: Request[Any, Any, Any],
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[str]:
        """Check name and password; on success set the session cookie and redirect."""
        store: Store = state.store

        def check() -> str:
            user = store.check_password(data.name, data.password)
            return store.create_session(user)

        try:
            session_id = await anyio.to_thread.run_sync(check)
        except AuthenticationError as exc:
            return Response(
                render_login(str(exc), data.name, data.next),
                status_code=401,
                media_type="text/html",
                headers={"Cache-Control": "no-store"},
            )
        secure = request.url.scheme == "https"
        return Redirect(
            safe_next(data.next),
            status_code=303,
            cookies=[
                Cookie(
                    key=SESSION_COOKIE,
                    value=session_id,
                    httponly=True,
                    samesite="lax",
                    secure=secure,
                    path="/",
                    max_age=int(SESSION_LIFETIME.total_seconds()),
                )
            ],
        )

    @post("/logout", operation_id="logout", status_code=303, sync_to_thread=True)
    def logout(self, state: State, request: Request[Any, Any, Any]) -> Redirect:
        """End the browser session and clear its cookie."""
        session = session_id_from(request.scope)
        if session is not None:
            store: Store = state.store
            store.end_session(session)
            credential_cache_of(request.app).clear()
        return Redirect(
            "/login",
            status_code=303,
            cookies=[
                Cookie(
                    key=SESSION_COOKIE, value="", max_age=0, path="/", httponly=True, samesite="lax"
                )
            ],
        )

    @get("/api/me", operation_id="getMe", sync_to_thread=False)
    def me(self, request: Request[Any, Any, Any]) -> MeOut:
        """Who the caller is and what their role allows."""
        user = current_user(request)
        return MeOut(
            name=user.name,
            role=user.role.value,
            permissions=sorted(p.value for p in ROLE_PERMISSIONS[user.role]),
        )


__all__ = ["AuthController", "LoginForm", "MeOut", "render_login"]
