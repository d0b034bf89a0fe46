"""Issue 17, "Done when", tried in Chromium as the demo users would: a major clue reported by a branch
goes through the unit's grading, the 书记's approval and a collective decision to the group; the group
instructs, and the instruction is the unit's task at once, due by the group's date; the unit reports on
it and on the outcome (a 处分: 立案 decided collectively and approved by the 书记), and the group's
register shows it — every step offered with a notification to whoever does it, and recorded on the clue."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from api.extensions import state
from engine.platform.notify import dispatch
from tests.conftest import Api, LiveServer, sign_in
from tests.web.builtins import deploy_builtins

TODAY = "2027-01-05"  # the test clock (tests/conftest.py START)
DEADLINE = "2027-01-31"
ATTENDEES = ["新升实业纪委书记", "新升实业纪委副书记", "新升实业纪委常委"]


class Desk:
    """One signed-in Chromium page per demo user, and the steps a person takes on the task pages."""

    def __init__(self, app: Any, browser: Any, server: LiveServer) -> None:
        self.app, self.browser, self.server = app, browser, server
        self.api = Api(app.test_client())
        self.pages: dict[str, Any] = {}
        self.errors: list[str] = []

    def page(self, user: str) -> Any:
        if user not in self.pages:
            context = self.browser.new_context(locale="zh-CN", base_url=self.server.url, timezone_id="Asia/Shanghai",
                                               viewport={"width": 1280, "height": 900})
            context.set_default_timeout(20_000)
            p = context.new_page()
            p.on("pageerror", lambda exc: self.errors.append(f"{user}: {exc}"))
            p.on("dialog", lambda d: d.accept())
            sign_in(p, user)
            self.pages[user] = p
        return self.pages[user]

    def open_task(self, user: str, spec_id: str, kind: str = "task") -> Any:
        """`user` is told of the step (a notification naming it), finds it in 我的待办 and opens it."""
        [task] = [t for t in self.api.tasks(user)
                  if t["spec_id"] == spec_id and t["name"].startswith("审批：") == (kind == "approval")]
        st = state(self.app)
        dispatch(st.sessions, st.clock, st.settings)
        notes = self.api.get("/api/v1/notifications", user, query_string={"per_page": 100}).get_json()["items"]
        titles = [n["title"] for n in notes if n["task_id"] == task["id"]]  # (a step due within a day: 即将到期 too)
        offer = ("逐级上报：" if spec_id == "group_review" else "新待办：") + task["name"]
        assert titles.count(offer) == 1 and set(titles) <= {offer, "即将到期：" + task["name"]}, (user, titles)
        p = self.page(user)
        p.goto("/tasks")
        p.click(f'a.task-link[href="/tasks/{task["id"]}"]')
        p.wait_for_url(re.compile(rf".*/tasks/{task['id']}$"))
        assert p.inner_text("#task-name") == task["name"]
        self.task = task
        return p

    @staticmethod
    def choose(p: Any, name: str, label: str) -> None:
        if p.locator(f'select[name="{name}"]').count():
            p.select_option(f'select[name="{name}"]', label=label)
        else:
            p.locator(f'[data-field="{name}"] label.check', has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).click()

    @staticmethod
    def fill(p: Any, values: dict[str, str]) -> None:
        for name, value in values.items():
            p.fill(f'[name="{name}"]', value)

    @staticmethod
    def collective(p: Any, decision: str) -> None:
        p.fill("#collective-date", TODAY)
        for name in ATTENDEES:
            p.check(f'input[name="collective_attendees"][value="{name}"]')
        p.fill("#collective-decision", decision)
        p.fill('input[name="collective_votes_agree"]', "3")

    def submit(self, p: Any, held: bool = False) -> None:
        p.click("#submit")
        p.wait_for_url(re.compile(r".*/tasks$"))
        assert p.locator(".flash-error").count() == 0, p.inner_text(".flashes")
        assert f"{self.task['name']}" in p.inner_text(".flashes")

    def approve(self, spec_id: str, opinion: str = "同意") -> None:
        """The unit's 书记 approves a held step on its approval page."""
        p = self.open_task("xinsheng_secretary", spec_id, kind="approval")
        assert p.locator("#approval-subject").count() == 1
        p.check('input[name="decision"][value="approve"]')
        p.fill("#opinion", opinion)
        self.submit(p)

    def close(self) -> None:
        for p in self.pages.values():
            p.context.close()


@pytest.fixture
def desk(app: Any, browser: Any) -> Iterator[Desk]:
    deploy_builtins(app)
    with LiveServer(app) as server:
        d = Desk(app, browser, server)
        try:
            yield d
        finally:
            d.close()


def test_a_major_clue_from_a_branch_to_the_group_and_back_with_a_sanction(desk):
    d = desk
    # the branch's commissioner reports a major matter at once (随时报告); unit and group acknowledge it
    p = d.page("xinsheng_laogan")
    p.goto("/start")
    p.click("#start-adhoc_report button[type=submit]")
    assert p.locator("#started-link").count() == 1
    p = d.open_task("xinsheng_laogan", "file_report")
    d.choose(p, "severity", "特殊情况、重大问题")
    d.fill(p, {"subject": "区队长虚报出勤", "facts": "区队长虚报出勤、套取工资", "occurred_on": "2027-01-04",
               "persons": "张某（区队长）"})
    d.choose(p, "area", "其他")
    d.submit(p)
    p = d.open_task("xinsheng_member", "unit_ack")
    d.fill(p, {"unit_opinion": "已签收，涉嫌违纪"})
    d.submit(p)
    p = d.open_task("group_member", "group_ack")
    d.fill(p, {"group_instructions": "请单位纪委按问题线索处置"})
    d.submit(p)
    p = d.open_task("xinsheng_member", "classify")
    d.choose(p, "classification", "违反党的纪律")
    d.fill(p, {"analysis": "涉嫌违反廉洁纪律", "clue_person_input": "张某（区队长）"})
    d.submit(p)

    # the unit's undertaker grades it 重大 and proposes 初步核实; the 书记 approves
    p = d.open_task("xinsheng_member", "assess")
    d.choose(p, "clue_level", "重大")
    d.choose(p, "disposal", "初步核实")
    d.fill(p, {"assess_opinion": "涉及工资发放，属重大问题线索"})
    d.submit(p)
    d.approve("assess")
    # decided collectively (the committee's names to tick, no empty heading), then reported to the group
    p = d.open_task("xinsheng_member", "collective_study")
    assert p.locator("#f-collective").count() == 0 and p.locator("fieldset#collective").count() == 1
    d.collective(p, "同意初步核实，报集团公司纪委")
    d.submit(p)
    # the group instructs with a deadline
    p = d.open_task("group_secretary", "group_review")
    d.choose(p, "group_decision", "作出指示")
    d.fill(p, {"group_instructions": "从严从快核查，核实结果于1月底前报集团公司纪委", "group_deadline": DEADLINE})
    d.submit(p)

    # the instruction is the unit's task at once, due by the group's date, beside the disposal
    p = d.open_task("xinsheng_member", "carry_out_instruction")
    assert d.task["due_at"] == "2027-01-31T15:59:59+00:00"
    assert "从严从快核查，核实结果于1月底前报集团公司纪委" in p.inner_text("main")
    assert sorted(t["spec_id"] for t in d.api.tasks("xinsheng_member")) == ["carry_out_instruction", "verify"]
    d.fill(p, {"instruction_done_on": TODAY, "instruction_report": "经核实，张某虚报出勤属实"})
    d.submit(p)
    p = d.open_task("group_deputy", "instruction_accept")
    d.choose(p, "instruction_decision", "同意")
    d.fill(p, {"instruction_opinion": "同意，按程序立案审查"})
    d.submit(p)

    # 初步核实 → 立案 (decided collectively, approved by the 书记) → 审理: 严重警告
    p = d.open_task("xinsheng_member", "verify")
    d.fill(p, {"verify_date": TODAY, "verify_findings": "虚报出勤属实"})
    d.choose(p, "verify_conclusion", "立案审查")
    d.submit(p)
    p = d.open_task("xinsheng_member", "case_file")
    d.fill(p, {"case_no": "新升纪审〔2027〕1号", "filing_date": TODAY, "case_note": "启动审查程序"})
    p.click("#submit")  # without the meeting's record: refused, nothing held
    assert p.locator(".flash-error").count() == 1 and "/tasks/" in p.url
    d.collective(p, "同意立案审查")
    d.submit(p)
    d.approve("case_file")
    p = d.open_task("xinsheng_member", "case_trial")
    d.fill(p, {"trial_date": TODAY, "decision_no": "新升纪发〔2027〕3号", "trial_note": "违反廉洁纪律，情节较重"})
    d.choose(p, "handling", "党纪处分")
    d.choose(p, "sanction", "严重警告")
    d.submit(p)
    d.approve("case_trial")

    # the outcome goes to the group by its deadline; the group reads it
    p = d.open_task("xinsheng_member", "report_outcome")
    assert d.task["due_at"] == "2027-01-31T15:59:59+00:00"
    d.fill(p, {"outcome_report": "已给予张某严重警告处分"})
    d.submit(p)
    p = d.open_task("group_secretary", "group_accept")
    d.choose(p, "accept_decision", "同意")
    d.fill(p, {"accept_opinion": "同意，归档"})
    d.submit(p)
    assert d.api.tasks("xinsheng_member") == [] and d.api.tasks("group_secretary") == []

    # the group's register shows the outcome, and the clue's page every step
    p = d.page("group_secretary")
    p.goto("/registers/clues")
    row = p.locator("tr", has_text="区队长虚报出勤")
    assert row.count() == 1 and "已给予党纪处分" in row.inner_text()
    row.locator("a").first.click()
    assert p.inner_text("#clue-status") == "已给予党纪处分"
    steps = p.locator("#clue-history .who").all_inner_texts()
    assert steps == ["登记", "集团公司纪委掌握", "研判处置方式", "集体研究", "报告集团公司纪委", "集团公司纪委审批",
                     "落实集团公司纪委指示", "集团公司纪委审阅指示落实情况", "初步核实", "集体研究立案", "立案审查", "审理",
                     "处置结果", "报告处置结果", "集团公司纪委审阅结果", "办结"]
    assert d.errors == []
