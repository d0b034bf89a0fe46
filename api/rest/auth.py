"""Authentication: log in and out, change one's password, who am I, health."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, session
from sqlalchemy import select

from engine.errors import Invalid, TooManyRequests, field_error
from engine.infra import events
from engine.models import OrgNode
from engine.org import auth as engine_auth
from engine.org.nodes import Principal

from ..auth import bearer_token, client_address, current_principal, login_required
from ..extensions import clock, db, settings
from .common import body, commit, str_field

bp = Blueprint("api_auth", __name__, url_prefix="/api/v1")


# ---- health and auth --------------------------------------------------------------------------


@bp.get("/healthz")
def healthz_v1() -> Response:
    return healthz()


def healthz() -> Response:
    db().execute(select(1))
    return jsonify({"status": "ok", "database": db().get_bind().dialect.name})


@bp.post("/auth/login")
def login() -> tuple[Response, int]:
    data = body()
    username = str_field(data, "username")
    password = data.get("password")
    if not isinstance(password, str) or not password:
        raise Invalid("password is required", [field_error("password", "required string")])
    now = clock().now()
    if len(username or "") > 64 or "\x00" in (username or "") or "\x00" in password:
        # no account can have such a name (usernames are 64 characters at most; PostgreSQL text holds no NUL)
        from engine.errors import Unauthorized

        raise Unauthorized("wrong username or password")
    try:
        result = engine_auth.authenticate(db(), settings(), now, username or "", password, client_address())
    except Exception as exc:
        commit()  # keep the failure counts and the audit event (login_failed / login_throttled)
        exc.audited = True  # type: ignore[attr-defined]
        raise
    token = engine_auth.issue_token(
        db(), result.user, now, settings().token_ttl_hours, password_change_only=result.password_change_only
    )
    commit()
    return jsonify(
        {
            "token": token,
            "token_type": "Bearer",
            "expires_in": settings().token_ttl_hours * 3600,
            "password_change_required": result.password_change_only,
        }
    ), 200


@bp.post("/auth/logout")
@login_required
def logout() -> Response:
    token = bearer_token()
    if token:
        engine_auth.revoke_token(db(), token, clock().now())
    events.log(db(), clock().now(), "logout", actor=current_principal())
    commit()
    return jsonify({"status": "logged_out"})


@bp.post("/auth/password")
@login_required
def change_password() -> Response:
    """The caller changes their own password (old + new). Every other token and session of the
    user ends; this token stays and is no longer restricted to changing the password."""
    data = body()
    old, new = data.get("old_password"), data.get("new_password")
    for name, value in (("old_password", old), ("new_password", new)):
        if not isinstance(value, str) or not value:
            raise Invalid("{name} is required", [field_error(name, "required string")], name=name)
    assert isinstance(old, str) and isinstance(new, str)  # checked above
    try:
        engine_auth.change_password(
            db(),
            settings(),
            clock().now(),
            current_principal(),
            old,
            new,
            client=client_address(),
            keep_token=bearer_token() or session.get("sid"),
        )
    except (Invalid, TooManyRequests) as exc:
        if isinstance(exc, TooManyRequests) or exc.details[0]["field"] == "old_password":
            commit()  # a wrong old password counts as a failed login: keep the count and the event
        raise
    commit()
    return jsonify({"status": "password_changed"})


def principal_json(p: Principal) -> dict[str, Any]:
    names = dict(db().execute(select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(p.node_ids()))).all())
    return {
        "id": p.id,
        "username": p.username,
        "display_name": p.display_name,
        "roles": [
            {"role": r.role, "node_id": r.node_id, "tier": r.tier, "node_name": names.get(r.node_id or "")}
            for r in p.roles
        ],
        "is_admin": p.is_admin,
        "is_process_owner": p.is_process_owner,
    }


@bp.get("/me")
@login_required
def me() -> Response:
    return jsonify(
        {**principal_json(current_principal()), "password_change_required": bool(g.get("password_change_only"))}
    )
