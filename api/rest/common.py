"""Request helpers shared by the JSON API's blueprints: body and query parsing, the pager, commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import Select

from engine.errors import BadRequest, Invalid, field_error
from engine.services.paging import Page, PageRequest, fetch

from ..extensions import db, settings

MAX_PER_PAGE = 500


# ---- helpers -------------------------------------------------------------------------------


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        if request.data.strip():
            raise BadRequest("the request body must be JSON")
        return {}
    if not isinstance(data, dict):
        raise Invalid("the request body must be a JSON object", [field_error("", "expected an object")])
    return data


def int_arg(name: str, default: int, lo: int = 1, hi: int | None = 2**31 - 1) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(
            "query parameter {name} must be an integer", [field_error(name, "not an integer")], name=name
        ) from None
    if value < lo or (hi is not None and value > hi):
        raise Invalid(
            "query parameter {name} must be between {lo} and {hi}",
            [field_error(name, "out of range")],
            name=name,
            lo=lo,
            hi=hi,
        )
    return value


def date_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            "query parameter {name} must be an ISO 8601 date or date-time",
            [field_error(name, "not ISO 8601")],
            name=name,
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=settings().zone)
    return dt


def page_request() -> PageRequest:
    """The `page` and `per_page` query parameters (422 naming the parameter when out of range)."""
    return PageRequest(int_arg("page", 1), int_arg("per_page", 50, 1, MAX_PER_PAGE))


def page_json(pg: Page[Any], render: Any) -> Response:
    return jsonify(
        {"items": [render(r) for r in pg.items], "total": pg.total, "page": pg.page, "per_page": pg.per_page}
    )


def page(query: Select[Any], render: Any) -> Response:
    """One page of `query` (engine/services/paging.py, the pages' pager too) with the total."""
    return page_json(fetch(db(), query, page_request()), render)


def commit() -> None:
    db().commit()


def str_field(data: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Invalid(
            "{name} is required and must be a non-empty string", [field_error(name, "required string")], name=name
        )
    return value.strip()
