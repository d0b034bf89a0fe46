"""Notifications API: the caller's in-app notifications, and the channels/outbox of admins
and committee secretaries. Sending happens in `engine.platform.notify.dispatch`, never in a request."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.errors import Invalid, field_error
from engine.platform import notify
from engine.platform.models import Notification
from engine.services import notifications as service
from engine.services.notifications import ChannelFilter, NotificationFilter, OutboxFilter

from ..auth import current_principal, login_required
from ..extensions import clock, db, settings
from . import openapi
from .common import body, int_arg, page, page_json, page_request

bp = Blueprint("api_notifications", __name__, url_prefix="/api/v1")


def note_json(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "link": n.link,
        "task_id": n.task_id,
        "instance_id": n.instance_id,
        "node_id": n.node_id,
        "created_at": n.created_at.isoformat(),
        "read_at": n.read_at.isoformat() if n.read_at else None,
        "read": n.read_at is not None,
    }


@bp.get("/notifications")
@login_required
def notifications() -> Response:
    unread = request.args.get("unread")
    if unread not in (None, "", "0", "false", "1", "true"):
        raise Invalid("unread must be true or false", [field_error("unread", "true or false")])
    f = NotificationFilter(unread=unread in ("1", "true"))
    return page_json(service.list_notifications(db(), current_principal(), f, page_request()), note_json)


@bp.get("/notifications/unread-count")
@login_required
def unread_count() -> Response:
    return jsonify({"unread": notify.unread_count(db(), current_principal().id)})


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read(notification_id: int) -> Response:
    return jsonify(note_json(service.read(db(), current_principal(), notification_id, clock().now())))


@bp.post("/notifications/read-all")
@login_required
def read_all() -> Response:
    data = body()
    task_id = data.get("task_id")
    if task_id is not None and (not isinstance(task_id, int) or isinstance(task_id, bool)):
        raise Invalid("task_id must be an integer", [field_error("task_id", "expected an integer")])
    if task_id is not None and not 0 < task_id < 2**31:
        task_id = 0  # an id beyond the id columns' range names no task (never a database error)
    marked = service.read_all(db(), current_principal(), clock().now(), task_id)
    return jsonify({"marked": marked, "unread": notify.unread_count(db(), current_principal().id)})


# ---- channels (admin, or the secretary / deputy secretary of the channel's committee) -----------------


@bp.get("/notification-channels")
@login_required
def channels() -> Response:
    f = ChannelFilter(request.args.get("node_id") or None)
    return page(service.channels_query(current_principal(), f), lambda r: notify.channel_json(r[0]))


@bp.post("/notification-channels")
@login_required
def create_channel() -> tuple[Response, int]:
    p = current_principal()
    return jsonify(service.create_channel(db(), p, body(), clock().now())), 201


@bp.get("/notification-channels/<int:channel_id>")
@login_required
def channel(channel_id: int) -> Response:
    return jsonify(notify.channel_json(notify.get_channel(db(), current_principal(), channel_id)))


@bp.patch("/notification-channels/<int:channel_id>")
@login_required
def change_channel(channel_id: int) -> Response:
    return jsonify(service.change_channel(db(), current_principal(), channel_id, body(), clock().now()))


@bp.delete("/notification-channels/<int:channel_id>")
@login_required
def delete_channel(channel_id: int) -> Response:
    service.delete_channel(db(), current_principal(), channel_id, clock().now())
    return jsonify({"deleted": channel_id})


@bp.post("/notification-channels/<int:channel_id>/test")
@login_required
def test_channel(channel_id: int) -> tuple[Response, int]:
    _name, out = service.test_channel(db(), settings(), current_principal(), channel_id, clock().now())
    return jsonify({"queued": out}), 202


@bp.get("/notification-outbox")
@login_required
def outbox() -> Response:
    f = OutboxFilter(
        request.args.get("status") or None, int_arg("channel_id", 1) if request.args.get("channel_id") else None
    )
    return page(service.outbox_query(current_principal(), f), lambda r: notify.outbox_json(r[0]))


@bp.post("/notification-outbox/<int:outbox_id>/retry")
@login_required
def retry(outbox_id: int) -> Response:
    return jsonify(service.retry(db(), current_principal(), outbox_id, clock().now()))


# ---- OpenAPI ---------------------------------------------------------------------------------------------


def _doc() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors, page_schema, q = (
        openapi.op,
        openapi.resp,
        openapi.errors_for,
        openapi.page_schema,
        openapi.query_param,
    )
    ID = openapi.ID
    paging = openapi.PAGING
    ref = openapi.ref
    channel_body = {"required": True, "content": {"application/json": {"schema": ref("ChannelInput")}}}
    paths = {
        "/api/v1/notifications": {
            "get": op(
                "The caller's notifications, unread first, newest first",
                {"200": resp(page_schema("Notification")), **errors(401, 422, 503)},
                params=paging + [q("unread", {"type": "string", "enum": ["true", "false", "1", "0"]})],
                tag="notifications",
            )
        },
        "/api/v1/notifications/unread-count": {
            "get": op(
                "How many of the caller's notifications are unread",
                {
                    "200": resp(
                        {"type": "object", "required": ["unread"], "properties": {"unread": {"type": "integer"}}}
                    ),
                    **errors(401, 503),
                },
                tag="notifications",
            )
        },
        "/api/v1/notifications/{id}/read": {
            "post": op(
                "Mark one notification read",
                {"200": resp(ref("Notification")), **errors(401, 404, 503)},
                params=[ID],
                tag="notifications",
            )
        },
        "/api/v1/notifications/read-all": {
            "post": op(
                "Mark all (or one task's) notifications read",
                {
                    "200": resp(
                        {"type": "object", "properties": {"marked": {"type": "integer"}, "unread": {"type": "integer"}}}
                    ),
                    **errors(400, 401, 422, 503),
                },
                body={
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"task_id": {"type": "integer"}}}
                        }
                    },
                },
                tag="notifications",
            )
        },
        "/api/v1/notification-channels": {
            "get": op(
                "Channels the caller manages (admin: all)",
                {"200": resp(page_schema("Channel")), **errors(401, 422, 503)},
                params=paging + [q("node_id", {"type": "string"})],
                tag="notifications",
            ),
            "post": op(
                "Create a channel: WeCom / DingTalk group robot or e-mail, for a unit or the group",
                {"201": resp(ref("Channel")), **errors(400, 401, 403, 422, 503)},
                body=channel_body,
                tag="notifications",
            ),
        },
        "/api/v1/notification-channels/{id}": {
            "get": op(
                "One channel", {"200": resp(ref("Channel")), **errors(401, 404, 503)}, params=[ID], tag="notifications"
            ),
            "patch": op(
                "Change a channel (fields given are changed)",
                {"200": resp(ref("Channel")), **errors(400, 401, 403, 404, 422, 503)},
                params=[ID],
                body=channel_body,
                tag="notifications",
            ),
            "delete": op(
                "Delete a channel and its queued messages",
                {"200": resp({"type": "object"}), **errors(401, 404, 503)},
                params=[ID],
                tag="notifications",
            ),
        },
        "/api/v1/notification-channels/{id}/test": {
            "post": op(
                "Queue a test message on the channel (sent by the next dispatch)",
                {
                    "202": resp(
                        {"type": "object", "properties": {"queued": {"type": "array", "items": ref("OutboxMessage")}}}
                    ),
                    **errors(401, 404, 503),
                },
                params=[ID],
                tag="notifications",
            )
        },
        "/api/v1/notification-outbox": {
            "get": op(
                "Queued and sent messages of the channels the caller manages",
                {"200": resp(page_schema("OutboxMessage")), **errors(401, 422, 503)},
                params=paging
                + [
                    q("status", {"type": "string", "enum": ["pending", "sending", "sent", "failed"]}),
                    q("channel_id", {"type": "integer"}),
                ],
                tag="notifications",
            )
        },
        "/api/v1/notification-outbox/{id}/retry": {
            "post": op(
                "Send a failed or pending message again at the next dispatch",
                {"200": resp(ref("OutboxMessage")), **errors(401, 404, 409, 503)},
                params=[ID],
                tag="notifications",
            )
        },
    }
    kinds = {"type": "string", "enum": list(notify.KINDS)}
    nullable = {"type": ["string", "null"]}
    schemas = {
        "Notification": {
            "type": "object",
            "required": ["id", "kind", "title", "body", "created_at", "read"],
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string"},
                "title": {"type": "string"},
                "body": {"type": "string"},
                "link": nullable,
                "task_id": {"type": ["integer", "null"]},
                "instance_id": {"type": ["integer", "null"]},
                "node_id": nullable,
                "created_at": {"type": "string", "format": "date-time"},
                "read_at": {"type": ["string", "null"], "format": "date-time"},
                "read": {"type": "boolean"},
            },
        },
        "ChannelInput": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 100},
                "kind": {"type": "string", "enum": list(notify.CHANNEL_KINDS)},
                "node_id": {"type": "string", "description": "a unit (its branches inherit) or the group"},
                "cover_subtree": {"type": "boolean"},
                "events": {"type": "array", "items": kinds},
                "url": {"type": "string", "description": "webhook address of the group robot"},
                "secret": {"type": ["string", "null"], "description": "DingTalk signing secret (加签)"},
                "recipients": {"type": "array", "items": {"type": "string", "format": "email"}},
                "email_users": {"type": "boolean"},
                "msg_format": {"type": "string", "enum": list(notify.FORMATS)},
                "active": {"type": "boolean"},
            },
        },
        "Channel": {
            "type": "object",
            "required": ["id", "name", "kind", "node_id", "events"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "kind": {"type": "string"},
                "node_id": {"type": "string"},
                "cover_subtree": {"type": "boolean"},
                "events": {"type": "array", "items": kinds},
                "url_hint": nullable,
                "has_secret": {"type": "boolean"},
                "recipients": {"type": "array", "items": {"type": "string"}},
                "email_users": {"type": "boolean"},
                "msg_format": {"type": "string"},
                "active": {"type": "boolean"},
                "created_by": nullable,
                "created_at": {"type": "string"},
                "updated_at": {"type": "string"},
            },
        },
        "OutboxMessage": {
            "type": "object",
            "required": ["id", "channel_id", "status", "attempts"],
            "properties": {
                "id": {"type": "integer"},
                "source_key": {"type": "string"},
                "channel_id": {"type": "integer"},
                "recipient": {"type": "string"},
                "kind": {"type": "string"},
                "status": {"type": "string", "enum": ["pending", "sending", "sent", "failed"]},
                "attempts": {"type": "integer"},
                "next_attempt_at": {"type": "string"},
                "last_error": nullable,
                "created_at": {"type": "string"},
                "sent_at": nullable,
                "payload": {"type": "object"},
            },
        },
    }
    return paths, schemas


openapi.extend(_doc)
