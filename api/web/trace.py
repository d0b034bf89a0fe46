"""Instance tracing pages (流程跟踪): the instance list with filters and paging, the instance page
(diagram with completed / active / failed elements, timeline, variables, open tasks, parent and
children), the admin actions (suspend, resume, terminate, retry, reassign, fire a timer) each
behind a confirmation page and logged by the engine, the heatmap of a definition, and the
schedules page (timer start schedules and timers waiting inside instances).

Who sees which instance is the API's rule (engine/services/instances.py, engine/org/policy.py): admins and the group
committee all, a unit committee its own unit's, anyone the instances they started or hold a
task in. Admin actions need the admin role, as in the API.
"""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from engine.core import diff as bpmn_diff
from engine.core import repository, schedules, trace
from engine.errors import Invalid, NotFound, SanjiError, field_error
from engine.models import HumanTask, ProcessDefinition, ProcessInstance, User
from engine.org import policy
from engine.org.routing import candidates
from engine.services import instances as instances_service
from engine.services import task_view
from engine.services.instances import STATUSES, InstanceAction
from engine.services.paging import PageRequest

from ..extensions import clock, db, redactor, runtime
from ..reads import note_view
from .attachments import bound_list
from .base import nav_item, page_blueprint, signin_required
from .element_kinds import kind_label
from .helpers import STATUS_LABELS, fail, me, node_names, page_number, pager, require_admin
from .timer_words import timer_words
from .trace_data import (  # noqa: F401
    CHILDREN_PER_PAGE,
    HIDDEN_EVENTS,
    TIMELINE_LIMIT,
    TRACE_EVENT_LABELS,
    TimelineItem,
    available_actions,
    child_page,
    instance_filter,
    local_day,
    open_tasks,
    timeline,
    visible_instance,
)
from .variable_labels import present

bp = page_blueprint("trace")


PER_PAGE = 30
ACTION_LABELS = {
    "suspend": lazy_gettext("Suspend"),
    "resume": lazy_gettext("Resume"),
    "terminate": lazy_gettext("Terminate"),
    "retry": lazy_gettext("Retry"),
    "reassign": lazy_gettext("Reassign"),
    "fire_timer": lazy_gettext("Fire timer now"),
}
ACTION_HELP = {
    "suspend": lazy_gettext(
        "Nothing moves on until it is resumed: its tasks cannot be completed and its timers do not fire."
    ),
    "resume": lazy_gettext("The instance goes on where it stopped; timers that fell due meanwhile fire now."),
    "terminate": lazy_gettext(
        "The instance and its running sub-processes end for good; their open tasks are "
        "cancelled. This cannot be undone."
    ),
    "retry": lazy_gettext("The failed step runs again, with the variables below set first if you give any."),
    "reassign": lazy_gettext(
        "The task is assigned to the chosen member of its organisation; they see it in their tasks."
    ),
    "fire_timer": lazy_gettext("The waiting timer fires now, as if its time had come."),
}


# ---- the instance list -----------------------------------------------------------------------------------


@bp.get("/instances")
@signin_required
def instances() -> Any:
    p = me()
    now = clock().now()
    f = {
        k: request.args.get(k, "")
        for k in ("process", "status", "unit", "started_from", "started_to", "overdue", "incident", "level")
    }
    pg = instances_service.list_instances(
        db(), p, instance_filter(f), PageRequest(page_number(), PER_PAGE), now, redactor(p)
    )
    rows = pg.items
    tasks = instances_service.open_task_summary(db(), [r.id for r in rows], now)
    titles = {r.id: r.title for r in rows}
    incidents = {r.id: r.error_message for r in rows if r.error_message}
    process_options, unit_ids = instances_service.options(db(), p)
    units = node_names(unit_ids)
    return render_template(
        "instances.html",
        rows=rows,
        titles=titles,
        incidents=incidents,
        tasks=tasks,
        f=f,
        statuses=STATUSES,
        status_labels=STATUS_LABELS,
        process_options=process_options,
        unit_options=sorted(units.items(), key=lambda o: o[1]),
        units=units,
        pager=pager(pg, "trace.instances"),
        filtered=any(f.values()),
    )


# ---- one instance ---------------------------------------------------------------------------------------


@bp.get("/instances/<int:instance_id>")
@signin_required
def instance(instance_id: int) -> Any:
    p = me()
    inst = visible_instance(instance_id)
    view = task_view.instance_view(db(), p, inst, redactor(p))
    note_view("instance", view.variables, redactor(p).active, inst.id)
    d = inst.definition
    items, total_events = timeline(inst)
    parent = parent_title = None
    if view.parent is not None:
        parent = db().execute(instances_service.columns().where(ProcessInstance.id == view.parent.id)).first()
        parent_title = redactor(p).text(view.parent.title, view.parent.data)
    starter = db().get(User, inst.started_by_id) if inst.started_by_id else None
    timers: list[dict[str, Any]] = []
    timers_error = None
    if p.is_admin and inst.next_timer_at is not None and inst.status in ("running", "suspended"):
        try:
            timers = schedules.instance_timers(inst)
        except Exception as exc:
            timers_error = f"{type(exc).__name__}: {exc}"
    names = node_names({n for n in (inst.scope_node_id, inst.unit_id) if n})
    shown_vars, technical_vars = present(view.variables, d)
    error_step = None
    if inst.error_task:  # the failed step by its name, not its id
        step = bpmn_diff.parse(d.xml, 1 << 30).elements.get(inst.error_task)
        error_step = step.name if step is not None else None
    return render_template(
        "instance.html",
        inst=inst,
        view=view,
        d=d,
        timeline=items,
        total_events=total_events,
        timeline_limit=TIMELINE_LIMIT,
        parent=parent,
        parent_title=parent_title,
        children=child_page(inst),
        continuing=instances_service.continuing(db(), inst.id),
        open_tasks=open_tasks(inst),
        variables=view.variables,
        shown_vars=shown_vars,
        technical_vars=technical_vars,
        error_step=error_step,
        timer_words=timer_words,
        starter=starter,
        timers=timers,
        timers_error=timers_error,
        status_label=STATUS_LABELS.get(inst.status, inst.status),
        status_labels=STATUS_LABELS,
        statuses=STATUSES,
        names=names,
        is_admin=p.is_admin,
        actions=available_actions(inst) if p.is_admin else [],
        action_labels=ACTION_LABELS,
        files=bound_list("instance", inst.id),
    )


# ---- admin actions: a confirmation page, then the action --------------------------------------------------


@bp.route(
    "/instances/<int:instance_id>/<any(suspend, resume, terminate, retry, reassign, fire_timer):action>",
    methods=["GET", "POST"],
)
@signin_required
def instance_action(instance_id: int, action: str) -> Any:
    p = require_admin()
    inst = visible_instance(instance_id)
    form = request.form if request.method == "POST" else request.args
    ctx: dict[str, Any] = {
        "inst": inst,
        "title": redactor(p).text(inst.title, inst.data),
        "action": action,
        "label": ACTION_LABELS[action],
        "help": ACTION_HELP[action],
        "status_label": STATUS_LABELS.get(inst.status, inst.status),
        "reason": (form.get("reason") or "").strip()[:500],
        "errors": {},
        "variables_text": form.get("variables") or "",
    }
    task = None
    if action == "reassign":
        try:
            task_id = int(form.get("task_id") or "0")
        except ValueError:
            task_id = 0
        task = db().scalars(select(HumanTask).where(HumanTask.id == task_id, HumanTask.instance_id == inst.id)).first()
        if task is None:
            raise NotFound("instance {instance_id} has no task {task_id}", instance_id=inst.id, task_id=task_id)
        ctx["task"] = task
        ctx["candidates"] = candidates(db(), task)
        ctx["username"] = form.get("username") or ""
        assignee = db().get(User, task.assignee_id) if task.assignee_id else None
        ctx["assignee"] = assignee.display_name if assignee else None
    if action == "fire_timer":
        try:
            ctx["timers"] = schedules.instance_timers(inst) if inst.status == "running" else []
        except Exception:
            ctx["timers"] = []
        ctx["timer_id"] = form.get("timer_id") or ""
    if request.method == "GET" or form.get("confirmed") != "yes":
        return render_template("instance_action.html", **ctx)

    # confirmed: check the input, then act
    variables = None
    if action == "terminate" and not ctx["reason"]:
        ctx["errors"]["reason"] = gettext("Give a reason.")
    if action == "retry" and ctx["variables_text"].strip():
        try:
            variables = json.loads(ctx["variables_text"])
        except ValueError as exc:
            ctx["errors"]["variables"] = gettext("Not valid JSON: %(error)s", error=str(exc))
        else:
            if not isinstance(variables, dict):
                ctx["errors"]["variables"] = gettext('Give a JSON object, e.g. {"unit_id": "xinsheng"}.')
    if action == "reassign" and not ctx["username"]:
        ctx["errors"]["username"] = gettext("Choose a member.")
    if ctx["errors"]:
        return render_template("instance_action.html", **ctx), 422
    try:
        done = instances_service.act(
            runtime(),
            p,
            InstanceAction(
                inst.id,
                action,
                ctx["reason"],
                variables,
                task_id=task.id if task is not None else None,
                username=ctx["username"] if task is not None else "",
                timer_id=ctx["timer_id"] or None if action == "fire_timer" else None,
            ),
        )
    except Invalid as exc:
        field = next((d.get("field") for d in (exc.details or []) if isinstance(d, dict)), None) or "form"
        ctx["errors"][field] = exc.message
        return render_template("instance_action.html", **ctx), 422
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("trace.instance", instance_id=inst.id))
    messages = {
        "suspend": gettext("The instance was suspended."),
        "resume": gettext("The instance was resumed."),
        "terminate": gettext("The instance was terminated."),
        "retry": gettext("The failed step was run again."),
        "reassign": gettext("%(name)s was reassigned.", name=task.name if task is not None else ""),
        "fire_timer": gettext("The timer %(id)s fired.", id=done.fired),
    }
    flash(messages[action], "success")
    db().expire_all()
    after = db().get(ProcessInstance, inst.id)
    if after is not None and after.status == "error" and action in ("retry", "resume", "fire_timer"):
        flash(
            gettext(
                "The instance stopped at an error again: %(message)s",
                message=redactor(p).text(after.error_message, after.data) or "",
            ),
            "error",
        )
    return redirect(url_for("trace.instance", instance_id=inst.id))


# ---- the heatmap of a definition --------------------------------------------------------------------------


@bp.get("/processes/<key>/heatmap")
@signin_required
def heatmap(key: str) -> Any:
    p = me()
    raw = request.args.get("version", "")
    if raw:
        try:
            d = repository.get_version(db(), key, int(raw))
        except ValueError:
            raise Invalid("version must be a number", [field_error("version", "not a version number")]) from None
    else:
        d = repository.latest(db(), key, active_only=False)
    versions = (
        db()
        .scalars(
            select(ProcessDefinition.version)
            .where(ProcessDefinition.key == key)
            .order_by(ProcessDefinition.version.desc())
        )
        .all()
    )
    # the API's rule: counts over every instance for process owners, else over the visible ones
    data = trace.heatmap(db(), d, policy.heatmap_scope(p))
    model = bpmn_diff.parse(d.xml, 1 << 30)
    rows = []
    for eid, counts in data["elements"].items():
        el = model.elements.get(eid)
        if el is not None and el.type == "sequenceFlow":
            continue
        rows.append(
            {
                "id": eid,
                "name": (el.name if el else None) or (kind_label(el.type) if el else eid),
                "type": kind_label(el.type) if el else "",
                "process": el.process if el else None,
                **counts,
            }
        )
    rows.sort(key=lambda r: (-r["active"], -r["failed"], -r["completed"], r["name"]))
    mode = "completed" if request.args.get("mode") == "completed" else "active"
    return render_template(
        "heatmap.html",
        d=d,
        key=key,
        versions=versions,
        rows=rows,
        mode=mode,
        instances=data["instances"],
        status_labels=STATUS_LABELS,
    )


NAV = [
    nav_item("trace.instances", lazy_gettext("Tracing"), order=60, prefix="/instances", visible=policy.may_trace),
    nav_item(
        "schedules.schedules_page",
        lazy_gettext("Schedules"),
        order=70,
        prefix="/schedules",
        visible=policy.may_see_schedules,
    ),
]
