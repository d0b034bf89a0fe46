"""Task pages: 待办 (my tasks), the task page with its form, 已办 (done), 督办 (supervise and
urge), and 发起 (start a process). Routes parse input, call the engine, commit, render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import func, select

from engine.core.copies import cc_entries
from engine.core.decisions import committee_names, committee_node, task_properties
from engine.core.forms import schema_errors
from engine.errors import Invalid, NotFound, SanjiError
from engine.infra.db import write_intent
from engine.models import EventLog, HumanTask, OrgNode, ProcessDefinition, User
from engine.org.nodes import ROLE_NAMES
from engine.org.routing import can_act_on, candidates, may_urge
from engine.platform import notify
from engine.platform.models import Notification
from engine.services import task_form, task_view
from engine.services import tasks as tasks_service
from engine.services.paging import PageRequest
from engine.services.tasks import TaskCommand, TaskFilter, TaskRow

from .. import messages
from ..extensions import clock, db, redactor, runtime, settings, state
from ..reads import note_view
from . import attachments, formrender
from .base import back, current_language, nav_item, page_blueprint, signed_in, signin_required
from .decision_form import decision_fields
from .helpers import (
    EVENT_LABELS,
    PER_PAGE,
    STATUS_LABELS,
    TIER_LABELS,
    due_text,
    fail,
    me,
    node_names,
    page_number,
    pager,
)

bp = page_blueprint("tasks")


@bp.before_request
def _task_page_reads_its_notifications() -> None:
    """Opening a task marks the notifications about it read."""
    if request.method != "GET" or request.endpoint != "tasks.task":
        return
    p = signed_in()
    task_id = (request.view_args or {}).get("task_id")
    if p is None or not isinstance(task_id, int) or task_id >= 2**31:
        return
    unread = db().scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == p.id, Notification.task_id == task_id, Notification.read_at.is_(None))
    )
    db().rollback()  # end the read: only when there is something to mark does the page write
    if unread:
        with write_intent():
            notify.mark_all_read(db(), p.id, clock().now(), task_id)
            db().commit()


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


def process_names() -> dict[str, str]:
    rows = db().execute(select(ProcessDefinition.key, ProcessDefinition.name).order_by(ProcessDefinition.version))
    return {k: n for k, n in rows}


def urge_info(task_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    if not task_ids:
        return {}
    rows = (
        db()
        .execute(
            select(EventLog.task_id, func.count(), func.max(EventLog.at))
            .where(EventLog.type == "task_urged", EventLog.task_id.in_(task_ids))
            .group_by(EventLog.task_id)
        )
        .all()
    )
    return {tid: (n, at) for tid, n, at in rows if tid is not None}


def make_rows(rows: list[TaskRow]) -> list[Row]:
    now = clock().now()
    names = process_names()
    units = node_names({r.task.unit_id for r in rows if r.task.unit_id})
    urges = urge_info([r.task.id for r in rows])
    out = []
    for r in rows:
        t, node_name, assignee_name, title = r.task, r.node_name, r.assignee_name, r.instance_title
        overdue, text = due_text(t.due_at, now) if t.status == "open" else (False, "")
        n, last = urges.get(t.id, (0, None))
        out.append(
            Row(
                t,
                node_name,
                assignee_name,
                title or "",
                names.get(t.process_key, t.process_key),
                units.get(t.unit_id or "", ""),
                overdue,
                text,
                n,
                last,
            )
        )
    return out


def end_of_local_day(now: datetime) -> datetime:
    zone = settings().zone
    return datetime.combine(now.astimezone(zone).date(), time(23, 59, 59), zone)


# ---- 待办: my open tasks --------------------------------------------------------------------------------


def listed(f: TaskFilter) -> tuple[list[Row], dict[str, Any]]:
    """One page of a task list (engine/services/tasks.py, the API's query) as the pages show it."""
    p = me()
    pg = tasks_service.list_tasks(db(), p, f, PageRequest(page_number(), PER_PAGE), clock().now(), redactor(p))
    return make_rows(pg.items), pager(pg, request.endpoint or "tasks.tasks")


@bp.get("/tasks")
@signin_required
def tasks() -> Any:
    p = me()
    now = clock().now()
    process, unit, due = (request.args.get(k, "") for k in ("process", "unit", "due"))
    horizon = {"today": end_of_local_day(now), "week": end_of_local_day(now + timedelta(days=7))}.get(due)
    rows, pager_ = listed(
        TaskFilter("open", process_key=process or None, unit_id=unit or None, due_by=horizon, overdue=due == "overdue")
    )
    options = tasks_service.options(db(), p, "open")
    names = process_names()
    process_options = sorted({(k, names.get(k, k)) for k, _u in options}, key=lambda o: o[1])
    units = node_names({u for _k, u in options if u})
    unit_options = sorted(units.items(), key=lambda o: o[1])
    return render_template(
        "tasks.html",
        rows=rows,
        pager=pager_,
        process=process,
        unit=unit,
        due=due,
        process_options=process_options,
        unit_options=unit_options,
        filtered=bool(process or unit or due),
    )


# ---- 已办: tasks I completed ------------------------------------------------------------------------------


@bp.get("/tasks/done")
@signin_required
def done() -> Any:
    rows, pager_ = listed(TaskFilter("completed"))
    return render_template("done.html", rows=rows, pager=pager_)


# ---- 督办: open tasks of the tiers below, with 催办 ------------------------------------------------------


@bp.get("/tasks/supervise")
@signin_required
def supervise() -> Any:
    p = me()
    overdue_only = request.args.get("overdue") == "1"
    unit = request.args.get("unit", "")
    rows, pager_ = listed(TaskFilter("supervise", unit_id=unit or None, overdue=overdue_only))
    unit_options = sorted(
        node_names({u for _k, u in tasks_service.options(db(), p, "supervise") if u}).items(), key=lambda o: o[1]
    )
    return render_template(
        "supervise.html", rows=rows, pager=pager_, overdue_only=overdue_only, unit=unit, unit_options=unit_options
    )


@bp.post("/tasks/<int:task_id>/urge")
@signin_required
def urge(task_id: int) -> Any:
    try:
        task = tasks_service.act(
            runtime(), me(), TaskCommand(task_id, "urge", message=(request.form.get("message") or "")[:500])
        ).task
        flash(gettext("Urged: %(name)s", name=task.name), "success")
    except SanjiError as exc:
        fail(exc)
    return back(url_for("tasks.supervise"))


# ---- claim, release, hand over ----------------------------------------------------------------------------


@bp.post("/tasks/<int:task_id>/claim")
@signin_required
def claim(task_id: int) -> Any:
    try:
        task = tasks_service.act(runtime(), me(), TaskCommand(task_id, "claim")).task
        flash(gettext("You claimed %(name)s.", name=task.name), "success")
    except SanjiError as exc:
        fail(exc)
    return back(url_for("tasks.tasks"))


@bp.post("/tasks/<int:task_id>/unclaim")
@signin_required
def unclaim(task_id: int) -> Any:
    try:
        task = tasks_service.act(runtime(), me(), TaskCommand(task_id, "unclaim")).task
        flash(gettext("You released %(name)s; it is offered to all candidates again.", name=task.name), "success")
    except SanjiError as exc:
        fail(exc)
    return back(url_for("tasks.tasks"))


@bp.post("/tasks/<int:task_id>/handover")
@signin_required
def handover(task_id: int) -> Any:
    username = (request.form.get("username") or "").strip()
    if not username:
        flash(gettext("Choose a colleague."), "error")
        return redirect(url_for("tasks.task", task_id=task_id))
    try:
        task = tasks_service.act(runtime(), me(), TaskCommand(task_id, "handover", username=username)).task
        user = db().scalars(select(User).where(User.username == username)).first()
        flash(
            gettext(
                "%(name)s was handed over to %(user)s.", name=task.name, user=user.display_name if user else username
            ),
            "success",
        )
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("tasks.task", task_id=task_id))
    return redirect(url_for("tasks.tasks"))


# ---- the task page -------------------------------------------------------------------------------------


def visible_task(task_id: int) -> tuple[HumanTask, str, str | None, str]:
    p = me()
    row = tasks_service.visible_row(db(), p, task_id, redactor(p))
    if row.reading == "copy" and request.method != "GET":  # 抄送: the step's data only; nothing to submit
        raise NotFound("task {id} does not exist", id=task_id)
    return row.task, row.node_name, row.assignee_name, row.instance_title or ""


def form_schema(form_key: str | None, version: int | None = None) -> dict[str, Any]:
    if not form_key:
        return {}
    try:
        return state().forms.schema(form_key, version=version)
    except (SanjiError, ValueError):
        return {}


def task_context(view: task_view.TaskView) -> dict[str, Any]:
    """The page's parts of the task view (engine/services/task_view.py, the API's view too): history,
    earlier input as read-only forms, the send-back banner, the other process data."""
    previous = []
    covered: set[str] = set()
    for step in view.previous:
        schema = form_schema(step.task.form_key, state().forms.task_version(step.task, db()))
        covered.update((schema.get("properties") or {}).keys())
        shown = formrender.build(schema, step.data, display=True, zone=settings().zone) if schema else None
        attachments.annotate(shown)
        previous.append(
            {"task": step.task, "by": step.by_name, "node_name": step.node_name, "view": shown, "data": step.data}
        )
    covered.update(r.variable for r in view.rollups)  # shown as tables above the form
    other = {k: v for k, v in view.context.items() if k not in covered and k not in task_view.ROUTING_VARIABLES}
    return {
        "history": view.history,
        "actor_names": view.actor_names,
        "previous": previous,
        "sent_back": view.sent_back,
        "other_data": other,
        "chain": view.chain,
        "rollups": view.rollups,
    }


def render_task(
    t: HumanTask,
    node_name: str,
    assignee_name: str | None,
    title: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> Any:
    p = me()
    forms = state().forms
    form_version = forms.task_version(t, db())  # the version its definition pins (issue 15)
    copy_only = tasks_service.visible_row(db(), p, t.id, redactor(p)).reading == "copy"
    view = task_view.task_view(db(), p, t, redactor(p), forms, copy_only=copy_only)
    inst = view.instance
    schema = view.form.schema if view.form is not None else form_schema(t.form_key, form_version)
    spec = forms.send_back_spec(t.form_key, form_version)
    can_act = not copy_only and t.status == "open" and inst.status == "running" and can_act_on(p, t)
    if values is None:
        if t.status == "completed":
            values = view.data or {}
        else:  # the same step done before in this instance (e.g. after 退回): start from that
            earlier = next(
                (
                    s.data
                    for s in reversed(view.previous)
                    if s.task.instance_id == t.instance_id and s.task.spec_id == t.spec_id
                ),
                None,
            )
            values = dict(earlier or (view.form.prefill if view.form is not None else {}))
            if view.returned is not None and view.data:  # 退回 by the approver: the doer's previous data
                values = dict(view.data)
            if spec is not None:
                values.pop(spec["field"], None)
                values.pop(spec.get("reason") or "", None)
    errors = dict(errors or {})
    zone = settings().zone
    form = reason = None
    props = task_properties(inst, t.spec_id)
    if schema:
        form = formrender.build(
            schema, values, errors, extra_required=formrender.send_back_required(schema), display=not can_act, zone=zone
        )
        if props.get("collective") == "required" and t.kind == "task":
            # the engine's own 集体研究 part below (or the decisions list) shows the record: the form's
            # `collective` object, which has no fields of its own, would be an empty heading
            form.children = [c for c in form.children if c.name != "collective"]
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
    attachments.annotate(form)
    leftover = formrender.leftover_errors(form, errors) if form is not None else errors
    if reason is not None:
        leftover.pop(reason.path, None)
    ctx = task_context(view)
    note_view(
        "task", [view.data, view.context, [s.data for s in view.previous]], redactor(p).active, t.instance_id, t.id
    )
    colleagues = []
    if can_act:
        colleagues = [u for u in candidates(db(), t) if u.id != p.id and u.id != t.assignee_id]
    node = db().get(OrgNode, t.node_id)
    n_urges, last_urged = urge_info([t.id]).get(t.id, (0, None))
    overdue, due = due_text(t.due_at, clock().now()) if t.status == "open" else (False, "")
    d = inst.definition
    members = []
    if can_act and t.kind == "task" and props.get("collective") == "required":
        members = committee_names(db(), committee_node(db(), t))
    cc_people: list[tuple[Any, str]] = []  # 抄送 chosen by the doer (`cc` = `form`): people by name
    if (
        can_act
        and t.kind == "task"
        and "form" in cc_entries(props.get("cc"))
        and "cc_users" not in (schema or {}).get("properties", {})
    ):
        cc_people = task_form.cc_people(db(), p.username)
    return render_template(
        "task.html",
        decisions=view.decisions,
        returned=view.returned,
        subject_data=view.subject_data,
        collective_members=members,
        cc_people=cc_people,
        sign=props.get("sign") if t.kind == "task" else None,
        t=t,
        inst=inst,
        node_name=node_name,
        assignee_name=assignee_name,
        title=view.title,
        process_name=d.name,
        form=form,
        reason=reason,
        send_back=spec if can_act else None,
        leftover=leftover,
        can_act=can_act,
        colleagues=colleagues,
        may_urge=not copy_only and t.status == "open" and node is not None and may_urge(p, t, node),
        copy_only=copy_only,
        posted=values or {},
        step_data=view.data if t.status == "completed" and not schema else None,
        urges=n_urges,
        last_urged=last_urged,
        overdue=overdue,
        due_text=due,
        tier_label=TIER_LABELS.get(t.tier, t.tier),
        bpmn_url=url_for("api_definitions.definition_xml", key=d.key, version=d.version),
        event_labels=EVENT_LABELS,
        role_names=ROLE_NAMES,
        status_label=STATUS_LABELS.get(inst.status, inst.status),
        files=attachments.bound_list("task", t.id),
        **ctx,
    ), status


@bp.get("/tasks/<int:task_id>")
@signin_required
def task(task_id: int) -> Any:
    t, node_name, assignee_name, title = visible_task(task_id)
    return render_task(t, node_name, assignee_name, title)


@bp.post("/tasks/<int:task_id>")
@signin_required
def submit(task_id: int) -> Any:
    t, node_name, assignee_name, title = visible_task(task_id)
    form_version = state().forms.task_version(t, db())  # the version its definition pins (issue 15)
    resolved = task_form.for_page(db(), state().forms, t, redactor(me()))
    schema = resolved.schema if resolved is not None else form_schema(t.form_key, form_version)
    spec = state().forms.send_back_spec(t.form_key, form_version)
    posted: Any = request.form
    if schema and any(k.startswith(formrender.UPLOAD) for k in request.files):  # file controls posted without JS
        with write_intent():
            posted = attachments.with_uploads(request.form, request.files)
            db().commit()
    data = formrender.parse(schema, posted, settings().zone) if schema else {}
    sending_back = posted.get("_action") == "send_back" and spec is not None
    data.update(decision_fields(t, posted))  # issue 17: 审批, 会签 / 或签, 集体研究 parts of the page
    if sending_back:
        assert spec is not None
        data[spec["field"]] = spec["value"]
    try:
        done = tasks_service.act(runtime(), me(), TaskCommand(t.id, "complete", data))
        incident = done.instance_status == "error"
    except Invalid as exc:
        # the form's own errors with their JSON Schema rule (for translated messages); else the
        # details as raised (e.g. a task's `validate` rule, written in the author's words)
        rich = schema_errors(schema, data) if schema else []
        # the engine's own checks (审批, 集体研究 …: no JSON Schema rule) in the page's language
        errors = formrender.errors_by_field(rich or messages.details(exc.details, current_language()), schema, gettext)
        flash(gettext("Please correct the marked fields."), "error")
        if sending_back:
            assert spec is not None
            data.pop(spec["field"], None)
        return render_task(t, node_name, assignee_name, title, values=data, errors=errors, status=422)
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("tasks.task", task_id=task_id))
    if sending_back:
        flash(gettext("%(name)s was sent back.", name=t.name), "success")
    else:
        flash(gettext("%(name)s was submitted.", name=t.name), "success")
    if incident:
        flash(gettext("The next step of the process failed; an administrator has to retry it."), "error")
    return redirect(url_for("tasks.tasks"))


NAV = [
    nav_item("tasks.tasks", lazy_gettext("My tasks"), order=10, badge=True, prefix="/tasks"),
    nav_item("tasks.done", lazy_gettext("Done"), order=20),
    nav_item(
        "tasks.supervise",
        lazy_gettext("Supervise"),
        order=30,
        visible=lambda p: p.is_admin or bool(p.committee_nodes()),
    ),
    nav_item("start.start", lazy_gettext("Start"), order=40),
]
