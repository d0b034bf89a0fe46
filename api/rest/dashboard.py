"""Dashboard API (看板): `GET /api/v1/dashboard/{chart}?year=&quarter=&unit_id=&format=json|xlsx`.

One route per chart of `engine.linkage.dashboard` (quarterly completion, overdue tasks, findings, clue
dispositions, monthly report punctuality). JSON gives the categories, the stacked series (with
their labels in the caller's language) and the table rows; `format=xlsx` the same table as a
workbook. Who sees what is the engine's rule: the group committee and admins every unit, a
unit committee its own unit (another unit's id answers 404), anybody else 404. A bad filter
answers 422 naming the field, like every list endpoint.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext, lazy_gettext

from engine.infra import exports
from engine.linkage import dashboard
from engine.org import audit

from ..args import choice_arg
from ..auth import current_principal, login_required
from ..extensions import clock, db, settings
from ..reads import note_read
from . import openapi
from .records import attachment

bp = Blueprint("api_dashboard", __name__, url_prefix="/api/v1/dashboard")
FORMATS = ("json", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

TITLES = {
    "quarterly_completion": lazy_gettext("Quarterly linkage tasks per unit"),
    "overdue_tasks": lazy_gettext("Overdue tasks per unit and tier"),
    "findings": lazy_gettext("Findings per month by kind"),
    "clue_dispositions": lazy_gettext("Problem clues per unit by disposal"),
    "punctuality": lazy_gettext("Monthly report punctuality"),
}
TIER_LABELS = {
    "group": lazy_gettext("Group committee"),
    "unit": lazy_gettext("Unit committee"),
    "branch": lazy_gettext("Branch commissioner"),
    "department": lazy_gettext("Functional department"),
}
LABELS: dict[str, Any] = {
    # quarterly completion
    "completed": lazy_gettext("Completed"),
    "implementing": lazy_gettext("Being carried out"),
    "planning": lazy_gettext("Plan being drafted"),
    "branches_done": lazy_gettext("Branches done"),
    "branches_total": lazy_gettext("Branches with tasks"),
    "completion_rate": lazy_gettext("Branch completion rate"),
    # overdue tasks
    **TIER_LABELS,
    "tier": lazy_gettext("Tier"),
    "open_overdue": lazy_gettext("Open past the deadline"),
    "completed_late": lazy_gettext("Completed late"),
    # findings
    "immediate_fix": lazy_gettext("Fix at once"),
    "tendency": lazy_gettext("Early signs and tendencies"),
    "discipline_violation": lazy_gettext("Violation of party discipline"),
    "none": lazy_gettext("No action needed"),
    "pending": lazy_gettext("Not classified yet"),
    # clues (the register's states are Chinese words already)
    "待研判": lazy_gettext("Awaiting assessment"),
    "报集团公司纪委": lazy_gettext("Reported to the group committee for approval"),
    "谈话函询": lazy_gettext("Talk or letter inquiry"),
    "初步核实": lazy_gettext("Preliminary verification"),
    "暂存待查": lazy_gettext("Shelved for later review"),
    "拟予了结": lazy_gettext("To be closed"),
    "拟立案审查": lazy_gettext("To be placed on file"),
    "已了结": lazy_gettext("Closed"),
    "已立案审查": lazy_gettext("Placed on file for review"),
    "已澄清正名": lazy_gettext("Cleared"),
    "已给予党纪处分": lazy_gettext("Party-discipline sanction given"),
    "已组织处理": lazy_gettext("Organisational handling"),
    "major": lazy_gettext("Major clues"),
    "reported_to_group": lazy_gettext("Reported to the group committee"),
    # punctuality
    "on_time": lazy_gettext("On time"),
    "late": lazy_gettext("Late"),
    "missing": lazy_gettext("Past due, not submitted"),
    "on_time_rate": lazy_gettext("On-time rate"),
    # common
    "unit_id": lazy_gettext("Unit code"),
    "unit_name": lazy_gettext("Unit"),
    "month": lazy_gettext("Month"),
    "total": lazy_gettext("Total"),
}
PERCENT_COLUMNS = ("completion_rate", "on_time_rate")


def label(key: str) -> str:
    return str(LABELS.get(key, key))


def period_text(period: dashboard.Period) -> str:
    if period.quarter:
        return gettext("%(year)s, quarter %(quarter)s", year=period.year, quarter=period.quarter)
    return gettext("%(year)s, whole year", year=period.year)


def chart_data(name: str) -> tuple[dashboard.Chart, dict[str, Any]]:
    """Parse the filters, build the chart for the caller; (chart, JSON body with labels)."""
    choice_arg("format", FORMATS, "json")
    now = clock().now()
    period = dashboard.parse_period(
        request.args.get("year"), request.args.get("quarter"), now.astimezone(settings().zone).date()
    )
    chart = dashboard.build(
        db(),
        current_principal(),
        name,
        request.args.get("unit_id") or None,
        period,
        now,
        settings().zone,
        request.args.get("process_key") or None,
    )
    body = chart.as_dict()
    body["title"] = str(TITLES[name])
    body["period_name"] = period_text(period)
    body["series"] = [{**s, "name": label(s["key"])} for s in body["series"]]
    body["column_labels"] = [label(c) for c in chart.columns]
    return chart, body


def xlsx_response(chart: dashboard.Chart, body: dict[str, Any]) -> Response:
    columns = [c for c in chart.columns if c != "unit_id"]
    rows = [[label(r[c]) if c == "tier" else r[c] for c in columns] for r in chart.rows]
    unit = gettext("unit %(id)s", id=chart.unit_id) if chart.unit_id else gettext("all units you may see")
    content = exports.table_xlsx(
        body["title"],
        f"{body['period_name']} · {unit}",
        [label(c) for c in columns],
        rows,
        percent=[i for i, c in enumerate(columns) if c in PERCENT_COLUMNS],
        sheet=body["title"],
    )
    return Response(
        content,
        mimetype=XLSX,
        headers={
            "Content-Disposition": attachment(
                "dashboard", chart.chart, chart.period.label.replace("-", ""), chart.unit_id
            )
        },
    )


def respond(name: str) -> Response:
    chart, body = chart_data(name)
    if request.args.get("format") == "xlsx":
        note_read(
            audit.EXPORT,
            {
                "what": f"dashboard:{chart.chart}",
                "format": "xlsx",
                "period": chart.period.label,
                "unit_id": chart.unit_id,
            },
        )
        return xlsx_response(chart, body)
    return jsonify(body)


@bp.get("/quarterly-completion")
@login_required
def quarterly_completion() -> Response:
    return respond("quarterly_completion")


@bp.get("/overdue-tasks")
@login_required
def overdue_tasks() -> Response:
    return respond("overdue_tasks")


@bp.get("/findings")
@login_required
def findings() -> Response:
    return respond("findings")


@bp.get("/clue-dispositions")
@login_required
def clue_dispositions() -> Response:
    return respond("clue_dispositions")


@bp.get("/punctuality")
@login_required
def punctuality() -> Response:
    return respond("punctuality")


PATHS = {
    "quarterly_completion": "quarterly-completion",
    "overdue_tasks": "overdue-tasks",
    "findings": "findings",
    "clue_dispositions": "clue-dispositions",
    "punctuality": "punctuality",
}
SUMMARIES = {
    "quarterly_completion": "Per unit: the period's 自上而下 linkage task batches by status, branches done",
    "overdue_tasks": "Per unit (and the group committee's own) and tier: tasks due in the period, open past the "
    "deadline or completed late",
    "findings": "Per month: findings of monthly and ad-hoc reports and of form fields marked x-record: findings, "
    "by the unit committee's classification",
    "clue_dispositions": "Per unit: problem clues registered in the period by disposal state or outcome",
    "punctuality": "Per month: monthly written reports on time, late, or past due without a report",
}


def _doc() -> tuple[dict[str, Any], dict[str, Any]]:
    q = openapi.query_param
    params = [
        q("year", {"type": "integer", "minimum": 2000, "maximum": 2100}, "default: this year"),
        q("quarter", {"type": "integer", "minimum": 1, "maximum": 4}, "default: the whole year"),
        q("unit_id", {"type": "string"}, "only this unit (a unit committee: its own)"),
        q(
            "process_key",
            {"type": "string"},
            "only what this procedure's instances and their fan-out children did (404: not deployed)",
        ),
        q("format", {"type": "string", "enum": list(FORMATS)}, "json (default) or xlsx"),
    ]
    ok = {
        "description": "The chart's data",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/DashboardChart"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }
    paths = {
        f"/api/v1/dashboard/{path}": {
            "get": openapi.op(
                SUMMARIES[name] + " (group committee and admins: every unit; a unit committee: its own; others 404)",
                {"200": ok, **openapi.errors_for(401, 404, 422, 503)},
                params=params,
                tag="dashboard",
            )
        }
        for name, path in PATHS.items()
    }
    schemas = {
        "DashboardChart": {
            "type": "object",
            "required": ["chart", "year", "categories", "series", "columns", "rows"],
            "properties": {
                "chart": {"type": "string", "enum": list(dashboard.CHARTS)},
                "title": {"type": "string"},
                "year": {"type": "integer"},
                "quarter": {"type": ["integer", "null"]},
                "period": {"type": "string"},
                "period_name": {"type": "string"},
                "unit_id": {"type": ["string", "null"]},
                "category_keys": {"type": "array", "items": {"type": "string"}},
                "categories": {"type": "array", "items": {"type": "string"}},
                "series": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["key", "name", "data"],
                        "properties": {
                            "key": {"type": "string"},
                            "name": {"type": "string"},
                            "data": {"type": "array", "items": {"type": "integer"}},
                        },
                    },
                },
                "columns": {"type": "array", "items": {"type": "string"}},
                "column_labels": {"type": "array", "items": {"type": "string"}},
                "rows": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
            },
        }
    }
    return paths, schemas


openapi.extend(_doc)
