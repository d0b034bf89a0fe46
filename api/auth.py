"""Who is calling: bearer tokens for the API, the web session for pages."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

from flask import g, request, session

from engine import auth as engine_auth
from engine.errors import Forbidden, Unauthorized
from engine.models import User
from engine.org import Principal

from .extensions import clock, db

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def current_principal() -> Principal:
    """The caller, from the bearer token or else the signed-in web session; 401 if neither."""
    cached = g.get("principal")
    if cached is not None:
        return cached
    token = bearer_token()
    if token:
        principal = engine_auth.principal_for_token(db(), token, clock().now())
    else:
        uid = session.get("uid")
        tok = session.get("tok")
        if not uid or not tok:
            raise Unauthorized("sign in, or send Authorization: Bearer <token>")
        principal = engine_auth.principal_for_token(db(), tok, clock().now())
        if principal.id != uid:
            raise Unauthorized("the session is no longer valid")
    g.principal = principal
    return principal


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
                raise Forbidden(f"this needs the role {' or '.join(roles)}", {"needs": list(roles)})
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


def current_user() -> User:
    """The caller's User row, loaded only by the few views that need more than the Principal."""
    user = db().get(User, current_principal().id)
    if user is None:  # deleted since the token was checked, inside this request: treat as signed out
        raise Unauthorized("the user no longer exists")
    return user
