"""Tasks as the JSON API (`GET /api/v1/tasks`) and the task pages (待办, 已办, 督办) list them:
one filter, one query, one pager; who sees which task is engine/org/policy.py's rule.

Lists: `open` (offered to the reader), `completed` (completed by the reader, or submitted and held
for approval: status `held`), `cancelled`
(readable by the reader), `supervise` (open tasks of the tiers below that the reader may urge).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from time import monotonic
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, aliased

from engine.core.runtime import RunAgain, Runtime
from engine.errors import Invalid, NotFound, field_error
from engine.models import HumanTask, OrgNode, ProcessInstance, User
from engine.org import policy
from engine.org.confidential import Redactor
from engine.org.nodes import Principal
from engine.services import task_form, task_view
from engine.services.paging import AnySelect, Page, PageRequest, fetch

LISTS = ("open", "completed", "cancelled", "supervise")
STATUSES = ("open", "completed", "cancelled")  # the lists `GET /api/v1/tasks?status=` offers


@dataclass(frozen=True)
class TaskFilter:
    """Every filter the task lists offer; None / False: not filtered."""

    list: str = "open"
    process_key: str | None = None
    unit_id: str | None = None
    node_id: str | None = None
    instance_id: int | None = None
    due_before: datetime | None = None  # exclusive
    due_by: datetime | None = None  # inclusive (the pages' "due today" / "due this week")
    overdue: bool = False
    assigned: bool = False  # assigned to the reader

    def __post_init__(self) -> None:
        if self.list not in LISTS:
            raise Invalid(
                "status must be one of {allowed}",
                [field_error("status", "must be one of {allowed}", "enum", allowed=", ".join(STATUSES))],
                allowed=", ".join(STATUSES),
            )


_ASSIGNEE = aliased(User, name="assignee")  # made once: a fresh alias per request costs more than the query


def task_query() -> AnySelect:
    """Task, node name, assignee's username and display name, instance title."""
    return (
        select(HumanTask, OrgNode.name, _ASSIGNEE.username, _ASSIGNEE.display_name, ProcessInstance.title)
        .join(OrgNode, OrgNode.id == HumanTask.node_id)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .outerjoin(_ASSIGNEE, _ASSIGNEE.id == HumanTask.assignee_id)
    )


def base_conditions(p: Principal, which: str) -> list[ColumnElement[bool]]:
    """Which tasks a list holds for `p`, before filters."""
    if which == "open":
        return [HumanTask.status == "open", policy.tasks_offered(p)]
    if which == "completed":  # also the reader's submissions held for approval (审批)
        return [HumanTask.status.in_(("completed", "held")), HumanTask.completed_by_id == p.id]
    if which == "cancelled":
        return [HumanTask.status == "cancelled", policy.tasks_visible(p)]
    return [HumanTask.status == "open", policy.tasks_urgeable(p)]


def conditions(p: Principal, f: TaskFilter, now: datetime) -> list[ColumnElement[bool]]:
    where = base_conditions(p, f.list)
    if f.process_key:
        where.append(HumanTask.process_key == f.process_key)
    if f.unit_id:
        where.append(HumanTask.unit_id == f.unit_id)
    if f.node_id:
        where.append(HumanTask.node_id == f.node_id)
    if f.instance_id is not None:
        where.append(HumanTask.instance_id == f.instance_id)
    if f.due_before is not None:
        where.append(HumanTask.due_at < f.due_before)
    if f.due_by is not None:
        where.append(HumanTask.due_at <= f.due_by)
    if f.overdue:
        where.append(HumanTask.due_at < now)
    if f.assigned:
        where.append(HumanTask.assignee_id == p.id)
    return where


def list_query(p: Principal, f: TaskFilter, now: datetime) -> AnySelect:
    """The one query of a task list: open ones by due time (none last), others newest first."""
    q = task_query().where(*conditions(p, f, now))
    if f.list in ("open", "supervise"):
        return q.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    return q.order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())


@dataclass
class TaskRow:
    """One task of a list, its instance's title as the reader may see it."""

    task: HumanTask
    node_name: str
    assignee: str | None  # username
    assignee_name: str | None
    instance_title: str | None
    reading: str = "full"  # full | copy (抄送: the step's own data only)


def rows_of(session: Session, redactor: Redactor, rows: list[Any]) -> list[TaskRow]:
    titles = task_view.instance_titles(session, redactor, {r[0].instance_id: r[4] for r in rows if r[4]})
    return [TaskRow(r[0], r[1], r[2], r[3], titles.get(r[0].instance_id, r[4])) for r in rows]


def list_tasks(
    session: Session, p: Principal, f: TaskFilter, req: PageRequest, now: datetime, redactor: Redactor
) -> Page[TaskRow]:
    """One page of the list `f.list` of `p`, narrowed by `f`."""
    page = fetch(session, list_query(p, f, now), req)
    return Page(rows_of(session, redactor, page.items), page.total, page.page, page.per_page)


def options(session: Session, p: Principal, which: str) -> list[tuple[str, str | None]]:
    """The (process key, unit) pairs of a list before filters: the filters' choices."""
    return [
        (k, u)
        for k, u in session.execute(
            select(HumanTask.process_key, HumanTask.unit_id).where(*base_conditions(p, which)).distinct()
        ).all()
    ]


def open_of_instance(session: Session, redactor: Redactor, instance_id: int) -> list[TaskRow]:
    """The open tasks of an instance (whoever holds them), oldest first."""
    q = task_query().where(HumanTask.instance_id == instance_id, HumanTask.status == "open").order_by(HumanTask.id)
    return rows_of(session, redactor, list(session.execute(q).all()))


def visible_row(session: Session, p: Principal, task_id: int, redactor: Redactor) -> TaskRow:
    """The task if `p` may read it — in full, or only its data when it was copied to them
    (抄送: `reading` = `copy`, engine/org/policy.py `task_reading`); else 404."""
    row = session.execute(task_query().where(HumanTask.id == task_id, policy.tasks_visible(p))).first()
    copied = (
        row is None
        and session.execute(select(HumanTask.id).where(HumanTask.id == task_id, policy.tasks_copied(p))).first()
        is not None
    )
    reading = policy.task_reading(p, row is not None, copied)
    if reading is None:
        raise NotFound("task {id} does not exist", id=task_id)
    if row is None:
        row = session.execute(task_query().where(HumanTask.id == task_id)).one()
        out = rows_of(session, redactor, [row])[0]
        out.instance_title = None  # a copy shows the step, not its instance
    else:
        out = rows_of(session, redactor, [row])[0]
    out.reading = reading
    return out


# ---- acting on a task ---------------------------------------------------------------------------------

TASK_ACTIONS = ("claim", "unclaim", "complete", "assign", "handover", "urge")


@dataclass(frozen=True)
class TaskCommand:
    """An action on a task: `data` to complete it, `username` to assign it (an admin reassigns,
    anyone else hands over: engine/org/policy.py) or to hand it over (移交, the task page's
    button, for anyone who may act on it), `message` to urge."""

    task_id: int
    action: str
    data: dict[str, Any] | None = None
    username: str = ""
    message: str = ""


@dataclass
class TaskResult:
    task: HumanTask
    instance_status: str | None  # after the action (complete: "error" when the step after it failed)


def act(rt: Runtime, p: Principal, cmd: TaskCommand) -> TaskResult:
    """Run the action as `p` (the runtime checks who may act on the task) and commit; nothing of it
    stays on any failure.

    A completion runs optimistically first, its engine steps without a savepoint (two statements
    and a flush fewer on every completion); if they fail, all of it is rolled back and it runs
    again with the savepoint, which turns the failure into the instance's incident as always."""
    if cmd.action != "complete":
        return _act(rt, p, cmd)
    rt.optimistic = True
    until = monotonic() + rt.settings.engine_max_seconds
    try:
        return _act(rt, p, cmd)
    except RunAgain as again:
        rt.optimistic = False
        rt.limit_engine_time(until, again.element)  # the two runs share one SANJI_ENGINE_MAX_SECONDS
        return _act(rt, p, cmd)
    finally:
        rt.optimistic = False
        rt.limit_engine_time(None)


def _act(rt: Runtime, p: Principal, cmd: TaskCommand) -> TaskResult:
    session = rt.session
    try:
        if cmd.action == "claim":
            task = rt.claim(cmd.task_id, p)
        elif cmd.action == "unclaim":
            task = rt.unclaim(cmd.task_id, p)
        elif cmd.action == "complete":
            data = cmd.data or {}
            check = task_form.completion_check(session, rt.forms, p, data, rt.settings.max_form_bytes)
            task = rt.complete(cmd.task_id, dict(data), p, check=check)
        elif cmd.action == "assign":
            task = rt.assign(cmd.task_id, cmd.username, p, handover=policy.assign_is_handover(p))
        elif cmd.action == "handover":
            task = rt.assign(cmd.task_id, cmd.username, p, handover=True)
        elif cmd.action == "urge":
            task = rt.urge(cmd.task_id, p, cmd.message)
        else:
            raise Invalid(
                "action must be one of {allowed}",
                [field_error("action", "must be one of {allowed}", "enum", allowed=", ".join(TASK_ACTIONS))],
                allowed=", ".join(TASK_ACTIONS),
            )
        inst = session.get(ProcessInstance, task.instance_id)
        status = inst.status if inst is not None else None
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return TaskResult(task, status)
