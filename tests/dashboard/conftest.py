"""One first quarter of 2027, run once for the whole package through the HTTP API as the demo
users: the real diagrams of processes/ (quarterly_tasks, monthly_report, clue_disposal,
adhoc_report), so the dashboards count what the procedures wrote. Package-scoped (about 40
task completions): the tests here only read, and use this app rather than the per-test one.

What happens (Asia/Shanghai):
- 01-01 quarterly tasks go to 新升实业 and 许厂煤矿 only; 新升实业 plans one item for 老干家委, which
  reports, and the unit confirms (completed); 许厂 never plans (planning, its task overdue).
- 01-01 the monthly report cycle for January starts for all nine branches. On 01-20 老干家委 reports
  three findings, 许厂's three branches report (综采 one finding), 岱庄's three report nothing; on
  02-02 物业 reports one finding, late; 机电 (新升) never reports.
- 新升 classifies 老干家委's findings (即知即改, 苗头性倾向性, 违反党的纪律) and 物业's (无需处置); 许厂
  classifies 综采's (即知即改) and accepts the other two; 岱庄 reviews nothing (overdue unit tasks).
- The 违反党的纪律 finding becomes a clue of 新升, which closes it (予以了结): 已了结. 岱庄 registers a
  clue by hand and starts a preliminary verification: 初步核实.
- 02-10 掘进 (许厂) files an ad-hoc report, classified 苗头性倾向性.
- The clock then stands at 2027-03-15 10:00.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app import create_app
from engine.org import auth
from engine.org import demo
from engine.infra.clock import FrozenClock
from engine.infra.db import make_session_factory, write_intent
from engine.models import ProcessInstance, Record, User
from engine.core.runtime import Runtime
from engine.infra.settings import ROOT, load_settings
from tests.conftest import Api, deploy_forms, truncate_all
from tests.web.conftest import Web

PROCESSES = ROOT / "processes"
NOW = "2027-03-15T10:00:00+08:00"
DRAFT = {"task_title": "2027年第一季度联动任务", "content": "围绕职工薪酬分配开展联动监督。",
         "tasks": [{"title": "薪酬分配公示监督", "requirement": "检查奖金分配公示", "deadline": "2027-03-20"}],
         "requirements": "按期报送实施方案。", "unit_scope": "selected", "selected_units": ["xinsheng", "xuchang"]}


@dataclass
class World:
    app: Any
    api: Api
    clock: FrozenClock
    sessions: Any
    clue_ids: dict[str, int]  # unit -> clue record id

    def web(self, user: str | None = None) -> Web:
        w = Web(self.app.test_client())
        if user:
            w.login(user)
        return w


def task_of(api: Api, user: str, spec_id: str, **context: Any) -> dict[str, Any]:
    """The user's one open task `spec_id` (whose instance context matches `context`)."""
    found = []
    for t in api.tasks(user):
        if t["spec_id"] != spec_id:
            continue
        if context:
            ctx = api.get(f"/api/v1/tasks/{t['id']}", user).get_json()["context"]
            if any(ctx.get(k) != v for k, v in context.items()):
                continue
        found.append(t)
    assert len(found) == 1, (user, spec_id, context, found)
    return found[0]


def complete(api: Api, task: dict[str, Any], user: str, data: dict[str, Any]) -> None:
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", user, json={"data": data})
    assert r.status_code == 200, r.get_json()


def start(api: Api, key: str, user: str) -> int:
    r = api.post(f"/api/v1/process-definitions/{key}/start", user, json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    return int(r.get_json()["id"])


def run_quarter(api: Api, clock: FrozenClock, timer: Any) -> None:
    clock.set("2027-01-01T09:00:00+08:00")
    timer("quarterly_tasks")
    timer("monthly_report")
    complete(api, task_of(api, "group_deputy", "draft_tasks"), "group_deputy", DRAFT)
    complete(api, task_of(api, "xinsheng_secretary", "draft_plan"), "xinsheng_secretary", {
        "plan": "实施方案", "items": [{"title": "慰问金发放监督", "requirement": "逐户核对", "deadline": "2027-03-10",
                                    "branch_ids": ["xinsheng-laogan"]}]})
    complete(api, task_of(api, "xinsheng_laogan", "implement"), "xinsheng_laogan", {
        "results": [{"item_no": 1, "status": "completed", "description": "已落实"}], "summary": "已落实。"})
    complete(api, task_of(api, "xinsheng_member", "confirm"), "xinsheng_member", {"decision": "confirmed"})

    def finding(title: str) -> dict[str, str]:
        return {"title": title, "facts": f"{title}的事实", "area": "other"}

    clock.set("2027-01-20T10:00:00+08:00")
    complete(api, task_of(api, "xinsheng_laogan", "write_report"), "xinsheng_laogan", {
        "summary": "本月情况", "findings": [finding("考勤代签"), finding("作风漂浮"), dict(finding("收受礼金"), person="张某")]})
    for user in ("xuchang_zongcai", "xuchang_juejin", "xuchang_tongfeng",
                 "daizhuang_caimei", "daizhuang_yunshu", "daizhuang_jidian"):
        found = [finding("设备维修费用报销不规范")] if user == "xuchang_zongcai" else []
        complete(api, task_of(api, user, "write_report"), user, {"summary": "本月监督工作情况正常。", "findings": found})
    clock.set("2027-02-02T09:00:00+08:00")
    complete(api, task_of(api, "xinsheng_wuye", "write_report"), "xinsheng_wuye", {
        "summary": "逾期报送", "findings": [finding("物业费收支未公开")]})

    def review(user: str, branch: str, classes: list[dict[str, Any]]) -> None:
        t = task_of(api, user, "review_report", branch_id=branch)
        complete(api, t, user, {"decision": "accepted", "review_opinion": "已分类", "classifications": classes})

    review("xinsheng_secretary", "xinsheng-laogan", [
        {"no": 1, "classification": "immediate_fix", "analysis": "即知即改", "fix_requirement": "纠正",
         "fix_deadline": "2027-02-10"},
        {"no": 2, "classification": "tendency", "analysis": "苗头"},
        {"no": 3, "classification": "discipline_violation", "analysis": "涉嫌违纪", "person": "张某（副主任）"}])
    review("xinsheng_secretary", "xinsheng-wuye", [{"no": 1, "classification": "none", "analysis": "已公开"}])
    review("xuchang_secretary", "xuchang-zongcai", [
        {"no": 1, "classification": "immediate_fix", "analysis": "即知即改", "fix_requirement": "规范报销",
         "fix_deadline": "2027-02-20"}])
    review("xuchang_secretary", "xuchang-juejin", [])
    review("xuchang_secretary", "xuchang-tongfeng", [])

    # the violation is a clue of 新升实业, closed at once; 岱庄 registers one by hand and verifies it
    complete(api, task_of(api, "xinsheng_member", "assess"), "xinsheng_member",
             {"clue_level": "一般", "disposal": "予以了结", "assess_opinion": "经了解已退还礼金"})
    complete(api, task_of(api, "xinsheng_secretary", "assess"), "xinsheng_secretary", {"decision": "approve"})
    start(api, "clue_disposal", "daizhuang_member")
    complete(api, task_of(api, "daizhuang_member", "register_form"), "daizhuang_member", {
        "clue_origin": "信访举报", "clue_person": "赵某", "clue_facts": "工伤上报不及时", "received_date": "2027-02-02"})
    complete(api, task_of(api, "daizhuang_member", "assess"), "daizhuang_member",
             {"clue_level": "一般", "disposal": "初步核实", "assess_opinion": "需进一步核实"})
    complete(api, task_of(api, "daizhuang_secretary", "assess"), "daizhuang_secretary", {"decision": "approve"})

    clock.set("2027-02-10T10:00:00+08:00")
    start(api, "adhoc_report", "xuchang_juejin")
    complete(api, task_of(api, "xuchang_juejin", "file_report"), "xuchang_juejin", {
        "severity": "routine", "subject": "掘进队材料领用台账不全", "facts": "领用台账缺两月记录",
        "occurred_on": "2027-02-08", "persons": "", "area": "other"})
    complete(api, task_of(api, "xuchang_member", "classify"), "xuchang_member",
             {"classification": "tendency", "analysis": "苗头性问题"})
    clock.set(NOW)


@pytest.fixture(scope="package")
def world(db_engine: Any, database_url: str, forms_dir: Any) -> Iterator[World]:
    truncate_all(db_engine)
    clock = FrozenClock("2027-01-01T08:00:00+08:00")
    sessions = make_session_factory(db_engine)
    with write_intent(), sessions() as s:
        demo.load_demo(s, clock.now())
        s.commit()
    # scripts here call helpers that query the database; a loaded test machine gets more time
    settings = load_settings({}, env="test", database_url=database_url, forms_dir=forms_dir,
                             processes_dir=PROCESSES, scheduler="off", async_mode="inline").with_(script_timeout_ms=10_000)
    app = create_app(settings, clock=clock, engine=db_engine)
    deploy_forms(db_engine, forms_dir, clock)  # the app reads deployed forms (issue 15)
    api = Api(app.test_client())
    with write_intent(), sessions() as s:  # bearer tokens without 30 argon2 logins
        for user in s.scalars(select(User)):
            api.tokens[user.username] = auth.issue_token(s, user, clock.now(), 24 * 400)
        s.commit()
    for name in ("quarterly_tasks", "monthly_report", "clue_disposal", "adhoc_report"):
        assert api.deploy(PROCESSES / f"{name}.bpmn").status_code == 201

    def timer(key: str) -> None:  # what the scheduler does when the timer start fires
        with write_intent(), sessions() as s:
            Runtime(s, clock, settings, app.extensions["sanji"].forms).start(key, {}, None, start_event="start_timer")
            s.commit()

    run_quarter(api, clock, timer)
    with sessions() as s:
        clues = {r.unit_id: r.id for r in s.scalars(select(Record).where(Record.kind == "clue"))}
        incidents = s.scalars(select(ProcessInstance.error_message).where(ProcessInstance.status == "error")).all()
    assert incidents == [] and sorted(clues) == ["daizhuang", "xinsheng"]
    yield World(app, api, clock, sessions, clues)
