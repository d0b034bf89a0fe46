"""Reports over the records the linkage procedures write.

`GET /api/v1/reports/quarterly?year=&quarter=`: the per-unit completion state of the
quarter's top-down linkage tasks (自上而下, process `quarterly_tasks`), read from the
`quarterly_unit_status` records and filtered by what the caller may see (engine/linkage/records.py:
a unit committee sees its own unit, the group committee sees every unit).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.errors import Invalid, field_error
from engine.linkage import records
from engine.models import Record

from ..auth import current_principal, login_required
from ..extensions import db
from .openapi import errors_for, extend, op, query_param, resp

bp = Blueprint("api_reports", __name__, url_prefix="/api/v1/reports")

QUARTERLY_KIND = "quarterly_unit_status"
STATUSES = ("planning", "implementing", "completed")
BATCHES = ("regular", "special")


def _int_param(name: str, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        raise Invalid("query parameter {name} is required", [field_error(name, "required", "required")], name=name)
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(
            "query parameter {name} must be an integer", [field_error(name, "not an integer")], name=name
        ) from None
    if not lo <= value <= hi:
        raise Invalid(
            "query parameter {name} must be between {lo} and {hi}",
            [field_error(name, "out of range")],
            name=name,
            lo=lo,
            hi=hi,
        )
    return value


def _item(r: Record) -> dict[str, Any]:
    d = r.data or {}
    return {
        "key": r.key,
        "batch": d.get("batch", "regular"),
        "batch_key": d.get("batch_key"),
        "task_title": d.get("task_title"),
        "unit_id": d.get("unit_id") or r.unit_id,
        "unit_name": d.get("unit_name"),
        "status": d.get("status"),
        "branches_total": d.get("branches_total", 0),
        "branches_done": d.get("branches_done", 0),
        "branches": d.get("branches") or {},
        "issued_at": d.get("issued_at"),
        "plan_submitted_at": d.get("plan_submitted_at"),
        "completed_at": d.get("completed_at"),
        "closed_at": d.get("closed_at"),
        "instance_id": r.instance_id,
        "updated_at": r.updated_at.isoformat(),
    }


@bp.get("/quarterly")
@login_required
def quarterly() -> Response:
    year = _int_param("year", 2000, 2100)
    quarter = _int_param("quarter", 1, 4)
    batch = request.args.get("batch")
    if batch is not None and batch not in BATCHES:
        raise Invalid(
            "batch must be one of {allowed}",
            [field_error("batch", "must be one of {allowed}", "enum", allowed=", ".join(BATCHES))],
            allowed=", ".join(BATCHES),
        )
    unit_id = request.args.get("unit_id") or None
    q = records.query(current_principal(), QUARTERLY_KIND, unit_id=unit_id).where(
        Record.key.startswith(f"{year}Q{quarter}", autoescape=True)
    )
    items = []
    for r in db().scalars(q):
        d = r.data or {}
        if d.get("year") != year or d.get("quarter") != quarter:
            continue
        if batch is not None and d.get("batch", "regular") != batch:
            continue
        items.append(_item(r))
    items.sort(key=lambda i: (i["batch"] != "regular", i["batch_key"] or "", i["unit_id"] or ""))
    summary = {s: sum(1 for i in items if i["status"] == s) for s in STATUSES}
    summary["units"] = len({i["unit_id"] for i in items})
    return jsonify({"year": year, "quarter": quarter, "items": items, "summary": summary})


def _openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    params = [
        {**query_param("year", {"type": "integer", "minimum": 2000, "maximum": 2100}, "year"), "required": True},
        {**query_param("quarter", {"type": "integer", "minimum": 1, "maximum": 4}, "quarter 1-4"), "required": True},
        query_param("batch", {"type": "string", "enum": list(BATCHES)}, "regular quarter tasks or special matters"),
        query_param("unit_id", {"type": "string"}, "only this unit"),
    ]
    paths = {
        "/api/v1/reports/quarterly": {
            "get": op(
                "Per-unit completion of the quarter's top-down linkage tasks (a unit sees its own, the group all)",
                {"200": resp({"$ref": "#/components/schemas/QuarterlyReport"}), **errors_for(401, 422, 503)},
                params=params,
                tag="reports",
            )
        }
    }
    nullable = {"type": ["string", "null"]}
    item = {
        "type": "object",
        "required": ["key", "unit_id", "status", "branches_total", "branches_done"],
        "properties": {
            "key": {"type": "string"},
            "batch": {"type": "string", "enum": list(BATCHES)},
            "batch_key": nullable,
            "task_title": nullable,
            "unit_id": {"type": "string"},
            "unit_name": nullable,
            "status": {"type": "string", "enum": list(STATUSES)},
            "branches_total": {"type": "integer"},
            "branches_done": {"type": "integer"},
            "branches": {"type": "object", "additionalProperties": {"type": "object"}},
            "issued_at": nullable,
            "plan_submitted_at": nullable,
            "completed_at": nullable,
            "closed_at": nullable,
            "instance_id": {"type": ["integer", "null"]},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    }
    schemas = {
        "QuarterlyUnitStatus": item,
        "QuarterlyReport": {
            "type": "object",
            "required": ["year", "quarter", "items", "summary"],
            "properties": {
                "year": {"type": "integer"},
                "quarter": {"type": "integer"},
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/QuarterlyUnitStatus"}},
                "summary": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
        },
    }
    return paths, schemas


extend(_openapi)
