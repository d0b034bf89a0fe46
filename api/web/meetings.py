"""Unit meetings and training (例会、学习培训、业务交流) and 分区联创 zones as pages.

- /meetings: the meetings one reads (the group all, a unit committee its unit's, anyone those
  they attended), filtered by unit, kind and year; a unit committee records its own here, picking
  the attendees by name among the unit's people and attaching the materials;
- /meetings/<id>: one meeting with its materials;
- /zones: the zones (the group committee sets them up); /zones/<id>: a zone, its activities (the
  committee of a member unit records them) and, for the group, its change and closing.

Everything goes through engine/services/meetings.py, as the JSON API does.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from werkzeug.datastructures import MultiDict

from engine.errors import Forbidden, Invalid, SanjiError
from engine.org import nodes as org
from engine.platform.meetings.rules import KINDS
from engine.services import meetings as service
from engine.services.meetings import ActivityFilter, MeetingFilter
from engine.services.paging import PageRequest

from ..extensions import clock, db, settings
from . import attachments as attachment_pages
from .base import nav_item, page_blueprint, signin_required
from .helpers import PER_PAGE, field_errors, me, page_number, pager, say

bp = page_blueprint("meetings")

KIND_LABELS = {
    "regular": lazy_gettext("Regular meeting (例会)"),
    "training": lazy_gettext("Study and training (学习培训)"),
    "exchange": lazy_gettext("Work exchange (业务交流)"),
}


def today() -> Any:
    return clock().now().astimezone(settings().zone).date()


def errors_of(exc: SanjiError) -> dict[str, str]:
    """Field errors keyed by the form's control (`attendees/1` → `attendees`)."""
    out: dict[str, str] = {}
    for key, message in field_errors(exc).items():
        out.setdefault(key.split("/")[0], message)
    return out


def int_arg(name: str, low: int, high: int) -> int | None:
    try:
        value = int(request.args.get(name, ""))
    except ValueError:
        return None
    return value if low <= value <= high else None


# ---- meetings ---------------------------------------------------------------------------------------------


def render_meetings(
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Any:
    p = me()
    kind = request.args.get("kind") if request.args.get("kind") in KINDS else None
    f = MeetingFilter(request.args.get("unit") or None, kind, int_arg("year", 2000, 2100))
    pg = service.list_meetings(db(), p, f, PageRequest(page_number(), PER_PAGE))
    mine = service.recording_units(p)
    units = {n.id: n.name for n in org.units(db())}
    values = values or {"held_on": today().isoformat(), "kind": "regular", "attendees": []}
    unit = values.get("unit_id") or request.args.get("for") or (mine[0] if mine else None)
    if unit not in mine:
        unit = mine[0] if mine else None
    people = service.people_of(db(), unit) if unit else []
    return render_template(
        "platform/meetings.html",
        meetings=pg.items,
        pager=pager(pg, "meetings.meetings_page"),
        total=pg.total,
        kinds=KIND_LABELS,
        units=units,
        unit_filter=f.unit_id,
        kind_filter=kind,
        year=f.year,
        years=range(today().year, today().year - 4, -1),
        recording=[(u, units.get(u, u)) for u in mine],
        form_unit=unit,
        people=people,
        values=values,
        errors=errors or {},
        today=today(),
    ), status


@bp.get("/meetings")
@signin_required
def meetings_page() -> Any:
    return render_meetings()


@bp.post("/meetings")
@signin_required
def meetings_record() -> Any:
    p = me()
    form: MultiDict[str, Any] = attachment_pages.with_uploads(request.form, request.files)
    data = {
        "unit_id": form.get("unit_id") or None,
        "kind": form.get("kind", ""),
        "held_on": form.get("held_on", ""),
        "topic": form.get("topic", ""),
        "attendees": form.getlist("attendees"),
        "materials": form.getlist("materials"),
        "notes": form.get("notes", ""),
    }
    try:
        out = service.create_meeting(db(), p, data, clock().now(), settings().zone)
    except Invalid as exc:
        return render_meetings({**data, "materials": []}, errors_of(exc), 422)
    except Forbidden as exc:
        return render_meetings({**data, "materials": []}, {"_": say(exc)}, 403)
    flash(gettext("The meeting is recorded."), "success")
    return redirect(url_for("meetings.meeting_page", meeting_id=out["id"]))


@bp.get("/meetings/<int:meeting_id>")
@signin_required
def meeting_page(meeting_id: int) -> Any:
    m = service.get_meeting(db(), me(), meeting_id)
    files = attachment_pages.bound_list("meeting", meeting_id)
    return render_template("platform/meeting.html", m=m, files=files, kinds=KIND_LABELS)


# ---- zones -----------------------------------------------------------------------------------------------


def zone_data(form: Any) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "lead_unit_id": form.get("lead_unit_id", ""),
        "unit_ids": form.getlist("unit_ids"),
        "note": form.get("note", ""),
    }


def render_zones(values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    p = me()
    closed = request.args.get("closed") == "1"
    pg = service.list_zones(db(), p, PageRequest(page_number(), PER_PAGE), closed)
    return render_template(
        "platform/zones.html",
        zones=pg.items,
        pager=pager(pg, "meetings.zones_page"),
        closed=closed,
        manage=service.may_manage_zones(p),
        units=[(n.id, n.name) for n in org.units(db())],
        values=values or {"unit_ids": []},
        errors=errors or {},
    ), status


@bp.get("/zones")
@signin_required
def zones_page() -> Any:
    return render_zones()


@bp.post("/zones")
@signin_required
def zones_create() -> Any:
    data = zone_data(request.form)
    try:
        out = service.create_zone(db(), me(), data, clock().now())
    except Invalid as exc:
        return render_zones(data, errors_of(exc), 422)
    except Forbidden as exc:
        return render_zones(data, {"_": say(exc)}, 403)
    flash(gettext("The zone is set up."), "success")
    return redirect(url_for("meetings.zone_page", zone_id=out["id"]))


def render_zone(
    zone_id: int,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    zone_values: dict[str, Any] | None = None,
    form: str = "activity",
) -> Any:
    p = me()
    z = service.get_zone(db(), p, zone_id)
    pg = service.list_activities(db(), p, ActivityFilter(zone_id), PageRequest(page_number(), PER_PAGE))
    activities = [service.get_activity(db(), p, a["id"]) for a in pg.items]
    files = {a["id"]: attachment_pages.bound_list("zone_activity", a["id"]) for a in activities}
    member_ids = [u["unit_id"] for u in z["units"]]
    return render_template(
        "platform/zone.html",
        z=z,
        activities=activities,
        files=files,
        pager=pager(pg, "meetings.zone_page", zone_id=zone_id),
        manage=service.may_manage_zones(p),
        units=[(n.id, n.name) for n in org.units(db())],
        values=values or {"held_on": today().isoformat(), "unit_ids": member_ids},
        zone_values=zone_values
        or {"name": z["name"], "lead_unit_id": z["lead_unit_id"], "unit_ids": member_ids, "note": z["note"]},
        errors=errors or {},
        form=form,
        today=today(),
    ), status


@bp.get("/zones/<int:zone_id>")
@signin_required
def zone_page(zone_id: int) -> Any:
    return render_zone(zone_id)


@bp.post("/zones/<int:zone_id>")
@signin_required
def zone_change(zone_id: int) -> Any:
    data = zone_data(request.form)
    try:
        service.change_zone(db(), me(), zone_id, data, clock().now())
    except Invalid as exc:
        zone_errors = {("zone_" + k): v for k, v in errors_of(exc).items()}
        return render_zone(zone_id, errors=zone_errors, status=422, zone_values=data, form="zone")
    except Forbidden as exc:
        return render_zone(zone_id, errors={"_": say(exc)}, status=403, zone_values=data, form="zone")
    flash(gettext("The zone is changed."), "success")
    return redirect(url_for("meetings.zone_page", zone_id=zone_id))


@bp.post("/zones/<int:zone_id>/close")
@signin_required
def zone_close(zone_id: int) -> Any:
    service.close_zone(db(), me(), zone_id, clock().now())
    flash(gettext("The zone is closed."), "success")
    return redirect(url_for("meetings.zones_page"))


@bp.post("/zones/<int:zone_id>/activities")
@signin_required
def zone_activity(zone_id: int) -> Any:
    form: MultiDict[str, Any] = attachment_pages.with_uploads(request.form, request.files)
    data = {
        "held_on": form.get("held_on", ""),
        "topic": form.get("topic", ""),
        "unit_ids": form.getlist("unit_ids"),
        "summary": form.get("summary", ""),
        "materials": form.getlist("materials"),
        "batch_key": form.get("batch_key") or None,
    }
    try:
        service.record_activity(db(), me(), zone_id, data, clock().now(), settings().zone)
    except Invalid as exc:
        return render_zone(zone_id, {**data, "materials": []}, errors_of(exc), 422)
    except (Forbidden, SanjiError) as exc:
        return render_zone(zone_id, {**data, "materials": []}, {"_": say(exc)}, exc.status)
    flash(gettext("The activity is recorded."), "success")
    return redirect(url_for("meetings.zone_page", zone_id=zone_id))


# 分区联创 (/zones) is reached from the meetings page's head, so as not to widen the header further
NAV = [
    nav_item(
        "meetings.meetings_page",
        lazy_gettext("Meetings and training"),
        order=63,
        prefix="/meetings",
        visible=lambda p: any(r.node_id for r in p.roles),
    )
]
