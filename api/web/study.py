"""Study records (四个一), person profiles and the leading group (领导小组) as pages.

- /study: write one's 每日明一情、每日一新知、每日一感悟 for a day (up to 7 days back, as the API
  allows), see one's recent entries, this month's figures and one's monthly articles (the
  `monthly_article` task itself comes through the task list);
- /study/stats: completion rates, for unit committees their unit's people, for the group all units;
- /people/<username>: roles, leading-group position, secondments and training, study figures
  (oneself, or people of a unit one's committee oversees — 404 otherwise, as in the API);
- /leading-group: members derived from the group committee's roles, and the meetings' decisions
  (read by members of the organisation, recorded by the leading group's members and admins).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import func, select

from engine.errors import Forbidden, Invalid
from engine.models import HumanTask
from engine.org import policy
from engine.org.nodes import Principal
from engine.org.routing import offered_clause
from engine.platform import people, study
from engine.services import people as people_service
from engine.services import study as study_service
from engine.services.paging import PageRequest
from engine.services.people import DecisionFilter
from engine.services.study import EntryFilter, RatesFilter, SaveEntries

from ..extensions import clock, db, settings
from .base import nav_item, page_blueprint, signin_required
from .helpers import PER_PAGE, TIER_LABELS, field_errors, in_organisation, me, page_number, pager

bp = page_blueprint("study")


KIND_LABELS = {
    "situation": lazy_gettext("Daily situation (每日明一情)"),
    "knowledge": lazy_gettext("Daily new knowledge (每日一新知)"),
    "insight": lazy_gettext("Daily insight (每日一感悟)"),
}
SECONDMENT_STATUS = {
    "attended": lazy_gettext("attended"),
    "absent": lazy_gettext("absent"),
    "selected": lazy_gettext("selected"),
    "declined": lazy_gettext("declined"),
    "confirmed": lazy_gettext("confirmed"),
}


def today() -> date:
    return clock().now().astimezone(settings().zone).date()


def sees_rates(p: Principal) -> bool:
    return study_service.sees_rates(p)


# ---- 四个一: my daily entries --------------------------------------------------------------------------


def render_study(
    day: date, values: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Any:
    p = me()
    first = today() - timedelta(days=study.BACKFILL_DAYS)
    recent = study_service.recent_entries(db(), p, EntryFilter(start=today() - timedelta(days=30)))
    if values is None:
        values = {e.kind: e.text for e in recent if e.day == day}
    by_day: dict[date, dict[str, str]] = {}
    for e in recent:
        by_day.setdefault(e.day, {})[e.kind] = e.text
    profile = people.profile(db(), p, p.username, clock().now(), settings().zone)
    figures = profile["study"]
    open_articles = (
        db().scalar(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.status == "open", HumanTask.process_key == "monthly_article", offered_clause(p))
        )
        or 0
    )
    days = [today() - timedelta(days=i) for i in range(study.BACKFILL_DAYS + 1)]
    return render_template(
        "platform/study.html",
        day=day,
        days=days,
        first=first,
        values=values,
        errors=errors or {},
        kinds=KIND_LABELS,
        by_day=sorted(by_day.items(), reverse=True),
        figures=figures,
        month=figures["months"][-1] if figures and figures["months"] else None,
        articles=profile["articles"],
        open_articles=open_articles,
        sees_rates=sees_rates(p),
        max_text=study.MAX_TEXT,
    ), status


@bp.get("/study")
@signin_required
def study_page() -> Any:
    try:
        day = study.parse_day(request.args["day"]) if request.args.get("day") else today()
    except Invalid:
        day = today()
    return render_study(day)


@bp.post("/study")
@signin_required
def study_save() -> Any:
    """Save the day's entries that were written; all or nothing."""
    p = me()
    raw_day = request.form.get("day") or today().isoformat()
    values = {k: request.form.get(k, "") for k in study.KINDS}
    written = {k: v for k, v in values.items() if v.strip()}
    try:
        day = study.parse_day(raw_day)
    except Invalid as exc:
        return render_study(today(), values, field_errors(exc), 422)
    if not written:
        return render_study(day, values, {"situation": gettext("Write at least one entry.")}, 422)
    done = study_service.save(db(), p, SaveEntries(written, day.isoformat()), clock().now(), settings().zone)
    if done.error is not None:
        kind = done.refused_kind or "text"
        errors = {(kind if f == "text" else f): m for f, m in field_errors(done.error).items()}
        return render_study(day if "day" not in errors else today(), values, errors, 422)
    saved = len(done.entries)
    flash(gettext("%(n)s entry(ies) saved for %(day)s.", n=saved, day=day.isoformat()), "success")
    return redirect(url_for("study.study_page", day=day.isoformat() if day != today() else None))


# ---- completion rates -------------------------------------------------------------------------------------


def int_arg(name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    return value if low <= value <= high else default


@bp.get("/study/stats")
@signin_required
def study_stats() -> Any:
    p = me()
    t = today()
    year = int_arg("year", t.year, 2000, 2100)
    month = int_arg("month", t.month if "year" not in request.args else 0, 0, 12) or None
    unit = request.args.get("unit") or None
    stats = study_service.rates(db(), p, RatesFilter(year, month, unit), clock().now(), settings().zone)
    rows = stats["units"] + ([stats["group"]] if stats.get("group") else [])
    detail = (
        next((u for u in stats["units"] if u["unit_id"] == unit), None)
        if unit
        else (stats["units"][0] if len(stats["units"]) == 1 else None)
    )
    return render_template(
        "platform/study_stats.html",
        stats=stats,
        rows=rows,
        detail=detail,
        year=year,
        month=month,
        unit=unit,
        years=range(t.year, t.year - 4, -1),
        tier_labels=TIER_LABELS,
    )


# ---- a person's profile -------------------------------------------------------------------------------------


@bp.get("/people/<username>")
@signin_required
def person(username: str) -> Any:
    year = int_arg("year", today().year, 2000, 2100)
    profile = people.profile(db(), me(), username[:64], clock().now(), settings().zone, year)
    return render_template(
        "platform/person.html",
        person=profile,
        year=year,
        tier_labels=TIER_LABELS,
        secondment_status=SECONDMENT_STATUS,
        kinds=KIND_LABELS,
    )


# ---- the leading group -------------------------------------------------------------------------------------


def render_leading_group(
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Any:
    p = me()
    group = people.leading_group(db())
    members = group["leader"] + group["deputy_leaders"] + group["members"]
    readable = policy.in_organisation(p)
    pg = (
        people_service.list_decisions(db(), p, DecisionFilter(), PageRequest(page_number(), PER_PAGE))
        if readable
        else None
    )
    decisions = pg.items if pg else []
    pager_links = pager(pg, "study.leading_group_page") if pg else None
    may_record = people_service.may_record(db(), p)
    return render_template(
        "platform/leading_group.html",
        group=group,
        members=members,
        decisions=decisions,
        pager=pager_links,
        readable=readable,
        may_record=may_record,
        errors=errors or {},
        values=values or {"meeting_date": today().isoformat(), "attendees": [m["username"] for m in members]},
        today=today(),
    ), status


@bp.get("/leading-group")
@signin_required
def leading_group_page() -> Any:
    return render_leading_group()


@bp.post("/leading-group/decisions")
@signin_required
def leading_group_record() -> Any:
    p = me()
    others = [u for u in request.form.get("others", "").replace("，", ",").replace(",", " ").split() if u]
    data = {
        "meeting_date": request.form.get("meeting_date", ""),
        "title": request.form.get("title", ""),
        "decisions": request.form.get("decisions", ""),
        "attendees": list(dict.fromkeys(request.form.getlist("attendees") + others)),
    }
    values = {**data, "others": request.form.get("others", "")}
    try:
        people_service.record(db(), p, data, clock().now(), settings().zone)
    except Invalid as exc:
        return render_leading_group(values, field_errors(exc), 422)
    except Forbidden as exc:
        return render_leading_group(values, {"_": exc.message}, 403)
    flash(gettext("The meeting's decisions are recorded."), "success")
    return redirect(url_for("study.leading_group_page"))


NAV = [
    nav_item(
        "study.study_page",
        lazy_gettext("Study"),
        order=62,
        prefix="/study",
        visible=lambda p: any(r.node_id for r in p.roles),
    ),
    nav_item(
        "study.leading_group_page",
        lazy_gettext("Leading group"),
        order=64,
        prefix="/leading-group",
        visible=in_organisation,
    ),
]
