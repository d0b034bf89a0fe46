"""A completion runs its engine steps without a savepoint first (engine/services/tasks.py `act`);
when they fail, it is rolled back and run again with the savepoint: the same outcome, row for row,
as the completion with the savepoint from the start (the incident, the completed task, the events)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from engine.core import repository
from engine.models import EventLog, HumanTask, ProcessInstance
from engine.services import tasks as tasks_service
from engine.services.tasks import TaskCommand
from tests.conftest import principal

XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_opt" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="optimistic_test" name="乐观提交测试" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_group" name="集团公司纪委">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>fill</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>divide</bpmn:flowNodeRef><bpmn:flowNodeRef>review</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill" />
    <bpmn:userTask id="fill" name="填写" />
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="divide" />
    <bpmn:scriptTask id="divide" name="计算"><bpmn:script>ratio = 10 / divisor</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="divide" targetRef="review" />
    <bpmn:userTask id="review" name="审阅" />
    <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _outcome(session: Any, inst_id: int, task_id: int) -> dict[str, Any]:
    session.expire_all()
    inst = session.get(ProcessInstance, inst_id)
    task = session.get(HumanTask, task_id)
    return {
        "instance": (inst.status, inst.error_task, (inst.error_message or "").split(":")[0], inst.version),
        "task": (task.status, task.data, task.completed_by_id is not None),
        "open": sorted(
            session.scalars(
                select(HumanTask.spec_id).where(HumanTask.instance_id == inst_id, HumanTask.status == "open")
            )
        ),
        "events": [
            (e.type, e.task_id == task_id)
            for e in session.scalars(select(EventLog).where(EventLog.instance_id == inst_id).order_by(EventLog.id))
        ],
    }


def _started(session: Any, rt: Any) -> tuple[int, int]:
    inst = rt.start("optimistic_test", {}, principal(session, "group_secretary"))
    session.commit()
    [task] = session.scalars(select(HumanTask).where(HumanTask.instance_id == inst.id))
    return inst.id, task.id


def _statements(engine: Any, fn: Any) -> list[str]:
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_a_failing_step_after_a_completion_ends_as_with_the_savepoint_from_the_start(
    session, rt, forms, clock, db_engine
):
    repository.deploy(session, XML.encode(), "optimistic.bpmn", "owner", clock.now(), forms, 1 << 20)
    session.commit()
    sec = principal(session, "group_secretary")
    outcomes = []
    for optimistic in (True, False):
        inst_id, task_id = _started(session, rt)
        cmd = TaskCommand(task_id=task_id, action="complete", data={"divisor": 0})
        run = tasks_service.act if optimistic else tasks_service._act  # _act: the savepoint from the start
        seen = _statements(db_engine, lambda run=run, cmd=cmd: outcomes.append(run(rt, sec, cmd).instance_status))
        # the optimistic run completed the task, failed, was rolled back and ran again
        assert sum(s.startswith("UPDATE task SET") for s in seen) == (2 if optimistic else 1)
        outcomes.append(_outcome(session, inst_id, task_id))
    assert outcomes[0] == outcomes[2] == "error"
    assert outcomes[1] == outcomes[3]
    assert outcomes[1]["instance"][:3] == ("error", "divide", "WorkflowTaskException")
    assert outcomes[1]["task"] == ("completed", {"divisor": 0}, True)
    assert [t for t, _ in outcomes[1]["events"]].count("incident") == 1
    assert [t for t, _ in outcomes[1]["events"]].count("task_completed") == 1
    assert rt.optimistic is False


def test_a_completion_whose_steps_succeed_takes_no_savepoint(session, rt, forms, clock, db_engine):
    repository.deploy(session, XML.encode(), "optimistic.bpmn", "owner", clock.now(), forms, 1 << 20)
    session.commit()
    sec = principal(session, "group_secretary")
    inst_id, task_id = _started(session, rt)
    cmd = TaskCommand(task_id=task_id, action="complete", data={"divisor": 5})
    results = []
    seen = _statements(db_engine, lambda: results.append(tasks_service.act(rt, sec, cmd).instance_status))
    assert results == ["running"]
    assert not [s for s in seen if "SAVEPOINT" in s]
    got = _outcome(session, inst_id, task_id)
    assert got["open"] == ["review"] and got["task"] == ("completed", {"divisor": 5}, True)
    assert session.get(ProcessInstance, inst_id).data["ratio"] == 2


def test_a_completion_running_out_of_time_ends_as_with_the_savepoint_and_spends_the_time_once(
    session, rt, forms, clock, db_engine, settings
):
    """Steps that run out of SANJI_ENGINE_MAX_SECONDS: the second run shares the first's limit (so
    it stops at once, naming the element the first ran out in, if any) — the same outcome, row for
    row, as the completion with the savepoint from the start."""
    from engine.core.runtime import Runtime

    slow = XML.replace("ratio = 10 / divisor", "while True:\n    units = org_units()").replace(
        "optimistic_test", "optimistic_slow"
    )
    repository.deploy(session, slow.encode(), "optimistic_slow.bpmn", "owner", clock.now(), forms, 1 << 20)
    session.commit()
    bounded = Runtime(session, clock, settings.with_(engine_max_seconds=0.3), forms)
    sec = principal(session, "group_secretary")
    outcomes = []
    for run in (tasks_service.act, tasks_service._act):
        inst = bounded.start("optimistic_slow", {}, sec)
        session.commit()
        [task] = session.scalars(select(HumanTask).where(HumanTask.instance_id == inst.id))
        outcomes.append(run(bounded, sec, TaskCommand(task_id=task.id, action="complete", data={})).instance_status)
        got = _outcome(session, inst.id, task.id)
        got["message"] = session.get(ProcessInstance, inst.id).error_message
        outcomes.append(got)
    assert outcomes[0] == outcomes[2] == "error"
    assert outcomes[1]["instance"][:3] == ("error", None, "EngineTimeout")  # inside a helper: no element named
    assert "SANJI_ENGINE_MAX_SECONDS" in outcomes[1]["message"]
    assert outcomes[1] == outcomes[3]
    assert bounded._deadline.until is None and bounded.optimistic is False
