"""The diagrams as files: complete diagram interchange (so they lay out in bpmn-js), Chinese names,
tier lanes, a form and a deadline on every user task, decided gateways, well-formed forms."""
from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator
from lxml import etree

from engine.infra.settings import ROOT
from tests.procedures.conftest import PROCESSES

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "di": "http://www.omg.org/spec/DD/20100524/DI", "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
FILES = sorted(p.name for p in PROCESSES.glob("*.bpmn"))  # every built-in diagram
FLOW_NODES = ("startEvent", "endEvent", "userTask", "scriptTask", "callActivity", "exclusiveGateway",
              "boundaryEvent", "intermediateThrowEvent", "intermediateCatchEvent", "parallelGateway", "manualTask")
LANES = {"集团公司纪委", "权属单位纪委", "基层党支部纪律检查委员", "职能部门"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def tree(name):
    return etree.parse(str(PROCESSES / name)).getroot()


def props(el):
    return {p.get("name"): p.get("value") for p in el.xpath(
        "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS)}


@pytest.mark.parametrize("name", FILES)
def test_diagram_interchange_is_complete(name):
    root = tree(name)
    shapes = {s.get("bpmnElement"): s for s in root.xpath("//bpmndi:BPMNShape", namespaces=NS)}
    edges = {e.get("bpmnElement"): e for e in root.xpath("//bpmndi:BPMNEdge", namespaces=NS)}
    elements = root.xpath("//bpmn:participant | //bpmn:lane | " + " | ".join(f"//bpmn:{t}" for t in FLOW_NODES),
                          namespaces=NS)
    assert elements
    for el in elements:
        shape = shapes.get(el.get("id"))
        assert shape is not None, f"{name}: no shape for {el.get('id')}"
        bounds = shape.find("dc:Bounds", NS)
        assert float(bounds.get("width")) > 0 and float(bounds.get("height")) > 0
    for flow in root.xpath("//bpmn:sequenceFlow", namespaces=NS):
        edge = edges.get(flow.get("id"))
        assert edge is not None, f"{name}: no edge for {flow.get('id')}"
        assert len(edge.findall("di:waypoint", NS)) >= 2
    # every process is drawn in its own pool
    pools = {p.get("processRef") for p in root.xpath("//bpmn:participant", namespaces=NS)}
    assert pools == {p.get("id") for p in root.xpath("//bpmn:process", namespaces=NS)}


@pytest.mark.parametrize("name", FILES)
def test_names_lanes_forms_deadlines_and_gateways(name):
    root = tree(name)
    for el in root.xpath("//bpmn:participant | //bpmn:lane | //bpmn:process | " +
                         " | ".join(f"//bpmn:{t}" for t in FLOW_NODES), namespaces=NS):
        assert CJK.search(el.get("name") or ""), f"{name}: {el.get('id')} has no Chinese name"
    for lane in root.xpath("//bpmn:lane", namespaces=NS):
        assert lane.get("name") in LANES
    for task in root.xpath("//bpmn:userTask", namespaces=NS):
        p = props(task)
        form = p.get("formJsonSchemaFilename")
        assert form and (ROOT / "forms" / form).is_file(), f"{name}: {task.get('id')} has no form"
        assert p.get("dueIn") or p.get("dueAt"), f"{name}: {task.get('id')} has no deadline"
    for gw in root.xpath("//bpmn:exclusiveGateway", namespaces=NS):
        outgoing = root.xpath(f"//bpmn:sequenceFlow[@sourceRef='{gw.get('id')}']", namespaces=NS)
        if len(outgoing) < 2:
            continue
        conditioned = [f for f in outgoing if f.find("bpmn:conditionExpression", NS) is not None]
        assert gw.get("default") in {f.get("id") for f in outgoing}, f"{name}: {gw.get('id')} has no default flow"
        assert len(conditioned) == len(outgoing) - 1, f"{name}: {gw.get('id')}: every other flow needs a condition"


FORMS = sorted({props(t)["formJsonSchemaFilename"] for n in FILES for t in tree(n).xpath("//bpmn:userTask", namespaces=NS)})


@pytest.mark.parametrize("form", FORMS)
def test_forms_are_chinese_draft_2020_12(form):
    schema = json.loads((ROOT / "forms" / form).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert CJK.search(schema["title"]) and CJK.search(schema["description"])
    assert schema["required"] and schema["additionalProperties"] is False  # form data cannot overwrite routing variables

    def walk(node, path):
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, path
            for key, sub in node["properties"].items():
                assert CJK.search(sub.get("title", "")), f"{form}: {path}/{key} has no Chinese title"
                walk(sub, f"{path}/{key}")
        if node.get("type") == "array":
            walk(node["items"], f"{path}[]")
        if "enum" in node:  # Chinese labels: enumNames, or the values themselves are Chinese
            labels = node.get("enumNames") or [v for v in node["enum"] if CJK.search(str(v))]
            assert len(labels) == len(node["enum"]), path
        if "date" in path.lower() or "deadline" in path or path.endswith("_due") or path.endswith("_on"):
            assert node.get("format") == "date", f"{form}: {path} is a date"

    walk(schema, form)
