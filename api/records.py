"""Business records the procedures write: the management ledger (管理台账), the commendation
list (通报表彰) and the problem-clue register (问题线索).

Every list is paginated `{items, total, page, per_page}` and shows only what the caller may
see (`engine.records`): the group committee sees every unit, a unit committee its own unit
and branches, a commissioner their own branch, department staff their unit's
non-confidential records. Clues are confidential: a hidden id answers 404, like an unknown one.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine import records
from engine.errors import Invalid
from engine.models import Record

from . import openapi
from .auth import current_principal, login_required
from .extensions import db
from .v1 import int_arg, page

bp = Blueprint("api_records", __name__, url_prefix="/api/v1")


def _render(row: Any) -> dict[str, Any]:
    return records.as_dict(row[0])


def _unit_filter() -> str | None:
    unit = request.args.get("unit_id")
    return unit or None


def _year_filter(q: Any) -> Any:
    if request.args.get("year"):
        q = q.where(Record.data["year"].as_integer() == int_arg("year", 2000, 1900, 9999))
    return q


@bp.get("/ledger")
@login_required
def ledger() -> Response:
    """管理台账: linkage work that was perfunctory, ineffective, unarranged or unimplemented."""
    q = records.query(current_principal(), "ledger", unit_id=_unit_filter())
    return page(_year_filter(q), _render)


@bp.get("/commendations")
@login_required
def commendations() -> Response:
    """通报表彰名单, optionally of one year (`?year=2027`)."""
    q = records.query(current_principal(), "commendation", unit_id=_unit_filter())
    return page(_year_filter(q), _render)


CLUE_STATUSES = ("待研判", "谈话函询", "初步核实", "暂存待查", "拟予了结", "拟立案审查", "已了结", "已立案审查")


@bp.get("/clues")
@login_required
def clues() -> Response:
    """问题线索 of the caller's units, newest last; `?status=` filters by the clue's state."""
    q = records.query(current_principal(), "clue", unit_id=_unit_filter())
    status = request.args.get("status")
    if status:
        if status not in CLUE_STATUSES:
            raise Invalid(f"status must be one of {', '.join(CLUE_STATUSES)}", [{"field": "status", "message": status}])
        q = q.where(Record.data["status"].as_string() == status)
    return page(q, _render)


@bp.get("/clues/<int:clue_id>")
@login_required
def clue(clue_id: int) -> Response:
    return jsonify(records.as_dict(records.get(db(), current_principal(), clue_id, kind="clue")))


def _document() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors, page_schema, q = (openapi.op, openapi.resp, openapi.errors_for, openapi.page_schema,
                                        openapi.query_param)
    paging = [q("page", {"type": "integer", "minimum": 1}), q("per_page", {"type": "integer", "minimum": 1, "maximum": 500})]
    unit = q("unit_id", {"type": "string"}, "only this unit's records")
    year = q("year", {"type": "integer", "minimum": 1900, "maximum": 9999})
    listing = {"200": resp(page_schema("Record")), **errors(401, 422, 503)}
    paths = {
        "/api/v1/ledger": {"get": op(
            "管理台账 entries the caller may see (the group: all units; a unit: its own)", listing,
            params=paging + [unit, year], tag="records")},
        "/api/v1/commendations": {"get": op(
            "通报表彰 list the caller may see, optionally of one year", listing,
            params=paging + [unit, year], tag="records")},
        "/api/v1/clues": {"get": op(
            "问题线索 the caller may see (confidential: the owning unit and the group only)", listing,
            params=paging + [unit, q("status", {"type": "string", "enum": list(CLUE_STATUSES)})], tag="records")},
        "/api/v1/clues/{id}": {"get": op(
            "One clue with its disposal history (404 when it is not visible to the caller)",
            {"200": resp({"$ref": "#/components/schemas/Record"}), **errors(401, 404, 503)},
            params=[{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}], tag="records")},
    }
    schemas = {"Record": {"type": "object", "required": ["id", "kind", "key", "node_id", "data"], "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "key": {"type": "string"},
        "node_id": {"type": "string"}, "unit_id": {"type": ["string", "null"]},
        "instance_id": {"type": ["integer", "null"]}, "confidential": {"type": "boolean"},
        "data": {"type": "object", "additionalProperties": True},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"}}}}
    return paths, schemas


openapi.extend(_document)
