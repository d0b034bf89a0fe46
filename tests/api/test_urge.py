"""催办 (urge): the engine operation, who may urge, and POST /api/v1/tasks/{id}/urge."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.errors import Conflict, Forbidden, NotFound
from engine.models import EventLog, HumanTask, OrgNode
from engine.org.routing import may_urge, urgeable_clause
from tests.conftest import BPMN, deploy_file, principal


@pytest.fixture
def report_task(api):
    assert api.deploy(BPMN / "web_report.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/web_report/start", "xinsheng_laogan", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["open_tasks"][0]


def test_urge_by_the_unit_committee_is_logged_and_limited_to_once_an_hour(api, report_task, clock, sessions):
    tid = report_task["id"]
    r = api.post(f"/api/v1/tasks/{tid}/urge", "xinsheng_secretary", json={"message": "请尽快报送"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["id"] == tid
    r = api.post(f"/api/v1/tasks/{tid}/urge", "xinsheng_secretary", json={})
    assert r.status_code == 409 and int(r.headers["Retry-After"]) == 3600
    assert api.post(f"/api/v1/tasks/{tid}/urge", "group_secretary").status_code == 200  # the group may too
    clock.advance(timedelta(minutes=61))
    api.tokens.clear()
    assert api.post(f"/api/v1/tasks/{tid}/urge", "xinsheng_secretary").status_code == 200
    with sessions() as s:
        events = list(s.scalars(select(EventLog).where(EventLog.type == "task_urged").order_by(EventLog.id)))
    assert [(e.actor, e.task_id, e.payload["to"]) for e in events] == [
        ("xinsheng_secretary", tid, ["xinsheng_laogan"]), ("group_secretary", tid, ["xinsheng_laogan"]),
        ("xinsheng_secretary", tid, ["xinsheng_laogan"])]
    assert events[0].payload["message"] == "请尽快报送" and events[0].instance_id == report_task["instance_id"]
    history = api.get(f"/api/v1/process-instances/{report_task['instance_id']}/history", "xinsheng_secretary")
    assert "task_urged" in [e["type"] for e in history.get_json()["items"]]


def test_who_may_not_urge(api, report_task):
    tid = report_task["id"]
    # the assignee's own tier sees the task but may not urge it; other units do not see it at all
    r = api.post(f"/api/v1/tasks/{tid}/urge", "xinsheng_laogan")
    assert r.status_code == 403
    assert api.post(f"/api/v1/tasks/{tid}/urge", "xuchang_secretary").status_code == 404
    assert api.post(f"/api/v1/tasks/{tid}/urge", "xinsheng_dept").status_code == 404
    assert api.post("/api/v1/tasks/999999/urge", "admin").status_code == 404
    r = api.post(f"/api/v1/tasks/{tid}/urge", "xinsheng_secretary", json={"message": "x" * 501})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "message"
    r = api.post(f"/api/v1/tasks/{tid}/urge", "xinsheng_secretary", json={"message": 5})
    assert r.status_code == 422
    assert api.post(f"/api/v1/tasks/{tid}/urge").status_code == 401


def test_a_closed_task_cannot_be_urged(api, report_task):
    tid = report_task["id"]
    data = {"report_date": "2027-01-05", "summary": "本月情况正常",
            "findings": [{"kind": "fix_now", "description": "台账不全"}]}
    assert api.post(f"/api/v1/tasks/{tid}/complete", "xinsheng_laogan", json={"data": data}).status_code == 200
    assert api.post(f"/api/v1/tasks/{tid}/urge", "xinsheng_secretary").status_code == 409


def test_may_urge_follows_the_tiers(session, rt, forms, clock):
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    rt.start("three_tier", {"unit_id": "xinsheng"}, principal(session, "group_secretary"))
    session.commit()
    group_task = session.scalars(select(HumanTask).where(HumanTask.status == "open")).one()
    group = session.get(OrgNode, "group")
    # a group task: the group's secretary and deputy (who lead the leading group) and admins
    assert may_urge(principal(session, "group_secretary"), group_task, group)
    assert may_urge(principal(session, "group_deputy"), group_task, group)
    assert not may_urge(principal(session, "group_member"), group_task, group)
    assert not may_urge(principal(session, "xinsheng_secretary"), group_task, group)
    assert may_urge(principal(session, "admin"), group_task, group)
    rt.complete(group_task.id, {"comment": "下达"}, principal(session, "group_secretary"))
    session.commit()
    unit_task = session.scalars(select(HumanTask).where(HumanTask.status == "open")).one()
    unit = session.get(OrgNode, "xinsheng")
    assert may_urge(principal(session, "group_member"), unit_task, unit)  # the tier above
    assert not may_urge(principal(session, "xinsheng_secretary"), unit_task, unit)  # its own tier
    # the SQL twin lists the same tasks
    for username, expected in (("group_member", [unit_task.id]), ("xinsheng_secretary", []),
                               ("xuchang_secretary", []), ("admin", [unit_task.id])):
        ids = session.scalars(select(HumanTask.id).where(HumanTask.status == "open",
                                                          urgeable_clause(principal(session, username)))).all()
        assert list(ids) == expected, username
    with pytest.raises(Forbidden):
        rt.urge(unit_task.id, principal(session, "xinsheng_member"))
    with pytest.raises(NotFound):
        rt.urge(unit_task.id, principal(session, "xuchang_member"))
    rt.urge(unit_task.id, principal(session, "group_standing"), "请按期落实")
    with pytest.raises(Conflict):
        rt.urge(unit_task.id, principal(session, "group_standing"))
    session.commit()
