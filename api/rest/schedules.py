"""Schedules and jobs: the admin API of timers, the `scheduler` command, the embedded scheduler.

GET  /api/v1/schedules                     timer start schedules with their next 4 fire times
GET  /api/v1/schedules/{id}
POST /api/v1/schedules/{id}/pause|resume   (admin)
GET  /api/v1/jobs                          timers waiting inside running instances (admin)
POST /api/v1/jobs/{id}/execute             fire an instance's timer now (admin)
POST /api/v1/process-definitions/{key}/undeploy   (process_owner, admin)

flask --app app scheduler [--once]         the scheduler process (production)
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy import func, select

from engine.core import repository, schedules
from engine.core.scheduler import Scheduler, TickResult
from engine.errors import Invalid, NotFound, field_error
from engine.infra import events
from engine.models import ProcessDefinition, ProcessInstance, Schedule

from ..auth import current_principal, login_required, roles_required
from ..extensions import clock, db, redactor, runtime, state
from . import openapi
from .common import body, date_arg, int_arg, iso
from .schedules_openapi import JOBS_MAX_PER_PAGE
from .schedules_openapi import document as _document

bp = Blueprint("api_schedules", __name__, url_prefix="/api/v1", cli_group=None)
log = logging.getLogger("sanji.scheduler")


# ---- schedules ----------------------------------------------------------------------------------------


def schedule_json(row: Schedule, name: str | None = None) -> dict[str, Any]:
    zone = ZoneInfo(row.timezone)
    now = clock().now()

    def local(dt: datetime | None) -> str | None:
        return dt.astimezone(zone).isoformat() if dt else None

    last = None
    if row.last_result is not None:
        last = {
            "due_at": local(row.last_due_at),
            "fired_at": local(row.last_fired_at),
            "result": row.last_result,
            "message": row.last_message,
            "instance_id": row.last_instance_id,
            "late": bool(row.last_late),
        }
    return {
        "id": row.id,
        "process_key": row.process_key,
        "process_name": name,
        "version": row.version,
        "definition_id": row.definition_id,
        "start_event": {"id": row.start_event_id, "name": row.start_event_name},
        "timer_kind": row.timer_kind,
        "expression": row.expression,
        "time_zone": row.timezone,
        "paused": row.paused,
        "next_fire_at": None if row.paused else local(row.next_fire_at),
        "next_fire_times": [local(t) for t in schedules.next_fire_times(row, now, 4)],
        "fire_count": row.fire_count,
        "last_fire": last,
        "registered_at": local(row.created_at),
        "updated_at": local(row.updated_at),
    }


@bp.get("/schedules")
@login_required
def list_schedules() -> Response:
    q = (
        select(Schedule, ProcessDefinition.name)
        .join(ProcessDefinition, ProcessDefinition.id == Schedule.definition_id)
        .order_by(Schedule.process_key, Schedule.start_event_id)
    )
    if request.args.get("process_key"):
        q = q.where(Schedule.process_key == request.args["process_key"])
    paused = request.args.get("paused")
    if paused is not None and paused != "":
        if paused not in ("true", "false", "1", "0"):
            raise Invalid("paused must be true or false", [field_error("paused", "must be true or false")])
        q = q.where(Schedule.paused.is_(paused in ("true", "1")))
    p = int_arg("page", 1)
    per_page = int_arg("per_page", 50, 1, 500)
    total = db().scalar(select(func.count()).select_from(q.order_by(None).subquery()))
    rows = db().execute(q.limit(per_page).offset((p - 1) * per_page)).all()
    return jsonify({"items": [schedule_json(r, n) for r, n in rows], "total": total, "page": p, "per_page": per_page})


def _schedule_response(schedule_id: int) -> Response:
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
    return jsonify(schedule_json(*row))


@bp.get("/schedules/<int:schedule_id>")
@login_required
def get_schedule(schedule_id: int) -> Response:
    return _schedule_response(schedule_id)


def _reason() -> str:
    reason = body().get("reason", "")
    if not isinstance(reason, str):
        raise Invalid("reason must be a string", [field_error("reason", "expected a string")])
    return reason


@bp.post("/schedules/<int:schedule_id>/pause")
@roles_required("admin")
def pause_schedule(schedule_id: int) -> Response:
    schedules.pause(db(), schedule_id, current_principal(), clock().now(), _reason())
    db().commit()
    return _schedule_response(schedule_id)


@bp.post("/schedules/<int:schedule_id>/resume")
@roles_required("admin")
def resume_schedule(schedule_id: int) -> Response:
    schedules.resume(db(), schedule_id, current_principal(), clock().now(), _reason())
    db().commit()
    return _schedule_response(schedule_id)


# ---- jobs (timers inside instances) -----------------------------------------------------------------------


def _job_json(inst: ProcessInstance, detail: bool) -> dict[str, Any]:
    now = clock().now()
    out: dict[str, Any] = {
        "id": inst.id,
        "instance_id": inst.id,
        "process_key": inst.process_key,
        "definition_version": inst.definition.version,
        "title": redactor(current_principal()).text(inst.title, inst.data),
        "instance_status": inst.status,
        "due_at": iso(inst.next_timer_at),
        "overdue": bool(inst.next_timer_at and inst.next_timer_at <= now),
    }
    if detail:
        try:
            timers = schedules.instance_timers(inst)
        except Exception as exc:
            out["timers"] = None
            out["timers_error"] = f"{type(exc).__name__}: {exc}"
        else:
            out["timers"] = [{**t, "due_at": iso(t["due_at"])} for t in timers]
    return out


@bp.get("/jobs")
@roles_required("admin")
def list_jobs() -> Response:
    """One job per instance waiting on a timer, due first; `timers` lists each waiting timer."""
    q = (
        select(ProcessInstance)
        .where(ProcessInstance.next_timer_at.is_not(None), ProcessInstance.status.in_(("running", "suspended")))
        .order_by(ProcessInstance.next_timer_at, ProcessInstance.id)
    )
    if request.args.get("process_key"):
        q = q.where(ProcessInstance.process_key == request.args["process_key"])
    status = request.args.get("status")
    if status:
        if status not in ("running", "suspended"):
            raise Invalid(
                "status must be running or suspended", [field_error("status", "must be running or suspended", "enum")]
            )
        q = q.where(ProcessInstance.status == status)
    due_before = date_arg("due_before")
    if due_before:
        q = q.where(ProcessInstance.next_timer_at < due_before)
    if request.args.get("overdue") in ("1", "true"):
        q = q.where(ProcessInstance.next_timer_at <= clock().now())
    detail = request.args.get("detail", "true") not in ("0", "false")
    p = int_arg("page", 1)
    per_page = int_arg("per_page", 50, 1, JOBS_MAX_PER_PAGE)
    total = db().scalar(select(func.count()).select_from(q.order_by(None).subquery()))
    rows = db().scalars(q.limit(per_page).offset((p - 1) * per_page)).all()
    return jsonify({"items": [_job_json(i, detail) for i in rows], "total": total, "page": p, "per_page": per_page})


@bp.post("/jobs/<int:job_id>/execute")
@roles_required("admin")
def execute_job(job_id: int) -> Response:
    data = body()
    timer_id = data.get("timer_id")
    if timer_id is not None and not isinstance(timer_id, str):
        raise Invalid("timer_id must be a string", [field_error("timer_id", "expected a string")])
    if db().get(ProcessInstance, job_id) is None:
        raise NotFound("job {job_id} does not exist", job_id=job_id)
    fired = runtime().fire_timer_now(job_id, current_principal(), timer_id)
    db().commit()
    inst = db().get(ProcessInstance, job_id)
    assert inst is not None
    db().refresh(inst)
    return jsonify({"fired": fired, "job": _job_json(inst, True)})


# ---- undeploy -------------------------------------------------------------------------------------------------


@bp.post("/process-definitions/<key>/undeploy")
@roles_required("process_owner", "admin")
def undeploy(key: str) -> Response:
    reason = _reason()
    now = clock().now()
    versions = repository.undeploy(db(), key, now)
    events.log(
        db(),
        now,
        "definition_undeployed",
        actor=current_principal(),
        payload={"key": key, "versions": [d.version for d in versions], "reason": reason},
    )
    db().commit()
    return jsonify({"key": key, "active": False, "versions": [d.version for d in versions]})


# ---- OpenAPI ------------------------------------------------------------------------------------------------------


openapi.extend(_document)


# ---- the scheduler process and the embedded scheduler ----------------------------------------------------------


@bp.cli.command("scheduler")
@click.option("--once", is_flag=True, help="run one tick, print what it did, exit")
def scheduler_command(once: bool) -> None:
    """Run the scheduler (timer start events, deadlines, reminders) until SIGTERM."""
    from flask import current_app

    st = state(current_app)
    _logging(st.settings.log_format, st.settings.log_level)
    schedules.configure(st.settings.zone)
    if once:
        result = Scheduler(st.sessions, st.clock, st.settings).run_once()
        click.echo(_summary(result))
        return
    Scheduler(st.sessions, st.clock, st.settings).run()


def _summary(r: TickResult) -> str:
    return (
        f"started {len(r.started)} instance(s) from schedules, {r.missed} missed, {r.failed} failed; "
        f"advanced {r.instances} instance(s) ({r.timers} timer(s)), {r.incidents} incident(s)"
    )


def _logging(log_format: str, log_level: str) -> None:
    """Every line of the scheduler process in SANJI_LOG_FORMAT (one JSON object per line by
    default), from SANJI_LOG_LEVEL up (INFO by default: the event lines too)."""
    from engine.infra.logs import formatter

    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter(log_format))
        root.addHandler(handler)
        root.setLevel(log_level.upper())
    logging.getLogger("sanji").setLevel(log_level.upper())
    # not a line per tick, nor one per second while a long tick runs ("skipped: maximum number of
    # running instances reached" — ticks never overlap by design)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def start_embedded_scheduler(app: Flask) -> None:
    """Under `flask run` (only there) start the scheduler in the web process."""
    st = state(app)
    schedules.configure(st.settings.zone)
    if st.settings.scheduler == "embedded" and _serving_dev_server(app):
        _logging(st.settings.log_format, st.settings.log_level)
        scheduler = Scheduler(st.sessions, st.clock, st.settings).start()
        app.extensions["sanji_scheduler"] = scheduler
        atexit.register(scheduler.shutdown, False)


def _serving_dev_server(app: Flask) -> bool:
    """True in the process that will serve `flask run`: not gunicorn, not other commands, and
    with the reloader only in its child (WERKZEUG_RUN_MAIN), never in the watching parent."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.command is None or ctx.command.name != "run":
        return False
    reload = ctx.params.get("reload")
    if reload is None:
        from flask.helpers import get_debug_flag

        reload = get_debug_flag()
    return not reload or os.environ.get("WERKZEUG_RUN_MAIN") == "true"
