"""Tasks: the worklist, one task, claim, release, complete, reassign."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.errors import Invalid, field_error
from engine.models import HumanTask
from engine.org.routing import can_act_on
from engine.services import task_view
from engine.services import tasks as tasks_service
from engine.services.tasks import TaskCommand, TaskFilter, TaskRow, task_query  # noqa: F401 - task_query: bench/worklist.py

from ..auth import current_principal, login_required
from ..extensions import clock, db, redactor, runtime, state
from ..reads import note_view
from .common import body, date_arg, int_arg, iso, page_json, page_request, str_field

bp = Blueprint("api_tasks", __name__, url_prefix="/api/v1")


# ---- tasks -------------------------------------------------------------------------------------------


def task_json(
    t: HumanTask, node_name: str | None = None, assignee: str | None = None, title: str | None = None
) -> dict[str, Any]:
    now = clock().now()
    return {
        "id": t.id,
        "name": t.name,
        "process_key": t.process_key,
        "instance_id": t.instance_id,
        "instance_title": title,
        "spec_id": t.spec_id,
        "lane": t.lane,
        "tier": t.tier,
        "node_id": t.node_id,
        "node_name": node_name,
        "unit_id": t.unit_id,
        "assignee": assignee,
        "created_at": iso(t.created_at),
        "due_at": iso(t.due_at),
        "status": t.status,
        "overdue": bool(t.status == "open" and t.due_at and t.due_at < now),
        "completed_at": iso(t.completed_at),
        "form_key": t.form_key,
    }


def task_filter() -> TaskFilter:
    """The query parameters of `GET /tasks` as the one task filter."""
    args = request.args
    return TaskFilter(
        list=args.get("status", "open"),
        process_key=args.get("process_key") or None,
        unit_id=args.get("unit_id") or None,
        node_id=args.get("node_id") or None,
        instance_id=int_arg("instance_id", 1) if args.get("instance_id") else None,
        due_before=date_arg("due_before"),
        overdue=args.get("overdue") in ("1", "true"),
        assigned=args.get("assigned") in ("1", "true"),
    )


@bp.get("/tasks")
@login_required
def tasks() -> Response:
    p = current_principal()
    f = task_filter()
    if f.list not in tasks_service.STATUSES:  # 督办 is a page of its own, not a status
        allowed = ", ".join(tasks_service.STATUSES)
        raise Invalid(
            "status must be one of {allowed}",
            [field_error("status", "must be one of {allowed}", "enum", allowed=allowed)],
            allowed=allowed,
        )
    pg = tasks_service.list_tasks(db(), p, f, page_request(), clock().now(), redactor(p))
    return page_json(pg, lambda r: task_json(r.task, r.node_name, r.assignee, r.instance_title))


def visible_task_row(task_id: int) -> TaskRow:
    p = current_principal()
    return tasks_service.visible_row(db(), p, task_id, redactor(p))


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int) -> Response:
    """The task as `engine.services.task_view` shows it (the task page shows the same view)."""
    row = visible_task_row(task_id)
    t: HumanTask = row.task
    p = current_principal()
    copy_only = row.reading == "copy"  # 抄送: the step's data only (engine/org/policy.py task_reading)
    view = task_view.task_view(db(), p, t, redactor(p), state().forms, copy_only=copy_only)
    out = task_json(t, row.node_name, row.assignee, row.instance_title)
    out["copied"] = copy_only
    out["instance_title"] = None if copy_only else view.title
    out["form"] = view.form.json() if view.form is not None else None
    out["can_complete"] = t.status == "open" and can_act_on(p, t)
    out["context"] = view.context
    out["rollups"] = [r.json() for r in view.rollups]  # `rollUp` tables: node names, the fields' form titles
    out["data"] = view.data
    out["definition_version"] = view.instance.definition.version
    out["previous"] = [s.json() for s in view.previous]
    out["history"] = [e.json() for e in view.history]
    out["sent_back"] = view.sent_back.json() if view.sent_back is not None else None
    out["kind"] = t.kind  # task | approval (issue 17)
    out["decisions"] = [e.json() for e in view.decisions]
    out["returned"] = view.returned.json() if view.returned is not None else None
    if t.kind == "approval":
        out["subject_task_id"] = t.subject_task_id
        out["subject_data"] = view.subject_data
    if view.returned is not None and view.data is not None and out["form"] is not None:
        out["form"]["prefill"] = view.data  # 退回 by the approver: the doer's previous data
    note_view(
        "task", [view.data, view.context, [s.data for s in view.previous]], redactor(p).active, t.instance_id, t.id
    )
    return jsonify(out)


def _task_response(task_id: int) -> Response:
    row = visible_task_row(task_id)
    return jsonify(task_json(row.task, row.node_name, row.assignee, row.instance_title))


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> Response:
    tasks_service.act(runtime(), current_principal(), TaskCommand(task_id, "claim"))
    return _task_response(task_id)


@bp.post("/tasks/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int) -> Response:
    tasks_service.act(runtime(), current_principal(), TaskCommand(task_id, "unclaim"))
    return _task_response(task_id)


@bp.post("/tasks/<int:task_id>/complete")
@login_required
def complete(task_id: int) -> Response:
    data = body()
    values = data.get("data", {})
    if not isinstance(values, dict):
        raise Invalid("data must be a JSON object", [field_error("data", "expected an object")])
    done = tasks_service.act(runtime(), current_principal(), TaskCommand(task_id, "complete", values))
    out = task_json(done.task)
    out["instance_status"] = done.instance_status
    return jsonify(out)


@bp.post("/tasks/<int:task_id>/assign")
@login_required
def assign(task_id: int) -> Response:
    data = body()
    username = str_field(data, "username")
    tasks_service.act(runtime(), current_principal(), TaskCommand(task_id, "assign", username=username or ""))
    return _task_response(task_id)
