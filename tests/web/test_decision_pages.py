"""Issue 17 on the pages: the approval form, the return banner with the previous data, the
collective record and the records on the task and instance pages (in Chinese)."""
from __future__ import annotations

from tests.api.test_decisions import ATTENDEES, DRAFT, complete, only, start


def test_approve_and_return_on_the_pages_with_the_records_shown(web, api, clock):
    inst = start(api)
    draft = inst["open_tasks"][0]
    assert complete(api, draft["id"], "xinsheng_member", DRAFT).status_code == 200
    approval = only(api, "xinsheng_secretary", "draft")
    web.login("xinsheng_member")  # the doer finds the held submission among the done ones
    html = web.get("/tasks/done").get_data(as_text=True)
    assert "拟办意见" in html and "待审批" in html
    web.logout()
    web.login("xinsheng_secretary")
    html = web.get(f"/tasks/{approval['id']}").get_data(as_text=True)
    assert "审批：拟办意见" in html and 'id="approval-subject"' in html and "建议谈话函询" in html
    # returning without an opinion: 422 naming the field, in Chinese
    r = web.post(f"/tasks/{approval['id']}", {"decision": "return", "opinion": ""})
    assert r.status_code == 422 and "退回时必须填写意见" in r.get_data(as_text=True)
    assert 'value="return" checked' in r.get_data(as_text=True)
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
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "表决票数合计 2 票，与参会人数 3 人不符" in html
    assert ">予以立案审查</textarea>" in html and html.count("checked") == 3  # what was entered stays
    r = web.post(f"/tasks/{meeting['id']}", dict(form, collective_votes_abstain="1"))
    assert r.status_code == 302
    html = web.get(f"/instances/{inst['id']}").get_data(as_text=True)
    for text in ("提交审批", "审批通过", "审批退回", "请补充依据", "集体研究记录", "予以立案审查", "同意 2 票，反对 0 票，弃权 1 票"):
        assert text in html, text


def test_cc_gives_the_copied_step_only_with_a_notification(api, web, session, clock, settings):
    from engine.platform.notify import collect

    inst = start(api, "decision_cc")
    register = inst["open_tasks"][0]
    assert complete(api, register["id"], "xinsheng_member", {"person": "张某"}).status_code == 200
    opinion = only(api, "xinsheng_member", "opinion")
    r = complete(api, opinion["id"], "xinsheng_member", {"disposal": "谈话函询", "cc_users": ["nobody_here"]})
    assert r.status_code == 422 and [d["field"] for d in r.get_json()["details"]] == ["cc_users"]
    r = complete(api, opinion["id"], "xinsheng_member", {"disposal": "谈话函询", "cc_users": ["xinsheng_laogan"]})
    assert r.status_code == 200
    close = only(api, "xinsheng_member", "close")
    # the branch commissioner named in the form reads the copied step: its data, nothing else
    got = api.get(f"/api/v1/tasks/{opinion['id']}", "xinsheng_laogan").get_json()
    assert got["copied"] is True and got["data"] == {"disposal": "谈话函询", "cc_users": ["xinsheng_laogan"]}
    assert got["context"] == {} and got["previous"] == [] and got["history"] == [] and got["instance_title"] is None
    assert got["can_complete"] is False
    # … and nothing else: not the other steps, not the instance, its history or its trace
    assert api.get(f"/api/v1/tasks/{register['id']}", "xinsheng_laogan").status_code == 404
    assert api.get(f"/api/v1/tasks/{close['id']}", "xinsheng_laogan").status_code == 404
    assert api.get(f"/api/v1/process-instances/{inst['id']}", "xinsheng_laogan").status_code == 404
    assert api.get(f"/api/v1/process-instances/{inst['id']}/history", "xinsheng_laogan").status_code == 404
    assert complete(api, opinion["id"], "xinsheng_laogan", {}).status_code == 404
    assert [t["id"] for t in api.tasks("xinsheng_laogan", status="completed")] == []
    # another commissioner of the unit was not copied
    assert api.get(f"/api/v1/tasks/{opinion['id']}", "xinsheng_wuye").status_code == 404
    # the page shows the step's data only
    web.login("xinsheng_laogan")
    r = web.get(f"/tasks/{opinion['id']}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="copied"' in html and "谈话函询" in html
    assert "张某" not in html and 'id="history"' not in html
    assert web.get(f"/tasks/{register['id']}").status_code == 404
    assert web.get(f"/instances/{inst['id']}").status_code == 404
    assert web.post(f"/tasks/{opinion['id']}", {}).status_code == 404
    web.logout()
    # both copied people are told; the instance lists the copies for those who trace it
    session.commit()
    collect(session, clock, settings)
    session.commit()
    for user in ("xinsheng_laogan", "group_secretary"):
        notes = [n for n in api.get("/api/v1/notifications", user).get_json()["items"] if n["kind"] == "task_copied"]
        assert [(n["title"], n["link"]) for n in notes] == [("抄送：处置意见", f"/tasks/{opinion['id']}")], user
    got = api.get(f"/api/v1/process-instances/{inst['id']}", "xinsheng_member").get_json()
    assert sorted((c["username"], c["source"]) for c in got["copies"]) == [
        ("group_secretary", "secretary@group"), ("xinsheng_laogan", "form")]
    web.login("xinsheng_member")
    html = web.get(f"/instances/{inst['id']}").get_data(as_text=True)
    assert 'id="copies"' in html and "新升实业老干家委党总支纪律检查委员" in html


def test_a_signature_on_the_page(web, api):
    inst = start(api, "decision_sign")
    task = only(api, "xinsheng_member", "countersign")
    web.login("xinsheng_member")
    html = web.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'id="signature"' in html and "会签" in html
    r = web.post(f"/tasks/{task['id']}", {"agree": "no", "opinion": ""})
    assert r.status_code == 422 and "不同意时必须填写意见" in r.get_data(as_text=True)
    assert 'value="no" checked' in r.get_data(as_text=True)
    assert web.post(f"/tasks/{task['id']}", {"agree": "no", "opinion": "证据不足"}).status_code == 302
    html = web.get(f"/instances/{inst['id']}").get_data(as_text=True)
    assert "已签署" in html and "不同意" in html and "证据不足" in html


def test_cc_people_are_picked_by_name_on_the_page(api, web):
    """抄送 (`cc` = `form`): the page offers the organisation's inspectors by name — nobody types a
    username — without the doer; the picked ones are copied."""
    inst = start(api, "decision_cc")
    assert complete(api, inst["open_tasks"][0]["id"], "xinsheng_member", {"person": "张某"}).status_code == 200
    opinion = only(api, "xinsheng_member", "opinion")
    web.login("xinsheng_member")
    html = web.get(f"/tasks/{opinion['id']}").get_data(as_text=True)
    assert 'id="cc-users"' in html and "<legend>抄送</legend>" in html
    assert '<input type="checkbox" name="cc_users" value="xinsheng_laogan"> 新升实业老干家委党总支纪律检查委员（' in html
    assert 'value="xinsheng_member"' not in html  # not the doer
    assert "> xinsheng_laogan<" not in html  # labels are names, never usernames
    r = web.post(f"/tasks/{opinion['id']}", {"_cc_picker": "1", "cc_users": ["xinsheng_laogan", "group_member"]})
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    got = api.get(f"/api/v1/process-instances/{inst['id']}", "xinsheng_member").get_json()
    assert sorted((c["username"], c["source"]) for c in got["copies"]) == [
        ("group_member", "form"), ("group_secretary", "secretary@group"), ("xinsheng_laogan", "form")]
