"""Schedules (定时计划): timer start schedules and timers waiting inside instances; pause and resume."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from engine.core import schedules
from engine.errors import Forbidden, NotFound, SanjiError
from engine.models import ProcessDefinition, ProcessInstance, Schedule
from engine.org import policy
from engine.services.paging import PageRequest, fetch

from ..extensions import clock, db, redactor
from .base import page_blueprint, signin_required
from .helpers import STATUS_LABELS, fail, me, page_number, pager, require_admin
from .timer_words import kind_words, timer_words, zone_words

bp = page_blueprint("schedules")

JOBS_PER_PAGE = 20


FIRE_RESULTS = {
    "started": lazy_gettext("started"),
    "incident": lazy_gettext("stopped by an error"),
    "failed": lazy_gettext("failed"),
    "missed": lazy_gettext("missed"),
}
# ---- schedules and jobs -----------------------------------------------------------------------------------


@bp.get("/schedules")
@signin_required
def schedules_page() -> Any:
    p = me()
    if not policy.may_see_schedules(p):
        raise Forbidden("this needs the role admin or process_owner")
    now = clock().now()
    rows = (
        db()
        .execute(
            select(Schedule, ProcessDefinition.name)
            .join(ProcessDefinition, ProcessDefinition.id == Schedule.definition_id)
            .order_by(Schedule.next_fire_at.is_(None), Schedule.next_fire_at, Schedule.process_key)
        )
        .all()
    )
    items = []
    for row, name in rows:
        words = None
        try:
            upcoming = schedules.next_fire_times(row, now, 4)
            words = timer_words(row.expression)  # in words for Chinese readers, the expression on hover
        except Exception:
            upcoming = []
        items.append({"row": row, "name": name, "upcoming": upcoming, "words": words})
    q = (
        select(ProcessInstance)
        .where(ProcessInstance.next_timer_at.is_not(None), ProcessInstance.status.in_(("running", "suspended")))
        .order_by(ProcessInstance.next_timer_at, ProcessInstance.id)
    )
    pg = fetch(db(), q, PageRequest(page_number(), JOBS_PER_PAGE))
    jobs = []
    for (inst,) in pg.items:
        try:
            timers = schedules.instance_timers(inst)
        except Exception:
            timers = []
        jobs.append(
            {
                "inst": inst,
                "title": redactor(p).text(inst.title, inst.data),
                "timers": timers,
                "overdue": inst.next_timer_at <= now,
            }
        )
    return render_template(
        "schedules.html",
        items=items,
        jobs=jobs,
        is_admin=p.is_admin,
        pager=pager(pg, "schedules.schedules_page"),
        status_labels=STATUS_LABELS,
        fire_results=FIRE_RESULTS,
        timer_words=timer_words,
        kind_words=kind_words,
        zone_words=zone_words,
    )


@bp.route("/schedules/<int:schedule_id>/<any(pause, resume):action>", methods=["GET", "POST"])
@signin_required
def schedule_action(schedule_id: int, action: str) -> Any:
    p = require_admin()
    row = (
        db()
        .execute(
            select(Schedule, ProcessDefinition.name)
            .join(ProcessDefinition, ProcessDefinition.id == Schedule.definition_id)
            .where(Schedule.id == schedule_id)
        )
        .first()
    )
    if row is None:
        raise NotFound("schedule {schedule_id} does not exist", schedule_id=schedule_id)
    reason = (request.form.get("reason") or "").strip()[:500]
    if request.method == "GET" or request.form.get("confirmed") != "yes":
        return render_template("schedule_action.html", row=row[0], name=row[1], action=action, reason=reason)
    now = clock().now()
    try:
        if action == "pause":
            schedules.pause(db(), schedule_id, p, now, reason)
            message = gettext("The schedule was paused: nothing fires until it is resumed.")
        else:
            schedules.resume(db(), schedule_id, p, now, reason)
            message = gettext("The schedule was resumed.")
        db().commit()
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("schedules.schedules_page"))
    flash(message, "success")
    return redirect(url_for("schedules.schedules_page"))
