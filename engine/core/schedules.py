"""Timer start events as schedules, and the timers waiting inside instances (jobs).

A deploy registers the timer start events of each new version (`repository.DEPLOY_HOOKS`):
one `schedule` row per (process key, start event), updated in place when a newer version
is deployed (Camunda's "replace": the new version's expression, the old row's pause state
and fire history), deleted when a newer version drops the event or the process is
undeployed. Rows are written inside the deploy's transaction, so the scheduler never sees
a schedule before the deployment that created it has committed.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.core.calendar import Timer, TimerExpressionError, literal_text, make_timer
from engine.core.repository import DEPLOY_HOOKS, SPECS, UNDEPLOY_HOOKS
from engine.core.spiff import load_state
from engine.core.spiff_seam import internal
from engine.core.spiff_timers import timer_due
from engine.errors import Conflict, NotFound
from engine.infra import events
from engine.models import ProcessDefinition, ProcessInstance, Schedule, ScheduleFiring
from engine.org.nodes import Principal

_zone: ZoneInfo | None = None


def configure(zone: ZoneInfo | str) -> None:
    """The time zone new schedules are computed in (the app and the scheduler set it from
    settings; otherwise SANJI_TIMEZONE, else Asia/Shanghai)."""
    global _zone
    _zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


def configured_zone() -> ZoneInfo:
    return _zone or ZoneInfo(os.environ.get("SANJI_TIMEZONE") or "Asia/Shanghai")


def timer_of(row: Schedule) -> Timer:
    return Timer(row.timer_kind, row.expression, ZoneInfo(row.timezone), row.anchor_at)


# ---- deploy and undeploy -----------------------------------------------------------------------


def on_deploy(session: Session, created: list[ProcessDefinition], now: datetime) -> None:
    newest: dict[str, ProcessDefinition] = {}
    for d in created:
        if d.key not in newest or d.version > newest[d.key].version:
            newest[d.key] = d
    for d in newest.values():
        sync_definition(session, d, now, configured_zone())


def sync_definition(session: Session, d: ProcessDefinition, now: datetime, zone: ZoneInfo) -> list[Schedule]:
    """Make the schedules of `d.key` those of version `d` (which must be the latest)."""
    existing = {
        row.start_event_id: row for row in session.scalars(select(Schedule).where(Schedule.process_key == d.key))
    }
    rows = []
    for ev in (d.info or {}).get("start_events", []):
        if ev.get("kind") != "timer":
            continue
        kind = ev.get("timer_kind") or "timeCycle"
        expression = literal_text(ev.get("expression"))
        if expression is None:  # the deploy check refuses these; never schedule a guess
            raise TimerExpressionError(f"start event {ev['id']}: {ev.get('expression')!r} is not a literal timer value")
        timer = make_timer(kind, expression, zone, now)
        first = timer.first_due()
        row = existing.pop(ev["id"], None)
        if row is None:
            row = Schedule(process_key=d.key, start_event_id=ev["id"], paused=False, fire_count=0, created_at=now)
            session.add(row)
            change = "schedule_registered"
        else:
            change = "schedule_replaced"
            unchanged = (row.timer_kind, row.expression, row.timezone) == (kind, expression, zone.key)
            if unchanged and row.next_fire_at is not None and row.next_fire_at <= now:
                first = row.next_fire_at  # a due fire not taken yet (scheduler down) carries over
            if first is not None and row.last_due_at is not None and first <= row.last_due_at:
                first = timer.next_after(row.last_due_at)  # never fire the same due time twice
        row.definition_id, row.version = d.id, d.version
        row.start_event_name = ev.get("name")
        row.timer_kind, row.expression, row.timezone = kind, expression, zone.key
        row.anchor_at, row.next_fire_at, row.updated_at = now, first, now
        rows.append(row)
        session.flush()
        events.log(
            session,
            now,
            change,
            actor="deploy",
            payload={
                "schedule_id": row.id,
                "process_key": d.key,
                "version": d.version,
                "start_event": row.start_event_id,
                "timer_kind": kind,
                "expression": expression,
                "time_zone": zone.key,
                "next_fire_at": first.astimezone(zone).isoformat() if first else None,
            },
        )
    for row in existing.values():
        _remove(session, row, now, f"version {d.version} has no timer start event {row.start_event_id}")
    return rows


def on_undeploy(session: Session, key: str, now: datetime) -> None:
    for row in session.scalars(select(Schedule).where(Schedule.process_key == key)).all():
        _remove(session, row, now, "process undeployed")


def _remove(session: Session, row: Schedule, now: datetime, reason: str) -> None:
    events.log(
        session,
        now,
        "schedule_removed",
        actor="deploy",
        payload={
            "schedule_id": row.id,
            "process_key": row.process_key,
            "version": row.version,
            "start_event": row.start_event_id,
            "expression": row.expression,
            "reason": reason,
        },
    )
    session.execute(delete(ScheduleFiring).where(ScheduleFiring.schedule_id == row.id))
    session.delete(row)
    session.flush()


def reconcile(session: Session, now: datetime, zone: ZoneInfo) -> int:
    """Bring the schedules in line with the latest active versions: for a database whose
    definitions were deployed before schedules existed (an upgrade), or after a manual edit.
    Returns how many processes changed."""
    latest: dict[str, ProcessDefinition] = {}
    for d in session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.active.is_(True))
        .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
    ):
        latest.setdefault(d.key, d)
    rows: dict[str, list[Schedule]] = {}
    for row in session.scalars(select(Schedule)):
        rows.setdefault(row.process_key, []).append(row)
    changed = 0
    for key in set(rows) - set(latest):
        for row in rows[key]:
            _remove(session, row, now, "no active version")
        changed += 1
    for key, d in latest.items():
        wanted = {e["id"] for e in (d.info or {}).get("start_events", []) if e.get("kind") == "timer"}
        have = rows.get(key, [])
        if {r.start_event_id for r in have} != wanted or any(r.definition_id != d.id for r in have):
            sync_definition(session, d, now, zone)
            changed += 1
    return changed


DEPLOY_HOOKS.append(on_deploy)
UNDEPLOY_HOOKS.append(on_undeploy)


# ---- admin actions --------------------------------------------------------------------------------


def get(session: Session, schedule_id: int, lock: bool = False) -> Schedule:
    q = select(Schedule).where(Schedule.id == schedule_id).execution_options(populate_existing=True)
    if lock and session.get_bind().dialect.name != "sqlite":
        q = q.with_for_update()
    row = session.scalars(q).first()
    if row is None:
        raise NotFound("schedule {schedule_id} does not exist", schedule_id=schedule_id)
    return row


def pause(session: Session, schedule_id: int, actor: Principal, now: datetime, reason: str = "") -> Schedule:
    row = get(session, schedule_id, lock=True)
    if row.paused:
        raise Conflict("the schedule is already paused")
    row.paused, row.updated_at = True, now
    events.log(
        session,
        now,
        "schedule_paused",
        actor=actor,
        payload={"schedule_id": row.id, "process_key": row.process_key, "reason": reason, "admin_action": True},
    )
    session.flush()
    return row


def resume(session: Session, schedule_id: int, actor: Principal, now: datetime, reason: str = "") -> Schedule:
    """Resume; fires that fell due while paused are skipped (the next fire is after now)."""
    row = get(session, schedule_id, lock=True)
    if not row.paused:
        raise Conflict("the schedule is not paused")
    timer = timer_of(row)
    if row.next_fire_at is not None and row.next_fire_at > now:
        nxt: datetime | None = row.next_fire_at  # nothing fell due while paused
    else:
        nxt = timer.next_after(max(now, row.last_due_at) if row.last_due_at else now)
    row.paused, row.next_fire_at, row.updated_at = False, nxt, now
    events.log(
        session,
        now,
        "schedule_resumed",
        actor=actor,
        payload={
            "schedule_id": row.id,
            "process_key": row.process_key,
            "reason": reason,
            "admin_action": True,
            "next_fire_at": nxt.astimezone(ZoneInfo(row.timezone)).isoformat() if nxt else None,
        },
    )
    session.flush()
    return row


def realign(session: Session, zone: ZoneInfo, now: datetime) -> int:
    """Move schedules computed in another zone (SANJI_TIMEZONE changed) to `zone`."""
    rows = session.scalars(select(Schedule).where(Schedule.timezone != zone.key)).all()
    for row in rows:
        old = row.timezone
        row.timezone = zone.key
        if row.next_fire_at is None or row.next_fire_at > now:  # a due fire stays due
            timer = timer_of(row)
            if row.timer_kind != "timeCycle":  # a one-off: once it fired (or was missed) it is done
                row.next_fire_at = timer.first_due() if row.last_due_at is None else None
            else:
                row.next_fire_at = timer.next_after(max(now, row.last_due_at) if row.last_due_at else now)
        row.updated_at = now
        events.log(
            session,
            now,
            "schedule_realigned",
            actor="scheduler",
            payload={"schedule_id": row.id, "from": old, "to": zone.key},
        )
    session.flush()
    return len(rows)


def next_fire_times(row: Schedule, now: datetime, n: int = 4) -> list[datetime]:
    timer = timer_of(row)
    first = timer.next_after(now) if row.paused else row.next_fire_at
    return timer.upcoming(first, n)


# ---- jobs: timers waiting inside instances ------------------------------------------------------------

KIND_NAMES = {"ClockTimeDate": "timeDate", "ClockDuration": "timeDuration", "ClockCycle": "timeCycle"}


def instance_timers(inst: ProcessInstance) -> list[dict[str, Any]]:
    """The timers an instance waits on (deserializes the state: call it for a page, not for all)."""
    spec, subs = SPECS.get(inst.definition)
    wf = load_state(inst.state, spec, subs, None)
    out = []
    for t in wf.get_tasks(state=TaskState.WAITING):
        definition = getattr(t.task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition):
            continue
        value = internal(t, "event_value")
        interrupting = getattr(t.task_spec, "cancel_activity", None)
        out.append(
            {
                "timer_id": t.task_spec.bpmn_id,
                "name": t.task_spec.bpmn_name,
                "kind": KIND_NAMES.get(type(definition).__name__, type(definition).__name__),
                "expression": definition.expression,
                "due_at": timer_due(t),
                "boundary": interrupting is not None,
                "interrupting": interrupting,
                "attached_to": _attached_task(t) if interrupting is not None else None,
                "cycles_left": value.get("cycles") if isinstance(value, dict) else None,
            }
        )
    out.sort(key=lambda x: (x["due_at"] is None, x["due_at"].timestamp() if x["due_at"] else 0))
    return out


def _attached_task(t: Any) -> str | None:
    """For a boundary timer, the activity it is attached to (its sibling under the split)."""
    for sibling in t.parent.children if t.parent is not None else []:
        if sibling is not t and not hasattr(sibling.task_spec, "cancel_activity"):
            return getattr(sibling.task_spec, "bpmn_id", None)
    return None
