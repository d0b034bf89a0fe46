"""engine/core/diff.py: what changed between two BPMN documents."""
from __future__ import annotations

import pytest

from engine.core import diff
from engine.errors import Invalid
from tests.conftest import BPMN

TRACED = (BPMN / "traced.bpmn").read_text(encoding="utf-8")


def changes(result):
    return {c["id"]: {x["field"]: (x["from"], x["to"]) for x in c["changes"]} for c in result["changed"]}


def test_identical_documents_have_no_difference():
    d = diff.diff(TRACED, TRACED)
    assert d["summary"] == {"added": 0, "removed": 0, "changed": 0, "layout_changed": 0}


def test_fields_the_engine_reads():
    b = (TRACED.replace('name="单位落实"', 'name="单位落实2"')
         .replace('<spiffworkflow:property name="dueAt" value="month_end()" />',
                  '<spiffworkflow:property name="dueAt" value="quarter_end()" />'
                  '<spiffworkflow:property name="candidateRoles" value="secretary" />')
         .replace('<spiffworkflow:property name="candidateRoles" value="secretary,deputy_secretary" />', "")
         .replace("approved != True", "not approved")
         .replace("branch_ids = org_branches(unit_id)", "branch_ids = org_branches(unit_id)[:1]")
         .replace('calledElement="traced_branch"', 'calledElement="other"')
         .replace("<bpmn:loopDataInputRef>branch_ids</bpmn:loopDataInputRef>", "<bpmn:loopDataInputRef>ids</bpmn:loopDataInputRef>")
         .replace('<bpmn:inputDataItem id="branch_id" name="branch_id" />', '<bpmn:inputDataItem id="branch_id" name="bid" />')
         .replace('note = "单位"', 'note = "unit"')
         .replace('{"comment": comment}', '{"c": comment}')
         .replace("P5D", "P6D"))
    c = changes(diff.diff(TRACED, b))
    assert c["unit_task"] == {
        "name": ("单位落实", "单位落实2"),
        "property.candidateRoles": (None, "secretary"),
        "property.dueAt": ("month_end()", "quarter_end()"),
        "preScript": ('note = "单位"', 'note = "unit"'),
    }
    assert c["group_task"] == {"property.candidateRoles": ("secretary,deputy_secretary", None)}
    assert c["f_no"] == {"condition": ("approved != True", "not approved")}
    assert c["pick"] == {"script": ("branch_ids = org_branches(unit_id)", "branch_ids = org_branches(unit_id)[:1]")}
    assert c["fan"] == {"calledElement": ("traced_branch", "other"),
                        "multiInstance.loopDataInputRef": ("branch_ids", "ids"),
                        "multiInstance.inputDataItem@name": ("branch_id", "bid")}
    assert c["end_no"] == {"messagePayload": ('{"comment": comment}', '{"c": comment}')}
    assert c["remind"] == {"timer.timeDuration": ("P5D", "P6D")}
    assert set(c) == {"unit_task", "group_task", "f_no", "pick", "fan", "end_no", "remind"}


def test_moving_a_task_to_another_lane_changes_the_task_and_both_lanes():
    b = TRACED.replace("<bpmn:flowNodeRef>pick</bpmn:flowNodeRef>", "").replace(
        "<bpmn:flowNodeRef>end</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>end</bpmn:flowNodeRef><bpmn:flowNodeRef>pick</bpmn:flowNodeRef>")
    c = changes(diff.diff(TRACED, b))
    assert c["pick"] == {"lane": ("权属单位纪委", "集团公司纪委")}
    assert "pick" in c["L_group"]["nodes"][1] and "pick" in c["L_unit"]["nodes"][0]
    renamed = changes(diff.diff(TRACED, TRACED.replace('name="权属单位纪委"', 'name="unit"')))
    assert renamed["L_unit"] == {"name": ("权属单位纪委", "unit")}
    assert renamed["unit_task"] == {"lane": ("权属单位纪委", "unit")}


def test_added_removed_and_rewired_flows():
    b = TRACED.replace('<bpmn:sequenceFlow id="f_remind" sourceRef="remind" targetRef="remind_end" />', "").replace(
        '<bpmn:endEvent id="remind_end" name="已提醒" />',
        '<bpmn:endEvent id="remind_end" name="已提醒" /><bpmn:manualTask id="extra" name="补充" />'
        '<bpmn:sequenceFlow id="f_extra" sourceRef="remind" targetRef="extra" />').replace(
        '<bpmn:sequenceFlow id="f_end" sourceRef="fan" targetRef="end" />',
        '<bpmn:sequenceFlow id="f_end" sourceRef="pick" targetRef="end" />')
    d = diff.diff(TRACED, b)
    assert sorted(e["id"] for e in d["added"]) == ["extra", "f_extra"]
    assert [(e["id"], e["type"], e["process"]) for e in d["removed"]] == [("f_remind", "sequenceFlow", "traced")]
    assert changes(d)["f_end"] == {"source": ("fan", "pick")}
    added = {e["id"]: e for e in d["added"]}
    assert added["extra"]["type"] == "manualTask" and added["extra"]["name"] == "补充"


def test_type_change_keeps_the_id():
    b = TRACED.replace('<bpmn:userTask id="group_task" name="集团下达">', '<bpmn:manualTask id="group_task" name="集团下达">', 1)
    b = b.replace("</bpmn:userTask>\n    <bpmn:sequenceFlow id=\"f2\"", "</bpmn:manualTask>\n    <bpmn:sequenceFlow id=\"f2\"", 1)
    assert changes(diff.diff(TRACED, b))["group_task"] == {"type": ("userTask", "manualTask")}


def test_layout_only_changes_are_separate():
    b = TRACED.replace('<dc:Bounds x="500" y="240"', '<dc:Bounds x="510" y="240"').replace(
        '<di:waypoint x="750" y="280" />', '<di:waypoint x="752" y="280" />')
    d = diff.diff(TRACED, b)
    assert d["changed"] == [] and d["layout_changed"] == ["f_fan", "unit_task"]


def test_defaults_prefixes_and_line_breaks_are_not_changes():
    a = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:task id="t" name="Assign&#13;&#10;Approver" completionQuantity="1" startQuantity="1" isForCompensation="false" />
    <bpmn:boundaryEvent id="b" attachedToRef="t" cancelActivity="true"><bpmn:timerEventDefinition id="x1"><bpmn:timeDate>2027-01-01</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>
  </bpmn:process>
</bpmn:definitions>"""
    b = """<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <process id="p" isExecutable="true">
    <task id="t" name="Assign Approver" />
    <boundaryEvent id="b" attachedToRef="t"><timerEventDefinition id="other_id"><timeDate xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="tFormalExpression">2027-01-01</timeDate></timerEventDefinition></boundaryEvent>
  </process>
</definitions>"""
    assert diff.diff(a, b)["summary"]["changed"] == 0


def test_repeated_parts_are_told_apart():
    def task(inputs):
        return f"""<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p"><bpmn:task id="t"><bpmn:ioSpecification>{inputs}</bpmn:ioSpecification></bpmn:task></bpmn:process>
</bpmn:definitions>"""
    a = task('<bpmn:dataInput id="i1" name="a" /><bpmn:dataInput id="i2" name="b" />')
    b = task('<bpmn:dataInput id="i1" name="a" /><bpmn:dataInput id="i2" name="c" />')
    assert changes(diff.diff(a, b))["t"] == {"ioSpecification.dataInput[i2]@name": ("b", "c")}


def test_bad_xml_is_refused():
    with pytest.raises(Invalid):
        diff.diff(TRACED, "<not closed")
