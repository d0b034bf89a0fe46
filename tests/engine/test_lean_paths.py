"""The completion path's shortcuts keep the behaviour they replace (docs/performance.md):
the task's visibility checked in Python equals the SQL clause the lists use; events buffered
during a unit of work are written in order, and those of a rolled-back step are dropped;
Core writes of task and instance rows leave the loaded objects equal to the database."""
from __future__ import annotations

from sqlalchemy import select

from engine.infra import events
from engine.models import EventLog, HumanTask, ProcessInstance, User
from engine.org.nodes import load_principal
from engine.org.routing import task_visible, task_visible_clause
from tests.conftest import BPMN, deploy_file, principal, roundtrip_all
from tests.engine.test_runtime import events_of

PARALLEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_lean" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="lean_parallel" name="并行测试" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_group" name="集团公司纪委">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>a</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>split</bpmn:flowNodeRef><bpmn:flowNodeRef>b</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>join</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="L_unit" name="权属单位纪委"><bpmn:flowNodeRef>c</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a" />
    <bpmn:userTask id="a" name="集团下达" />
    <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="split" />
    <bpmn:parallelGateway id="split" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="b" />
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="c" />
    <bpmn:userTask id="b" name="集团复核" />
    <bpmn:userTask id="c" name="单位落实" />
    <bpmn:sequenceFlow id="f5" sourceRef="b" targetRef="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="c" targetRef="join" />
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f7" sourceRef="join" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_task_visible_matches_the_sql_clause_for_every_user_and_task(session, rt, forms, clock):
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    secretary = principal(session, "group_secretary")
    rt.start("three_tier", {"unit_id": "xinsheng"}, secretary)
    rt.start("three_tier", {"unit_id": "xuchang"}, secretary)
    session.commit()
    group_tasks = list(session.scalars(select(HumanTask).where(HumanTask.status == "open")))
    rt.complete(group_tasks[0].id, {"comment": "下达"}, secretary)  # a completed one, and a unit task
    session.commit()
    [unit_task] = session.scalars(select(HumanTask).where(HumanTask.tier == "unit", HumanTask.status == "open"))
    rt.complete(unit_task.id, {"comment": "落实"}, principal(session, "xinsheng_member"))  # branch tasks
    session.commit()
    [branch_task, *_] = session.scalars(select(HumanTask).where(HumanTask.tier == "branch"))
    rt.claim(branch_task.id, principal(session, branch_task.node_id.replace("-", "_")))  # a claimed one
    session.commit()

    tasks = list(session.scalars(select(HumanTask)))
    assert {t.tier for t in tasks} == {"group", "unit", "branch"}
    assert {t.status for t in tasks} == {"open", "completed"}
    users = list(session.scalars(select(User)))
    compared = 0
    for user in users:
        p = load_principal(session, user)
        by_sql = set(session.scalars(select(HumanTask.id).where(task_visible_clause(p))))
        for t in tasks:
            assert task_visible(p, t) == (t.id in by_sql), (user.username, t.id, t.tier, t.node_id)
            compared += 1
    assert compared == len(tasks) * len(users) > 0


def test_buffered_events_are_written_in_order_and_dropped_with_a_failed_step(session, rt, forms, clock,
                                                                               monkeypatch):
    from engine.core import repository

    repository.deploy(session, PARALLEL.encode(), "lean_parallel.bpmn", "owner", clock.now(), forms, 1 << 20)
    session.commit()
    secretary = principal(session, "group_secretary")
    inst = rt.start("lean_parallel", {}, secretary)  # no unit_id: task c cannot be routed
    session.commit()
    [a] = session.scalars(select(HumanTask).where(HumanTask.instance_id == inst.id))

    discarded: list[int] = []
    real_discard = events.discard_after

    def spy(s, position):
        discarded.append(len(s.info[events._BUFFER]) - position)
        real_discard(s, position)

    monkeypatch.setattr(events, "discard_after", spy)
    rt.complete(a.id, {}, secretary)
    session.commit()

    assert discarded == [1]  # b's task_created was buffered, then c failed to route
    session.expire_all()
    inst = session.get(ProcessInstance, inst.id)
    assert inst.status == "error" and "unit_id" in inst.error_message
    # b's row was inserted inside the failed step: rolled back with it
    rows = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == inst.id)))
    assert [(r.spec_id, r.status) for r in rows] == [("a", "completed")]
    assert events_of(session, inst.id) == ["instance_started", "task_created", "task_completed", "incident"]
    roundtrip_all(session)


def test_loaded_objects_equal_the_rows_after_a_completion(session, rt, forms, clock, sessions):
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    secretary = principal(session, "group_secretary")
    inst = rt.start("three_tier", {"unit_id": "xinsheng"}, secretary)
    session.commit()
    [t] = session.scalars(select(HumanTask).where(HumanTask.status == "open"))
    done = rt.complete(t.id, {"comment": "下达"}, secretary)
    version_in_memory = (inst.version, inst.updated_at, inst.state, done.status, done.completed_by_id, done.data)
    session.commit()
    with sessions() as other:
        row = other.get(ProcessInstance, inst.id)
        task_row = other.get(HumanTask, t.id)
        assert (row.version, row.updated_at, row.state, task_row.status, task_row.completed_by_id,
                task_row.data) == version_in_memory
    assert done.status == "completed" and done.data == {"comment": "下达"}
    assert events_of(session, inst.id) == ["instance_started", "task_created", "task_completed", "task_created"]


def test_log_lines_of_buffered_events_carry_their_own_rows_ids(session, rt, forms, clock, caplog):
    import logging

    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    secretary = principal(session, "group_secretary")
    with caplog.at_level(logging.INFO, logger="sanji.events"):
        inst = rt.start("three_tier", {"unit_id": "xinsheng"}, secretary)
        session.commit()
        [t] = session.scalars(select(HumanTask).where(HumanTask.status == "open"))
        rt.complete(t.id, {"comment": "下达"}, secretary)
        session.commit()
    lines = [r for r in caplog.records if r.name == "sanji.events"]
    rows = {e.id: e for e in session.scalars(select(EventLog).where(EventLog.instance_id == inst.id))}
    assert [r.event for r in lines] == ["instance_started", "task_created", "task_completed", "task_created"]
    for r in lines:
        assert rows[r.event_id].type == r.event and rows[r.event_id].task_id == r.task_id
    assert sorted(r.event_id for r in lines) == [r.event_id for r in lines] == sorted(rows)
