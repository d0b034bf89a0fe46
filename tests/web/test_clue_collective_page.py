"""问题线索处置 on the pages: the 重大 clue's 集体研究 step (a form whose only field is the engine's
collective record) is filled in on the task page and shows on the instance page."""
from __future__ import annotations

from tests.api.test_decisions import ATTENDEES
from tests.conftest import ROOT


def test_collective_study_of_a_major_clue_on_the_task_page(web, api, clock):
    assert api.deploy(ROOT / "processes" / "clue_disposal.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_member", json={"variables": {}})
    inst = r.get_json()
    [reg] = [t for t in api.tasks("xinsheng_member") if t["instance_id"] == inst["id"]]
    data = {"clue_origin": "信访举报", "clue_person": "刘某", "clue_facts": "违规发放福利", "received_date": "2027-01-05"}
    assert api.post(f"/api/v1/tasks/{reg['id']}/complete", "xinsheng_member", json={"data": data}).status_code == 200
    [assess] = [t for t in api.tasks("xinsheng_member") if t["spec_id"] == "assess"]
    r = api.post(f"/api/v1/tasks/{assess['id']}/complete", "xinsheng_member",
                 json={"data": {"clue_level": "重大", "disposal": "初步核实", "assess_opinion": "需初步核实"}})
    assert r.get_json()["status"] == "held"
    [approval] = [t for t in api.tasks("xinsheng_secretary") if t["spec_id"] == "assess"]
    r = api.post(f"/api/v1/tasks/{approval['id']}/complete", "xinsheng_secretary", json={"data": {"decision": "approve"}})
    assert r.status_code == 200
    [meeting] = [t for t in api.tasks("xinsheng_member") if t["spec_id"] == "collective_study"]
    web.login("xinsheng_member")
    html = web.get(f"/tasks/{meeting['id']}").get_data(as_text=True)
    assert "集体研究重大问题线索" in html and 'id="collective"' in html and all(n in html for n in ATTENDEES)
    # one 集体研究 part (the engine's), no empty heading for the form's record field; votes labelled in Chinese
    assert 'id="f-collective"' not in html and html.count("<legend>集体研究记录</legend>") == 1
    assert '<label>同意 <input type="number" min="0" name="collective_votes_agree"' in html and "发起单位" not in html
    form = {"collective_meeting_date": clock.now().date().isoformat(), "collective_attendees": ATTENDEES,
            "collective_decision": "同意初步核实，报集团公司纪委", "collective_votes_agree": "3",
            "collective_votes_against": "0", "collective_votes_abstain": "0"}
    r = web.post(f"/tasks/{meeting['id']}", form)
    assert r.status_code == 302, r.get_data(as_text=True)[-3000:]
    assert [t["spec_id"] for t in api.tasks("group_secretary")] == ["group_review"]
    html = web.get(f"/instances/{inst['id']}").get_data(as_text=True)
    assert "同意初步核实，报集团公司纪委" in html and "同意 3 票，反对 0 票，弃权 0 票" in html
    html = web.get(f"/tasks/{meeting['id']}").get_data(as_text=True)  # done: the record, no empty heading
    assert "<dt>集体研究记录</dt>" not in html and "同意 3 票，反对 0 票，弃权 0 票" in html
