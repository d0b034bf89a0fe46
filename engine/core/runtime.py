"""The runtime: start instances, complete tasks, fire timers, fan out, record incidents.

Every public method is one unit of work inside the caller's transaction (the caller
commits). An instance is locked while it changes (`SELECT … FOR UPDATE` on PostgreSQL,
`BEGIN IMMEDIATE` on SQLite) and carries an optimistic `version`, so a concurrent writer
gets 409 and the state stays intact. An exception inside engine steps rolls back to a
savepoint and becomes an incident (status `error`), never a 500.
"""
from __future__ import annotations

import traceback
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from time import monotonic
from typing import Any, Callable
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import StartEventJoin, StartEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from engine.infra import events
from engine.org import nodes as org
from engine.core import trace
from engine.core.bounds import BoundExceeded, Deadline, check_submitted, timeout_in
from engine.infra.clock import Clock
from engine.errors import Conflict, Forbidden, Invalid, NotFound, SanjiError, ScriptError
from engine.core.forms import FormStore
from engine.models import EventLog, FanOut, HumanTask, OrgNode, ProcessDefinition, ProcessInstance, Record, User
from engine.org.nodes import Principal
from engine.core.repository import SPECS, latest
from engine.org.routing import (
    NodeRef,
    RoutingError,
    can_act_on,
    candidates,
    is_candidate,
    lane_tier,
    may_urge,
    resolve_node,
    task_visible,
    task_visible_clause,
)
from engine.org.policy import ScriptScope
from engine.core.scripts import RestrictedEnvironment, SanjiScriptEngine, date_helpers
from engine.platform.study import script_helpers as platform_helpers
from engine.infra.settings import Settings
from engine.core.spiff import DetachedCallActivity, add_duration, dump_state, force_timer, load_state, parse_datetime, timer_due

ENDED = ("completed", "terminated")
# Locking an instance reads its definition row too (the relationship is joined), but not the
# diagram's XML or the spec blob: specs come from SPECS, content-addressed; a cache miss
# loads the blob on access, inside the same session.
_DEFINITION_WITHOUT_TEXTS = joinedload(ProcessInstance.definition, innerjoin=True).defer(
    ProcessDefinition.xml).defer(ProcessDefinition.spec_blob)
# A task and its instance in one statement (the instance locked on PostgreSQL): the actions on
# a task read both anyway. Built once: statement construction costs more than running it.
_TASK_AND_INSTANCE = (select(HumanTask, ProcessInstance)
                      .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                      .where(HumanTask.id == bindparam("task_id"))
                      .options(_DEFINITION_WITHOUT_TEXTS).execution_options(populate_existing=True))
_TASK_AND_INSTANCE_LOCKED = _TASK_AND_INSTANCE.with_for_update(of=ProcessInstance)
_TASKS = HumanTask.__table__
_TASK_UPDATE = update(_TASKS).where(_TASKS.c.id == bindparam("task_id_"))
_TASK_INSERT = insert(_TASKS).returning(_TASKS.c.id)
_OPEN_TASKS = select(_TASKS.c.task_guid, _TASKS.c.id).where(_TASKS.c.instance_id == bindparam("instance_id_"),
                                                            _TASKS.c.status == "open")
_INSTANCES = ProcessInstance.__table__
_INSTANCE_UPDATE = update(_INSTANCES).where(_INSTANCES.c.id == bindparam("instance_id_"),
                                            _INSTANCES.c.version == bindparam("version_"))
MAX_ROUNDS = 100
MAX_DEPTH = 6
URGE_INTERVAL = timedelta(hours=1)


@dataclass
class Loaded:
    inst: ProcessInstance
    wf: BpmnWorkflow
    engine: SanjiScriptEngine
    deferred: list[Callable[[], None]] = field(default_factory=list)
    # Started in this unit of work and not saved yet: it has no task or element-state rows to
    # read or replace (saves two statements per instance, per child of a fan-out).
    fresh: bool = False


class Runtime:
    def __init__(self, session: Session, clock: Clock, settings: Settings, forms: FormStore | None = None) -> None:
        self.session = session
        self.clock = clock
        self.settings = settings
        self.forms = forms or FormStore(settings.forms_dir)
        self.zone = settings.zone
        self._active: dict[int, Loaded] = {}
        self._group_id: str | None = None
        self._sqlite = session.get_bind().dialect.name == "sqlite"
        # set by the outermost `_run` of a request: SANJI_ENGINE_MAX_SECONDS for all its engine work
        self._deadline = Deadline(settings.engine_max_seconds)

    # ---- public operations ---------------------------------------------------------------

    def start(self, key: str | ProcessDefinition, variables: dict[str, Any] | None = None,
              actor: Principal | None = None, *, start_event: str | None = None, title: str | None = None,
              _parent: tuple[ProcessInstance, str, int | None] | None = None) -> ProcessInstance:
        definition = key if isinstance(key, ProcessDefinition) else latest(self.session, key)
        variables = dict(variables or {})
        if actor is not None and _parent is None:  # what a person submits (not a message's or schedule's data)
            check_submitted(variables, self.settings.max_form_bytes, "start data")
        scope = self._scope_node(variables)
        now = self.clock.now()
        spec, subs = SPECS.get(definition)
        parent, parent_guid, item_index = _parent if _parent else (None, None, None)
        if parent is not None:
            if self._depth(parent) + 1 > MAX_DEPTH:
                raise ScriptError(f"call activities nested deeper than {MAX_DEPTH} levels")
        inst = ProcessInstance(
            definition_id=definition.id, definition=definition, process_key=definition.key, status="running",
            title=(title or variables.get("title") or f"{definition.name} · {scope.name}")[:300],
            scope_node_id=scope.id, unit_id=self._unit_of(scope),
            parent_id=parent.id if parent else None, parent_task_guid=parent_guid, item_index=item_index,
            root_id=(parent.root_id or parent.id) if parent else None,
            started_by_id=actor.id if actor else None, started_at=now, updated_at=now,
            state=b"", data=_jsonable(variables),
        )
        self.session.add(inst)
        self.session.flush()
        if inst.root_id is None:
            inst.root_id = inst.id
        engine = self._script_engine(inst)
        wf = BpmnWorkflow(spec, subs, script_engine=engine)

        def seed(w: BpmnWorkflow) -> None:
            self._seed(w, variables, start_event)

        seed(wf)
        loaded = Loaded(inst, wf, engine, fresh=True)
        with events.buffered(self.session):
            events.log(self.session, now, "instance_started", instance_id=inst.id, actor=actor,
                       payload={"process_key": definition.key, "version": definition.version,
                                "parent_id": inst.parent_id, "variables": _jsonable(variables)})
            self._run(loaded, before=None, action=seed, actor=actor)
        return inst

    def complete(self, task_id: int, data: dict[str, Any], actor: Principal) -> HumanTask:
        task, inst = self._task_for_action(task_id, actor)
        check_submitted(data, self.settings.max_form_bytes)
        self.forms.validate(task.form_key, data)
        loaded = self._load(inst)
        guid = UUID(task.task_guid)
        self._check_rules(loaded, guid, data)

        def act(w: BpmnWorkflow) -> None:
            t = w.get_task_from_id(guid)
            if t is None or t.state != TaskState.READY:
                raise Conflict("the task is no longer waiting for completion")
            t.data.update(data)
            t.run()

        before = inst.state
        try:
            act(loaded.wf)
        except SanjiError:
            raise
        except Exception as exc:  # a postScript of the task itself failed: nothing changes
            raise ScriptError(f"completing {task.name!r} failed in its script: {exc}") from exc
        now = self.clock.now()
        done = _jsonable(data)
        self._write_task(task, status="completed", completed_at=now, completed_by_id=actor.id,
                         assignee_id=task.assignee_id or actor.id, data=done)
        with events.buffered(self.session):
            events.log(self.session, now, "task_completed", instance_id=inst.id, task_id=task.id, actor=actor,
                       payload={"spec_id": task.spec_id, "name": task.name, "data": done,
                                "late": bool(task.due_at and now > task.due_at)})
            back = self.forms.send_back(task.form_key, data)
            if back is not None:  # 退回: the form chose the value that routes the diagram back
                events.log(self.session, now, "task_sent_back", instance_id=inst.id, task_id=task.id, actor=actor,
                           payload={"spec_id": task.spec_id, "name": task.name, "reason": back["reason"]})
            self._run(loaded, before=before, action=act, actor=actor)
        from engine.platform.attachments.service import bind_completed  # issue 16: bind the form's attachments
        bind_completed(self.session, self.forms, task, inst, data, actor, now)  # issue 16 (one call, see there)
        return task

    def urge(self, task_id: int, actor: Principal, message: str = "") -> HumanTask:
        """催办: a member of the tier above nudges the assignee (or the candidates) of an open task.

        Logged as `task_urged`; the same person may urge the same task once per URGE_INTERVAL.
        The instance is not locked or changed, so an urge never conflicts with the work itself.
        """
        if not isinstance(message, str) or len(message) > 500:
            raise Invalid("the message must be text of at most 500 characters",
                          [{"field": "message", "message": "at most 500 characters"}])
        task = self.session.get(HumanTask, task_id, populate_existing=True)
        node = self.session.get(OrgNode, task.node_id) if task is not None else None
        if task is None or node is None or not may_urge(actor, task, node):
            visible = task is not None and self.session.scalar(
                select(HumanTask.id).where(HumanTask.id == task_id, task_visible_clause(actor))) is not None
            if visible:
                raise Forbidden("only the tier above (or an admin) may urge this task")
            raise NotFound(f"task {task_id} does not exist")
        if task.status != "open":
            raise Conflict(f"the task is already {task.status}")
        inst = self.session.get(ProcessInstance, task.instance_id)
        if inst is not None and inst.status != "running":
            raise Conflict(f"the instance is {inst.status}")
        now = self.clock.now()
        last = self.session.scalar(
            select(EventLog.at).where(EventLog.type == "task_urged", EventLog.task_id == task.id,
                                      EventLog.actor_id == actor.id).order_by(EventLog.at.desc()).limit(1))
        if last is not None and now - last < URGE_INTERVAL:
            raise Conflict("you urged this task a short while ago; try again later",
                           {"retry_after": int((last + URGE_INTERVAL - now).total_seconds())})
        if task.assignee_id is not None:
            assignee = self.session.get(User, task.assignee_id)
            to = [assignee.username] if assignee else []
        else:
            to = [u.username for u in candidates(self.session, task)]
        events.log(self.session, now, "task_urged", instance_id=task.instance_id, task_id=task.id, actor=actor,
                   payload={"name": task.name, "message": message.strip(), "to": to,
                            "overdue": bool(task.due_at and task.due_at < now)})
        return task

    def _check_rules(self, loaded: Loaded, guid: UUID, data: dict[str, Any]) -> None:
        """The task's `validate` property: an expression over task data + submitted data that
        returns nothing when fine, or a message / {field: message} (e.g. the 20% cap)."""
        t = loaded.wf.get_task_from_id(guid)
        props = (getattr(t.task_spec, "extensions", None) or {}).get("properties", {}) if t else {}
        rule = (props or {}).get("validate")
        if not rule:
            return
        scope = dict(t.data)
        scope.update(data)
        try:
            result = loaded.engine.environment.evaluate(rule, scope)
        except SanjiError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken rule must not let data through
            raise ScriptError(f"the task's validate rule failed: {exc}") from exc
        if not result:
            return
        if isinstance(result, dict):
            details = [{"field": str(k), "message": str(v)} for k, v in result.items()]
            raise Invalid("; ".join(d["message"] for d in details), details)
        raise Invalid(str(result), [{"field": "", "message": str(result)}])

    def claim(self, task_id: int, actor: Principal) -> HumanTask:
        task, _inst = self._task_for_action(task_id, actor)
        if task.assignee_id is None:
            task.assignee_id = actor.id
            self._touch_task(task, "task_claimed", actor)
        return task

    def unclaim(self, task_id: int, actor: Principal) -> HumanTask:
        task = self._visible_task(task_id, actor, lock=True)
        if task.status != "open":
            raise Conflict("the task is not open")
        if task.assignee_id is None:
            return task
        if task.assignee_id != actor.id and not actor.is_admin:
            raise Conflict("the task is claimed by someone else")
        task.assignee_id = None
        self._touch_task(task, "task_unclaimed", actor)
        return task

    def assign(self, task_id: int, username: str, actor: Principal, *, handover: bool = False) -> HumanTask:
        """Admin reassign, or 转办 (handover) by the current assignee/candidate to a colleague."""
        if handover:
            task, _inst = self._task_for_action(task_id, actor)
        else:
            if not actor.is_admin:
                raise Forbidden("only admins reassign tasks")
            task = self._visible_task(task_id, actor, lock=True)
            if task.status != "open":
                raise Conflict("the task is not open")
        user = self.session.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
        if user is None:
            raise Invalid(f"user {username!r} does not exist", [{"field": "username", "message": "unknown user"}])
        target = org.load_principal(self.session, user)
        if not is_candidate(target, task.tier, task.node_id, task.candidate_roles):
            raise Invalid(f"{username} holds no matching role on {task.node_id}",
                          [{"field": "username", "message": "not a member of the task's org node"}])
        previous = task.assignee_id
        task.assignee_id = user.id
        self._touch_task(task, "task_handed_over" if handover else "task_assigned", actor,
                         {"to": username, "from_user_id": previous})
        return task

    def suspend(self, instance_id: int, actor: Principal, reason: str = "") -> ProcessInstance:
        inst = self._lock(instance_id)
        if inst.status not in ("running", "error"):
            raise Conflict(f"an instance that is {inst.status} cannot be suspended")
        inst.status = "suspended"
        self._admin_event(inst, "instance_suspended", actor, reason)
        return inst

    def resume(self, instance_id: int, actor: Principal, reason: str = "") -> ProcessInstance:
        inst = self._lock(instance_id)
        if inst.status != "suspended":
            raise Conflict("only a suspended instance can be resumed")
        inst.status = "error" if inst.error_message else "running"
        self._admin_event(inst, "instance_resumed", actor, reason)
        if inst.status == "running":
            loaded = self._load(inst)
            self._run(loaded, before=inst.state, action=None, actor=actor)
        return inst

    def terminate(self, instance_id: int, actor: Principal | None, reason: str = "", *,
                  _cascade: bool = False) -> ProcessInstance:
        inst = self._lock(instance_id)
        if inst.status in ENDED:
            raise Conflict(f"the instance is already {inst.status}")
        now = self.clock.now()
        inst.status, inst.ended_at, inst.updated_at, inst.next_timer_at = "terminated", now, now, None
        for task in self.session.scalars(select(HumanTask).where(HumanTask.instance_id == inst.id,
                                                                 HumanTask.status == "open")):
            task.status = "cancelled"
            events.log(self.session, now, "task_cancelled", instance_id=inst.id, task_id=task.id, actor=actor,
                       payload={"reason": "instance terminated"})
        self._admin_event(inst, "instance_terminated", actor, reason)
        children = self.session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.parent_id == inst.id, ProcessInstance.status.not_in(ENDED))).all()
        for child_id in children:
            self.terminate(child_id, actor, f"parent instance {inst.id} terminated", _cascade=True)
        self._flush()
        if inst.parent_id and not _cascade:
            self._child_finished(inst)
        return inst

    def retry(self, instance_id: int, actor: Principal, variables: dict[str, Any] | None = None) -> ProcessInstance:
        inst = self._lock(instance_id)
        if inst.status != "error":
            raise Conflict("only an instance with an incident can be retried")
        check_submitted(variables, self.settings.max_form_bytes, "variables")
        loaded = self._load(inst)
        if variables:
            for t in loaded.wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
                t.data.update(variables)
        inst.status, inst.error_message, inst.error_task, inst.error_traceback = "running", None, None, None
        events.log(self.session, self.clock.now(), "incident_retried", instance_id=inst.id, actor=actor,
                   payload={"variables": _jsonable(variables or {})})
        self._run(loaded, before=dump_state(loaded.wf), action=None, actor=actor)
        return inst

    def fire_timers(self, instance_id: int, actor: Principal | str | None = None) -> int:
        """Advance one instance whose timers are due; returns how many timers fired."""
        inst = self._lock(instance_id)
        if inst.status != "running":
            return 0
        loaded = self._load(inst)
        now = self.clock.now()
        due = [(t, timer_due(t)) for t in self._waiting_timers(loaded.wf)]
        due = [(t, d) for t, d in due if d is not None and d <= now]
        before = inst.state
        for t, when in due:
            late = (now - when).total_seconds() > max(60.0, self.settings.scheduler_interval_s * 3)
            events.log(self.session, now, "timer_fired", instance_id=inst.id, actor=actor or "scheduler",
                       payload={"spec_id": t.task_spec.bpmn_id, "name": t.task_spec.bpmn_name,
                                "due": when.isoformat(), "late": late})
        self._run(loaded, before=before, action=None, actor=None)
        return len(due)

    def fire_timer_now(self, instance_id: int, actor: Principal, timer_id: str | None = None) -> str:
        """Fire one waiting timer of a running instance now, due or not (admin); returns its id.
        Without `timer_id`, the one due first."""
        inst = self._lock(instance_id)
        if inst.status != "running":
            raise Conflict(f"the instance is {inst.status}; only a running instance's timers can fire")
        loaded = self._load(inst)
        timers = [t for t in self._waiting_timers(loaded.wf) if timer_id is None or t.task_spec.bpmn_id == timer_id]
        if not timers:
            if timer_id is not None:
                raise NotFound(f"instance {instance_id} has no waiting timer {timer_id!r}")
            raise Conflict(f"instance {instance_id} waits on no timer")
        far = datetime.max.replace(tzinfo=self.zone)
        target = min(timers, key=lambda t: timer_due(t) or far)
        due, guid, now = timer_due(target), target.id, self.clock.now()

        def force(w: BpmnWorkflow) -> None:
            force_timer(w.get_task_from_id(guid), now)

        before = inst.state
        force(loaded.wf)
        events.log(self.session, now, "timer_fired", instance_id=inst.id, actor=actor,
                   payload={"spec_id": target.task_spec.bpmn_id, "name": target.task_spec.bpmn_name,
                            "due": due.isoformat() if due else None, "late": False, "manual": True,
                            "admin_action": True})
        self._run(loaded, before=before, action=force, actor=actor)
        return target.task_spec.bpmn_id

    def send_message(self, name: str, payload: dict[str, Any] | None, actor: Principal | None) -> list[ProcessInstance]:
        """Start every deployed process whose message start event catches `name`."""
        started = []
        for d in self._message_starters(name):
            ev = next(e for e in d.info.get("start_events", []) if e.get("kind") == "message" and e.get("message") == name)
            started.append(self.start(d, dict(payload or {}), actor, start_event=ev["id"]))
        if not started:
            raise NotFound(f"no deployed process starts on message {name!r}")
        return started

    # ---- loading and locking ---------------------------------------------------------------

    def _lock(self, instance_id: int) -> ProcessInstance:
        if instance_id in self._active:
            return self._active[instance_id].inst
        q = (select(ProcessInstance).where(ProcessInstance.id == instance_id)
             .options(_DEFINITION_WITHOUT_TEXTS).execution_options(populate_existing=True))
        if not self._sqlite:
            q = q.with_for_update(of=ProcessInstance)
        inst = self.session.scalars(q).one_or_none()
        if inst is None:
            raise NotFound(f"process instance {instance_id} does not exist")
        return inst

    def _load(self, inst: ProcessInstance) -> Loaded:
        if inst.id in self._active:
            return self._active[inst.id]
        spec, subs = SPECS.get(inst.definition)
        engine = self._script_engine(inst)
        wf = load_state(inst.state, spec, subs, engine)
        return Loaded(inst, wf, engine)

    def _visible_task(self, task_id: int, actor: Principal, lock: bool = False) -> HumanTask:
        task = self.session.scalars(select(HumanTask).where(HumanTask.id == task_id, task_visible_clause(actor))
                                    .execution_options(populate_existing=True)).first()
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        if lock:
            self._lock(task.instance_id)
        return task

    def _task_for_action(self, task_id: int, actor: Principal) -> tuple[HumanTask, ProcessInstance]:
        if self._active:  # an instance changing in this unit of work must not be re-read over
            task = self._visible_task(task_id, actor)
            inst = self._lock(task.instance_id)
        else:
            row = self.session.execute(_TASK_AND_INSTANCE if self._sqlite else _TASK_AND_INSTANCE_LOCKED,
                                       {"task_id": task_id}).one_or_none()
            if row is None or not task_visible(actor, row[0]):
                raise NotFound(f"task {task_id} does not exist")
            task, inst = row
        if not self._sqlite:
            # PostgreSQL: the task may have changed between reading it and taking the instance's
            # lock. SQLite: the transaction holds the database's write lock (or a snapshot that
            # cannot commit a write if another writer got in first), so the row read is current.
            self.session.refresh(task)
        if task.status != "open":
            raise Conflict(f"the task is already {task.status}")
        if inst.status == "suspended":
            raise Conflict("the instance is suspended")
        if inst.status in ENDED:
            raise Conflict(f"the instance is {inst.status}")
        if inst.status == "error":
            raise Conflict("the instance has an incident; an admin must retry it first")
        if not can_act_on(actor, task):
            if task.assignee_id is not None:
                raise Conflict("the task is claimed by someone else")
            raise Forbidden("you may read this task but not act on it")
        return task, inst

    def _touch_task(self, task: HumanTask, type_: str, actor: Principal, payload: dict[str, Any] | None = None) -> None:
        inst = self._lock(task.instance_id)
        inst.updated_at = self.clock.now()
        events.log(self.session, inst.updated_at, type_, instance_id=task.instance_id, task_id=task.id, actor=actor,
                   payload={"name": task.name, **(payload or {})})
        self._flush()

    def _admin_event(self, inst: ProcessInstance, type_: str, actor: Principal | None, reason: str) -> None:
        inst.updated_at = self.clock.now()
        events.log(self.session, inst.updated_at, type_, instance_id=inst.id, actor=actor,
                   payload={"reason": reason, "admin_action": True})
        self._flush()

    def _write_task(self, task: HumanTask, **values: Any) -> None:
        """Update a task row with one Core statement and mark the values as the loaded object's
        committed state (no ORM flush on the completion path)."""
        self.session.connection().execute(_TASK_UPDATE, {"task_id_": task.id, **values})
        for key, value in values.items():
            set_committed_value(task, key, value)

    def _flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError:
            raise Conflict("the instance was changed by someone else at the same time; reload and try again") from None

    # ---- the engine loop ---------------------------------------------------------------------

    def _run(self, loaded: Loaded, before: bytes | None, action: Callable[[BpmnWorkflow], None] | None,
             actor: Principal | None) -> None:
        """Run engine steps to the next wait state; on failure record an incident instead.

        The outermost call of a request times all its engine work, including the children it
        starts and the parents it continues, against SANJI_ENGINE_MAX_SECONDS: its savepoint
        then also covers that work, so that running out of time rolls all of it back and the
        incident is recorded on the instance the request acted on."""
        outermost = self._deadline.at is None
        if outermost:
            self._deadline.at = monotonic() + self._deadline.seconds
        inst = loaded.inst
        self._active[inst.id] = loaded
        try:
            savepoint = self.session.begin_nested()
            logged = events.mark(self.session)  # events buffered since are undone with the savepoint
            try:
                self._steps(loaded)
                self._save(loaded)
                if not outermost:
                    savepoint.commit()
            except (Conflict, StaleDataError, OperationalError, InterfaceError, IntegrityError):
                # concurrency and connection failures are transient: the request fails (409/503)
                # and the instance stays as it was, instead of recording an incident
                self._undo(savepoint, logged)
                raise
            except Exception as exc:  # noqa: BLE001 - any engine failure becomes an incident
                self._undo(savepoint, logged)
                timeout = timeout_in(exc)
                if timeout is not None and not outermost:
                    raise timeout from None  # the request's outermost loop records it
                if outermost:
                    self._deadline.at = None  # the incident replays the caller's action, untimed
                self._incident(loaded, timeout or exc, before, action)
                return
            finally:
                self._active.pop(inst.id, None)
            if not outermost:
                self._continue(inst, loaded)
                return
            try:
                self._continue(inst, loaded)
            except Exception as exc:
                self._undo(savepoint, logged)
                timeout = timeout_in(exc)
                if timeout is None:
                    raise
                self._deadline.at = None
                self._incident(loaded, timeout, before, action)
                return
            savepoint.commit()
        finally:
            if outermost:
                self._deadline.at = None

    def _continue(self, inst: ProcessInstance, loaded: Loaded) -> None:
        """After an instance's steps: the starts they deferred, and its parent if it ended."""
        for job in loaded.deferred:
            job()
        if inst.status in ENDED and inst.parent_id:
            self._child_finished(inst)

    def _undo(self, savepoint: Any, logged: int) -> None:
        """Roll back to the savepoint: its rows, its buffered events, and the loaded objects' values
        (rows written with Core statements are not tracked by the session, so expire them all)."""
        savepoint.rollback()
        events.discard_after(self.session, logged)
        self.session.expire_all()

    def _steps(self, loaded: Loaded) -> None:
        wf = loaded.wf
        for _ in range(MAX_ROUNDS):
            self._deadline.check()
            wf.refresh_timers()
            wf.do_engine_steps(did_complete_task=self._deadline.check)
            ready = wf.get_tasks(state=TaskState.READY)
            progressed = self._detached(loaded, ready)
            if not progressed and all(t.task_spec.manual for t in ready):
                break  # nothing changed since `ready` was read: it is the wait state's ready list
        else:
            raise ScriptError(f"the process did not reach a wait state within {MAX_ROUNDS} rounds (a loop?)")
        self._sync_tasks(loaded, ready)
        self._messages(loaded)

    def _incident(self, loaded: Loaded, exc: Exception, before: bytes | None,
                  action: Callable[[BpmnWorkflow], None] | None) -> None:
        inst = loaded.inst
        # Rebuild the state as it was after the caller's action, before the failing steps.
        if before:
            spec, subs = SPECS.get(inst.definition)
            wf = load_state(before, spec, subs, loaded.engine)
        else:
            spec, subs = SPECS.get(inst.definition)
            wf = BpmnWorkflow(spec, subs, script_engine=loaded.engine)
        if action is not None:
            action(wf)
        task = getattr(exc, "task", None)
        if task is not None and getattr(task.workflow, "top_workflow", None) is not loaded.wf:
            task = None  # a child instance's element (the request's time ran out there)
        task_spec = getattr(task, "task_spec", None)
        now = self.clock.now()
        inst.state = dump_state(wf)
        inst.status = "error"
        inst.error_message = _message(exc)[:2000]
        inst.error_task = getattr(task_spec, "bpmn_id", None)
        inst.error_traceback = "".join(traceback.format_exception(exc))[-20000:]
        inst.updated_at = now
        events.log(self.session, now, "incident", instance_id=inst.id,
                   payload={"message": inst.error_message, "task": inst.error_task})
        trace.record(self.session, inst, wf)
        self._flush()

    def _save(self, loaded: Loaded) -> None:
        """Write the instance row with one Core UPDATE guarded by its version (no ORM flush on
        the hot path), then make the values the loaded object's committed state."""
        inst, wf = loaded.inst, loaded.wf
        now = self.clock.now()
        last_task = wf.last_task
        if last_task is not None and isinstance(last_task.task_spec, StartEventJoin):
            # several start events meet in a join without outputs that completes after the chosen
            # start's first steps (e.g. before a fan-out): the instance's data is those steps'
            done = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if not isinstance(t.task_spec, StartEventJoin)]
            last_task = max(done, key=lambda t: t.last_state_change, default=None)
        last = last_task.data if last_task is not None else {}
        values: dict[str, Any] = {"state": dump_state(wf, self.settings.max_instance_bytes),
                                  "data": _jsonable(last), "updated_at": now}
        title = values["data"].get("title")
        if isinstance(title, str) and title.strip() and title.strip()[:300] != inst.title:
            values["title"] = title.strip()[:300]  # a script or form may (re)name the instance
        dues = [d for d in (timer_due(t) for t in self._waiting_timers(wf)) if d is not None]
        values["next_timer_at"] = min(dues) if dues else None
        if wf.is_completed() and inst.status not in ENDED:
            values.update(status="completed", ended_at=now, next_timer_at=None)
            events.log(self.session, now, "instance_completed", instance_id=inst.id)
        self._flush()  # anything else changed on the ORM objects (a new instance's root_id, …)
        trace.record(self.session, inst, wf, replace=not loaded.fresh)
        loaded.fresh = False
        values["version"] = inst.version + 1
        written = self.session.connection().execute(
            _INSTANCE_UPDATE, {"instance_id_": inst.id, "version_": inst.version, **values})
        if written.rowcount != 1:
            raise Conflict("the instance was changed by someone else at the same time; reload and try again")
        for key, value in values.items():
            set_committed_value(inst, key, value)

    @staticmethod
    def _waiting_timers(wf: BpmnWorkflow) -> list[Any]:
        return [t for t in wf.get_tasks(state=TaskState.WAITING)
                if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)]

    def _seed(self, wf: BpmnWorkflow, variables: dict[str, Any], start_event: str | None) -> None:
        """Put the start data in and keep exactly one start event (timer/message ones fire now)."""
        start = wf.get_next_task(spec_name="Start")
        start.set_data(**variables)
        events_ = [t for t in start.children]
        if len(events_) == 1 and isinstance(events_[0].task_spec, StartEventSplit):
            # several start events (e.g. a timer and a manual one): SpiffWorkflow puts a split before them
            events_ = [t for t in events_[0].children]
        if not events_:
            start.run()
            return
        chosen = None
        if start_event is not None:
            chosen = next((t for t in events_ if t.task_spec.bpmn_id == start_event), None)
            if chosen is None:
                raise Invalid(f"the process has no start event {start_event!r}",
                              [{"field": "start_event", "message": start_event}])
        else:
            plain = [t for t in events_
                     if type(getattr(t.task_spec, "event_definition", None)).__name__ == "NoneEventDefinition"]
            chosen = plain[0] if plain else events_[0]
        # Decide before the start events are first updated: the chosen one has fired (a timer or
        # message start is fired by whoever starts the instance), the others never will.
        for t in events_:
            if t is not chosen:
                t.cancel()
        chosen._set_internal_data(event_fired=True)
        if isinstance(chosen.task_spec.event_definition, CycleTimerEventDefinition):
            # a cycle timer adds its outputs only when a cycle completes: fired now, it has completed one
            chosen._sync_children(chosen.task_spec.outputs, TaskState.LIKELY)
            for child in chosen.children:
                child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
        start.run()
        if chosen.parent is start:  # behind a split, the split readies it when it runs
            chosen.task_spec._update(chosen)

    # ---- tasks --------------------------------------------------------------------------------

    def _sync_tasks(self, loaded: Loaded, ready_now: list[Any]) -> None:
        inst = loaded.inst
        now = self.clock.now()
        if loaded.fresh:
            open_rows: dict[str, int] = {}
        else:
            self._flush()  # task rows changed through the ORM (terminate, assign, …) are read as they are now
            open_rows = dict(self.session.connection().execute(_OPEN_TASKS, {"instance_id_": inst.id}).all())
        ready = {}
        for t in ready_now:
            spec = t.task_spec
            if spec.manual and not isinstance(spec, DetachedCallActivity):
                ready[str(t.id)] = t
        for guid, t in ready.items():
            if guid not in open_rows:
                self._deadline.check(t)
                self._create_task_row(loaded, t, now)
        for guid, task_id in open_rows.items():
            if guid not in ready:
                row = self.session.get(HumanTask, task_id)
                assert row is not None
                self._write_task(row, status="cancelled")
                events.log(self.session, now, "task_cancelled", instance_id=inst.id, task_id=row.id,
                           payload={"spec_id": row.spec_id, "name": row.name, "reason": "left by the process"})

    def _create_task_row(self, loaded: Loaded, t: Any, now: datetime) -> int:
        inst = loaded.inst
        spec = t.task_spec
        props = (getattr(spec, "extensions", None) or {}).get("properties", {}) or {}
        tier = lane_tier(spec.lane)
        if tier is None:
            raise ScriptError(f"user task {spec.bpmn_id} lies in lane {spec.lane!r}, which names no tier")
        # the group's id only for group-lane tasks: other tiers route by unit_id / branch_id
        group = self._group() if tier == "group" and not props.get("nodeVariable") else ""
        node = resolve_node(self.session, tier, t.data, group, props.get("nodeVariable"))
        due = None
        if props.get("dueAt"):
            due = self._due_from(loaded.engine.evaluate(t, props["dueAt"]))
        elif props.get("dueIn"):
            due = add_duration(now, props["dueIn"], self.zone)
        roles = props.get("candidateRoles")
        assignee = self._assignee(t.data, props["assigneeVariable"], tier, node, roles) if props.get("assigneeVariable") else None
        name = (spec.bpmn_name or spec.bpmn_id)[:200]
        task_id: int = self.session.connection().execute(_TASK_INSERT, dict(
            instance_id=inst.id, root_instance_id=inst.root_id or inst.id, task_guid=str(t.id),
            spec_id=spec.bpmn_id, name=name, process_key=inst.process_key,
            lane=spec.lane, tier=tier, node_id=node.id, unit_id=self._unit_of(node),
            candidate_roles=("," + ",".join(r.strip() for r in roles.split(",") if r.strip()) + ",") if roles else None,
            form_key=props.get("formJsonSchemaFilename"), status="open", created_at=now, due_at=due,
            assignee_id=assignee.id if assignee else None, completed_at=None, completed_by_id=None, data=None,
        )).scalar_one()
        payload = {"spec_id": spec.bpmn_id, "name": name, "tier": tier, "node_id": node.id,
                   "due_at": due.isoformat() if due else None}
        if assignee is not None:
            payload["assignee"] = assignee.username
        events.log(self.session, now, "task_created", instance_id=inst.id, task_id=task_id, payload=payload)
        return task_id

    def _assignee(self, data: dict[str, Any], variable: str, tier: str, node: NodeRef, roles: str | None) -> User:
        """The task property `assigneeVariable`: the variable holds the username the task is
        assigned to; that person must hold a role of the lane's tier on the task's org node."""
        username = data.get(variable)
        if not isinstance(username, str) or not username:
            raise RoutingError(f"assigneeVariable: the variable {variable!r} must hold a username")
        user = self.session.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
        if user is None:
            raise RoutingError(f"assigneeVariable: {variable}={username!r} is not an active user")
        if not is_candidate(org.load_principal(self.session, user), tier, node.id, roles):
            raise RoutingError(f"assigneeVariable: {username} holds no {tier} role on {node.id}")
        return user

    def _due_from(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=self.zone)
        text = str(value)
        if len(text) == 10:  # a date: due by the end of that day, local time
            return datetime.combine(datetime.fromisoformat(text).date(), time(23, 59, 59), self.zone)
        return parse_datetime(text, self.zone)

    # ---- fan-out --------------------------------------------------------------------------------

    def _detached(self, loaded: Loaded, ready: list[Any]) -> bool:
        """Spawn children for new detached call activities; complete those whose children ended."""
        inst = loaded.inst
        progressed = False
        for t in ready:
            spec = t.task_spec
            if not isinstance(spec, DetachedCallActivity):
                continue
            guid = str(t.id)
            if not t._get_internal_data("spawned"):
                self._spawn(loaded, t)
                t._set_internal_data(spawned=True)
            fan = self.session.get(FanOut, (inst.id, guid), populate_existing=True)
            if fan is not None and fan.pending <= 0:
                if spec.output_collection:
                    rows = self.session.execute(select(ProcessInstance.data).where(
                        ProcessInstance.parent_id == inst.id, ProcessInstance.parent_task_guid == guid)
                        .order_by(ProcessInstance.item_index)).scalars().all()
                    t.data[spec.output_collection] = [
                        (d or {}).get(spec.output_item) if spec.output_item else d for d in rows]
                self.session.delete(fan)
                t.run()
                progressed = True
        return progressed

    def _spawn(self, loaded: Loaded, t: Any) -> None:
        inst = loaded.inst
        spec: DetachedCallActivity = t.task_spec
        if spec.collection is None:
            items: list[Any] = [None]
        else:
            items = t.data.get(spec.collection)
            if not isinstance(items, list):
                raise ScriptError(f"{spec.bpmn_id}: {spec.collection!r} must be a list to fan out over, "
                                  f"not {type(items).__name__}")
            if len(items) > self.settings.max_fanout:
                exc = BoundExceeded(f"{spec.bpmn_id}: {spec.collection!r} has {len(items)} items; a call activity "
                                    f"starts at most {self.settings.max_fanout} child instances (SANJI_MAX_FANOUT)")
                exc.task = t
                raise exc
        child_def = self._called_definition(inst.definition, spec.called_element)
        guid = str(t.id)
        self.session.add(FanOut(instance_id=inst.id, task_guid=guid, total=len(items), pending=len(items)))
        self.session.flush()
        # A child gets the caller's data and its own item, not the whole list it was cut from:
        # copying a 1,000-branch list into each of 1,000 children made a cycle start quadratic.
        base = {k: v for k, v in t.data.items() if k not in (spec.output_collection, spec.collection)}
        for idx, item in enumerate(items):
            self._deadline.check(t)
            variables = dict(base)
            if spec.collection is not None:
                variables[spec.item or "item"] = item
            self.start(child_def, variables, None, _parent=(inst, guid, idx if spec.collection else None))

    def _called_definition(self, caller: ProcessDefinition, key: str) -> ProcessDefinition:
        same_file = self.session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessDefinition.sha256 == caller.sha256)
            .order_by(ProcessDefinition.version.desc()).limit(1)).first()
        return same_file or latest(self.session, key)

    def _child_finished(self, child: ProcessInstance) -> None:
        assert child.parent_id is not None and child.parent_task_guid is not None
        pending = self.session.execute(
            update(FanOut).where(FanOut.instance_id == child.parent_id, FanOut.task_guid == child.parent_task_guid)
            .values(pending=FanOut.pending - 1).returning(FanOut.pending)).scalar()
        if pending is None or pending > 0 or child.parent_id in self._active:
            return  # the active parent notices in its own loop
        parent = self._lock(child.parent_id)
        if parent.status != "running":
            return  # resumed or retried later, its loop then completes the fan-out
        loaded = self._load(parent)
        self._run(loaded, before=parent.state, action=None, actor=None)

    def _depth(self, inst: ProcessInstance) -> int:
        depth, current = 0, inst
        while current.parent_id is not None and depth <= MAX_DEPTH:
            depth += 1
            current = self.session.get(ProcessInstance, current.parent_id)  # type: ignore[assignment]
        return depth

    # ---- messages and deferred starts --------------------------------------------------------------

    def _messages(self, loaded: Loaded) -> None:
        for event in loaded.wf.get_events():
            definition = event.event_definition
            if not isinstance(definition, MessageEventDefinition):
                continue
            payload = event.payload if isinstance(event.payload, dict) else {"payload": event.payload}
            name = definition.name
            source = loaded.inst.id

            def start_catchers(name: str = name, payload: dict[str, Any] = payload, source: int = source) -> None:
                for d in self._message_starters(name):
                    ev = next(e for e in d.info.get("start_events", [])
                              if e.get("kind") == "message" and e.get("message") == name)
                    child = self.start(d, dict(payload), None, start_event=ev["id"])
                    events.log(self.session, self.clock.now(), "message_delivered", instance_id=source,
                               payload={"message": name, "started_instance_id": child.id})

            loaded.deferred.append(start_catchers)

    def _message_starters(self, name: str) -> list[ProcessDefinition]:
        rows = self.session.scalars(select(ProcessDefinition).where(ProcessDefinition.active.is_(True))
                                    .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())).all()
        latest_by_key: dict[str, ProcessDefinition] = {}
        for d in rows:
            latest_by_key.setdefault(d.key, d)
        return [d for d in latest_by_key.values()
                if any(e.get("kind") == "message" and e.get("message") == name for e in d.info.get("start_events", []))]

    # ---- scripts ------------------------------------------------------------------------------------

    def _script_engine(self, inst: ProcessInstance) -> SanjiScriptEngine:
        def helpers() -> dict[str, Any]:
            scope = ScriptScope.of(self.session, inst)  # what this instance's scripts may reach
            out: dict[str, Any] = date_helpers(self.clock.now, self.zone)
            out.update(self._org_helpers(scope))
            out.update(self._record_helpers(inst, scope))
            out.update(platform_helpers(self.session, self.clock, self.settings, scope))
            return out

        env = RestrictedEnvironment(helpers, self.settings.script_timeout_ms / 1000,
                                    self.settings.script_max_mb << 20, self._deadline)
        return SanjiScriptEngine(env, self.clock.now, self.zone, self.settings.max_branches,
                                 self.settings.timer_min_seconds)

    def _org_helpers(self, scope: ScriptScope) -> dict[str, Callable[..., Any]]:
        """The org tree (what every signed-in user reads at GET /api/v1/org) is open to every
        script; who works in a unit only to instances whose scope holds the unit."""
        session = self.session

        def org_units() -> list[str]:
            return [n.id for n in org.units(session)]

        def org_branches(unit_id: str | None = None) -> list[str]:
            return [n.id for n in org.branches(session, unit_id)]

        def org_name(node_id: str) -> str:
            node = session.get(OrgNode, node_id)
            return node.name if node else str(node_id)

        def unit_of(node_id: str) -> str | None:
            node = session.get(OrgNode, node_id)
            return self._unit_of(node) if node else None

        def org_people(unit_id: str) -> list[dict[str, Any]]:
            scope.people_of("org_people", unit_id)
            return org.people(session, unit_id)

        return {"org_units": org_units, "org_branches": org_branches, "org_name": org_name,
                "unit_of": unit_of, "group_id": self._group, "org_people": org_people}

    def _record_helpers(self, inst: ProcessInstance, scope: ScriptScope) -> dict[str, Callable[..., Any]]:
        """Records inside the instance's scope, of the kinds its process may touch (`ScriptScope`)."""
        session = self.session

        def save_record(kind: str, key: str, data: dict[str, Any], node_id: str | None = None,
                        confidential: bool = False) -> None:
            rule = scope.kind("save_record", kind)
            if not isinstance(data, dict):
                raise ScriptError("save_record(kind, key, data): data must be a dict")
            node = scope.owns("save_record", rule, node_id or inst.scope_node_id, "the owner node")
            now = self.clock.now()
            row = session.scalars(select(Record).where(Record.kind == kind, Record.key == str(key))).first()
            if row is None:
                row = Record(kind=kind, key=str(key), created_at=now)
                session.add(row)
            else:  # never replace (or move) a record owned outside the scope
                scope.owns("save_record", rule, row.node_id, f"{kind} record {str(key)!r}")
            # a rewrite never lowers confidentiality, and a confidential kind is always confidential
            secret = bool(confidential) or bool(rule and rule.confidential) or bool(row.confidential)
            row.node_id, row.unit_id, row.instance_id = node.id, self._unit_of(node), inst.id
            row.confidential, row.data, row.updated_at = secret, _jsonable(data), now

        def find_records(kind: str, unit_id: str | None = None, node_id: str | None = None) -> list[dict[str, Any]]:
            rule = scope.kind("find_records", kind)
            if rule is not None and rule.confidential:
                scope.confidential("find_records", kind)
            q = select(Record).where(Record.kind == kind, scope.area(rule))
            if unit_id:
                scope.filter_node("find_records", unit_id, "unit_id")
                q = q.where(Record.unit_id == unit_id)
            if node_id:
                scope.filter_node("find_records", node_id, "node_id")
                q = q.where(Record.node_id == node_id)
            rows = list(session.scalars(q.order_by(Record.id)))
            if any(r.confidential for r in rows):
                scope.confidential("find_records", kind)
            return [{"key": r.key, "node_id": r.node_id, **(r.data or {})} for r in rows]

        def update_record(kind: str, key: str, changes: dict[str, Any] | None = None,
                          increments: dict[str, Any] | None = None, path: list[Any] | None = None) -> dict[str, Any]:
            """Change part of an existing record under a row lock, so that concurrent instances
            (e.g. several branches confirmed at once) never lose each other's updates: `path`
            leads from the record's data to the dict to change (e.g. ["findings", 2]), `changes`
            are set there, `increments` are added to numbers there. Returns the new data."""
            rule = scope.kind("update_record", kind)
            if rule is not None and rule.confidential:
                scope.confidential("update_record", kind)
            q = (select(Record).where(Record.kind == kind, Record.key == str(key))
                 .execution_options(populate_existing=True))
            if session.get_bind().dialect.name != "sqlite":  # SQLite: writers are serialised already
                q = q.with_for_update()
            row = session.scalars(q).first()
            if row is None:
                raise ScriptError(f"update_record: there is no {kind} record {key!r}")
            scope.owns("update_record", rule, row.node_id, f"{kind} record {str(key)!r}")
            if row.confidential:  # the new data is returned to the script
                scope.confidential("update_record", kind)
            data = deepcopy(row.data or {})
            target: Any = data
            for step in path or []:
                try:
                    target = target[step]
                except (KeyError, IndexError, TypeError):
                    raise ScriptError(f"update_record: {kind} record {key!r} has no {list(path or [])!r}") from None
            if not isinstance(target, dict):
                raise ScriptError(f"update_record: {list(path or [])!r} of {kind} record {key!r} is not an object")
            if changes:
                target.update(_jsonable(changes))
            for name, amount in (increments or {}).items():
                current = target.get(name) or 0
                if not isinstance(current, (int, float)) or not isinstance(amount, (int, float)):
                    raise ScriptError(f"update_record: {name!r} of {kind} record {key!r} is not a number")
                target[name] = current + amount
            row.data, row.updated_at = data, self.clock.now()
            session.flush()
            return deepcopy(data)

        def get_record(kind: str, key: str) -> dict[str, Any] | None:
            rule = scope.kind("get_record", kind)
            if rule is not None and rule.confidential:
                scope.confidential("get_record", kind)
            row = session.scalars(select(Record).where(Record.kind == kind, Record.key == str(key))).first()
            if row is None:
                return None
            scope.owns("get_record", rule, row.node_id, f"{kind} record {str(key)!r}")
            if row.confidential:
                scope.confidential("get_record", kind)
            return dict(row.data or {})

        def instance_id() -> int:
            return inst.id

        return {"save_record": save_record, "find_records": find_records, "update_record": update_record,
                "get_record": get_record, "instance_id": instance_id}

    # ---- org helpers -----------------------------------------------------------------------------------

    def _group(self) -> str:
        if self._group_id is None:
            self._group_id = org.group_root(self.session).id
        return self._group_id

    @staticmethod
    def _unit_of(node: OrgNode | NodeRef) -> str | None:
        if node.tier == "unit":
            return node.id
        if node.tier == "branch":
            return node.parent_id
        return None

    def _scope_node(self, variables: dict[str, Any]) -> OrgNode:
        """The deepest org node named by the start data; `unit_id` and `branch_id` must agree."""
        found: dict[str, OrgNode] = {}
        for var, tier in (("branch_id", "branch"), ("unit_id", "unit")):
            value = variables.get(var)
            if value is None:
                continue
            node = self.session.get(OrgNode, value) if isinstance(value, str) else None
            if node is None or node.tier != tier or not node.active:
                raise Invalid(f"{var}={value!r} is not a {tier} of the organisation",
                              [{"field": f"variables/{var}", "message": f"not a {tier}"}])
            found[tier] = node
        if "branch" in found and "unit" in found and found["branch"].parent_id != found["unit"].id:
            raise Invalid(f"branch {found['branch'].id} does not belong to unit {found['unit'].id}",
                          [{"field": "variables/branch_id", "message": "not in that unit"}])
        return found.get("branch") or found.get("unit") or self.session.get(OrgNode, self._group())  # type: ignore[return-value]


def _message(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    notes = getattr(exc, "__notes__", None)
    if notes:
        text += " (" + "; ".join(notes) + ")"
    return f"{type(exc).__name__}: {text}"


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _jsonable(value: Any) -> Any:
    """Task data as JSON: datetimes as ISO strings, sets as lists, unknown objects as text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, (list, tuple, set)):
        # fast path for the common flat lists (a fan-out's 1,000 branch ids in every child's data)
        if all(type(v) in _SCALARS for v in value):
            return list(value)
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
