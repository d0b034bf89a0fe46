"""Unit meetings and training (例会、学习培训、业务交流) and 分区联创 zones and their activities
(engine/services/meetings.py): `/api/v1/meetings`, `/api/v1/zones`, `/api/v1/zone-activities`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.platform.meetings.rules import KINDS
from engine.services import meetings as service
from engine.services.meetings import ActivityFilter, MeetingFilter

from ..auth import current_principal, login_required
from ..extensions import clock, db, settings
from . import openapi
from .common import body, int_arg, page_json, page_request

bp = Blueprint("api_meetings", __name__, url_prefix="/api/v1")


def _year() -> int | None:
    return int_arg("year", 0, 2000, 2100) or None


@bp.get("/meetings")
@login_required
def meetings() -> Response:
    f = MeetingFilter(request.args.get("unit_id") or None, request.args.get("kind") or None, _year())
    return page_json(service.list_meetings(db(), current_principal(), f, page_request()), lambda d: d)


@bp.post("/meetings")
@login_required
def create_meeting() -> tuple[Response, int]:
    out = service.create_meeting(db(), current_principal(), body(), clock().now(), settings().zone)
    return jsonify(out), 201


@bp.get("/meetings/<int:meeting_id>")
@login_required
def meeting(meeting_id: int) -> Response:
    return jsonify(service.get_meeting(db(), current_principal(), meeting_id))


@bp.get("/zones")
@login_required
def zones() -> Response:
    closed = request.args.get("closed") in ("1", "true")
    return page_json(service.list_zones(db(), current_principal(), page_request(), closed), lambda d: d)


@bp.post("/zones")
@login_required
def create_zone() -> tuple[Response, int]:
    return jsonify(service.create_zone(db(), current_principal(), body(), clock().now())), 201


@bp.get("/zones/<int:zone_id>")
@login_required
def zone(zone_id: int) -> Response:
    return jsonify(service.get_zone(db(), current_principal(), zone_id))


@bp.put("/zones/<int:zone_id>")
@login_required
def change_zone(zone_id: int) -> Response:
    return jsonify(service.change_zone(db(), current_principal(), zone_id, body(), clock().now()))


@bp.delete("/zones/<int:zone_id>")
@login_required
def close_zone(zone_id: int) -> Response:
    return jsonify(service.close_zone(db(), current_principal(), zone_id, clock().now()))


@bp.get("/zones/<int:zone_id>/activities")
@login_required
def activities(zone_id: int) -> Response:
    f = ActivityFilter(zone_id, request.args.get("unit_id") or None, _year())
    return page_json(service.list_activities(db(), current_principal(), f, page_request()), lambda d: d)


@bp.post("/zones/<int:zone_id>/activities")
@login_required
def record_activity(zone_id: int) -> tuple[Response, int]:
    out = service.record_activity(db(), current_principal(), zone_id, body(), clock().now(), settings().zone)
    return jsonify(out), 201


@bp.get("/zone-activities/<int:activity_id>")
@login_required
def activity(activity_id: int) -> Response:
    return jsonify(service.get_activity(db(), current_principal(), activity_id))


# ---- OpenAPI ---------------------------------------------------------------------------------------------


def _doc() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors, page_schema, q = (
        openapi.op,
        openapi.resp,
        openapi.errors_for,
        openapi.page_schema,
        openapi.query_param,
    )
    ref = openapi.ref
    json_body = lambda name: {  # noqa: E731
        "required": True,
        "content": {"application/json": {"schema": ref(name)}},
    }
    kinds = {"type": "string", "enum": list(KINDS)}
    year = q("year", {"type": "integer", "minimum": 2000, "maximum": 2100})
    strs = {"type": "array", "items": {"type": "string"}}
    units = {
        "type": "array",
        "items": {"type": "object", "properties": {"unit_id": {"type": "string"}, "name": {"type": "string"}}},
    }
    files = {"type": "array", "items": {"type": "object"}}
    tag = "meetings"
    paths = {
        "/api/v1/meetings": {
            "get": op(
                "Unit meetings and training the caller reads: the group all, a unit committee its unit's, anyone those they attended",
                {"200": resp(page_schema("UnitMeeting")), **errors(401, 422, 503)},
                params=openapi.PAGING + [q("unit_id", {"type": "string"}), q("kind", kinds), year],
                tag=tag,
            ),
            "post": op(
                "Record a meeting, training or exchange of the caller's unit (例会、学习培训、业务交流)",
                {"201": resp(ref("UnitMeeting"), "Created"), **errors(400, 401, 403, 422, 503)},
                body=json_body("UnitMeetingInput"),
                tag=tag,
            ),
        },
        "/api/v1/meetings/{id}": {
            "get": op(
                "One meeting with its materials",
                {"200": resp(ref("UnitMeeting")), **errors(401, 404, 503)},
                params=[openapi.ID],
                tag=tag,
            )
        },
        "/api/v1/zones": {
            "get": op(
                "分区联创 zones (open ones; closed=true: closed ones too)",
                {"200": resp(page_schema("Zone")), **errors(401, 403, 422, 503)},
                params=openapi.PAGING + [q("closed", {"type": "string", "enum": ["true", "false", "1", "0"]})],
                tag=tag,
            ),
            "post": op(
                "Set up a zone (the group committee)",
                {"201": resp(ref("Zone"), "Created"), **errors(400, 401, 403, 422, 503)},
                body=json_body("ZoneInput"),
                tag=tag,
            ),
        },
        "/api/v1/zones/{id}": {
            "get": op(
                "One zone", {"200": resp(ref("Zone")), **errors(401, 403, 404, 503)}, params=[openapi.ID], tag=tag
            ),
            "put": op(
                "Change a zone (the group committee)",
                {"200": resp(ref("Zone")), **errors(400, 401, 403, 404, 422, 503)},
                params=[openapi.ID],
                body=json_body("ZoneInput"),
                tag=tag,
            ),
            "delete": op(
                "Close a zone (the group committee); its activities stay readable",
                {"200": resp(ref("Zone")), **errors(401, 403, 404, 503)},
                params=[openapi.ID],
                tag=tag,
            ),
        },
        "/api/v1/zones/{id}/activities": {
            "get": op(
                "A zone's activities the caller reads (the group, the people of the zone's units)",
                {"200": resp(page_schema("ZoneActivity")), **errors(401, 403, 404, 422, 503)},
                params=[openapi.ID] + openapi.PAGING + [q("unit_id", {"type": "string"}), year],
                tag=tag,
            ),
            "post": op(
                "Record an activity of the zone (the committee of one of its units)",
                {"201": resp(ref("ZoneActivity"), "Created"), **errors(400, 401, 403, 404, 409, 422, 503)},
                params=[openapi.ID],
                body=json_body("ZoneActivityInput"),
                tag=tag,
            ),
        },
        "/api/v1/zone-activities/{id}": {
            "get": op(
                "One zone activity with its files and the people of its secondment batch",
                {"200": resp(ref("ZoneActivity")), **errors(401, 404, 503)},
                params=[openapi.ID],
                tag=tag,
            )
        },
    }
    date_ = {"type": "string", "format": "date"}
    schemas = {
        "UnitMeetingInput": {
            "type": "object",
            "required": ["kind", "held_on", "topic", "attendees"],
            "properties": {
                "unit_id": {"type": "string"},
                "kind": kinds,
                "held_on": date_,
                "topic": {"type": "string", "maxLength": 200},
                "attendees": strs,
                "materials": strs,
                "notes": {"type": "string", "maxLength": 5000},
            },
        },
        "UnitMeeting": {
            "type": "object",
            "required": ["id", "unit_id", "kind", "held_on", "topic", "attendees"],
            "properties": {
                "id": {"type": "integer"},
                "unit_id": {"type": "string"},
                "unit_name": {"type": "string"},
                "kind": kinds,
                "kind_name": {"type": "string"},
                "held_on": date_,
                "topic": {"type": "string"},
                "notes": {"type": "string"},
                "attendees": {"type": "array", "items": {"type": "object"}},
                "materials": files,
                "created_by": {"type": ["string", "null"]},
                "created_at": {"type": "string"},
            },
        },
        "ZoneInput": {
            "type": "object",
            "required": ["name", "lead_unit_id", "unit_ids"],
            "properties": {
                "name": {"type": "string", "maxLength": 100},
                "lead_unit_id": {"type": "string"},
                "unit_ids": strs,
                "note": {"type": "string", "maxLength": 5000},
            },
        },
        "Zone": {
            "type": "object",
            "required": ["id", "name", "lead_unit_id", "units"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "lead_unit_id": {"type": "string"},
                "lead_unit_name": {"type": "string"},
                "units": units,
                "note": {"type": "string"},
                "active": {"type": "boolean"},
                "activities": {"type": "integer"},
                "member": {"type": "boolean"},
                "may_record": {"type": "boolean"},
                "created_at": {"type": "string"},
                "updated_at": {"type": "string"},
            },
        },
        "ZoneActivityInput": {
            "type": "object",
            "required": ["held_on", "topic", "unit_ids"],
            "properties": {
                "held_on": date_,
                "topic": {"type": "string", "maxLength": 200},
                "unit_ids": strs,
                "summary": {"type": "string", "maxLength": 5000},
                "materials": strs,
                "batch_key": {"type": "string"},
            },
        },
        "ZoneActivity": {
            "type": "object",
            "required": ["id", "zone_id", "held_on", "topic", "units"],
            "properties": {
                "id": {"type": "integer"},
                "zone_id": {"type": "integer"},
                "zone_name": {"type": ["string", "null"]},
                "held_on": date_,
                "topic": {"type": "string"},
                "summary": {"type": "string"},
                "units": units,
                "batch_key": {"type": ["string", "null"]},
                "materials": files,
                "secondments": {"type": "array", "items": {"type": "object"}},
                "created_by": {"type": ["string", "null"]},
                "created_at": {"type": "string"},
            },
        },
    }
    return paths, schemas


openapi.extend(_doc)
