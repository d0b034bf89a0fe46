"""The demo history's machinery: a travelling clock with a queue of actions, the scheduler's own
tick on the way, and demo users acting through the application services (engine/org/demo_history.py)."""

from __future__ import annotations

import heapq
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.core import async_jobs, scheduler
from engine.core.forms import FormStore
from engine.core.runtime import Runtime
from engine.infra.clock import FrozenClock, as_utc
from engine.infra.db import write_intent
from engine.infra.settings import Settings
from engine.models import HumanTask, ProcessInstance, Schedule, User
from engine.org import nodes as org
from engine.org.demo_data import COMMITTEE, MONTHS, Open
from engine.services import definitions as definitions_service
from engine.services import tasks as tasks_service

log = logging.getLogger("sanji.demo")


class DemoSim:
    """The travelling clock, the queue of planned actions and acting as a demo user; the
    procedures' actions are mixins over it (demo_flows_*.py), `demo_history._History` joins them."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        forms: FormStore,
        start: datetime,
        end: datetime,
        seed: int,
        months: int = MONTHS,
    ) -> None:
        self.months = months
        self.sessions = sessions
        self.settings = settings
        self.forms = forms
        self.zone = settings.zone
        self.clock = FrozenClock(start)
        self.begin, self.end = start, end
        self.rng = random.Random(seed)
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.seq = 0
        self.failing: set[int] = set()  # instances whose next timer firing fails (the incident)
        self.done: Counter[str] = Counter()

    # ---- time ----------------------------------------------------------------------------------

    def local(self, d: date, hour: int = 9, minute: int = 0) -> datetime:
        return datetime.combine(d, time(hour, minute), self.zone)

    def today(self) -> date:
        return self.clock.now().astimezone(self.zone).date()

    def at(self, when: datetime, fn: Callable[..., None], *args: Any) -> None:
        """Plan an action; those after the end are dropped (their tasks stay open)."""
        if when <= self.end:
            self.seq += 1
            action: Callable[[], None] = partial(fn, *args)
            heapq.heappush(self.queue, (when, self.seq, action))

    def later(self, days: float, fn: Callable[..., None], *args: Any, hour: int | None = None) -> None:
        """Plan an action `days` from now (at `hour` o'clock local, or a working hour)."""
        d = (self.clock.now() + timedelta(days=days)).astimezone(self.zone).date()
        when = self.local(d, hour if hour is not None else self.rng.randint(8, 17), self.rng.randint(0, 59))
        self.at(max(when, self.clock.now() + timedelta(minutes=5)), fn, *args)

    def run(self) -> None:
        while self.queue and self.queue[0][0] <= self.end:
            when, _seq, action = heapq.heappop(self.queue)
            self.advance(when)
            action()
            self.drain()
        self.advance(self.end)

    def advance(self, to: datetime) -> None:
        """Move the clock to `to`, running the scheduler's tick at every schedule or timer due on the way."""
        repeats = 0
        last: datetime | None = None
        while True:
            with self.sessions() as s:
                due_s = s.scalar(select(func.min(Schedule.next_fire_at)).where(Schedule.paused.is_(False)))
                due_t = s.scalar(
                    select(func.min(ProcessInstance.next_timer_at)).where(ProcessInstance.status == "running")
                )
            due = [as_utc(x) for x in (due_s, due_t) if x is not None]
            nxt = min(due) if due else None
            if nxt is None or nxt > to:
                break
            repeats = repeats + 1 if nxt == last else 0
            if repeats > 3:  # a timer that does not move on: leave it to the real scheduler
                log.warning("demo history: %s stays due; moving on", nxt.isoformat())
                break
            last = nxt
            if nxt > self.clock.now():
                self.clock.set(nxt)
            self.fail_due_timers()
            scheduler.tick(self.sessions, self.clock, self.settings)
            self.drain()
        if to > self.clock.now():
            self.clock.set(to)

    def drain(self) -> None:
        """What the scheduler's worker does between requests: start the children of large fan-outs."""
        for _ in range(100):
            if not async_jobs.run_due(self.sessions, self.clock, self.settings).children:
                return

    def fail_due_timers(self) -> None:
        """The timer of a chosen instance fails to fire: recorded as the scheduler records it."""
        now = self.clock.now()
        for instance_id in sorted(self.failing):
            with write_intent(), self.sessions() as s:
                inst = s.get(ProcessInstance, instance_id)
                if inst is None or inst.next_timer_at is None or as_utc(inst.next_timer_at) > now:
                    continue
                exc = TimeoutError("database is locked")
                message = f"firing a timer failed: {type(exc).__name__}: {exc}"
                if async_jobs.record_incident(s, now, instance_id, message, exc, None):
                    self.done["incidents"] += 1
                s.commit()
            self.failing.discard(instance_id)

    # ---- acting as a demo user -----------------------------------------------------------------------

    @contextmanager
    def acting(self, username: str) -> Iterator[tuple[Session, org.Principal]]:
        with write_intent(), self.sessions() as s:
            user = s.scalars(select(User).where(User.username == username)).one()
            yield s, org.load_principal(s, user)

    def complete(self, task: Open, username: str, data: dict[str, Any]) -> None:
        with self.acting(username) as (s, p):
            rt = Runtime(s, self.clock, self.settings, self.forms)
            tasks_service.act(rt, p, tasks_service.TaskCommand(task.id, "complete", data))
        self.done["tasks_completed"] += 1
        self.drain()

    def start(self, key: str, username: str, variables: dict[str, Any] | None = None) -> int:
        with self.acting(username) as (s, p):
            rt = Runtime(s, self.clock, self.settings, self.forms)
            inst = definitions_service.start(rt, p, definitions_service.StartCommand(key, dict(variables or {})))
            iid = inst.id
        self.drain()
        return iid

    def open_tasks(
        self,
        spec_id: str,
        *,
        process_key: str | None = None,
        node_id: str | None = None,
        instance_id: int | None = None,
        parent_id: int | None = None,
        **match: Any,
    ) -> list[Open]:
        with self.sessions() as s:
            q = (
                select(HumanTask, ProcessInstance.data, ProcessInstance.parent_id, User.username)
                .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                .outerjoin(User, User.id == HumanTask.assignee_id)
                .where(HumanTask.status == "open", HumanTask.spec_id == spec_id, ProcessInstance.status == "running")
            )
            if process_key:
                q = q.where(HumanTask.process_key == process_key)
            if node_id:
                q = q.where(HumanTask.node_id == node_id)
            if instance_id is not None:
                q = q.where(HumanTask.instance_id == instance_id)
            if parent_id is not None:
                q = q.where(ProcessInstance.parent_id == parent_id)
            out = []
            for t, data, parent, assignee in s.execute(q.order_by(HumanTask.id)).all():
                d = dict(data or {})
                if all(d.get(k) == v for k, v in match.items()):
                    out.append(Open(t.id, t.node_id, t.unit_id, t.instance_id, parent, d, assignee, t.due_at))
            return out

    def one(self, spec_id: str, **kw: Any) -> Open | None:
        found = self.open_tasks(spec_id, **kw)
        return found[0] if found else None

    def last_instance_id(self) -> int:
        with self.sessions() as s:
            return s.scalar(select(func.max(ProcessInstance.id))) or 0

    def new_instances(self, since: int, key: str) -> list[tuple[int, str | None]]:
        with self.sessions() as s:
            return [
                (i, u)
                for i, u in s.execute(
                    select(ProcessInstance.id, ProcessInstance.unit_id)
                    .where(ProcessInstance.id > since, ProcessInstance.process_key == key)
                    .order_by(ProcessInstance.id)
                ).all()
            ]

    def member(self, unit_or_group: str) -> str:
        return f"{unit_or_group}_{self.rng.choice(COMMITTEE)}"

    def day_str(self, days: int = 0) -> str:
        return (self.today() + timedelta(days=days)).isoformat()
