"""The process owner builds a small 专项整治 procedure in the modeler from the element templates
(模板 in the context pad, issue 19 item 4), picks the called unit process and the roll-up field,
deploys it from the browser; the group's next task page shows the units' reports as a table."""

from __future__ import annotations

import json
import re
from typing import Any

XML = "application/xml"
BPMN = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
NS = (
    f'{BPMN} xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"'
    ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" targetNamespace="http://sanji.example/bpmn"'
)

# the unit-level process, deployed beforehand: each unit reports (办理情况 = `report`)
UNIT = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS} id="Defs_zu">
  <bpmn:process id="zxzz_unit" name="单位专项整治" isExecutable="true">
    <bpmn:laneSet id="LS_zu"><bpmn:lane id="L_zu" name="权属单位纪委">
      <bpmn:flowNodeRef>zu_start</bpmn:flowNodeRef><bpmn:flowNodeRef>zu_report</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>zu_end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="zu_start" />
    <bpmn:sequenceFlow id="zu_f1" sourceRef="zu_start" targetRef="zu_report" />
    <bpmn:userTask id="zu_report" name="单位报告"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="formJsonSchemaFilename" value="common_report.json" />
    </spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="zu_f2" sourceRef="zu_report" targetRef="zu_end" />
    <bpmn:endEvent id="zu_end" />
  </bpmn:process>
</bpmn:definitions>
"""

# where the owner starts: a pool 专项整治 with the group's lane and a start event
START = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS} id="Defs_zx">
  <bpmn:collaboration id="C_zx"><bpmn:participant id="P_zx" name="专项整治" processRef="zxzz" /></bpmn:collaboration>
  <bpmn:process id="zxzz" name="专项整治" isExecutable="true">
    <bpmn:laneSet id="LS_zx"><bpmn:lane id="L_group" name="集团公司纪委"><bpmn:flowNodeRef>start</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start" name="开始" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="D_zx"><bpmndi:BPMNPlane id="PL_zx" bpmnElement="C_zx">
    <bpmndi:BPMNShape id="P_zx_di" bpmnElement="P_zx" isHorizontal="true"><dc:Bounds x="100" y="80" width="1000" height="220" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="L_group_di" bpmnElement="L_group" isHorizontal="true"><dc:Bounds x="130" y="80" width="970" height="220" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="172" width="36" height="36" /></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""

UNITS = [("xinsheng", "山东新升实业发展有限责任公司纪委"), ("xuchang", "许厂煤矿纪委"), ("daizhuang", "岱庄煤矿纪委")]


def append_template(page: Any, label: str) -> str:
    """模板 in the context pad of the selected element → the template by its label; returns the new element's id."""
    before = page.evaluate("() => window.ctl.modeler.get('selection').get()[0].id")
    page.click('.djs-context-pad.open [data-action="sanji-append-template"]')
    page.locator(".djs-popup .entry", has_text=label).first.click()
    page.wait_for_function(f"() => window.ctl.modeler.get('selection').get()[0]?.id !== {json.dumps(before)}")
    return page.evaluate("() => window.ctl.modeler.get('selection').get()[0].id")


def test_owner_builds_a_fan_out_with_roll_up_from_templates(web):
    r = web.api.post(
        "/api/v1/process-definitions?filename=zxzz_unit.bpmn", "owner", data=UNIT.encode(), content_type=XML
    )
    assert r.status_code == 201, r.get_json()
    web.page.add_init_script(f"window.sanjiInitialXML = {json.dumps(START)};")
    page = web.open("modeler", "owner")
    assert page.get_attribute("#root", "data-state") == "ready"
    # the palette offers 模板 too, with the catalogue in Chinese
    page.click('.djs-palette [data-action="sanji-templates"]')
    labels = page.locator(".djs-popup .entry .djs-popup-label").all_inner_texts()
    assert labels == [
        "下达任务",
        "分发到各单位",
        "分发到本单位各支部",
        "支部报告",
        "单位汇总",
        "审批",
        "集体研究",
        "签收",
        "督办",
    ]
    page.keyboard.press("Escape")

    page.evaluate(
        "() => window.ctl.modeler.get('selection').select(window.ctl.modeler.get('elementRegistry').get('start'))"
    )
    assign = append_template(page, "下达任务")
    fan = append_template(page, "分发到各单位")
    # the owner picks the unit process and the field to roll up
    assert page.locator('select[name="sanji-prop-fanOut"]').input_value() == "all_units"
    page.locator('select[name="sanji-called-element"]').select_option(value="zxzz_unit")
    page.locator('input[name="sanji-prop-rollUp"]').fill("report")
    page.wait_for_timeout(600)  # the panel debounces input
    summary = append_template(page, "单位汇总")
    page.click('.djs-context-pad.open [data-action="append.end-event"]')
    page.click('button[data-action="deploy"]')
    page.click('dialog.sanji-confirm[open] button[data-action="confirm-deploy"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.deployed")
    assert page.get_attribute("#root", "data-deployed") == "zxzz v1"
    assert not [e for e in web.errors if "pageerror" in e], web.errors

    # the deployed diagram holds the templates' properties
    d = web.api.get("/api/v1/process-definitions/zxzz/xml", "owner").get_data(as_text=True)
    assert 'name="fanOut" value="all_units"' in d and 'name="rollUp" value="report"' in d
    assert 'calledElement="zxzz_unit"' in d

    # the run, through the API as the demo users
    api = web.api
    r = api.post("/api/v1/process-definitions/zxzz/start", "group_secretary", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    (task,) = [t for t in api.tasks("group_secretary", status="open") if t["spec_id"] == assign]
    r = api.post(
        f"/api/v1/tasks/{task['id']}/complete",
        "group_secretary",
        json={"data": {"requirements": "开展薪酬分配专项整治", "deadline": "2027-01-20"}},
    )
    assert r.status_code == 200, r.get_json()
    for unit, _name in UNITS:
        (task,) = [t for t in api.tasks(f"{unit}_secretary", status="open") if t["spec_id"] == "zu_report"]
        r = api.post(
            f"/api/v1/tasks/{task['id']}/complete", f"{unit}_secretary", json={"data": {"report": f"{unit}已整改"}}
        )
        assert r.status_code == 200, r.get_json()
    (after,) = [t for t in api.tasks("group_secretary", status="open") if t["spec_id"] == summary]
    body = api.get(f"/api/v1/tasks/{after['id']}", "group_secretary").get_json()
    (rollup,) = body["rollups"]
    assert (rollup["variable"], rollup["title"]) == (f"{fan}_rollup", "分发到各单位")

    # the group's task page: a table of the units' reports by unit name
    page.goto(f"{web.url}/login")
    page.fill("#username", "group_secretary")
    page.fill("#password", "demo12345")
    page.click("#login-submit")
    page.wait_for_url(re.compile(r".*/tasks.*"))
    page.goto(f"{web.url}/tasks/{after['id']}")
    table = page.locator(f"section.rollup#rollup-{fan}_rollup")
    assert table.locator("h3").inner_text() == "分发到各单位"
    assert table.locator("th").all_inner_texts() == ["单位或支部", "办理情况"]
    rows = [r.locator("td").all_inner_texts() for r in table.locator("tr[data-node-id]").all()]
    assert rows == [[name, f"{unit}已整改"] for unit, name in UNITS]
