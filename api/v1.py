"""The JSON API, `/api/v1`: parse input, call the engine, commit, render.

Shapes are documented in `openapi.py` (served at /api/v1/openapi.json); a test checks
that every route here is documented there and the other way round.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request, session
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from engine.org import auth as engine_auth
from engine.infra import events
from engine.org import nodes as org
from engine.org import policy
from engine.core import repository
from engine.services import task_view
from engine.errors import BadRequest, Invalid, NotFound, TooManyRequests
from engine.models import EventLog, HumanTask, OrgNode, ProcessDefinition, ProcessInstance, User
from engine.org.nodes import Principal
from engine.org.routing import (
    can_act_on,
    instance_visible_clause,
    offered_clause,
    task_visible_clause,
)

from .auth import bearer_token, client_address, current_principal, login_required, roles_required
from .extensions import clock, db, redactor, runtime, settings, state
from .reads import note_view

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

MAX_PER_PAGE = 500


# ---- helpers -------------------------------------------------------------------------------

def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        if request.data.strip():
            raise BadRequest("the request body must be JSON")
        return {}
    if not isinstance(data, dict):
        raise Invalid("the request body must be a JSON object", [{"field": "", "message": "expected an object"}])
    return data


def int_arg(name: str, default: int, lo: int = 1, hi: int | None = 2**31 - 1) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"query parameter {name} must be an integer", [{"field": name, "message": "not an integer"}]) from None
    if value < lo or (hi is not None and value > hi):
        raise Invalid(f"query parameter {name} must be between {lo} and {hi}", [{"field": name, "message": "out of range"}])
    return value


def date_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"query parameter {name} must be an ISO 8601 date or date-time",
                      [{"field": name, "message": "not ISO 8601"}]) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=settings().zone)
    return dt


def page(query: Select[Any], render: Any) -> Response:
    """One page of `query` with the total. The page is read first: when it is the last one (some
    rows, fewer than asked for, or an empty first page) the total follows from it, and the COUNT
    query — a second pass over the same rows — is only run when more pages may follow."""
    p = int_arg("page", 1)
    per_page = int_arg("per_page", 50, 1, MAX_PER_PAGE)
    offset = (p - 1) * per_page
    rows = db().execute(query.limit(per_page).offset(offset)).all()
    if (rows or p == 1) and len(rows) < per_page:
        total = offset + len(rows)
    else:
        total = db().scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return jsonify({"items": [render(r) for r in rows], "total": total, "page": p, "per_page": per_page})


def commit() -> None:
    db().commit()


def str_field(data: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{name} is required and must be a non-empty string", [{"field": name, "message": "required string"}])
    return value.strip()


# ---- health and auth --------------------------------------------------------------------------

@bp.get("/healthz")
def healthz_v1() -> Response:
    return healthz()


def healthz() -> Response:
    db().execute(select(1))
    return jsonify({"status": "ok", "database": db().get_bind().dialect.name})


@bp.post("/auth/login")
def login() -> tuple[Response, int]:
    data = body()
    username = str_field(data, "username")
    password = data.get("password")
    if not isinstance(password, str) or not password:
        raise Invalid("password is required", [{"field": "password", "message": "required string"}])
    now = clock().now()
    if len(username or "") > 64 or "\x00" in (username or "") or "\x00" in password:
        # no account can have such a name (usernames are 64 characters at most; PostgreSQL text holds no NUL)
        from engine.errors import Unauthorized

        raise Unauthorized("wrong username or password")
    try:
        result = engine_auth.authenticate(db(), settings(), now, username or "", password, client_address())
    except Exception as exc:
        commit()  # keep the failure counts and the audit event (login_failed / login_throttled)
        exc.audited = True  # type: ignore[attr-defined]
        raise
    token = engine_auth.issue_token(db(), result.user, now, settings().token_ttl_hours,
                                    password_change_only=result.password_change_only)
    commit()
    return jsonify({"token": token, "token_type": "Bearer", "expires_in": settings().token_ttl_hours * 3600,
                    "password_change_required": result.password_change_only}), 200


@bp.post("/auth/logout")
@login_required
def logout() -> Response:
    token = bearer_token()
    if token:
        engine_auth.revoke_token(db(), token, clock().now())
    events.log(db(), clock().now(), "logout", actor=current_principal())
    commit()
    return jsonify({"status": "logged_out"})


@bp.post("/auth/password")
@login_required
def change_password() -> Response:
    """The caller changes their own password (old + new). Every other token and session of the
    user ends; this token stays and is no longer restricted to changing the password."""
    data = body()
    old, new = data.get("old_password"), data.get("new_password")
    for name, value in (("old_password", old), ("new_password", new)):
        if not isinstance(value, str) or not value:
            raise Invalid(f"{name} is required", [{"field": name, "message": "required string"}])
    try:
        engine_auth.change_password(db(), settings(), clock().now(), current_principal(), old, new,
                                    client=client_address(), keep_token=bearer_token() or session.get("sid"))
    except (Invalid, TooManyRequests) as exc:
        if isinstance(exc, TooManyRequests) or exc.details[0]["field"] == "old_password":
            commit()  # a wrong old password counts as a failed login: keep the count and the event
        raise
    commit()
    return jsonify({"status": "password_changed"})


def principal_json(p: Principal) -> dict[str, Any]:
    names = dict(db().execute(select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(p.node_ids()))).all())
    return {
        "id": p.id, "username": p.username, "display_name": p.display_name,
        "roles": [{"role": r.role, "node_id": r.node_id, "tier": r.tier, "node_name": names.get(r.node_id or "")}
                  for r in p.roles],
        "is_admin": p.is_admin, "is_process_owner": p.is_process_owner,
    }


@bp.get("/me")
@login_required
def me() -> Response:
    return jsonify({**principal_json(current_principal()),
                    "password_change_required": bool(g.get("password_change_only"))})


# ---- organisation -------------------------------------------------------------------------------

@bp.get("/org")
@login_required
def org_tree() -> Response:
    return jsonify(org.tree(db()))


# ---- process definitions ---------------------------------------------------------------------------

def definition_json(d: ProcessDefinition, detail: bool = False) -> dict[str, Any]:
    out = {"id": d.id, "key": d.key, "name": d.name, "version": d.version, "sha256": d.sha256,
           "filename": d.filename, "deployed_by": d.deployed_by, "deployed_at": iso(d.deployed_at),
           "active": d.active, "called_only": bool((d.info or {}).get("called_only")),
           "start_events": (d.info or {}).get("start_events", []),
           "documentation": (d.info or {}).get("documentation", "")}
    if detail:
        out.update(lanes=d.info.get("lanes", []), user_tasks=d.info.get("user_tasks", []),
                   calls=d.info.get("calls", []))
    return out


@bp.get("/process-definitions")
@login_required
def definitions() -> Response:
    newest = (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
              .where(ProcessDefinition.active.is_(True)).group_by(ProcessDefinition.key).subquery())
    q = (select(ProcessDefinition).join(newest, (newest.c.key == ProcessDefinition.key) & (newest.c.v == ProcessDefinition.version))
         .order_by(ProcessDefinition.key))
    return page(q, lambda r: definition_json(r[0]))


@bp.post("/process-definitions")
@roles_required("process_owner")
def deploy() -> tuple[Response, int]:
    max_bytes = settings().max_bpmn_bytes
    if request.content_length and request.content_length > max_bytes + 64 * 1024:
        from engine.errors import TooLarge

        raise TooLarge(f"the upload is {request.content_length} bytes; the BPMN limit is {max_bytes} bytes")
    if request.mimetype in ("multipart/form-data",):
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("multipart upload needs a field named file", [{"field": "file", "message": "missing"}])
        data, filename = upload.read(max_bytes + 1), upload.filename or "upload.bpmn"
    elif request.mimetype in ("application/xml", "text/xml", "application/bpmn+xml"):
        data, filename = request.get_data(cache=False), request.args.get("filename", "upload.bpmn")
    else:
        from engine.errors import SanjiError

        err = SanjiError("send the BPMN as application/xml or as multipart field 'file'")
        err.status, err.code = 415, "unsupported_media_type"
        raise err
    p = current_principal()
    result = repository.deploy(db(), data, filename, p.username, clock().now(), state().forms, max_bytes,
                               settings=settings())
    events.log(db(), clock().now(), "definition_deployed" if result.created else "definition_unchanged", actor=p,
               payload={"filename": filename, "definitions": [{"key": d.key, "version": d.version} for d in result.definitions]})
    commit()
    return jsonify({"created": result.created,
                    "definitions": [definition_json(d, True) for d in result.definitions]}), 201 if result.created else 200


@bp.get("/process-definitions/<key>")
@login_required
def definition(key: str) -> Response:
    return jsonify(definition_json(repository.latest(db(), key), True))


@bp.get("/process-definitions/<key>/versions")
@login_required
def definition_versions(key: str) -> Response:
    q = select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())
    if db().scalar(select(func.count()).select_from(q.subquery())) == 0:
        raise NotFound(f"process {key!r} is not deployed")
    return page(q, lambda r: definition_json(r[0]))


@bp.get("/process-definitions/<key>/xml")
@login_required
def definition_xml(key: str) -> Response:
    version = request.args.get("version")
    if version:
        d = repository.get_version(db(), key, int_arg("version", 1))
    else:
        d = repository.latest(db(), key, active_only=False)
    return Response(d.xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'inline; filename="{d.key}-v{d.version}.bpmn"'})


@bp.post("/process-definitions/<key>/start")
@login_required
def start(key: str) -> tuple[Response, int]:
    data = body()
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise Invalid("variables must be a JSON object", [{"field": "variables", "message": "expected an object"}])
    p = current_principal()
    d = repository.latest(db(), key)
    start_event = data.get("start_event")
    if start_event is not None and not isinstance(start_event, str):
        raise Invalid("start_event must be a string", [{"field": "start_event", "message": "expected a string"}])
    policy.default_scope(db(), p, d, variables)
    # refusals are 403 (api/errors.py writes the access_refused event) or 422 naming the field
    policy.check_start(db(), p, d, variables, start_event)
    inst = runtime().start(d, variables, p, start_event=start_event)
    commit()
    return jsonify(instance_json(inst, p, detail=True)), 201


# ---- process instances ---------------------------------------------------------------------------

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


# ---- tasks -------------------------------------------------------------------------------------------

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


