"""The demo history's bottom-up flows: monthly written reports with their findings, and clue disposal."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from engine.core.decisions import committee_names
from engine.models import ProcessInstance
from engine.org.demo_data import (
    BRANCH_UNIT,
    BRANCHES,
    CLUE_SOURCES,
    COMMITTEE,
    FINDINGS,
    LATE_BRANCH,
    SILENT_BRANCH,
    SUMMARIES,
    UNIT_IDS,
    _month_end,
    commissioner,
)
from engine.org.demo_sim import DemoSim


class ReportFlows(DemoSim):
    """自下而上: monthly reports, findings' follow-ups, clues through every way."""

    # ---- 自下而上: the monthly written report ----------------------------------------------------------

    def plan_monthly_reports(self, month: date, age: int) -> None:
        """`age`: 0 the current month, 1 the last complete one, ..."""
        period = f"{month.year}-{month.month:02d}"
        end = _month_end(month)
        for t in self.open_tasks("write_report", process_key="monthly_report_branch", period=period):
            branch = t.node_id
            r = self.rng.random()
            if age == 1 and branch == SILENT_BRANCH:
                continue  # never filed: past due, not submitted
            if age == 2 and branch == LATE_BRANCH:
                r = 0.9
            if age == 0 and branch == "xuchang-zongcai":  # one report of this month is in already
                when = self.clock.now() + (self.end - self.clock.now()) / 2
                self.at(when, self.write_report, branch, period, [self.finding(FINDINGS[6])])
                continue
            if r < 0.8:
                day = month + timedelta(days=self.rng.randint(9, end.day - 2))
            elif r < 0.97:
                day = end + timedelta(days=self.rng.randint(1, 4))  # late
            else:
                continue
            n = self.rng.choice((0, 0, 1, 1, 1, 2, 2, 3))
            findings = [self.finding(f) for f in self.rng.sample(FINDINGS, n)]
            self.at(
                self.local(day, self.rng.randint(8, 17), self.rng.randint(0, 59)),
                self.write_report,
                branch,
                period,
                findings,
            )

    @staticmethod
    def finding(f: tuple[str, str, str, str]) -> dict[str, Any]:
        item = {"title": f[0], "facts": f[1], "area": f[2]}
        if f[3]:
            item["person"] = f[3]
        if f[2] == "tendency":  # the commissioner has already reminded the person (三（三）5)
            item["branch_action"] = "reminder"
            item["branch_action_detail"] = "当面予以提醒，要求立即纠正"
        return item

    def write_report(self, branch: str, period: str, findings: list[dict[str, Any]]) -> None:
        t = self.one("write_report", process_key="monthly_report_branch", node_id=branch, period=period)
        if t is None:
            return
        self.complete(t, commissioner(branch), {"summary": self.rng.choice(SUMMARIES), "findings": findings})
        late = self.rng.random() < 0.12
        self.later(self.rng.randint(8, 11) if late else self.rng.randint(1, 5), self.review_report, branch, period)

    def review_report(self, branch: str, period: str) -> None:
        unit = BRANCH_UNIT[branch]
        t = self.one(
            "review_report", process_key="monthly_report_branch", node_id=unit, branch_id=branch, period=period
        )
        if t is None:
            return
        findings = t.data.get("report_findings") or t.data.get("findings") or []
        user = self.member(unit)
        if findings and not t.data.get("return_count") and self.rng.random() < 0.08:
            self.complete(t, user, {"decision": "returned", "review_opinion": "请补充问题涉及人员和具体事实"})
            self.later(2, self.write_report, branch, period, [self.strip(f) for f in findings])
            return
        classes = []
        follow: list[tuple[int, str]] = []
        for no, f in enumerate(findings, start=1):
            kind = self.rng.choices(
                ("immediate_fix", "tendency", "none", "discipline_violation"), weights=(36, 32, 22, 10)
            )[0]
            c: dict[str, Any] = {"no": no, "classification": kind}
            if kind == "immediate_fix":
                c.update(analysis="属即知即改问题", fix_requirement="立即纠正，规范管理", fix_deadline=self.day_str(12))
            elif kind == "tendency":
                c.update(analysis="属苗头性、倾向性问题")
            elif kind == "discipline_violation":
                c.update(analysis="涉嫌违反党的纪律", person=f.get("person") or "某班组长")
            else:
                c.update(analysis="经核实已整改，无需处置")
            classes.append(c)
            follow.append((no, kind))
        since = self.last_instance_id()
        self.complete(t, user, {"decision": "accepted", "review_opinion": "已逐条分类处置", "classifications": classes})
        if any(k in ("immediate_fix", "tendency") for _no, k in follow):
            self.later(self.rng.randint(2, 6), self.finding_followups, t.instance_id)
        for iid, unit_id in self.new_instances(since, "clue_disposal"):
            self.later(self.rng.randint(2, 6), self.assess_clue, iid, unit_id or unit)

    @staticmethod
    def strip(f: dict[str, Any]) -> dict[str, Any]:
        keep = ("title", "facts", "area", "person", "branch_action", "branch_action_detail")
        return {k: f[k] for k in keep if f.get(k)}

    def finding_followups(self, report_instance: int) -> None:
        """The findings of one report: the branch reports its fix, the unit records measures."""
        for t in self.open_tasks("report_fix", parent_id=report_instance):
            if self.rng.random() < 0.25:
                self.complete(t, commissioner(t.node_id), {"fix_state": "not_fixed", "fix_description": "正在整改"})
                self.later(self.rng.randint(1, 3), self.urge_fix, t.instance_id)
            else:
                self.complete(t, commissioner(t.node_id), {"fix_state": "fixed", "fix_description": "已当面纠正到位"})
                self.later(self.rng.randint(1, 3), self.verify_fix, t.instance_id)
        for t in self.open_tasks("record_measures", parent_id=report_instance):
            measure = self.rng.choice(("reminder", "criticism", "interview", "rules", "supervision"))
            self.complete(
                t,
                self.member(t.node_id),
                {"measures": [{"kind": measure, "detail": "对相关人员进行提醒谈话", "done_on": self.day_str()}]},
            )

    def urge_fix(self, instance_id: int) -> None:
        t = self.one("urge_fix", instance_id=instance_id)
        if t is None:
            return
        self.complete(t, self.member(t.node_id), {"urge_opinion": "限期整改到位", "fix_due": self.day_str(10)})
        self.later(self.rng.randint(3, 8), self.fix_again, instance_id)

    def fix_again(self, instance_id: int) -> None:
        t = self.one("report_fix", instance_id=instance_id)
        if t is not None:
            self.complete(t, commissioner(t.node_id), {"fix_state": "fixed", "fix_description": "已整改完毕"})
            self.later(self.rng.randint(1, 3), self.verify_fix, instance_id)

    def verify_fix(self, instance_id: int) -> None:
        """The unit verifies a fix the branch reported: now and then sent back once, else accepted."""
        t = self.one("verify_fix", instance_id=instance_id)
        if t is None:
            return
        if self.rng.random() < 0.15 and not t.data.get("reopen_count"):
            self.complete(
                t,
                self.member(t.node_id),
                {
                    "verify_decision": "reopened",
                    "verify_opinion": "整改不彻底，请补充佐证材料",
                    "reopen_due": self.day_str(7),
                },
            )
            self.later(self.rng.randint(2, 5), self.fix_again, instance_id)
            return
        self.complete(t, self.member(t.node_id), {"verify_decision": "accepted", "verify_opinion": "经复核已整改到位"})

    # ---- 问题线索处置 -----------------------------------------------------------------------------------

    def manual_clue(self, i: int) -> None:
        unit = UNIT_IDS[i % len(UNIT_IDS)]
        origin, person, facts = CLUE_SOURCES[i % len(CLUE_SOURCES)]
        user = f"{unit}_member"
        iid = self.start("clue_disposal", user)
        t = self.one("register_form", instance_id=iid)
        if t is None:
            return
        self.complete(
            t,
            user,
            {
                "clue_origin": origin,
                "branch_id": BRANCHES[unit][i % 3],
                "clue_person": person,
                "clue_facts": facts,
                "received_date": self.day_str(-1),
            },
        )
        self.later(self.rng.randint(1, 4), self.assess_clue, iid, unit)

    def approve(self, spec_id: str, iid: int, doer: str, data: dict[str, Any], unit: str) -> bool:
        """A step with `approval` = `secretary`: the undertaker submits, the unit's 书记 approves."""
        t = self.one(spec_id, instance_id=iid)
        if t is None:
            return False
        self.complete(t, doer, data)
        a = self.one(spec_id, instance_id=iid)  # the approval task now open for that step
        if a is not None:
            self.complete(a, f"{unit}_secretary", {"decision": "approve", "opinion": "同意"})
        return True

    def undertaker(self, unit: str) -> str:
        return f"{unit}_{self.rng.choice(COMMITTEE[1:])}"  # anyone of the committee but the 书记 who approves

    def assess_clue(self, iid: int, unit: str) -> None:
        disposal = self.rng.choices(("谈话函询", "初步核实", "暂存待查", "予以了结"), weights=(35, 25, 15, 25))[0]
        major = self.rng.random() < 0.2
        opinion = "经研判，反映问题不具体，予以了结" if disposal == "予以了结" else "经研判，提出处置意见"
        data = {"clue_level": "重大" if major else "一般", "disposal": disposal, "assess_opinion": opinion}
        if disposal == "暂存待查":
            data["pending_until"] = self.day_str(self.rng.randint(40, 80))
        if not self.approve("assess", iid, self.undertaker(unit), data, unit):
            return
        if major:
            self.later(self.rng.randint(1, 4), self.collective_clue, iid, unit)
        else:
            self.dispose_clue(iid, unit, disposal)

    def dispose_clue(self, iid: int, unit: str, disposal: str) -> None:
        if disposal == "谈话函询":
            self.later(self.rng.randint(10, 30), self.talk, iid, unit)
        elif disposal == "初步核实":
            self.later(self.rng.randint(20, 45), self.verify, iid, unit)
        elif disposal == "暂存待查":
            self.later(self.rng.randint(40, 80), self.shelve_review, iid, unit)
        else:
            self.report_clue_outcome(iid, unit)

    def collective_clue(self, iid: int, unit: str) -> None:
        """集体研究 of a 重大 clue: three of the four committee members at the meeting, then the group decides."""
        t = self.one("collective_study", instance_id=iid)
        if t is None:
            return
        with self.sessions() as s:
            names = committee_names(s, unit)
        record = {
            "meeting_date": self.day_str(),
            "attendees": names[:3],
            "decision": "同意承办人意见，报集团公司纪委",
            "votes": {"agree": 3, "against": 0, "abstain": 0},
        }
        self.complete(t, self.undertaker(unit), {"collective": record})
        self.later(self.rng.randint(1, 3), self.group_review_clue, iid, unit)

    def group_review_clue(self, iid: int, unit: str) -> None:
        t = self.one("group_review", instance_id=iid)
        if t is None:
            return
        data: dict[str, Any] = {"group_decision": "approve"}
        if self.rng.random() < 0.6:
            deadline = self.day_str(self.rng.randint(45, 75))
            data = {
                "group_decision": "instruct",
                "group_instructions": f"从严从快核查，核实结果于{deadline}前报集团公司纪委",
                "group_deadline": deadline,
            }
        self.complete(t, self.rng.choice(("group_secretary", "group_deputy")), data)
        if data["group_decision"] == "instruct":  # the unit carries the instruction out at once, beside the disposal
            self.at(self.clock.now() + timedelta(days=6, hours=2), self.carry_out_clue_instruction, iid, unit)
        disposal = self.clue_disposal_of(iid)
        if disposal:
            self.dispose_clue(iid, unit, disposal)

    def carry_out_clue_instruction(self, iid: int, unit: str) -> None:
        """落实集团公司纪委指示: reported by the unit within the group's deadline, read by the group."""
        t = self.one("carry_out_instruction", instance_id=iid)
        if t is None:
            return
        data = {
            "instruction_done_on": self.day_str(),
            "instruction_report": "已按集团公司纪委指示完成核实，核实情况如下",
        }
        self.complete(t, self.undertaker(unit), data)
        self.at(self.clock.now() + timedelta(days=2, hours=1), self.accept_clue_instruction, iid)

    def accept_clue_instruction(self, iid: int) -> None:
        t = self.one("instruction_accept", instance_id=iid)
        if t is not None:
            self.complete(
                t, "group_deputy", {"instruction_decision": "accept", "instruction_opinion": "同意，继续按程序处置"}
            )

    def clue_disposal_of(self, iid: int) -> str | None:
        with self.sessions() as s:
            inst = s.get(ProcessInstance, iid)
            return (inst.data or {}).get("disposal") if inst is not None else None

    def report_clue_outcome(self, iid: int, unit: str) -> None:
        """For a clue the group saw: the unit reports the outcome (by the group's deadline), the group reads it."""
        t = self.one("report_outcome", instance_id=iid)
        if t is None:
            return
        self.later(self.rng.randint(2, 8), self.send_clue_outcome, iid, unit)

    def send_clue_outcome(self, iid: int, unit: str) -> None:
        t = self.one("report_outcome", instance_id=iid)
        if t is None:
            return
        self.complete(t, self.undertaker(unit), {"outcome_report": "按集团公司纪委要求完成处置，现报告处置结果"})
        self.later(self.rng.randint(1, 4), self.accept_clue_outcome, iid)

    def accept_clue_outcome(self, iid: int) -> None:
        t = self.one("group_accept", instance_id=iid)
        if t is not None:
            self.complete(t, "group_deputy", {"accept_decision": "accept", "accept_opinion": "同意，按程序归档"})

    def talk(self, iid: int, unit: str) -> None:
        t = self.one("talk", instance_id=iid)
        if t is None:
            return
        roll = self.rng.random()
        result = "转初步核实" if roll < 0.3 else ("澄清正名" if roll < 0.45 else "予以了结")
        data = {
            "talk_method": self.rng.choice(("谈话", "函询")),
            "talk_date": self.day_str(-1),
            "talk_record": "本人对反映的问题作了说明",
            "talk_result": result,
        }
        if result == "澄清正名":
            data["result_reason"] = "反映问题不实，在一定范围内予以澄清"
        elif result == "予以了结":
            data["result_reason"] = "本人如实说明，问题轻微，已批评教育"
        self.complete(t, self.undertaker(unit), data)
        if result == "转初步核实":
            self.later(self.rng.randint(20, 40), self.verify, iid, unit)
        else:
            self.report_clue_outcome(iid, unit)

    def verify(self, iid: int, unit: str) -> None:
        t = self.one("verify", instance_id=iid)
        if t is None:
            return
        roll = self.rng.random()
        conclusion = "立案审查" if roll < 0.4 else ("澄清正名" if roll < 0.55 else "予以了结")
        data = {
            "verify_date": self.day_str(-1),
            "verify_findings": "经核实，反映问题基本属实" if conclusion == "立案审查" else "经核实，反映问题不实",
            "verify_conclusion": conclusion,
        }
        if conclusion != "立案审查":
            data["result_reason"] = "经初步核实，反映问题不实" + ("，予以澄清正名" if conclusion == "澄清正名" else "")
        self.complete(t, self.undertaker(unit), data)
        if conclusion == "立案审查":
            self.later(self.rng.randint(4, 10), self.file_case, iid, unit)
        else:
            self.report_clue_outcome(iid, unit)

    def file_case(self, iid: int, unit: str) -> None:
        if self.one("case_file", instance_id=iid) is None:
            return
        self.done["cases"] += 1
        no = f"{unit}纪审〔{self.today().year}〕{self.done['cases']}号"
        with self.sessions() as s:
            names = committee_names(s, unit)
        record = {  # 立案 is decided collectively (three of the four members), then approved by the 书记
            "meeting_date": self.day_str(),
            "attendees": names[:3],
            "decision": "同意立案审查",
            "votes": {"agree": 3, "against": 0, "abstain": 0},
        }
        data = {
            "case_no": no,
            "filing_date": self.day_str(),
            "case_note": "经集体研究、书记审批，启动审查程序",
            "collective": record,
        }
        if self.approve("case_file", iid, self.undertaker(unit), data, unit):
            self.later(self.rng.randint(20, 50), self.try_case, iid, unit)

    def try_case(self, iid: int, unit: str) -> None:
        """审理: a Party-discipline sanction or 组织处理, approved by the 书记."""
        if self.rng.random() < 0.7:
            sanction = self.rng.choices(
                ("警告", "严重警告", "撤销党内职务", "留党察看", "开除党籍"), (40, 30, 12, 10, 8)
            )[0]
            extra = {"handling": "党纪处分", "sanction": sanction}
        else:
            extra = {
                "handling": "组织处理",
                "org_measure": self.rng.choice(("诫勉", "批评教育", "责令检查", "调整职务")),
            }
        data = {
            "trial_date": self.day_str(),
            "decision_no": f"{unit}纪处〔{self.today().year}〕{self.done['cases']}号",
            "trial_note": "经审理，事实清楚，证据确凿",
            **extra,
        }
        if self.approve("case_trial", iid, self.undertaker(unit), data, unit):
            self.report_clue_outcome(iid, unit)

    def shelve_review(self, iid: int, unit: str) -> None:
        data = {"disposal": "予以了结", "review_note": "暂存期满，未发现新的问题"}
        if self.approve("shelve_review", iid, self.undertaker(unit), data, unit):
            self.report_clue_outcome(iid, unit)
