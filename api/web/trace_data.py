"""What the tracing pages (api/web/trace.py) show, gathered for their templates: the instance list's
filter form, and for one instance its timeline, its children (a page of them), its open tasks and the
admin actions its status allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from flask import flash, request
from flask_babel import gettext, lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from engine.errors import Invalid, field_error
from engine.models import EventLog, HumanTask, OrgNode, ProcessInstance, User
from engine.org import policy
from engine.org.routing import candidates
from engine.services import instances as instances_service
from engine.services.instances import ENDED, STATUSES, InstanceFilter
from engine.services.paging import PageRequest

from ..extensions import clock, db, redactor, settings
from .helpers import EVENT_LABELS, TIER_LABELS, display_names, due_text, me, page_number, pager

CHILDREN_PER_PAGE = 50
TIMELINE_LIMIT = 500
HIDDEN_EVENTS = ("access_refused",)

TRACE_EVENT_LABELS = {
    **EVENT_LABELS,
    "schedule_fired": lazy_gettext("Started by its schedule"),
    "schedule_missed": lazy_gettext("Schedule missed"),
    "schedule_failed": lazy_gettext("Schedule failed"),
    "task_created": lazy_gettext("Task assigned"),
}


def local_day(raw: str, end: bool = False) -> datetime | None:
    """A yyyy-mm-dd from a date input as the start (or the end) of that day in the configured zone."""
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        raise Invalid(
            "{raw!r} is not a date (yyyy-mm-dd)", [field_error("date", "not a date (yyyy-mm-dd)")], raw=raw
        ) from None
    start = datetime.combine(day, time(0, 0), settings().zone)
    return start + timedelta(days=1) if end else start


# ---- the instance list -----------------------------------------------------------------------------------


def instance_filter(f: dict[str, str]) -> InstanceFilter:
    """The page's filter form as the one instance filter (unknown choices are ignored, bad dates flashed)."""
    try:
        after, before = local_day(f["started_from"]), local_day(f["started_to"], end=True)
    except Invalid:
        flash(gettext("Enter dates as yyyy-mm-dd."), "error")
        after = before = None
    return InstanceFilter(
        status=f["status"] if f["status"] in STATUSES else None,
        process_key=f["process"] or None,
        unit_id=f["unit"] or None,
        level=f["level"] if f["level"] in ("top", "sub") else None,
        started_after=after,
        started_before=before,
        incident=bool(f["incident"]),
        overdue=bool(f["overdue"]),
    )


# ---- one instance ---------------------------------------------------------------------------------------


def visible_instance(instance_id: int) -> ProcessInstance:
    return instances_service.visible_instance(db(), me(), instance_id)


@dataclass
class TimelineItem:
    event: EventLog
    label: str
    who: str
    task_name: str
    late: bool | None  # None: no deadline involved
    due_at: datetime | None = None
    to: str = ""  # the user a task went to (reassigned, handed over)
    payload: dict[str, Any] | None = None  # as the reader may see it (engine/org/confidential.py)


def timeline(inst: ProcessInstance) -> tuple[list[TimelineItem], int]:
    total = (
        db().scalar(
            select(func.count())
            .select_from(EventLog)
            .where(EventLog.instance_id == inst.id, EventLog.type.not_in(HIDDEN_EVENTS))
        )
        or 0
    )
    evs = list(
        reversed(
            db()
            .scalars(
                select(EventLog)
                .where(EventLog.instance_id == inst.id, EventLog.type.not_in(HIDDEN_EVENTS))
                .order_by(EventLog.id.desc())
                .limit(TIMELINE_LIMIT)
            )
            .all()
        )
    )
    dues = dict(db().execute(select(HumanTask.id, HumanTask.due_at).where(HumanTask.instance_id == inst.id)).all())
    names = display_names(
        {e.actor for e in evs if e.actor}
        | {e.payload["to"] for e in evs if isinstance((e.payload or {}).get("to"), str)}
    )
    red = redactor(me())
    out = []
    for e in evs:
        payload = red.payload(e.type, e.payload or {}, inst.data)
        late: bool | None = None
        due = dues.get(e.task_id) if e.task_id else None
        if (e.type == "task_completed" and due is not None) or e.type in ("timer_fired", "schedule_fired"):
            late = bool(payload.get("late"))
        if e.actor in (None, "system", "scheduler", "deploy"):
            who = gettext("System")
        else:
            who = names.get(e.actor, e.actor)
        to = payload.get("to") if isinstance(payload.get("to"), str) else ""
        out.append(
            TimelineItem(
                e,
                str(TRACE_EVENT_LABELS.get(e.type, e.type)),
                who,
                str(payload.get("name") or ""),
                late,
                due,
                names.get(to, to),
                payload,
            )
        )
    return out, total


def child_page(inst: ProcessInstance) -> dict[str, Any]:
    counts = instances_service.child_counts(db(), inst.id)
    total_all = sum(counts.values())
    if not total_all:
        return {"total": 0, "counts": {}, "rows": [], "pager": None, "status": ""}
    status = request.args.get("child_status", "")
    # rows only of the children the reader may trace (the API's rule); the counts are of all (as in the API)
    p = me()
    pg = instances_service.children(
        db(),
        p,
        inst.id,
        status if status in STATUSES else None,
        PageRequest(page_number("child_page"), CHILDREN_PER_PAGE),
        redactor(p),
    )
    return {
        "total": total_all,
        "counts": counts,
        "rows": pg.items,
        "status": status,
        "titles": {r.id: r.title for r in pg.items},
        "hidden": total_all - instances_service.traceable_children(db(), p, inst.id),
        "tasks": instances_service.open_task_summary(db(), [r.id for r in pg.items], clock().now()),
        "pager": pager(pg, "trace.instance", name="child_page", instance_id=inst.id),
    }


def open_tasks(inst: ProcessInstance) -> list[dict[str, Any]]:
    p = me()
    assignee = aliased(User)
    rows = (
        db()
        .execute(
            select(HumanTask, OrgNode.name, assignee.display_name)
            .join(OrgNode, OrgNode.id == HumanTask.node_id)
            .outerjoin(assignee, assignee.id == HumanTask.assignee_id)
            .where(HumanTask.instance_id == inst.id, HumanTask.status == "open")
            .order_by(HumanTask.id)
        )
        .all()
    )
    readable = set(
        db().scalars(select(HumanTask.id).where(HumanTask.instance_id == inst.id, policy.tasks_visible(p))).all()
    )
    now = clock().now()
    out = []
    for t, node_name, assignee_name in rows:
        overdue, text = due_text(t.due_at, now)
        out.append(
            {
                "task": t,
                "node_name": node_name,
                "assignee": assignee_name,
                "overdue": overdue,
                "due_text": text,
                "readable": t.id in readable,
                "tier": TIER_LABELS.get(t.tier, t.tier),
                "candidates": [u.display_name for u in candidates(db(), t)] if t.assignee_id is None else [],
            }
        )
    return out


def available_actions(inst: ProcessInstance) -> list[str]:
    out = []
    if inst.status in ("running", "error"):
        out.append("suspend")
    if inst.status == "suspended":
        out.append("resume")
    if inst.status == "error":
        out.append("retry")
    if inst.status not in ENDED:
        out.append("terminate")
    return out
