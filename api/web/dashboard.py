"""Dashboard (看板) and register pages (管理台账, 通报表彰, 问题线索).

The dashboard page draws the five charts of `api/rest/dashboard.py` in the browser (ECharts from
vendor/charts.js, mounted by static/js/dashboard.js — no inline script, the web CSP holds): the
page only renders the filters and one card per chart with its JSON URL and its XLSX link, so the
figures and who may see them are the API's. The register pages list what `engine.linkage.records`
lets the caller see, with the API's filters, paging, and a link to the same filter as XLSX.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask_babel import lazy_gettext

from engine.core import calendar
from engine.errors import Invalid, field_error
from engine.linkage import dashboard, records
from engine.models import Record
from engine.org import audit
from engine.org.nodes import Principal
from engine.services import records as records_service
from engine.services.paging import PageRequest
from engine.services.records import RecordFilter

from ..extensions import clock, db, redactor, settings
from ..reads import note_read
from ..rest.dashboard import PATHS, TITLES
from ..rest.records import COLUMNS, cell
from ..rest.records import TITLES as REGISTER_TITLES
from .attachments import bound_list, for_records
from .base import nav_item, page_blueprint, signin_required
from .helpers import me, page_number, pager

bp = page_blueprint("dashboard")


PER_PAGE = 30


def visible_units(p: Principal) -> list[Any]:
    """Units for a filter select: the dashboard's (every unit for the group committee and admins,
    their own for a unit committee; none for commissioners and departments)."""
    return dashboard.scope(db(), p, None).units if dashboard.may_view(p) else []


# ---- the dashboard --------------------------------------------------------------------------------------


@bp.get("/dashboard")
@signin_required
def dashboard_page() -> Any:
    p = me()
    now = clock().now()
    today = now.astimezone(settings().zone).date()
    quarter = request.args.get("quarter") if "quarter" in request.args else str(calendar.quarter_of(today))
    period = dashboard.parse_period(request.args.get("year"), quarter, today)
    unit_id = request.args.get("unit_id") or None
    sc = dashboard.scope(db(), p, unit_id)  # 404 for another unit, or for someone without a dashboard
    choices = dashboard.scope(db(), p, None).units
    procedures = dashboard.procedures(db())  # 按流程筛选: the charts' process_key
    process_key = request.args.get("process_key") or None
    if process_key and process_key not in {k for k, _ in procedures}:
        procedures.append((process_key, process_key))  # a called or retired process named in the link
    args: dict[str, Any] = {
        "year": period.year,
        "quarter": period.quarter or "",
        "unit_id": unit_id or "",
        "process_key": process_key or "",
    }
    args = {k: v for k, v in args.items() if v != ""}
    charts = [
        {
            "name": name,
            "title": str(TITLES[name]),
            "id": PATHS[name],
            "url": url_for(f"api_dashboard.{name}", **args),
            "xlsx": url_for(f"api_dashboard.{name}", **args, format="xlsx"),
        }
        for name in dashboard.CHARTS
    ]
    years = sorted({*range(today.year - 4, today.year + 1), period.year}, reverse=True)
    return render_template(
        "dashboard.html",
        charts=charts,
        period=period,
        years=years,
        units=choices,
        unit_id=unit_id,
        scope=sc,
        procedures=procedures,
        process_key=process_key,
        process_name=dict(procedures).get(process_key or ""),
    )


# ---- registers -------------------------------------------------------------------------------------------

REGISTERS = {"ledger": "ledger", "commendations": "commendation", "clues": "clue"}
HELP = {
    "ledger": lazy_gettext(
        "Linkage work that was perfunctory, ineffective, unarranged or unimplemented, recorded by "
        "the year-end assessment or whenever the group committee finds it."
    ),
    "commendation": lazy_gettext("Outstanding discipline inspectors commended by the group committee."),
    "clue": lazy_gettext("Confidential: the owning unit committee and the group committee only."),
}


def cells(r: Record, kind: str) -> list[tuple[str, str, Any]]:
    """(data key, column label, value shown) for each column of the register."""
    return [(key, str(label), cell(r, key)) for key, label in COLUMNS[kind]]


def _year_filter() -> int | None:
    raw = (request.args.get("year") or "").strip()
    if not raw:
        return None
    try:
        year = int(raw)
    except ValueError:
        raise Invalid("year must be a year such as 2027", [field_error("year", "a year such as 2027")]) from None
    if not 1900 <= year <= 9999:
        raise Invalid("year must be between 1900 and 9999", [field_error("year", "between 1900 and 9999")])
    return year


def register(name: str) -> Any:
    kind = REGISTERS[name]
    p = me()
    f = {
        "unit_id": request.args.get("unit_id") or "",
        "year": request.args.get("year") or "",
        "status": request.args.get("status") or "",
    }
    year = _year_filter()
    rf = RecordFilter(kind, unit_id=f["unit_id"] or None, year=year, status=f["status"] or None)
    pg = records_service.list_records(db(), p, rf, PageRequest(page_number(), PER_PAGE), newest_first=True)
    rows: list[Record] = pg.items
    args: dict[str, Any] = {k: v for k, v in f.items() if v}
    shown_ids = [r.id for r in rows if r.confidential]
    if shown_ids:
        note_read(audit.READ, {"object": "record", "kind": kind, "ids": shown_ids, "redacted": redactor(p).active})
    endpoint = {"ledger": "ledger", "commendation": "commendations", "clue": "clues"}[kind]
    return render_template(
        "registers.html",
        name=name,
        kind=kind,
        title=str(REGISTER_TITLES[kind]),
        help=HELP[kind],
        columns=COLUMNS[kind],
        rows=[(r, cells(r, kind)) for r in rows],
        files=for_records([r.id for r in rows]),
        f=f,
        units=visible_units(p),
        statuses=records.CLUE_STATUSES if kind == "clue" else (),
        xlsx=url_for(f"api_records.{endpoint}", **args, format="xlsx"),
        pager=pager(pg, f"dashboard.register_{name}"),
        filtered=any(f.values()),
        tabs=[(n, str(REGISTER_TITLES[k]), url_for(f"dashboard.register_{n}")) for n, k in REGISTERS.items()],
    )


@bp.get("/registers/ledger")
@signin_required
def register_ledger() -> Any:
    return register("ledger")


@bp.get("/registers/commendations")
@signin_required
def register_commendations() -> Any:
    return register("commendations")


@bp.get("/registers/clues")
@signin_required
def register_clues() -> Any:
    return register("clues")


@bp.get("/registers/clues/<int:clue_id>")
@signin_required
def register_clue(clue_id: int) -> Any:
    r = records.get(db(), me(), clue_id, kind="clue")
    red = redactor(me())
    note_read(audit.READ, {"object": "record", "kind": "clue", "ids": [r.id], "redacted": red.active})
    return render_template(
        "clue.html",
        r=r,
        d=records.shown(r, red),
        cells=cells(r, "clue"),
        files=bound_list("record", r.id),
        tabs=[(n, str(REGISTER_TITLES[k]), url_for(f"dashboard.register_{n}")) for n, k in REGISTERS.items()],
    )


NAV = [
    nav_item(
        "dashboard.dashboard_page", lazy_gettext("Dashboard"), order=55, prefix="/dashboard", visible=dashboard.may_view
    ),
    nav_item(
        "dashboard.register_ledger",
        lazy_gettext("Registers"),
        order=57,
        prefix="/registers",
        visible=lambda p: p.is_admin or bool(p.node_ids()),
    ),
]
