"""Task pages: 待办 (my tasks), the task page with its form, 已办 (done), 督办 (supervise and
urge), and 发起 (start a process). Routes parse input, call the engine, commit, render."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from engine.org import policy
from engine.core import repository
from engine.services import task_view
from engine.errors import Forbidden, Invalid, NotFound, SanjiError
from engine.models import EventLog, HumanTask, OrgNode, ProcessDefinition, ProcessInstance, User
from engine.org.nodes import ROLE_NAMES, Principal
from engine.org.routing import (
    can_act_on,
    candidates,
    may_urge,
    offered_clause,
    task_visible_clause,
    urgeable_clause,
)

from . import formrender
from .extensions import clock, db, redactor, runtime, settings, state
from .reads import note_view
from .web import back, bp, error_message, nav_item, signed_in, signin_required

PER_PAGE = 30

nav_item("web.tasks", lazy_gettext("My tasks"), order=10, badge=True, prefix="/tasks")
nav_item("web.done", lazy_gettext("Done"), order=20)
nav_item("web.supervise", lazy_gettext("Supervise"), order=30,
         visible=lambda p: p.is_admin or bool(p.committee_nodes()))
nav_item("web.start", lazy_gettext("Start"), order=40)

TIER_LABELS = {"group": lazy_gettext("Group committee"), "unit": lazy_gettext("Unit committee"),
               "branch": lazy_gettext("Branch commissioner"), "department": lazy_gettext("Functional department")}
EVENT_LABELS = {
    "instance_started": lazy_gettext("Process started"),
    "instance_completed": lazy_gettext("Process completed"),
    "instance_suspended": lazy_gettext("Process suspended"),
    "instance_resumed": lazy_gettext("Process resumed"),
    "instance_terminated": lazy_gettext("Process terminated"),
    "task_created": lazy_gettext("Task assigned"),
    "task_completed": lazy_gettext("Task completed"),
    "task_sent_back": lazy_gettext("Sent back"),
    "task_claimed": lazy_gettext("Claimed"),
    "task_unclaimed": lazy_gettext("Released"),
    "task_assigned": lazy_gettext("Reassigned"),
    "task_handed_over": lazy_gettext("Handed over"),
    "task_urged": lazy_gettext("Urged"),
    "task_cancelled": lazy_gettext("Task cancelled"),
    "timer_fired": lazy_gettext("Timer fired"),
    "incident": lazy_gettext("Error"),
    "incident_retried": lazy_gettext("Retried"),
    "message_delivered": lazy_gettext("Message sent"),
}
STATUS_LABELS = {"running": lazy_gettext("running"), "suspended": lazy_gettext("suspended"),
                 "error": lazy_gettext("stopped by an error"), "completed": lazy_gettext("completed"),
                 "terminated": lazy_gettext("terminated")}


# ---- shared helpers --------------------------------------------------------------------------------

@dataclass
class Row:
    task: HumanTask
    node_name: str
    assignee_name: str | None
    instance_title: str
    process_name: str = ""
    unit_name: str = ""
    overdue: bool = False
    due_text: str = ""
    urges: int = 0
    last_urged: datetime | None = None


def task_select() -> Select[Any]:
    assignee = aliased(User)
    return (select(HumanTask, OrgNode.name, assignee.display_name, ProcessInstance.title)
            .join(OrgNode, OrgNode.id == HumanTask.node_id)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .outerjoin(assignee, assignee.id == HumanTask.assignee_id))


def page_arg() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def paged(q: Select[Any]) -> tuple[list[Any], dict[str, Any]]:
    page = page_arg()
    total = db().scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    rows = db().execute(q.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    pages = max(1, -(-total // PER_PAGE))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return rows, {"page": page, "pages": pages, "total": total,
                  "prev": url_for(request.endpoint or "web.tasks", page=page - 1, **args) if page > 1 else None,
                  "next": url_for(request.endpoint or "web.tasks", page=page + 1, **args) if page < pages else None}


def process_names() -> dict[str, str]:
    rows = db().execute(select(ProcessDefinition.key, ProcessDefinition.name).order_by(ProcessDefinition.version))
    return {k: n for k, n in rows}


def node_names(ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(db().execute(select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(ids))).all())


def urge_info(task_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    if not task_ids:
        return {}
    rows = db().execute(select(EventLog.task_id, func.count(), func.max(EventLog.at))
                        .where(EventLog.type == "task_urged", EventLog.task_id.in_(task_ids))
                        .group_by(EventLog.task_id)).all()
    return {tid: (n, at) for tid, n, at in rows}


def due_text(due: datetime | None, now: datetime) -> tuple[bool, str]:
    if due is None:
        return False, ""
    zone = settings().zone
    days = (due.astimezone(zone).date() - now.astimezone(zone).date()).days
    if due < now:
        if days >= 0:
            return True, gettext("Overdue")
        return True, ngettext("Overdue by %(num)s day", "Overdue by %(num)s days", -days)
    if days == 0:
        return False, gettext("Due today")
    if days == 1:
        return False, gettext("Due tomorrow")
    return False, ngettext("%(num)s day left", "%(num)s days left", days)


def make_rows(rows: list[Any]) -> list[Row]:
    now = clock().now()
    names = process_names()
    units = node_names({r[0].unit_id for r in rows if r[0].unit_id})
    urges = urge_info([r[0].id for r in rows])
    titles = task_view.instance_titles(db(), redactor(me()), {r[0].instance_id: r[3] or "" for r in rows})
    out = []
    for t, node_name, assignee_name, _title in rows:
        title = titles.get(t.instance_id, "")
        overdue, text = due_text(t.due_at, now) if t.status == "open" else (False, "")
        n, last = urges.get(t.id, (0, None))
        out.append(Row(t, node_name, assignee_name, title or "", names.get(t.process_key, t.process_key),
                       units.get(t.unit_id or "", ""), overdue, text, n, last))
    return out


def end_of_local_day(now: datetime) -> datetime:
    zone = settings().zone
    return datetime.combine(now.astimezone(zone).date(), time(23, 59, 59), zone)


def fail(err: SanjiError) -> None:
    """Show an engine refusal as a flash message (translated lead, engine text as detail)."""
    db().rollback()
    flash(f"{error_message(err)} ({err.message})", "error")


def me() -> Principal:
    p = signed_in()
    assert p is not None
    return p


# ---- 待办: my open tasks --------------------------------------------------------------------------------

@bp.get("/tasks")
@signin_required
def tasks() -> Any:
    p = me()
    now = clock().now()
    base = [HumanTask.status == "open", offered_clause(p)]
    where = list(base)
    process, unit, due = (request.args.get(k, "") for k in ("process", "unit", "due"))
    if process:
        where.append(HumanTask.process_key == process)
    if unit:
        where.append(HumanTask.unit_id == unit)
    if due == "overdue":
        where.append(HumanTask.due_at < now)
    elif due == "today":
        where.append(HumanTask.due_at <= end_of_local_day(now))
    elif due == "week":
        where.append(HumanTask.due_at <= end_of_local_day(now + timedelta(days=7)))
    q = task_select().where(*where).order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    rows, pager = paged(q)
    options = db().execute(select(HumanTask.process_key, HumanTask.unit_id).where(*base).distinct()).all()
    names = process_names()
    process_options = sorted({(k, names.get(k, k)) for k, _u in options}, key=lambda o: o[1])
    units = node_names({u for _k, u in options if u})
    unit_options = sorted(units.items(), key=lambda o: o[1])
    return render_template("tasks.html", rows=make_rows(rows), pager=pager, process=process, unit=unit, due=due,
                           process_options=process_options, unit_options=unit_options,
                           filtered=bool(process or unit or due))


# ---- 已办: tasks I completed ------------------------------------------------------------------------------

@bp.get("/tasks/done")
@signin_required
def done() -> Any:
    p = me()
    q = (task_select().where(HumanTask.status == "completed", HumanTask.completed_by_id == p.id)
         .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()))
    rows, pager = paged(q)
    return render_template("done.html", rows=make_rows(rows), pager=pager)


# ---- 督办: open tasks of the tiers below, with 催办 ------------------------------------------------------

@bp.get("/tasks/supervise")
@signin_required
def supervise() -> Any:
    p = me()
    now = clock().now()
    where = [HumanTask.status == "open", urgeable_clause(p)]
    overdue_only = request.args.get("overdue") == "1"
    unit = request.args.get("unit", "")
    if overdue_only:
        where.append(HumanTask.due_at < now)
    if unit:
        where.append(HumanTask.unit_id == unit)
    q = task_select().where(*where).order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    rows, pager = paged(q)
    unit_ids = db().scalars(select(HumanTask.unit_id).where(HumanTask.status == "open", urgeable_clause(p))
                            .distinct()).all()
    unit_options = sorted(node_names({u for u in unit_ids if u}).items(), key=lambda o: o[1])
    return render_template("supervise.html", rows=make_rows(rows), pager=pager, overdue_only=overdue_only,
                           unit=unit, unit_options=unit_options)


@bp.post("/tasks/<int:task_id>/urge")
@signin_required
def urge(task_id: int) -> Any:
    try:
        task = runtime().urge(task_id, me(), (request.form.get("message") or "")[:500])
        db().commit()
        flash(gettext("Urged: %(name)s", name=task.name), "success")
    except SanjiError as exc:
        fail(exc)
    return back(url_for("web.supervise"))


# ---- claim, release, hand over ----------------------------------------------------------------------------

@bp.post("/tasks/<int:task_id>/claim")
@signin_required
def claim(task_id: int) -> Any:
    try:
        task = runtime().claim(task_id, me())
        db().commit()
        flash(gettext("You claimed %(name)s.", name=task.name), "success")
    except SanjiError as exc:
        fail(exc)
    return back(url_for("web.tasks"))


@bp.post("/tasks/<int:task_id>/unclaim")
@signin_required
def unclaim(task_id: int) -> Any:
    try:
        task = runtime().unclaim(task_id, me())
        db().commit()
        flash(gettext("You released %(name)s; it is offered to all candidates again.", name=task.name), "success")
    except SanjiError as exc:
        fail(exc)
    return back(url_for("web.tasks"))


@bp.post("/tasks/<int:task_id>/handover")
@signin_required
def handover(task_id: int) -> Any:
    username = (request.form.get("username") or "").strip()
    if not username:
        flash(gettext("Choose a colleague."), "error")
        return redirect(url_for("web.task", task_id=task_id))
    try:
        task = runtime().assign(task_id, username, me(), handover=True)
        db().commit()
        user = db().scalars(select(User).where(User.username == username)).first()
        flash(gettext("%(name)s was handed over to %(user)s.", name=task.name,
                      user=user.display_name if user else username), "success")
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("web.task", task_id=task_id))
    return redirect(url_for("web.tasks"))


# ---- the task page -------------------------------------------------------------------------------------

def visible_task(task_id: int) -> tuple[HumanTask, str, str | None, str]:
    row = db().execute(task_select().where(HumanTask.id == task_id, task_visible_clause(me()))).first()
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    return row[0], row[1], row[2], row[3] or ""


def form_schema(form_key: str | None) -> dict[str, Any]:
    if not form_key:
        return {}
    try:
        return state().forms.schema(form_key)
    except (SanjiError, ValueError):
        return {}


def display_names(usernames: set[str]) -> dict[str, str]:
    return task_view.display_names(db(), usernames)


def task_context(view: task_view.TaskView) -> dict[str, Any]:
    """The page's parts of the task view (engine/services/task_view.py, the API's view too): history,
    earlier input as read-only forms, the send-back banner, the other process data."""
    previous = []
    covered: set[str] = set()
    for step in view.previous:
        schema = form_schema(step.task.form_key)
        covered.update((schema.get("properties") or {}).keys())
        shown = formrender.build(schema, step.data, display=True, zone=settings().zone) if schema else None
        previous.append({"task": step.task, "by": step.by_name, "node_name": step.node_name, "view": shown,
                         "data": step.data})
    other = {k: v for k, v in view.context.items() if k not in covered and k not in task_view.ROUTING_VARIABLES}
    return {"history": view.history, "actor_names": view.actor_names, "previous": previous,
            "sent_back": view.sent_back, "other_data": other, "chain": view.chain}


def render_task(t: HumanTask, node_name: str, assignee_name: str | None, title: str,
                values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
                status: int = 200) -> Any:
    p = me()
    view = task_view.task_view(db(), p, t, redactor(p))
    inst = view.instance
    forms = state().forms
    schema = form_schema(t.form_key)
    spec = forms.send_back_spec(t.form_key)
    can_act = t.status == "open" and inst.status == "running" and can_act_on(p, t)
    if values is None:
        if t.status == "completed":
            values = view.data or {}
        else:  # the same step done before in this instance (e.g. after 退回): start from that
            earlier = next((s.data for s in reversed(view.previous)
                            if s.task.instance_id == t.instance_id and s.task.spec_id == t.spec_id), None)
            values = dict(earlier or {})
            if spec is not None:
                values.pop(spec["field"], None)
                values.pop(spec.get("reason") or "", None)
    errors = dict(errors or {})
    zone = settings().zone
    form = reason = None
    if schema:
        form = formrender.build(schema, values, errors, extra_required=formrender.send_back_required(schema),
                                display=not can_act, zone=zone)
        if spec is not None and can_act:
            for child in list(form.children):
                if child.name == spec.get("reason"):
                    reason = child
                    reason.required = True
                    form.children.remove(child)
                elif child.name == spec["field"]:
                    child.choices = [c for c in child.choices if c.value != spec["value"]]
                    if child.value == spec["value"]:
                        child.value = None
    leftover = formrender.leftover_errors(form, errors) if form is not None else errors
    if reason is not None:
        leftover.pop(reason.path, None)
    ctx = task_context(view)
    note_view("task", [view.data, view.context, [s.data for s in view.previous]], redactor(p).active,
              t.instance_id, t.id)
    colleagues = []
    if can_act:
        colleagues = [u for u in candidates(db(), t) if u.id != p.id and u.id != t.assignee_id]
    node = db().get(OrgNode, t.node_id)
    n_urges, last_urged = urge_info([t.id]).get(t.id, (0, None))
    overdue, due = due_text(t.due_at, clock().now()) if t.status == "open" else (False, "")
    d = inst.definition
    return render_template(
        "task.html", t=t, inst=inst, node_name=node_name, assignee_name=assignee_name, title=view.title,
        process_name=d.name, form=form, reason=reason, send_back=spec if can_act else None, leftover=leftover,
        can_act=can_act, colleagues=colleagues, may_urge=t.status == "open" and node is not None and may_urge(p, t, node),
        urges=n_urges, last_urged=last_urged, overdue=overdue, due_text=due, tier_label=TIER_LABELS.get(t.tier, t.tier),
        bpmn_url=url_for("api_v1.definition_xml", key=d.key, version=d.version), event_labels=EVENT_LABELS,
        role_names=ROLE_NAMES, status_label=STATUS_LABELS.get(inst.status, inst.status), **ctx), status


@bp.get("/tasks/<int:task_id>")
@signin_required
def task(task_id: int) -> Any:
    t, node_name, assignee_name, title = visible_task(task_id)
    return render_task(t, node_name, assignee_name, title)


@bp.post("/tasks/<int:task_id>")
@signin_required
def submit(task_id: int) -> Any:
    t, node_name, assignee_name, title = visible_task(task_id)
    schema = form_schema(t.form_key)
    spec = state().forms.send_back_spec(t.form_key)
    data = formrender.parse(schema, request.form, settings().zone) if schema else {}
    sending_back = request.form.get("_action") == "send_back" and spec is not None
    if sending_back:
        assert spec is not None
        data[spec["field"]] = spec["value"]
    try:
        done_task = runtime().complete(t.id, data, me())
        inst = db().get(ProcessInstance, done_task.instance_id)
        incident = inst is not None and inst.status == "error"
        db().commit()
    except Invalid as exc:
        db().rollback()
        # the form's own errors with their JSON Schema rule (for translated messages); else the
        # details as raised (e.g. a task's `validate` rule, written in the author's words)
        rich = state().forms.errors(t.form_key, data) if schema else []
        errors = formrender.errors_by_field(rich or exc.details, schema, gettext)
        flash(gettext("Please correct the marked fields."), "error")
        if sending_back:
            assert spec is not None
            data.pop(spec["field"], None)
        return render_task(t, node_name, assignee_name, title, values=data, errors=errors, status=422)
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("web.task", task_id=task_id))
    if sending_back:
        flash(gettext("%(name)s was sent back.", name=t.name), "success")
    else:
        flash(gettext("%(name)s was submitted.", name=t.name), "success")
    if incident:
        flash(gettext("The next step of the process failed; an administrator has to retry it."), "error")
    return redirect(url_for("web.tasks"))


# ---- 发起: start a process ----------------------------------------------------------------------------------

@bp.get("/start")
@signin_required
def start() -> Any:
    p = me()
    items = policy.startables(db(), p)
    fixed_names = node_names({s.fixed for s in items if s.fixed})
    return render_template("start.html", items=items, fixed_names=fixed_names, tier_labels=TIER_LABELS)


@bp.post("/start/<key>")
@signin_required
def start_process(key: str) -> Any:
    p = me()
    item = next((s for s in policy.startables(db(), p) if s.definition.key == key), None)
    if item is None:  # not offered: the API's refusal (404 not deployed, 403 not startable or not allowed)
        d = repository.latest(db(), key)
        scope: dict[str, Any] = {}
        policy.default_scope(db(), p, d, scope)
        policy.check_start(db(), p, d, scope)
        raise Forbidden(f"you may not start {key!r}")
    d = item.definition
    variables: dict[str, Any] = {}
    node = (request.form.get("node") or "").strip()
    var = policy.CHOSEN_VARIABLE.get(item.tier)
    if var and not item.fixed:
        if node not in {n for n, _ in item.options}:
            flash(gettext("Choose the organisation the process is for."), "error")
            return redirect(url_for("web.start"))
        variables[var] = node
    title = (request.form.get("title") or "").strip()
    if title:
        variables["title"] = title[:policy.MAX_TITLE]
    policy.default_scope(db(), p, d, variables)
    policy.check_start(db(), p, d, variables)  # the same refusal as the API (403) for what the page does not offer
    try:
        inst = runtime().start(d, variables, p)
        db().commit()
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("web.start"))
    flash(gettext("Started: %(title)s", title=inst.title), "success")
    mine = db().scalars(select(HumanTask).where(HumanTask.instance_id == inst.id, HumanTask.status == "open")
                        .order_by(HumanTask.id)).all()
    first = next((t for t in mine if can_act_on(p, t)), None)
    if first is not None:
        return redirect(url_for("web.task", task_id=first.id))
    return redirect(url_for("web.tasks"))
