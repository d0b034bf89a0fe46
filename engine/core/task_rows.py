"""Task rows: the human tasks an instance waits on, as rows the worklists read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from engine.core import calendar
from engine.core.runtime_base import (
    _OPEN_TASKS,
    _TASK_AND_INSTANCE,
    _TASK_AND_INSTANCE_LOCKED,
    _TASK_INSERT,
    _TASK_UPDATE,
    ENDED,
    Loaded,
    RuntimeBase,
)
from engine.core.spiff import DetachedCallActivity, async_before
from engine.core.spiff_timers import add_duration
from engine.errors import Conflict, Forbidden, NotFound, ScriptError
from engine.infra import events
from engine.models import HumanTask, ProcessInstance, User
from engine.org import nodes as org
from engine.org.nodes import Principal
from engine.org.routing import (
    NodeRef,
    RoutingError,
    can_act_on,
    is_candidate,
    lane_tier,
    resolve_node,
    task_visible,
    task_visible_clause,
)


class TaskRows(RuntimeBase):
    def _visible_task(self, task_id: int, actor: Principal, lock: bool = False) -> HumanTask:
        task = self.session.scalars(
            select(HumanTask)
            .where(HumanTask.id == task_id, task_visible_clause(actor))
            .execution_options(populate_existing=True)
        ).first()
        if task is None:
            raise NotFound("task {id} does not exist", id=task_id)
        if lock:
            self._lock(task.instance_id)
        return task

    def _task_for_action(
        self, task_id: int, actor: Principal, before: Callable[[HumanTask, ProcessInstance], None] | None = None
    ) -> tuple[HumanTask, ProcessInstance]:
        """The task `actor` acts on and its instance, locked; 404 unless visible, 409 unless open
        in a running instance, 403 unless `actor` may act on it. `before` (the completion's form
        check) sees the two rows as read, ahead of those checks."""
        if self._active:  # an instance changing in this unit of work must not be re-read over
            task = self._visible_task(task_id, actor)
            inst = self._lock(task.instance_id)
        else:
            row = self.session.execute(
                _TASK_AND_INSTANCE if self._sqlite else _TASK_AND_INSTANCE_LOCKED, {"task_id": task_id}
            ).one_or_none()
            if row is None or not task_visible(actor, row[0]):
                raise NotFound("task {id} does not exist", id=task_id)
            task, inst = row
        if not self._sqlite:
            # PostgreSQL: the task may have changed between reading it and taking the instance's
            # lock. SQLite: the transaction holds the database's write lock (or a snapshot that
            # cannot commit a write if another writer got in first), so the row read is current.
            self.session.refresh(task)
        if before is not None:
            before(task, inst)
        if task.status != "open":
            raise Conflict("the task is already {status}", status=task.status)
        if inst.status == "suspended":
            raise Conflict("the instance is suspended")
        if inst.status in ENDED:
            raise Conflict("the instance is {status}", status=inst.status)
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
        events.log(
            self.session,
            inst.updated_at,
            type_,
            instance_id=task.instance_id,
            task_id=task.id,
            actor=actor,
            payload={"name": task.name, **(payload or {})},
        )
        self._flush()

    def _admin_event(self, inst: ProcessInstance, type_: str, actor: Principal | None, reason: str) -> None:
        inst.updated_at = self.clock.now()
        events.log(
            self.session,
            inst.updated_at,
            type_,
            instance_id=inst.id,
            actor=actor,
            payload={"reason": reason, "admin_action": True},
        )
        self._flush()

    def _write_task(self, task: HumanTask, **values: Any) -> None:
        """Update a task row with one Core statement and mark the values as the loaded object's
        committed state (no ORM flush on the completion path)."""
        self.session.connection().execute(_TASK_UPDATE, {"task_id_": task.id, **values})
        for key, value in values.items():
            set_committed_value(task, key, value)

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
            if spec.manual and not isinstance(spec, DetachedCallActivity) and not async_before(spec):
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
                events.log(
                    self.session,
                    now,
                    "task_cancelled",
                    instance_id=inst.id,
                    task_id=row.id,
                    payload={"spec_id": row.spec_id, "name": row.name, "reason": "left by the process"},
                )
                for approval in self.session.scalars(  # a held submission's approval goes with it
                    select(HumanTask).where(HumanTask.subject_task_id == row.id, HumanTask.status == "open")
                ):
                    self._write_task(approval, status="cancelled")
                    events.log(
                        self.session,
                        now,
                        "task_cancelled",
                        instance_id=inst.id,
                        task_id=approval.id,
                        payload={"spec_id": approval.spec_id, "name": approval.name, "reason": "left by the process"},
                    )

    def _create_task_row(self, loaded: Loaded, t: Any, now: datetime) -> int:
        inst = loaded.inst
        spec = t.task_spec
        props = (getattr(spec, "extensions", None) or {}).get("properties", {}) or {}
        tier = lane_tier(spec.lane)
        if tier is None:
            raise ScriptError(
                "user task {element} lies in lane {lane!r}, which names no tier", element=spec.bpmn_id, lane=spec.lane
            )
        # the group's id only for group-lane tasks: other tiers route by unit_id / branch_id
        group = self._group() if tier == "group" and not props.get("nodeVariable") else ""
        node = resolve_node(self.session, tier, t.data, group, props.get("nodeVariable"))
        due = None
        if props.get("dueAt"):
            due = calendar.due_from(loaded.engine.evaluate(t, props["dueAt"]), self.zone)
        elif props.get("dueIn"):
            due = add_duration(now, props["dueIn"], self.zone)
        roles = props.get("candidateRoles")
        assignee = (
            self._assignee(t.data, props["assigneeVariable"], tier, node, roles)
            if props.get("assigneeVariable")
            else None
        )
        name = (spec.bpmn_name or spec.bpmn_id)[:200]
        task_id: int = (
            self.session.connection()
            .execute(
                _TASK_INSERT,
                dict(
                    instance_id=inst.id,
                    root_instance_id=inst.root_id or inst.id,
                    task_guid=str(t.id),
                    spec_id=spec.bpmn_id,
                    name=name,
                    process_key=inst.process_key,
                    lane=spec.lane,
                    tier=tier,
                    node_id=node.id,
                    unit_id=self._unit_of(node),
                    candidate_roles=("," + ",".join(r.strip() for r in roles.split(",") if r.strip()) + ",")
                    if roles
                    else None,
                    form_key=props.get("formJsonSchemaFilename"),
                    status="open",
                    created_at=now,
                    due_at=due,
                    assignee_id=assignee.id if assignee else None,
                    completed_at=None,
                    completed_by_id=None,
                    data=None,
                ),
            )
            .scalar_one()
        )
        payload = {
            "spec_id": spec.bpmn_id,
            "name": name,
            "tier": tier,
            "node_id": node.id,
            "due_at": due.isoformat() if due else None,
        }
        if assignee is not None:
            payload["assignee"] = assignee.username
        events.log(self.session, now, "task_created", instance_id=inst.id, task_id=task_id, payload=payload)
        return task_id

    def _assignee(self, data: dict[str, Any], variable: str, tier: str, node: NodeRef, roles: str | None) -> User:
        """The task property `assigneeVariable`: the variable holds the username the task is
        assigned to; that person must hold a role of the lane's tier on the task's org node."""
        username = data.get(variable)
        if not isinstance(username, str) or not username:
            raise RoutingError("assigneeVariable: the variable {variable!r} must hold a username", variable=variable)
        user = self.session.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
        if user is None:
            raise RoutingError(
                "assigneeVariable: {variable}={username!r} is not an active user", variable=variable, username=username
            )
        if not is_candidate(org.load_principal(self.session, user), tier, node.id, roles):
            raise RoutingError(
                "assigneeVariable: {username} holds no {tier} role on {node_id}",
                username=username,
                tier=tier,
                node_id=node.id,
            )
        return user
