"""Asynchronous continuation: the scheduler's worker starts a large fan-out's children.

A call activity marked `async` (the `async` property, docs/bpmn-conventions.md), or a fan-out
of more than SANJI_ASYNC_FANOUT children, does not start its children inside the request that
reached it: `_spawn` (engine/core/fanout.py) snapshots the items and data in its `fan_out` row
with `due_at` set, and the request commits at once. Each tick (engine/core/scheduler.py) then
runs the due rows, those with the fewest children left first (a waiting unit's 20 branches
before the rest of a 1,000-branch cycle), one batch of SANJI_ASYNC_BATCH children per transaction:

- the parent instance is locked first (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the writer lock
  on SQLite), so two schedulers never run the same batch; the children and the moved-on
  `started` count commit together, so a worker that dies mid-batch leaves nothing behind, and
  the next tick starts the same batch again: no child is lost or started twice;
- a failed batch is retried after SANJI_ASYNC_BACKOFF seconds (doubled each time); after
  SANJI_ASYNC_MAX_ATTEMPTS failures the parent gets an incident naming the element, and
  retrying the incident continues where the batches stopped;
- while children remain to be started, the instance page shows 继续中 with the progress
  (`progress`).
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.core.runtime import Runtime
from engine.errors import Conflict
from engine.infra import events
from engine.infra.clock import Clock
from engine.infra.db import is_sqlite, rowcount, write_intent
from engine.infra.settings import Settings
from engine.models import FanOut, ProcessInstance

log = logging.getLogger("sanji.scheduler")

BUDGET_S = 20.0  # wall seconds of batches per tick, so that timers and schedules wait at most that
REREAD_S = 0.5  # how old the list of due continuations may grow before it is read again
READ = 10  # due continuations read at a time


@dataclass(frozen=True)
class Continuation:
    """One fan-out still starting its children, as the instance page shows it."""

    element: str
    name: str
    kind: str  # "fan_out": children to start; "step": an async script task to run
    started: int
    total: int
    attempts: int
    last_error: str | None
    due_at: datetime | None


def progress(session: Session, instance_id: int) -> list[Continuation]:
    """The asynchronous fan-outs of an instance that have children left to start."""
    rows = session.scalars(
        select(FanOut)
        .where(FanOut.instance_id == instance_id, FanOut.started < FanOut.total)
        .order_by(FanOut.task_guid)
    ).all()
    return [
        Continuation(
            element=str((f.payload or {}).get("element") or ""),
            name=str((f.payload or {}).get("name") or ""),
            kind=str((f.payload or {}).get("kind") or "fan_out"),
            started=f.started,
            total=f.total,
            attempts=f.attempts,
            last_error=f.last_error,
            due_at=f.due_at,
        )
        for f in rows
    ]


def due_query(now: datetime, limit: int) -> Any:
    return (
        select(FanOut.instance_id, FanOut.task_guid, FanOut.total - FanOut.started)
        .join(ProcessInstance, ProcessInstance.id == FanOut.instance_id)
        .where(FanOut.due_at <= now, ProcessInstance.status == "running")
        # the fewest left first: a step or a unit's 20 branches before a 1,000-branch cycle's rest
        .order_by(FanOut.total - FanOut.started, FanOut.due_at, FanOut.instance_id, FanOut.task_guid)
        .limit(limit)
    )


@dataclass
class Outcome:
    batches: int = 0
    children: int = 0
    failed: int = 0
    incidents: int = 0
    skipped: int = 0


def run_due(
    sessions: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    *,
    max_batches: int | None = None,
    budget_s: float = BUDGET_S,
) -> Outcome:
    """Run due batches (fewest children left first) until none is due, `max_batches` ran or the
    budget is spent."""
    out = Outcome()
    stop_at = monotonic() + budget_s
    passed: set[tuple[int, str]] = set()  # skipped (locked by someone else) in this run
    due: list[list[Any]] = []  # [instance id, task guid, children left], fewest left first
    read_at = 0.0
    while True:
        if (max_batches is not None and out.batches + out.failed >= max_batches) or monotonic() > stop_at:
            return out
        # read again when the list is done or REREAD_S old, not after every batch (one query and
        # one connection each): a unit's plan submitted meanwhile still goes before a long cycle
        if not due or monotonic() - read_at > REREAD_S:
            try:
                with sessions() as s:
                    rows = s.execute(due_query(clock.now(), len(passed) + READ)).all()
            except Exception:
                log.exception("reading due continuations failed")
                return out
            read_at = monotonic()
            due = [[int(r[0]), str(r[1]), int(r[2])] for r in rows if (int(r[0]), str(r[1])) not in passed]
            if not due:
                return out
        instance_id, guid, left = due[0]
        started = run_batch(sessions, clock, settings, instance_id, guid, out)
        if not started:
            passed.add((instance_id, guid))  # locked elsewhere, or failed: not again in this run
            due.pop(0)
        elif left - started <= 0:
            due.pop(0)
        else:
            due[0][2] = left - started


def run_batch(
    sessions: sessionmaker[Session], clock: Clock, settings: Settings, instance_id: int, guid: str, out: Outcome
) -> int | None:
    """One batch in its own transaction; the children it started, or None if it was not run."""
    try:
        with write_intent(), sessions() as s:
            q = select(ProcessInstance.id).where(ProcessInstance.id == instance_id, ProcessInstance.status == "running")
            if not is_sqlite(s):
                q = q.with_for_update(skip_locked=True)
            if s.scalar(q) is None:  # another scheduler or a user's request has it: later
                out.skipped += 1
                return None
            fan = s.scalars(
                select(FanOut)
                .where(FanOut.instance_id == instance_id, FanOut.task_guid == guid, FanOut.due_at <= clock.now())
                .execution_options(populate_existing=True)
            ).first()
            if fan is None or fan.started >= fan.total:
                out.skipped += 1
                return None
            rt = Runtime(s, clock, settings)
            parent = rt._lock(instance_id)
            if (fan.payload or {}).get("kind") == "step":
                started = rt._run_async_step(parent, fan)
            else:
                started = rt._continue_fanout(parent, fan, settings.async_batch)
            s.commit()
        out.batches += 1
        out.children += started
        return started
    except (Conflict, StaleDataError):
        out.skipped += 1  # a user changed the parent at the same moment: the next pass
        return None
    except Exception as exc:
        log.exception("instance %s: continuing its fan-out %s failed", instance_id, guid)
        out.failed += 1
        if _failed(sessions, clock, settings, instance_id, guid, exc):
            out.incidents += 1
        return 0


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:2000]


def record_incident(
    s: Session, now: datetime, instance_id: int, message: str, exc: BaseException, element: str | None
) -> bool:
    """Put a running instance into error (an incident the admin retries) with `message`, and log
    the event; the scheduler's timer failures and the async worker's last attempt share it.
    False when the instance is no longer running. The caller commits."""
    changed = rowcount(
        s.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance_id, ProcessInstance.status == "running")
            .values(
                status="error",
                error_message=message,
                error_task=element,
                error_traceback="".join(traceback.format_exception(exc))[-20000:],
                updated_at=now,
                version=ProcessInstance.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
    )
    if changed:
        events.log(
            s,
            now,
            "incident",
            instance_id=instance_id,
            actor="scheduler",
            payload={"message": message, "task": element},
        )
    return bool(changed)


def _failed(
    sessions: sessionmaker[Session], clock: Clock, settings: Settings, instance_id: int, guid: str, exc: Exception
) -> bool:
    """Count the failure; retry later, or after the last attempt record an incident. True: incident."""
    try:
        with write_intent(), sessions() as s:
            fan = s.get(FanOut, (instance_id, guid))
            if fan is None:
                return False
            now = clock.now()
            fan.attempts += 1
            fan.last_error = _text(exc)
            if fan.attempts < settings.async_max_attempts:
                fan.due_at = now + timedelta(seconds=settings.async_backoff_s * 2 ** (fan.attempts - 1))
                s.commit()
                return False
            fan.due_at = None  # until the incident is retried (Runtime.retry re-arms it)
            element = str((fan.payload or {}).get("element") or "")
            message = (
                f"{element}: starting the children failed {fan.attempts} times "
                f"({fan.started} of {fan.total} started): {_text(exc)}"
            )[:2000]
            changed = record_incident(s, now, instance_id, message, exc, element or None)
            s.commit()
            return bool(changed)
    except Exception:
        log.exception("instance %s: could not record the failed continuation", instance_id)
        return False
