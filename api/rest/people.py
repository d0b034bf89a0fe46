"""People API: a person's profile, and the 三级联动 leading group with its decisions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.platform import study
from engine.services import people as service
from engine.services.people import DecisionFilter

from ..auth import current_principal, login_required
from ..extensions import clock, db, settings
from . import openapi
from .common import body, int_arg, page_json, page_request

bp = Blueprint("api_people", __name__, url_prefix="/api/v1")


@bp.get("/people/<username>")
@login_required
def profile(username: str) -> Response:
    year = int_arg("year", 0, 0, 2100) or None
    return jsonify(service.profile(db(), current_principal(), username, clock().now(), settings().zone, year))


@bp.get("/leading-group")
@login_required
def leading_group() -> Response:
    return jsonify(service.leading_group(db()))


@bp.get("/leading-group/decisions")
@login_required
def decisions() -> Response:
    start = study.parse_day(request.args["from"], "from") if request.args.get("from") else None
    end = study.parse_day(request.args["to"], "to") if request.args.get("to") else None
    f = DecisionFilter(start, end)
    return page_json(service.list_decisions(db(), current_principal(), f, page_request()), lambda d: d)


@bp.post("/leading-group/decisions")
@login_required
def record_decision() -> tuple[Response, int]:
    return jsonify(service.record(db(), current_principal(), body(), clock().now(), settings().zone)), 201


def _doc() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors, page_schema, q = (
        openapi.op,
        openapi.resp,
        openapi.errors_for,
        openapi.page_schema,
        openapi.query_param,
    )
    ref = openapi.ref
    member = {
        "type": "object",
        "properties": {
            "username": {"type": "string"},
            "display_name": {"type": "string"},
            "position": {"type": "string"},
        },
    }
    paths = {
        "/api/v1/people/{username}": {
            "get": op(
                "A person's profile: roles, leading-group position, secondments and training, monthly articles, study figures "
                "(oneself, or people of a unit one's committee oversees)",
                {"200": resp(ref("Profile")), **errors(401, 404, 422, 503)},
                params=[
                    {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}},
                    q("year", {"type": "integer"}),
                ],
                tag="people",
            )
        },
        "/api/v1/leading-group": {
            "get": op(
                "The 三级联动 leading group, derived from the group committee's roles",
                {"200": resp(ref("LeadingGroup")), **errors(401, 404, 503)},
                tag="people",
            )
        },
        "/api/v1/leading-group/decisions": {
            "get": op(
                "Decisions of the leading group's meetings, newest first",
                {"200": resp(page_schema("Decision")), **errors(401, 403, 422, 503)},
                params=openapi.PAGING
                + [q("from", {"type": "string", "format": "date"}), q("to", {"type": "string", "format": "date"})],
                tag="people",
            ),
            "post": op(
                "Record a meeting's decisions (members of the leading group, admins)",
                {"201": resp(ref("Decision")), **errors(400, 401, 403, 422, 503)},
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["meeting_date", "title", "decisions"],
                                "properties": {
                                    "meeting_date": {"type": "string", "format": "date"},
                                    "title": {"type": "string"},
                                    "decisions": {"type": "string"},
                                    "attendees": {"type": "array", "items": {"type": "string"}},
                                },
                            }
                        }
                    },
                },
                tag="people",
            ),
        },
    }
    schemas = {
        "LeadingGroup": {
            "type": "object",
            "required": ["name", "leader", "deputy_leaders", "members"],
            "properties": {
                "name": {"type": "string"},
                "committee": {"type": "string"},
                "node_id": {"type": "string"},
                "leader": {"type": "array", "items": member},
                "deputy_leaders": {"type": "array", "items": member},
                "members": {"type": "array", "items": member},
            },
        },
        "Decision": {
            "type": "object",
            "required": ["id", "meeting_date", "title", "decisions"],
            "properties": {
                "id": {"type": "integer"},
                "meeting_date": {"type": "string", "format": "date"},
                "title": {"type": "string"},
                "decisions": {"type": "string"},
                "attendees": {"type": "array", "items": {"type": "object"}},
                "recorded_by": {"type": ["string", "null"]},
                "created_at": {"type": "string"},
            },
        },
        "Profile": {
            "type": "object",
            "required": ["username", "display_name", "roles"],
            "properties": {
                "username": {"type": "string"},
                "display_name": {"type": "string"},
                "active": {"type": "boolean"},
                "email": {"type": ["string", "null"]},
                "roles": {"type": "array", "items": {"type": "object"}},
                "leading_group": {"type": ["string", "null"]},
                "secondments": {"type": "array", "items": {"type": "object"}},
                "meetings": {"type": "array", "items": {"type": "object"}},
                "articles": {"type": "array", "items": {"type": "object"}},
                "study": {"type": ["object", "null"]},
            },
        },
    }
    return paths, schemas


openapi.extend(_doc)
