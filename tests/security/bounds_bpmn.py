"""Small diagrams that break (or keep) the bounds of issue 13, and a way to call the API with
bounds set low, so that the tests stay small and quick."""
from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import func, select

from app import create_app
from engine.models import EventLog, FanOut, HumanTask, ProcessInstance, Record
from tests.conftest import Api

FLOW_NODES = ("startEvent", "endEvent", "scriptTask", "userTask", "callActivity", "parallelGateway",
              "inclusiveGateway", "exclusiveGateway", "boundaryEvent", "intermediateCatchEvent")


def process(key: str, body: str) -> str:
    """An executable process whose flow nodes all lie in the group committee's lane."""
    nodes = re.findall(rf'<bpmn:(?:{"|".join(FLOW_NODES)}) id="([^"]+)"', body)
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
    return (f'<bpmn:process id="{key}" isExecutable="true"><bpmn:laneSet id="LS_{key}">'
            f'<bpmn:lane id="L_{key}" name="集团公司纪委">{refs}</bpmn:lane></bpmn:laneSet>{body}</bpmn:process>')


def document(*processes: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
            'id="Defs_bounds" targetNamespace="http://sanji.example/bpmn">' + "".join(processes) + "</bpmn:definitions>")


# The variables these tests pass at start, declared on the plain start event (docs/bpmn-conventions.md).
START = ('<bpmn:startEvent id="start"><bpmn:extensionElements><spiffworkflow:properties>'
         '<spiffworkflow:property name="startVariables" value="n,items,note,value"/>'
         '</spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>')


def script(element_id: str, text: str) -> str:
    return f'<bpmn:scriptTask id="{element_id}"><bpmn:script>{escape(text)}</bpmn:script></bpmn:scriptTask>'


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    cond = f"<bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>" if condition else ""
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">{cond}</bpmn:sequenceFlow>'


def chain(key: str, *elements: tuple[str, str]) -> str:
    """start → each (id, xml) in turn → end."""
    ids = ["start"] + [i for i, _ in elements] + ["end"]
    body = START + "".join(x for _, x in elements) + '<bpmn:endEvent id="end"/>'
    body += "".join(flow(f"f{n}", a, b) for n, (a, b) in enumerate(zip(ids, ids[1:])))
    return document(process(key, body))


PROBE = 'save_record("bounds_probe", "probe-" + str(instance_id()), {"written": True})'


def split(kind: str, branches: int, key: str = "wide_split") -> str:
    """start → an element of `kind` with `branches` outgoing flows, each to its own end event."""
    head = ('<bpmn:scriptTask id="split"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>'
            if kind == "scriptTask" else f'<bpmn:{kind} id="split"/>')
    body = START + head + flow("f_in", "start", "split")
    for i in range(branches):
        cond = "True" if kind == "inclusiveGateway" else None
        body += f'<bpmn:endEvent id="e{i}"/>' + flow(f"f{i}", "split", f"e{i}", cond)
    return document(process(key, body))


def multi_instance(key: str = "mi_items", cardinality: str | None = None) -> str:
    """prep (writes a record, sets `items` from `n`) → a parallel multi-instance script task
    over `items` (or `cardinality` instances) → a user task."""
    loop = (f"<bpmn:loopCardinality>{cardinality}</bpmn:loopCardinality>" if cardinality else
            '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:inputDataItem id="it" name="item"/>')
    each = (f'<bpmn:scriptTask id="each"><bpmn:multiInstanceLoopCharacteristics>{loop}'
            '</bpmn:multiInstanceLoopCharacteristics><bpmn:script>done = True</bpmn:script></bpmn:scriptTask>')
    return chain(key, ("prep", script("prep", PROBE + "\nitems = list(range(n))")), ("each", each),
                 ("review", '<bpmn:userTask id="review"/>'))


def fan_out(child_script: str = "done = True", key: str = "fan") -> str:
    """prep (writes a record) → a multi-instance call activity over `items` → a user task; the
    child runs `child_script`."""
    call = ('<bpmn:callActivity id="call" calledElement="fan_child"><bpmn:multiInstanceLoopCharacteristics>'
            '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:inputDataItem id="it" name="item"/>'
            "</bpmn:multiInstanceLoopCharacteristics></bpmn:callActivity>")
    parent = chain(key, ("prep", script("prep", PROBE)), ("call", call), ("review", '<bpmn:userTask id="review"/>'))
    child_body = ('<bpmn:startEvent id="c_start"/>' + script("c_work", child_script) + '<bpmn:endEvent id="c_end"/>'
                  + flow("c1", "c_start", "c_work") + flow("c2", "c_work", "c_end"))
    return parent.replace("</bpmn:definitions>", process("fan_child", child_body) + "</bpmn:definitions>")


def wide_gateway(branches: int, key: str = "wide") -> str:
    """prep (writes a record) → a parallel gateway into `branches` script tasks → join → a user
    task: engine steps only, whose cost grows faster than the number of branches (SpiffWorkflow
    3: 250 branches take about 5 s, 500 about 30 s on the development machine)."""
    body = (START + script("prep", PROBE) + '<bpmn:parallelGateway id="split"/>'
            '<bpmn:parallelGateway id="join"/><bpmn:userTask id="review"/><bpmn:endEvent id="end"/>'
            + flow("f1", "start", "prep") + flow("f2", "prep", "split") + flow("f3", "join", "review")
            + flow("f4", "review", "end"))
    for i in range(branches):
        body += script(f"s{i}", "x = 1") + flow(f"a{i}", "split", f"s{i}") + flow(f"b{i}", f"s{i}", "join")
    return document(process(key, body))


def with_script(text: str, key: str = "scripted") -> str:
    """prep (writes a record) → `text` in script task `work` → a user task."""
    return chain(key, ("prep", script("prep", PROBE)), ("work", script("work", text)),
                 ("review", '<bpmn:userTask id="review"/>'))


def bounded_api(clean_db: Any, settings: Any, clock: Any, **bounds: Any) -> Api:
    """The JSON API of an app whose settings carry `bounds` (e.g. max_branches=3)."""
    return Api(create_app(settings.with_(**bounds), clock=clock, engine=clean_db).test_client())


def deploy(api: Api, xml: str, name: str = "bounds.bpmn") -> Any:
    return api.post(f"/api/v1/process-definitions?filename={name}", "owner", data=xml.encode(),
                    content_type="application/xml")


def start(api: Api, key: str, variables: dict[str, Any] | None = None) -> Any:
    return api.post(f"/api/v1/process-definitions/{key}/start", "group_secretary", json={"variables": variables or {}})


def written(sessions: Any) -> dict[str, int]:
    """What the engine has written: instances, tasks, fan-outs, records, and events by type."""
    with sessions() as s:
        counts = {name: s.scalar(select(func.count()).select_from(model)) for name, model in (
            ("instances", ProcessInstance), ("tasks", HumanTask), ("fan_outs", FanOut), ("records", Record))}
        for type_, n in s.execute(select(EventLog.type, func.count()).group_by(EventLog.type)):
            counts[type_] = n
        return counts
