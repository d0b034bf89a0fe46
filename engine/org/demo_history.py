"""A lived-in demo (issue 18): about twelve months of history, made by running the built-in
procedures through the engine with the clock moved — never by inserting rows.

`generate` starts a travelling clock at the first day of the month twelve months before `now`,
deploys the forms and diagrams then (so their timer start schedules are anchored a year ago),
and walks to `now`. On the way the scheduler's own `tick` fires what is due (the monthly report
and article cycles, the quarterly tasks and reports, the year-end assessment, escalation timers),
and the demo users act through the application services the API calls (`engine.services`:
start, complete, bulletin, study), so policy checks, records, the search index, events and
notifications are produced as in real use. What each person does and when is drawn from a
seeded random generator: the same seed and `now` give the same history.

Actions planned after `now` are dropped, which leaves the work of the current weeks open: each
demo user with a task role finds tasks to try. A few things are late on purpose (reports filed
after the month end, one branch that never files its last report, slow reviews), and one timer
firing fails the way the scheduler records it (`async_jobs.record_incident`), for an admin to
retry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.core import repository, schedules
from engine.core.forms import FormStore
from engine.infra.clock import as_utc
from engine.infra.db import write_intent
from engine.infra.settings import Settings
from engine.models import HumanTask, ProcessInstance, Record, Schedule
from engine.org import demo_meetings
from engine.org.demo_data import MONTHS, POSTS, SEED, _add_months, history_present, history_start
from engine.org.demo_flows_cycles import CycleFlows
from engine.org.demo_flows_field import FieldFlows
from engine.platform.meetings.models import UnitMeeting, ZoneActivity
from engine.services import forms as forms_service


class _History(FieldFlows, CycleFlows):
    """The whole simulation: the machinery (demo_sim.py) and every procedure's actions."""

    # ---- the plan ---------------------------------------------------------------------------------

    def plan(self) -> None:
        first = self.begin.astimezone(self.zone).date()
        months = [_add_months(first, i) for i in range(self.months + 1)]
        now_local = self.end.astimezone(self.zone)
        month_start = self.local(now_local.date().replace(day=1), 0)
        quarter_start = self.local(date(now_local.year, (now_local.month - 1) // 3 * 3 + 1, 1), 0)
        for m in months:
            # the scheduler starts the month's cycles at 09:00 on the 1st; people read them after
            self.at(self.local(m, 10), self.plan_monthly_reports, m, len(months) - 1 - months.index(m))
            self.at(self.local(m, 10, 5), self.plan_articles, m)
            if m.month in (1, 4, 7, 10):
                self.at(self.local(m + timedelta(days=2), 10), self.draft_quarterly_tasks, m)
            if m.month in (1, 4, 7, 10) and m != first:
                self.at(self.local(m + timedelta(days=2), 11), self.plan_quarterly_reports, m)
            if m.month == 12:
                self.at(self.local(m + timedelta(days=21), 10), self.annual_notice, m.year)
        # a special inspection finished in spring, one under way now
        if len(months) > 6:
            self.at(self.local(months[4] + timedelta(days=9), 10), self.special_inspection, False)
        self.at(self.end - timedelta(days=14), self.special_inspection, True)
        # the current month and quarter have their own: a report just filed, a clue just registered
        self.at(month_start + (self.end - month_start) / 2, self.adhoc_report, "pending", 9)
        self.at(quarter_start + (self.end - quarter_start) / 2, self.manual_clue, 5)
        # ad-hoc reports through the year, one major report whose escalation timer fails just now
        incident = self.end - timedelta(days=3, hours=2)
        if incident < quarter_start and self.end - quarter_start > timedelta(hours=26):
            incident = quarter_start + timedelta(minutes=30)
        self.at(incident, self.adhoc_report, "incident", 8)
        for i, (kind, month) in enumerate(
            [
                ("none", 1),
                ("tendency", 2),
                ("immediate_fix", 3),
                ("major", 5),
                ("sensitive", 6),
                ("escalated", 8),
                ("tendency", 10),
                ("immediate_fix", 11),
            ]
        ):
            if month < len(months):
                self.at(self.local(months[month] + timedelta(days=5 + 2 * i), 10), self.adhoc_report, kind, i)
        # clues registered by hand (信访举报 and the like)
        for i, month in enumerate((2, 6, 9, 11)):
            if month < len(months):
                self.at(self.local(months[month] + timedelta(days=12), 15), self.manual_clue, i)
        # 转发上级文件: 新升实业 forwards the group's document to its branches (one receipt comes late)
        self.at(self.local(months[min(3, len(months) - 1)] + timedelta(days=15), 10), self.forward_document)
        # the bulletin board and the daily study (四个一)
        for i in range(len(POSTS)):
            self.at(self.local(months[min(1 + i, len(months) - 1)] + timedelta(days=8 + i), 16), self.post, i)
        # 例会、学习培训、业务交流 of each unit and the 分区联创 zones (engine/org/demo_meetings.py)
        demo_meetings.plan(self, months)
        day = first + timedelta(days=1)
        while (when := self.local(day, 20)) <= self.end:
            recent = (self.end - when).days < 30
            if recent or day.weekday() == 4:
                self.at(when, self.study_day, recent)
            day += timedelta(days=1)


# ---- entry point ------------------------------------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    """Thousands of events and scheduler lines would bury the command's output: warnings only."""
    logger = logging.getLogger("sanji")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _deploy_then(sessions: sessionmaker[Session], settings: Settings, forms: FormStore, start: datetime) -> None:
    """Deploy the forms and diagrams at the start of the history (nothing changes if they are
    deployed already) and anchor the timer start schedules there."""
    with write_intent(), sessions() as s:
        if settings.forms_dir.is_dir():
            forms_service.deploy_directory(s, settings.forms_dir, start)
        if settings.processes_dir.is_dir():
            repository.deploy_directory(
                s, settings.processes_dir, "init-db", start, forms, settings.max_bpmn_bytes, settings=settings
            )
        schedules.configure(settings.zone)
        for row in s.scalars(select(Schedule).order_by(Schedule.id)).all():
            if row.last_due_at is None and as_utc(row.anchor_at) > start:
                schedules.sync_definition(s, repository.latest(s, row.process_key), start, settings.zone)
        s.commit()


def counts(session: Session) -> dict[str, int]:
    """What the history holds: records per kind, instances, open tasks, incidents."""
    out: dict[str, int] = {
        f"records:{kind}": n
        for kind, n in session.execute(select(Record.kind, func.count()).group_by(Record.kind).order_by(Record.kind))
    }
    out["instances"] = session.scalar(select(func.count()).select_from(ProcessInstance)) or 0
    out["tasks_open"] = session.scalar(select(func.count()).where(HumanTask.status == "open")) or 0
    out["tasks_completed"] = session.scalar(select(func.count()).where(HumanTask.status == "completed")) or 0
    out["incidents"] = session.scalar(select(func.count()).where(ProcessInstance.status == "error")) or 0
    out["meetings"] = session.scalar(select(func.count()).select_from(UnitMeeting)) or 0
    out["zone_activities"] = session.scalar(select(func.count()).select_from(ZoneActivity)) or 0
    return out


def generate(
    sessions: sessionmaker[Session],
    settings: Settings,
    forms: FormStore,
    now: datetime,
    seed: int = SEED,
    months: int = MONTHS,
) -> dict[str, int] | None:
    """Make the demo history up to `now`; None when the database has process instances already."""
    with sessions() as s:
        if history_present(s):
            return None
    start = history_start(now, settings.zone, months)
    with _quiet():
        _deploy_then(sessions, settings, forms, start)
        sim = _History(sessions, settings, forms, start, now, seed, months)
        sim.plan()
        sim.run()
    with sessions() as s:
        out = counts(s)
    out["bulletin_posts"] = sim.done["bulletin_posts"]
    out["study_entries"] = sim.done["study_entries"]
    return out
