"""Instance tracing pages (流程跟踪) with the built-in monthly report: who sees which instances, the
filters and paging, the instance page, the admin actions behind their confirmation step, the
heatmap and the schedules page."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.web import trace as web_trace
from api.web import trace_data as web_trace_data
from engine.models import EventLog, HumanTask, ProcessInstance, Schedule
from tests.conftest import BPMN
from tests.web.builtins import deploy_builtins, start_by_timer

XINSHENG = {"xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian"}


@pytest.fixture
def monthly(app, clock):
    """The built-in processes deployed; the monthly report of 2027-01 started by its timer."""
    clock.set("2027-01-01T09:00:00+08:00")
    deploy_builtins(app)
    return start_by_timer(app, "monthly_report")


def ids_on(html: str, table: str) -> list[int]:
    body = re.search(rf'id="{table}">.*?</table>', html, re.S)
    return [int(i) for i in re.findall(r'<tr data-instance-id="(\d+)"', body.group(0))] if body else []


def child_of(reader, root: int, branch: str) -> ProcessInstance:
    return next(i for i in reader.scalars(select(ProcessInstance).where(ProcessInstance.parent_id == root))
                if i.scope_node_id == branch)


def test_who_sees_which_instances(web, monthly, reader):
    children = reader.scalars(select(ProcessInstance).where(ProcessInstance.parent_id == monthly))
    assert len(children) == 9
    web.login("admin")
    html = web.get("/instances").get_data(as_text=True)
    assert sorted(ids_on(html, "instance-list")) == sorted([monthly] + [c.id for c in children])
    assert '<span class="count">10</span>' in html
    web.logout()
    web.login("group_member")  # the group committee sees all
    assert len(ids_on(web.get("/instances").get_data(as_text=True), "instance-list")) == 10
    web.logout()
    web.login("xinsheng_secretary")  # a unit committee: its own unit's
    html = web.get("/instances").get_data(as_text=True)
    assert sorted(ids_on(html, "instance-list")) == sorted(c.id for c in children if c.scope_node_id in XINSHENG)
    other = next(c for c in children if c.scope_node_id == "xuchang-zongcai")
    assert web.get(f"/instances/{other.id}").status_code == 404
    assert web.get(f"/instances/{monthly}").status_code == 404
    web.logout()
    web.login("xinsheng_laogan")  # a commissioner: no menu entry; the instance they hold a task in
    html = web.get("/instances").get_data(as_text=True)
    assert ids_on(html, "instance-list") == [child_of(reader, monthly, "xinsheng-laogan").id]
    assert 'href="/instances"' not in html.split("</nav>")[0]


def test_filters_and_paging(web, monthly, reader, clock, monkeypatch):
    web.login("admin")

    def listed(**params) -> list[int]:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        r = web.get(f"/instances?{query}")
        assert r.status_code == 200
        return ids_on(r.get_data(as_text=True), "instance-list")

    assert listed(process="monthly_report") == [monthly]
    assert len(listed(process="monthly_report_branch", unit="xinsheng")) == 3
    assert listed(level="top") == [monthly]
    assert len(listed(level="sub")) == 9
    assert len(listed(status="running")) == 10 and listed(status="completed") == []
    assert len(listed(started_from="2027-01-01", started_to="2027-01-01")) == 10
    assert listed(started_from="2027-01-02") == [] and listed(started_to="2026-12-31") == []
    assert listed(overdue="1") == [] and listed(incident="1") == []
    clock.advance(timedelta(days=31))  # past the month end: every report is late
    web.login("admin")  # the session expired meanwhile
    assert len(listed(overdue="1")) == 9
    html = web.get("/instances?started_from=nonsense").get_data(as_text=True)
    assert "日期请按" in html
    # paging keeps the filters
    monkeypatch.setattr(web_trace, "PER_PAGE", 4)
    html = web.get("/instances?level=sub").get_data(as_text=True)
    assert len(ids_on(html, "instance-list")) == 4 and "第 1 页，共 3 页" in html
    assert 'href="/instances?level=sub&amp;page=2"' in html
    assert len(ids_on(web.get("/instances?level=sub&page=3").get_data(as_text=True), "instance-list")) == 1


def test_instance_page(web, monthly, reader, monkeypatch):
    web.login("admin")
    html = web.get(f"/instances/{monthly}").get_data(as_text=True)
    assert f'data-sanji-instance data-instance-id="{monthly}"' in html
    assert 'id="children"' in html and "运行中 9" in html
    section = re.search(r'<section class="card" id="children">.*?</section>', html, re.S).group(0)
    assert len(re.findall(r"<tr data-instance-id=", section)) == 9
    # variables by their labels, organisations by their names (the key only in an attribute)
    variables = re.search(r'<section class="card" id="variables">.*?</section>', html, re.S).group(0)
    assert ">期间</dt>" in variables and "branch_ids" not in variables  # fanOut: no list in the data
    child = child_of(reader, monthly, "xinsheng-laogan")
    html = web.get(f"/instances/{child.id}").get_data(as_text=True)
    variables = re.search(r'<section class="card" id="variables">.*?</section>', html, re.S).group(0)
    assert '<dt data-key="branch_id">基层党支部</dt>' in variables
    assert "老干家委党总支" in variables and ">branch_id<" not in variables
    monkeypatch.setattr(web_trace_data, "CHILDREN_PER_PAGE", 4)  # child_page reads it there
    section = re.search(r'id="children">.*?</section>', web.get(f"/instances/{monthly}?child_page=3")
                        .get_data(as_text=True), re.S).group(0)
    assert len(re.findall(r"<tr data-instance-id=", section)) == 1

    child = child_of(reader, monthly, "xinsheng-laogan")
    html = web.get(f"/instances/{child.id}").get_data(as_text=True)
    assert f'href="/instances/{monthly}"' in html  # the parent
    tasks = re.search(r'id="open-tasks">.*?</section>', html, re.S).group(0)
    assert "撰写月度书面报告" in tasks and "老干家委党总支" in tasks and "未认领" in tasks
    assert "新升实业老干家委党总支纪律检查委员" in tasks  # the candidate
    assert "2027-01-31 23:59" in tasks
    timeline = re.search(r'id="timeline">.*?</ol>', html, re.S).group(0)
    assert "发起流程" in timeline and "任务到达: 撰写月度书面报告" in timeline
    assert 'id="admin-actions"' in html and 'id="action-suspend"' in html and 'id="action-terminate"' in html
    assert "report_key" in html and "xinsheng-laogan:2027-01" in html


def test_timeline_marks_late_and_on_time_work(web, monthly, reader, api, clock):
    laogan = child_of(reader, monthly, "xinsheng-laogan")
    wuye = child_of(reader, monthly, "xinsheng-wuye")
    done = {"summary": "本月监督工作情况正常。", "findings": []}
    [t1] = [t for t in api.tasks("xinsheng_laogan") if t["instance_id"] == laogan.id]
    assert api.post(f"/api/v1/tasks/{t1['id']}/complete", "xinsheng_laogan", json={"data": done}).status_code == 200
    clock.advance(timedelta(days=40))
    api.tokens.clear()
    [t2] = [t for t in api.tasks("xinsheng_wuye") if t["instance_id"] == wuye.id]
    assert api.post(f"/api/v1/tasks/{t2['id']}/complete", "xinsheng_wuye", json={"data": done}).status_code == 200
    web.login("xinsheng_secretary")
    on_time = re.search(r'id="timeline">.*?</ol>', web.get(f"/instances/{laogan.id}").get_data(as_text=True), re.S).group(0)
    late = re.search(r'id="timeline">.*?</ol>', web.get(f"/instances/{wuye.id}").get_data(as_text=True), re.S).group(0)
    item = re.search(r'<li class="ev ev-task_completed".*?</li>', on_time, re.S).group(0)
    assert "新升实业老干家委党总支纪律检查委员" in item and "按时" in item and "逾期" not in item
    item = re.search(r'<li class="ev ev-task_completed".*?</li>', late, re.S).group(0)
    assert "逾期" in item and "按时" not in item
    # a unit committee member is no admin: no actions
    assert 'id="admin-actions"' not in web.get(f"/instances/{laogan.id}").get_data(as_text=True)
    assert web.get(f"/instances/{laogan.id}/suspend").status_code == 403


def test_suspend_resume_terminate_each_confirmed_and_logged(web, monthly, reader):
    child = child_of(reader, monthly, "xinsheng-jidian")
    web.login("admin")
    r = web.get(f"/instances/{child.id}/suspend")
    assert r.status_code == 200 and 'id="confirm"' in r.get_data(as_text=True)
    r = web.post(f"/instances/{child.id}/suspend", {"reason": "核对组织信息"})  # not confirmed: the page again
    assert r.status_code == 200 and 'id="confirm"' in r.get_data(as_text=True)
    assert reader.get(ProcessInstance, child.id).status == "running"
    r = web.post(f"/instances/{child.id}/suspend", {"confirmed": "yes", "reason": "核对组织信息"})
    assert r.status_code == 302 and r.location.endswith(f"/instances/{child.id}")
    assert reader.get(ProcessInstance, child.id).status == "suspended"
    html = web.get(f"/instances/{child.id}").get_data(as_text=True)
    assert "实例已挂起" in html and 'id="action-resume"' in html and 'id="action-suspend"' not in html
    assert "核对组织信息" in re.search(r'id="timeline">.*?</ol>', html, re.S).group(0)
    ev = reader.scalars(select(EventLog).where(EventLog.type == "instance_suspended"))[-1]
    assert (ev.actor, ev.instance_id, ev.payload["reason"], ev.payload["admin_action"]) == \
        ("admin", child.id, "核对组织信息", True)
    assert web.post(f"/instances/{child.id}/resume", {"confirmed": "yes"}).status_code == 302
    assert reader.get(ProcessInstance, child.id).status == "running"
    # terminate needs a reason
    r = web.post(f"/instances/{child.id}/terminate", {"confirmed": "yes", "reason": " "})
    assert r.status_code == 422 and "请填写原因" in r.get_data(as_text=True)
    assert reader.get(ProcessInstance, child.id).status == "running"
    assert web.post(f"/instances/{child.id}/terminate", {"confirmed": "yes", "reason": "支部撤并"}).status_code == 302
    assert reader.get(ProcessInstance, child.id).status == "terminated"
    assert [t.status for t in reader.scalars(select(HumanTask).where(HumanTask.instance_id == child.id))] == ["cancelled"]
    ev = reader.scalars(select(EventLog).where(EventLog.type == "instance_terminated"))[-1]
    assert ev.actor == "admin" and ev.payload["reason"] == "支部撤并"
    # an action the state does not allow: a message, nothing changed
    r = web.post(f"/instances/{child.id}/resume", {"confirmed": "yes"})
    assert r.status_code == 302
    assert "当前状态不允许此操作" in web.get(f"/instances/{child.id}").get_data(as_text=True)
    assert reader.get(ProcessInstance, child.id).status == "terminated"


def test_reassign_a_task(web, monthly, reader, api):
    child = child_of(reader, monthly, "xinsheng-laogan")
    [task] = reader.scalars(select(HumanTask).where(HumanTask.instance_id == child.id))
    web.login("admin")
    html = web.get(f"/instances/{child.id}/reassign?task_id={task.id}").get_data(as_text=True)
    assert 'value="xinsheng_laogan"' in html and "撰写月度书面报告" in html
    r = web.post(f"/instances/{child.id}/reassign", {"confirmed": "yes", "task_id": task.id, "username": ""})
    assert r.status_code == 422 and "请选择一名人员" in r.get_data(as_text=True)
    r = web.post(f"/instances/{child.id}/reassign", {"confirmed": "yes", "task_id": task.id, "username": "xuchang_zongcai"})
    assert r.status_code == 422  # not a member of the task's org node: said on the page
    assert reader.get(HumanTask, task.id).assignee_id is None
    r = web.post(f"/instances/{child.id}/reassign", {"confirmed": "yes", "task_id": task.id, "username": "xinsheng_laogan"})
    assert r.status_code == 302
    assert reader.get(HumanTask, task.id).assignee_id is not None
    ev = reader.scalars(select(EventLog).where(EventLog.type == "task_assigned"))[-1]
    assert ev.actor == "admin" and ev.payload["to"] == "xinsheng_laogan"
    html = web.get(f"/instances/{child.id}").get_data(as_text=True)
    assert "已改派" in html
    assert web.get(f"/instances/{child.id}/reassign?task_id=999999").status_code == 404


def test_retry_an_incident_with_variables(web, api, reader):
    assert api.deploy(BPMN / "incident.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/incident_test/start", "group_secretary", json={"variables": {"divisor": 0}})
    inst_id = r.get_json()["id"]
    assert reader.get(ProcessInstance, inst_id).status == "error"
    web.login("admin")
    listed = ids_on(web.get("/instances?incident=1").get_data(as_text=True), "instance-list")
    assert listed == [inst_id]
    html = web.get(f"/instances/{inst_id}").get_data(as_text=True)
    assert 'id="incident"' in html and 'id="action-retry"' in html
    incident = re.search(r'<div class="notice notice-error" role="alert" id="incident">.*?</div>', html, re.S).group(0)
    assert "计算" in incident and "divide" not in incident  # the failed step by its name
    r = web.post(f"/instances/{inst_id}/retry", {"confirmed": "yes", "variables": "{divisor: 2}"})
    assert r.status_code == 422 and "不是有效的 JSON" in r.get_data(as_text=True)
    r = web.post(f"/instances/{inst_id}/retry", {"confirmed": "yes", "variables": "[1]"})
    assert r.status_code == 422
    assert reader.get(ProcessInstance, inst_id).status == "error"
    r = web.post(f"/instances/{inst_id}/retry", {"confirmed": "yes", "variables": '{"divisor": 2}'})
    assert r.status_code == 302
    inst = reader.get(ProcessInstance, inst_id)
    assert inst.status == "running" and inst.data["ratio"] == 5
    ev = reader.scalars(select(EventLog).where(EventLog.type == "incident_retried"))[-1]
    assert ev.actor == "admin" and ev.payload["variables"] == {"divisor": 2}
    assert ids_on(web.get("/instances?incident=1").get_data(as_text=True), "instance-list") == []


def test_heatmap_counts_per_element(web, monthly, reader, api):
    web.login("owner")  # process owners count every instance
    r = web.get("/processes/monthly_report_branch/heatmap")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-sanji-heatmap data-key="monthly_report_branch" data-version="1"' in html
    row = re.search(r'<tr data-element-id="write_report">.*?</tr>', html, re.S).group(0)
    assert re.findall(r'class="num">([^<]*)<', row)[0] == "9"
    assert "init_branch" in html  # passed through
    web.logout()
    web.login("xinsheng_secretary")  # others: the instances they may trace
    html = web.get("/processes/monthly_report_branch/heatmap?mode=completed").get_data(as_text=True)
    row = re.search(r'<tr data-element-id="write_report">.*?</tr>', html, re.S).group(0)
    assert re.findall(r'class="num">([^<]*)<', row)[0] == "3"
    assert 'data-mode="completed"' in html
    assert web.get("/processes/monthly_report_branch/heatmap?version=7").status_code == 404


def test_schedules_page(web, monthly, reader, clock):
    web.login("admin")
    html = web.get("/schedules").get_data(as_text=True)
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr data-schedule-id="\d+" data-process-key="(\w+)".*?</tr>',
                                                         html, re.S)}
    assert set(rows) == {"monthly_report", "quarterly_tasks", "quarterly_report", "annual_assessment", "monthly_article"}
    assert "2027-02-01 09:00" in rows["monthly_report"] and "2027-04-01 09:00" in rows["monthly_report"]
    assert "2027-04-01 09:00" in rows["quarterly_tasks"] and "2027-07-01 09:00" in rows["quarterly_tasks"]
    assert "2027-03-31 09:00" in rows["quarterly_report"] and "2027-06-30 09:00" in rows["quarterly_report"]
    # cron in Chinese words beside the expression (engine/core/calendar/cron.py describe_zh)
    assert '<div class="cron-words" title="0 9 1 1,4,7,10 *">每年1月、4月、7月、10月的1日 09:00</div>' in rows["quarterly_tasks"]
    assert "timeCycle" not in html and "Asia/Shanghai" not in html and "周期 · 北京时间" in rows["quarterly_tasks"]
    assert "没有正在等待定时器的实例" in html  # the monthly reports have deadlines, no timers
    sid = reader.scalar(select(Schedule.id).where(Schedule.process_key == "quarterly_tasks"))
    r = web.post(f"/schedules/{sid}/pause", {"reason": "春节"})  # unconfirmed
    assert r.status_code == 200 and 'id="confirm"' in r.get_data(as_text=True)
    assert not reader.get(Schedule, sid).paused
    assert web.post(f"/schedules/{sid}/pause", {"confirmed": "yes", "reason": "春节"}).status_code == 302
    assert reader.get(Schedule, sid).paused
    ev = reader.scalars(select(EventLog).where(EventLog.type == "schedule_paused"))[-1]
    assert ev.actor == "admin" and ev.payload["reason"] == "春节"
    assert "已暂停" in web.get("/schedules").get_data(as_text=True)
    assert web.post(f"/schedules/{sid}/resume", {"confirmed": "yes"}).status_code == 302
    assert not reader.get(Schedule, sid).paused
    web.logout()
    web.login("owner")  # reads, no actions
    html = web.get("/schedules").get_data(as_text=True)
    assert 'data-process-key="monthly_report"' in html and f"/schedules/{sid}/pause" not in html
    assert web.get(f"/schedules/{sid}/pause").status_code == 403
    web.logout()
    web.login("xinsheng_secretary")
    assert web.get("/schedules").status_code == 403


def test_fire_a_waiting_timer_now(web, api, reader):
    """A unit report waits on its 2-day deadline: the admin fires the timer from the schedules page."""
    assert api.deploy(BPMN / "deadline.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/deadline_test/start", "xinsheng_secretary",
                 json={"variables": {"unit_id": "xinsheng"}})
    assert r.status_code == 201, r.get_json()
    inst_id = r.get_json()["id"]
    web.login("admin")
    html = web.get("/schedules").get_data(as_text=True)
    assert 'id="job-list"' in html and f'<tr data-instance-id="{inst_id}"' in html
    link = re.search(rf'href="(/instances/{inst_id}/fire_timer\?timer_id=late)"', html)
    assert link
    page = web.get(link.group(1)).get_data(as_text=True)
    assert 'id="confirm"' in page and 'value="late" selected' in page
    r = web.post(f"/instances/{inst_id}/fire_timer", {"reason": "x"})  # unconfirmed: nothing fires
    assert r.status_code == 200 and reader.scalars(select(EventLog).where(EventLog.type == "timer_fired")) == []
    r = web.post(f"/instances/{inst_id}/fire_timer", {"confirmed": "yes", "timer_id": "late"})
    assert r.status_code == 302
    [ev] = reader.scalars(select(EventLog).where(EventLog.type == "timer_fired"))
    assert (ev.actor, ev.instance_id, ev.payload["spec_id"], ev.payload["manual"]) == ("admin", inst_id, "late", True)
    assert [t.spec_id for t in reader.scalars(select(HumanTask).where(HumanTask.instance_id == inst_id,
                                                                      HumanTask.status == "open"))] == ["escalate"]
    assert "定时器 late 已触发" in web.get(f"/instances/{inst_id}").get_data(as_text=True)
