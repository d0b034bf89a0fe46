"""The demo history's cycles: articles, study, bulletin, quarterly tasks and reports, the assessment."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from engine.models import HumanTask
from engine.org.demo_data import (
    ARTICLE,
    BRANCH_UNIT,
    BRANCHES,
    POSTS,
    SLOW_UNIT,
    STUDY,
    UNIT_IDS,
    Open,
    _add_months,
    _month_end,
    commissioner,
)
from engine.org.demo_sim import DemoSim
from engine.services import bulletin as bulletin_service
from engine.services import study as study_service


class CycleFlows(DemoSim):
    """每月一文章, daily study, posts, quarterly linkage tasks and reports, 分级考核."""

    # ---- 每月一文章 and the daily study (四个一) ---------------------------------------------------------

    def plan_articles(self, month: date) -> None:
        period = f"{month.year}-{month.month:02d}"
        end = _month_end(month)
        for t in (
            self.open_tasks("write_branch", period=period)
            + self.open_tasks("write_unit", period=period)
            + (self.open_tasks("write_group", period=period))
        ):
            if t.assignee is None or self.rng.random() < 0.06:
                continue
            if month == self.end.astimezone(self.zone).date().replace(day=1):
                day = end - timedelta(days=self.rng.randint(1, 5))  # this month's: written in its last days
            else:
                day = month + timedelta(days=self.rng.randint(4, end.day - 3))
            self.at(self.local(day, self.rng.randint(8, 21)), self.write_article, t.id, t.assignee, month)

    def write_article(self, task_id: int, username: str, month: date) -> None:
        with self.sessions() as s:
            t = s.get(HumanTask, task_id)
            if t is None or t.status != "open":
                return
        title = f"{month.month}月学习体会：做实日常监督"
        self.complete(
            Open(task_id, "", None, 0, None, {}, username, None), username, {"title": title, "body": ARTICLE * 2}
        )

    def study_day(self, recent: bool) -> None:
        people = ["xinsheng_laogan", "xuchang_zongcai", "daizhuang_caimei", "xinsheng_member", "group_member"]
        if recent:
            people += ["xinsheng_wuye", "xuchang_juejin", "daizhuang_yunshu", "xuchang_member", "daizhuang_standing"]
        for username in people:
            if self.rng.random() < (0.3 if recent else 0.4):
                continue
            kinds = [k for k in STUDY if self.rng.random() < 0.8] or ["situation"]
            texts = {k: self.rng.choice(STUDY[k]) for k in kinds}
            with self.acting(username) as (s, p):
                saved = study_service.save(s, p, study_service.SaveEntries(texts), self.clock.now(), self.zone)
            self.done["study_entries"] += len(saved.entries)

    def post(self, i: int) -> None:
        kind, username, title, body = POSTS[i]
        with self.acting(username) as (s, p):
            made = bulletin_service.create(
                s, p, bulletin_service.PostCommand({"kind": kind, "title": title, "body": body}, True), self.clock.now()
            )
        self.done["bulletin_posts"] += 1
        readers = self.rng.sample(["group_member", "xinsheng_secretary", "xuchang_member", "daizhuang_deputy"], 2)
        for reader in readers:
            if reader != username:
                with self.acting(reader) as (s, p):
                    bulletin_service.read(s, p, int(made["id"]), self.clock.now())

    # ---- 自上而下: quarterly linkage tasks -------------------------------------------------------------

    def draft_quarterly_tasks(self, month: date) -> None:
        t = self.one("draft_tasks", process_key="quarterly_tasks")
        if t is None:
            return
        q = (month.month - 1) // 3 + 1
        m2, m3 = _add_months(month, 1), _add_months(month, 2)
        data = {
            "task_title": f"{month.year}年第{'一二三四'[q - 1]}季度纪检工作“三级联动”任务",
            "content": "围绕职工薪酬分配、严重“三违”处置和作风建设开展联动监督。",
            "tasks": [
                {
                    "title": "薪酬分配公示监督",
                    "requirement": "检查奖金分配方案研究及公示情况",
                    "deadline": str(m2 + timedelta(19)),
                },
                {"title": "作风建设提醒", "requirement": "开展廉洁提醒谈话", "deadline": str(m3 + timedelta(19))},
            ],
            "requirements": "各单位于本季度首月10日前报送实施方案。",
            "unit_scope": "all",
        }
        self.complete(t, "group_deputy", data)
        current = _add_months(month, 3) > self.end.astimezone(self.zone).date()
        for unit in UNIT_IDS:
            days = self.rng.randint(2, 6)
            if unit == SLOW_UNIT and current:
                days = 20  # past the plan's deadline
            self.later(days, self.quarterly_plan, unit, month, current)

    def quarterly_plan(self, unit: str, month: date, current: bool) -> None:
        t = self.one("draft_plan", node_id=unit, process_key="quarterly_tasks_unit")
        if t is None:
            return
        m2, m3 = _add_months(month, 1), _add_months(month, 2)
        early = current and unit == "xinsheng"  # done before the quarter's last weeks
        branches = BRANCHES[unit]
        items: list[dict[str, Any]] = [
            {
                "title": "薪酬公示检查",
                "requirement": "逐项检查公示情况",
                "deadline": str(m2 + timedelta(self.rng.randint(9, 24))),
            },
            {
                "title": "廉洁提醒谈话",
                "requirement": "对重点岗位人员开展提醒谈话",
                "deadline": str((m2 if early else m3) + timedelta(self.rng.randint(9, 24))),
                "branch_ids": self.rng.sample(branches, 2),
            },
        ]
        self.complete(t, self.member(unit), {"plan": "结合本单位实际制定的实施方案。", "items": items})
        for b in branches:
            latest = max(date.fromisoformat(i["deadline"]) for i in items if b in i.get("branch_ids", branches))
            offset = self.rng.randint(-9, -1) if self.rng.random() < 0.88 else self.rng.randint(1, 4)
            self.at(self.local(latest + timedelta(days=offset), self.rng.randint(8, 17)), self.implement, b)

    def implement(self, branch: str) -> None:
        t = self.one("implement", node_id=branch, process_key="quarterly_tasks_branch")
        if t is None:
            return
        n = len(t.data.get("my_items") or []) or 1
        results = [{"item_no": i, "status": "completed", "description": f"第{i}项已落实"} for i in range(1, n + 1)]
        self.complete(t, commissioner(branch), {"results": results, "summary": "已逐项落实。"})
        self.later(self.rng.randint(1, 4), self.confirm, branch)

    def confirm(self, branch: str) -> None:
        unit = BRANCH_UNIT[branch]
        t = self.one("confirm", node_id=unit, branch_id=branch)
        if t is None:
            return
        if self.rng.random() < 0.07 and t.data.get("rework_round", 1) == 1:
            self.complete(t, self.member(unit), {"decision": "returned", "confirm_opinion": "请补充落实佐证材料"})
            self.later(3, self.implement, branch)
            return
        self.complete(t, self.member(unit), {"decision": "confirmed"})
        close = self.one("review_completion", process_key="quarterly_tasks")
        if close is not None:
            self.later(self.rng.randint(2, 5), self.close_quarter)

    def close_quarter(self) -> None:
        t = self.one("review_completion", process_key="quarterly_tasks")
        if t is not None:
            self.complete(t, "group_secretary", {"closing_opinion": "各单位按期完成本季度联动任务。"})

    # ---- 每季度末: the unit's quarterly report and the group's analysis --------------------------------

    def plan_quarterly_reports(self, month: date) -> None:
        for unit in UNIT_IDS:
            late = self.rng.random() < 0.15
            self.later(self.rng.randint(9, 12) if late else self.rng.randint(1, 6), self.quarterly_report, unit)
        self.later(13, self.analyse_quarter)

    def quarterly_report(self, unit: str) -> None:
        t = self.one("write_report", node_id=unit, process_key="quarterly_report_unit")
        if t is None:
            return
        self.complete(
            t,
            f"{unit}_secretary",
            {
                "monthly_overview": t.data.get("monthly_overview") or "本季度各支部按月报送书面报告。",
                "findings_overview": t.data.get("findings_overview") or "本季度发现问题均已分类处置。",
                "work_summary": "本季度联动工作按计划推进，月度报告、问题处置和线索办理有序开展。",
                "problems": "个别支部月度报告不够及时，问题描述不够具体。",
                "next_plan": "加强督促指导，提高月度报告质量。",
            },
        )

    def analyse_quarter(self) -> None:
        t = self.one("analyse", process_key="quarterly_report")
        if t is None:
            self.later(4, self.analyse_quarter)
            return
        opinions = [
            {
                "unit_id": u,
                "opinion": "联动工作总体较好",
                "measures": "加强线索督办",
                "requirements": "按时报送月度报告",
            }
            for u in UNIT_IDS
        ]
        self.complete(
            t,
            "group_standing",
            {
                "daily_knowledge": "日常监督中掌握的情况",
                "analysis": "本季度各单位联动工作综合研判",
                "opinions": opinions,
            },
        )
        for unit in UNIT_IDS:
            self.later(self.rng.randint(2, 6), self.acknowledge_quarter, unit)

    def acknowledge_quarter(self, unit: str) -> None:
        t = self.one("acknowledge", node_id=unit, process_key="quarterly_report_feedback")
        if t is not None:
            self.complete(t, self.member(unit), {"implementation": "已传达学习，逐项抓好落实"})

    # ---- 分级考核与通报表彰 --------------------------------------------------------------------------

    def annual_notice(self, year: int) -> None:
        t = self.one("issue_notice", process_key="annual_assessment")
        if t is None:
            return
        deadline = date(year + 1, 1, 10)
        self.complete(
            t,
            "group_secretary",
            {
                "year": year,
                "requirements": "依据履职考核评价办法，重点考核三级联动落实情况",
                "unit_deadline": str(deadline),
            },
        )
        for unit in UNIT_IDS:
            self.at(self.local(deadline - timedelta(days=self.rng.randint(2, 6)), 10), self.unit_assessment, unit)
            self.at(self.local(deadline + timedelta(days=self.rng.randint(1, 3)), 15), self.group_assessment, unit)
        self.at(self.local(deadline + timedelta(days=6), 10), self.review_nominations)

    def unit_assessment(self, unit: str) -> None:
        t = self.one("unit_assess_members", node_id=unit)
        if t is None:
            return
        people = t.data.get("people") or []
        rated = [
            {"username": p["username"], "rating": "优秀" if i == 0 else "称职", "comment": "工作积极"}
            for i, p in enumerate(people)
        ]
        nominee = next((p["username"] for p in people if p.get("role") == "commissioner"), None)
        nominees = [{"username": nominee, "deeds": "全年按时报送月度报告，主动发现问题"}] if nominee else []
        self.complete(
            t, f"{unit}_secretary", {"assessments": rated, "nominees": nominees, "member_summary": "全年考核总结"}
        )
        self.later(1, self.approve_small_nominations)

    def approve_small_nominations(self) -> None:
        """A unit too small for one nomination at 20 % nominated one: the group decides."""
        for t in self.open_tasks("approve_small_nomination"):
            self.complete(t, "group_secretary", {"small_decision": "approved", "small_opinion": "同意推荐"})

    def group_assessment(self, unit: str) -> None:
        for t in self.open_tasks("group_assess_unit"):
            if t.unit_id != unit and t.data.get("unit_id") != unit:
                continue
            if unit == SLOW_UNIT:
                data = {
                    "score": 72,
                    "rating": "一般",
                    "linkage_problem": "应付凑付",
                    "problem_reason": "月度报告应付凑付，季度实施方案报送迟缓",
                    "assess_comment": "改进报告质量",
                }
            else:
                data = {"score": 92, "rating": "好", "linkage_problem": "无", "assess_comment": "联动工作扎实"}
            self.complete(t, "group_member", data)
            return

    def review_nominations(self) -> None:
        t = self.one("review_nominations")
        if t is None:
            self.later(3, self.review_nominations)
            return
        nominated = [n["username"] for n in t.data.get("nominated") or []]
        self.complete(
            t,
            "group_secretary",
            {
                "approved": nominated[:2],
                "bulletin_no": f"淄矿纪发〔{self.today().year}〕3号",
                "bulletin_date": self.day_str(),
                "review_note": "同意",
            },
        )
