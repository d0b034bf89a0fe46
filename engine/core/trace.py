"""Where instances are in their diagrams: element states for the viewer and the heatmap.

- `record(session, inst, wf)` runs each time the runtime saves an instance: it rewrites the
  instance's `element_state` rows — the BPMN element ids the instance passed through
  (`completed`), is at now (`active`: ready user tasks, waiting timers and joins, call
  activities waiting for their children) and the one that raised its incident (`failed`).
- `instance_diagram(session, inst)` reads one instance for the viewer: the element states from
  its (single) deserialized workflow — so sequence flows taken are exact, following the task
  tree — with the failed element from the incident.
- `heatmap(session, definition, visible)` counts, per element, the visible instances of one
  definition version at it (running, suspended or failed instances only) and passed through it,
  with one aggregate query over `element_state`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, cast

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import ColumnElement, Table, bindparam, delete, func, insert, select, true
from sqlalchemy.orm import Session

from engine.infra import xmlsafe
from engine.models import ElementState, HumanTask, ProcessDefinition, ProcessInstance

ACTIVE_MASK = TaskState.READY | TaskState.WAITING | TaskState.STARTED
ENDED = ("completed", "terminated")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def _workflows(wf: BpmnWorkflow) -> list[Any]:
    return [wf, *wf.subprocesses.values()]


def _bpmn_id(task: Any) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None)


def element_states(wf: BpmnWorkflow, failed: str | None = None) -> dict[str, set[str]]:
    """Element ids by state: completed (passed through at least once), active (now), failed."""
    completed: set[str] = set()
    active: set[str] = set()
    for w in _workflows(wf):
        for t in w.get_tasks_iterator():
            bid = _bpmn_id(t)
            if not bid:
                continue
            if t.state == TaskState.COMPLETED:
                completed.add(bid)
            elif t.state & ACTIVE_MASK:
                active.add(bid)
    failed_set = {failed} if failed else set()
    return {"completed": completed, "active": active - failed_set, "failed": failed_set}


_ELEMENT_STATES = cast(Table, ElementState.__table__)
# built once (Core statements: no ORM bookkeeping on the engine's hot path; building costs more than running)
_STATES_DELETE = delete(_ELEMENT_STATES).where(_ELEMENT_STATES.c.instance_id == bindparam("instance_id_"))
_STATES_INSERT = insert(_ELEMENT_STATES)


def record(session: Session, inst: ProcessInstance, wf: BpmnWorkflow, replace: bool = True) -> None:
    """Rewrite the instance's element_state rows (inside the caller's transaction); `replace=False`
    for an instance saved for the first time (nothing to delete)."""
    states = element_states(wf, inst.error_task if inst.status == "error" else None)
    rows = [
        {"instance_id": inst.id, "element_id": eid[:128], "state": state}
        for state, ids in states.items()
        for eid in sorted(ids)
    ]
    conn = session.connection()
    if replace:
        conn.execute(_STATES_DELETE, {"instance_id_": inst.id})
    if rows:
        conn.execute(_STATES_INSERT, rows)


# ---- one instance -------------------------------------------------------------------------------


class _FlowCache:
    """Sequence flows (id, source, target) per definition file, content-addressed by sha256."""

    def __init__(self, size: int = 256) -> None:
        self._data: OrderedDict[str, dict[tuple[str, str], list[str]]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, definition: ProcessDefinition) -> dict[tuple[str, str], list[str]]:
        with self._lock:
            hit = self._data.get(definition.sha256)
            if hit is not None:
                self._data.move_to_end(definition.sha256)
                return hit
        root = xmlsafe.parse(definition.xml, max(len(definition.xml.encode("utf-8")) + 1, 1))
        flows: dict[tuple[str, str], list[str]] = {}
        for el in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            flows.setdefault((el.get("sourceRef") or "", el.get("targetRef") or ""), []).append(el.get("id") or "")
        with self._lock:
            self._data[definition.sha256] = flows
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return flows


FLOWS = _FlowCache()


def taken_flows(wf: BpmnWorkflow, flows: dict[tuple[str, str], list[str]]) -> set[str]:
    """Sequence flows the instance went along: from a completed task to a task it reached."""
    taken: set[str] = set()
    for w in _workflows(wf):
        for t in w.get_tasks_iterator(state=TaskState.COMPLETED | ACTIVE_MASK | TaskState.ERROR):
            target = _bpmn_id(t)
            if not target:
                continue
            parent = t.parent
            while parent is not None and not _bpmn_id(parent):
                parent = parent.parent
            if parent is None or parent.state != TaskState.COMPLETED:
                continue
            taken.update(flows.get((_bpmn_id(parent) or "", target), []))
    return taken


def instance_diagram(session: Session, inst: ProcessInstance) -> dict[str, Any]:
    """Element states of one instance, with the sequence flows taken counted as completed."""
    from engine.core.repository import SPECS
    from engine.core.spiff import load_state

    definition = inst.definition
    failed = inst.error_task if inst.status == "error" or inst.error_message else None
    if inst.state:
        spec, subs = SPECS.get(definition)
        wf = load_state(inst.state, spec, subs, None)
        states = element_states(wf, failed)
        flows = taken_flows(wf, FLOWS.get(definition))
    else:  # nothing saved yet: fall back to the recorded rows
        states = {"completed": set(), "active": set(), "failed": set()}
        for eid, state in session.execute(
            select(ElementState.element_id, ElementState.state).where(ElementState.instance_id == inst.id)
        ):
            states.setdefault(state, set()).add(eid)
        flows = set()
    # The task table is the authority on human tasks (e.g. one cancelled by a terminate).
    for spec_id, status in session.execute(
        select(HumanTask.spec_id, HumanTask.status).where(HumanTask.instance_id == inst.id, HumanTask.kind == "task")
    ):
        if status == "completed":
            states["completed"].add(spec_id)
        elif status in ("open", "held"):  # held: its submission waits for approval
            states["active"].add(spec_id)
    return {
        "completed": sorted(states["completed"] | flows),
        "active": sorted(states["active"]),
        "failed": sorted(states["failed"]),
        "flows": sorted(flows),
    }


# ---- one definition -----------------------------------------------------------------------------


def heatmap(
    session: Session, definition: ProcessDefinition, visible: ColumnElement[bool] | None = None
) -> dict[str, Any]:
    """Per element: how many (visible) instances of this version are at it, passed it, failed at it."""
    scope = visible if visible is not None else true()
    live = ProcessInstance.status.not_in(ENDED)
    q = (
        select(ElementState.element_id, ElementState.state, func.count())
        .join(ProcessInstance, ProcessInstance.id == ElementState.instance_id)
        .where(ProcessInstance.definition_id == definition.id, scope)
        .where((ElementState.state == "completed") | live)
        .group_by(ElementState.element_id, ElementState.state)
    )
    elements: dict[str, dict[str, int]] = {}
    for eid, state, n in session.execute(q):
        elements.setdefault(eid, {"active": 0, "completed": 0, "failed": 0})[state] = n
    # Instances saved before element states were recorded: read their workflows once.
    legacy = session.scalars(
        select(ProcessInstance).where(
            ProcessInstance.definition_id == definition.id,
            scope,
            ~select(ElementState.instance_id).where(ElementState.instance_id == ProcessInstance.id).exists(),
        )
    ).all()
    for inst in legacy:
        if not inst.state:
            continue
        states = instance_diagram(session, inst)
        for state in ("completed", "active", "failed"):
            if state != "completed" and inst.status in ENDED:
                continue
            for eid in states[state]:
                if eid in states["flows"]:
                    continue
                elements.setdefault(eid, {"active": 0, "completed": 0, "failed": 0})[state] += 1
    statuses = dict(
        session.execute(
            select(ProcessInstance.status, func.count())
            .where(ProcessInstance.definition_id == definition.id, scope)
            .group_by(ProcessInstance.status)
        ).all()
    )
    return {
        "instances": {"total": sum(statuses.values()), **{k: int(v) for k, v in statuses.items()}},
        "elements": elements,
        "max": {k: max((e[k] for e in elements.values()), default=0) for k in ("active", "completed", "failed")},
    }
