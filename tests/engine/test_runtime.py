"""The runtime without Flask: start, route, complete, fan out, incidents, timers, messages.

Every test round-trips every instance through the serializer after each step.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.errors import Conflict, Forbidden, Invalid, NotFound
from engine.models import EventLog, FanOut, HumanTask, ProcessInstance
from engine.org.routing import can_act_on
from tests.conftest import BPMN, deploy_file, principal, roundtrip_all


def open_tasks(session, **filters):
    q = select(HumanTask).where(HumanTask.status == "open")
    for k, v in filters.items():
        q = q.where(getattr(HumanTask, k) == v)
    return list(session.scalars(q.order_by(HumanTask.id)))


def events_of(session, instance_id):
    return [e.type for e in session.scalars(select(EventLog).where(EventLog.instance_id == instance_id)
                                            .order_by(EventLog.id))]


def test_three_tier_fan_out_end_to_end(session, rt, forms, clock):
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    secretary = principal(session, "group_secretary")
    inst = rt.start("three_tier", {"unit_id": "xinsheng"}, secretary)
    session.commit()
    assert roundtrip_all(session) == 1
    [group_task] = open_tasks(session)
    assert (group_task.tier, group_task.node_id, group_task.name) == ("group", "group", "集团下达")
    assert group_task.due_at == clock.now() + timedelta(days=10)

    rt.complete(group_task.id, {"comment": "下达"}, secretary)
    session.commit()
    roundtrip_all(session)
    [unit_task] = open_tasks(session)
    assert (unit_task.tier, unit_task.node_id) == ("unit", "xinsheng")
    # due by month end, local time (Asia/Shanghai): 2027-01-31 23:59:59+08:00
    assert unit_task.due_at.isoformat() == "2027-01-31T15:59:59+00:00"

    member = principal(session, "xinsheng_member")
    rt.complete(unit_task.id, {"comment": "落实"}, member)
    session.commit()
    assert roundtrip_all(session) == 4
    branch_tasks = open_tasks(session)
    assert sorted(t.node_id for t in branch_tasks) == ["xinsheng-jidian", "xinsheng-laogan", "xinsheng-wuye"]
    children = list(session.scalars(select(ProcessInstance).where(ProcessInstance.parent_id == inst.id)))
    assert {c.scope_node_id for c in children} == {t.node_id for t in branch_tasks}
    assert all(c.root_id == inst.id for c in children)
    # the parent stays small: one detached task, no per-branch tasks inside it
    assert session.get(FanOut, (inst.id, children[0].parent_task_guid)).pending == 3

    for t in branch_tasks:
        user = principal(session, t.node_id.replace("-", "_"))
        rt.complete(t.id, {"comment": f"{t.node_id} 已落实"}, user)
        session.commit()
        roundtrip_all(session)
    session.refresh(inst)
    assert inst.status == "completed"
    assert inst.data["reports"] == [f"{c.scope_node_id} 已落实" for c in sorted(children, key=lambda c: c.item_index)]
    assert session.scalar(select(func.count()).select_from(FanOut)) == 0
    assert events_of(session, inst.id)[-1] == "instance_completed"


def test_only_candidates_act_and_conflicts_are_409(session, rt, forms, clock):
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    rt.start("three_tier", {"unit_id": "xinsheng"}, principal(session, "group_secretary"))
    session.commit()
    [t] = open_tasks(session)
    assert can_act_on(principal(session, "group_deputy"), t)
    assert not can_act_on(principal(session, "xinsheng_secretary"), t)
    with pytest.raises(NotFound):
        rt.complete(t.id, {"comment": "x"}, principal(session, "xinsheng_secretary"))
    rt.claim(t.id, principal(session, "group_deputy"))
    session.commit()
    with pytest.raises(Conflict):
        rt.complete(t.id, {"comment": "x"}, principal(session, "group_secretary"))
    session.rollback()
    rt.complete(t.id, {"comment": "x"}, principal(session, "group_deputy"))
    session.commit()
    with pytest.raises(Conflict):
        rt.complete(t.id, {"comment": "again"}, principal(session, "group_deputy"))
    session.rollback()


def test_form_validation_changes_nothing(session, rt, forms, clock):
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    inst = rt.start("three_tier", {"unit_id": "xinsheng"}, principal(session, "group_secretary"))
    session.commit()
    version = inst.version
    [t] = open_tasks(session)
    with pytest.raises(Invalid) as err:
        rt.complete(t.id, {"comment": "", "approved": "yes"}, principal(session, "group_secretary"))
    session.rollback()
    fields = {d["field"] for d in err.value.details}
    assert fields == {"comment", "approved"}
    session.refresh(inst)
    session.refresh(t)
    assert (inst.version, t.status) == (version, "open")


def test_routing_needs_a_valid_org_node(session, rt, forms, clock):
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    with pytest.raises(Invalid):
        rt.start("three_tier", {"unit_id": "xinsheng-laogan"}, principal(session, "group_secretary"))
    session.rollback()
    with pytest.raises(Invalid):
        rt.start("three_tier", {"unit_id": "xuchang", "branch_id": "xinsheng-laogan"}, None)
    session.rollback()
    # no unit_id: the unit-lane task cannot be routed -> an incident, not an exception
    inst = rt.start("three_tier", {}, principal(session, "group_secretary"))
    session.commit()
    [t] = open_tasks(session)
    rt.complete(t.id, {"comment": "ok"}, principal(session, "group_secretary"))
    session.commit()
    session.refresh(inst)
    assert inst.status == "error"
    assert "unit_id" in inst.error_message
    assert open_tasks(session) == []
    admin = principal(session, "admin")
    rt.retry(inst.id, admin, {"unit_id": "daizhuang"})
    session.commit()
    session.refresh(inst)
    assert inst.status == "running"
    [t] = open_tasks(session)
    assert t.node_id == "daizhuang"
    roundtrip_all(session)


def test_script_failure_becomes_incident_and_retry_fixes_it(session, rt, forms, clock):
    deploy_file(session, BPMN / "incident.bpmn", forms, clock)
    inst = rt.start("incident_test", {"divisor": 0}, principal(session, "group_secretary"))
    session.commit()
    assert inst.status == "error"
    assert "ZeroDivisionError" in inst.error_message
    assert inst.error_task == "divide"
    assert "Traceback" in inst.error_traceback
    assert "incident" in events_of(session, inst.id)
    roundtrip_all(session)
    admin = principal(session, "admin")
    with pytest.raises(Conflict):
        rt.suspend(inst.id, admin) and rt.retry(inst.id, admin)
    session.rollback()
    rt.retry(inst.id, admin, {"divisor": 5})
    session.commit()
    session.refresh(inst)
    assert inst.status == "running" and inst.error_message is None
    [t] = open_tasks(session)
    assert t.spec_id == "review"
    assert inst.data["ratio"] == 2


def test_sandbox_violation_at_run_time_is_an_incident(session, rt, forms, clock, tmp_path):
    # A diagram that passes deploy checks but whose data makes the script loop forever.
    xml = (BPMN / "incident.bpmn").read_text().replace(
        "ratio = 10 / divisor", "n = 0\nwhile n &lt; divisor:\n    n = n + 0").replace("incident_test", "loop_test")
    path = tmp_path / "loop.bpmn"
    path.write_text(xml)
    deploy_file(session, path, forms, clock)
    inst = rt.start("loop_test", {"divisor": 1}, None)
    session.commit()
    assert inst.status == "error"
    assert "time bound" in inst.error_message


def test_suspend_resume_terminate(session, rt, forms, clock):
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    sec = principal(session, "group_secretary")
    admin = principal(session, "admin")
    inst = rt.start("three_tier", {"unit_id": "xinsheng"}, sec)
    session.commit()
    [t] = open_tasks(session)
    rt.suspend(inst.id, admin, "check")
    session.commit()
    with pytest.raises(Conflict):
        rt.complete(t.id, {"comment": "x"}, sec)
    session.rollback()
    rt.resume(inst.id, admin)
    rt.complete(t.id, {"comment": "x"}, sec)
    [u] = open_tasks(session)
    rt.complete(u.id, {"comment": "x"}, principal(session, "xinsheng_secretary"))
    session.commit()
    assert len(open_tasks(session)) == 3
    rt.terminate(inst.id, admin, "test over")
    session.commit()
    assert open_tasks(session) == []
    statuses = set(session.scalars(select(ProcessInstance.status)))
    assert statuses == {"terminated"}
    with pytest.raises(Forbidden):
        rt.assign(u.id, "xinsheng_member", sec)


def test_boundary_timer_escalates_once(session, rt, forms, clock):
    deploy_file(session, BPMN / "deadline.bpmn", forms, clock)
    inst = rt.start("deadline_test", {"unit_id": "xuchang"}, None)
    session.commit()
    [t] = open_tasks(session)
    assert inst.next_timer_at == clock.now() + timedelta(days=2)
    assert t.due_at == inst.next_timer_at
    clock.advance(days=1)
    assert rt.fire_timers(inst.id) == 0
    session.commit()
    assert [x.spec_id for x in open_tasks(session)] == ["report"]
    clock.advance(days=1, seconds=1)
    assert rt.fire_timers(inst.id) == 1
    session.commit()
    [esc] = open_tasks(session)
    assert (esc.spec_id, esc.tier, esc.node_id) == ("escalate", "group", "group")
    assert session.get(HumanTask, t.id).status == "cancelled"
    assert inst.next_timer_at is None
    assert rt.fire_timers(inst.id) == 0
    session.commit()
    assert events_of(session, inst.id).count("timer_fired") == 1
    roundtrip_all(session)


def test_message_end_event_starts_the_catching_process(session, rt, forms, clock):
    deploy_file(session, BPMN / "message.bpmn", forms, clock)
    commissioner = principal(session, "xinsheng_laogan")
    sender = rt.start("message_sender", {"branch_id": "xinsheng-laogan", "unit_id": "xinsheng",
                                         "facts": "虚报出勤"}, commissioner)
    session.commit()
    [t] = open_tasks(session)
    rt.complete(t.id, {}, commissioner)
    session.commit()
    session.refresh(sender)
    assert sender.status == "completed"
    receiver = session.scalars(select(ProcessInstance).where(ProcessInstance.process_key == "message_receiver")).one()
    assert receiver.data["facts"] == "虚报出勤"
    [handle] = open_tasks(session)
    assert (handle.tier, handle.node_id) == ("unit", "xinsheng")
    assert "message_delivered" in events_of(session, sender.id)
    roundtrip_all(session)


def test_unknown_ids(session, rt):
    admin = principal(session, "admin")
    with pytest.raises(NotFound):
        rt.start("nope", {}, admin)
    with pytest.raises(NotFound):
        rt.complete(999, {}, admin)
    with pytest.raises(NotFound):
        rt.suspend(999, admin)
