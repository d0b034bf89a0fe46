"""Bulletin API (通知公告 / 经验交流) with read receipts per unit."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.platform import bulletin
from engine.services import bulletin as service
from engine.services.bulletin import BulletinFilter, PostCommand

from ..auth import current_principal, login_required
from ..extensions import clock, db
from . import openapi
from .common import body, page_json, page_request

bp = Blueprint("api_bulletin", __name__, url_prefix="/api/v1/bulletin")


def _filter() -> BulletinFilter:
    return BulletinFilter(
        request.args.get("q"), request.args.get("kind") or None, request.args.get("unread") in ("1", "true")
    )


@bp.get("")
@login_required
def posts() -> Response:
    return page_json(service.list_posts(db(), current_principal(), _filter(), page_request()), lambda d: d)


@bp.post("")
@login_required
def create() -> tuple[Response, int]:
    return jsonify(service.create(db(), current_principal(), PostCommand(body()), clock().now())), 201


@bp.get("/<int:post_id>")
@login_required
def post(post_id: int) -> Response:
    p = current_principal()
    return jsonify(bulletin.post_json(db(), p, bulletin.get(db(), p, post_id), full=True))


@bp.patch("/<int:post_id>")
@login_required
def change(post_id: int) -> Response:
    return jsonify(service.change(db(), current_principal(), post_id, body(), clock().now()))


@bp.delete("/<int:post_id>")
@login_required
def delete(post_id: int) -> Response:
    service.delete(db(), current_principal(), post_id, clock().now())
    return jsonify({"deleted": post_id})


@bp.post("/<int:post_id>/read")
@login_required
def read(post_id: int) -> Response:
    first = service.read(db(), current_principal(), post_id, clock().now())
    return jsonify({"post_id": post_id, "read": True, "first_time": first})


@bp.get("/<int:post_id>/receipts")
@login_required
def receipts(post_id: int) -> Response:
    p = current_principal()
    return jsonify(bulletin.receipts(db(), p, bulletin.get(db(), p, post_id)))


def _doc() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors, page_schema, q = (
        openapi.op,
        openapi.resp,
        openapi.errors_for,
        openapi.page_schema,
        openapi.query_param,
    )
    ref = openapi.ref
    ID = openapi.ID
    kinds = {"type": "string", "enum": list(bulletin.KINDS)}
    write = {
        "type": "object",
        "properties": {
            "kind": kinds,
            "title": {"type": "string", "maxLength": bulletin.MAX_TITLE},
            "body": {"type": "string", "maxLength": bulletin.MAX_BODY},
            "node_id": {"type": "string", "description": "the org node the author posts for (default: their only one)"},
            "audience_node_id": {"type": "string", "description": "the group (everyone, default) or one unit"},
            "pinned": {"type": "boolean"},
        },
    }
    paths = {
        "/api/v1/bulletin": {
            "get": op(
                "Posts the caller may read, pinned first, newest first; search in title and body",
                {"200": resp(page_schema("BulletinPost")), **errors(401, 422, 503)},
                params=openapi.PAGING
                + [
                    q("q", {"type": "string"}),
                    q("kind", kinds),
                    q("unread", {"type": "string", "enum": ["true", "false", "1", "0"]}),
                ],
                tag="bulletin",
            ),
            "post": op(
                "Post study material, experience, work information or (committees) a notice",
                {"201": resp(ref("BulletinPost")), **errors(400, 401, 403, 422, 503)},
                body={
                    "required": True,
                    "content": {"application/json": {"schema": {**write, "required": ["title", "body"]}}},
                },
                tag="bulletin",
            ),
        },
        "/api/v1/bulletin/{id}": {
            "get": op(
                "One post with its text",
                {"200": resp(ref("BulletinPost")), **errors(401, 404, 503)},
                params=[ID],
                tag="bulletin",
            ),
            "patch": op(
                "Change a post (author) or pin it (group committee)",
                {"200": resp(ref("BulletinPost")), **errors(400, 401, 403, 404, 422, 503)},
                params=[ID],
                body={"required": True, "content": {"application/json": {"schema": write}}},
                tag="bulletin",
            ),
            "delete": op(
                "Delete a post (author or admin)",
                {"200": resp({"type": "object"}), **errors(401, 403, 404, 503)},
                params=[ID],
                tag="bulletin",
            ),
        },
        "/api/v1/bulletin/{id}/read": {
            "post": op(
                "Record that the caller has read the post (a read receipt)",
                {
                    "200": resp(
                        {
                            "type": "object",
                            "properties": {
                                "post_id": {"type": "integer"},
                                "read": {"type": "boolean"},
                                "first_time": {"type": "boolean"},
                            },
                        }
                    ),
                    **errors(401, 404, 503),
                },
                params=[ID],
                tag="bulletin",
            )
        },
        "/api/v1/bulletin/{id}/receipts": {
            "get": op(
                "Read receipts per unit (names for the author, the group, and a unit committee for its own unit)",
                {"200": resp(ref("BulletinReceipts")), **errors(401, 404, 503)},
                params=[ID],
                tag="bulletin",
            )
        },
    }
    schemas = {
        "BulletinPost": {
            "type": "object",
            "required": ["id", "kind", "title", "created_at", "read"],
            "properties": {
                "id": {"type": "integer"},
                "kind": kinds,
                "kind_name": {"type": "string"},
                "title": {"type": "string"},
                "excerpt": {"type": "string"},
                "body": {"type": "string"},
                "node_id": {"type": "string"},
                "node_name": {"type": ["string", "null"]},
                "audience_node_id": {"type": "string"},
                "author": {"type": ["string", "null"]},
                "author_name": {"type": ["string", "null"]},
                "pinned": {"type": "boolean"},
                "created_at": {"type": "string"},
                "updated_at": {"type": "string"},
                "read": {"type": "boolean"},
                "read_count": {"type": "integer"},
            },
        },
        "BulletinReceipts": {
            "type": "object",
            "required": ["post_id", "total_read", "units"],
            "properties": {
                "post_id": {"type": "integer"},
                "total_read": {"type": "integer"},
                "units_read": {"type": "integer"},
                "units": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["unit_id", "name", "people", "read"],
                        "properties": {
                            "unit_id": {"type": ["string", "null"]},
                            "name": {"type": "string"},
                            "people": {"type": "integer"},
                            "read": {"type": "integer"},
                            "has_read": {"type": "boolean"},
                            "readers": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                },
            },
        },
    }
    return paths, schemas


openapi.extend(_doc)
