"""Study records API (四个一): daily entries, monthly articles, completion rates."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.errors import Invalid, field_error
from engine.linkage import records
from engine.models import Record
from engine.platform import study
from engine.services import study as study_service
from engine.services.study import EntryFilter, RatesFilter

from ..auth import current_principal, login_required
from ..extensions import clock, db, settings
from . import openapi
from .common import body, int_arg, page, page_json, page_request

bp = Blueprint("api_study", __name__, url_prefix="/api/v1/study")


def _date_arg(name: str) -> Any:
    raw = request.args.get(name)
    return study.parse_day(raw, name) if raw else None


@bp.post("/entries")
@login_required
def write_entry() -> tuple[Response, int]:
    out, created = study_service.save_entry(db(), current_principal(), body(), clock().now(), settings().zone)
    return jsonify(out), 201 if created else 200


@bp.get("/entries")
@login_required
def entries() -> Response:
    f = EntryFilter(
        request.args.get("username") or None, _date_arg("from"), _date_arg("to"), request.args.get("kind") or None
    )
    return page_json(study_service.list_entries(db(), current_principal(), f, page_request()), lambda d: d)


@bp.get("/stats")
@login_required
def stats() -> Response:
    today = clock().now().astimezone(settings().zone).date()
    year = int_arg("year", today.year, 2000, 2100)
    month = int_arg("month", 0, 0, 12) or None
    f = RatesFilter(year, month, request.args.get("unit_id") or None)
    return jsonify(study_service.rates(db(), current_principal(), f, clock().now(), settings().zone))


def article_json(r: Record, full: bool) -> dict[str, Any]:
    data = dict(r.data or {})
    if not full:
        data.pop("body", None)
    return {
        "id": r.id,
        "key": r.key,
        "node_id": r.node_id,
        "unit_id": r.unit_id,
        **data,
        "updated_at": r.updated_at.isoformat(),
    }


@bp.get("/articles")
@login_required
def articles() -> Response:
    """每月一文章 as the `monthly_article` process records them (asked / submitted)."""
    p = current_principal()
    q = records.query(p, study.ARTICLE_KIND, unit_id=request.args.get("unit_id") or None)
    period = request.args.get("period")
    if period:
        if len(period) != 7 or period[4] != "-":
            raise Invalid("period must look like 2027-01", [field_error("period", "a month such as 2027-01")])
        q = q.where(Record.key.startswith(period + ":"))
    username = request.args.get("username")
    if username:
        q = q.where(Record.key.endswith(":" + username))
    full = request.args.get("full") in ("1", "true")
    return page(q.order_by(None).order_by(Record.key.desc()), lambda r: article_json(r[0], full))


@bp.get("/articles/<int:record_id>")
@login_required
def article(record_id: int) -> Response:
    return jsonify(article_json(records.get(db(), current_principal(), record_id, study.ARTICLE_KIND), True))


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
    kinds = {"type": "string", "enum": list(study.KINDS)}
    paths = {
        "/api/v1/study/entries": {
            "post": op(
                "Write the caller's entry of one kind for a day (每日明一情 / 一新知 / 一感悟); rewriting replaces it",
                {
                    "201": resp(ref("StudyEntry"), "Created"),
                    "200": resp(ref("StudyEntry"), "Replaced"),
                    **errors(400, 401, 422, 503),
                },
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["kind", "text"],
                                "properties": {
                                    "kind": kinds,
                                    "day": {"type": "string", "format": "date"},
                                    "text": {"type": "string", "maxLength": study.MAX_TEXT},
                                },
                            }
                        }
                    },
                },
                tag="study",
            ),
            "get": op(
                "Daily entries of the caller, or of a person the caller oversees",
                {"200": resp(page_schema("StudyEntry")), **errors(401, 404, 422, 503)},
                params=openapi.PAGING
                + [
                    q("username", {"type": "string"}),
                    q("kind", kinds),
                    q("from", {"type": "string", "format": "date"}),
                    q("to", {"type": "string", "format": "date"}),
                ],
                tag="study",
            ),
        },
        "/api/v1/study/stats": {
            "get": op(
                "Completion rates of the four ones per unit and person: a unit committee sees its unit, the group all units",
                {"200": resp(ref("StudyStats")), **errors(401, 403, 404, 422, 503)},
                params=[
                    q("year", {"type": "integer"}),
                    q("month", {"type": "integer", "minimum": 1, "maximum": 12}),
                    q("unit_id", {"type": "string"}),
                ],
                tag="study",
            )
        },
        "/api/v1/study/articles": {
            "get": op(
                "Monthly articles (每月一文章) the caller may see, newest period first",
                {"200": resp(page_schema("StudyArticle")), **errors(401, 422, 503)},
                params=openapi.PAGING
                + [
                    q("period", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}),
                    q("username", {"type": "string"}),
                    q("unit_id", {"type": "string"}),
                    q("full", {"type": "string", "enum": ["true", "false", "1", "0"]}),
                ],
                tag="study",
            )
        },
        "/api/v1/study/articles/{id}": {
            "get": op(
                "One monthly article with its text",
                {"200": resp(ref("StudyArticle")), **errors(401, 404, 503)},
                params=[openapi.ID],
                tag="study",
            )
        },
    }
    rate = {"type": ["number", "null"]}
    agg_props = {
        "node_id": {"type": "string"},
        "unit_id": {"type": ["string", "null"]},
        "name": {"type": "string"},
        "people_count": {"type": "integer"},
        "daily_entries": {"type": "integer"},
        "daily_expected": {"type": "integer"},
        "daily_rate": rate,
        "articles_asked": {"type": "integer"},
        "articles_submitted": {"type": "integer"},
        "articles_on_time": {"type": "integer"},
        "article_rate": rate,
        "people": {"type": "array", "items": {"type": "object"}},
    }
    schemas = {
        "StudyEntry": {
            "type": "object",
            "required": ["id", "username", "kind", "day", "text"],
            "properties": {
                "id": {"type": "integer"},
                "username": {"type": "string"},
                "kind": kinds,
                "kind_name": {"type": "string"},
                "day": {"type": "string", "format": "date"},
                "text": {"type": "string"},
                "created_at": {"type": "string"},
                "updated_at": {"type": "string"},
            },
        },
        "StudyRates": {"type": "object", "properties": agg_props},
        "StudyStats": {
            "type": "object",
            "required": ["period", "units", "total"],
            "properties": {
                "period": {"type": "string"},
                "year": {"type": "integer"},
                "month": {"type": ["integer", "null"]},
                "from": {"type": "string"},
                "to": {"type": "string"},
                "as_of": {"type": "string"},
                "units": {"type": "array", "items": ref("StudyRates")},
                "group": {"oneOf": [ref("StudyRates"), {"type": "null"}]},
                "total": ref("StudyRates"),
            },
        },
        "StudyArticle": {
            "type": "object",
            "required": ["id", "key"],
            "properties": {
                "id": {"type": "integer"},
                "key": {"type": "string"},
                "period": {"type": "string"},
                "username": {"type": "string"},
                "display_name": {"type": "string"},
                "status": {"type": "string", "enum": ["asked", "submitted"]},
                "title": {"type": "string"},
                "body": {"type": "string"},
                "due": {"type": "string"},
                "on_time": {"type": "boolean"},
                "submitted_at": {"type": "string"},
            },
        },
    }
    return paths, schemas


openapi.extend(_doc)
