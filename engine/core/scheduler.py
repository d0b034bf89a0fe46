"""The scheduler: one `tick` fires what is due; APScheduler calls it every few seconds.

A tick
1. fires the due timer start schedules: each fire in its own transaction, claimed in the
   database twice over — the schedule row is locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
   the writer lock of `BEGIN IMMEDIATE` on SQLite) and moved on by a conditional
   `UPDATE … WHERE next_fire_at = <the value read>`, and a `schedule_firing` row with a unique
   (schedule, due time) key is inserted — so two scheduler processes never start the same
   fire twice. After downtime the missed fires of a schedule coalesce into one (the latest),
   started late if it is within `misfire_grace_days`, else recorded as missed;
2. advances the instances whose next timer is due: it reads only
   `status = 'running' AND next_timer_at <= now` (an index range), and fires each instance in
   its own transaction after locking it (`SKIP LOCKED`) and re-checking it is still due.
3. continues the asynchronous fan-outs (engine/core/async_jobs.py): one batch of children per
   transaction, the fan-outs with the fewest children left first, for at most `async_jobs.BUDGET_S` seconds.

Only committed rows are read, so a fire never runs before the transaction that created its
schedule or timer has committed. Failures become the schedule's last result or the
instance's incident; a tick never raises.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.core import async_jobs, schedules
from engine.core.runtime import Runtime
from engine.core.schedule_fire import TickResult, _due_schedules, _text, late_after  # noqa: F401 - re-exported
from engine.errors import Conflict
from engine.infra.clock import Clock
from engine.infra.db import is_sqlite, write_intent
from engine.infra.settings import Settings
from engine.models import ProcessInstance, Schedule

log = logging.getLogger("sanji.scheduler")

BATCH = 100


def scheduler_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:100]


def tick(
    session_factory: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    *,
    batch: int = BATCH,
    name: str | None = None,
) -> TickResult:
    """One pass: due schedules, due instance timers, then notifications. Never raises."""
    result = TickResult()
    name = name or scheduler_name()
    schedules.configure(settings.zone)
    try:
        with session_factory() as s:
            stale = s.scalar(select(Schedule.id).where(Schedule.timezone != settings.timezone).limit(1))
        if stale is not None:
            with write_intent(), session_factory() as s:
                schedules.realign(s, settings.zone, clock.now())
                s.commit()
    except Exception:
        log.exception("realigning schedules to %s failed", settings.timezone)
    _due_schedules(session_factory, clock, settings, batch, name, result)
    _due_instances(session_factory, clock, settings, batch, result)
    continued = async_jobs.run_due(session_factory, clock, settings)  # large fan-outs, a batch at a time
    result.continued += continued.children
    result.incidents += continued.incidents
    from engine.platform.notify import dispatch  # notifications and the outbox ride on the same tick

    dispatch(session_factory, clock, settings)
    from engine.platform.attachments.service import purge_due  # issue 16: unbound uploads go after a day

    try:
        purge_due(session_factory, clock.now())
    except Exception:
        log.exception("purging unbound attachments failed")
    return result


# ---- instance timers ----------------------------------------------------------------------------------


def due_instances_query(now: datetime, limit: int) -> Any:
    return (
        select(ProcessInstance.id)
        .where(ProcessInstance.status == "running", ProcessInstance.next_timer_at <= now)
        .order_by(ProcessInstance.next_timer_at, ProcessInstance.id)
        .limit(limit)
    )


def _due_instances(
    sessions: sessionmaker[Session], clock: Clock, settings: Settings, batch: int, result: TickResult
) -> None:
    seen: set[int] = set()
    while True:
        now = clock.now()
        try:
            with sessions() as s:
                ids = s.scalars(due_instances_query(now, batch)).all()
        except Exception:
            log.exception("reading due instances failed")
            return
        fresh = [i for i in ids if i not in seen]
        for instance_id in fresh:
            seen.add(instance_id)
            _fire_instance(sessions, clock, settings, instance_id, result)
        if not fresh or len(ids) < batch:
            return


def _fire_instance(
    sessions: sessionmaker[Session], clock: Clock, settings: Settings, instance_id: int, result: TickResult
) -> None:
    try:
        with write_intent(), sessions() as s:
            q = select(ProcessInstance.id).where(
                ProcessInstance.id == instance_id,
                ProcessInstance.status == "running",
                ProcessInstance.next_timer_at <= clock.now(),
            )
            if not is_sqlite(s):
                q = q.with_for_update(skip_locked=True)
            if s.scalar(q) is None:  # another scheduler has it, or it is no longer due
                result.skipped += 1
                return
            fired = Runtime(s, clock, settings).fire_timers(instance_id, "scheduler")
            s.commit()
        result.instances += 1
        result.timers += fired
    except (Conflict, StaleDataError):
        result.skipped += 1  # a user changed the instance at the same moment: next tick
    except Exception as exc:
        log.exception("instance %s: firing its timers failed", instance_id)
        if _instance_incident(sessions, clock, instance_id, exc):
            result.incidents += 1


def _instance_incident(sessions: sessionmaker[Session], clock: Clock, instance_id: int, exc: Exception) -> bool:
    try:
        with write_intent(), sessions() as s:
            now = clock.now()
            message = f"firing a timer failed: {_text(exc)}"[:2000]
            changed = async_jobs.record_incident(s, now, instance_id, message, exc, None)
            s.commit()
            return bool(changed)
    except Exception:
        log.exception("instance %s: could not record the incident", instance_id)
        return False


# ---- APScheduler ------------------------------------------------------------------------------------------


class Scheduler:
    """Runs `tick` every `settings.scheduler_interval_s` seconds with APScheduler 3.

    `start()` runs it in a background thread (the development server embeds one); `run()`
    blocks (the `flask --app app scheduler` process) until SIGINT/SIGTERM, finishing the
    running tick first. Ticks never overlap within one process; several processes are safe.
    APScheduler only paces the ticks; every time a tick uses comes from `clock`.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        on_tick: Callable[[TickResult], None] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.settings = settings
        self.on_tick = on_tick
        self.ticks = 0
        self._scheduler: Any = None
        self._reconciled = False

    def reconcile(self) -> int:
        """Schedules for definitions deployed before schedules existed (once per process)."""
        with write_intent(), self.session_factory() as s:
            changed = schedules.reconcile(s, self.clock.now(), self.settings.zone)
            s.commit()
        if changed:
            log.info("schedules reconciled for %d process(es)", changed)
        self._reconciled = True
        return changed

    def run_once(self) -> TickResult:
        if not self._reconciled:
            try:
                self.reconcile()
            except Exception:
                log.exception("reconciling schedules failed")
        result = tick(self.session_factory, self.clock, self.settings)
        self.ticks += 1
        if result.busy:
            log.info(
                "tick: %d started, %d missed, %d failed; %d instances advanced (%d timers), %d incidents, "
                "%d children continued",
                len(result.started),
                result.missed,
                result.failed,
                result.instances,
                result.timers,
                result.incidents,
                result.continued,
            )
        if self.on_tick is not None:
            self.on_tick(result)
        return result

    def _job(self) -> None:
        try:
            self.run_once()
        except Exception:
            log.exception("scheduler tick failed")

    def _configure(self, scheduler: Any) -> Any:
        from apscheduler.triggers.interval import IntervalTrigger

        scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=self.settings.scheduler_interval_s),
            id="sanji-tick",
            name="sanji tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now().astimezone(),
        )
        return scheduler

    def start(self) -> Scheduler:
        from apscheduler.schedulers.background import BackgroundScheduler

        self._scheduler = self._configure(BackgroundScheduler(timezone=self.settings.zone, daemon=True))
        self._scheduler.start()
        log.info("scheduler started in the background (every %ss)", self.settings.scheduler_interval_s)
        return self

    def run(self) -> None:
        from apscheduler.schedulers.blocking import BlockingScheduler

        self._scheduler = self._configure(BlockingScheduler(timezone=self.settings.zone))
        if self.settings.scheduler_nice and hasattr(os, "nice"):
            os.nice(self.settings.scheduler_nice)  # background work yields to the web workers' requests

        def stop(signum: int, _frame: Any) -> None:
            log.info("signal %s: stopping after the running tick", signum)
            threading.Thread(target=self.shutdown, daemon=True).start()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        log.info("scheduler running (every %ss); stop with SIGTERM or Ctrl-C", self.settings.scheduler_interval_s)
        self._scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
