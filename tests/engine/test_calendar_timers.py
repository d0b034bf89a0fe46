"""Timer expressions (engine/core/calendar/timers.py): calendar-true fire times, cron with L, and clear refusals at deploy."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from engine.errors import Invalid
from engine.core.calendar import Timer, make_timer, validate_timer
from tests.conftest import principal, roundtrip_all
from tests.timer_bpmn import deploy_text, timer_process

SH = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
ANCHOR = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # the deployment, 2026-12-01 10:00 Shanghai


def fires(expression: str, n: int, kind: str = "timeCycle", zone: ZoneInfo = SH, anchor: datetime = ANCHOR) -> list[str]:
    timer = make_timer(kind, expression, zone, anchor)
    return [t.astimezone(zone).isoformat() for t in timer.upcoming(timer.first_due(), n)]


def test_quarterly_schedule_next_8_fires_are_the_first_of_jan_apr_jul_oct_for_two_years():
    assert fires("0 9 1 1,4,7,10 *", 8) == [
        "2027-01-01T09:00:00+08:00", "2027-04-01T09:00:00+08:00", "2027-07-01T09:00:00+08:00",
        "2027-10-01T09:00:00+08:00", "2028-01-01T09:00:00+08:00", "2028-04-01T09:00:00+08:00",
        "2028-07-01T09:00:00+08:00", "2028-10-01T09:00:00+08:00"]
    # month names mean the same
    assert fires("0 9 1 JAN,APR,JUL,OCT *", 8) == fires("0 9 1 1,4,7,10 *", 8)
    # and the ISO form of the same cadence is calendar-true too (P3M, never 90 days)
    assert fires("R/2027-01-01T09:00:00+08:00/P3M", 8) == fires("0 9 1 1,4,7,10 *", 8)


def test_monthly_iso_cycle_from_jan_31_is_the_last_day_of_each_short_month():
    assert fires("R/2027-01-31T09:00:00+08:00/P1M", 14) == [
        "2027-01-31T09:00:00+08:00", "2027-02-28T09:00:00+08:00", "2027-03-31T09:00:00+08:00",
        "2027-04-30T09:00:00+08:00", "2027-05-31T09:00:00+08:00", "2027-06-30T09:00:00+08:00",
        "2027-07-31T09:00:00+08:00", "2027-08-31T09:00:00+08:00", "2027-09-30T09:00:00+08:00",
        "2027-10-31T09:00:00+08:00", "2027-11-30T09:00:00+08:00", "2027-12-31T09:00:00+08:00",
        "2028-01-31T09:00:00+08:00", "2028-02-29T09:00:00+08:00"]
    timer = make_timer("timeCycle", "R/2027-01-31T09:00:00+08:00/P1M", SH, ANCHOR)
    after_jan = timer.next_after(datetime(2027, 1, 31, 1, 0, tzinfo=UTC))
    assert after_jan.astimezone(SH).isoformat() == "2027-02-28T09:00:00+08:00"
    # the 3rd fire is start + 3 months, not Feb 28 + 1 month + 1 month (which would be Apr 28)
    assert timer.next_after(datetime(2027, 3, 31, 1, 0, tzinfo=UTC)).astimezone(SH).day == 30


def test_quarter_end_cycle_does_not_drift():
    assert fires("R/2027-03-31T09:00:00+08:00/P3M", 5) == [
        "2027-03-31T09:00:00+08:00", "2027-06-30T09:00:00+08:00", "2027-09-30T09:00:00+08:00",
        "2027-12-31T09:00:00+08:00", "2028-03-31T09:00:00+08:00"]


def test_cycle_count_and_period_only_form():
    assert fires("R3/2027-01-01T09:00:00+08:00/P1D", 10) == [
        "2027-01-01T09:00:00+08:00", "2027-01-02T09:00:00+08:00", "2027-01-03T09:00:00+08:00"]
    # R[n]/period counts from the anchor (the deployment for a start event)
    assert fires("R2/P1M", 10, anchor=datetime(2027, 1, 31, 1, 0, tzinfo=UTC)) == [
        "2027-02-28T09:00:00+08:00", "2027-03-31T09:00:00+08:00"]
    timer = make_timer("timeCycle", "R3/2027-01-01T09:00:00+08:00/P1D", SH, ANCHOR)
    assert timer.remaining_after(datetime(2027, 1, 1, 1, 30, tzinfo=UTC)) == 2
    assert timer.next_after(datetime(2027, 1, 3, 1, 0, tzinfo=UTC)) is None
    # a cycle whose start passed fires next at its first occurrence after the deployment
    late_deploy = datetime(2027, 5, 15, tzinfo=UTC)
    assert fires("R/2027-01-31T09:00:00+08:00/P1M", 2, anchor=late_deploy) == [
        "2027-05-31T09:00:00+08:00", "2027-06-30T09:00:00+08:00"]


def test_one_off_timers():
    # timeDate without an offset is local time in the organisation's zone
    assert fires("2027-01-01T09:00", 3, kind="timeDate") == ["2027-01-01T09:00:00+08:00"]
    assert fires("2027-01-01T09:00:00Z", 3, kind="timeDate") == ["2027-01-01T17:00:00+08:00"]
    # timeDuration counts from the deployment, with calendar months
    assert fires("P1M", 3, kind="timeDuration", anchor=datetime(2027, 1, 31, 1, 0, tzinfo=UTC)) == [
        "2027-02-28T09:00:00+08:00"]
    assert fires("PT36H", 3, kind="timeDuration") == ["2026-12-02T22:00:00+08:00"]


@pytest.mark.parametrize("expression, expected", [
    # L = last day of the month, in its month list: the quarter-end reports
    ("0 9 L 3,6,9,12 *", ["2026-12-31T09:00:00+08:00", "2027-03-31T09:00:00+08:00", "2027-06-30T09:00:00+08:00",
                          "2027-09-30T09:00:00+08:00", "2027-12-31T09:00:00+08:00"]),
    # L in February: 28 or 29
    ("30 17 L 2 *", ["2027-02-28T17:30:00+08:00", "2028-02-29T17:30:00+08:00", "2029-02-28T17:30:00+08:00"]),
    # L with a plain day in the same list
    ("0 9 15,L 1 *", ["2027-01-15T09:00:00+08:00", "2027-01-31T09:00:00+08:00", "2028-01-15T09:00:00+08:00"]),
    # yearly: 20 December (year-end assessment)
    ("0 9 20 12 *", ["2026-12-20T09:00:00+08:00", "2027-12-20T09:00:00+08:00", "2028-12-20T09:00:00+08:00"]),
    # monthly on the 1st
    ("0 9 1 * *", ["2027-01-01T09:00:00+08:00", "2027-02-01T09:00:00+08:00", "2027-03-01T09:00:00+08:00"]),
    # Feb 29 only in leap years
    ("0 0 29 2 *", ["2028-02-29T00:00:00+08:00", "2032-02-29T00:00:00+08:00"]),
    # both day fields restricted: either matches (Vixie cron); 2026-12-07 is a Monday
    ("0 9 1 * MON", ["2026-12-07T09:00:00+08:00", "2026-12-14T09:00:00+08:00", "2026-12-21T09:00:00+08:00",
                     "2026-12-28T09:00:00+08:00", "2027-01-01T09:00:00+08:00", "2027-01-04T09:00:00+08:00"]),
    # a star-prefixed day field makes the other one decide alone; 7 is Sunday like 0
    ("0 9 * * 7", ["2026-12-06T09:00:00+08:00", "2026-12-13T09:00:00+08:00"]),
    # steps and ranges
    ("*/20 9-10 1 1 *", ["2027-01-01T09:00:00+08:00", "2027-01-01T09:20:00+08:00", "2027-01-01T09:40:00+08:00",
                         "2027-01-01T10:00:00+08:00", "2027-01-01T10:20:00+08:00", "2027-01-01T10:40:00+08:00",
                         "2028-01-01T09:00:00+08:00"]),
    # weekdays by range of names
    ("0 8 * * MON-FRI", ["2026-12-01T08:00:00+08:00", "2026-12-02T08:00:00+08:00", "2026-12-03T08:00:00+08:00",
                         "2026-12-04T08:00:00+08:00", "2026-12-07T08:00:00+08:00"]),
])
def test_cron_edge_cases(expression, expected):
    # the deployment is 2026-12-01 10:00, so an 08:00 fire that day is already past
    anchor = ANCHOR if not expression.startswith("0 8") else datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert fires(expression, len(expected), anchor=anchor) == expected


@pytest.mark.parametrize("expression", [
    "0 9 1 1,4,7,10 *", "0 9 1 * *", "0 9 20 12 *", "15 8 * * 1-5", "0 */6 * * *", "5,35 7-9 10-20 * *",
    "0 9 1 * 1", "0 9 13 * FRI", "0 0 1 2-11/3 *", "0 12 * * SUN"])
def test_cron_agrees_with_croniter(expression):
    start = datetime(2026, 12, 1, 10, 0, tzinfo=SH)
    ours = make_timer("timeCycle", expression, SH, start.astimezone(UTC))
    theirs = croniter(expression, start)
    t = start.astimezone(UTC)
    for _ in range(40):
        t = ours.next_after(t)
        assert t == theirs.get_next(datetime).astimezone(UTC), expression


def test_latest_fire_at_or_before_coalesces_missed_fires():
    timer = make_timer("timeCycle", "0 9 1 * *", SH, ANCHOR)
    now = datetime(2027, 4, 5, 15, 59, tzinfo=UTC)  # 2027-04-05 23:59 Shanghai
    assert timer.last_at_or_before(now).astimezone(SH).isoformat() == "2027-04-01T09:00:00+08:00"
    cycle = make_timer("timeCycle", "R/2027-01-31T09:00:00+08:00/P1M", SH, ANCHOR)
    assert cycle.last_at_or_before(now).astimezone(SH).isoformat() == "2027-03-31T09:00:00+08:00"
    assert cycle.last_at_or_before(datetime(2027, 1, 30, tzinfo=UTC)) is None


def test_cron_is_evaluated_on_the_configured_zones_wall_clock():
    berlin = ZoneInfo("Europe/Berlin")
    got = fires("0 9 * * *", 3, zone=berlin, anchor=datetime(2027, 3, 27, 12, 0, tzinfo=UTC))
    # 2027-03-28 is the spring-forward day: 09:00 stays 09:00 local, the offset changes
    assert got == ["2027-03-28T09:00:00+02:00", "2027-03-29T09:00:00+02:00", "2027-03-30T09:00:00+02:00"]
    shanghai = make_timer("timeCycle", "0 9 1 1 *", SH, ANCHOR).first_due()
    assert shanghai == datetime(2027, 1, 1, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind, expression, message", [
    ("timeCycle", "0 9 31 2 *", "never fires"),
    ("timeCycle", "0 9 30 2 *", "never fires"),
    ("timeCycle", "0 9 32 * *", "day-of-month field '32': 32 is outside 1-31"),
    ("timeCycle", "60 9 1 * *", "minute field '60': 60 is outside 0-59"),
    ("timeCycle", "0 24 1 * *", "hour field '24': 24 is outside 0-23"),
    ("timeCycle", "0 9 1 13 *", "month field '13': 13 is outside 1-12"),
    ("timeCycle", "0 9 1 * 8", "day-of-week field '8': 8 is outside 0-7"),
    ("timeCycle", "0 9 LW * *", "Quartz syntax"),
    ("timeCycle", "0 9 15W * *", "Quartz syntax"),
    ("timeCycle", "0 9 ? * MON", "Quartz syntax"),
    ("timeCycle", "0 9 * * MON#2", "Quartz syntax"),
    ("timeCycle", "0 9 * * 5L", "L (last day of the month) is supported only in the day-of-month field"),
    ("timeCycle", "0 9 L-3 * *", "only a plain L"),
    ("timeCycle", "0 0 9 1 * ?", "6 fields; write 5"),
    ("timeCycle", "0 9 10-1 * *", "runs backwards"),
    ("timeCycle", "0 9 */0 * *", "step '0' must be a positive number"),
    ("timeCycle", "0 9 1 FOO *", "'FOO' is not a number or a name"),
    ("timeCycle", "R0/P1D", "R0 never fires"),
    ("timeCycle", "R/P1M/2027-12-31", "R[n]/period/end is not supported"),
    ("timeCycle", "R/2027-01-01T09:00/P0D", "the period must be longer than zero"),
    ("timeCycle", "R/2027-13-01/P1M", "is not an ISO 8601 date-time"),
    ("timeCycle", "R/2027-01-01/1M", "is not an ISO 8601 duration"),
    ("timeDate", "2027-02-30T09:00", "is not an ISO 8601 date-time"),
    ("timeDuration", "P1M2X", "must be a literal value"),
])
def test_invalid_expressions_are_refused_with_a_clear_message(kind, expression, message):
    problems = validate_timer(kind, expression, start_event=True)
    assert problems and message in problems[0], problems


def test_start_timers_must_be_literal_but_quoted_strings_count():
    assert validate_timer("timeCycle", '"0 9 1 * *"', start_event=True) == []
    problems = validate_timer("timeDate", "month_end()", start_event=True)
    assert "must be a literal value" in problems[0]
    # inside an instance an expression on the process data is fine
    assert validate_timer("timeDate", "month_end()") == []


def test_deploy_refuses_a_bad_cadence_naming_the_start_event(session, forms, clock):
    with pytest.raises(Invalid) as err:
        deploy_text(session, timer_process("bad_cadence", "0 9 L * 5L"), forms, clock.now())
    session.rollback()
    assert "timer_start" in err.value.message
    assert "L (last day of the month) is supported only in the day-of-month field" in err.value.message
    assert err.value.details[0]["element_id"] == "timer_start" and err.value.details[0]["line"]
    with pytest.raises(Invalid) as err:
        deploy_text(session, timer_process("bad_cadence", "0 9 31 2 *"), forms, clock.now())
    session.rollback()
    assert "never fires" in err.value.message


REMINDER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_r" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="reminder_cycle" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_group" name="集团公司纪委">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>work</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:userTask id="work" name="处理" />
    <bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false">
      <bpmn:timerEventDefinition id="nag_def">
        <bpmn:timeCycle>R/2027-01-31T09:00:00+08:00/P1M</bpmn:timeCycle>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_nag" sourceRef="nag" targetRef="nag_end" />
    <bpmn:endEvent id="nag_end" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_reminder_cycle_inside_an_instance_is_calendar_true(session, rt, forms, clock):
    """A non-interrupting monthly reminder from Jan 31 fires Feb 28, Mar 31 (not Mar 28)."""
    xml = REMINDER
    deploy_text(session, xml, forms, clock.now())
    clock.set("2027-01-20T10:00:00+08:00")
    inst = rt.start("reminder_cycle", {}, principal(session, "group_secretary"))
    session.commit()
    seen = []
    for _ in range(3):
        due = inst.next_timer_at
        seen.append(due.astimezone(SH).isoformat())
        clock.set(due)
        assert rt.fire_timers(inst.id) == 1
        session.commit()
    assert seen == ["2027-01-31T09:00:00+08:00", "2027-02-28T09:00:00+08:00", "2027-03-31T09:00:00+08:00"]
    assert inst.next_timer_at.astimezone(SH).isoformat() == "2027-04-30T09:00:00+08:00"
    # after three months down, the missed reminders coalesce into one and the next is after now
    clock.set("2027-07-15T12:00:00+08:00")
    assert rt.fire_timers(inst.id) == 1
    session.commit()
    assert inst.next_timer_at.astimezone(SH).isoformat() == "2027-07-31T09:00:00+08:00"
    roundtrip_all(session)


def test_timer_values_are_pure_functions_of_their_inputs():
    a = Timer("timeCycle", "0 9 1 * *", SH, ANCHOR)
    b = Timer("timeCycle", "0 9 1 * *", SH, ANCHOR + timedelta(days=3))
    assert a.next_after(ANCHOR) == b.next_after(ANCHOR)
