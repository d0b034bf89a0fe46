"""What a principal may see of a task and of an instance: one rule for the API and the pages.

`task_view` is everything `GET /api/v1/tasks/{id}` and the task page (api/web/tasks.py) show of a
task: the task itself (readable by `routing.task_visible_clause`), its instance's variables, the
completed steps before it (earlier input), the history and the send-back banner. Steps and
history come from the task's own instance and from each *ancestor* instance (the callers of a
fan-out) that the principal may trace (`routing.instance_visible_clause`) — never from an
ancestor they may not trace: a unit committee working on its part of a group inspection sees its
own unit's instance, not the group's check of every unit. That is exactly what the API already
gives the same person for those instances (`/process-instances/{id}` and its history).

`instance_view` is the same for an instance (its page and `GET /api/v1/process-instances/{id}`):
variables, title, incident, and its parent only when the principal may trace it.

Everything shown passes through the principal's redactor (engine/org/confidential.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.core import fan_choice
from engine.core.forms import FormStore
from engine.core.validation import NS, _props
from engine.errors import NotFound, SanjiError
from engine.infra import xmlsafe
from engine.models import EventLog, HumanTask, OrgNode, ProcessDefinition, ProcessInstance, TaskCopy, User
from engine.org.confidential import Redactor
from engine.org.nodes import Principal
from engine.org.routing import instance_visible_clause, task_visible_clause
from engine.services.task_form import TaskForm, task_form

HIDDEN_EVENTS = ("access_refused", "definition_deployed", "definition_unchanged")
UPSTREAM_EVENTS = ("instance_started", "task_completed", "task_sent_back")  # shown from visible callers
MAX_DEPTH = 10
DECISION_EVENTS = ("approval_requested", "approval_approved", "approval_returned", "collective_recorded", "task_signed")
# Instance variables the task page shows in its header or form instead of "other process data".
ROUTING_VARIABLES = ("unit_id", "branch_id", "title")


@dataclass
class Event:
    """One history event as shown (the payload already redacted; the ORM row is never changed)."""

    id: int
    at: datetime
    type: str
    actor: str | None
    instance_id: int | None
    task_id: int | None
    payload: dict[str, Any]

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "type": self.type,
            "actor": self.actor,
            "instance_id": self.instance_id,
            "task_id": self.task_id,
            "payload": self.payload,
        }


@dataclass
class Step:
    """A completed step shown as earlier input."""

    task: HumanTask
    by: str | None  # username of who completed it
    by_name: str | None
    node_name: str
    data: dict[str, Any]

    def json(self) -> dict[str, Any]:
        t = self.task
        return {
            "task_id": t.id,
            "instance_id": t.instance_id,
            "process_key": t.process_key,
            "spec_id": t.spec_id,
            "name": t.name,
            "tier": t.tier,
            "node_id": t.node_id,
            "node_name": self.node_name,
            "form_key": t.form_key,
            "completed_at": t.completed_at.isoformat() if t.completed_at else None,
            "completed_by": self.by,
            "data": self.data,
        }


@dataclass
class TaskView:
    task: HumanTask
    instance: ProcessInstance
    title: str
    data: dict[str, Any] | None  # what was submitted (completed tasks)
    context: dict[str, Any]  # the instance's variables
    previous: list[Step]
    history: list[Event]
    sent_back: Event | None
    actor_names: dict[str, str] = field(default_factory=dict)
    chain: list[ProcessInstance] = field(default_factory=list)  # own instance, then visible callers
    form: TaskForm | None = None  # the form resolved for this task and reader (when asked with a FormStore)
    rollups: list[Rollup] = field(default_factory=list)  # `rollUp` tables among the variables
    # issue 17: 审批 / 会签 / 集体研究 records of this task (for an approval: of the task it decides on)
    decisions: list[Event] = field(default_factory=list)
    subject: HumanTask | None = None  # an approval's task, whose held submission it decides on
    subject_data: dict[str, Any] | None = None
    returned: Event | None = None  # the last return of an open task, with the approver's opinion


@dataclass
class Rollup:
    """A call activity's `rollUp` (engine/core/fan_choice.py) as a table: one row per child (its
    unit or branch by name), the fields' form titles as column headers."""

    variable: str  # `<callActivityId>_rollup`
    title: str  # the call activity's name
    columns: list[dict[str, str]]  # [{"name", "title"}], after the node's name
    rows: list[dict[str, Any]]

    def json(self) -> dict[str, Any]:
        return {"variable": self.variable, "title": self.title, "columns": self.columns, "rows": self.rows}


def rollups(session: Session, forms: FormStore | None, inst: ProcessInstance, context: dict[str, Any]) -> list[Rollup]:
    """The `<id>_rollup` variables of `context` that a `rollUp` call activity of the instance's
    diagram wrote, with the titles of the fields in the called process's forms (last task first)."""
    keys = [k for k, v in context.items() if k.endswith(fan_choice.ROLLUP_SUFFIX) and isinstance(v, list)]
    if not keys:
        return []
    definition = inst.definition
    root = xmlsafe.parse(definition.xml, len(definition.xml.encode("utf-8")) + 1)
    out = []
    for key in keys:
        element = key[: -len(fan_choice.ROLLUP_SUFFIX)]
        found = root.xpath("//bpmn:callActivity[@id=$id]", id=element, namespaces=NS)
        if not found:
            continue
        fields = fan_choice.rollup_fields(_props(found[0]).get("rollUp"))
        if not fields:
            continue
        titles = _field_titles(session, forms, definition, found[0].get("calledElement") or "", fields)
        out.append(
            Rollup(
                key,
                found[0].get("name") or element,
                [{"name": f, "title": titles.get(f, f)} for f in fields],
                [r for r in context[key] if isinstance(r, dict)],
            )
        )
    return out


def _field_titles(
    session: Session, forms: FormStore | None, caller: ProcessDefinition, key: str, fields: list[str]
) -> dict[str, str]:
    called = session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessDefinition.sha256 == caller.sha256)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).first()
    if called is None:
        called = session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())
        ).first()
    titles: dict[str, str] = {}
    if called is None or forms is None:
        return titles
    for entry in reversed((called.info or {}).get("user_tasks") or []):
        if not entry.get("form"):
            continue
        try:
            props = forms.schema(entry["form"], version=forms.pinned(called.id, entry["form"])).get("properties") or {}
        except (SanjiError, ValueError, OSError):
            continue  # a form missing from forms/ was reported at deploy
        for f in fields:
            spec = props.get(f)
            if f not in titles and isinstance(spec, dict) and spec.get("title"):
                titles[f] = str(spec["title"])
    return titles


def readable_task(session: Session, p: Principal, task_id: int) -> HumanTask:
    task = session.scalars(select(HumanTask).where(HumanTask.id == task_id, task_visible_clause(p))).first()
    if task is None:
        raise NotFound("task {id} does not exist", id=task_id)
    return task


def visible_ids(session: Session, p: Principal, ids: list[int]) -> set[int]:
    """Which of these instances `p` may trace (the rule of `GET /process-instances/{id}`)."""
    if not ids:
        return set()
    return set(
        session.scalars(select(ProcessInstance.id).where(ProcessInstance.id.in_(ids), instance_visible_clause(p)))
    )


def callers_shown(session: Session, p: Principal, inst: ProcessInstance) -> list[ProcessInstance]:
    """`callers` that `p` may trace (the rule of `visible_ids`), nearest first. The parent and the
    root — the whole chain of every built-in diagram — come in one statement with the rule; a
    deeper chain asks for each caller still missing."""
    found: dict[int, tuple[ProcessInstance, bool]] = {}
    asked: set[int] = set()
    chain: list[tuple[ProcessInstance, bool]] = []
    wanted = {i for i in (inst.parent_id, inst.root_id) if i is not None and i != inst.id}
    while wanted:
        asked |= wanted
        rows = session.execute(
            select(ProcessInstance, instance_visible_clause(p).label("visible")).where(ProcessInstance.id.in_(wanted))
        ).all()
        found.update({row.id: (row, bool(visible)) for row, visible in rows})
        chain = []
        current, missing = inst, None
        while current.parent_id is not None and len(chain) < MAX_DEPTH:
            hit = found.get(current.parent_id)
            if hit is None:
                missing = current.parent_id
                break
            chain.append(hit)
            current = hit[0]
        wanted = {missing} - asked if missing is not None else set()
    return [i for i, visible in chain if visible]


def display_names(session: Session, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    return dict(session.execute(select(User.username, User.display_name).where(User.username.in_(usernames))).all())


def _event(e: EventLog, redactor: Redactor, data: Any) -> Event:
    return Event(e.id, e.at, e.type, e.actor, e.instance_id, e.task_id, redactor.payload(e.type, e.payload or {}, data))


def task_view(
    session: Session,
    p: Principal,
    task: HumanTask,
    redactor: Redactor,
    forms: FormStore | None = None,
    *,
    copy_only: bool = False,
) -> TaskView:
    """What `p` may see of `task` (already checked readable with `readable_task`); with `forms`, its
    form resolved for the task from the context `p` sees (engine/services/task_form.py). With
    `copy_only` (a step copied to `p`, 抄送): the step's submitted data and nothing else."""
    inst = session.get(ProcessInstance, task.instance_id)
    if inst is None:
        raise NotFound("task {id} does not exist", id=task.id)
    if copy_only:
        form = None
        if forms is not None and task.form_key:
            try:
                form = task_form(session, forms, task, {})
            except SanjiError:
                form = None
        return TaskView(
            task=task,
            instance=inst,
            title=task.name,
            data=redactor.data(task.data, inst.data) if task.data is not None else None,
            context={},
            previous=[],
            history=[],
            sent_back=None,
            chain=[inst],
            form=form,
        )
    chain = [inst] + callers_shown(session, p, inst)
    ids = [i.id for i in chain]
    data_of = {i.id: i.data or {} for i in chain}

    rows = list(
        session.scalars(
            select(EventLog)
            .where(
                or_(
                    and_(EventLog.instance_id == inst.id, EventLog.type.not_in(HIDDEN_EVENTS)),
                    and_(EventLog.instance_id.in_(ids[1:]), EventLog.type.in_(UPSTREAM_EVENTS)),
                )
            )
            .order_by(EventLog.id)
        )
    )
    own = [e for e in rows if e.instance_id == inst.id]
    history = [_event(e, redactor, data_of.get(e.instance_id or 0)) for e in sorted(rows, key=lambda e: (e.at, e.id))]
    sent_back = None  # 退回: the completion just before this task was created sent the instance back
    created = next((e for e in own if e.type == "task_created" and e.task_id == task.id), None)
    if created is not None:
        for e in reversed([e for e in own if e.id < created.id]):
            if e.type in ("task_created", "task_cancelled"):
                continue
            if e.type == "task_sent_back":
                sent_back = _event(e, redactor, data_of[inst.id])
            break

    subject = session.get(HumanTask, task.subject_task_id) if task.subject_task_id else None
    about = subject.id if subject is not None else task.id
    decisions = [_event(e, redactor, data_of[inst.id]) for e in own if e.task_id == about and e.type in DECISION_EVENTS]
    returned = None
    if task.status == "open" and decisions and decisions[-1].type == "approval_returned":
        returned = decisions[-1]
    previous = []
    done = session.execute(
        select(HumanTask, User.username, User.display_name, OrgNode.name)
        .outerjoin(User, User.id == HumanTask.completed_by_id)
        .join(OrgNode, OrgNode.id == HumanTask.node_id)
        .where(
            HumanTask.instance_id.in_(ids),
            HumanTask.status == "completed",
            HumanTask.id != task.id,
            HumanTask.kind == "task",
        )
        .order_by(HumanTask.completed_at, HumanTask.id)
    ).all()
    for step, by, by_name, node_name in done:
        previous.append(Step(step, by, by_name, node_name, redactor.data(step.data or {}, data_of[step.instance_id])))

    users = {e.actor for e in history if e.actor}
    users |= {e.payload["to"] for e in history if isinstance(e.payload.get("to"), str)}
    context = redactor.data({k: v for k, v in (inst.data or {}).items() if not k.startswith("_")})
    form = None
    if forms is not None and task.form_key:
        try:
            form = task_form(session, forms, task, context)
        except SanjiError:  # a form missing from forms/ is reported at deploy; the task still shows
            form = None
    return TaskView(
        task=task,
        instance=inst,
        title=redactor.text(inst.title, inst.data) or "",
        data=redactor.data(task.data, inst.data) if task.data is not None else None,
        context=context,
        previous=previous,
        history=history,
        sent_back=sent_back,
        actor_names=display_names(session, users),
        chain=chain,
        form=form,
        rollups=rollups(session, forms, inst, context),
        decisions=decisions,
        subject=subject,
        subject_data=redactor.data(subject.data, inst.data) if subject is not None and subject.data else None,
        returned=returned,
    )


@dataclass
class InstanceView:
    instance: ProcessInstance
    title: str
    variables: dict[str, Any]
    parent: ProcessInstance | None  # None also when `p` may not trace it
    incident_message: str | None
    incident_traceback: str | None  # for admins only
    decisions: list[Event] = field(default_factory=list)  # issue 17: 审批, 会签 / 或签, 集体研究 records
    copies: list[dict[str, Any]] = field(default_factory=list)  # 抄送: which step went to whom


def instance_view(session: Session, p: Principal, inst: ProcessInstance, redactor: Redactor) -> InstanceView:
    """What `p` (who may trace `inst`) sees of it: its parent only if they may trace that too."""
    parent = None
    if inst.parent_id is not None and visible_ids(session, p, [inst.parent_id]):
        parent = session.get(ProcessInstance, inst.parent_id)
    data = inst.data or {}
    variables = {k: v for k, v in data.items() if not k.startswith("_")}
    return InstanceView(
        instance=inst,
        title=redactor.text(inst.title, data) or "",
        variables=redactor.data(variables),
        parent=parent,
        incident_message=redactor.text(inst.error_message, data),
        incident_traceback=redactor.text(inst.error_traceback, data) if p.is_admin else None,
        copies=[
            {"task_id": c.task_id, "name": name, "username": u, "display_name": dn, "at": c.at, "source": c.source}
            for c, name, u, dn in session.execute(
                select(TaskCopy, HumanTask.name, User.username, User.display_name)
                .join(HumanTask, HumanTask.id == TaskCopy.task_id)
                .join(User, User.id == TaskCopy.user_id)
                .where(TaskCopy.instance_id == inst.id)
                .order_by(TaskCopy.id)
            )
        ],
        decisions=[
            _event(e, redactor, data)
            for e in session.scalars(
                select(EventLog)
                .where(EventLog.instance_id == inst.id, EventLog.type.in_(DECISION_EVENTS))
                .order_by(EventLog.id)
            )
        ],
    )


def instance_titles(session: Session, redactor: Redactor, titles: dict[int, str]) -> dict[int, str]:
    """Titles (or other texts, e.g. incident messages) of many instances as `redactor` shows them
    (reads the instances' data only when it redacts)."""
    if not redactor.active or not titles:
        return titles
    data: dict[int, Any] = dict(
        session.execute(
            select(ProcessInstance.id, ProcessInstance.data).where(ProcessInstance.id.in_(list(titles)))
        ).all()
    )
    return {i: redactor.text(t, data.get(i)) or "" for i, t in titles.items()}
