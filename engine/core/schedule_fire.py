"""Firing the due timer start schedules, one tick's first step (see engine/core/scheduler.py).

Each fire runs in its own transaction, claimed in the database twice over (the locked schedule
row moved on by a conditional UPDATE, and a unique `schedule_firing` row), so two scheduler
processes never start the same fire twice. Split from scheduler.py with the result record and
the shared helpers the instance-timer side uses too; `tick` calls `_due_schedules`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.core import schedules
from engine.core.runtime import Runtime
from engine.infra import events
from engine.infra.clock import Clock
from engine.infra.db import is_sqlite, rowcount, write_intent
from engine.infra.settings import Settings
from engine.models import ProcessDefinition, Schedule, ScheduleFiring
from engine.org.policy import SYSTEM

log = logging.getLogger("sanji.scheduler")


@dataclass
class TickResult:
    started: list[int] = field(default_factory=list)  # instances started by schedules
    missed: int = 0  # schedule fires older than the grace: recorded, not started
    failed: int = 0  # schedule fires whose start failed
    instances: int = 0  # instances whose timers were advanced
    timers: int = 0  # timers fired inside them
    incidents: int = 0  # instances a timer could not advance (now status error)
    skipped: int = 0  # candidates another scheduler took, or no longer due
    continued: int = 0  # children started by asynchronous continuations (engine/core/async_jobs.py)

    @property
    def busy(self) -> bool:
        return bool(self.started or self.missed or self.failed or self.instances or self.incidents or self.continued)


def late_after(settings: Settings) -> timedelta:
    """A fire counts as late past this delay (the same rule as Runtime.fire_timers)."""
    return timedelta(seconds=max(60.0, settings.scheduler_interval_s * 3))


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:2000]


def _due_schedules(
    sessions: sessionmaker[Session], clock: Clock, settings: Settings, batch: int, name: str, result: TickResult
) -> None:
    seen: set[int] = set()
    while True:
        now = clock.now()
        try:
            with sessions() as s:
                ids = s.scalars(
                    select(Schedule.id)
                    .where(Schedule.paused.is_(False), Schedule.next_fire_at <= now)
                    .order_by(Schedule.next_fire_at, Schedule.id)
                    .limit(batch)
                ).all()
        except Exception:
            log.exception("reading due schedules failed")
            return
        fresh = [i for i in ids if i not in seen]
        for schedule_id in fresh:
            seen.add(schedule_id)
            try:
                _fire_schedule(sessions, clock, settings, schedule_id, name, result)
            except Exception as exc:
                log.exception("schedule %s: firing failed", schedule_id)
                _record_failure(sessions, clock, schedule_id, exc)
                result.failed += 1
        if not fresh or len(ids) < batch:
            return


def _fire_schedule(
    sessions: sessionmaker[Session], clock: Clock, settings: Settings, schedule_id: int, name: str, result: TickResult
) -> None:
    with write_intent(), sessions() as s:
        now = clock.now()
        q = (
            select(Schedule)
            .where(Schedule.id == schedule_id, Schedule.paused.is_(False), Schedule.next_fire_at <= now)
            .execution_options(populate_existing=True)
        )
        if not is_sqlite(s):
            q = q.with_for_update(skip_locked=True)
        row = s.scalars(q).first()
        if row is None:  # another scheduler holds or took it, or it was paused/replaced meanwhile
            result.skipped += 1
            return
        zone = ZoneInfo(row.timezone)
        timer = schedules.timer_of(row)
        claimed_next = row.next_fire_at
        assert claimed_next is not None
        # Coalesce: of all fires due by now, start only the latest.
        due = timer.last_at_or_before(now)
        if due is None or due < claimed_next:
            due = claimed_next
        following = timer.next_after(max(now, due))
        moved = rowcount(
            s.execute(
                update(Schedule)
                .where(Schedule.id == row.id, Schedule.next_fire_at == claimed_next)
                .values(next_fire_at=following, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        )
        if moved != 1:
            s.rollback()
            result.skipped += 1
            return
        if row.last_due_at is not None and due <= row.last_due_at:
            s.commit()  # this due time already fired (e.g. before a redeploy): only move on
            return
        lateness = now - due
        late = lateness > late_after(settings)
        firing = ScheduleFiring(
            schedule_id=row.id,
            due_at=due,
            fired_at=now,
            definition_id=row.definition_id,
            version=row.version,
            result="claimed",
            late=late,
            claimed_by=name,
        )
        try:
            with s.begin_nested():
                s.add(firing)
        except IntegrityError:  # this (schedule, due time) has fired already: only move the schedule on
            row.last_due_at = max(due, row.last_due_at) if row.last_due_at else due
            row.next_fire_at = following
            s.commit()
            result.skipped += 1
            log.warning(
                "schedule %s: due %s was claimed before; moved on to %s",
                schedule_id,
                due.isoformat(),
                following.isoformat() if following else None,
            )
            return
        payload: dict[str, Any] = {
            "schedule_id": row.id,
            "process_key": row.process_key,
            "version": row.version,
            "start_event": row.start_event_id,
            "expression": row.expression,
            "due": due.astimezone(zone).isoformat(),
            "late": late,
            "late_by_s": int(lateness.total_seconds()),
            "claimed_by": name,
        }
        instance_id = None
        message = None
        if lateness > timedelta(days=settings.misfire_grace_days):
            outcome = "missed"
            message = (
                f"due {due.astimezone(zone).isoformat()}, {lateness.days} days ago: older than the misfire "
                f"grace of {settings.misfire_grace_days} days, not started"
            )
            result.missed += 1
        else:
            definition = s.get(ProcessDefinition, row.definition_id)
            assert definition is not None  # a schedule belongs to a deployed version (foreign key)
            try:
                with s.begin_nested():
                    inst = Runtime(s, clock, settings).start(
                        definition,
                        {"scheduled_at": due.astimezone(zone).isoformat()},
                        SYSTEM,
                        start_event=row.start_event_id,
                    )
                instance_id = inst.id
                outcome = "incident" if inst.status == "error" else "started"
                message = inst.error_message
                result.started.append(inst.id)
            except Exception as exc:
                outcome, message = "failed", _text(exc)
                result.failed += 1
        firing.result, firing.instance_id, firing.message = outcome, instance_id, message
        row.last_due_at, row.last_fired_at, row.last_result = due, now, outcome
        row.last_message, row.last_instance_id, row.last_late = message, instance_id, late
        row.next_fire_at = following
        if outcome in ("started", "incident"):
            row.fire_count += 1
        payload.update(result=outcome, message=message)
        events.log(
            s,
            now,
            {"missed": "schedule_missed", "failed": "schedule_failed"}.get(outcome, "schedule_fired"),
            instance_id=instance_id,
            actor="scheduler",
            payload=payload,
        )
        s.commit()
        level = logging.WARNING if outcome in ("failed", "missed") or late else logging.INFO
        log.log(
            level,
            "schedule %s (%s v%s %s) due %s: %s%s",
            row.id,
            row.process_key,
            row.version,
            row.start_event_id,
            due.isoformat(),
            outcome,
            " (late)" if late else "",
        )


def _record_failure(sessions: sessionmaker[Session], clock: Clock, schedule_id: int, exc: Exception) -> None:
    try:
        with write_intent(), sessions() as s:
            row = s.get(Schedule, schedule_id)
            if row is None:
                return
            now = clock.now()
            row.last_result, row.last_message, row.last_fired_at = "failed", _text(exc), now
            events.log(
                s,
                now,
                "schedule_failed",
                actor="scheduler",
                payload={"schedule_id": schedule_id, "process_key": row.process_key, "message": _text(exc)},
            )
            s.commit()
    except Exception:
        log.exception("schedule %s: could not record the failure", schedule_id)
