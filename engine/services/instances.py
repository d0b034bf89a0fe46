"""Process instances as the JSON API (`GET /api/v1/process-instances`) and the tracing pages
(`/instances`) list them: one filter, one query, one pager, one rule of who sees what
(engine/org/policy.py). The admin actions (suspend, resume, terminate, retry) are commands that
commit here, so that both adapters act the same way.

An instance "has an incident" when an error is recorded on it and it has not ended: a failed
instance that an admin then suspended still has its incident (`status` alone would lose it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from engine.core import async_jobs
from engine.core.runtime import Runtime
from engine.errors import Invalid, NotFound, field_error
from engine.models import HumanTask, OrgNode, ProcessDefinition, ProcessInstance
from engine.org import policy
from engine.org.confidential import Redactor
from engine.org.nodes import Principal
from engine.services import task_view
from engine.services.paging import AnySelect, Page, PageRequest, fetch

STATUSES = ("running", "suspended", "error", "completed", "terminated")
ENDED = ("completed", "terminated")
LEVELS = ("top", "sub")


@dataclass(frozen=True)
class InstanceFilter:
    """Every filter the instance list offers; None / False: not filtered."""

    status: str | None = None
    process_key: str | None = None
    unit_id: str | None = None
    parent_id: int | None = None
    level: str | None = None  # "top": no parent, "sub": a child of another instance
    started_after: datetime | None = None  # inclusive
    started_before: datetime | None = None  # exclusive
    incident: bool = False
    overdue: bool = False  # with an open task past its due time

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise Invalid(
                "status must be one of {allowed}",
                [field_error("status", "must be one of {allowed}", "enum", allowed=", ".join(STATUSES))],
                allowed=", ".join(STATUSES),
            )
        if self.level is not None and self.level not in LEVELS:
            raise Invalid(
                "level must be one of {allowed}",
                [field_error("level", "must be one of {allowed}", "enum", allowed=", ".join(LEVELS))],
                allowed=", ".join(LEVELS),
            )


def incident_clause() -> ColumnElement[bool]:
    """The one definition of "has an open incident": an error recorded, not ended."""
    return ProcessInstance.error_message.is_not(None) & ProcessInstance.status.not_in(ENDED)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    return ProcessInstance.id.in_(
        select(HumanTask.instance_id).where(HumanTask.status == "open", HumanTask.due_at < now)
    )


def conditions(p: Principal, f: InstanceFilter, now: datetime) -> list[ColumnElement[bool]]:
    """The WHERE of the list: what `p` may trace, narrowed by `f`."""
    where = [policy.instances_visible(p)]
    if f.status:
        where.append(ProcessInstance.status == f.status)
    if f.process_key:
        where.append(ProcessInstance.process_key == f.process_key)
    if f.unit_id:
        where.append(ProcessInstance.unit_id == f.unit_id)
    if f.parent_id is not None:
        where.append(ProcessInstance.parent_id == f.parent_id)
    if f.level == "top":
        where.append(ProcessInstance.parent_id.is_(None))
    elif f.level == "sub":
        where.append(ProcessInstance.parent_id.is_not(None))
    if f.started_after is not None:
        where.append(ProcessInstance.started_at >= f.started_after)
    if f.started_before is not None:
        where.append(ProcessInstance.started_at < f.started_before)
    if f.incident:
        where.append(incident_clause())
    if f.overdue:
        where.append(overdue_clause(now))
    return where


_SCOPE = aliased(OrgNode, name="scope")


def columns() -> AnySelect:
    """The instance columns lists show: without the serialized workflow or the diagram's XML."""
    return (
        select(
            ProcessInstance.id,
            ProcessInstance.process_key,
            ProcessInstance.status,
            ProcessInstance.title,
            ProcessInstance.scope_node_id,
            ProcessInstance.unit_id,
            ProcessInstance.parent_id,
            ProcessInstance.root_id,
            ProcessInstance.started_at,
            ProcessInstance.ended_at,
            ProcessInstance.updated_at,
            ProcessInstance.next_timer_at,
            ProcessInstance.version,
            ProcessInstance.error_message,
            ProcessInstance.error_task,
            ProcessDefinition.name.label("process_name"),
            ProcessDefinition.version.label("def_version"),
            _SCOPE.name.label("scope_name"),
        )
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .join(_SCOPE, _SCOPE.id == ProcessInstance.scope_node_id)
    )


@dataclass
class InstanceRow:
    """One instance of a list, its title and incident as the reader may see them."""

    id: int
    process_key: str
    process_name: str
    def_version: int
    status: str
    title: str | None
    scope_node_id: str
    scope_name: str
    unit_id: str | None
    parent_id: int | None
    root_id: int | None
    started_at: datetime
    ended_at: datetime | None
    updated_at: datetime | None
    next_timer_at: datetime | None
    version: int
    error_message: str | None
    error_task: str | None

    @property
    def has_incident(self) -> bool:
        return bool(self.error_message) and self.status not in ENDED


def rows_of(session: Session, redactor: Redactor, rows: list[Any]) -> list[InstanceRow]:
    titles = task_view.instance_titles(session, redactor, {r.id: r.title for r in rows if r.title})
    errors = task_view.instance_titles(session, redactor, {r.id: r.error_message for r in rows if r.error_message})
    return [
        InstanceRow(
            r.id,
            r.process_key,
            r.process_name,
            r.def_version,
            r.status,
            titles.get(r.id, r.title),
            r.scope_node_id,
            r.scope_name,
            r.unit_id,
            r.parent_id,
            r.root_id,
            r.started_at,
            r.ended_at,
            r.updated_at,
            r.next_timer_at,
            r.version,
            errors.get(r.id, r.error_message),
            r.error_task,
        )
        for r in rows
    ]


def list_query(p: Principal, f: InstanceFilter, now: datetime) -> AnySelect:
    """The one query of the instance list, newest first."""
    return (
        columns().where(*conditions(p, f, now)).order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
    )


def list_instances(
    session: Session, p: Principal, f: InstanceFilter, req: PageRequest, now: datetime, redactor: Redactor
) -> Page[InstanceRow]:
    """One page of the instances `p` may trace that match `f`."""
    page = fetch(session, list_query(p, f, now), req)
    return Page(rows_of(session, redactor, page.items), page.total, page.page, page.per_page)


def children(
    session: Session, p: Principal, parent_id: int, status: str | None, req: PageRequest, redactor: Redactor
) -> Page[InstanceRow]:
    """The children of an instance that `p` may trace, in their fan-out order."""
    where = [ProcessInstance.parent_id == parent_id, policy.instances_visible(p)]
    if status:
        where.append(ProcessInstance.status == status)
    q = columns().where(*where).order_by(ProcessInstance.item_index, ProcessInstance.id)
    page = fetch(session, q, req)
    return Page(rows_of(session, redactor, page.items), page.total, page.page, page.per_page)


def child_counts(session: Session, parent_id: int) -> dict[str, int]:
    """How many children of each status an instance has (all of them, traceable or not)."""
    return dict(
        session.execute(
            select(ProcessInstance.status, func.count())
            .where(ProcessInstance.parent_id == parent_id)
            .group_by(ProcessInstance.status)
        ).all()
    )


def continuing(session: Session, instance_id: int) -> list[async_jobs.Continuation]:
    """The fan-outs of an instance still starting their children (asynchronous continuation):
    what its page shows as 继续中 with the progress."""
    return async_jobs.progress(session, instance_id)


def traceable_children(session: Session, p: Principal, parent_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(ProcessInstance)
            .where(ProcessInstance.parent_id == parent_id, policy.instances_visible(p))
        )
        or 0
    )


def options(session: Session, p: Principal) -> tuple[list[tuple[str, str]], set[str]]:
    """The processes (key, name) and units among the instances `p` may trace (the filters' choices)."""
    rows = session.execute(
        select(ProcessInstance.process_key, ProcessInstance.unit_id).where(policy.instances_visible(p)).distinct()
    ).all()
    names = dict(
        session.execute(select(ProcessDefinition.key, ProcessDefinition.name).order_by(ProcessDefinition.version)).all()
    )
    processes = sorted({(k, names.get(k, k)) for k, _u in rows}, key=lambda o: o[1])
    return processes, {u for _k, u in rows if u}


def open_task_summary(session: Session, ids: list[int], now: datetime) -> dict[int, dict[str, int]]:
    """Per instance: open tasks and how many of them are overdue."""
    if not ids:
        return {}
    out: dict[int, dict[str, int]] = {}
    for inst_id, due in session.execute(
        select(HumanTask.instance_id, HumanTask.due_at).where(
            HumanTask.instance_id.in_(ids), HumanTask.status == "open"
        )
    ).all():
        entry = out.setdefault(inst_id, {"open": 0, "overdue": 0})
        entry["open"] += 1
        if due is not None and due < now:
            entry["overdue"] += 1
    return out


def visible_instance(session: Session, p: Principal, instance_id: int) -> ProcessInstance:
    """The instance if `p` may trace it; else 404 (ids do not leak)."""
    inst = session.scalars(
        select(ProcessInstance).where(ProcessInstance.id == instance_id, policy.instances_visible(p))
    ).first()
    if inst is None:
        raise NotFound("process instance {id} does not exist", id=instance_id)
    return inst


# ---- admin actions ----------------------------------------------------------------------------------

ACTIONS = ("suspend", "resume", "terminate", "retry", "reassign", "fire_timer")


@dataclass(frozen=True)
class InstanceAction:
    """An admin's action on an instance: `variables` for retry (set before the step runs again),
    `task_id` and `username` for reassign, `timer_id` for fire_timer (None: the next one)."""

    instance_id: int
    action: str
    reason: str = ""
    variables: dict[str, Any] | None = None
    task_id: int | None = None
    username: str = ""
    timer_id: str | None = None


@dataclass
class ActionResult:
    instance: ProcessInstance
    fired: str | None = None  # the timer that fired (fire_timer)


def act(rt: Runtime, p: Principal, cmd: InstanceAction) -> ActionResult:
    """Run an admin action and commit it (rolled back on any failure)."""
    policy.require_admin(p)
    session = rt.session
    fired = None
    try:
        inst = visible_instance(session, p, cmd.instance_id)
        if cmd.action == "suspend":
            inst = rt.suspend(cmd.instance_id, p, cmd.reason)
        elif cmd.action == "resume":
            inst = rt.resume(cmd.instance_id, p, cmd.reason)
        elif cmd.action == "terminate":
            inst = rt.terminate(cmd.instance_id, p, cmd.reason)
        elif cmd.action == "retry":
            inst = rt.retry(cmd.instance_id, p, cmd.variables)
        elif cmd.action == "reassign" and cmd.task_id is not None:
            rt.assign(cmd.task_id, cmd.username, p, handover=False)
        elif cmd.action == "fire_timer":
            fired = rt.fire_timer_now(cmd.instance_id, p, cmd.timer_id)
        else:
            raise Invalid(
                "action must be one of {allowed}",
                [field_error("action", "must be one of {allowed}", "enum", allowed=", ".join(ACTIONS))],
                allowed=", ".join(ACTIONS),
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return ActionResult(inst, fired)
