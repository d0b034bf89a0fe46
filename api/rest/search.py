"""Search API (issue 18): `GET /api/v1/search?q=&kind=` — what the caller may see of tasks,
instances, clues, reports, bulletin posts and people that contain the words (engine/services/search.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.org import audit
from engine.services import search as service
from engine.services.search import Hit, SearchFilter

from ..auth import current_principal, login_required
from ..extensions import db, redactor
from ..reads import note_read
from . import openapi
from .common import iso, page_request

bp = Blueprint("api_search", __name__, url_prefix="/api/v1")


def note_confidential(hits: list[Hit], redacted: bool) -> None:
    """Titles of confidential records shown in results are audited reads, as on the registers."""
    ids = [h.id for h in hits if h.confidential]
    if ids:
        note_read(audit.READ, {"object": "record", "kind": "search", "ids": ids, "redacted": redacted})


def hit_json(h: Hit) -> dict[str, Any]:
    return {
        "kind": h.kind,
        "id": h.id,
        "title": h.title,
        "detail": h.detail,
        "at": iso(h.at),
        "status": h.status,
        "ref": h.ref,
    }


@bp.get("/search")
@login_required
def search() -> Response:
    p = current_principal()
    f = SearchFilter(request.args.get("q", ""), request.args.get("kind") or None)
    pg = service.search(db(), p, f, page_request())
    note_confidential(pg.items, redactor(p).active)
    body = {"items": [hit_json(h) for h in pg.items], "total": pg.total, "page": pg.page, "per_page": pg.per_page}
    # more hits than `total` says (the service counts at most COUNT_CAP past the page)
    body["more"] = bool(pg.extra.get("more"))
    return jsonify(body)


def _page() -> dict[str, Any]:
    page = openapi.page_schema("SearchHit")
    more = {
        "type": "boolean",
        "description": f"there are more hits than total: at most {service.COUNT_CAP} past the page are counted",
    }
    return {**page, "properties": {**page["properties"], "more": more}}


def _doc() -> tuple[dict[str, Any], dict[str, Any]]:
    q = openapi.query_param
    paths = {
        "/api/v1/search": {
            "get": openapi.op(
                "What the caller may see of tasks, instances, clues, reports, bulletin posts and people that "
                "contain every word of q (Chinese matched as typed, from one character); by kind, newest first",
                {"200": openapi.resp(_page()), **openapi.errors_for(401, 422, 503)},
                params=openapi.PAGING
                + [
                    {**q("q", {"type": "string", "maxLength": service.MAX_QUERY}), "required": True},
                    q("kind", {"type": "string", "enum": list(service.KINDS)}),
                ],
                tag="search",
            )
        }
    }
    schemas = {
        "SearchHit": {
            "type": "object",
            "required": ["kind", "id", "title"],
            "properties": {
                "kind": {"type": "string", "enum": list(service.KINDS)},
                "id": {"type": "integer", "description": "the task, instance, record, post or user id"},
                "title": {"type": "string"},
                "detail": {"type": "string"},
                "at": {"type": ["string", "null"]},
                "status": {"type": ["string", "null"]},
                "ref": {
                    "type": ["string", "null"],
                    "description": "a person's username; the instance of a task or of a report",
                },
            },
        }
    }
    return paths, schemas


openapi.extend(_doc)
