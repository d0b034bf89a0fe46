"""Deploy-time checks (engine/core/deploy_checks.py): one diagram per check that fails it, on
the element, with the problem's code; warnings let the deploy through; auto-layout on deploy."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from lxml import etree

from engine.core import layout, repository, script_names
from engine.core.forms import FormStore
from engine.core.script_helpers import ScriptHelpers
from engine.core.validation import ParsedFile, validate
from engine.errors import Invalid
from engine.infra.settings import Settings
from engine.platform.study import script_helpers as platform_helpers

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_dc" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="dc" name="检查" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_branch" name="{lane}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>prepare</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>report</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare" />
    <bpmn:scriptTask id="prepare" name="准备">
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="report" />
    <bpmn:userTask id="report" name="支部报告">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="simple.schema.json" />
          {props}
        </spiffworkflow:properties>
        {post}
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="report" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def diagram(
    *, script: str = "period = today()", props: str = "", post: str = "", lane: str = "基层党支部纪律检查委员"
) -> str:
    return TEMPLATE.format(script=script, props=props, post=post, lane=lane)


def prop(name: str, value: str) -> str:
    return f'<spiffworkflow:property name="{name}" value="{value}" />'


def check(forms: FormStore, xml: str) -> ParsedFile:
    return validate(xml, "dc.bpmn", forms, 1 << 20, lambda key: False)


def refused(forms: FormStore, xml: str) -> list[dict[str, Any]]:
    with pytest.raises(Invalid) as exc:
        check(forms, xml)
    return list(exc.value.details)


def test_a_clean_diagram_passes_without_warnings(forms: FormStore) -> None:
    parsed = check(forms, diagram(post="<spiffworkflow:postScript>summary = comment</spiffworkflow:postScript>"))
    assert [p.key for p in parsed.processes] == ["dc"]
    assert parsed.warnings == []


def test_unknown_helper_is_refused_on_the_element(forms: FormStore) -> None:
    (problem,) = refused(forms, diagram(script="unit_ids = org_unit_list()"))
    assert (problem["element_id"], problem["code"], problem["severity"]) == ("prepare", "unknown_helper", "error")
    assert problem["template"] == "{where} calls {name}(), which is not a script helper: did you mean {suggestion}()?"
    assert (problem["params"]["name"], problem["params"]["suggestion"]) == ("org_unit_list", "org_units")
    assert problem["line"] == 16  # the line of the call in the file


def test_a_postscript_reading_a_field_the_form_lacks_is_a_warning(forms: FormStore) -> None:
    parsed = check(forms, diagram(post="<spiffworkflow:postScript>summary = findings</spiffworkflow:postScript>"))
    (warning,) = parsed.warnings
    assert (warning.element_id, warning.code, warning.severity) == ("report", "form_field_missing", "warning")
    assert warning.msg is not None and warning.msg.params["name"] == "findings"
    assert warning.msg.params["form"] == "simple.schema.json"


def test_a_script_reading_a_variable_no_step_writes_is_a_warning(forms: FormStore) -> None:
    parsed = check(forms, diagram(script="label = org_name(branch_id) + topic"))
    (warning,) = parsed.warnings
    assert (warning.element_id, warning.code) == ("prepare", "unknown_name")
    assert warning.msg is not None and warning.msg.params["name"] == "topic"


def test_names_set_earlier_in_the_script_or_tested_in_try_are_not_reported(forms: FormStore) -> None:
    script = "try:\n    x = topic\nexcept NameError:\n    x = ''\nrows = [r for r in org_branches(unit_id)]\ny = x + str(len(rows))"
    assert check(forms, diagram(script=script)).warnings == []


def test_unknown_property_is_refused(forms: FormStore) -> None:
    (problem,) = refused(forms, diagram(props=prop("dueDays", "7")))
    assert (problem["element_id"], problem["code"]) == ("report", "unknown_property")
    assert problem["template"] == "unknown property {name!r}: the engine reads only {known}"
    assert problem["params"]["name"] == "dueDays" and "dueIn" in problem["params"]["known"]
    (problem,) = refused(forms, diagram(props=prop("candidateRole", "member")))
    assert problem["params"] == {"name": "candidateRole", "suggestion": "candidateRoles"}


def test_candidate_role_nobody_on_the_lane_tier_holds_is_refused(forms: FormStore) -> None:
    (problem,) = refused(forms, diagram(props=prop("candidateRoles", "secretary")))
    assert (problem["element_id"], problem["code"]) == ("report", "role_not_on_tier")
    assert problem["params"]["role"] == "secretary"
    assert problem["params"]["lane"] == "基层党支部纪律检查委员"
    check(forms, diagram(props=prop("candidateRoles", "secretary"), lane="权属单位纪委"))  # a unit has one


@pytest.mark.parametrize(
    ("value", "template"),
    [
        (
            "7天",
            "dueIn {value!r} is not a duration: write {suggestion}; durations are written as P7D (7 days) or P1M (1 month)",
        ),
        ("seven days", "dueIn {value!r} is not a duration: durations are written as P7D (7 days) or P1M (1 month)"),
    ],
)
def test_bad_duration_says_how_to_write_it(forms: FormStore, value: str, template: str) -> None:
    (problem,) = refused(forms, diagram(props=prop("dueIn", value)))
    assert (problem["element_id"], problem["code"], problem["template"]) == ("report", "bad_duration", template)
    if "suggestion" in template:
        assert problem["params"]["suggestion"] == "P7D"


@pytest.mark.parametrize("value", ["next friday", "2027-01-10", "&quot;next friday&quot;"])
def test_bad_date_says_how_to_write_it(forms: FormStore, value: str) -> None:
    (problem,) = refused(forms, diagram(props=prop("dueAt", value)))
    assert (problem["element_id"], problem["code"]) == ("report", "bad_date")


@pytest.mark.parametrize("value", ["&quot;2027-01-10&quot;", "add_days(today(), 7)", "month_end()"])
def test_good_dates_pass(forms: FormStore, value: str) -> None:
    check(forms, diagram(props=prop("dueAt", value)))


CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_up" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="up" name="汇总" isExecutable="true">
    <bpmn:property id="branch_ids" name="branch_ids" />
    <bpmn:property id="summaries" name="summaries" />
    <bpmn:laneSet id="LS_up">
      <bpmn:lane id="L_unit" name="权属单位纪委">
        <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>list</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>fan</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="s" />
    <bpmn:sequenceFlow id="u1" sourceRef="s" targetRef="list" />
    <bpmn:scriptTask id="list" name="列出支部"><bpmn:script>branch_ids = org_branches(unit_id)</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="u2" sourceRef="list" targetRef="fan" />
    <bpmn:callActivity id="fan" name="各支部报告" calledElement="down">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopDataInputRef>branch_ids</bpmn:loopDataInputRef>
        <bpmn:loopDataOutputRef>summaries</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="fan_in" name="branch_id" />
        <bpmn:outputDataItem id="fan_out" name="{output}" />
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:callActivity>
    <bpmn:sequenceFlow id="u3" sourceRef="fan" targetRef="e" />
    <bpmn:endEvent id="e" />
  </bpmn:process>
  <bpmn:process id="down" name="支部报告" isExecutable="true">
    <bpmn:laneSet id="LS_down">
      <bpmn:lane id="L_b" name="基层党支部纪律检查委员">
        <bpmn:flowNodeRef>ds</bpmn:flowNodeRef><bpmn:flowNodeRef>write</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>de</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="ds" />
    <bpmn:sequenceFlow id="d1" sourceRef="ds" targetRef="write" />
    <bpmn:userTask id="write" name="填报">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="simple.schema.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="d2" sourceRef="write" targetRef="de" />
    <bpmn:endEvent id="de" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_output_variable_no_step_of_the_child_writes_is_a_warning(forms: FormStore) -> None:
    assert check(forms, CALLER.replace("{output}", "comment")).warnings == []
    parsed = check(forms, CALLER.replace("{output}", "coment"))
    (warning,) = parsed.warnings
    assert (warning.element_id, warning.code) == ("fan", "output_not_written")
    assert warning.msg is not None and warning.msg.params == {
        "name": "coment",
        "where": "down",
        "suggestion": "comment",
    }


def test_output_variable_of_a_deployed_child_is_checked_against_its_deployed_version(
    session: Any, forms: FormStore
) -> None:
    """The called process deployed on its own: the check reads its deployed version."""
    both = CALLER.replace("{output}", "comment")
    child_only = both[: both.index('  <bpmn:process id="up"')] + both[both.index('  <bpmn:process id="down"') :]
    parent_only = both[: both.index('  <bpmn:process id="down"')] + "</bpmn:definitions>\n"
    repository.deploy(session, child_only, "down.bpmn", "owner", datetime(2027, 1, 1, tzinfo=UTC), forms, 1 << 20)
    deployed = repository.deployed_xml(session)
    check_parent = parent_only.replace('name="comment"', 'name="coment"')
    assert validate(parent_only, "up.bpmn", forms, 1 << 20, lambda key: True, deployed=deployed).warnings == []
    (warning,) = validate(check_parent, "up.bpmn", forms, 1 << 20, lambda key: True, deployed=deployed).warnings
    assert (warning.element_id, warning.code) == ("fan", "output_not_written")


def test_node_and_assignee_variables_no_step_writes_are_warnings(forms: FormStore) -> None:
    parsed = check(forms, diagram(props=prop("assigneeVariable", "reviewer")))
    (warning,) = parsed.warnings
    assert (warning.element_id, warning.code) == ("report", "unknown_name")
    assert warning.msg is not None and warning.msg.params["name"] == "reviewer"
    assert check(forms, diagram(script="reviewer = 'u1'", props=prop("assigneeVariable", "reviewer"))).warnings == []


def test_warnings_do_not_stop_a_deploy_and_are_returned(session: Any, forms: FormStore) -> None:
    xml = diagram(post="<spiffworkflow:postScript>summary = findings</spiffworkflow:postScript>")
    result = repository.deploy(session, xml, "dc.bpmn", "owner", datetime(2027, 1, 1, tzinfo=UTC), forms, 1 << 20)
    assert result.created is True
    assert [(w.element_id, w.code) for w in result.warnings] == [("report", "form_field_missing")]


def test_deploy_lays_out_a_diagram_without_layout(session: Any, forms: FormStore) -> None:
    xml = CALLER.replace("{output}", "comment")
    assert "BPMNShape" not in xml
    result = repository.deploy(session, xml, "up.bpmn", "owner", datetime(2027, 1, 1, tzinfo=UTC), forms, 1 << 20)
    stored = etree.fromstring(result.definitions[0].xml.encode())
    di = "{http://www.omg.org/spec/BPMN/20100524/DI}"
    shapes = {s.get("bpmnElement") for s in stored.iter(f"{di}BPMNShape")}
    edges = {s.get("bpmnElement") for s in stored.iter(f"{di}BPMNEdge")}
    nodes = {"s", "list", "fan", "e", "ds", "write", "de"}
    assert nodes | {"L_unit", "L_b", "P_up", "P_down"} == shapes
    assert edges == {"u1", "u2", "u3", "d1", "d2"}
    assert result.definitions[0].sha256 == repository.validate(xml, "up.bpmn", forms, 1 << 20).sha256


def test_a_diagram_with_layout_is_stored_as_it_came() -> None:
    xml = (Path(__file__).resolve().parents[2] / "processes" / "special_inspection.bpmn").read_text(encoding="utf-8")
    root = etree.fromstring(xml.encode())
    assert layout.has_layout(root)


def test_nodes_in_no_lane_are_laid_out_too() -> None:
    root = etree.fromstring(
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">'
        b'<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="a"/>'
        b'<bpmn:sequenceFlow id="f" sourceRef="a" targetRef="b"/><bpmn:scriptTask id="b"><bpmn:script>x = 1</bpmn:script>'
        b"</bpmn:scriptTask></bpmn:process></bpmn:definitions>"
    )
    text = layout.laid_out(root)
    assert 'bpmnElement="a"' in text and 'bpmnElement="b"' in text and 'bpmnElement="f"' in text


def test_the_helper_names_match_what_a_running_script_gets(settings: Settings) -> None:
    """script_names lists the helpers by name (deploy needs no database): keep it in step."""
    fake = SimpleNamespace(session=None, _group=lambda: "g")
    org_names = set(ScriptHelpers._org_helpers(fake, None))  # type: ignore[arg-type]
    record_names = set(ScriptHelpers._record_helpers(fake, None, None))  # type: ignore[arg-type]
    assert org_names == script_names.ORG_HELPERS
    assert record_names == script_names.RECORD_HELPERS
    assert set(platform_helpers(None, None, settings)) == script_names.PLATFORM_HELPERS  # type: ignore[arg-type]


def test_decision_properties_take_only_known_values(forms: FormStore) -> None:
    """issue 17: approval, collective and sign are refused on the element with a value the engine does not know."""
    unit = "权属单位纪委"
    check(forms, diagram(props=prop("approval", "secretary,deputy_secretary") + prop("collective", "required")
                         + prop("cc", "secretary@group,xuchang,unit,form"), lane=unit))
    for props, lane, template in [
        (prop("approval", "boss"), unit, "approval: {value!r} is not a committee role; write secretary or a list of {roles}"),
        (prop("approval", "secretary"), "基层党支部纪律检查委员",
         "approval: a task in lane {lane} has no committee on its node to approve it"),
        (prop("collective", "yes"), unit, "collective: {value!r} is not one of {allowed}"),
        (prop("sign", "some"), unit, "sign: {value!r} is not one of {allowed}"),
        (prop("sign", "all"), unit,
         "sign: 会签 and 或签 need a parallel multi-instance user task (one instance per signer)"),
        (prop("signers", "committee"), unit, "signers needs sign (all or any) on the same task"),
        (prop("cc", "boss@group"), unit, "cc: {entry!r} is neither an org node id, role@node, unit, group nor form"),
        (prop("cc", "集团 纪委"), unit, "cc: {entry!r} is neither an org node id, role@node, unit, group nor form"),
    ]:
        (problem,) = refused(forms, diagram(props=props, lane=lane))
        assert (problem["element_id"], problem["code"], problem["template"]) == ("report", "bad_decision_property", template)


def test_a_signing_task_must_be_assigned_to_its_signer(forms: FormStore) -> None:
    xml = (Path(__file__).parent.parent / "bpmn" / "decision_sign.bpmn").read_text(encoding="utf-8")
    assert check(forms, xml).warnings == []  # the engine writes the signatures (no output_not_written)
    unassigned = xml.replace('<spiffworkflow:property name="assigneeVariable" value="signer"/>', "", 1)
    (problem,) = refused(forms, unassigned)
    assert (problem["element_id"], problem["code"], problem["params"]) == (
        "countersign", "bad_decision_property", {"item": "signer"})
