"""The scheduler's tick, driven by a travelling clock, on a real database.

Every test works with short-lived sessions (as the scheduler does) so that no test session
holds a transaction open while a tick runs.
"""
from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from engine.core import repository
from engine.core import schedules
from engine.infra.db import write_intent
from engine.errors import NotFound
from engine.models import EventLog, HumanTask, ProcessDefinition, ProcessInstance, Schedule, ScheduleFiring
from engine.core.runtime import Runtime
from engine.core.scheduler import Scheduler, due_instances_query, tick
from tests.conftest import BPMN, deploy_file, is_pg, principal, roundtrip_all
from tests.timer_bpmn import deploy_text, timer_process

SH = ZoneInfo("Asia/Shanghai")
# The test stand-in for processes/quarterly_tasks.bpmn (same cadence); point these two at the
# real diagram once it is merged.
QUARTERLY = BPMN / "quarterly_timer.bpmn"
QUARTERLY_KEY = "quarterly_timer_test"


# ---- helpers ---------------------------------------------------------------------------------

def deploy(sessions, forms, clock, source) -> list[Any]:
    with write_intent(), sessions() as s:
        if isinstance(source, str):
            return deploy_text(s, source, forms, clock.now())
        return deploy_file(s, source, forms, clock)


def start(sessions, clock, settings, forms, key, variables=None, user=None) -> int:
    with write_intent(), sessions() as s:
        inst = Runtime(s, clock, settings, forms).start(key, variables or {}, principal(s, user) if user else None)
        s.commit()
        return inst.id


def read(sessions, fn):
    with sessions() as s:
        return fn(s)


def instances(sessions, key=None) -> list[ProcessInstance]:
    def q(s):
        stmt = select(ProcessInstance).order_by(ProcessInstance.id)
        if key:
            stmt = stmt.where(ProcessInstance.process_key == key)
        return list(s.scalars(stmt))
    return read(sessions, q)


def open_tasks(sessions, **filters) -> list[HumanTask]:
    def q(s):
        stmt = select(HumanTask).where(HumanTask.status == "open")
        for k, v in filters.items():
            stmt = stmt.where(getattr(HumanTask, k) == v)
        return list(s.scalars(stmt.order_by(HumanTask.id)))
    return read(sessions, q)


def event_log(sessions, type_=None, instance_id=None) -> list[EventLog]:
    def q(s):
        stmt = select(EventLog).order_by(EventLog.id)
        if type_:
            stmt = stmt.where(EventLog.type == type_)
        if instance_id:
            stmt = stmt.where(EventLog.instance_id == instance_id)
        return list(s.scalars(stmt))
    return read(sessions, q)


def schedule_rows(sessions) -> dict[str, Schedule]:
    return read(sessions, lambda s: {r.process_key + "/" + r.start_event_id: r for r in s.scalars(select(Schedule))})


def local(dt: datetime | None) -> str | None:
    return dt.astimezone(SH).isoformat() if dt else None


# ---- the clock scenario of the issue ------------------------------------------------------------------

def test_quarterly_schedule_fires_once_at_nine_on_new_years_day(sessions, clock, settings, forms):
    clock.set("2026-12-01T10:00:00+08:00")
    deploy(sessions, forms, clock, QUARTERLY)
    [row] = schedule_rows(sessions).values()
    assert (row.expression, local(row.next_fire_at)) == ("0 9 1 1,4,7,10 *", "2027-01-01T09:00:00+08:00")

    clock.set("2026-12-31T23:59:00+08:00")
    result = tick(sessions, clock, settings)
    assert not result.busy and instances(sessions) == []

    clock.set("2027-01-01T09:00:00+08:00")
    result = tick(sessions, clock, settings)
    [inst] = instances(sessions, QUARTERLY_KEY)
    assert result.started == [inst.id]
    assert inst.status == "running" and inst.definition_id == row.definition_id
    assert inst.data["scheduled_at"] == "2027-01-01T09:00:00+08:00"
    [task] = open_tasks(sessions)
    assert (task.instance_id, task.spec_id, task.tier, task.node_id) == (inst.id, "issue_tasks", "group", "group")
    assert task.created_at == clock.now()
    [fired] = event_log(sessions, "schedule_fired")
    assert fired.instance_id == inst.id and fired.payload["late"] is False
    assert fired.payload["due"] == "2027-01-01T09:00:00+08:00"

    result = tick(sessions, clock, settings)
    clock.advance(minutes=5)
    result2 = tick(sessions, clock, settings)
    assert not result.busy and not result2.busy
    assert len(instances(sessions)) == 1 and len(open_tasks(sessions)) == 1
    row = schedule_rows(sessions)[f"{QUARTERLY_KEY}/quarter_start"]
    assert (row.last_result, row.fire_count, row.last_instance_id) == ("started", 1, inst.id)
    assert local(row.next_fire_at) == "2027-04-01T09:00:00+08:00"
    # the plain start event still starts it by hand (special matters)
    start(sessions, clock, settings, forms, QUARTERLY_KEY, user="group_secretary")
    assert len(instances(sessions, QUARTERLY_KEY)) == 2


def test_real_quarterly_tasks_fires_at_nine_on_new_years_day(sessions, clock, settings, forms):
    """The issue's clock scenario on the built-in diagram from processes/."""
    from engine.infra.settings import ROOT

    clock.set("2026-12-31T23:59:00+08:00")
    deploy(sessions, forms, clock, ROOT / "processes" / "quarterly_tasks.bpmn")
    row = schedule_rows(sessions)["quarterly_tasks/start_timer"]
    assert local(row.next_fire_at) == "2027-01-01T09:00:00+08:00"
    tick(sessions, clock, settings)
    assert instances(sessions) == []
    clock.set("2027-01-01T09:00:00+08:00")
    tick(sessions, clock, settings)
    [inst] = instances(sessions, "quarterly_tasks")
    [task] = open_tasks(sessions)
    assert (task.instance_id, task.spec_id, task.tier, task.node_id) == (inst.id, "draft_tasks", "group", "group")
    tick(sessions, clock, settings)
    assert len(instances(sessions)) == 1 and len(open_tasks(sessions)) == 1


# ---- deadlines inside instances ----------------------------------------------------------------------

def test_deadline_escalates_to_the_unit_committee_on_time_exactly_once(sessions, clock, settings, forms):
    deploy(sessions, forms, clock, BPMN / "escalation.bpmn")
    t0 = clock.now()
    iid = start(sessions, clock, settings, forms, "escalation_test", {"branch_id": "xinsheng-laogan", "unit_id": "xinsheng"},
                user="xinsheng_laogan")
    [report] = open_tasks(sessions)
    assert (report.tier, report.node_id, report.due_at) == ("branch", "xinsheng-laogan", t0 + timedelta(days=3))
    assert instances(sessions)[0].next_timer_at == t0 + timedelta(days=1)

    def fired(spec_id: str) -> list[EventLog]:
        return [e for e in event_log(sessions, "timer_fired", iid) if e.payload["spec_id"] == spec_id]

    clock.set(t0 + timedelta(days=1, seconds=-1))
    assert tick(sessions, clock, settings).instances == 0
    for day in (1, 2):  # the daily reminder (non-interrupting, twice)
        clock.set(t0 + timedelta(days=day))
        assert tick(sessions, clock, settings).timers == 1
        assert len(fired("remind")) == day
        assert [t.spec_id for t in open_tasks(sessions)] == ["report"]
    clock.set(t0 + timedelta(days=3, seconds=-1))
    assert tick(sessions, clock, settings).instances == 0
    assert [t.spec_id for t in open_tasks(sessions)] == ["report"]

    clock.set(t0 + timedelta(days=3))
    result = tick(sessions, clock, settings)
    assert (result.instances, result.timers) == (1, 1)
    [escalation] = open_tasks(sessions)
    assert (escalation.spec_id, escalation.tier, escalation.node_id) == ("escalate", "unit", "xinsheng")
    assert escalation.created_at == t0 + timedelta(days=3)
    assert read(sessions, lambda s: s.get(HumanTask, report.id).status) == "cancelled"
    [overdue] = fired("overdue")
    assert overdue.payload["late"] is False and overdue.payload["due"] == (t0 + timedelta(days=3)).isoformat()

    for later in (timedelta(0), timedelta(hours=1), timedelta(days=5)):
        clock.set(t0 + timedelta(days=3) + later)
        assert not tick(sessions, clock, settings).busy
    assert len(fired("overdue")) == 1
    assert len(open_tasks(sessions, spec_id="escalate")) == 1
    assert instances(sessions)[0].next_timer_at is None
    read(sessions, roundtrip_all)


def test_suspended_instances_are_not_advanced(sessions, clock, settings, forms):
    deploy(sessions, forms, clock, BPMN / "deadline.bpmn")
    iid = start(sessions, clock, settings, forms, "deadline_test", {"unit_id": "xuchang"})
    with write_intent(), sessions() as s:
        Runtime(s, clock, settings, forms).suspend(iid, principal(s, "admin"), "check")
        s.commit()
    clock.advance(days=3)
    assert tick(sessions, clock, settings).instances == 0
    assert event_log(sessions, "timer_fired") == []
    assert [t.spec_id for t in open_tasks(sessions)] == ["report"]


def test_a_tick_reads_only_the_due_instances(sessions, clock, settings, forms, monkeypatch):
    deploy(sessions, forms, clock, BPMN / "deadline.bpmn")
    t0 = clock.now()
    early = [start(sessions, clock, settings, forms, "deadline_test", {"unit_id": "xuchang"}) for _ in range(4)]
    clock.advance(days=1)
    later = [start(sessions, clock, settings, forms, "deadline_test", {"unit_id": "xuchang"}) for _ in range(12)]
    loaded: list[int] = []
    original = Runtime._load

    def spy(self, inst):
        loaded.append(inst.id)
        return original(self, inst)

    monkeypatch.setattr(Runtime, "_load", spy)
    clock.set(t0 + timedelta(days=2))
    result = tick(sessions, clock, settings)
    assert sorted(loaded) == sorted(early) and result.instances == 4
    loaded.clear()
    assert not tick(sessions, clock, settings).busy and loaded == []
    clock.set(t0 + timedelta(days=3))
    tick(sessions, clock, settings)
    assert sorted(loaded) == sorted(later)

    # and the database answers the due query from an index, not by reading every instance
    with sessions() as s:
        query = due_instances_query(clock.now(), 100).compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        if is_pg(s.get_bind()):
            s.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in s.execute(text(f"EXPLAIN {query}")))
        else:
            plan = " ".join(str(r[-1]) for r in s.execute(text(f"EXPLAIN QUERY PLAN {query}")))
    assert "ix_process_instance_status_next_timer_at" in plan, plan


# ---- exactly once -----------------------------------------------------------------------------------

def _two_schedulers(sessions, clock, settings, batch: int) -> list[Any]:
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            results[i] = tick(sessions, clock, settings, batch=batch, name=f"scheduler-{i}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert not errors, errors
    return results


def _exactly_once(sessions, clock, settings, forms, n_instances: int, n_schedules: int, batch: int) -> None:
    deploy(sessions, forms, clock, BPMN / "deadline.bpmn")
    per_file = 10
    for f in range(n_schedules // per_file):
        deploy(sessions, forms, clock, timer_process(f"burst_{f}", ["0 9 7 1 *"] * per_file))
    ids = [start(sessions, clock, settings, forms, "deadline_test", {"unit_id": "xuchang"}) for _ in range(n_instances)]
    assert len(schedule_rows(sessions)) == n_schedules
    clock.set("2027-01-07T09:00:00+08:00")  # every deadline (P2D from 2027-01-05 09:00) and schedule is due

    results = _two_schedulers(sessions, clock, settings, batch)

    assert sum(r.instances for r in results) == n_instances
    assert sum(len(r.started) for r in results) == n_schedules
    assert sum(r.failed + r.incidents + r.missed for r in results) == 0
    fired = Counter(e.instance_id for e in event_log(sessions, "timer_fired"))
    assert fired == Counter({i: 1 for i in ids})  # every timer once: none twice, none lost
    escalations = Counter(t.instance_id for t in open_tasks(sessions, spec_id="escalate"))
    assert escalations == Counter({i: 1 for i in ids})
    firings = read(sessions, lambda s: list(s.scalars(select(ScheduleFiring))))
    assert len(firings) == n_schedules and {f.result for f in firings} == {"started"}
    started = [i for i in instances(sessions) if i.process_key.startswith("burst_")]
    assert len(started) == n_schedules
    assert sorted(i.id for i in started) == sorted(f.instance_id for f in firings)
    # one instance per schedule, none twice
    starts = Counter((e.payload["process_key"], e.payload["start_event"]) for e in event_log(sessions, "schedule_fired"))
    assert len(starts) == n_schedules and set(starts.values()) == {1}
    # a later tick finds nothing left
    assert not tick(sessions, clock, settings).busy
    print(f"\nscheduler-0 / scheduler-1: instances {results[0].instances}/{results[1].instances}, "
          f"schedules {len(results[0].started)}/{len(results[1].started)}, "
          f"skipped {results[0].skipped}/{results[1].skipped}")


@pytest.mark.pg
@pytest.mark.slow
def test_two_schedulers_on_postgresql_fire_each_of_200_timers_exactly_once(sessions, clock, settings, forms, db_engine):
    if not is_pg(db_engine):
        pytest.skip("needs PostgreSQL (set TEST_DATABASE_URL): this proves the row locks with SKIP LOCKED and the "
                    "unique claims under real concurrency; SQLite serialises writers (see the SQLite variant)")
    _exactly_once(sessions, clock, settings, forms, n_instances=200, n_schedules=40, batch=25)


def test_two_schedulers_fire_each_timer_exactly_once(sessions, clock, settings, forms):
    """The same race on any database (SQLite: BEGIN IMMEDIATE and the conditional update)."""
    _exactly_once(sessions, clock, settings, forms, n_instances=30, n_schedules=10, batch=7)


def test_a_fire_claimed_elsewhere_is_not_repeated(sessions, clock, settings, forms):
    """The unique (schedule, due time) claim holds even if a schedule row is put back."""
    clock.set("2026-12-01T10:00:00+08:00")
    deploy(sessions, forms, clock, QUARTERLY)
    clock.set("2027-01-01T09:00:00+08:00")
    assert len(tick(sessions, clock, settings).started) == 1
    with write_intent(), sessions() as s:  # e.g. a restored backup: the row says Jan 1 is still due
        row = s.scalars(select(Schedule)).one()
        row.next_fire_at, row.last_due_at = datetime(2027, 1, 1, 9, 0, tzinfo=SH), None
        s.commit()
    result = tick(sessions, clock, settings)
    assert result.started == [] and result.skipped == 1
    assert len(instances(sessions)) == 1
    # and the schedule moved on: no retry on every tick
    [row] = schedule_rows(sessions).values()
    assert local(row.next_fire_at) == "2027-04-01T09:00:00+08:00"
    assert not tick(sessions, clock, settings).busy and tick(sessions, clock, settings).skipped == 0


# ---- downtime --------------------------------------------------------------------------------------------

def test_after_95_days_down_each_schedule_fires_once_marked_late(sessions, clock, settings, forms):
    clock.set("2026-12-31T20:00:00+08:00")
    deploy(sessions, forms, clock, QUARTERLY)
    cadences = {"monthly": "0 9 1 * *", "quarter_end": "0 9 L 3,6,9,12 *",
                "month_end_iso": "R/2027-01-31T09:00:00+08:00/P1M", "new_year": "0 9 1 1 *"}
    for key, expression in cadences.items():
        deploy(sessions, forms, clock, timer_process(key, expression))
    manual = start(sessions, clock, settings, forms, "quarterly_timer_test", user="group_secretary")
    deploy(sessions, forms, clock, BPMN / "deadline.bpmn")
    boundary = start(sessions, clock, settings, forms, "deadline_test", {"unit_id": "xuchang"})
    clock.set("2026-12-31T23:59:00+08:00")
    assert not tick(sessions, clock, settings).busy

    clock.advance(days=95)  # down until 2027-04-05 23:59
    result = tick(sessions, clock, settings)

    expected_due = {"quarterly_timer_test": "2027-04-01T09:00:00+08:00", "monthly": "2027-04-01T09:00:00+08:00",
                    "quarter_end": "2027-03-31T09:00:00+08:00", "month_end_iso": "2027-03-31T09:00:00+08:00"}
    fired = event_log(sessions, "schedule_fired")
    assert {e.payload["process_key"]: e.payload["due"] for e in fired} == expected_due
    assert len(fired) == 4 and all(e.payload["late"] for e in fired)
    assert len(result.started) == 4
    for key in expected_due:
        assert len([i for i in instances(sessions, key) if i.id != manual]) == 1, key
    # Jan 1 of the yearly schedule is 94 days old: beyond the 7-day grace, recorded, not started
    [missed] = event_log(sessions, "schedule_missed")
    assert missed.payload["process_key"] == "new_year" and missed.payload["due"] == "2027-01-01T09:00:00+08:00"
    assert instances(sessions, "new_year") == [] and result.missed == 1
    rows = {r.process_key: r for r in schedule_rows(sessions).values()}
    assert rows["new_year"].last_result == "missed"
    assert all(rows[k].last_result == "started" and rows[k].last_late for k in expected_due)
    assert {k: local(r.next_fire_at) for k, r in rows.items()} == {
        "quarterly_timer_test": "2027-07-01T09:00:00+08:00", "monthly": "2027-05-01T09:00:00+08:00",
        "quarter_end": "2027-06-30T09:00:00+08:00", "month_end_iso": "2027-04-30T09:00:00+08:00",
        "new_year": "2028-01-01T09:00:00+08:00"}
    assert read(sessions, lambda s: s.scalar(select(func.count()).select_from(ScheduleFiring))) == 5

    # the overdue boundary timer fires once, late
    [timer] = event_log(sessions, "timer_fired", boundary)
    assert timer.payload["late"] is True and timer.payload["spec_id"] == "late"
    assert [t.spec_id for t in open_tasks(sessions, instance_id=boundary)] == ["escalate"]

    assert not tick(sessions, clock, settings).busy
    assert len(event_log(sessions, "schedule_fired")) == 4 and len(event_log(sessions, "timer_fired")) == 1


def test_a_one_off_start_far_in_the_past_is_missed_a_recent_one_fires_late(sessions, clock, settings, forms):
    clock.set("2027-01-20T09:00:00+08:00")
    deploy(sessions, forms, clock, timer_process("old_date", "2027-01-01T09:00", kind="timeDate"))
    deploy(sessions, forms, clock, timer_process("recent_date", "2027-01-18T09:00", kind="timeDate"))
    deploy(sessions, forms, clock, timer_process("in_two_hours", "PT2H", kind="timeDuration"))
    result = tick(sessions, clock, settings)
    assert result.missed == 1 and len(result.started) == 1
    assert [i.process_key for i in instances(sessions)] == ["recent_date"]
    clock.advance(hours=2)
    assert len(tick(sessions, clock, settings).started) == 1
    clock.advance(days=400)
    assert not tick(sessions, clock, settings).busy
    rows = {r.process_key: r for r in schedule_rows(sessions).values()}
    assert {k: (r.last_result, r.next_fire_at) for k, r in rows.items()} == {
        "old_date": ("missed", None), "recent_date": ("started", None), "in_two_hours": ("started", None)}
    assert rows["recent_date"].last_late is True and rows["in_two_hours"].last_late is False


# ---- versions -----------------------------------------------------------------------------------------------

def test_redeploy_replaces_the_schedule_and_old_instances_keep_their_timers(sessions, clock, settings, forms):
    clock.set("2027-01-15T10:00:00+08:00")
    deploy(sessions, forms, clock, timer_process("cadence", "0 9 1 * *", deadline="P10D"))
    [v1] = schedule_rows(sessions).values()
    clock.set("2027-02-01T09:00:00+08:00")
    [old] = tick(sessions, clock, settings).started
    assert instances(sessions)[0].next_timer_at.astimezone(SH).isoformat() == "2027-02-11T09:00:00+08:00"

    clock.set("2027-02-03T10:00:00+08:00")
    [d2] = deploy(sessions, forms, clock, timer_process("cadence", "0 9 1 1,4,7,10 *", deadline="P20D"))
    [v2] = schedule_rows(sessions).values()
    assert (v2.id, v2.version, v2.definition_id, v2.expression) == (v1.id, 2, d2.id, "0 9 1 1,4,7,10 *")
    assert local(v2.next_fire_at) == "2027-04-01T09:00:00+08:00"
    assert (v2.last_result, v2.fire_count) == ("started", 1)  # the history stays with the schedule
    [replaced] = event_log(sessions, "schedule_replaced")
    assert replaced.payload["version"] == 2 and replaced.payload["expression"] == "0 9 1 1,4,7,10 *"

    clock.set("2027-02-11T09:00:00+08:00")  # the v1 instance's deadline still fires, by v1's rule
    result = tick(sessions, clock, settings)
    assert (result.instances, result.started) == (1, [])
    assert [(t.instance_id, t.spec_id) for t in open_tasks(sessions, spec_id="escalate")] == [(old, "escalate")]
    clock.set("2027-03-01T09:00:00+08:00")  # the old monthly cadence no longer fires
    assert not tick(sessions, clock, settings).busy
    clock.set("2027-04-01T09:00:00+08:00")
    [new] = tick(sessions, clock, settings).started
    assert read(sessions, lambda s: s.get(ProcessInstance, new).definition.version) == 2
    assert read(sessions, lambda s: s.get(ProcessInstance, new).next_timer_at).astimezone(SH).day == 21

    # a version without the timer start event removes the schedule
    deploy(sessions, forms, clock, timer_process("cadence", None, deadline="P20D"))
    assert schedule_rows(sessions) == {}
    assert [e.payload["reason"] for e in event_log(sessions, "schedule_removed")] == [
        "version 3 has no timer start event timer_start"]
    clock.set("2027-07-01T09:00:00+08:00")
    assert tick(sessions, clock, settings).started == []


def test_redeploying_the_same_cadence_does_not_fire_a_due_time_twice(sessions, clock, settings, forms):
    clock.set("2027-01-10T10:00:00+08:00")
    deploy(sessions, forms, clock, timer_process("once", "2027-01-12T09:00", kind="timeDate"))
    clock.set("2027-01-12T09:00:00+08:00")
    assert len(tick(sessions, clock, settings).started) == 1
    clock.set("2027-01-12T12:00:00+08:00")  # a cosmetic change: same date, new version
    deploy(sessions, forms, clock, timer_process("once", "2027-01-12T09:00", kind="timeDate", name="改名"))
    [row] = schedule_rows(sessions).values()
    assert row.version == 2 and row.next_fire_at is None
    assert not tick(sessions, clock, settings).busy and len(instances(sessions)) == 1


def test_undeploy_removes_the_schedules(sessions, clock, settings, forms):
    clock.set("2026-12-01T10:00:00+08:00")
    deploy(sessions, forms, clock, QUARTERLY)
    with write_intent(), sessions() as s:
        repository.undeploy(s, QUARTERLY_KEY, clock.now())
        s.commit()
    assert schedule_rows(sessions) == {}
    clock.set("2027-01-01T09:00:00+08:00")
    assert not tick(sessions, clock, settings).busy
    with pytest.raises(NotFound):
        start(sessions, clock, settings, forms, QUARTERLY_KEY, user="group_secretary")
    clock.set("2027-01-01T10:00:00+08:00")
    deploy(sessions, forms, clock, QUARTERLY)  # deployed again: a new version, scheduled again
    [row] = schedule_rows(sessions).values()
    assert row.version == 2 and local(row.next_fire_at) == "2027-04-01T09:00:00+08:00"


# ---- cycles, pauses, failures ------------------------------------------------------------------------------

def test_a_cycle_starts_the_next_instance_whether_or_not_the_previous_one_finished(sessions, clock, settings, forms):
    clock.set("2027-01-15T10:00:00+08:00")
    deploy(sessions, forms, clock, timer_process("monthly", "0 9 1 * *", task="月度报告"))
    started = []
    for month in ("02", "03", "04"):
        clock.set(f"2027-{month}-01T09:00:00+08:00")
        started += tick(sessions, clock, settings).started
    assert len(started) == 3
    assert [i.status for i in instances(sessions)] == ["running"] * 3
    assert len(open_tasks(sessions, spec_id="work")) == 3


def test_a_paused_schedule_does_not_fire_and_resumes_with_its_next_fire(sessions, clock, settings, forms):
    clock.set("2027-01-15T10:00:00+08:00")
    deploy(sessions, forms, clock, timer_process("monthly", "0 9 1 * *"))
    [row] = schedule_rows(sessions).values()
    with write_intent(), sessions() as s:
        schedules.pause(s, row.id, principal(s, "admin"), clock.now(), "holiday")
        s.commit()
    clock.set("2027-02-01T09:00:00+08:00")
    assert not tick(sessions, clock, settings).busy
    clock.set("2027-02-10T09:00:00+08:00")
    with write_intent(), sessions() as s:
        schedules.resume(s, row.id, principal(s, "admin"), clock.now())
        s.commit()
    [row] = schedule_rows(sessions).values()
    assert not row.paused and local(row.next_fire_at) == "2027-03-01T09:00:00+08:00"
    assert not tick(sessions, clock, settings).busy  # the February fire fell in the pause: skipped
    clock.set("2027-03-01T09:00:00+08:00")
    assert len(tick(sessions, clock, settings).started) == 1
    assert [e.type for e in event_log(sessions) if e.type.startswith("schedule_")] == [
        "schedule_registered", "schedule_paused", "schedule_resumed", "schedule_fired"]


def test_failures_become_results_and_incidents_and_the_tick_goes_on(sessions, clock, settings, forms, monkeypatch):
    clock.set("2027-01-15T10:00:00+08:00")
    deploy(sessions, forms, clock, timer_process("fragile", "0 9 1 * *"))
    deploy(sessions, forms, clock, timer_process("sturdy", "0 9 1 * *"))
    deploy(sessions, forms, clock, BPMN / "deadline.bpmn")
    bad = start(sessions, clock, settings, forms, "deadline_test", {"unit_id": "xuchang"})
    good = start(sessions, clock, settings, forms, "deadline_test", {"unit_id": "daizhuang"})
    original_start, original_fire = Runtime.start, Runtime.fire_timers

    def flaky_start(self, key, *args, **kwargs):
        if getattr(key, "key", key) == "fragile":
            raise RuntimeError("the org service is down")
        return original_start(self, key, *args, **kwargs)

    def flaky_fire(self, instance_id, *args, **kwargs):
        if instance_id == bad:
            raise ValueError("corrupt state")
        return original_fire(self, instance_id, *args, **kwargs)

    monkeypatch.setattr(Runtime, "start", flaky_start)
    monkeypatch.setattr(Runtime, "fire_timers", flaky_fire)
    clock.set("2027-02-01T09:00:00+08:00")
    result = tick(sessions, clock, settings)
    assert (result.failed, len(result.started), result.incidents, result.instances) == (1, 1, 1, 1)
    rows = {r.process_key: r for r in schedule_rows(sessions).values()}
    assert rows["fragile"].last_result == "failed" and "the org service is down" in rows["fragile"].last_message
    assert local(rows["fragile"].next_fire_at) == "2027-03-01T09:00:00+08:00"  # no hot loop on the failure
    assert rows["sturdy"].last_result == "started"
    [failed] = event_log(sessions, "schedule_failed")
    assert failed.payload["process_key"] == "fragile"
    by_id = {i.id: i for i in instances(sessions)}
    assert by_id[bad].status == "error" and "corrupt state" in by_id[bad].error_message
    assert by_id[good].status == "running" and [t.spec_id for t in open_tasks(sessions, instance_id=good)] == ["escalate"]
    assert [e.instance_id for e in event_log(sessions, "incident")] == [bad]
    assert not tick(sessions, clock, settings).busy  # the failed instance is not retried in a loop


def test_time_zone_change_realigns_the_schedules(sessions, clock, settings, forms):
    clock.set("2026-12-01T10:00:00+08:00")
    deploy(sessions, forms, clock, QUARTERLY)
    berlin = settings.with_(timezone="Europe/Berlin")
    try:
        tick(sessions, clock, berlin)
        [row] = schedule_rows(sessions).values()
        assert row.timezone == "Europe/Berlin"
        assert row.next_fire_at.astimezone(ZoneInfo("Europe/Berlin")).isoformat() == "2027-01-01T09:00:00+01:00"
    finally:
        schedules.configure(settings.zone)


def test_the_scheduler_schedules_definitions_deployed_before_schedules_existed(sessions, clock, settings, forms):
    clock.set("2026-12-01T10:00:00+08:00")
    deploy(sessions, forms, clock, QUARTERLY)
    deploy(sessions, forms, clock, timer_process("gone", "0 9 1 * *"))
    with write_intent(), sessions() as s:  # as after upgrading a database deployed without them
        s.execute(Schedule.__table__.delete().where(Schedule.process_key == QUARTERLY_KEY))
        # and a process withdrawn behind the scheduler's back keeps a stale schedule
        s.execute(ProcessDefinition.__table__.update().where(ProcessDefinition.key == "gone").values(active=False))
        s.commit()
    assert list(schedule_rows(sessions)) == ["gone/timer_start"]
    clock.set("2027-01-01T09:00:00+08:00")
    scheduler = Scheduler(sessions, clock, settings)
    result = scheduler.run_once()  # the scheduler reconciles first
    assert list(schedule_rows(sessions)) == [f"{QUARTERLY_KEY}/quarter_start"]
    assert [i.process_key for i in instances(sessions) if i.id in result.started] == [QUARTERLY_KEY]
    assert scheduler.reconcile() == 0  # nothing left to do


# ---- the APScheduler wrapper -----------------------------------------------------------------------------

def test_the_background_scheduler_ticks_until_shut_down(sessions, clock, settings, forms):
    clock.set("2026-12-01T10:00:00+08:00")
    deploy(sessions, forms, clock, QUARTERLY)
    clock.set("2027-01-01T09:00:00+08:00")
    seen: list[Any] = []
    two_ticks = threading.Event()

    def on_tick(result):
        seen.append(result)
        if len(seen) >= 2:
            two_ticks.set()

    scheduler = Scheduler(sessions, clock, settings.with_(scheduler_interval_s=0.05), on_tick=on_tick).start()
    try:
        assert two_ticks.wait(30), "the background scheduler did not tick"
    finally:
        scheduler.shutdown()
    assert sum(len(r.started) for r in seen) == 1
    assert len(instances(sessions, QUARTERLY_KEY)) == 1
    ticks = scheduler.ticks
    clock.advance(days=120)
    threading.Event().wait(0.2)
    assert scheduler.ticks == ticks  # stopped: nothing ran after shutdown
