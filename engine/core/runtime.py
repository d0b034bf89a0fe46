"""The runtime: start instances, complete tasks, fire timers, fan out, record incidents.

Every public method is one unit of work inside the caller's transaction (the caller
commits). An instance is locked while it changes (`SELECT … FOR UPDATE` on PostgreSQL,
`BEGIN IMMEDIATE` on SQLite) and carries an optimistic `version`, so a concurrent writer
gets 409 and the state stays intact. An exception inside engine steps rolls back to a
savepoint and becomes an incident (status `error`), never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.approvals import Approvals, approval_roles
from engine.core.bounds import Deadline, check_submitted
from engine.core.claims import TaskClaims
from engine.core.copies import Copies
from engine.core.decisions import Decisions, sign_outcome
from engine.core.fanout import FanOutMixin
from engine.core.forms import FormStore
from engine.core.loop import EngineLoop
from engine.core.messages import Messages
from engine.core.repository import SPECS, latest
from engine.core.runtime_base import ENDED, MAX_DEPTH, MAX_ROUNDS, URGE_INTERVAL, Loaded, RunAgain, _jsonable, _message
from engine.core.script_helpers import ScriptHelpers
from engine.core.spiff import dump_state
from engine.core.spiff_timers import force_timer, timer_due
from engine.core.task_rows import TaskRows
from engine.errors import Conflict, NotFound, SanjiError, ScriptError
from engine.infra import events
from engine.infra.clock import Clock
from engine.infra.settings import Settings
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from engine.org.nodes import Principal

# Re-exported: other modules and tests import these from here.
__all__ = [
    "ENDED",
    "MAX_DEPTH",
    "MAX_ROUNDS",
    "URGE_INTERVAL",
    "Loaded",
    "RunAgain",
    "Runtime",
    "_jsonable",
    "_message",
]


class Runtime(EngineLoop, TaskRows, TaskClaims, Approvals, Decisions, Copies, FanOutMixin, Messages, ScriptHelpers):
    """The public operations; each concern lives in its own mixin module (engine loop, task rows,
    claims and urges, fan-out, messages, script helpers), all sharing one unit of work."""

    def __init__(self, session: Session, clock: Clock, settings: Settings, forms: FormStore | None = None) -> None:
        self.session = session
        self.clock = clock
        self.settings = settings
        self.forms = (forms or FormStore(settings.forms_dir)).bound(session)
        self.zone = settings.zone
        self._active: dict[int, Loaded] = {}
        self._group_id: str | None = None
        self._depths: dict[int, int] = {}  # instance id -> its callers' count (fixed once it exists)
        self._batch_savepoint = False
        self.optimistic = False
        self._timeout_element: str | None = None
        self._sqlite = session.get_bind().dialect.name == "sqlite"
        # set by the outermost `_run` of a request: SANJI_ENGINE_MAX_SECONDS for all its engine work
        self._deadline = Deadline(settings.engine_max_seconds)

    def limit_engine_time(self, until: float | None, element: str | None = None) -> None:
        """An outer limit (a monotonic time) on the engine work of the next runs, beside
        SANJI_ENGINE_MAX_SECONDS (None: none): an optimistic completion's second run, with the
        element its first run ran out of time in (named by the incident if the second does)."""
        self._deadline.until = until
        self._timeout_element = element

    # ---- public operations ---------------------------------------------------------------

    def start(
        self,
        key: str | ProcessDefinition,
        variables: dict[str, Any] | None = None,
        actor: Principal | None = None,
        *,
        start_event: str | None = None,
        title: str | None = None,
        _parent: tuple[ProcessInstance, str, int | None] | None = None,
    ) -> ProcessInstance:
        definition = key if isinstance(key, ProcessDefinition) else latest(self.session, key)
        variables = dict(variables or {})
        if actor is not None and actor.is_system:  # the scheduler or a message (engine/org/policy.py SYSTEM)
            actor = None
        if actor is not None and _parent is None:  # what a person submits (not a message's or schedule's data)
            check_submitted(variables, self.settings.max_form_bytes, "start data")
        scope = self._scope_node(variables)
        now = self.clock.now()
        spec, subs = SPECS.get(definition)
        parent, parent_guid, item_index = _parent if _parent else (None, None, None)
        if parent is not None and self._depth(parent) + 1 > MAX_DEPTH:
            raise ScriptError("call activities nested deeper than {depth} levels", depth=MAX_DEPTH)
        inst = ProcessInstance(
            definition_id=definition.id,
            definition=definition,
            process_key=definition.key,
            status="running",
            title=(title or variables.get("title") or f"{definition.name} · {scope.name}")[:300],
            scope_node_id=scope.id,
            unit_id=self._unit_of(scope),
            parent_id=parent.id if parent else None,
            parent_task_guid=parent_guid,
            item_index=item_index,
            root_id=(parent.root_id or parent.id) if parent else None,
            started_by_id=actor.id if actor else None,
            started_at=now,
            updated_at=now,
            state=b"",
            data=_jsonable(variables),
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
            events.log(
                self.session,
                now,
                "instance_started",
                instance_id=inst.id,
                actor=actor,
                payload={
                    "process_key": definition.key,
                    "version": definition.version,
                    "parent_id": inst.parent_id,
                    "variables": _jsonable(variables),
                },
            )
            self._run(loaded, before=None, action=seed, actor=actor)
        return inst

    def complete(
        self,
        task_id: int,
        data: dict[str, Any],
        actor: Principal,
        *,
        check: Callable[[HumanTask, ProcessInstance, int | None], None] | None = None,
    ) -> HumanTask:
        """Complete a task with `data`. `check(task, instance, form version)` is the caller's own
        check of the data (the service's form resolved for the task, engine/services/task_form.py),
        run on the rows as read, before the runtime's checks of the task and the instance."""
        versions: dict[str, int | None] = {}

        def checked(task: HumanTask, inst: ProcessInstance) -> None:
            if task.form_key:
                versions["form"] = self.forms.pinned(inst.definition_id, task.form_key)
            if check is not None:
                check(task, inst, versions.get("form"))

        task, inst = self._task_for_action(task_id, actor, checked)
        check_submitted(data, self.settings.max_form_bytes)
        if task.kind == "approval":  # 审批: the decision on a held submission (engine/core/approvals.py)
            return self._decide(task, inst, data, actor)
        form_version = versions.get("form") if task.form_key else None  # the version its definition pins
        self.forms.validate(task.form_key, data, version=form_version)
        loaded = self._load(inst)
        guid = UUID(task.task_guid)
        self._check_rules(loaded, guid, data)
        props = self._spiff_props(loaded, guid)
        data = self._check_decision_properties(task, inst, props, data, actor)
        if props.get("cc"):  # 抄送: the people named must exist before anything is held or run
            self._cc_recipients(task, props["cc"], data)
        roles = approval_roles(props.get("approval"))
        if roles:
            return self._hold_for_approval(task, inst, _jsonable(data), roles, actor)
        return self._finish(task, inst, data, actor, loaded=loaded, form_version=form_version)

    def _finish(
        self,
        task: HumanTask,
        inst: ProcessInstance,
        data: dict[str, Any],
        actor: Principal,
        *,
        loaded: Loaded | None = None,
        form_version: int | None = None,
    ) -> HumanTask:
        """Complete the diagram's task with `data` as submitted by `actor` (directly, or once approved)."""
        if loaded is None:
            loaded = self._load(inst)
            form_version = self.forms.pinned(inst.definition_id, task.form_key) if task.form_key else None
        guid = UUID(task.task_guid)
        props = self._spiff_props(loaded, guid)
        cc = props.get("cc")

        def act(w: BpmnWorkflow) -> None:
            t = w.get_task_from_id(guid)
            if t is None or t.state != TaskState.READY:
                raise Conflict("the task is no longer waiting for completion")
            t.data.update(data)
            t.run()
            if props.get("sign"):
                sign_outcome(t)  # 会签 / 或签: `<task id>_agreed` (engine/core/decisions.py)

        before = inst.state
        try:
            act(loaded.wf)
        except SanjiError:
            raise
        except Exception as exc:  # a postScript of the task itself failed: nothing changes
            raise ScriptError(
                "completing {task!r} failed in its script: {reason}", task=task.name, reason=str(exc)
            ) from exc
        now = self.clock.now()
        done = _jsonable(data)
        self._write_task(
            task,
            status="completed",
            completed_at=now,
            completed_by_id=actor.id,
            assignee_id=task.assignee_id or actor.id,
            data=done,
        )
        with events.buffered(self.session):
            events.log(
                self.session,
                now,
                "task_completed",
                instance_id=inst.id,
                task_id=task.id,
                actor=actor,
                payload={
                    "spec_id": task.spec_id,
                    "name": task.name,
                    "data": done,
                    "late": bool(task.due_at and now > task.due_at),
                },
            )
            back = self.forms.send_back(task.form_key, data, version=form_version)
            if back is not None:  # 退回: the form chose the value that routes the diagram back
                events.log(
                    self.session,
                    now,
                    "task_sent_back",
                    instance_id=inst.id,
                    task_id=task.id,
                    actor=actor,
                    payload={"spec_id": task.spec_id, "name": task.name, "reason": back["reason"]},
                )
            self._run(loaded, before=before, action=act, actor=actor)
        from engine.platform.attachments.service import bind_completed  # issue 16: bind the form's attachments

        bind_completed(self.session, self.forms, task, inst, data, actor, now)  # issue 16 (one call, see there)
        if task.form_key:  # issue 19: fields marked "x-record" become records the dashboards read
            from engine.linkage import form_records

            form_records.save(
                self.session, self.forms.schema(task.form_key, version=form_version), task, inst, data, now, self.zone
            )
        if cc:
            self._copy_step(task, inst, cc, data, actor)  # 抄送 (engine/core/copies.py)
        return task

    def suspend(self, instance_id: int, actor: Principal, reason: str = "") -> ProcessInstance:
        inst = self._lock(instance_id)
        if inst.status not in ("running", "error"):
            raise Conflict("an instance that is {status} cannot be suspended", status=inst.status)
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

    def terminate(
        self, instance_id: int, actor: Principal | None, reason: str = "", *, _cascade: bool = False
    ) -> ProcessInstance:
        inst = self._lock(instance_id)
        if inst.status in ENDED:
            raise Conflict("the instance is already {status}", status=inst.status)
        now = self.clock.now()
        inst.status, inst.ended_at, inst.updated_at, inst.next_timer_at = "terminated", now, now, None
        for task in self.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == inst.id, HumanTask.status.in_(("open", "held")))
        ):
            task.status = "cancelled"
            events.log(
                self.session,
                now,
                "task_cancelled",
                instance_id=inst.id,
                task_id=task.id,
                actor=actor,
                payload={"reason": "instance terminated"},
            )
        self._admin_event(inst, "instance_terminated", actor, reason)
        children = self.session.scalars(
            select(ProcessInstance.id).where(ProcessInstance.parent_id == inst.id, ProcessInstance.status.not_in(ENDED))
        ).all()
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
        self._rearm_fanouts(inst)  # an asynchronous continuation that gave up tries again
        events.log(
            self.session,
            self.clock.now(),
            "incident_retried",
            instance_id=inst.id,
            actor=actor,
            payload={"variables": _jsonable(variables or {})},
        )
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
        due_now = [(t, d) for t, d in due if d is not None and d <= now]
        before = inst.state
        for t, when in due_now:
            late = (now - when).total_seconds() > max(60.0, self.settings.scheduler_interval_s * 3)
            events.log(
                self.session,
                now,
                "timer_fired",
                instance_id=inst.id,
                actor=actor or "scheduler",
                payload={
                    "spec_id": t.task_spec.bpmn_id,
                    "name": t.task_spec.bpmn_name,
                    "due": when.isoformat(),
                    "late": late,
                },
            )
        self._run(loaded, before=before, action=None, actor=None)
        return len(due_now)

    def fire_timer_now(self, instance_id: int, actor: Principal, timer_id: str | None = None) -> str:
        """Fire one waiting timer of a running instance now, due or not (admin); returns its id.
        Without `timer_id`, the one due first."""
        inst = self._lock(instance_id)
        if inst.status != "running":
            raise Conflict("the instance is {status}; only a running instance's timers can fire", status=inst.status)
        loaded = self._load(inst)
        timers = [t for t in self._waiting_timers(loaded.wf) if timer_id is None or t.task_spec.bpmn_id == timer_id]
        if not timers:
            if timer_id is not None:
                raise NotFound(
                    "instance {instance_id} has no waiting timer {timer_id!r}",
                    instance_id=instance_id,
                    timer_id=timer_id,
                )
            raise Conflict("instance {instance_id} waits on no timer", instance_id=instance_id)
        far = datetime.max.replace(tzinfo=self.zone)
        target = min(timers, key=lambda t: timer_due(t) or far)
        due, guid, now = timer_due(target), target.id, self.clock.now()

        def force(w: BpmnWorkflow) -> None:
            force_timer(w.get_task_from_id(guid), now)

        before = inst.state
        force(loaded.wf)
        events.log(
            self.session,
            now,
            "timer_fired",
            instance_id=inst.id,
            actor=actor,
            payload={
                "spec_id": target.task_spec.bpmn_id,
                "name": target.task_spec.bpmn_name,
                "due": due.isoformat() if due else None,
                "late": False,
                "manual": True,
                "admin_action": True,
            },
        )
        self._run(loaded, before=before, action=force, actor=actor)
        return target.task_spec.bpmn_id
