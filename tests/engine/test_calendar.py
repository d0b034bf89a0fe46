"""The one calendar (engine/core/calendar): durations across DST, month ends, quarters, cron, and the
same instant for the same duration whether a timer or a task deadline (`dueIn`) computes it."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from sqlalchemy import select

from engine.core import calendar
from engine.core.calendar import Cron, add_duration, describe_zh, due_from, make_timer
from engine.core.runtime import Runtime
from engine.models import HumanTask
from tests.conftest import principal
from tests.timer_bpmn import deploy_text

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
SH = ZoneInfo("Asia/Shanghai")
SPRING = datetime(2027, 3, 27, 12, 0, tzinfo=UTC)  # 13:00 CET, the day before the clocks go forward
FALL = datetime(2027, 10, 30, 12, 0, tzinfo=UTC)  # 14:00 CEST, the day before the clocks go back


def local(t: datetime, zone: ZoneInfo = BERLIN) -> str:
    return t.astimezone(zone).isoformat()


# ---- durations ----------------------------------------------------------------------------------

@pytest.mark.parametrize("start, expression, expected_utc, expected_local", [
    # date units keep the local time of day: 23 real hours across spring forward, 25 across fall back
    (SPRING, "P1D", "2027-03-28T11:00:00+00:00", "2027-03-28T13:00:00+02:00"),
    (FALL, "P1D", "2027-10-31T13:00:00+00:00", "2027-10-31T14:00:00+01:00"),
    # time units are elapsed time: PT24H is 24 real hours
    (SPRING, "PT24H", "2027-03-28T12:00:00+00:00", "2027-03-28T14:00:00+02:00"),
    (FALL, "PT24H", "2027-10-31T12:00:00+00:00", "2027-10-31T13:00:00+01:00"),
    # calendar months, local time kept
    (SPRING, "P1M", "2027-04-27T11:00:00+00:00", "2027-04-27T13:00:00+02:00"),
    (FALL, "P1M", "2027-11-30T13:00:00+00:00", "2027-11-30T14:00:00+01:00"),
    # a week is seven local days
    (SPRING, "P1W", "2027-04-03T11:00:00+00:00", "2027-04-03T13:00:00+02:00"),
    # date part first, then elapsed time
    (SPRING, "P1DT1H", "2027-03-28T12:00:00+00:00", "2027-03-28T14:00:00+02:00"),
    (FALL, "PT90M", "2027-10-30T13:30:00+00:00", "2027-10-30T15:30:00+02:00"),
])
def test_durations_across_dst_in_berlin(start, expression, expected_utc, expected_local):
    due = add_duration(start, expression, BERLIN)
    assert due.isoformat() == expected_utc
    assert local(due) == expected_local
    # the duration of a timer (timeDuration) is the same computation
    timer = make_timer("timeDuration", expression, BERLIN, start)
    assert timer.first_due() == due


def test_pt24h_and_p1d_differ_only_across_a_dst_change():
    assert add_duration(SPRING, "PT24H", BERLIN) - add_duration(SPRING, "P1D", BERLIN) == timedelta(hours=1)
    assert add_duration(FALL, "P1D", BERLIN) - add_duration(FALL, "PT24H", BERLIN) == timedelta(hours=1)
    # Shanghai has no DST: the two agree
    assert add_duration(SPRING, "PT24H", SH) == add_duration(SPRING, "P1D", SH) == SPRING + timedelta(days=1)


def test_a_local_time_the_clock_skips_moves_forward_and_a_repeated_one_means_the_first():
    # 2027-03-27 02:30 CET + P1D: 02:30 does not exist on the 28th; it becomes 03:30 CEST
    skipped = add_duration(datetime(2027, 3, 27, 1, 30, tzinfo=UTC), "P1D", BERLIN)
    assert local(skipped) == "2027-03-28T03:30:00+02:00"
    # 2027-10-30 02:30 CEST + P1D: 02:30 happens twice on the 31st; the first (CEST) counts
    repeated = add_duration(datetime(2027, 10, 30, 0, 30, tzinfo=UTC), "P1D", BERLIN)
    assert local(repeated) == "2027-10-31T02:30:00+02:00"


@pytest.mark.parametrize("start, expression, expected", [
    ("2027-01-31T09:00:00+08:00", "P1M", "2027-02-28T09:00:00+08:00"),
    ("2028-01-31T09:00:00+08:00", "P1M", "2028-02-29T09:00:00+08:00"),
    ("2027-01-31T09:00:00+08:00", "P2M", "2027-03-31T09:00:00+08:00"),  # never Feb 28 + 1 month
    ("2027-03-31T09:00:00+08:00", "P1M", "2027-04-30T09:00:00+08:00"),
    ("2028-02-29T09:00:00+08:00", "P1Y", "2029-02-28T09:00:00+08:00"),
    ("2027-11-30T09:00:00+08:00", "P3M", "2028-02-29T09:00:00+08:00"),
])
def test_month_ends_are_clamped(start, expression, expected):
    assert local(add_duration(datetime.fromisoformat(start), expression, SH), SH) == expected


def test_month_helpers():
    assert calendar.add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert calendar.add_months(date(2027, 3, 31), -1) == date(2027, 2, 28)
    assert calendar.add_months(date(2027, 1, 15), -1) == date(2026, 12, 15)
    assert calendar.add_months(date(2027, 12, 31), 2) == date(2028, 2, 29)
    assert calendar.month_end(date(2028, 2, 10)) == date(2028, 2, 29)
    assert calendar.month_start(date(2028, 2, 10)) == date(2028, 2, 1)
    assert calendar.month_bounds(2027, 4) == (date(2027, 4, 1), date(2027, 4, 30))


def test_due_dates():
    # a date is due by the end of that local day; a naive date-time is local
    assert due_from("2027-03-28", BERLIN).isoformat() == "2027-03-28T23:59:59+02:00"
    assert due_from(date(2027, 1, 5), SH).isoformat() == "2027-01-05T23:59:59+08:00"
    assert due_from("2027-03-28T09:00", BERLIN) == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    assert due_from(datetime(2027, 1, 5, 9), SH) == datetime(2027, 1, 5, 1, 0, tzinfo=UTC)


# ---- quarters -------------------------------------------------------------------------------------

@pytest.mark.parametrize("quarter, first, last, months, previous, following", [
    (1, date(2027, 1, 1), date(2027, 3, 31), (1, 2, 3), (2026, 4), (2027, 2)),
    (2, date(2027, 4, 1), date(2027, 6, 30), (4, 5, 6), (2027, 1), (2027, 3)),
    (3, date(2027, 7, 1), date(2027, 9, 30), (7, 8, 9), (2027, 2), (2027, 4)),
    (4, date(2027, 10, 1), date(2027, 12, 31), (10, 11, 12), (2027, 3), (2028, 1)),
])
def test_quarters(quarter, first, last, months, previous, following):
    assert calendar.quarter_bounds(2027, quarter) == (first, last)
    assert calendar.quarter_months(quarter) == months
    assert calendar.previous_quarter(2027, quarter) == previous
    assert calendar.next_quarter(2027, quarter) == following
    assert calendar.quarter_label(2027, quarter) == f"2027-Q{quarter}"
    for month in months:
        for day in (1, 15, calendar.days_in_month(2027, month)):
            d = date(2027, month, day)
            assert calendar.quarter_of(d) == quarter
            assert (calendar.quarter_start(d), calendar.quarter_end(d)) == (first, last)


def test_quarter_edges():
    assert calendar.quarter_bounds(2028, 1) == (date(2028, 1, 1), date(2028, 3, 31))
    assert calendar.next_quarter(2099, 4) == (2100, 1)
    assert calendar.previous_quarter(2100, 1) == (2099, 4)
    with pytest.raises(ValueError):
        calendar.quarter_bounds(2027, 5)


def test_script_helpers_and_dashboard_periods_use_the_calendar():
    from engine.core.scripts import date_helpers
    from engine.linkage.dashboard import parse_period
    from engine.platform import study

    h = date_helpers(lambda: datetime(2027, 1, 15, 2, 0, tzinfo=UTC), SH)
    assert h["quarter_of"]() == 1 and h["quarter_start"]() == "2027-01-01" and h["quarter_end"]() == "2027-03-31"
    assert h["previous_quarter"]() == {"year": 2026, "quarter": 4}
    assert h["add_months"]("2027-01-31", 1) == "2027-02-28" and h["month_end"]("2028-02-03") == "2028-02-29"
    p = parse_period("2027", "4", date(2027, 1, 1))
    assert (p.quarter, p.start, p.end) == (4, date(2027, 10, 1), date(2027, 12, 31))
    assert study.quarter_bounds(2027, 2) == (date(2027, 4, 1), date(2027, 6, 30), "2027-Q2")


# ---- cron ---------------------------------------------------------------------------------------

def fires(expression: str, start: datetime, n: int, zone: ZoneInfo = BERLIN) -> list[str]:
    timer = make_timer("timeCycle", expression, zone, start)
    return [local(t, zone) for t in timer.upcoming(timer.next_after(start), n)]


def test_cron_last_day_of_month_in_berlin():
    assert fires("0 9 L * *", datetime(2027, 1, 1, tzinfo=UTC), 4) == [
        "2027-01-31T09:00:00+01:00", "2027-02-28T09:00:00+01:00", "2027-03-31T09:00:00+02:00",
        "2027-04-30T09:00:00+02:00"]
    assert fires("0 18 L 2 *", datetime(2027, 3, 1, tzinfo=UTC), 2) == [
        "2028-02-29T18:00:00+01:00", "2029-02-28T18:00:00+01:00"]


def test_cron_across_spring_forward():
    # 09:00 stays 09:00 local; the offset changes
    assert fires("0 9 * * *", SPRING, 2) == ["2027-03-28T09:00:00+02:00", "2027-03-29T09:00:00+02:00"]
    # 02:30 does not exist on 2027-03-28: the fire comes when the clock jumps
    assert fires("30 2 * * *", SPRING, 3) == [
        "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00", "2027-03-30T02:30:00+02:00"]
    day = fires("0 * * * *", datetime(2027, 3, 27, 23, 0, tzinfo=UTC), 23)
    assert day[0] == "2027-03-28T01:00:00+01:00" and day[1] == "2027-03-28T03:00:00+02:00"
    assert day[-1] == "2027-03-29T00:00:00+02:00"  # 23 hourly fires on a 23-hour day


def test_cron_across_fall_back_fires_a_repeated_wall_time_once():
    assert fires("0 2 * * *", FALL, 3) == [
        "2027-10-31T02:00:00+02:00", "2027-11-01T02:00:00+01:00", "2027-11-02T02:00:00+01:00"]
    assert fires("30 2 * * *", FALL, 2) == ["2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"]
    hourly = fires("0 * * * *", datetime(2027, 10, 30, 22, 30, tzinfo=UTC), 24)
    assert hourly[:4] == ["2027-10-31T01:00:00+02:00", "2027-10-31T02:00:00+02:00",
                          "2027-10-31T03:00:00+01:00", "2027-10-31T04:00:00+01:00"]
    # and backwards the same fires (the scheduler coalesces missed fires with this)
    timer = make_timer("timeCycle", "0 2 * * *", BERLIN, FALL)
    at = datetime(2027, 11, 1, 0, 0, tzinfo=UTC)
    assert local(timer.last_at_or_before(at)) == "2027-10-31T02:00:00+02:00"
    assert local(timer.last_at_or_before(datetime(2027, 11, 1, 1, 0, tzinfo=UTC))) == "2027-11-01T02:00:00+01:00"


def test_last_at_or_before_includes_the_instant_itself():
    cron = Cron.parse("0 9 * * *")
    nine = datetime(2027, 1, 5, 9, 0, tzinfo=SH).astimezone(UTC)
    assert cron.last_at_or_before(nine, SH) == nine
    assert cron.next_after(nine, SH) == nine + timedelta(days=1)
    assert cron.next_after(nine - timedelta(seconds=30), SH) == nine


@pytest.mark.parametrize("expression, expected", [
    # croniter alone reads a one-value range as `*` (every hour): ours lists values
    ("0 9-9 * * *", ["2027-01-01T09:00:00+08:00", "2027-01-02T09:00:00+08:00"]),
    # a day field that starts with `*` leaves the other one to decide (Vixie cron): odd days that are Mondays
    ("0 9 */2 * MON", ["2027-01-11T09:00:00+08:00", "2027-01-25T09:00:00+08:00"]),
    # both restricted: either (2027-01-01 is a Friday, the 4th a Monday)
    ("0 9 1 * MON", ["2027-01-01T09:00:00+08:00", "2027-01-04T09:00:00+08:00"]),
])
def test_cron_where_croniter_alone_would_differ(expression, expected):
    assert fires(expression, datetime(2026, 12, 31, 16, 0, tzinfo=UTC), 2, SH) == expected


@pytest.mark.parametrize("expression", [
    "0 9 1 1,4,7,10 *", "15 8 * * 1-5", "0 */6 * * *", "5,35 7-9 10-20 * *", "0 9 L 3,6,9,12 *",
    "0 9 15,L 1 *", "30 1 * * *", "0 3 * * *"])
def test_cron_agrees_with_croniter_where_croniter_is_right(expression):
    start = datetime(2027, 1, 1, tzinfo=UTC)
    ours, theirs = start, croniter(expression, start.astimezone(BERLIN))
    for _ in range(60):
        ours = Cron.parse(expression).next_after(ours, BERLIN)
        assert ours == theirs.get_next(datetime).astimezone(UTC), expression


@pytest.mark.parametrize("expression, words", [
    ("0 9 1 1,4,7,10 *", "每年1月、4月、7月、10月的1日 09:00"),
    ("0 9 L 3,6,9,12 *", "每年3月、6月、9月、12月的最后一天 09:00"),
    ("0 9 1 * *", "每月1日 09:00"),
    ("0 8 * * MON-FRI", "每周一至周五 08:00"),
    ("0 9 * * *", "每天 09:00"),
    ("0 9 20 12 *", "每年12月的20日 09:00"),
    ("0 */6 * * *", "每天 00:00、06:00、12:00、18:00"),
    ("0 9 1 * MON", "每月1日或周一 09:00"),
])
def test_cron_in_chinese_words(expression, words):
    assert describe_zh(expression) == words


# ---- one instant for timers and deadlines -------------------------------------------------------------

DEADLINE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_d" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_group" name="集团公司纪委">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>work</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>nag</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>nag_end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:userTask id="work" name="处理">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="dueIn" value="{due_in}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false">
      <bpmn:timerEventDefinition id="nag_def">
        <bpmn:{kind}>{timer}</bpmn:{kind}>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_nag" sourceRef="nag" targetRef="nag_end" />
    <bpmn:endEvent id="nag_end" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize("kind, timer_text", [("timeDuration", "{e}"), ("timeCycle", "R2/{e}")])
@pytest.mark.parametrize("expression, start", [
    ("PT24H", SPRING), ("P1D", SPRING), ("PT24H", FALL), ("P1D", FALL), ("P1M", datetime(2027, 1, 31, 8, tzinfo=UTC))])
def test_timer_and_due_in_give_the_same_instant(session, clock, settings, forms, kind, timer_text, expression, start):
    key = "deadline_" + kind.lower()
    xml = DEADLINE_XML.format(key=key, due_in=expression, kind=kind, timer=timer_text.format(e=expression))
    deploy_text(session, xml, forms, clock.now())
    rt = Runtime(session, clock, dataclasses.replace(settings, timezone="Europe/Berlin"), forms)
    clock.set(start)
    inst = rt.start(key, {}, principal(session, "group_secretary"))
    session.commit()
    task = session.scalars(select(HumanTask).where(HumanTask.instance_id == inst.id)).one()
    expected = add_duration(start, expression, BERLIN)
    assert task.due_at.astimezone(UTC) == expected
    assert inst.next_timer_at.astimezone(UTC) == expected
    if kind == "timeCycle":  # the second fire is start + 2 × period, on the same rule
        clock.set(expected)
        assert rt.fire_timers(inst.id) == 1
        session.commit()
        second = calendar.Duration.parse(expression).add_to(start, BERLIN, 2)
        assert inst.next_timer_at.astimezone(UTC) == second
