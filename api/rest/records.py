"""Business records the procedures write: the management ledger (管理台账), the commendation
list (通报表彰) and the problem-clue register (问题线索).

Every list is paginated `{items, total, page, per_page}` and shows only what the caller may
see (`engine.linkage.records`): the group committee sees every unit, a unit committee its own unit
and branches, a commissioner their own branch, department staff their unit's
non-confidential records. Clues are confidential: a hidden id answers 404, like an unknown one.
`format=xlsx` gives every row of the current filter as a workbook (the columns of `COLUMNS`,
which the register pages of api/web/dashboard.py show too).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext, lazy_gettext
from sqlalchemy import func, select

from engine.errors import Invalid, field_error
from engine.infra import exports
from engine.linkage import records
from engine.models import Record
from engine.org import audit
from engine.services import records as records_service
from engine.services.records import RecordFilter

from ..args import choice_arg
from ..auth import current_principal, login_required
from ..extensions import db, redactor
from ..reads import note_read
from . import openapi
from .common import int_arg, page_json, page_request

bp = Blueprint("api_records", __name__, url_prefix="/api/v1")
FORMATS = ("json", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_EXPORT = 20_000

# The columns of each register (data keys) as the pages and the XLSX downloads show them.
COLUMNS: dict[str, list[tuple[str, Any]]] = {
    "ledger": [
        ("year", lazy_gettext("Year")),
        ("unit_name", lazy_gettext("Unit")),
        ("problem", lazy_gettext("Problem")),
        ("reason", lazy_gettext("Reason")),
        ("score", lazy_gettext("Score")),
        ("rating", lazy_gettext("Rating")),
        ("source_name", lazy_gettext("Source")),
        ("recorded_at", lazy_gettext("Recorded")),
    ],
    "commendation": [
        ("year", lazy_gettext("Year")),
        ("name", lazy_gettext("Name")),
        ("role_name", lazy_gettext("Role")),
        ("node_name", lazy_gettext("Organisation")),
        ("unit_name", lazy_gettext("Unit")),
        ("deeds", lazy_gettext("Deeds")),
        ("bulletin_no", lazy_gettext("Bulletin no.")),
        ("bulletin_date", lazy_gettext("Bulletin date")),
    ],
    "clue": [
        ("clue_no", lazy_gettext("Clue no.")),
        ("title", lazy_gettext("Title")),
        ("unit_name", lazy_gettext("Unit")),
        ("branch_name", lazy_gettext("Branch")),
        ("origin", lazy_gettext("Source")),
        ("person", lazy_gettext("Person concerned")),
        ("registered_at", lazy_gettext("Registered")),
        ("level", lazy_gettext("Level")),
        ("disposal", lazy_gettext("Disposal")),
        ("status", lazy_gettext("Status")),
        ("outcome", lazy_gettext("Outcome")),
        ("closed_at", lazy_gettext("Closed")),
    ],
}
TITLES = {
    "ledger": lazy_gettext("Management ledger"),
    "commendation": lazy_gettext("Commendations"),
    "clue": lazy_gettext("Problem clues"),
}
TIME_COLUMNS = ("recorded_at", "registered_at", "closed_at")


def _unit_filter() -> str | None:
    unit = request.args.get("unit_id")
    return unit or None


def _year() -> int | None:
    return int_arg("year", 2000, 1900, 9999) if request.args.get("year") else None


def cell(record: Record, key: str) -> Any:
    """A register cell: the data value, times in the configured zone, lists joined."""
    from ..web.base import localtime

    value = records.shown(record, redactor(current_principal())).get(key)
    if key in TIME_COLUMNS and value:
        return localtime(value)
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict):
        return None
    return value


def export(kind: str, q: Any, filters: dict[str, Any]) -> Response:
    """Every row of the filtered list as XLSX (422 when more than MAX_EXPORT: narrow the filter)."""
    total = db().scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    if total > MAX_EXPORT:
        raise Invalid(
            "{total} rows: narrow the filter to at most {limit} to download them",
            [field_error("format", "too many rows")],
            total=total,
            limit=MAX_EXPORT,
        )
    columns = COLUMNS[kind]
    rows = [[cell(r, key) for key, _label in columns] for r in db().scalars(q)]
    note_read(
        audit.EXPORT,
        {
            "what": kind,
            "format": "xlsx",
            "rows": total,
            "filters": {k: v for k, v in filters.items() if v not in (None, "")},
        },
    )
    shown = "，".join(f"{k}={v}" for k, v in filters.items() if v not in (None, "")) or gettext("no filter")
    content = exports.table_xlsx(
        str(TITLES[kind]),
        gettext("Filter: %(filter)s · %(n)s rows", filter=shown, n=total),
        [str(label) for _key, label in columns],
        rows,
        sheet=str(TITLES[kind]),
    )
    return Response(content, mimetype=XLSX, headers={"Content-Disposition": attachment(kind, filters.values())})


def attachment(*parts: Any) -> str:
    """A Content-Disposition for a download named after its filter: ASCII letters, digits and
    dashes only (a filter value such as a clue state in Chinese, or anything a caller typed,
    never reaches the header)."""
    words = [
        re.sub(r"[^A-Za-z0-9_]+", "", str(p))
        for part in parts
        for p in ([part] if isinstance(part, (str, int)) else (part or ()))
        if p not in (None, "")
    ]
    return f'attachment; filename="{"-".join(w for w in words if w)}.xlsx"'


def _list(kind: str, status: str | None = None) -> Response:
    fmt = choice_arg("format", FORMATS, "json")
    unit, year = _unit_filter(), _year()
    p = current_principal()
    f = RecordFilter(kind, unit_id=unit, year=year, status=status)
    if fmt == "xlsx":
        return export(kind, records_service.list_query(p, f), {"unit_id": unit, "year": year, "status": status})
    out = page_json(records_service.list_records(db(), p, f, page_request()), lambda r: records.as_dict(r, redactor(p)))
    note_confidential_rows(kind, out.get_json()["items"])
    return out


def note_confidential_rows(kind: str, items: list[dict[str, Any]]) -> None:
    """Audit a read of confidential records (engine/org/audit.py): which ones, redacted or not."""
    ids = [i["id"] for i in items if i.get("confidential")]
    if ids:
        note_read(
            audit.READ, {"object": "record", "kind": kind, "ids": ids, "redacted": redactor(current_principal()).active}
        )


@bp.get("/ledger")
@login_required
def ledger() -> Response:
    """管理台账: linkage work that was perfunctory, ineffective, unarranged or unimplemented."""
    return _list("ledger")


@bp.get("/commendations")
@login_required
def commendations() -> Response:
    """通报表彰名单, optionally of one year (`?year=2027`)."""
    return _list("commendation")


CLUE_STATUSES = records.CLUE_STATUSES


@bp.get("/clues")
@login_required
def clues() -> Response:
    """问题线索 of the caller's units, newest last; `?status=` filters by the clue's state."""
    return _list("clue", choice_arg("status", CLUE_STATUSES))


@bp.get("/clues/<int:clue_id>")
@login_required
def clue(clue_id: int) -> Response:
    r = records.get(db(), current_principal(), clue_id, kind="clue")
    out = records.as_dict(r, redactor(current_principal()))
    note_confidential_rows("clue", [out])
    return jsonify(out)


def _document() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors, page_schema, q = (
        openapi.op,
        openapi.resp,
        openapi.errors_for,
        openapi.page_schema,
        openapi.query_param,
    )
    paging = [
        q("page", {"type": "integer", "minimum": 1}),
        q("per_page", {"type": "integer", "minimum": 1, "maximum": 500}),
    ]
    unit = q("unit_id", {"type": "string"}, "only this unit's records")
    year = q("year", {"type": "integer", "minimum": 1900, "maximum": 9999})
    fmt = q(
        "format",
        {"type": "string", "enum": list(FORMATS)},
        "json (default, paginated) or xlsx (every row of the filter)",
    )
    ok = resp(page_schema("Record"))
    ok["content"][XLSX] = {"schema": {"type": "string", "format": "binary"}}
    listing = {"200": ok, **errors(401, 422, 503)}
    paths = {
        "/api/v1/ledger": {
            "get": op(
                "管理台账 entries the caller may see (the group: all units; a unit: its own)",
                listing,
                params=paging + [unit, year, fmt],
                tag="records",
            )
        },
        "/api/v1/commendations": {
            "get": op(
                "通报表彰 list the caller may see, optionally of one year",
                listing,
                params=paging + [unit, year, fmt],
                tag="records",
            )
        },
        "/api/v1/clues": {
            "get": op(
                "问题线索 the caller may see (confidential: the owning unit and the group only)",
                listing,
                params=paging + [unit, q("status", {"type": "string", "enum": list(CLUE_STATUSES)}), fmt],
                tag="records",
            )
        },
        "/api/v1/clues/{id}": {
            "get": op(
                "One clue with its disposal history (404 when it is not visible to the caller)",
                {"200": resp({"$ref": "#/components/schemas/Record"}), **errors(401, 404, 503)},
                params=[{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                tag="records",
            )
        },
    }
    schemas = {
        "Record": {
            "type": "object",
            "required": ["id", "kind", "key", "node_id", "data"],
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string"},
                "key": {"type": "string"},
                "node_id": {"type": "string"},
                "unit_id": {"type": ["string", "null"]},
                "instance_id": {"type": ["integer", "null"]},
                "confidential": {"type": "boolean"},
                "data": {"type": "object", "additionalProperties": True},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
        }
    }
    return paths, schemas


openapi.extend(_document)
