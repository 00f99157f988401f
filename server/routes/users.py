"""``/api/users``: list, create, disable and enable users (admin).

Creating a user answers its API token once; only its sha256 is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from server.auth import credential_cache_of, current_user
from store import Role, Store, User


class UserOut(msgspec.Struct, frozen=True):
    """A user (never carries secrets)."""

    name: str
    role: str
    created_at: str
    disabled: bool


class UserListOut(msgspec.Struct, frozen=True):
    """Every user, by name."""

    users: list[UserOut]


class UserCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A new user; ``password`` (8+ characters) enables browser sign-in."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^\S+$")]
    role: Role
    password: Annotated[str, msgspec.Meta(min_length=8)] | None = None


class NewUserOut(msgspec.Struct, frozen=True):
    """The created user and its API token (shown once)."""

    user: UserOut
    token: str


def user_out(u: User) -> UserOut:
    """The wire form of a user."""
    return UserOut(
        name=u.name, role=u.role.value, created_at=u.created_at.isoformat(), disabled=u.disabled
    )


class UsersController(Controller):
    """User administration."""

    path = "/api/users"
    tags = ("admin",)

    @get("/", operation_id="listUsers", sync_to_thread=True)
    def list_users(self, state: State) -> UserListOut:
        """Every user."""
        store: Store = state.store
        return UserListOut(users=[user_out(u) for u in store.list_users()])

    @post("/", operation_id="createUser", sync_to_thread=True, status_code=201)
    def create_user(
        self, state: State, request: Request[Any, Any, Any], data: JSONBody[UserCreate]
    ) -> NewUserOut:
        """Create a user; the answer holds its API token, shown only this once."""
        store: Store = state.store
        new = store.create_user(data.name, data.role, data.password, actor=current_user(request))
        return NewUserOut(user=user_out(new.user), token=new.token)

    @post("/{name:str}/disable", operation_id="disableUser", sync_to_thread=True, status_code=200)
    def disable_user(
        self, state: State, request: Request[Any, Any, Any], name: FromPath[str]
    ) -> UserOut:
        """Disable a user: their token and sessions stop working at once."""
        store: Store = state.store
        store.set_user_disabled(name, True, actor=current_user(request))
        credential_cache_of(request.app).clear()
        return user_out(store.get_user(name))

    @post("/{name:str}/enable", operation_id="enableUser", sync_to_thread=True, status_code=200)
    def enable_user(
        self, state: State, request: Request[Any, Any, Any], name: FromPath[str]
    ) -> UserOut:
        """Re-enable a disabled user."""
        store: Store = state.store
        store.set_user_disabled(name, False, actor=current_user(request))
        credential_cache_of(request.app).clear()
        return user_out(store.get_user(name))


__all__ = ["NewUserOut", "UserCreate", "UserListOut", "UserOut", "UsersController", "user_out"]
