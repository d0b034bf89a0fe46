"""退回 through the API: a form value routes the diagram back, logged as task_sent_back."""
from __future__ import annotations

from tests.conftest import BPMN

REPORT = {"report_date": "2027-01-05", "summary": "本月情况正常",
          "findings": [{"kind": "fix_now", "description": "台账不全", "fixed": True}]}


def test_send_back_reopens_the_previous_step_with_the_reason(api):
    assert api.deploy(BPMN / "web_report.bpmn").status_code == 201
    inst = api.post("/api/v1/process-definitions/web_report/start", "xinsheng_laogan", json={"variables": {}}).get_json()
    write = inst["open_tasks"][0]
    assert api.post(f"/api/v1/tasks/{write['id']}/complete", "xinsheng_laogan", json={"data": REPORT}).status_code == 200
    [review] = api.tasks("xinsheng_member")
    # sending back without a reason is refused by the form's condition, naming the field
    r = api.post(f"/api/v1/tasks/{review['id']}/complete", "xinsheng_member", json={"data": {"decision": "return"}})
    assert r.status_code == 422
    assert r.get_json()["details"] == [{"field": "return_reason", "code": "required", "params": {},
                                        "message": "this field is required",
                                 "rule": "required"}]
    r = api.post(f"/api/v1/tasks/{review['id']}/complete", "xinsheng_member",
                 json={"data": {"decision": "return", "return_reason": "请补充整改情况"}})
    assert r.status_code == 200
    [again] = api.tasks("xinsheng_laogan")
    assert again["spec_id"] == "write_report" and again["id"] != write["id"]
    history = api.get(f"/api/v1/process-instances/{inst['id']}/history", "xinsheng_member").get_json()["items"]
    sent = [e for e in history if e["type"] == "task_sent_back"]
    assert len(sent) == 1 and sent[0]["payload"]["reason"] == "请补充整改情况" and sent[0]["actor"] == "xinsheng_member"
    # the second round is approved: no send-back event, the instance completes
    assert api.post(f"/api/v1/tasks/{again['id']}/complete", "xinsheng_laogan", json={"data": REPORT}).status_code == 200
    [review2] = api.tasks("xinsheng_member")
    r = api.post(f"/api/v1/tasks/{review2['id']}/complete", "xinsheng_member",
                 json={"data": {"decision": "accept", "comment": "同意"}})
    assert r.status_code == 200 and r.get_json()["instance_status"] == "completed"
    history = api.get(f"/api/v1/process-instances/{inst['id']}/history", "xinsheng_member").get_json()["items"]
    assert [e["type"] for e in history].count("task_sent_back") == 1
