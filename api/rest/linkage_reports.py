"""Linkage reports API: the quarterly / annual 三级联动 report of a unit or of the group as
JSON, XLSX, a printable official-document page (HTML) or PDF; and issuing its number."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from engine.errors import Invalid, field_error
from engine.infra import events
from engine.linkage import reports
from engine.org import audit

from ..args import choice_arg
from ..auth import current_principal, login_required
from ..extensions import clock, db, settings
from ..reads import note_read
from . import openapi
from .common import body

bp = Blueprint("api_linkage_reports", __name__, url_prefix="/api/v1/reports")
FORMATS = ("json", "xlsx", "html", "pdf")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


@bp.get("/linkage")
@login_required
def linkage() -> Any:
    fmt = choice_arg("format", FORMATS, "json")
    period = reports.parse_period(request.args.get("period"))
    report = reports.build(
        db(), current_principal(), period, request.args.get("unit_id") or None, clock().now(), settings()
    )
    name = f"linkage-{report['node_id']}-{period.label}"
    if fmt == "json":
        return jsonify(report)
    note_read(
        audit.EXPORT, {"what": "linkage_report", "format": fmt, "period": period.label, "node_id": report["node_id"]}
    )
    if fmt == "html":
        return Response(render_template("reports/linkage.html", r=report, pct=_pct), mimetype="text/html")
    if fmt == "xlsx":
        return Response(
            reports.to_xlsx(report),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return Response(
        reports.to_pdf(report, settings()),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@bp.post("/linkage/issue")
@login_required
def issue() -> tuple[Response, int]:
    data = body()
    unknown = sorted(set(data) - {"period", "unit_id", "doc_code"})
    if unknown:
        raise Invalid("{field}: unknown field", [field_error(unknown[0], "unknown field")], field=unknown[0])
    p = current_principal()
    period = reports.parse_period(data.get("period"))
    row, created = reports.issue(db(), p, period, data.get("unit_id") or None, clock().now(), data.get("doc_code"))
    if created:
        events.log(
            db(),
            clock().now(),
            "report_issued",
            actor=p,
            payload={"node_id": row.node_id, "period": row.period, "doc_no": row.doc_no},
        )
    out = {
        "node_id": row.node_id,
        "period": row.period,
        "doc_no": row.doc_no,
        "number": row.number,
        "issued_at": row.issued_at.isoformat(),
        "issued_by": row.issued_by,
    }
    db().commit()
    return jsonify(out), 201 if created else 200


def _doc() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors, q = openapi.op, openapi.resp, openapi.errors_for, openapi.query_param
    ref = {"$ref": "#/components/schemas/LinkageReport"}
    issued = {
        "type": "object",
        "required": ["doc_no"],
        "properties": {
            "node_id": {"type": "string"},
            "period": {"type": "string"},
            "doc_no": {"type": "string"},
            "number": {"type": "integer"},
            "issued_at": {"type": "string"},
            "issued_by": {"type": ["string", "null"]},
        },
    }
    paths = {
        "/api/v1/reports/linkage": {
            "get": op(
                "The quarterly (period=2027-Q1) or annual (period=2027) linkage report of a unit (unit_id) or of the group",
                {
                    "200": {
                        "description": "The report",
                        "content": {
                            "application/json": {"schema": ref},
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                            "text/html": {"schema": {"type": "string"}},
                            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    **errors(401, 404, 422, 503),
                },
                params=[
                    q("period", {"type": "string", "pattern": "^[0-9]{4}(-Q[1-4])?$"}),
                    q("unit_id", {"type": "string"}),
                    q("format", {"type": "string", "enum": list(FORMATS)}),
                ],
                tag="reports",
            )
        },
        "/api/v1/reports/linkage/issue": {
            "post": op(
                "Issue the report: fix its document number (secretary / deputy secretary of the committee, admin)",
                {
                    "201": resp(issued, "Issued now"),
                    "200": resp(issued, "Issued before"),
                    **errors(400, 401, 403, 404, 409, 422, 503),
                },
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["period"],
                                "properties": {
                                    "period": {"type": "string"},
                                    "unit_id": {"type": "string"},
                                    "doc_code": {
                                        "type": "string",
                                        "description": "the committee's short code, e.g. 淄矿纪",
                                    },
                                },
                            }
                        }
                    },
                },
                tag="reports",
            )
        },
    }
    schemas = {
        "LinkageReport": {
            "type": "object",
            "required": ["title", "period", "issuer", "rows", "totals"],
            "properties": {
                "title": {"type": "string"},
                "kind": {"type": "string", "enum": ["quarterly", "annual"]},
                "period": {"type": "string"},
                "period_name": {"type": "string"},
                "from": {"type": "string"},
                "to": {"type": "string"},
                "as_of": {"type": "string"},
                "issuer": {"type": "string"},
                "node_id": {"type": "string"},
                "tier": {"type": "string"},
                "addressee": {"type": "string"},
                "doc_no": {"type": ["string", "null"]},
                "issued": {"type": "boolean"},
                "issued_at": {"type": ["string", "null"]},
                "date": {"type": "string"},
                "record_kinds": {"type": "object"},
                "rows": {"type": "array", "items": {"type": "object"}},
                "totals": {"type": "object"},
                "paragraphs": {"type": "array", "items": {"type": "string"}},
            },
        }
    }
    return paths, schemas


openapi.extend(_doc)
