"""三员分立 on the JSON API: accounts and role grants (the security administrator), the audit log
(the security auditor), and the auditing of confidential reads.

- `GET /api/v1/users`: accounts with their roles — the system administrator (who keeps knowing
  which accounts exist) and the security administrator.
- `POST /api/v1/users`, `PATCH /api/v1/users/{username}`, `POST /api/v1/users/{username}/roles`,
  `POST /api/v1/users/{username}/roles/revoke`: the security administrator only; each change is an
  event (`user_created`, `user_changed`, `role_granted`, `role_revoked`). Granting a second of the
  three separated roles is refused by `engine.org.nodes.grant` (422 naming the role), whatever the path.
- `GET /api/v1/audit-events`: the security auditor only; payloads redacted (engine/org/audit.py).

Reads of confidential content are audited by api/reads.py.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from engine.errors import Invalid, field_error
from engine.infra import events
from engine.models import SEPARATED_ROLES, OrgNode, RoleAssignment, User
from engine.org import audit, auth, confidential, passwords
from engine.org import nodes as org

from ..auth import current_principal, roles_required
from ..extensions import clock, db, settings, state
from . import openapi
from .common import body, int_arg, page, str_field

bp = Blueprint("api_security", __name__, url_prefix="/api/v1")


# ---- accounts and roles ------------------------------------------------------------------------------------


def user_json(u: User, tiers: dict[str, str] | None = None) -> dict[str, Any]:
    tiers = tiers if tiers is not None else dict(db().execute(select(OrgNode.id, OrgNode.tier)).all())
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "active": u.active,
        "email": u.email,
        "roles": [{"role": r.role, "node_id": r.node_id, "tier": tiers.get(r.node_id or "")} for r in u.roles],
    }


@bp.get("/users")
@roles_required("admin", "security_admin")
def users() -> Response:
    q = select(User).order_by(User.username)
    node = request.args.get("node_id")
    if node:
        q = q.where(User.id.in_(select(RoleAssignment.user_id).where(RoleAssignment.node_id == node)))
    tiers = dict(db().execute(select(OrgNode.id, OrgNode.tier)).all())
    return page(q, lambda row: user_json(row[0], tiers))


def _text(data: dict[str, Any], name: str, limit: int, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise Invalid(
            "{name} must be text of 1 to {limit} characters", [field_error(name, "text")], name=name, limit=limit
        )
    return value.strip()


def create_user(p: Any, data: dict[str, Any]) -> User:
    """A new account (shared by the API and the security page); the caller commits. The initial
    password meets the policy (engine/org/passwords.py) and must be changed at the first sign-in:
    the security administrator chose it."""
    username = _text(data, "username", 64) or ""
    if not all(c.isalnum() or c in "._-" for c in username):
        raise Invalid(
            "username may hold letters, digits, '.', '_' and '-' only",
            [field_error("username", "letters, digits, . _ -")],
        )
    display = _text(data, "display_name", 100) or username
    email = _text(data, "email", 200, required=False)
    password = data.get("password")
    if not isinstance(password, str):
        raise Invalid("password is required", [field_error("password", "required string")])
    passwords.require(password, "password", username, display)
    user = org.create_user(db(), username, display, auth.hash_password(password), clock().now(), email)
    user.must_change_password = True
    events.log(db(), clock().now(), "user_created", actor=p, payload={"username": username})
    return user


def change_user(p: Any, user: User, data: dict[str, Any]) -> None:
    unknown = sorted(set(data) - {"display_name", "email", "active"})
    if unknown:
        raise Invalid("{field}: unknown field", [field_error(unknown[0], "unknown field")], field=unknown[0])
    changes: dict[str, Any] = {}
    if "display_name" in data:
        user.display_name = changes["display_name"] = _text(data, "display_name", 100) or user.display_name
    if "email" in data:
        user.email = changes["email"] = _text(data, "email", 200, required=False)
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise Invalid("active must be true or false", [field_error("active", "boolean")])
        if user.id == p.id and not data["active"]:
            raise Invalid("you cannot deactivate your own account", [field_error("active", "own account")])
        user.active = changes["active"] = data["active"]
    events.log(db(), clock().now(), "user_changed", actor=p, payload={"username": user.username, **changes})


def change_role(p: Any, user: User, data: dict[str, Any], granting: bool) -> None:
    role = str_field(data, "role") or ""
    node = data.get("node_id")
    if node is not None and not isinstance(node, str):
        raise Invalid("node_id must be a string", [field_error("node_id", "expected a string")])
    node = node or None
    if granting:
        if not org.grant(db(), user, role, node):
            return  # held already: nothing changed, nothing to log
        db().flush()
    else:
        if user.id == p.id and role == "security_admin":
            raise Invalid("you cannot revoke your own security_admin role", [field_error("role", "own account")])
        org.revoke(db(), user, role, node)
    events.log(
        db(),
        clock().now(),
        "role_granted" if granting else "role_revoked",
        actor=p,
        payload={
            "username": user.username,
            "role": role,
            "node_id": node if role not in SEPARATED_ROLES and role != "process_owner" else None,
        },
    )


@bp.post("/users")
@roles_required("security_admin")
def new_user() -> tuple[Response, int]:
    user = create_user(current_principal(), body())
    db().commit()
    return jsonify(user_json(user)), 201


@bp.patch("/users/<username>")
@roles_required("security_admin")
def patch_user(username: str) -> Response:
    user = org.get_user(db(), username)
    change_user(current_principal(), user, body())
    db().commit()
    return jsonify(user_json(user))


@bp.post("/users/<username>/roles")
@roles_required("security_admin")
def grant_role(username: str) -> Response:
    user = org.get_user(db(), username)
    change_role(current_principal(), user, body(), granting=True)
    db().commit()
    return jsonify(user_json(user))


@bp.post("/users/<username>/roles/revoke")
@roles_required("security_admin")
def revoke_role(username: str) -> Response:
    user = org.get_user(db(), username)
    change_role(current_principal(), user, body(), granting=False)
    db().commit()
    return jsonify(user_json(user))


# ---- the audit log ---------------------------------------------------------------------------------------


def day_or_time(name: str, end: bool = False) -> datetime | None:
    """A date (the whole local day) or an ISO date-time."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = datetime.strptime(raw, "%Y-%m-%d").date()
            return datetime.combine(day + timedelta(days=1 if end else 0), time(0), settings().zone)
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            "{name} must be a date (2027-01-31) or an ISO 8601 date-time", [field_error(name, "not a date")], name=name
        ) from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=settings().zone)


def audit_filters() -> dict[str, Any]:
    types = [t.strip() for t in (request.args.get("type") or "").split(",") if t.strip()]
    if any(len(t) > 48 for t in types):
        raise Invalid("type names an event type (at most 48 characters)", [field_error("type", "too long")])
    return {
        "types": types,
        "actor": (request.args.get("actor") or "").strip()[:64] or None,
        "start": day_or_time("from"),
        "end": day_or_time("to", end=True),
        "instance_id": int_arg("instance_id", 0, 1) or None,
    }


@bp.get("/audit-events")
@roles_required("auditor")
def audit_events() -> Response:
    q = audit.query(**audit_filters())
    red = confidential.for_audit(state().forms.forms_dir)
    return page(q, lambda row: audit.rendered(db(), [row[0]], red)[0])


def _doc() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors, page_schema, q = (
        openapi.op,
        openapi.resp,
        openapi.errors_for,
        openapi.page_schema,
        openapi.query_param,
    )
    user = {"$ref": "#/components/schemas/User"}
    name = {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}
    role_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["role"],
                    "properties": {"role": {"type": "string"}, "node_id": {"type": ["string", "null"]}},
                }
            }
        },
    }
    paths = {
        "/api/v1/users": {
            "get": op(
                "Accounts with their roles (system administrator, security administrator)",
                {"200": resp(page_schema("User")), **errors(401, 403, 422, 503)},
                params=openapi.PAGING + [q("node_id", {"type": "string"})],
                tag="org",
            ),
            "post": op(
                "Create an account (security administrator; logged as user_created). The initial password "
                "must meet the password policy and be changed at the first sign-in",
                {"201": resp(user), **errors(400, 401, 403, 409, 422, 503)},
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["username", "password"],
                                "properties": {
                                    "username": {"type": "string"},
                                    "display_name": {"type": "string"},
                                    "password": {"type": "string"},
                                    "email": {"type": ["string", "null"]},
                                },
                            }
                        }
                    },
                },
                tag="org",
            ),
        },
        "/api/v1/users/{username}": {
            "patch": op(
                "Change an account's name, e-mail or active flag (security administrator; user_changed)",
                {"200": resp(user), **errors(400, 401, 403, 404, 422, 503)},
                params=[name],
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "display_name": {"type": "string"},
                                    "email": {"type": ["string", "null"]},
                                    "active": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
                tag="org",
            )
        },
        "/api/v1/users/{username}/roles": {
            "post": op(
                "Grant a role (security administrator; role_granted). A second of admin, security_admin and "
                "auditor is refused with 422 naming the role (separation of duties)",
                {"200": resp(user), **errors(400, 401, 403, 404, 422, 503)},
                params=[name],
                body=role_body,
                tag="org",
            )
        },
        "/api/v1/users/{username}/roles/revoke": {
            "post": op(
                "Revoke a role (security administrator; role_revoked)",
                {"200": resp(user), **errors(400, 401, 403, 404, 422, 503)},
                params=[name],
                body=role_body,
                tag="org",
            )
        },
        "/api/v1/audit-events": {
            "get": op(
                "The audit log, newest first (security auditor): sign-ins, refusals, changes, role grants, reads of "
                "confidential content and exports, with confidential payload values redacted",
                {"200": resp(page_schema("AuditEvent")), **errors(401, 403, 422, 503)},
                params=openapi.PAGING
                + [
                    q("type", {"type": "string"}, "event type(s), comma-separated"),
                    q("actor", {"type": "string"}),
                    q("from", {"type": "string"}, "a date (local day) or date-time"),
                    q("to", {"type": "string"}, "a date (to the end of that day) or date-time"),
                    q("instance_id", {"type": "integer", "minimum": 1}),
                ],
                tag="audit",
            )
        },
    }
    schemas = {
        "AuditEvent": {
            "type": "object",
            "required": ["id", "at", "type", "actor", "payload"],
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "type": {"type": "string"},
                "actor": {"type": ["string", "null"]},
                "actor_id": {"type": ["integer", "null"]},
                "instance_id": {"type": ["integer", "null"]},
                "task_id": {"type": ["integer", "null"]},
                "payload": {"type": "object", "additionalProperties": True},
            },
        }
    }
    return paths, schemas


openapi.extend(_doc)
