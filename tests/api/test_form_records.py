"""Findings count wherever they are made (issue 19): a form field marked `"x-record": "findings"`
becomes a `form_findings` record of the task's org node on completion, and the dashboard's findings
chart counts it, also when narrowed to the procedure (`process_key`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.models import Record

XML = "application/xml"
DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_xr" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="{key}" name="支部自查" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L" name="基层党支部纪律检查委员">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>check</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:userTask id="check" name="自查登记">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def deploy(api: Any, key: str, form: str = "xrecord_findings.json") -> Any:
    xml = DIAGRAM.replace("{key}", key).replace("{form}", form)
    return api.post(f"/api/v1/process-definitions?filename={key}.bpmn", "owner", data=xml.encode(), content_type=XML)


def test_x_record_findings_feed_the_dashboard_by_procedure(api: Any, app: Any, clock: Any) -> None:
    assert deploy(api, "selfcheck").status_code == 201
    assert deploy(api, "othercheck").status_code == 201
    r = api.post("/api/v1/process-definitions/selfcheck/start", "xinsheng_wuye", json={"variables": {"branch_id": "xinsheng-wuye"}})
    assert r.status_code == 201, r.get_json()
    (task,) = api.tasks("xinsheng_wuye", status="open")
    findings = [
        {"title": "值班记录缺失", "classification": "即知即改"},
        {"title": "公车使用不规范", "classification": "苗头性、倾向性问题"},
        {"title": "待研判的问题"},
    ]
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "xinsheng_wuye",
                 json={"data": {"summary": "本月自查", "findings": findings}})
    assert r.status_code == 200, r.get_json()

    with app.extensions["sanji"].sessions() as s:
        (rec,) = s.scalars(select(Record).where(Record.kind == "form_findings")).all()
        assert (rec.node_id, rec.unit_id, rec.confidential) == ("xinsheng-wuye", "xinsheng", True)
        assert rec.data["process_key"] == "selfcheck" and rec.data["field"] == "findings"
        assert [f["classification"] for f in rec.data["findings"]] == ["immediate_fix", "tendency", None]

    now = clock.now().astimezone(app.extensions["sanji"].settings.zone)
    month = f"{now.year}-{now.month:02d}"

    def xinsheng_row(**params: Any) -> dict[str, Any]:
        r = api.get("/api/v1/dashboard/findings", "group_secretary", query_string={"year": now.year, **params})
        assert r.status_code == 200, r.get_json()
        return next(row for row in r.get_json()["rows"] if row["month"] == month and row["unit_id"] == "xinsheng")

    counts = ("immediate_fix", "tendency", "discipline_violation", "pending", "total")
    assert tuple(xinsheng_row()[k] for k in counts) == (1, 1, 0, 1, 3)
    assert tuple(xinsheng_row(process_key="selfcheck")[k] for k in counts) == (1, 1, 0, 1, 3)
    assert tuple(xinsheng_row(process_key="othercheck")[k] for k in counts) == (0, 0, 0, 0, 0)
    r = api.get("/api/v1/dashboard/findings", "group_secretary", query_string={"process_key": "nowhere"})
    assert r.status_code == 404


def test_an_unknown_x_record_kind_is_refused_at_deploy(api: Any) -> None:
    r = deploy(api, "badcheck", "xrecord_bad.json")
    assert r.status_code == 422
    messages = [d["message"] for d in r.get_json()["details"]]
    assert "form 'xrecord_bad.json': notes: x-record 'finding' is not a record kind; use one of findings" in messages
