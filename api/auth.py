"""Who is calling: bearer tokens for the API, the web session for pages.

The session cookie carries only a random session id (an `api_token` row of kind "web", stored
as its SHA-256), never a bearer token; the id is refused as a bearer token and a bearer token
cannot stand in for it. A session or token issued to a user who must change their password
reaches only PASSWORD_CHANGE_ENDPOINTS; anything else answers 403 password_change_required
(pages redirect to the change-password page).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request, session

from engine.errors import Forbidden, PasswordChangeRequired, Unauthorized
from engine.models import User
from engine.org import auth as engine_auth
from engine.org.nodes import Principal
from engine.org.throttle import client_key

from .extensions import clock, db

F = TypeVar("F", bound=Callable[..., Any])
PASSWORD_CHANGE_ENDPOINTS = frozenset(
    {
        "api_auth.change_password",
        "api_auth.logout",
        "api_auth.me",
        "password.change_password",
        "web.logout",
        "web.set_language",
    }
)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def client_address() -> str:
    """The caller's address as login throttling counts it (after ProxyFix, when configured)."""
    return client_key(request.remote_addr)


def current_principal() -> Principal:
    """The caller, from the bearer token or else the signed-in web session; 401 if neither,
    403 password_change_required outside PASSWORD_CHANGE_ENDPOINTS for a restricted session."""
    cached = g.get("principal")
    if cached is None:
        token = bearer_token()
        if token:
            cached, change_only = engine_auth.resolve_token(db(), token, clock().now(), "api")
        else:
            uid = session.get("uid")
            sid = session.get("sid")
            if not uid or not sid:
                raise Unauthorized("sign in, or send Authorization: Bearer <token>")
            cached, change_only = engine_auth.resolve_token(db(), sid, clock().now(), "web")
            if cached.id != uid:
                raise Unauthorized("the session is no longer valid")
        g.principal, g.password_change_only = cached, change_only
    if g.get("password_change_only") and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        raise PasswordChangeRequired(
            "change your password first (POST /api/v1/auth/password); until then nothing else is allowed",
            {"change_password": "/api/v1/auth/password"},
        )
    return cached


def login_required(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current_principal()
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def roles_required(*roles: str) -> Callable[[F], F]:
    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            p = current_principal()
            if not p.has_role(*roles):  # api/errors.py writes the access_refused event
                raise Forbidden("this needs the role {roles}", {"needs": list(roles)}, roles=" or ".join(roles))
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


def current_user() -> User:
    """The caller's User row, loaded only by the few views that need more than the Principal."""
    user = db().get(User, current_principal().id)
    if user is None:  # deleted since the token was checked, inside this request: treat as signed out
        raise Unauthorized("the user no longer exists")
    return user
