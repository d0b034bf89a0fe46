"""Validation refuses elements no token can reach (issue 18: a stray end event placed by a click
on the palette was accepted by 校验 and deployed), on the element and in the reader's language;
validate tells the modeler which processes a deploy would give a new version."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine.core.validation import NS, unreachable
from engine.infra.settings import ROOT
from engine.models import ProcessDefinition
from tests.conftest import BPMN, TESTS

TRACED = BPMN / "traced.bpmn"
XML = "application/xml"
STRAY = '<bpmn:endEvent id="stray" name="多余的结束" />\n  </bpmn:process>'


def with_stray(xml: str) -> str:
    """traced.bpmn with an unconnected end event in its first process (no DI needed to validate)."""
    return xml.replace("</bpmn:process>", STRAY, 1)


def count(app) -> int:
    from api.extensions import state

    with state(app).sessions() as s:
        return s.scalar(select(func.count()).select_from(ProcessDefinition))


def test_validate_refuses_a_stray_end_event_on_the_element_in_chinese(api, app):
    bad = with_stray(TRACED.read_text(encoding="utf-8"))
    r = api.post("/api/v1/process-definitions/validate", "owner", data=bad.encode(), content_type=XML,
                 headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 200
    body = r.get_json()
    assert body["valid"] is False
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if 'id="stray"' in text)
    assert body["errors"] == [
        {"element_id": "stray", "line": line, "message": "“多余的结束”没有连上任何顺序流：请把它连上，或者删除它"}
    ]
    # in English for an English reader
    r = api.post("/api/v1/process-definitions/validate", "owner", data=bad.encode(), content_type=XML)
    assert r.get_json()["errors"][0]["message"] == (
        "'多余的结束' is not connected to any sequence flow: connect it or delete it")
    assert count(app) == 0


def test_deploy_refuses_it_and_stores_nothing(api, app):
    bad = with_stray(TRACED.read_text(encoding="utf-8"))
    r = api.post("/api/v1/process-definitions?filename=traced.bpmn", "owner", data=bad.encode(), content_type=XML,
                 headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 422
    body = r.get_json()
    assert [(d["element_id"], d["message"]) for d in body["details"]] == [
        ("stray", "“多余的结束”没有连上任何顺序流：请把它连上，或者删除它")]
    assert "“多余的结束”没有连上任何顺序流" in body["message"]
    assert count(app) == 0


def test_validate_lists_the_new_version_each_process_would_get(api):
    xml = TRACED.read_bytes()
    r = api.post("/api/v1/process-definitions/validate?filename=traced.bpmn", "owner", data=xml, content_type=XML)
    plan = r.get_json()["processes"]
    assert [(p["key"], p["name"], p["current_version"], p["new_version"]) for p in plan] == [
        ("traced", "图形测试流程", None, 1), ("traced_branch", "支部落实", None, 1)]
    assert api.deploy(TRACED).status_code == 201
    r = api.post("/api/v1/process-definitions/validate?filename=traced.bpmn", "owner", data=xml, content_type=XML)
    assert [(p["key"], p["current_version"], p["new_version"]) for p in r.get_json()["processes"]] == [
        ("traced", 1, None), ("traced_branch", 1, None)]
    changed = xml.replace(b'name="', b'name="\xe6\x96\xb0', 1)  # any change to the file: a new version
    r = api.post("/api/v1/process-definitions/validate?filename=traced.bpmn", "owner", data=changed, content_type=XML)
    assert [(p["key"], p["current_version"], p["new_version"]) for p in r.get_json()["processes"]] == [
        ("traced", 1, 2), ("traced_branch", 1, 2)]


# ---- the rule itself ---------------------------------------------------------------------------------

HEAD = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
        'targetNamespace="http://x"><bpmn:process id="p" isExecutable="true">')
TAIL = "</bpmn:process></bpmn:definitions>"


def problems(body: str) -> list[tuple[str | None, str]]:
    root = etree.fromstring((HEAD + body + TAIL).encode())
    [proc] = root.xpath("./bpmn:process", namespaces=NS)
    return [(p.element_id, p.msg.template if p.msg else p.message) for p in unreachable(proc)]


UNREACHABLE = "{name!r} has no incoming sequence flow, so it can never be reached: connect it or delete it"
NOT_CONNECTED = "{name!r} is not connected to any sequence flow: connect it or delete it"


def test_a_task_without_incoming_flow_is_unreachable():
    assert problems("""
      <bpmn:startEvent id="s" /><bpmn:scriptTask id="a" /><bpmn:scriptTask id="orphan" /><bpmn:endEvent id="e" />
      <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a" /><bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="e" />
      <bpmn:sequenceFlow id="f3" sourceRef="orphan" targetRef="e" />""") == [("orphan", UNREACHABLE)]


def test_lone_elements_are_not_connected_even_a_start_event():
    assert problems("""<bpmn:startEvent id="s" /><bpmn:endEvent id="e" />""") == [
        ("s", NOT_CONNECTED), ("e", NOT_CONNECTED)]


@pytest.mark.parametrize("body", [
    # a boundary event starts its own path
    """<bpmn:startEvent id="s" /><bpmn:userTask id="t" /><bpmn:endEvent id="e" /><bpmn:endEvent id="e2" />
       <bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:timerEventDefinition /></bpmn:boundaryEvent>
       <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" /><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" />
       <bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="e2" />""",
    # an event sub-process starts at its start event
    """<bpmn:startEvent id="s" /><bpmn:endEvent id="e" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="e" />
       <bpmn:subProcess id="esp" triggeredByEvent="true"><bpmn:startEvent id="es"><bpmn:messageEventDefinition />
       </bpmn:startEvent><bpmn:endEvent id="ee" /><bpmn:sequenceFlow id="f2" sourceRef="es" targetRef="ee" />
       </bpmn:subProcess>""",
    # a link catch event continues a path drawn elsewhere
    """<bpmn:startEvent id="s" /><bpmn:intermediateThrowEvent id="lt"><bpmn:linkEventDefinition name="A" />
       </bpmn:intermediateThrowEvent><bpmn:intermediateCatchEvent id="lc"><bpmn:linkEventDefinition name="A" />
       </bpmn:intermediateCatchEvent><bpmn:endEvent id="e" />
       <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="lt" /><bpmn:sequenceFlow id="f2" sourceRef="lc" targetRef="e" />""",
    # a compensation handler is linked by an association, not a flow
    """<bpmn:startEvent id="s" /><bpmn:scriptTask id="t" /><bpmn:endEvent id="e" />
       <bpmn:boundaryEvent id="cb" attachedToRef="t"><bpmn:compensateEventDefinition /></bpmn:boundaryEvent>
       <bpmn:scriptTask id="undo" isForCompensation="true" />
       <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" /><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" />""",
])
def test_elements_reached_otherwise_are_fine(body):
    assert problems(body) == []


def test_every_shipped_and_test_diagram_has_no_unreachable_element():
    files = sorted((ROOT / "processes").glob("*.bpmn")) + sorted(Path(TESTS).rglob("*.bpmn"))
    assert len(files) >= 20
    found = {}
    for path in files:
        root = etree.parse(str(path)).getroot()
        for proc in root.xpath("./bpmn:process", namespaces=NS):
            if unreachable(proc):
                found[path.name] = [p.element_id for p in unreachable(proc)]
    assert found == {}
