"""Tasks: the worklist, one task, claim, release, complete, reassign."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from engine.errors import Invalid, NotFound
from engine.models import HumanTask, OrgNode, ProcessInstance, User
from engine.org.routing import (
    can_act_on,
    offered_clause,
    task_visible_clause,
)
from engine.services import task_view

from ..auth import current_principal, login_required
from ..extensions import clock, db, redactor, runtime, state
from ..reads import note_view
from .common import body, commit, date_arg, int_arg, iso, page, str_field

bp = Blueprint("api_tasks", __name__, url_prefix="/api/v1")


# ---- tasks -------------------------------------------------------------------------------------------

def task_json(t: HumanTask, node_name: str | None = None, assignee: str | None = None,
              title: str | None = None) -> dict[str, Any]:
    now = clock().now()
    return {"id": t.id, "name": t.name, "process_key": t.process_key, "instance_id": t.instance_id,
            "instance_title": title, "spec_id": t.spec_id, "lane": t.lane, "tier": t.tier, "node_id": t.node_id,
            "node_name": node_name, "unit_id": t.unit_id, "assignee": assignee, "created_at": iso(t.created_at),
            "due_at": iso(t.due_at), "status": t.status, "overdue": bool(t.status == "open" and t.due_at and t.due_at < now),
            "completed_at": iso(t.completed_at), "form_key": t.form_key}


_ASSIGNEE = aliased(User, name="assignee")  # made once: a fresh alias per request costs more than the query


def task_query() -> Select[Any]:
    assignee = _ASSIGNEE
    return (select(HumanTask, OrgNode.name, assignee.username, ProcessInstance.title)
            .join(OrgNode, OrgNode.id == HumanTask.node_id)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .outerjoin(assignee, assignee.id == HumanTask.assignee_id))



TASK_STATUSES = ("open", "completed", "cancelled")


@bp.get("/tasks")
@login_required
def tasks() -> Response:
    p = current_principal()
    status = request.args.get("status", "open")
    if status not in TASK_STATUSES:
        raise Invalid(f"status must be one of {', '.join(TASK_STATUSES)}", [{"field": "status", "message": status}])
    q = task_query()
    if status == "open":
        q = q.where(HumanTask.status == "open", offered_clause(p))
    elif status == "completed":
        q = q.where(HumanTask.status == "completed", HumanTask.completed_by_id == p.id)
    else:
        q = q.where(HumanTask.status == "cancelled", task_visible_clause(p))
    if request.args.get("process_key"):
        q = q.where(HumanTask.process_key == request.args["process_key"])
    if request.args.get("unit_id"):
        q = q.where(HumanTask.unit_id == request.args["unit_id"])
    if request.args.get("node_id"):
        q = q.where(HumanTask.node_id == request.args["node_id"])
    if request.args.get("instance_id"):
        q = q.where(HumanTask.instance_id == int_arg("instance_id", 1))
    due_before = date_arg("due_before")
    if due_before:
        q = q.where(HumanTask.due_at < due_before)
    if request.args.get("overdue") in ("1", "true"):
        q = q.where(HumanTask.due_at < clock().now())
    if request.args.get("assigned") in ("1", "true"):
        q = q.where(HumanTask.assignee_id == p.id)
    if status == "open":
        q = q.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    else:
        q = q.order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())
    red = redactor(p)
    if red.active:  # titles may quote confidential values: read the instances' data with them
        return page(q.add_columns(ProcessInstance.data), lambda r: task_json(r[0], r[1], r[2], red.text(r[3], r[4])))
    return page(q, lambda r: task_json(*r))


def visible_task_row(task_id: int) -> Any:
    row = db().execute(task_query().where(HumanTask.id == task_id, task_visible_clause(current_principal()))).first()
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    return row


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int) -> Response:
    """The task as `engine.services.task_view` shows it (the task page shows the same view)."""
    row = visible_task_row(task_id)
    t: HumanTask = row[0]
    p = current_principal()
    view = task_view.task_view(db(), p, t, redactor(p))
    out = task_json(*row)
    out["instance_title"] = view.title
    out["form"] = state().forms.schema(t.form_key) if t.form_key else None
    out["can_complete"] = t.status == "open" and can_act_on(p, t)
    out["context"] = view.context
    out["data"] = view.data
    out["definition_version"] = view.instance.definition.version
    out["previous"] = [s.json() for s in view.previous]
    out["history"] = [e.json() for e in view.history]
    out["sent_back"] = view.sent_back.json() if view.sent_back is not None else None
    note_view("task", [view.data, view.context, [s.data for s in view.previous]], redactor(p).active,
              t.instance_id, t.id)
    return jsonify(out)


def _task_response(task_id: int) -> Response:
    t, node_name, assignee, title = visible_task_row(task_id)
    red = redactor(current_principal())
    if red.active:
        inst = db().get(ProcessInstance, t.instance_id)
        title = red.text(title, inst.data if inst else None)
    return jsonify(task_json(t, node_name, assignee, title))


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> Response:
    runtime().claim(task_id, current_principal())
    commit()
    return _task_response(task_id)


@bp.post("/tasks/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int) -> Response:
    runtime().unclaim(task_id, current_principal())
    commit()
    return _task_response(task_id)


@bp.post("/tasks/<int:task_id>/complete")
@login_required
def complete(task_id: int) -> Response:
    data = body()
    values = data.get("data", {})
    if not isinstance(values, dict):
        raise Invalid("data must be a JSON object", [{"field": "data", "message": "expected an object"}])
    t = runtime().complete(task_id, values, current_principal())
    inst = db().get(ProcessInstance, t.instance_id)
    commit()
    out = task_json(t)
    out["instance_status"] = inst.status if inst else None
    return jsonify(out)


@bp.post("/tasks/<int:task_id>/assign")
@login_required
def assign(task_id: int) -> Response:
    data = body()
    username = str_field(data, "username")
    p = current_principal()
    runtime().assign(task_id, username or "", p, handover=not p.is_admin)
    commit()
    return _task_response(task_id)
