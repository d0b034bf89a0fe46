"""Fan-out and roll-up by choice (issue 19): `fanOut` on a call activity or a multi-instance user
task, `rollUp` on a call activity (engine/core/fan_choice.py). Each choice spawns children (or
task instances) for exactly the org nodes it names; wrong uses are refused at validate, on the
element, with the catalog's message."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.core import repository
from engine.core.forms import FormStore
from engine.core.runtime import Runtime
from engine.core.validation import validate
from engine.errors import Invalid
from engine.models import HumanTask, ProcessInstance, User
from tests.conftest import principal

XINSHENG_BRANCHES = ["xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian"]
UNITS = ["xinsheng", "xuchang", "daizhuang"]
LANES = {"unit_id": "权属单位纪委", "branch_id": "基层党支部纪律检查委员", "member": "权属单位纪委"}

CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_fc" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="fc" name="分发" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_start" name="{start_lane}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>fan</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>after</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fan" />
    <bpmn:callActivity id="fan" name="各单位办理" calledElement="fc_child">
      <bpmn:extensionElements><spiffworkflow:properties>{props}</spiffworkflow:properties></bpmn:extensionElements>
      {marker}
    </bpmn:callActivity>
    <bpmn:sequenceFlow id="f2" sourceRef="fan" targetRef="after" />
    <bpmn:userTask id="after" name="汇总">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="simple.schema.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
  <bpmn:process id="fc_child" name="办理" isExecutable="true">
    <bpmn:laneSet id="LS_c">
      <bpmn:lane id="L_c" name="{child_lane}">
        <bpmn:flowNodeRef>c_start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>c_task</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>c_end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="c_start" />
    <bpmn:sequenceFlow id="c1" sourceRef="c_start" targetRef="c_task" />
    <bpmn:userTask id="c_task" name="报告">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="simple.schema.json" />{child_props}
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="c2" sourceRef="c_task" targetRef="c_end" />
    <bpmn:endEvent id="c_end" />
  </bpmn:process>
</bpmn:definitions>
"""

MI_TASK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_mi" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="mi" name="多实例" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_unit" name="权属单位纪委">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="L_task" name="{lane}">
        <bpmn:flowNodeRef>each</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="each" />
    <bpmn:userTask id="each" name="逐个办理">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="simple.schema.json" />{props}
      </spiffworkflow:properties></bpmn:extensionElements>
      {marker}
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="each" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""
PARALLEL = '<bpmn:multiInstanceLoopCharacteristics isSequential="false" />'


def prop(name: str, value: str) -> str:
    return f'<spiffworkflow:property name="{name}" value="{value}" />'


def caller(
    choice: str,
    field: str | None = None,
    *,
    start_lane: str = "集团公司纪委",
    extra: str = "",
    marker: str = "",
    child_props: str = "",
) -> str:
    props = prop("fanOut", choice) + (prop("fanOutField", field) if field else "") + extra
    from engine.core.fan_choice import FAN_OUT

    item = FAN_OUT[choice].item if choice in FAN_OUT else "unit_id"
    return CALLER.format(
        start_lane=start_lane, props=props, marker=marker, child_lane=LANES[item], child_props=child_props
    )


def deploy(session: Any, forms: FormStore, clock: Any, xml: str) -> None:
    repository.deploy(session, xml.encode(), "fc.bpmn", "owner", clock.now(), forms, 5 << 20)
    session.commit()


def children(session: Any, parent: ProcessInstance) -> list[tuple[str, dict[str, Any]]]:
    rows = session.scalars(
        select(ProcessInstance).where(ProcessInstance.parent_id == parent.id).order_by(ProcessInstance.item_index)
    )
    return [(c.scope_node_id, c.data) for c in rows]


def refused(forms: FormStore, xml: str) -> list[dict[str, Any]]:
    with pytest.raises(Invalid) as exc:
        validate(xml, "fc.bpmn", forms, 1 << 20, lambda key: False)
    return [d for d in exc.value.details if d.get("severity") != "warning"]


# ---- call activities: one child per org node of the choice --------------------------------------


def test_all_units_spawns_one_child_per_unit(session: Any, rt: Runtime, forms: FormStore, clock: Any) -> None:
    deploy(session, forms, clock, caller("all_units"))
    inst = rt.start("fc", {}, principal(session, "group_secretary"))
    got = children(session, inst)
    assert [n for n, _d in got] == UNITS
    assert [d["unit_id"] for _n, d in got] == UNITS


def test_unit_branches_spawns_one_child_per_branch_of_the_unit(
    session: Any, rt: Runtime, forms: FormStore, clock: Any
) -> None:
    deploy(session, forms, clock, caller("unit_branches", start_lane="权属单位纪委"))
    inst = rt.start("fc", {"unit_id": "xinsheng"}, principal(session, "xinsheng_secretary"))
    got = children(session, inst)
    assert [n for n, _d in got] == XINSHENG_BRANCHES
    assert [d["branch_id"] for _n, d in got] == XINSHENG_BRANCHES
    # the branches' tasks are offered on their branches
    tasks = session.scalars(select(HumanTask.node_id).where(HumanTask.spec_id == "c_task").order_by(HumanTask.id))
    assert sorted(tasks) == sorted(XINSHENG_BRANCHES)


def test_form_units_spawns_children_for_the_chosen_units_only(
    session: Any, rt: Runtime, forms: FormStore, clock: Any
) -> None:
    deploy(session, forms, clock, caller("form_units", "chosen"))
    # in the organisation's order; an id that is not a unit is left out
    inst = rt.start("fc", {"chosen": ["daizhuang", "xinsheng", "nowhere"]}, principal(session, "group_secretary"))
    assert [n for n, _d in children(session, inst)] == ["xinsheng", "daizhuang"]


def test_form_branches_spawns_children_for_the_chosen_branches_of_the_unit(
    session: Any, rt: Runtime, forms: FormStore, clock: Any
) -> None:
    deploy(session, forms, clock, caller("form_branches", "picked", start_lane="权属单位纪委"))
    inst = rt.start(
        "fc",
        {"unit_id": "xinsheng", "picked": ["xinsheng-jidian", "xuchang-zongcai", "xinsheng-laogan"]},
        principal(session, "xinsheng_secretary"),
    )
    assert [n for n, _d in children(session, inst)] == ["xinsheng-laogan", "xinsheng-jidian"]


def test_unit_committee_spawns_one_child_per_committee_member(
    session: Any, rt: Runtime, forms: FormStore, clock: Any
) -> None:
    xml = caller("unit_committee", start_lane="权属单位纪委", child_props=prop("assigneeVariable", "member"))
    deploy(session, forms, clock, xml)
    inst = rt.start("fc", {"unit_id": "xinsheng"}, principal(session, "xinsheng_secretary"))
    got = children(session, inst)
    members = ["xinsheng_deputy", "xinsheng_member", "xinsheng_secretary", "xinsheng_standing"]
    assert sorted(d["member"] for _n, d in got) == members
    assert {n for n, _d in got} == {"xinsheng"}
    # each child's task is assigned to its member (assigneeVariable)
    assigned = session.execute(
        select(User.username).join(HumanTask, HumanTask.assignee_id == User.id).where(HumanTask.spec_id == "c_task")
    ).scalars()
    assert sorted(assigned) == members


def test_zone_units_spawns_one_child_per_member_unit_of_the_zone(
    session: Any, rt: Runtime, forms: FormStore, clock: Any
) -> None:
    """分区联创: `zone_units` fans out over the units of the zone `zone_id` names, in the organisation's order."""
    from engine.platform.meetings import zones

    group = principal(session, "group_secretary")
    data = {"name": "东部片区", "lead_unit_id": "daizhuang", "unit_ids": ["daizhuang", "xinsheng"], "note": ""}
    zone = zones.create_zone(session, group, data, clock.now())
    session.commit()
    deploy(session, forms, clock, caller("zone_units"))
    inst = rt.start("fc", {"zone_id": zone.id}, group)
    assert [n for n, _d in children(session, inst)] == ["xinsheng", "daizhuang"]
    assert [d["unit_id"] for _n, d in children(session, inst)] == ["xinsheng", "daizhuang"]
    for variables in ({}, {"zone_id": 999}):  # no zone named: an incident naming the element, no child
        inst = rt.start("fc", variables, group)
        assert inst.status == "error"
        assert "fan: fanOut zone_units needs the variable zone_id naming a zone" in (inst.error_message or "")
        assert children(session, inst) == []


def test_a_missing_form_field_is_an_incident_naming_it(session: Any, rt: Runtime, forms: FormStore, clock: Any) -> None:
    deploy(session, forms, clock, caller("form_units", "chosen"))
    inst = rt.start("fc", {}, principal(session, "group_secretary"))
    assert inst.status == "error"
    assert "chosen" in (inst.error_message or "") and children(session, inst) == []


# ---- multi-instance user tasks -------------------------------------------------------------------


def test_a_multi_instance_user_task_fans_out_over_the_units_branches(
    session: Any, rt: Runtime, forms: FormStore, clock: Any
) -> None:
    xml = MI_TASK.format(lane="基层党支部纪律检查委员", props=prop("fanOut", "unit_branches"), marker=PARALLEL)
    deploy(session, forms, clock, xml)
    rt.start("mi", {"unit_id": "xinsheng"}, principal(session, "xinsheng_secretary"))
    nodes = session.scalars(select(HumanTask.node_id).where(HumanTask.spec_id == "each", HumanTask.status == "open"))
    assert sorted(nodes) == sorted(XINSHENG_BRANCHES)


def test_a_multi_instance_user_task_for_each_committee_member(
    session: Any, rt: Runtime, forms: FormStore, clock: Any
) -> None:
    props = prop("fanOut", "unit_committee") + prop("assigneeVariable", "member")
    deploy(session, forms, clock, MI_TASK.format(lane="权属单位纪委", props=props, marker=PARALLEL))
    rt.start("mi", {"unit_id": "xinsheng"}, principal(session, "xinsheng_secretary"))
    assigned = session.execute(
        select(User.username).join(HumanTask, HumanTask.assignee_id == User.id).where(HumanTask.spec_id == "each")
    ).scalars()
    assert sorted(assigned) == ["xinsheng_deputy", "xinsheng_member", "xinsheng_secretary", "xinsheng_standing"]


# ---- refusals ------------------------------------------------------------------------------------


def test_a_form_choice_without_its_field_is_refused(forms: FormStore) -> None:
    for choice in ("form_units", "form_branches"):
        (problem,) = refused(forms, caller(choice))
        assert (problem["element_id"], problem["code"]) == ("fan", "fan_out_field")
        assert problem["template"] == "fanOut {value!r} needs fanOutField: the form field holding the chosen ids"


def test_an_unknown_choice_is_refused_naming_the_choices(forms: FormStore) -> None:
    (problem,) = refused(forms, caller("every_unit"))
    assert (problem["element_id"], problem["code"]) == ("fan", "fan_out_value")
    assert problem["params"]["value"] == "every_unit"
    assert "all_units (全部权属单位)" in problem["params"]["choices"]


def test_fan_out_on_an_element_that_cannot_fan_out_is_refused(forms: FormStore) -> None:
    # a user task without the multi-instance marker
    (problem,) = refused(forms, MI_TASK.format(lane="权属单位纪委", props=prop("fanOut", "all_units"), marker=""))
    assert (problem["element_id"], problem["code"]) == ("each", "fan_out_element")
    assert problem["template"] == "fanOut on a user task needs the multi-instance marker (parallel or sequential)"
    # a start event
    xml = caller("all_units").replace(
        '<bpmn:startEvent id="start" />',
        '<bpmn:startEvent id="start"><bpmn:extensionElements><spiffworkflow:properties>'
        + prop("fanOut", "all_units")
        + "</spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>",
    )
    (problem,) = refused(forms, xml)
    assert (problem["element_id"], problem["code"], problem["params"]) == (
        "start",
        "fan_out_element",
        {"tag": "startEvent"},
    )
    # fanOut beside a list of one's own
    marker = "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>xs</bpmn:loopDataInputRef></bpmn:multiInstanceLoopCharacteristics>"
    (problem,) = refused(forms, caller("all_units", marker=marker))
    assert (problem["element_id"], problem["template"]) == (
        "fan",
        "fanOut replaces loopDataInputRef: remove one of them",
    )


def test_roll_up_on_a_user_task_or_with_bad_names_is_refused(forms: FormStore) -> None:
    (problem,) = refused(forms, caller("all_units", extra=prop("rollUp", "comment, 2x")))
    assert (problem["element_id"], problem["code"]) == ("fan", "roll_up")
    xml = MI_TASK.format(lane="权属单位纪委", props=prop("rollUp", "comment"), marker="")
    (problem,) = refused(forms, xml)
    assert (problem["element_id"], problem["code"], problem["params"]) == ("each", "roll_up", {"tag": "userTask"})


def test_the_item_and_roll_up_variables_count_as_written(forms: FormStore) -> None:
    """No data-flow warning for a child reading `member`, nor for a script reading `<id>_rollup`."""
    xml = (
        caller(
            "unit_committee",
            start_lane="权属单位纪委",
            extra=prop("rollUp", "comment"),
            child_props=prop("assigneeVariable", "member"),
        )
        .replace(
            '<bpmn:sequenceFlow id="f2" sourceRef="fan" targetRef="after" />',
            '<bpmn:sequenceFlow id="f2" sourceRef="fan" targetRef="count" />'
            '<bpmn:scriptTask id="count" name="计数"><bpmn:script>n = len(fan_rollup)</bpmn:script></bpmn:scriptTask>'
            '<bpmn:sequenceFlow id="f2b" sourceRef="count" targetRef="after" />',
        )
        .replace(
            "<bpmn:flowNodeRef>after</bpmn:flowNodeRef>",
            "<bpmn:flowNodeRef>after</bpmn:flowNodeRef><bpmn:flowNodeRef>count</bpmn:flowNodeRef>",
        )
    )
    parsed = validate(xml, "fc.bpmn", forms, 1 << 20, lambda key: False)
    assert parsed.warnings == []


def test_a_large_fan_out_by_choice_is_continued_by_the_worker(
    sessions: Any, clock: Any, settings: Any, forms: FormStore
) -> None:
    """Asynchronous continuation (SANJI_ASYNC_FANOUT) works on the computed list as on a list variable."""
    from engine.core import async_jobs
    from engine.infra.db import write_intent

    asettings = settings.with_(async_mode="worker", async_fanout_threshold=1, async_batch=2)
    with write_intent(), sessions() as s:
        deploy(s, forms, clock, caller("all_units"))
        parent = Runtime(s, clock, asettings, forms).start("fc", {}, principal(s, "group_secretary")).id
        s.commit()
    with sessions() as s:
        assert s.scalars(select(ProcessInstance).where(ProcessInstance.parent_id == parent)).all() == []
    while async_jobs.run_due(sessions, clock, asettings, max_batches=1).children:
        pass
    with sessions() as s:
        got = s.scalars(
            select(ProcessInstance).where(ProcessInstance.parent_id == parent).order_by(ProcessInstance.item_index)
        ).all()
        assert [(c.item_index, c.scope_node_id, c.data["unit_id"]) for c in got] == [
            (i, u, u) for i, u in enumerate(UNITS)
        ]
