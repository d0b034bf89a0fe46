"""待办, the task page and its form, 已办, 督办 / 催办, 退回, 转办 and 发起, through real HTTP requests."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from engine.models import EventLog, HumanTask
from tests.web.conftest import start_report

GOOD = {
    "report_date": "2027-01-05", "summary": "本月开展了两次谈话提醒", "meetings": "2",
    "findings/0/kind": "early_warning", "findings/0/description": "个别班组考勤不严",
    "findings/1/kind": "violation", "findings/1/description": "违规发放加班补贴", "findings/1/fixed": "true",
}


def field_html(html: str, path: str) -> str:
    """The markup of one rendered field (its `data-field` container)."""
    m = re.search(r'<div class="field[^"]*" data-field="' + re.escape(path) + r'">(.*?)\n</div>', html, re.S)
    assert m, f"no field {path}"
    return m.group(1)


def open_tasks(reader, **kw):
    q = select(HumanTask).where(HumanTask.status == "open")
    for k, v in kw.items():
        q = q.where(getattr(HumanTask, k) == v)
    return reader.scalars(q.order_by(HumanTask.id))


def test_task_list_sorted_by_due_with_overdue_marks_filters_and_badge(web, report_app, api, clock, reader):
    first = start_report(api)  # due in 5 days
    clock.advance(timedelta(days=2))
    api.tokens.clear()  # bearer tokens live 12 hours
    second = start_report(api)  # due in 5 days from now: later than the first
    api.deploy("tests/bpmn/three_tier.bpmn")
    clock.advance(timedelta(days=4))  # the first is now overdue by one day
    api.tokens.clear()
    web.login("xinsheng_laogan")
    html = web.get("/tasks").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'<tr class="[^"]*" data-task-id="(\d+)"', html)]
    assert ids == [first["open_tasks"][0]["id"], second["open_tasks"][0]["id"]]
    assert re.search(rf'<tr class="is-overdue" data-task-id="{ids[0]}"', html)
    assert "已逾期 1 天" in html and "明天到期" in html
    assert 'id="task-badge"' in html and '>2</span>' in html
    # filters: due, process, unit
    html = web.get("/tasks?due=overdue").get_data(as_text=True)
    assert re.findall(r'data-task-id="(\d+)"', html) == [str(ids[0])]
    html = web.get("/tasks?process=three_tier").get_data(as_text=True)
    assert 'id="no-tasks"' in html and "没有符合筛选条件" in html
    assert 'value="web_report" selected' in web.get("/tasks?process=web_report").get_data(as_text=True)
    html = web.get("/tasks?unit=xuchang").get_data(as_text=True)
    assert 'id="no-tasks"' in html
    # the badge is on every page
    for path in ("/tasks/done", "/start", f"/tasks/{ids[0]}"):
        assert re.search(r'id="task-badge"\s+title="[^"]+">2</span>', web.get(path).get_data(as_text=True)), path


def test_claim_and_release_from_the_list(web, report_app, api, reader):
    api.post("/api/v1/process-definitions/web_report/start", "xinsheng_laogan", json={"variables": {}})
    inst = start_report(api)
    task_id = inst["open_tasks"][0]["id"]
    web.login("xinsheng_laogan")
    r = web.post(f"/tasks/{task_id}/claim", {"next": "/tasks"})
    assert r.status_code == 302 and r.headers["Location"] == "/tasks"
    html = web.get("/tasks").get_data(as_text=True)
    assert "您已认领" in html and "取消认领" in html
    assert reader.get(HumanTask, task_id).assignee_id is not None
    web.post(f"/tasks/{task_id}/unclaim", {"next": "/tasks"})
    assert reader.get(HumanTask, task_id).assignee_id is None


def test_task_page_renders_the_form_and_the_context(web, report_app, api):
    inst = start_report(api)
    task_id = inst["open_tasks"][0]["id"]
    web.login("xinsheng_laogan")
    html = web.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert '<h1 id="task-name">填写支部报告</h1>' in html
    assert "支部测试报告 · 老干家委党总支" in html  # the instance title
    assert 'id="diagram"' in html and 'data-bpmn-url="/api/v1/process-definitions/web_report/xml?version=1"' in html
    assert 'data-highlight="write_report"' in html
    summary = field_html(html, "summary")
    assert "监督情况综述" in summary and 'class="req"' in summary and "<textarea" in summary
    assert "本期开展监督的主要情况" in summary  # description as help text
    assert "即知即改" in field_html(html, "findings/0/kind") and 'type="radio"' in field_html(html, "findings/0/kind")
    assert 'type="date"' in field_html(html, "report_date")
    assert 'type="checkbox"' in field_html(html, "sensitive")
    assert "<template>" in html and "findings/__i__/kind" in html  # rows can be added
    # history: who and when
    history = html.split('id="history"', 1)[1]
    assert "发起流程" in history and "新升实业老干家委党总支纪律检查委员" in history and "2027-01-05 09:00" in history


def test_invalid_submission_shows_errors_next_to_fields_then_a_valid_one_completes(web, report_app, api, reader):
    inst = start_report(api)
    task_id = inst["open_tasks"][0]["id"]
    web.login("xinsheng_laogan")
    web.get(f"/tasks/{task_id}")
    bad = dict(GOOD)
    del bad["findings/1/kind"]
    bad["findings/1/description"] = "违规"  # too short
    r = web.post(f"/tasks/{task_id}", bad)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "请修改标出的内容" in html
    kind = field_html(html, "findings/1/kind")
    assert 'data-error-for="findings/1/kind">此项为必填项。' in kind
    assert "至少输入 4 个字。" in field_html(html, "findings/1/description")
    assert 'class="error"' not in field_html(html, "findings/0/kind")
    # what was entered is kept
    assert 'value="early_warning" checked' in field_html(html, "findings/0/kind")
    assert "本月开展了两次谈话提醒" in field_html(html, "summary")
    assert reader.get(HumanTask, task_id).status == "open"

    r = web.post(f"/tasks/{task_id}", GOOD)
    assert r.status_code == 302 and r.headers["Location"] == "/tasks"
    assert "“填写支部报告”已提交" in web.get("/tasks").get_data(as_text=True)
    done = reader.get(HumanTask, task_id)
    assert done.status == "completed"
    assert done.data["findings"] == [
        {"kind": "early_warning", "description": "个别班组考勤不严", "fixed": False},
        {"kind": "violation", "description": "违规发放加班补贴", "fixed": True}]
    assert done.data["meetings"] == 2

    # 已办 lists it and its page shows what was submitted, read-only
    html = web.get("/tasks/done").get_data(as_text=True)
    assert f'href="/tasks/{task_id}"' in html
    html = web.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'id="task-form"' not in html and "违反党的纪律" in html and "违规发放加班补贴" in html

    # the unit committee sees the review with the branch's input
    web.logout()
    web.login("xinsheng_secretary")
    [review] = open_tasks(reader, spec_id="review")
    html = web.get("/tasks").get_data(as_text=True)
    assert f'data-task-id="{review.id}"' in html and "单位纪委审核" in html
    html = web.get(f"/tasks/{review.id}").get_data(as_text=True)
    earlier = html.split('id="previous-input"', 1)[1].split("</section>", 1)[0]
    assert "填写支部报告" in earlier and "苗头性、倾向性问题" in earlier and "违规发放加班补贴" in earlier
    assert "新升实业老干家委党总支纪律检查委员" in earlier


def test_send_back_needs_a_reason_reopens_the_step_and_keeps_the_data(web, report_app, api, reader):
    inst = start_report(api)
    task_id = inst["open_tasks"][0]["id"]
    web.login("xinsheng_laogan")
    web.get(f"/tasks/{task_id}")
    assert web.post(f"/tasks/{task_id}", GOOD).status_code == 302
    web.logout()
    web.login("xinsheng_deputy")
    [review] = open_tasks(reader, spec_id="review")
    html = web.get(f"/tasks/{review.id}").get_data(as_text=True)
    decision = field_html(html, "decision")
    assert "同意" in decision and "退回修改" not in decision  # sending back is its own button
    assert 'id="send-back"' in html and "退回原因" in html
    assert 'class="req"' in field_html(html, "comment")  # required unless sending back

    r = web.post(f"/tasks/{review.id}", {"_action": "send_back", "return_reason": ""})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "此项为必填项" in field_html(html, "return_reason") and '<details class="send-back" id="send-back" open>' in html

    r = web.post(f"/tasks/{review.id}", {"_action": "send_back", "return_reason": "请补充整改情况", "comment": "草稿"})
    assert r.status_code == 302
    assert reader.get(HumanTask, review.id).data["decision"] == "return"
    event = reader.scalars(select(EventLog).where(EventLog.type == "task_sent_back"))[0]
    assert event.payload["reason"] == "请补充整改情况" and event.actor == "xinsheng_deputy"

    web.logout()
    web.login("xinsheng_laogan")
    [again] = open_tasks(reader, spec_id="write_report")
    html = web.get(f"/tasks/{again.id}").get_data(as_text=True)
    assert 'id="sent-back"' in html and "请补充整改情况" in html
    assert "违规发放加班补贴" in field_html(html, "findings/1/description")  # prefilled from the first round


def test_approval_needs_a_comment_and_completes_the_instance(web, report_app, api, reader):
    inst = start_report(api)
    task_id = inst["open_tasks"][0]["id"]
    web.login("xinsheng_laogan")
    web.get(f"/tasks/{task_id}")
    web.post(f"/tasks/{task_id}", GOOD)
    web.logout()
    web.login("xinsheng_secretary")
    [review] = open_tasks(reader, spec_id="review")
    web.get(f"/tasks/{review.id}")
    r = web.post(f"/tasks/{review.id}", {"decision": "accept", "disposal": "talk"})
    assert r.status_code == 422 and "此项为必填项" in field_html(r.get_data(as_text=True), "comment")
    r = web.post(f"/tasks/{review.id}", {"decision": "accept", "disposal": "talk", "comment": "同意，督促整改"})
    assert r.status_code == 302
    assert api.get(f"/api/v1/process-instances/{inst['id']}", "xinsheng_secretary").get_json()["status"] == "completed"


def test_hand_over_to_a_colleague(web, report_app, api, reader):
    inst = start_report(api)
    web.login("xinsheng_laogan")
    web.get(f"/tasks/{inst['open_tasks'][0]['id']}")
    web.post(f"/tasks/{inst['open_tasks'][0]['id']}", GOOD)
    web.logout()
    web.login("xinsheng_secretary")
    [review] = open_tasks(reader, spec_id="review")
    html = web.get(f"/tasks/{review.id}").get_data(as_text=True)
    assert 'id="handover-user"' in html and 'value="xinsheng_member"' in html and 'value="xinsheng_secretary"' not in html
    r = web.post(f"/tasks/{review.id}/handover", {"username": "xinsheng_member"})
    assert r.status_code == 302
    assert "已转办给新升实业纪委委员" in web.get("/tasks").get_data(as_text=True)
    assert f'data-task-id="{review.id}"' not in web.get("/tasks").get_data(as_text=True)
    assert reader.scalars(select(EventLog).where(EventLog.type == "task_handed_over"))[0].payload["to"] == "xinsheng_member"
    web.logout()
    web.login("xinsheng_member")
    html = web.get("/tasks").get_data(as_text=True)
    assert f'data-task-id="{review.id}"' in html
    # a branch commissioner has no colleague on the node: no hand-over form
    web.logout()
    inst2 = start_report(api)
    web.login("xinsheng_laogan")
    assert 'id="handover-user"' not in web.get(f"/tasks/{inst2['open_tasks'][0]['id']}").get_data(as_text=True)


def test_supervise_and_urge(web, report_app, api, reader, clock):
    inst = start_report(api)
    task_id = inst["open_tasks"][0]["id"]
    clock.advance(timedelta(days=6))
    web.login("xinsheng_laogan")
    html = web.get("/tasks").get_data(as_text=True)
    assert "督办" not in html.split("</nav>", 1)[0]  # a commissioner supervises nobody
    assert web.post(f"/tasks/{task_id}/urge", {}).status_code == 302
    assert "您的角色无权进行此操作" in web.get("/tasks").get_data(as_text=True)  # visible, but not theirs to urge
    web.logout()

    web.login("xinsheng_secretary")
    html = web.get("/tasks/supervise").get_data(as_text=True)
    assert f'data-task-id="{task_id}"' in html and "已逾期 1 天" in html
    r = web.post(f"/tasks/{task_id}/urge", {"message": "请于今日报送", "next": "/tasks/supervise"})
    assert r.status_code == 302 and r.headers["Location"] == "/tasks/supervise"
    html = web.get("/tasks/supervise").get_data(as_text=True)
    assert "已催办：填写支部报告" in html and "已催办 1 次" in html
    web.post(f"/tasks/{task_id}/urge", {"next": "/tasks/supervise"})
    assert "您刚刚催办过此任务，请稍后再试" in web.get("/tasks/supervise").get_data(as_text=True)
    [urge] = reader.scalars(select(EventLog).where(EventLog.type == "task_urged"))
    assert urge.payload == {"name": "填写支部报告", "message": "请于今日报送", "to": ["xinsheng_laogan"], "overdue": True}
    web.logout()

    # another unit's committee does not see it
    web.login("xuchang_secretary")
    assert f'data-task-id="{task_id}"' not in web.get("/tasks/supervise").get_data(as_text=True)
    web.logout()

    # the commissioner sees the reminder on the list and on the task
    web.login("xinsheng_laogan")
    assert "已催办 1 次" in web.get("/tasks").get_data(as_text=True)
    html = web.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'id="urged"' in html and "此任务已被催办 1 次" in html
    assert "请于今日报送" in html.split('id="history"', 1)[1]


def test_start_page_offers_what_the_user_may_start(web, report_app, api, reader):
    api.deploy("tests/bpmn/three_tier.bpmn")
    web.login("xinsheng_laogan")
    html = web.get("/start").get_data(as_text=True)
    assert 'id="start-web_report"' in html and "老干家委党总支" in html
    assert 'id="start-three_tier"' not in html  # started by the group committee
    assert 'id="start-three_tier_branch"' not in html  # only called
    r = web.post("/start/web_report", {"title": "即时报告：安全隐患"})
    task = open_tasks(reader, spec_id="write_report")[0]
    assert r.status_code == 302 and r.headers["Location"] == f"/tasks/{task.id}"
    assert "已发起：即时报告：安全隐患" in web.get(r.headers["Location"]).get_data(as_text=True)
    assert web.post("/start/three_tier", {}).status_code == 403
    web.logout()
    web.login("xinsheng_member")
    assert 'id="start-web_report"' not in web.get("/start").get_data(as_text=True)
    web.logout()
    web.login("admin")  # an admin holds no role at any node: nothing to start (engine/org/policy.py)
    html = web.get("/start").get_data(as_text=True)
    assert 'id="start-web_report"' not in html and "暂无您可以发起的流程" in html
    assert web.post("/start/web_report", {"node": "daizhuang-caimei"}).status_code == 403
    assert not open_tasks(reader, node_id="daizhuang-caimei")


def test_other_users_tasks_are_not_found(web, report_app, api):
    inst = start_report(api)
    web.login("xuchang_zongcai")
    r = web.get(f"/tasks/{inst['open_tasks'][0]['id']}")
    assert r.status_code == 404 and "不存在，或您无权查看" in r.get_data(as_text=True)
    assert web.get("/tasks/99999").status_code == 404


def test_pages_in_english(web, report_app, api):
    inst = start_report(api)
    web.login("xinsheng_laogan")
    web.post("/lang", {"lang": "en"})
    html = web.get(f"/tasks/{inst['open_tasks'][0]['id']}").get_data(as_text=True)
    assert "Submit" in html and "History" in html and "5 days left" in html
    assert "监督情况综述" in html  # form labels come from the form itself


def test_a_suspended_instance_shows_its_task_read_only(web, report_app, api):
    inst = start_report(api)
    assert api.post(f"/api/v1/process-instances/{inst['id']}/suspend", "admin", json={"reason": "核查"}).status_code == 200
    web.login("xinsheng_laogan")
    html = web.get(f"/tasks/{inst['open_tasks'][0]['id']}").get_data(as_text=True)
    assert "流程当前状态为 已挂起，暂时不能办理此任务" in html and 'id="task-form"' not in html
