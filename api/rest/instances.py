"""Process instances: list with filters, detail, history, admin actions."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select

from engine.errors import Invalid, NotFound
from engine.models import EventLog, HumanTask, ProcessInstance, User
from engine.org.nodes import Principal
from engine.org.routing import (
    instance_visible_clause,
)
from engine.services import task_view

from ..auth import current_principal, login_required, roles_required
from ..extensions import clock, db, redactor, runtime
from ..reads import note_view
from .common import body, commit, date_arg, int_arg, iso, page
from .tasks import task_json, task_query

bp = Blueprint("api_instances", __name__, url_prefix="/api/v1")


# ---- process instances ---------------------------------------------------------------------------

def instance_json(inst: ProcessInstance, p: Principal, detail: bool = False) -> dict[str, Any]:
    d = inst.definition
    red = redactor(p)
    out: dict[str, Any] = {
        "id": inst.id, "process_key": inst.process_key, "process_name": d.name, "definition_version": d.version,
        "status": inst.status, "title": red.text(inst.title, inst.data), "scope_node_id": inst.scope_node_id,
        "unit_id": inst.unit_id, "parent_id": inst.parent_id, "root_id": inst.root_id,
        "started_at": iso(inst.started_at), "ended_at": iso(inst.ended_at), "updated_at": iso(inst.updated_at),
        "next_timer_at": iso(inst.next_timer_at), "version": inst.version,
        "incident": {"message": red.text(inst.error_message, inst.data), "task": inst.error_task}
        if inst.error_message else None,
    }
    if detail:
        view = task_view.instance_view(db(), p, inst, red)
        rows = db().execute(task_query().where(HumanTask.instance_id == inst.id, HumanTask.status == "open")
                            .order_by(HumanTask.id)).all()
        out["open_tasks"] = [task_json(r[0], r[1], r[2], view.title) for r in rows]
        out["variables"] = view.variables
        starter = db().get(User, inst.started_by_id) if inst.started_by_id else None
        out["started_by"] = starter.username if starter else None
        children = db().execute(select(ProcessInstance.status, func.count()).where(ProcessInstance.parent_id == inst.id)
                                .group_by(ProcessInstance.status)).all()
        out["children"] = {status: n for status, n in children}
        if view.incident_traceback is not None:
            out["incident"]["traceback"] = view.incident_traceback
    return out


def visible_instance(instance_id: int) -> ProcessInstance:
    p = current_principal()
    inst = db().scalars(select(ProcessInstance).where(ProcessInstance.id == instance_id,
                                                      instance_visible_clause(p))).first()
    if inst is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return inst


STATUSES = ("running", "completed", "terminated", "suspended", "error")


@bp.get("/process-instances")
@login_required
def instances() -> Response:
    p = current_principal()
    q = select(ProcessInstance).where(instance_visible_clause(p))
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}", [{"field": "status", "message": status}])
        q = q.where(ProcessInstance.status == status)
    if request.args.get("key"):
        q = q.where(ProcessInstance.process_key == request.args["key"])
    if request.args.get("unit_id"):
        q = q.where(ProcessInstance.unit_id == request.args["unit_id"])
    if request.args.get("parent_id"):
        q = q.where(ProcessInstance.parent_id == int_arg("parent_id", 1))
    if request.args.get("top_level") in ("1", "true"):
        q = q.where(ProcessInstance.parent_id.is_(None))
    after, before = date_arg("started_after"), date_arg("started_before")
    if after:
        q = q.where(ProcessInstance.started_at >= after)
    if before:
        q = q.where(ProcessInstance.started_at < before)
    if request.args.get("incident") in ("1", "true"):
        q = q.where(ProcessInstance.status == "error")
    if request.args.get("overdue") in ("1", "true"):
        q = q.where(ProcessInstance.id.in_(select(HumanTask.instance_id).where(
            HumanTask.status == "open", HumanTask.due_at < clock().now())))
    q = q.order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
    return page(q, lambda r: instance_json(r[0], p))


@bp.get("/process-instances/<int:instance_id>")
@login_required
def instance(instance_id: int) -> Response:
    p = current_principal()
    out = instance_json(visible_instance(instance_id), p, detail=True)
    note_view("instance", out["variables"], redactor(p).active, instance_id)
    return jsonify(out)


@bp.get("/process-instances/<int:instance_id>/history")
@login_required
def history(instance_id: int) -> Response:
    inst = visible_instance(instance_id)
    red = redactor(current_principal())
    q = select(EventLog).where(EventLog.instance_id == inst.id).order_by(EventLog.id)

    def render(row: Any) -> dict[str, Any]:
        e: EventLog = row[0]
        return {"id": e.id, "at": iso(e.at), "type": e.type, "actor": e.actor, "task_id": e.task_id,
                "payload": red.payload(e.type, e.payload, inst.data)}

    out = page(q, render)
    note_view("history", [e["payload"] for e in out.get_json()["items"]], red.active, inst.id)
    return out


def _admin_action(instance_id: int, action: str) -> Response:
    p = current_principal()
    visible_instance(instance_id)
    data = body()
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise Invalid("reason must be a string", [{"field": "reason", "message": "expected a string"}])
    rt = runtime()
    if action == "suspend":
        inst = rt.suspend(instance_id, p, reason)
    elif action == "resume":
        inst = rt.resume(instance_id, p, reason)
    elif action == "terminate":
        inst = rt.terminate(instance_id, p, reason)
    else:
        variables = data.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise Invalid("variables must be a JSON object", [{"field": "variables", "message": "expected an object"}])
        inst = rt.retry(instance_id, p, variables)
    commit()
    return jsonify(instance_json(inst, p, detail=True))


@bp.post("/process-instances/<int:instance_id>/suspend")
@roles_required("admin")
def suspend(instance_id: int) -> Response:
    return _admin_action(instance_id, "suspend")


@bp.post("/process-instances/<int:instance_id>/resume")
@roles_required("admin")
def resume(instance_id: int) -> Response:
    return _admin_action(instance_id, "resume")


@bp.post("/process-instances/<int:instance_id>/terminate")
@roles_required("admin")
def terminate(instance_id: int) -> Response:
    return _admin_action(instance_id, "terminate")


@bp.post("/process-instances/<int:instance_id>/retry")
@roles_required("admin")
def retry(instance_id: int) -> Response:
    return _admin_action(instance_id, "retry")
