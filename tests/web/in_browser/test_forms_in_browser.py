"""In Chromium (issue 15 item 2): the process owner adds a user task to a diagram in the modeler,
makes a brand-new form for it with 新建表单 (the form editor opens in a new tab: CodeMirror, problems
on their line, the live preview), deploys the form and the diagram, and a branch commissioner
completes the new step on the task page, choosing a branch by its name. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re

import pytest

from engine.infra.settings import ROOT
from tests.web.in_browser.conftest import shot, sign_in

MISSING = [
    b for b in ("modeler.js", "form-editor.js", "bpmn.css") if not (ROOT / "api" / "static" / "vendor" / b).exists()
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"the front-end bundles {', '.join(MISSING)} are missing (make setup: npm ci + node build.mjs)",
    ),
]

# start → end in the branch lane; the owner puts a user task between them
BASE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="Defs_form_trial" targetNamespace="http://sanji.example/bpmn">
  <bpmn:collaboration id="Collab">
    <bpmn:participant id="pool" name="情况说明" processRef="form_trial" />
  </bpmn:collaboration>
  <bpmn:process id="form_trial" name="情况说明" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="lane_branch" name="基层党支部纪律检查委员">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="开始" />
    <bpmn:sequenceFlow id="flow" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end" name="结束" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="D">
    <bpmndi:BPMNPlane id="P" bpmnElement="Collab">
      <bpmndi:BPMNShape id="pool_di" bpmnElement="pool" isHorizontal="true"><dc:Bounds x="100" y="60" width="700" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="lane_di" bpmnElement="lane_branch" isHorizontal="true"><dc:Bounds x="130" y="60" width="670" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="142" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="700" y="142" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_di" bpmnElement="flow"><di:waypoint x="216" y="160" /><di:waypoint x="700" y="160" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""

FORM = {
    "title": "情况说明",
    "type": "object",
    "required": ["note", "level", "branch"],
    "properties": {
        "note": {"type": "string", "title": "说明"},
        # a field that knows the organisation (form-fields): the task unit's branches, picked by name
        "branch": {"type": "string", "title": "相关支部", "x-source": "branches", "x-widget": "select"},
        "level": {
            "type": "string",
            "title": "等级",
            "enum": ["low", "mid", "high", "top", "max"],
            "enumNames": ["一般", "较重", "重要", "紧急", "特急"],
        },
    },
}


def wait_ready(page, selector: str) -> None:
    page.wait_for_function(
        """sel => { const el = document.querySelector(sel);
        return el && (el.dataset.state === 'ready' || el.dataset.state === 'error'); }""",
        arg=selector,
    )
    assert page.get_attribute(selector, "data-state") == "ready", page.inner_text(selector)[:500]


def test_owner_adds_a_task_with_a_new_form_and_a_commissioner_completes_it(pages, api):
    r = api.post(
        "/api/v1/process-definitions?filename=form_trial.bpmn",
        "owner",
        data=BASE.encode(),
        content_type="application/xml",
    )
    assert r.status_code == 201, r.get_json()
    page = pages.new()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    sign_in(page, "owner")
    page.goto("/processes/form_trial/edit")
    wait_ready(page, "#modeler")
    page.wait_for_function("() => window.sanjiModeler")
    # the owner puts a user task between start and end
    page.evaluate("""() => { const m = window.sanjiModeler.modeler, reg = m.get('elementRegistry'),
        modeling = m.get('modeling'), factory = m.get('elementFactory');
        modeling.removeElements([reg.get('flow')]);
        const task = modeling.appendShape(reg.get('start'), factory.createShape({ type: 'bpmn:UserTask' }),
                                          { x: 420, y: 160 }, reg.get('pool'));
        modeling.updateProperties(task, { id: 'fill_note', name: '填写情况说明' });
        modeling.connect(task, reg.get('end'));
    }""")
    page.click('#modeler g.djs-element[data-element-id="fill_note"]')
    # 新建表单: the form is named after the process and the task, the editor opens in a new tab
    with page.context.expect_page() as opened:
        page.click("button.sanji-form-new")
    editor = opened.value
    editor.on("pageerror", lambda exc: errors.append(f"editor pageerror: {exc}"))
    editor.wait_for_load_state()
    assert "key=form_trial_fill_note.json" in editor.url
    wait_ready(editor, "#form-editor")
    assert editor.locator("#form-heading").inner_text() == "新表单"
    assert editor.locator("#form-preview textarea").count() == 1  # the starter form, previewed
    # a typo: the problem is listed and marked on its line
    editor.evaluate(
        """text => window.SanjiFormEditor.setText(text)""",
        '{\n  "type": "object",\n  "properties": {\n    "note": {"type": "strin"}\n  }\n}',
    )
    editor.click("#form-check")
    editor.wait_for_selector("#form-problems li")
    assert editor.locator("#form-problems li").first.get_attribute("data-line") == "4"
    assert editor.locator(".cm-lintRange-error").count() >= 1
    shot(editor, "forms-01-editor-problem")
    # the real form: typed into the editor; the preview follows
    editor.evaluate("() => window.SanjiFormEditor.setText('')")
    editor.click(".cm-content")
    editor.keyboard.insert_text(json.dumps(FORM, ensure_ascii=False, indent=2))
    editor.wait_for_function("() => document.querySelector('#form-preview select[name=\"level\"]') !== null")
    assert "特急" in editor.inner_text("#form-preview")
    assert editor.locator("#form-problems").is_hidden()
    shot(editor, "forms-02-editor-preview")
    editor.click("#form-deploy")
    editor.wait_for_function("() => document.querySelector('#form-editor').dataset.deployed === '1'")
    assert "版本 1" in editor.inner_text("#form-status")
    editor.close()
    # back in the modeler: the diagram validates and deploys as version 2, pinning the form
    page.click('button[data-action="validate"]')
    page.wait_for_function("() => document.querySelector('#modeler').dataset.validated === 'valid'")
    page.click('button[data-action="deploy"]')
    page.wait_for_selector("dialog.sanji-confirm[open]")  # the modeler confirms what gets a new version
    page.click('dialog.sanji-confirm button[data-action="confirm-deploy"]')
    page.wait_for_selector("#deployed:not([hidden])")
    assert page.get_attribute("#deployed", "data-version") == "2"
    shot(page, "forms-03-modeler-deployed")
    form = api.get("/api/v1/forms/form_trial_fill_note.json", "owner").get_json()
    assert (form["version"], form["created_by"], form["schema"]) == (1, "owner", FORM)
    # a commissioner starts it and completes the new step on the task page
    inst = api.post("/api/v1/process-definitions/form_trial/start", "xinsheng_laogan", json={"variables": {}})
    assert inst.status_code == 201, inst.get_json()
    [task] = inst.get_json()["open_tasks"]
    worker = pages.new()
    sign_in(worker, "xinsheng_laogan")
    worker.goto(f"/tasks/{task['id']}")
    worker.fill("#f-note", "支部已完成自查")
    worker.select_option("select[name='level']", "high")
    worker.select_option("select[name='branch']", label="机电维修车间党支部")  # by name, never an id
    shot(worker, "forms-04-task-page")
    worker.click("#submit")
    worker.wait_for_url(re.compile(r".*/tasks(\?.*)?$"))
    done = api.get(f"/api/v1/process-instances/{inst.get_json()['id']}", "xinsheng_laogan").get_json()
    assert done["status"] == "completed"
    assert api.get(f"/api/v1/tasks/{task['id']}", "xinsheng_laogan").get_json()["data"] == {
        "note": "支部已完成自查",
        "level": "high",
        "branch": "xinsheng-jidian",
    }
    assert errors == []
