"""The process owner builds a small 专项整治 procedure in the modeler from the element templates
(模板 in the context pad, issue 19 item 4), picks the called unit process and the roll-up field,
deploys it from the browser; the group's next task page shows the units' reports as a table."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import sign_in

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
    sign_in(page, "group_secretary", base=web.url)
    page.goto(f"{web.url}/tasks/{after['id']}")
    table = page.locator(f"section.rollup#rollup-{fan}_rollup")
    assert table.locator("h3").inner_text() == "分发到各单位"
    assert table.locator("th").all_inner_texts() == ["单位或支部", "办理情况"]
    rows = [r.locator("td").all_inner_texts() for r in table.locator("tr[data-node-id]").all()]
    assert rows == [[name, f"{unit}已整改"] for unit, name in UNITS]


# ---- issue 19: a three-tier procedure from a new diagram, with a cron start, reaching the dashboard ----

BRANCHES = {
    "xinsheng": ["xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian"],
    "xuchang": ["xuchang-zongcai", "xuchang-juejin", "xuchang-tongfeng"],
    "daizhuang": ["daizhuang-caimei", "daizhuang-yunshu", "daizhuang-jidian"],
}


def lane_of(page: Any, process_id: str, name: str) -> str:
    return page.evaluate(
        """([pid, name]) => window.ctl.modeler.get('elementRegistry').filter(e => e.type === 'bpmn:Lane'
            && e.businessObject.name === name && e.parent.businessObject.processRef.id === pid)[0].id""",
        [process_id, name],
    )


def place_start_in(page: Any, lane_id: str) -> str:
    """The palette's start event, dropped by a click into the lane; returns its id."""
    box = page.locator(f'.djs-element[data-element-id="{lane_id}"]').bounding_box()
    x, y = box["x"] + 90, box["y"] + box["height"] / 2
    page.click('.djs-palette [data-action="create.start-event"]')
    page.mouse.move(x - 10, y)
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.keyboard.type("开始")  # the new event's label is open for typing
    page.keyboard.press("Enter")
    return page.evaluate(
        """(lane) => { const reg = window.ctl.modeler.get('elementRegistry');
            const l = reg.get(lane).businessObject;
            return (l.flowNodeRef || []).find(n => n.$type === 'bpmn:StartEvent').id; }""",
        lane_id,
    )


def select(page: Any, element_id: str) -> None:
    page.evaluate(
        "(id) => window.ctl.modeler.get('selection').select(window.ctl.modeler.get('elementRegistry').get(id))",
        element_id,
    )


def name_process(page: Any, process_id: str, name: str) -> None:
    """In the panel of the selected pool: its name, the process's id (the deployed key) and name."""
    page.locator('textarea[name="name"], input[name="name"]').first.fill(name)
    page.locator('input[name="processId"]').fill(process_id)
    page.locator('input[name="processName"]').fill(name)
    page.wait_for_timeout(600)  # the panel debounces input


def test_owner_builds_a_three_tier_procedure_from_a_new_diagram(web, app, clock, settings):
    """Issue 19's done-when: in a new diagram (a pool with the tier lanes already), the owner builds
    the group process (cron start chosen in words → 下达任务 → 分发到各单位) and, as pools of the same
    file added with 三级泳道, the unit process (分发到本单位各支部 → 单位汇总) and the branch process
    (支部报告, whose form records findings); deploys the three from the browser; the cron starts it;
    the findings the branches report appear on the dashboard narrowed to the procedure."""
    from api.extensions import state
    from engine.core.scheduler import tick

    page = web.open("modeler", "owner")
    assert page.get_attribute("#root", "data-state") == "ready"
    lanes = page.evaluate(
        "() => window.ctl.modeler.get('elementRegistry').filter(e => e.type === 'bpmn:Lane')"
        ".sort((a, b) => a.y - b.y).map(e => e.businessObject.name)"
    )
    assert lanes == ["集团公司纪委", "权属单位纪委", "基层党支部纪律检查委员"]

    # the group process: name it, make the start a timer started every quarter's first month, day 5, 10:00
    select(page, "Participant_new")
    name_process(page, "zxjc", "专项检查")
    select(page, "start")
    page.click('.djs-context-pad.open [data-action="replace"]')
    page.click('.djs-popup [data-id="replace-with-timer-start"]')
    page.locator('select[name="sanji-cron-kind"]').select_option(value="quarterly")
    page.locator('select[name="sanji-cron-day"]').select_option(value="5")
    page.locator('input[name="sanji-cron-time"]').fill("10:00")
    page.wait_for_timeout(600)
    reads = page.locator('[data-entry-id="sanji-cron-kind"] .bio-properties-panel-description').inner_text()
    assert reads == "按此发起：每季度首月（1、4、7、10月）5日 10:00（周期表达式 0 10 5 1,4,7,10 *）"
    assign = append_template(page, "下达任务")
    fan_units = append_template(page, "分发到各单位")

    # the unit process, a pool of this file: start in the unit lane → 分发到本单位各支部 → 单位汇总
    page.click('.djs-palette [data-action="sanji-tier-pool"]')
    heights = page.evaluate(
        """() => { const pool = window.ctl.modeler.get('selection').get()[0];
            return pool.children.filter(e => e.type === 'bpmn:Lane').sort((a, b) => a.y - b.y)
              .map(e => [e.businessObject.name, e.height]).concat([[pool.type, pool.height]]); }"""
    )
    assert heights == [
        ["集团公司纪委", 160],
        ["权属单位纪委", 160],
        ["基层党支部纪律检查委员", 160],
        ["bpmn:Participant", 480],
    ]
    name_process(page, "zxjc_unit", "单位专项检查")
    page.click('button[data-action="fit"]')
    place_start_in(page, lane_of(page, "zxjc_unit", "权属单位纪委"))
    fan_branches = append_template(page, "分发到本单位各支部")
    unit_summary = append_template(page, "单位汇总")
    page.click('.djs-context-pad.open [data-action="append.end-event"]')

    # the branch process: start in the branch lane → 支部报告 → end
    page.click('.djs-palette [data-action="sanji-tier-pool"]')
    name_process(page, "zxjc_branch", "支部专项检查")
    page.click('button[data-action="fit"]')
    place_start_in(page, lane_of(page, "zxjc_branch", "基层党支部纪律检查委员"))
    report = append_template(page, "支部报告")
    page.click('.djs-context-pad.open [data-action="append.end-event"]')

    # 被调用流程 lists the pools of the file by name; the owner picks them, and rolls up the reports
    select(page, fan_branches)
    called = page.locator('select[name="sanji-called-element"] option').all_inner_texts()
    assert "支部专项检查（本文件中的流程）" in called and "专项检查（本文件中的流程）" in called
    page.locator('select[name="sanji-called-element"]').select_option(value="zxjc_branch")
    page.locator('input[name="sanji-prop-rollUp"]').fill("report")
    page.wait_for_timeout(600)
    select(page, fan_units)
    page.locator('select[name="sanji-called-element"]').select_option(value="zxjc_unit")
    page.click('button[data-action="fit"]')
    select(page, fan_units)
    page.click('.djs-context-pad.open [data-action="append.end-event"]')

    page.click('button[data-action="fit"]')
    web.screenshot("templates-three-tier-procedure", full_page=False)
    page.click('button[data-action="deploy"]')
    page.wait_for_selector("dialog.sanji-confirm[open]")
    assert sorted(page.locator('dialog.sanji-confirm [data-role="new-versions"] li').all_inner_texts()) == [
        "专项检查 · 首次部署 v1",
        "单位专项检查 · 首次部署 v1",
        "支部专项检查 · 首次部署 v1",
    ]
    page.click('dialog.sanji-confirm[open] button[data-action="confirm-deploy"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.deployed")
    assert sorted(page.get_attribute("#root", "data-deployed").split(", ")) == [
        "zxjc v1",
        "zxjc_branch v1",
        "zxjc_unit v1",
    ]
    assert not [e for e in web.errors if "pageerror" in e], web.errors

    api = web.api
    (schedule,) = [s for s in api.get("/api/v1/schedules", "admin").get_json()["items"] if s["process_key"] == "zxjc"]
    assert schedule["next_fire_times"][0] == "2027-01-05T10:00:00+08:00"
    # the scheduler's tick at 10:00 starts the procedure: no one starts it by hand
    clock.set("2027-01-05T10:00:30+08:00")
    api.tokens.clear()
    assert len(tick(state(app).sessions, clock, settings).started) == 1
    (task,) = [t for t in api.tasks("group_secretary", status="open") if t["spec_id"] == assign]
    assert task["due_at"]  # the template's deadline (办理期限 P5D)
    r = api.post(
        f"/api/v1/tasks/{task['id']}/complete",
        "group_secretary",
        json={"data": {"requirements": "开展作风建设专项检查", "deadline": "2027-01-20"}},
    )
    assert r.status_code == 200, r.get_json()

    # every branch commissioner reports; xuchang's branches find something
    for unit, branches in BRANCHES.items():
        for branch in branches:
            user = branch.replace("-", "_")
            (task,) = [t for t in api.tasks(user, status="open") if t["spec_id"] == report]
            findings = (
                [{"title": "值班记录缺失", "classification": "即知即改"}, {"title": "公车私用苗头"}]
                if unit == "xuchang"
                else []
            )
            r = api.post(
                f"/api/v1/tasks/{task['id']}/complete",
                user,
                json={"data": {"report": f"{branch}已自查", "findings": findings}},
            )
            assert r.status_code == 200, r.get_json()
    for unit in BRANCHES:
        (task,) = [t for t in api.tasks(f"{unit}_secretary", status="open") if t["spec_id"] == unit_summary]
        body = api.get(f"/api/v1/tasks/{task['id']}", f"{unit}_secretary").get_json()
        (rollup,) = body["rollups"]
        assert [row["report"] for row in rollup["rows"]] == [f"{b}已自查" for b in BRANCHES[unit]]
        r = api.post(f"/api/v1/tasks/{task['id']}/complete", f"{unit}_secretary", json={"data": {"summary": "已汇总"}})
        assert r.status_code == 200, r.get_json()
    (inst,) = api.get("/api/v1/process-instances", "group_secretary", query_string={"key": "zxjc"}).get_json()["items"]
    assert inst["status"] == "completed"

    # the findings chart, narrowed to the procedure: xuchang's six in January (three 即知即改, three not classified)
    r = api.get("/api/v1/dashboard/findings", "group_secretary", query_string={"year": 2027, "process_key": "zxjc"})
    assert r.status_code == 200, r.get_json()
    rows = {(row["unit_id"], row["month"]): row for row in r.get_json()["rows"] if row["total"]}
    assert {k: (v["immediate_fix"], v["pending"], v["total"]) for k, v in rows.items()} == {
        ("xuchang", "2027-01"): (3, 3, 6)
    }

    # and on the dashboard page, 按流程筛选 → 专项检查 (the called processes are not offered)
    sign_in(page, "group_secretary", base=web.url)
    page.goto(f"{web.url}/dashboard")
    offered = page.locator("#filter-procedure option").all_inner_texts()
    assert "专项检查" in offered and "单位专项检查" not in offered and "支部专项检查" not in offered
    page.locator("#filter-procedure").select_option(label="专项检查")
    page.click("#dashboard-filters button[type=submit]")
    page.wait_for_function("() => document.querySelector('#chart-findings').dataset.state === 'ready'")
    assert "process_key=zxjc" in page.url
    assert page.get_attribute("#chart-findings", "data-total") == "6"
    assert page.inner_text("#shown-procedure") == "专项检查"
