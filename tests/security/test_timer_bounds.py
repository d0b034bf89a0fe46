"""Issue 13, item 9: timers fire at most every SANJI_TIMER_MIN_SECONDS and name dates in
2000-01-01 … 2100-12-31 — refused at deploy naming the element (never a 500), and a value
computed at run time that breaks them is an incident naming the element, rolled back."""
from __future__ import annotations

import pytest

from engine.core.calendar import Cron, validate_timer
from tests.security.bounds_bpmn import bounded_api, chain, deploy, start, written
from tests.timer_bpmn import timer_process


@pytest.fixture
def bounded(clean_db, settings, clock):
    return lambda **bounds: bounded_api(clean_db, settings, clock, **bounds)


@pytest.mark.parametrize("kind, expression, words", [
    ("timeCycle", "R/PT1S", "repeats every 1 s"),
    ("timeCycle", "R/2027-01-01T09:00:00/PT0.5S", "repeats every 0.5 s"),
    ("timeCycle", "* * * * *", "fires every 1 minute at the shortest"),
    ("timeCycle", "*/2 * * * *", "fires every 2 minutes at the shortest"),
    ("timeCycle", "0,1 9 * * *", "fires every 1 minute at the shortest"),
    ("timeCycle", "59 23 * * *", None),
    ("timeCycle", "0,59 0,23 * * *", "fires every 1 minute at the shortest"),  # 23:59 → 00:00 the next day
    ("timeDuration", "PT0.001S", "is 0.001 s"),
    ("timeDuration", "PT4M", "is 4 minutes"),
    ("timeDuration", "P200Y", "longer than 100 years"),
    ("timeDate", "0001-01-01T00:00:00", "outside 2000-01-01 … 2100-12-31"),
    ("timeDate", "9999-12-31T23:59:59", "outside 2000-01-01 … 2100-12-31"),
    ("timeDate", "1999-12-31", "outside 2000-01-01 … 2100-12-31"),
    ("timeCycle", "R/0001-01-01T00:00:00/P1D", "outside 2000-01-01 … 2100-12-31"),
    ("timeCycle", "*/5 * * * *", None),
    ("timeCycle", "R/PT5M", None),
    ("timeCycle", "R1/2027-01-01T09:00:00/PT1S", None),  # fires once: it has no period
    ("timeDuration", "PT5M", None),
    ("timeDate", "2100-12-31T23:00:00", None),
    ("timeDate", "2000-01-01", None),
])
def test_timer_bounds(kind, expression, words):
    problems = validate_timer(kind, expression, start_event=True, min_seconds=300)
    if words is None:
        assert problems == []
    else:
        assert len(problems) == 1 and words in problems[0], problems


def test_the_shortest_cron_gap_spans_midnight():
    assert Cron.parse("0 9 * * *").shortest_gap_seconds() == 86400
    assert Cron.parse("*/20 9-10 1 1 *").shortest_gap_seconds() == 1200
    assert Cron.parse("30 23 * * *").shortest_gap_seconds() == 86400
    assert Cron.parse("50 23 * * *").shortest_gap_seconds() == 86400
    assert Cron.parse("5 0,23 * * *").shortest_gap_seconds() == 3600


@pytest.mark.parametrize("expression, kind, words", [
    ("R/PT1S", "timeCycle", "SANJI_TIMER_MIN_SECONDS"),
    ("* * * * *", "timeCycle", "SANJI_TIMER_MIN_SECONDS"),
    ("0001-01-01T00:00:00", "timeDate", "outside 2000-01-01"),
    ("2101-01-01T00:00:00", "timeDate", "outside 2000-01-01"),
])
def test_start_timers_breaking_the_bounds_are_422_naming_the_start_event(bounded, sessions, expression, kind, words):
    api = bounded()
    r = deploy(api, timer_process("too_often", expression, kind=kind))
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert "timer_start" in body["message"] and words in body["message"], body
    assert body["details"][0]["element_id"] == "timer_start" and body["details"][0]["line"]
    assert written(sessions)["instances"] == 0
    assert api.get("/api/v1/schedules", "admin").get_json()["items"] == []


@pytest.mark.parametrize("deadline, words", [("PT0.001S", "is 0.001 s"), ("P200Y", "100 years")])
def test_boundary_timers_breaking_the_bounds_are_422_naming_the_boundary_event(bounded, deadline, words):
    r = deploy(bounded(), timer_process("late_reminder", None, deadline=deadline))
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["details"][0]["element_id"] == "late" and words in r.get_json()["message"]


def test_the_minimum_is_a_setting(bounded):
    api = bounded(timer_min_seconds=1)
    assert deploy(api, timer_process("every_minute", "* * * * *")).status_code == 201
    assert deploy(bounded(timer_min_seconds=120), timer_process("every_minute_2", "* * * * *")).status_code == 422


def reminder(expression: str, kind: str = "timeDuration") -> str:
    """A user task with an interrupting boundary timer whose value is computed from `value`."""
    task = ('<bpmn:userTask id="work"/><bpmn:boundaryEvent id="late" attachedToRef="work">'
            f'<bpmn:timerEventDefinition id="late_def"><bpmn:{kind}>{expression}</bpmn:{kind}>'
            '</bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:endEvent id="late_end"/>'
            '<bpmn:sequenceFlow id="f_late" sourceRef="late" targetRef="late_end"/>')
    return chain("computed_timer", ("work", task))


@pytest.mark.parametrize("kind, value, words", [
    ("timeDuration", "PT1S", "SANJI_TIMER_MIN_SECONDS"),
    ("timeCycle", "R/PT1S", "SANJI_TIMER_MIN_SECONDS"),
    ("timeDate", "0001-01-01T00:00:00", "outside 2000-01-01"),
])
def test_computed_timers_breaking_the_bounds_are_incidents_naming_the_element(bounded, sessions, kind, value, words):
    api = bounded()
    assert deploy(api, reminder("value", kind)).status_code == 201
    r = start(api, "computed_timer", {"value": value})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    assert inst["status"] == "error" and inst["incident"]["task"] == "late", inst
    assert "timer late" in inst["incident"]["message"] and words in inst["incident"]["message"]
    counts = written(sessions)
    assert (counts["tasks"], counts.get("task_created", 0), inst["next_timer_at"]) == (0, 0, None)
    ok = start(api, "computed_timer", {"value": {"timeDuration": "PT5M", "timeCycle": "R/PT5M",
                                                 "timeDate": "2027-02-01T09:00:00"}[kind]}).get_json()
    assert ok["status"] == "running" and ok["next_timer_at"] is not None
