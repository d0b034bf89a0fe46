"""Shared parts of the runtime: constants, prepared statements, the loaded instance, JSON helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, joinedload

from engine.core.bounds import Deadline
from engine.core.forms import FormStore
from engine.core.scripts import SanjiScriptEngine
from engine.infra.clock import Clock
from engine.infra.settings import Settings
from engine.models import HumanTask, ProcessDefinition, ProcessInstance

if TYPE_CHECKING:
    from uuid import UUID

    from engine.models import OrgNode
    from engine.org.node_rows import NodeRef
    from engine.org.nodes import Principal

ENDED = ("completed", "terminated")
# Locking an instance reads its definition row too (the relationship is joined), but not the
# diagram's XML or the spec blob: specs come from SPECS, content-addressed; a cache miss
# loads the blob on access, inside the same session.
_DEFINITION_WITHOUT_TEXTS = (
    joinedload(ProcessInstance.definition, innerjoin=True)
    .defer(ProcessDefinition.xml)
    .defer(ProcessDefinition.spec_blob)
)
# A task and its instance in one statement (the instance locked on PostgreSQL): the actions on
# a task read both anyway. Built once: statement construction costs more than running it.
_TASK_AND_INSTANCE = (
    select(HumanTask, ProcessInstance)
    .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
    .where(HumanTask.id == bindparam("task_id"))
    .options(_DEFINITION_WITHOUT_TEXTS)
    .execution_options(populate_existing=True)
)
_TASK_AND_INSTANCE_LOCKED = _TASK_AND_INSTANCE.with_for_update(of=ProcessInstance)
_TASKS = cast(Table, HumanTask.__table__)
_TASK_UPDATE = update(_TASKS).where(_TASKS.c.id == bindparam("task_id_"))
_TASK_INSERT = insert(_TASKS).returning(_TASKS.c.id)
# a diagram's waiting user tasks: open, or held while their submission waits for approval
# (an approval row has no task of the diagram behind it: engine/core/approvals.py)
# (the IN list as two fixed parameters: a list of values is an expanding parameter, which
# SQLAlchemy writes into the SQL again at every execution; `status = … OR status = …` would
# cost SQLite a slower plan)
_OPEN_TASKS = select(_TASKS.c.task_guid, _TASKS.c.id).where(
    _TASKS.c.instance_id == bindparam("instance_id_"),
    _TASKS.c.status.in_([bindparam("open_", "open"), bindparam("held_", "held")]),
    _TASKS.c.kind == "task",
)
_INSTANCES = cast(Table, ProcessInstance.__table__)
_INSTANCE_UPDATE = update(_INSTANCES).where(
    _INSTANCES.c.id == bindparam("instance_id_"), _INSTANCES.c.version == bindparam("version_")
)
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


class RunAgain(Exception):
    """An optimistic completion's steps failed without a savepoint to fall back to: the caller
    rolls the transaction back and runs the completion again with one (`Runtime.optimistic`).
    `element`: where its time ran out, if it did in one of the instance's own elements."""

    def __init__(self, element: str | None = None) -> None:
        super().__init__(element)
        self.element = element


class RuntimeBase:
    """What every part of the runtime reads: the unit of work's session, clock and settings,
    the instances changing in it (`_active`) and the deadline of its engine work."""

    session: Session
    clock: Clock
    settings: Settings
    forms: FormStore
    zone: Any
    _active: dict[int, Loaded]
    _group_id: str | None
    _sqlite: bool
    _deadline: Deadline
    # set while a batch of children starts under one savepoint (fanout.py `_continue_fanout`):
    # their own runs take none, and a failure undoes the batch, which starts again one by one
    _batch_savepoint: bool
    # set by the service for a completion: its outermost run takes no savepoint, and a failure of
    # its steps raises RunAgain instead of recording the incident (the service runs it again)
    optimistic: bool
    _timeout_element: str | None  # the element a first optimistic run ran out of time in

    if TYPE_CHECKING:  # the parts call each other through `self`; each is defined in its mixin

        def _admin_event(self, inst: ProcessInstance, type_: str, actor: Principal | None, reason: str) -> None: ...
        def _check_rules(self, loaded: Loaded, guid: UUID, data: dict[str, Any]) -> None: ...
        def _child_finished(self, child: ProcessInstance) -> None: ...
        def _depth(self, inst: ProcessInstance) -> int: ...
        def _detached(self, loaded: Loaded, ready: list[Any]) -> bool: ...
        def _flush(self) -> None: ...
        def _group(self) -> str: ...
        def _load(self, inst: ProcessInstance) -> Loaded: ...
        def _lock(self, instance_id: int) -> ProcessInstance: ...
        def _messages(self, loaded: Loaded) -> None: ...
        def _run(
            self,
            loaded: Loaded,
            before: bytes | None,
            action: Callable[[BpmnWorkflow], None] | None,
            actor: Principal | None,
        ) -> None: ...
        def _scope_node(self, variables: dict[str, Any]) -> NodeRef: ...
        def _script_engine(self, inst: ProcessInstance) -> SanjiScriptEngine: ...
        def _seed(self, wf: BpmnWorkflow, variables: dict[str, Any], start_event: str | None) -> None: ...
        def _sync_tasks(self, loaded: Loaded, ready_now: list[Any]) -> None: ...
        def _task_for_action(
            self, task_id: int, actor: Principal, before: Callable[[HumanTask, ProcessInstance], None] | None = None
        ) -> tuple[HumanTask, ProcessInstance]: ...
        def _undo(self, savepoint: Any, logged: int) -> None: ...
        def _touch_task(
            self, task: HumanTask, type_: str, actor: Principal, payload: dict[str, Any] | None = None
        ) -> None: ...
        @staticmethod
        def _unit_of(node: OrgNode | NodeRef) -> str | None: ...
        def _visible_task(self, task_id: int, actor: Principal, lock: bool = False) -> HumanTask: ...
        @staticmethod
        def _waiting_timers(wf: BpmnWorkflow) -> list[Any]: ...
        def _write_task(self, task: HumanTask, **values: Any) -> None: ...
        def start(
            self,
            key: str | ProcessDefinition,
            variables: dict[str, Any] | None = None,
            actor: Principal | None = None,
            *,
            start_event: str | None = None,
            title: str | None = None,
            _parent: tuple[ProcessInstance, str, int | None] | None = None,
        ) -> ProcessInstance: ...


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
