"""A diagram that loops back through an exclusive gateway (a script increments a counter until
it reaches N) either completes with the right data or stops with an incident: never completed
with wrong data (issue 14: about 500 iterations once ended "completed" silently)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.core import repository, spiff_seam
from engine.models import EventLog
from tests.conftest import principal, roundtrip_all

LOOP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_loop"
    targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="counter_loop" name="循环计数" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_group" name="集团公司纪委">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>init</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>step</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>more</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="init" />
    <bpmn:scriptTask id="init" name="开始"><bpmn:script>counter = 0</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="init" targetRef="step" />
    <bpmn:scriptTask id="step" name="计数"><bpmn:script>counter = counter + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="step" targetRef="more" />
    <bpmn:exclusiveGateway id="more" name="够了吗" default="back" />
    <bpmn:sequenceFlow id="back" sourceRef="more" targetRef="step" />
    <bpmn:sequenceFlow id="done" sourceRef="more" targetRef="end">
      <bpmn:conditionExpression>counter &gt;= limit</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def deploy_loop(session, forms, clock):
    repository.deploy(session, LOOP.encode(), "counter_loop.bpmn", "owner", clock.now(), forms, 5 * 1024 * 1024)
    session.commit()


def test_a_short_loop_completes_with_the_counter_at_its_limit(session, rt, forms, clock):
    deploy_loop(session, forms, clock)
    inst = rt.start("counter_loop", {"limit": 50}, principal(session, "group_secretary"))
    session.commit()
    session.refresh(inst)
    assert (inst.status, inst.error_message) == ("completed", None)
    assert inst.data["counter"] == 50


@pytest.mark.slow
def test_a_long_loop_completes_with_the_counter_at_its_limit(session, rt, forms, clock):
    """600 rounds: 1,200 tasks deep, beyond SpiffWorkflow's default iterator depth of 1,000
    (at which round 499's next task was invisible and the workflow called itself completed)."""
    deploy_loop(session, forms, clock)
    inst = rt.start("counter_loop", {"limit": 600}, principal(session, "group_secretary"))
    session.commit()
    session.refresh(inst)
    assert (inst.status, inst.error_message) == ("completed", None)
    assert inst.data["counter"] == 600
    assert roundtrip_all(session) == 1


def test_a_loop_deeper_than_the_engine_follows_is_an_incident_not_a_completion(session, rt, forms, clock):
    deploy_loop(session, forms, clock)
    spiff_seam.set_iterator_depth(300)
    try:
        inst = rt.start("counter_loop", {"limit": 600}, principal(session, "group_secretary"))
        session.commit()
    finally:
        spiff_seam.set_iterator_depth(spiff_seam.TASK_TREE_DEPTH)
    session.refresh(inst)
    assert inst.status == "error"
    assert inst.error_message == ("BoundExceeded: the process's task tree is 304 tasks deep at element more, "
                                  "the most the engine follows is 298: a loop ran too many times in one instance")
    assert inst.error_task == "more"
    assert inst.data == {"limit": 600}  # rolled back to the start: nothing of the failing steps kept
    assert session.scalar(select(func.count()).select_from(EventLog).where(
        EventLog.instance_id == inst.id, EventLog.type == "instance_completed")) == 0
