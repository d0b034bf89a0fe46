"""Issue 17 on the pages: the approval form, the return banner with the previous data, the
collective record and the records on the task and instance pages (in Chinese)."""
from __future__ import annotations

from tests.api.test_decisions import ATTENDEES, DRAFT, complete, only, start


def test_approve_and_return_on_the_pages_with_the_records_shown(web, api, clock):
    inst = start(api)
    draft = inst["open_tasks"][0]
    assert complete(api, draft["id"], "xinsheng_member", DRAFT).status_code == 200
    approval = only(api, "xinsheng_secretary", "draft")
    web.login("xinsheng_secretary")
    html = web.get(f"/tasks/{approval['id']}").get_data(as_text=True)
    assert "审批：拟办意见" in html and 'id="approval-subject"' in html and "建议谈话函询" in html
    # returning without an opinion: 422 naming the field, in Chinese
    r = web.post(f"/tasks/{approval['id']}", {"decision": "return", "opinion": ""})
    assert r.status_code == 422 and "退回时必须填写意见" in r.get_data(as_text=True)
    r = web.post(f"/tasks/{approval['id']}", {"decision": "return", "opinion": "请补充依据"})
    assert r.status_code == 302
    web.logout()
    web.login("xinsheng_member")
    html = web.get(f"/tasks/{draft['id']}").get_data(as_text=True)
    assert 'id="approval-returned"' in html and "请补充依据" in html
    assert "提交审批" in html and "审批退回" in html  # the records, labelled in Chinese
    r = web.post(f"/tasks/{draft['id']}", {})
    assert r.status_code == 302
    web.logout()
    second = only(api, "xinsheng_secretary", "draft")
    web.login("xinsheng_secretary")
    assert web.post(f"/tasks/{second['id']}", {"decision": "approve", "opinion": "同意"}).status_code == 302
    web.logout()
    meeting = only(api, "xinsheng_member", "meeting")
    web.login("xinsheng_member")
    html = web.get(f"/tasks/{meeting['id']}").get_data(as_text=True)
    assert 'id="collective"' in html and all(name in html for name in ATTENDEES)
    form = {"collective_meeting_date": clock.now().date().isoformat(), "collective_attendees": ATTENDEES,
            "collective_decision": "予以立案审查", "collective_votes_agree": "2", "collective_votes_against": "0",
            "collective_votes_abstain": "0"}
    r = web.post(f"/tasks/{meeting['id']}", form)
    assert r.status_code == 422 and "表决票数合计 2 票，与参会人数 3 人不符" in r.get_data(as_text=True)
    r = web.post(f"/tasks/{meeting['id']}", dict(form, collective_votes_abstain="1"))
    assert r.status_code == 302
    html = web.get(f"/instances/{inst['id']}").get_data(as_text=True)
    for text in ("提交审批", "审批通过", "审批退回", "请补充依据", "集体研究记录", "予以立案审查", "同意 2 票，反对 0 票，弃权 1 票"):
        assert text in html, text
