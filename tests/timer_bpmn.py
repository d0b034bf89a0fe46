"""Small BPMN documents with one timer start event, for the scheduler and schedules tests."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.core import repository

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_{key}" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_group" name="集团公司纪委">
{refs}
        <bpmn:flowNodeRef>work</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
{starts}
    <bpmn:userTask id="work" name="{task}" />
    <bpmn:sequenceFlow id="f_end" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
{deadline}
  </bpmn:process>
</bpmn:definitions>
"""

START = """    <bpmn:startEvent id="{id}" name="{id}">
      <bpmn:timerEventDefinition id="{id}_def">
        <bpmn:{kind}>{expression}</bpmn:{kind}>
      </bpmn:timerEventDefinition>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f_{id}" sourceRef="{id}" targetRef="work" />"""


DEADLINE = """    <bpmn:boundaryEvent id="late" name="逾期" attachedToRef="work">
      <bpmn:timerEventDefinition id="late_def">
        <bpmn:timeDuration>{deadline}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_late" sourceRef="late" targetRef="escalate" />
    <bpmn:userTask id="escalate" name="督办" />
    <bpmn:sequenceFlow id="f_esc" sourceRef="escalate" targetRef="end_escalated" />
    <bpmn:endEvent id="end_escalated" />"""
DEADLINE_REFS = """        <bpmn:flowNodeRef>late</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>escalate</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_escalated</bpmn:flowNodeRef>"""


def timer_process(key: str, expression: str | list[str] | None, kind: str = "timeCycle", name: str | None = None,
                  task: str = "处理", start_ids: list[str] | None = None, deadline: str | None = None) -> str:
    """A process `key` whose timer start event(s) (or, with expression None, a plain start) lead to
    one group task `work`; with `deadline` (a duration) an interrupting boundary timer on `work`
    leads to a task `escalate`."""
    if expression is None:
        ids = start_ids or ["plain_start"]
        starts = "\n".join(f'    <bpmn:startEvent id="{i}" />\n'
                           f'    <bpmn:sequenceFlow id="f_{i}" sourceRef="{i}" targetRef="work" />' for i in ids)
    else:
        expressions = [expression] if isinstance(expression, str) else expression
        ids = start_ids or (["timer_start"] if len(expressions) == 1 else [f"t{i}" for i in range(len(expressions))])
        starts = "\n".join(START.format(id=i, kind=kind, expression=e) for i, e in zip(ids, expressions))
    refs = "\n".join(f"        <bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in ids)
    if deadline:
        refs += "\n" + DEADLINE_REFS
    return TEMPLATE.format(key=key, name=name or key, refs=refs, starts=starts, task=task,
                           deadline=DEADLINE.format(deadline=deadline) if deadline else "")


def deploy_text(session: Any, xml: str, forms: Any, now: Any, filename: str = "timer.bpmn") -> list[Any]:
    result = repository.deploy(session, xml, filename, "owner", now, forms, 5 * 1024 * 1024)
    session.commit()
    return result.definitions


def write(tmp: Path, xml: str, name: str) -> Path:
    path = tmp / name
    path.write_text(xml, encoding="utf-8")
    return path
