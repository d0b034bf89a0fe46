"""Clock-aware timers for SpiffWorkflow (split from engine/core/spiff.py).

SpiffWorkflow calls `datetime.now()` itself; these timer definitions read the injectable clock
carried by the script engine instead, and accept literal ISO 8601 values as process owners type
them in a modeler (`P10D`) as well as SpiffWorkflow's quoted Python expressions (`"P10D"`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from engine.core.bounds import BoundExceeded
from engine.core.calendar import (
    TimerExpressionError,
    check_timer,
    is_literal,
    make_timer,
    parse_datetime,  # years 2000-2100
)
from engine.core.spiff_seam import drop_internal, first, internal, set_internal


def engine_now(my_task: Any) -> datetime:
    engine = my_task.workflow.top_workflow.script_engine
    now = getattr(engine, "now", None)
    return now() if now is not None else datetime.now(UTC)


def engine_zone(my_task: Any) -> Any:
    return getattr(my_task.workflow.top_workflow.script_engine, "zone", UTC)


def timer_value(my_task: Any, expression: str) -> str:
    """A timer expression as written (literal ISO 8601 / cron) or evaluated (quoted Python)."""
    text = (expression or "").strip()
    if not is_literal(text):
        return str(my_task.workflow.script_engine.evaluate(my_task, text))
    return text


def bounded_timer(my_task: Any, kind: str, text: str) -> str:
    """A timer value computed at run time, checked against the bounds a literal meets at
    deploy (SANJI_TIMER_MIN_SECONDS, dates 2000-2100): else an incident naming the element."""
    engine = my_task.workflow.top_workflow.script_engine
    try:
        if kind == "timeDate":
            parse_datetime(text, engine_zone(my_task))
        else:
            check_timer(kind, text, engine_zone(my_task), getattr(engine, "timer_min_seconds", 0))
    except TimerExpressionError as exc:
        err = BoundExceeded("timer {element}: {reason}", element=my_task.task_spec.bpmn_id, reason=str(exc))
        err.task = my_task
        raise err from None
    return text


def add_duration(start: datetime, expression: str, zone: Any) -> datetime:
    """start + ISO 8601 duration: engine.core.calendar's rule (date units on the local wall
    clock, time units elapsed). Kept here for the runtime's `dueIn` and old cycle states."""
    from engine.core.calendar import add_duration as calendar_add

    return calendar_add(start, expression, zone)


class ClockTimeDate(TimeDateEventDefinition):
    def has_fired(self, my_task: Any) -> bool:
        event_value = internal(my_task, "event_value")
        if event_value is None:
            text = bounded_timer(my_task, "timeDate", timer_value(my_task, self.expression))
            event_value = parse_datetime(text, engine_zone(my_task)).isoformat()
            set_internal(my_task, event_value=event_value)
        if datetime.fromisoformat(event_value) <= engine_now(my_task):
            set_internal(my_task, event_fired=True)
        return bool(internal(my_task, "event_fired", False))


class ClockDuration(DurationTimerEventDefinition):
    def has_fired(self, my_task: Any) -> bool:
        event_value = internal(my_task, "event_value")
        if event_value is None:
            text = bounded_timer(my_task, "timeDuration", timer_value(my_task, self.expression))
            due = add_duration(engine_now(my_task), text, engine_zone(my_task))
            event_value = due.isoformat()
            set_internal(my_task, event_value=event_value)
        if datetime.fromisoformat(event_value) <= engine_now(my_task):
            set_internal(my_task, event_fired=True)
        return bool(internal(my_task, "event_fired", False))


class ClockCycle(CycleTimerEventDefinition):
    """R[n]/[start/]period or 5-field cron inside an instance (reminders): the k-th fire is
    start + k × period (calendar-true, no drift); after downtime the missed fires coalesce
    into one, and the next is the first one after now."""

    def cycle_complete(self, my_task: Any) -> bool:
        event_value = internal(my_task, "event_value")
        zone = engine_zone(my_task)
        now = engine_now(my_task)
        if event_value is None:
            text = bounded_timer(my_task, "timeCycle", timer_value(my_task, self.expression))
            timer = make_timer("timeCycle", text, zone, now)
            first = timer.first_due()
            if first is not None and first <= now and is_cron(text):
                first = timer.next_after(now)  # a cron reminder never fires the instant it starts waiting
            event_value = {
                "cycles": timer.remaining_after(now) if first is not None else 0,
                "next": first.isoformat() if first is not None else None,
                "expression": text,
                "anchor": now.isoformat(),
            }
        ready = False
        if event_value["cycles"] != 0 and event_value.get("next"):
            nxt = datetime.fromisoformat(event_value["next"])
            if nxt <= now:
                if "expression" in event_value:
                    timer = make_timer(
                        "timeCycle", event_value["expression"], zone, datetime.fromisoformat(event_value["anchor"])
                    )
                    following = timer.next_after(now)
                    event_value["next"] = following.isoformat() if following is not None else None
                    event_value["cycles"] = timer.remaining_after(now) if following is not None else 0
                else:  # state saved before calendar-true cycles: period added to the last fire
                    event_value["next"] = add_duration(nxt, event_value["period"], zone).isoformat()
                    event_value["cycles"] -= 1
                ready = True
        else:
            drop_internal(my_task, "event_value")
            set_internal(my_task, event_fired=True)
            return False
        set_internal(my_task, event_value=event_value)
        return ready


def is_cron(expression: str) -> bool:
    from engine.core.calendar import CRON, ISO_CYCLE

    text = expression.strip()
    return bool(CRON.match(text)) and not ISO_CYCLE.match(text.upper())


def next_cron(expression: str, after: datetime, zone: Any) -> datetime | None:
    """The first occurrence of a 5-field cron expression after `after`, in the organisation's zone."""
    from engine.core.calendar import Cron

    return Cron.parse(expression.strip()).next_after(after, zone)


def force_timer(task: Any, when: datetime) -> None:
    """Make a waiting timer due at `when` (an admin's "execute now"); the next refresh fires it."""
    value = internal(task, "event_value")
    if isinstance(value, dict):
        value = dict(value)
        value["next"] = when.isoformat()
        if value.get("cycles", 0) == 0:
            value["cycles"] = 1
        set_internal(task, event_value=value)
    else:
        set_internal(task, event_value=when.isoformat())


def timer_due(task: Any) -> datetime | None:
    """When a waiting timer task fires next (None if it has not computed a time yet)."""
    value = internal(task, "event_value")
    if value is None:
        return None
    if isinstance(value, dict):
        return datetime.fromisoformat(value["next"]) if value.get("cycles", 0) != 0 and value.get("next") else None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


class TimerParserMixin:
    def parse_timer_event(self, event: Any) -> TimerEventDefinition:
        description = self.get_event_description(event)  # type: ignore[attr-defined]
        name = self.node.get("name", self.node.get("id"))  # type: ignore[attr-defined]
        xp = self.xpath  # type: ignore[attr-defined]
        for tag, cls in (("timeDate", ClockTimeDate), ("timeDuration", ClockDuration), ("timeCycle", ClockCycle)):
            node = first(xp(f".//bpmn:{tag}"))
            if node is not None:
                if not (node.text or "").strip():
                    raise ValidationException(f"Timer {tag} is empty", node=self.node, file_name=self.filename)  # type: ignore[attr-defined]
                return cls(name, node.text.strip(), description=description)
        raise ValidationException(
            "Timer without timeDate, timeDuration or timeCycle",
            node=self.node,  # type: ignore[attr-defined]
            file_name=self.filename,  # type: ignore[attr-defined]
        )
