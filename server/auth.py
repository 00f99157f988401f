"""Authentication and per-route authorization: one table, enforced for every route, fail closed.

Who is calling
    API clients send ``Authorization: Bearer <token>`` (tokens come from ``wavescore users add``
    or ``POST /api/users``); the browser signs in at ``/login`` and then sends the
    ``wavescore_session`` cookie (HttpOnly, SameSite=Lax, 12 h). A bearer header wins over a
    cookie. Unknown, expired or disabled credentials are refused with 401. Lookups are reused
    for :data:`CREDENTIAL_CACHE_TTL_S` seconds; disabling a user or signing out through the API
    clears the cache at once (the CLI cannot change users while the server holds the database).

What they may do
    :data:`ROUTE_PERMISSIONS` maps every route to what it needs: a
    :class:`store.Permission` (granted by the caller's role, see
    :data:`store.ROLE_PERMISSIONS`), :data:`AUTHENTICATED` (any signed-in user) or
    :data:`PUBLIC`. Routes are keyed by the handler's ``operation_id``; handlers without one are
    keyed by their ``name`` (static file routers), ``openapi`` (everything under the OpenAPI
    schema path) or ``options`` (automatic CORS pre-flight answers). A route missing from the
    table is refused for everyone, admins included, so a new route cannot ship unguarded
    (``tests/server/test_route_roles.py`` walks every route of the app against this table).

Public routes
    The login page and form, the favicon, the viewer's static files and BokehJS (code, no data),
    the OpenAPI schema (the API's shape, no data), and the automatic ``OPTIONS`` answers.

Browser pages
    An anonymous ``GET`` of an HTML page is redirected to ``/login?next=<page>`` instead of
    answered with 401. Unsafe methods authenticated by the cookie must come from the same
    origin when the browser sends an ``Origin`` header (a second line behind SameSite=Lax).

Access audit
    Reads of a recording's signal, annotations and events are written to the audit log as
    ``recording.view`` entries, coalesced per (user, recording, kind) to at most one entry per
    :data:`VIEW_AUDIT_INTERVAL_S` seconds so that panning does not flood the log. The entry is
    written before the data is served; if it cannot be written the request fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any, Final
from urllib.parse import quote, urlsplit

import anyio.to_thread
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from store import Permission, Store, User
from store.errors import AuthenticationError, PermissionDeniedError

#: Marker: the route needs no credentials.
PUBLIC: Final = "public"
#: Marker: any signed-in (not disabled) user may use the route.
AUTHENTICATED: Final = "authenticated"

Requirement = Permission | str

SESSION_COOKIE = "wavescore_session"
VIEW_AUDIT_INTERVAL_S = 60.0
CREDENTIAL_CACHE_TTL_S = 5.0
LOGIN_PATH = "/login"

#: What each route needs, keyed by operation id (or handler name; see the module docstring).
ROUTE_PERMISSIONS: Mapping[str, Requirement] = {
    # public: sign-in, assets without data, API description
    "loginPage": PUBLIC,
    "login": PUBLIC,
    "favicon": PUBLIC,
    "bokehjs": PUBLIC,
    "bokehjs/head": PUBLIC,
    "viewer_static": PUBLIC,
    "viewer_static/head": PUBLIC,
    "openapi": PUBLIC,
    "getHealth": PUBLIC,
    "options": PUBLIC,
    # any signed-in user
    "logout": AUTHENTICATED,
    "getMe": AUTHENTICATED,
    # viewing recordings, signals, annotations, events
    "viewerIndex": Permission.VIEW,
    "viewerRecording": Permission.VIEW,
    "listRecordings": Permission.VIEW,
    "getRecording": Permission.VIEW,
    "getWindow": Permission.VIEW,
    "listRecordingAnnotations": Permission.VIEW,
    "listEvents": Permission.VIEW,
    "getEvent": Permission.VIEW,
    "getReviewQueue": Permission.VIEW,
    "getNextInReviewQueue": Permission.VIEW,
    "getSleepStats": Permission.VIEW,
    "listDetectors": Permission.VIEW,
    "getAgreement": Permission.VIEW,
    "listDisagreements": Permission.VIEW,
    "getConsensus": Permission.VIEW,
    "getDetectorStats": Permission.VIEW,
    # annotating and reviewing (the store also checks ownership: changing someone else's
    # event needs ADJUDICATE)
    "createEvent": Permission.ANNOTATE,
    "editEvent": Permission.ANNOTATE,
    "confirmEvent": Permission.ANNOTATE,
    "rejectEvent": Permission.ANNOTATE,
    "deleteEvent": Permission.ANNOTATE,
    "decideEvents": Permission.ANNOTATE,
    "undoDecision": Permission.ANNOTATE,
    "redoDecision": Permission.ANNOTATE,
    "scoreEpoch": Permission.ANNOTATE,
    # adjudicating disagreements between scorers
    "adjudicateEpoch": Permission.ADJUDICATE,
    # moving annotation files in and out (exports are audited with format, filters, count)
    "importEvents": Permission.IMPORT,
    "exportEvents": Permission.EXPORT,
    "exportSelection": Permission.EXPORT,
    # detectors
    "runDetector": Permission.RUN_DETECTORS,
    # research
    "runSql": Permission.SQL,
    # administration
    "listUsers": Permission.MANAGE_USERS,
    "createUser": Permission.MANAGE_USERS,
    "disableUser": Permission.MANAGE_USERS,
    "enableUser": Permission.MANAGE_USERS,
    "listAudit": Permission.AUDIT,
    "verifyAudit": Permission.AUDIT,
}

#: Routes whose reads are written to the audit log (kind recorded in the entry).
VIEW_AUDIT_KINDS: Mapping[str, str] = {
    "getWindow": "signal",
    "listRecordingAnnotations": "annotations",
    "listEvents": "events",
    "getReviewQueue": "events",
    "getNextInReviewQueue": "events",
    "getSleepStats": "events",
    "getAgreement": "events",
    "listDisagreements": "events",
    "getConsensus": "events",
}


def route_key(handler: Any, path_template: str, openapi_path: str | None) -> str:
    """The key of ``handler`` in :data:`ROUTE_PERMISSIONS`.

    Parameters
    ----------
    handler
        A Litestar HTTP route handler.
    path_template
        The route's path (``/api/events/{event_id:int}``).
    openapi_path
        The app's OpenAPI path (``/schema``), or ``None`` when the schema is off.
    """
    operation_id = getattr(handler, "operation_id", None)
    if isinstance(operation_id, str) and operation_id:
        return operation_id
    methods = set(getattr(handler, "http_methods", ()) or ())
    if methods == {"OPTIONS"} and getattr(handler, "handler_name", "") == "options_handler":
        return "options"
    if openapi_path and (
        path_template == openapi_path or path_template.startswith(openapi_path.rstrip("/") + "/")
    ):
        return "openapi"
    name = getattr(handler, "name", None)
    return str(name) if name else f"<unnamed {getattr(handler, 'handler_name', '?')}>"


def openapi_path_of(app: Any) -> str | None:
    """The path the app serves its OpenAPI schema under (``/schema`` by default)."""
    config = getattr(app, "openapi_config", None)
    if config is None:
        return None
    return str(config.path or "/schema")


def requirement_for(key: str) -> Requirement | None:
    """What route ``key`` needs, or ``None`` when it is not declared (then it is refused)."""
    return ROUTE_PERMISSIONS.get(key)


def is_allowed(requirement: Requirement | None, user: User | None) -> bool:
    """Whether ``user`` (``None``: anonymous) may use a route needing ``requirement``."""
    if requirement is None:
        return False
    if requirement == PUBLIC:
        return True
    if user is None or user.disabled:
        return False
    if requirement == AUTHENTICATED:
        return True
    return isinstance(requirement, Permission) and user.can(requirement)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def session_id_from(scope: Scope) -> str | None:
    """The session cookie of the request, if any."""
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    try:
        jar: SimpleCookie = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def bearer_token_from(scope: Scope) -> str | None:
    """The bearer token of the ``Authorization`` header, if any."""
    raw = _header(scope, b"authorization")
    if not raw:
        return None
    scheme, _, token = raw.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            "the Authorization header must be 'Bearer <token>'; get a token with "
            "`wavescore users add NAME --role ROLE`"
        )
    return token.strip()


class CredentialCache:
    """Remembers which user a token or session belongs to for a few seconds.

    Only this process writes the database while the server runs (DuckDB's file lock), so every
    change that must take effect at once (disabling a user, signing out) goes through a route
    that calls :meth:`clear`. Without the cache each request would cost a database lookup.

    Parameters
    ----------
    ttl_s
        How long a lookup is reused (s); also the most a session outlives its expiry.
    """

    def __init__(self, ttl_s: float = CREDENTIAL_CACHE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._items: dict[tuple[str, str], tuple[float, User]] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, secret: str) -> User | None:
        """The cached user, or ``None`` when absent or stale."""
        with self._lock:
            item = self._items.get((kind, secret))
        if item is None or time.monotonic() - item[0] > self.ttl_s:
            return None
        return item[1]

    def put(self, kind: str, secret: str, user: User) -> None:
        """Remember a successful lookup."""
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[(kind, secret)] = (time.monotonic(), user)

    def clear(self) -> None:
        """Forget everything (after a user or session changed)."""
        with self._lock:
            self._items.clear()


def authenticate(store: Store, scope: Scope, cache: CredentialCache | None = None
                 ) -> tuple[User | None, str]:
    """Return the caller and how they were identified (``"token"``, ``"session"``, ``""``).

    Raises
    ------
    AuthenticationError
        Credentials were sent but are unknown, expired or belong to a disabled user.
    """
    token = bearer_token_from(scope)
    kind, secret = ("token", token) if token is not None else ("session",
                                                                session_id_from(scope))
    if secret is None:
        return None, ""
    user = cache.get(kind, secret) if cache is not None else None
    if user is None:
        user = store.user_for_token(secret) if kind == "token" else \
            store.user_for_session(secret)
        if cache is not None:
            cache.put(kind, secret, user)
    return user, kind


def view_auditor_of(app: Any) -> ViewAuditor:
    """The app's :class:`ViewAuditor` (created on first use)."""
    auditor = getattr(app.state, "view_auditor", None)
    if not isinstance(auditor, ViewAuditor):
        auditor = ViewAuditor()
        app.state.view_auditor = auditor
    return auditor


def credential_cache_of(app: Any) -> CredentialCache:
    """The app's :class:`CredentialCache` (created on first use)."""
    cache = getattr(app.state, "credential_cache", None)
    if not isinstance(cache, CredentialCache):
        cache = CredentialCache()
        app.state.credential_cache = cache
    return cache


class ViewAuditor:
    """Writes ``recording.view`` audit entries, at most one per key per interval.

    Parameters
    ----------
    interval_s
        Coalescing interval in seconds (:data:`VIEW_AUDIT_INTERVAL_S`).
    """

    def __init__(self, interval_s: float = VIEW_AUDIT_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._last: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def due(self, user: User, recording_id: str, kind: str, now: float | None = None) -> bool:
        """Claim the slot for ``(user, recording, kind)``; True when an entry must be written."""
        now = time.monotonic() if now is None else now
        key = (user.name, recording_id, kind)
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval_s:
                return False
            self._last[key] = now
            if len(self._last) > 100_000:  # forget stale keys
                self._last = {k: t for k, t in self._last.items() if now - t < self.interval_s}
            return True

    def forget(self, user: User, recording_id: str, kind: str) -> None:
        """Release a claimed slot (the entry could not be written)."""
        with self._lock:
            self._last.pop((user.name, recording_id, kind), None)


async def _send_redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", location.encode("latin-1")),
                (b"cache-control", b"no-store"),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _is_html_page(handler: Any) -> bool:
    return "html" in str(getattr(handler, "media_type", "") or "")


def _same_origin(scope: Scope) -> bool:
    origin = _header(scope, b"origin")
    if origin is None or origin == "null":
        return origin is None
    host = _header(scope, b"host") or ""
    return urlsplit(origin).netloc == host


def auth_middleware(app: ASGIApp) -> ASGIApp:
    """Wrap a route's ASGI app with authentication, the permission check and the view audit.

    Register with ``Litestar(middleware=[auth_middleware])``; the store and a
    :class:`ViewAuditor` are taken from ``app.state`` (``store``, ``view_auditor``).
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        litestar_app = scope["app"]
        handler = scope.get("route_handler")
        key = route_key(
            handler,
            str(scope.get("path_template", scope.get("path", ""))),
            openapi_path_of(litestar_app),
        )
        requirement = requirement_for(key)
        if requirement is None:
            raise PermissionDeniedError(
                f"route {key!r} has no declared permission in server.auth.ROUTE_PERMISSIONS; "
                "it is refused for everyone until one is declared"
            )
        if requirement == PUBLIC:
            await app(scope, receive, send)
            return
        store: Store = litestar_app.state.store
        try:
            user, how = authenticate(store, scope, credential_cache_of(litestar_app))
        except AuthenticationError:
            if _is_html_page(handler) and scope.get("method") == "GET":
                await _send_redirect(send, _login_redirect(scope))
                return
            raise
        if user is None:
            if _is_html_page(handler) and scope.get("method") == "GET":
                await _send_redirect(send, _login_redirect(scope))
                return
            raise AuthenticationError(
                "sign in first: send 'Authorization: Bearer <token>' or sign in at /login"
            )
        if (
            how == "session"
            and scope.get("method") not in ("GET", "HEAD", "OPTIONS")
            and not _same_origin(scope)
        ):
            raise PermissionDeniedError(
                "cross-origin request refused: the Origin header does not match this server"
            )
        if not is_allowed(requirement, user):
            raise PermissionDeniedError(
                f"user {user.name!r} with role {user.role.value} may not use route {key!r} "
                f"(it needs the {requirement} permission)"
            )
        scope["user"] = user
        kind = VIEW_AUDIT_KINDS.get(key)
        if kind is not None:
            recording_id = scope.get("path_params", {}).get("recording_id")
            if recording_id is not None:
                auditor = view_auditor_of(litestar_app)
                if auditor.due(user, str(recording_id), kind):
                    try:
                        await anyio.to_thread.run_sync(
                            lambda: store.audit(
                                user.name,
                                "recording.view",
                                f"recording:{recording_id}",
                                {"kind": kind},
                            )
                        )
                    except BaseException:
                        auditor.forget(user, str(recording_id), kind)
                        raise
        await app(scope, receive, send)

    return middleware


def _login_redirect(scope: Scope) -> str:
    path = str(scope.get("path", "/"))
    query = scope.get("query_string", b"")
    target = path + ("?" + query.decode("latin-1") if query else "")
    return f"{LOGIN_PATH}?next={quote(target, safe='/')}"


def safe_next(target: str | None) -> str:
    """A post-login redirect target limited to this site's own paths (``/`` otherwise)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def current_user(scope_or_request: Any) -> User:
    """The authenticated caller of a request (set by :func:`auth_middleware`).

    Raises
    ------
    AuthenticationError
        The route was reached without authentication (a public route).
    """
    scope = getattr(scope_or_request, "scope", scope_or_request)
    user = scope.get("user")
    if not isinstance(user, User):
        raise AuthenticationError("this action needs a signed-in user")
    return user


__all__ = [
    "AUTHENTICATED",
    "CREDENTIAL_CACHE_TTL_S",
    "PUBLIC",
    "ROUTE_PERMISSIONS",
    "SESSION_COOKIE",
    "VIEW_AUDIT_INTERVAL_S",
    "VIEW_AUDIT_KINDS",
    "CredentialCache",
    "ViewAuditor",
    "auth_middleware",
    "authenticate",
    "credential_cache_of",
    "current_user",
    "is_allowed",
    "openapi_path_of",
    "requirement_for",
    "route_key",
    "safe_next",
    "view_auditor_of",
]
