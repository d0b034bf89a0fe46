"""The diagrams of special_inspection, clue_disposal, annual_assessment and document_forwarding
carry complete diagram interchange (so they open and lay out in the bpmn-js modeler), Chinese
names, a form and a deadline on every user task, and their forms are Chinese Draft 2020-12."""
from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator
from lxml import etree

from engine.infra.settings import ROOT

FILES = ["special_inspection.bpmn", "clue_disposal.bpmn", "annual_assessment.bpmn", "document_forwarding.bpmn"]
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
NODES = ("startEvent", "endEvent", "userTask", "scriptTask", "callActivity", "exclusiveGateway", "parallelGateway",
         "inclusiveGateway", "boundaryEvent", "intermediateThrowEvent", "intermediateCatchEvent")
CJK = re.compile(r"[\u4e00-\u9fff]")
TIER_LANES = {"集团公司纪委", "权属单位纪委", "基层党支部纪律检查委员", "职能部门"}


def bounds(shape):
    b = shape.find("dc:Bounds", NS)
    return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def inside(inner, outer, slack=0.5):
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return ox - slack <= x and oy - slack <= y and x + w <= ox + ow + slack and y + h <= oy + oh + slack


def on_border(point, box, slack=1.0):
    px, py = point
    x, y, w, h = box
    within = x - slack <= px <= x + w + slack and y - slack <= py <= y + h + slack
    edge = min(abs(px - x), abs(px - x - w), abs(py - y), abs(py - y - h)) <= slack
    return within and edge


@pytest.mark.parametrize("filename", FILES)
def test_diagram_interchange_is_complete(filename):
    root = etree.parse(str(ROOT / "processes" / filename)).getroot()
    shapes = {s.get("bpmnElement"): s for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    [collab] = root.findall("bpmn:collaboration", NS)
    [plane] = root.findall("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    assert plane.get("bpmnElement") == collab.get("id")
    participants = {p.get("processRef"): p for p in collab.findall("bpmn:participant", NS)}
    for proc in root.findall("bpmn:process", NS):
        pid = proc.get("id")
        assert CJK.search(proc.get("name", "")), pid
        part = participants[pid]
        assert CJK.search(part.get("name", "")) and part.get("id") in shapes, pid
        pool = bounds(shapes[part.get("id")])
        lane_of = {}
        for lane in proc.findall("bpmn:laneSet/bpmn:lane", NS):
            assert lane.get("name") in TIER_LANES, lane.get("name")
            assert lane.get("id") in shapes, lane.get("id")
            lb = bounds(shapes[lane.get("id")])
            assert inside(lb, pool), lane.get("id")
            for ref in lane.findall("bpmn:flowNodeRef", NS):
                lane_of[ref.text.strip()] = lb
        nodes = [el for tag in NODES for el in proc.findall(f"bpmn:{tag}", NS)]
        for el in nodes:
            nid = el.get("id")
            assert CJK.search(el.get("name", "")), f"{nid} has no Chinese name"
            assert nid in shapes, f"{nid} has no shape"
            assert inside(bounds(shapes[nid]), lane_of[nid]), f"{nid} lies outside its lane"
        by_id = {el.get("id"): el for el in nodes}
        for flow in proc.findall("bpmn:sequenceFlow", NS):
            fid = flow.get("id")
            assert fid in edges, f"{fid} has no edge"
            points = [(float(w.get("x")), float(w.get("y"))) for w in edges[fid].findall("di:waypoint", NS)]
            assert len(points) >= 2, fid
            assert on_border(points[0], bounds(shapes[flow.get("sourceRef")])), f"{fid} does not leave its source"
            assert on_border(points[-1], bounds(shapes[flow.get("targetRef")])), f"{fid} does not reach its target"
            for (x1, y1), (x2, y2) in zip(points, points[1:]):
                assert x1 == x2 or y1 == y2, f"{fid} is not orthogonal"
            source = by_id[flow.get("sourceRef")]
            if etree.QName(source).localname in ("exclusiveGateway", "inclusiveGateway") and len(
                    proc.findall(f"bpmn:sequenceFlow[@sourceRef='{source.get('id')}']", NS)) > 1:
                assert CJK.search(flow.get("name", "")), f"{fid} leaves a split without a Chinese label"


@pytest.mark.parametrize("filename", FILES)
def test_every_user_task_has_a_form_and_a_deadline(filename):
    root = etree.parse(str(ROOT / "processes" / filename)).getroot()
    tasks = root.findall(".//bpmn:userTask", NS)
    assert tasks
    for task in tasks:
        props = {p.get("name"): p.get("value") for p in task.iterfind(".//spiffworkflow:property", NS)}
        assert props.get("dueIn") or props.get("dueAt"), task.get("id")
        form = ROOT / "forms" / props["formJsonSchemaFilename"]
        schema = json.loads(form.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert CJK.search(schema["title"]) and CJK.search(schema["description"]), form.name
        assert schema["required"], form.name
        for name, prop in schema["properties"].items():
            assert CJK.search(prop.get("title", "")), f"{form.name}: {name} has no Chinese title"
            if "date" in name or name.endswith("_until") or name.endswith("deadline"):
                assert prop.get("format") == "date", f"{form.name}: {name}"
