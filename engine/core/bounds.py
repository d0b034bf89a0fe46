"""Bounds on the work, memory and data one request or one instance may cause (issue 13).

Each bound is a setting (engine/infra/settings.py, README "Bounds"). What a diagram states is
refused at deploy (engine/core/repository.py); what data decides at run time is an incident: the
unit of work is rolled back to the state before the failing steps, nothing half-written.

- branches: outgoing flows of a parallel / inclusive split and instances of an in-instance
  multi-instance ≤ SANJI_MAX_BRANCHES; children of a multi-instance call activity ≤ SANJI_MAX_FANOUT;
- time: the engine work of one request or scheduler firing ≤ SANJI_ENGINE_MAX_SECONDS, checked
  between engine steps, in the script tracer and between fan-out children (`Deadline`);
- memory: a script run's allocations ≤ SANJI_SCRIPT_MAX_MB (engine/core/script_limits.py);
- data: an instance's serialized state ≤ SANJI_MAX_INSTANCE_BYTES, the data of one completion
  or start ≤ SANJI_MAX_FORM_BYTES (`check_submitted`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from engine.errors import Msg, ScriptError, TooLarge, field_error


class BoundExceeded(ScriptError):
    """A bound was exceeded at run time; the runtime turns it into an incident. `task`, when
    set, is the SpiffWorkflow task at fault (the incident names its element)."""

    task: Any = None


class EngineTimeout(BoundExceeded):
    """The request's engine work ran past SANJI_ENGINE_MAX_SECONDS. Raised wherever it is
    noticed (possibly inside a child instance started by the request); the outermost engine
    loop of the request rolls everything back and records the incident on its instance."""


class Deadline:
    """The monotonic deadline of one unit of engine work (None: not inside one)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at: float | None = None
        # an outer limit: an optimistic completion run again (engine/services/tasks.py `act`) ends
        # when its first run would have, so that running out of time never takes the time twice
        self.until: float | None = None

    def arm(self) -> None:
        self.at = time.monotonic() + self.seconds
        if self.until is not None:
            self.at = min(self.at, self.until)

    def check(self, task: Any = None) -> None:
        if self.at is not None and time.monotonic() > self.at:
            raise self.exceeded(task)

    def exceeded(self, task: Any = None) -> EngineTimeout:
        where = f" (at element {task.task_spec.bpmn_id})" if task is not None else ""
        exc = EngineTimeout(
            "the engine work of this request exceeded SANJI_ENGINE_MAX_SECONDS ({seconds:g} "
            "s){where}; its steps were rolled back",
            seconds=self.seconds,
            where=where,
        )
        exc.task = task
        return exc


def timeout_in(exc: BaseException | None) -> EngineTimeout | None:
    """The EngineTimeout behind `exc`: SpiffWorkflow wraps what a script raises."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, EngineTimeout):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":")).encode("utf-8"))


def check_submitted(data: dict[str, Any] | None, max_bytes: int, what: str = "form data") -> None:
    """Refuse submitted data (a completion's form, start or retry variables) above the bound,
    naming its largest field: 413, nothing changed."""
    if not isinstance(data, dict) or not data:
        return  # the form's own validation says what is wrong with a non-object
    total = json_size(data)
    if total <= max_bytes:
        return
    sizes = {str(k): json_size(v) for k, v in data.items()}
    field = max(sizes, key=lambda k: sizes[k])
    raise TooLarge(
        "the {what} is {total:,} bytes, above SANJI_MAX_FORM_BYTES ({max_bytes:,}); its largest field is "
        "{field!r} ({largest:,} bytes)",
        [
            field_error(
                field,
                "{largest:,} bytes; all fields together may have {max_bytes:,}",
                largest=sizes[field],
                max_bytes=max_bytes,
            )
        ],
        what=what,
        total=total,
        max_bytes=max_bytes,
        field=field,
        largest=sizes[field],
    )


def check_tree_depth(workflow: Any) -> None:
    """Refuse a task tree as deep as SpiffWorkflow's task iterators look: below that depth its
    tasks are invisible to them, and the workflow would call itself completed while a task
    waits (a gateway loop adds its tasks below the previous round's, issue 14)."""
    from engine.core.spiff_seam import iterator_depth, tree_depth

    limit = iterator_depth()
    depth, task = tree_depth(workflow)
    if depth < limit - 1:
        return
    where = Msg(" at element {element}", element=task.task_spec.bpmn_id) if task is not None else ""
    exc = BoundExceeded(
        "the process's task tree is {depth:,} tasks deep{where}, the most the engine follows is "
        "{limit:,}: a loop ran too many times in one instance",
        depth=depth,
        where=where,
        limit=limit - 2,
    )
    exc.task = task
    raise exc


def state_too_large(workflow: Any, size: int, max_bytes: int) -> BoundExceeded:
    """The incident for a state above SANJI_MAX_INSTANCE_BYTES, naming the largest variable
    (the largest value any task's data holds) and the element whose data holds it."""
    best: tuple[int, str, Any] = (0, "", None)
    measured: dict[int, int] = {}
    tasks = [t for w in (workflow, *workflow.subprocesses.values()) for t in w.tasks.values()]
    for task in tasks:
        for name, value in task.data.items():
            if isinstance(value, (bool, int, float)) or value is None:
                continue
            n = measured.get(id(value))
            if n is None:
                n = measured[id(value)] = json_size(value)
            if n > best[0]:
                best = (n, name, task)
    n, name, task = best
    where = f" in the data of {task.task_spec.bpmn_id}" if task is not None else ""
    exc = BoundExceeded(
        "the instance's state would be {size:,} bytes, above SANJI_MAX_INSTANCE_BYTES "
        "({max_bytes:,}); the largest variable is {name!r} ({n:,} bytes){where}",
        size=size,
        max_bytes=max_bytes,
        name=name,
        n=n,
        where=where,
    )
    exc.task = task
    return exc
