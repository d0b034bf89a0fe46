"""A suspended or terminated instance is never advanced by timers, messages or finishing
children; resuming a suspended one catches up."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.errors import Conflict
from engine.models import EventLog, HumanTask, ProcessInstance
from tests.conftest import BPMN, deploy_file, principal


def snapshot(session, inst_id):
    session.expire_all()
    inst = session.get(ProcessInstance, inst_id)
    events = session.scalar(select(func.count()).select_from(EventLog).where(EventLog.instance_id == inst_id))
    tasks = sorted((t.spec_id, t.status) for t in session.scalars(select(HumanTask).where(
        HumanTask.instance_id == inst_id)))
    return inst.status, inst.version, bytes(inst.state), events, tasks


@pytest.mark.parametrize("stop", ["suspend", "terminate"])
def test_due_timers_do_not_advance_a_stopped_instance(session, rt, forms, clock, stop):
    deploy_file(session, BPMN / "deadline.bpmn", forms, clock)
    admin = principal(session, "admin")
    inst = rt.start("deadline_test", {"unit_id": "xuchang"}, None)
    session.commit()
    getattr(rt, stop)(inst.id, admin, "fault test")
    session.commit()
    before = snapshot(session, inst.id)
    clock.advance(days=3)  # the 2-day boundary timer is long overdue
    for _ in range(3):
        assert rt.fire_timers(inst.id, "scheduler") == 0
        session.commit()
    assert snapshot(session, inst.id) == before
    assert session.scalar(select(func.count()).select_from(EventLog).where(EventLog.type == "timer_fired")) == 0
    if stop == "suspend":  # resuming catches up: the overdue timer fires once
        rt.resume(inst.id, admin, "go on")
        session.commit()
        session.expire_all()
        assert [t.spec_id for t in session.scalars(select(HumanTask).where(HumanTask.status == "open"))] == ["escalate"]
        assert rt.fire_timers(inst.id) == 0


@pytest.mark.parametrize("stop", ["suspend", "terminate"])
def test_messages_do_not_advance_a_stopped_instance(session, rt, forms, clock, stop):
    deploy_file(session, BPMN / "ops_wait_message.bpmn", forms, clock)
    admin = principal(session, "admin")
    waiting = rt.start("ops_wait_message", {}, None)
    session.commit()
    assert snapshot(session, waiting.id)[4] == []  # waiting on the message, no task yet
    getattr(rt, stop)(waiting.id, admin, "fault test")
    session.commit()
    before = snapshot(session, waiting.id)
    started = rt.send_message("ops_ping", {"note": "ping"}, principal(session, "group_secretary"))
    session.commit()
    clock.advance(hours=1)
    rt.fire_timers(waiting.id)
    session.commit()
    assert [i.process_key for i in started] == ["ops_ping_receiver"]
    assert snapshot(session, waiting.id) == before


def test_children_finishing_do_not_advance_a_suspended_parent(session, rt, forms, clock):
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    sec, admin = principal(session, "group_secretary"), principal(session, "admin")
    parent = rt.start("three_tier", {"unit_id": "xinsheng"}, sec)
    session.commit()
    for user in ("group_secretary", "xinsheng_secretary"):
        [t] = session.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
        rt.complete(t.id, {"comment": "ok"}, principal(session, user))
        session.commit()
    rt.suspend(parent.id, admin, "hold")
    session.commit()
    before = snapshot(session, parent.id)
    for t in session.scalars(select(HumanTask).where(HumanTask.status == "open")).all():
        rt.complete(t.id, {"comment": "done"}, principal(session, t.node_id.replace("-", "_")))
        session.commit()
    children = session.scalars(select(ProcessInstance.status).where(ProcessInstance.parent_id == parent.id)).all()
    assert sorted(children) == ["completed"] * 3
    assert snapshot(session, parent.id) == before  # still suspended, not completed
    clock.advance(days=40)
    assert rt.fire_timers(parent.id) == 0
    rt.resume(parent.id, admin, "release")
    session.commit()
    session.expire_all()
    assert session.get(ProcessInstance, parent.id).status == "completed"


def test_a_terminated_tree_takes_no_completion(session, rt, forms, clock):
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    sec, admin = principal(session, "group_secretary"), principal(session, "admin")
    parent = rt.start("three_tier", {"unit_id": "xinsheng"}, sec)
    session.commit()
    for user in ("group_secretary", "xinsheng_secretary"):
        [t] = session.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
        rt.complete(t.id, {"comment": "ok"}, principal(session, user))
        session.commit()
    branch_tasks = session.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
    rt.terminate(parent.id, admin, "stop all")
    session.commit()
    for t in branch_tasks:
        with pytest.raises(Conflict):
            rt.complete(t.id, {"comment": "late"}, principal(session, t.node_id.replace("-", "_")))
        session.rollback()
    statuses = set(session.scalars(select(ProcessInstance.status)))
    assert statuses == {"terminated"}
    assert session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.status == "open")) == 0
