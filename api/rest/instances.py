"""Process instances: list with filters, detail, history, admin actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from engine.errors import Invalid, field_error
from engine.models import EventLog, ProcessInstance, User
from engine.org.nodes import Principal
from engine.services import instances as instances_service
from engine.services import task_view
from engine.services import tasks as tasks_service
from engine.services.instances import InstanceAction, InstanceFilter, InstanceRow

from ..auth import current_principal, login_required, roles_required
from ..extensions import clock, db, redactor, runtime
from ..reads import note_view
from .common import body, date_arg, int_arg, iso, page, page_json, page_request
from .tasks import task_json

bp = Blueprint("api_instances", __name__, url_prefix="/api/v1")


# ---- process instances ---------------------------------------------------------------------------


def instance_json(inst: ProcessInstance | InstanceRow, p: Principal, detail: bool = False) -> dict[str, Any]:
    """An instance in the API's shape: a list row (already redacted) or, for the detail, the instance."""
    if isinstance(inst, InstanceRow):
        title, error, name, version = inst.title, inst.error_message, inst.process_name, inst.def_version
    else:
        red = redactor(p)
        title, error = red.text(inst.title, inst.data), red.text(inst.error_message, inst.data)
        name, version = inst.definition.name, inst.definition.version
    out: dict[str, Any] = {
        "id": inst.id,
        "process_key": inst.process_key,
        "process_name": name,
        "definition_version": version,
        "status": inst.status,
        "title": title,
        "scope_node_id": inst.scope_node_id,
        "unit_id": inst.unit_id,
        "parent_id": inst.parent_id,
        "root_id": inst.root_id,
        "started_at": iso(inst.started_at),
        "ended_at": iso(inst.ended_at),
        "updated_at": iso(inst.updated_at),
        "next_timer_at": iso(inst.next_timer_at),
        "version": inst.version,
        "incident": {"message": error, "task": inst.error_task} if inst.error_message else None,
    }
    if detail and isinstance(inst, ProcessInstance):
        view = task_view.instance_view(db(), p, inst, redactor(p))
        out["open_tasks"] = [
            task_json(r.task, r.node_name, r.assignee, view.title)
            for r in tasks_service.open_of_instance(db(), redactor(p), inst.id)
        ]
        out["variables"] = view.variables
        out["copies"] = [{**c, "at": iso(c["at"])} for c in view.copies]  # 抄送
        out["decisions"] = [e.json() for e in view.decisions]  # issue 17: approvals, signatures, collective records
        starter = db().get(User, inst.started_by_id) if inst.started_by_id else None
        out["started_by"] = starter.username if starter else None
        out["children"] = instances_service.child_counts(db(), inst.id)
        out["continuing"] = [
            {
                "element": c.element,
                "name": c.name,
                "kind": c.kind,
                "started": c.started,
                "total": c.total,
                "failed_attempts": c.attempts,
            }
            for c in instances_service.continuing(db(), inst.id)
        ]
        if view.incident_traceback is not None:
            out["incident"]["traceback"] = view.incident_traceback
    return out


def visible_instance(instance_id: int) -> ProcessInstance:
    return instances_service.visible_instance(db(), current_principal(), instance_id)


def instance_filter() -> InstanceFilter:
    """The query parameters of `GET /process-instances` as the one instance filter."""
    args = request.args
    level = "top" if args.get("top_level") in ("1", "true") else None
    return InstanceFilter(
        status=args.get("status") or None,
        process_key=args.get("key") or None,
        unit_id=args.get("unit_id") or None,
        parent_id=int_arg("parent_id", 1) if args.get("parent_id") else None,
        level=level,
        started_after=date_arg("started_after"),
        started_before=date_arg("started_before"),
        incident=args.get("incident") in ("1", "true"),
        overdue=args.get("overdue") in ("1", "true"),
    )


@bp.get("/process-instances")
@login_required
def instances() -> Response:
    p = current_principal()
    pg = instances_service.list_instances(db(), p, instance_filter(), page_request(), clock().now(), redactor(p))
    return page_json(pg, lambda r: instance_json(r, p))


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
        return {
            "id": e.id,
            "at": iso(e.at),
            "type": e.type,
            "actor": e.actor,
            "task_id": e.task_id,
            "payload": red.payload(e.type, e.payload, inst.data),
        }

    out = page(q, render)
    note_view("history", [e["payload"] for e in out.get_json()["items"]], red.active, inst.id)
    return out


def _admin_action(instance_id: int, action: str) -> Response:
    p = current_principal()
    visible_instance(instance_id)
    data = body()
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise Invalid("reason must be a string", [field_error("reason", "expected a string")])
    variables = data.get("variables") if action == "retry" else None
    if variables is not None and not isinstance(variables, dict):
        raise Invalid("variables must be a JSON object", [field_error("variables", "expected an object")])
    done = instances_service.act(runtime(), p, InstanceAction(instance_id, action, reason, variables))
    return jsonify(instance_json(done.instance, p, detail=True))


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
