"""The demo history's occasional work: the special inspection, ad-hoc reports, document forwarding."""

from __future__ import annotations

from typing import Any

from engine.org.demo_data import BRANCH_UNIT, BRANCHES, FINDINGS, UNIT_IDS, commissioner
from engine.org.demo_flows_reports import ReportFlows


class FieldFlows(ReportFlows):
    """专项监督检查, 随时报告 and 转发上级文件."""

    # ---- 专项监督检查 ---------------------------------------------------------------------------------

    def special_inspection(self, current: bool) -> None:
        iid = self.start("special_inspection", "group_secretary")
        t = self.one("deploy_inspection", instance_id=iid)
        if t is None:
            return
        units = UNIT_IDS if current else ["xinsheng", "xuchang"]
        self.complete(
            t,
            "group_secretary",
            {
                "topic": "重大隐患和工伤事故处理" if current else "职工薪酬分配",
                "requirements": "检查有关制度执行及公示公开情况",
                "selfcheck_deadline": self.day_str(24 if current else 18),
                "scope_units": units,
            },
        )
        for u in units:
            for b in BRANCHES[u]:
                self.later(self.rng.randint(2, 14), self.visit, b)
            if not current:  # the departments' self-checks of the current one are still to do
                # 许厂's departments report two days past the deadline
                self.later(20 if u == "xuchang" else self.rng.randint(4, 14), self.dept_selfcheck, u)
            self.later(21, self.unit_summary, u)
        self.later(24, self.choose_mode, iid)

    def visit(self, branch: str) -> None:
        t = self.one("visit", node_id=branch)
        if t is None:
            return
        self.complete(
            t,
            commissioner(branch),
            {
                "visit_mode": self.rng.choice(("明察", "暗访")),
                "visit_date": self.day_str(-1),
                "visit_places": "工资发放和井下作业现场",
                "visit_findings": [{"problem": "个别班组考勤记录不实", "person": "某班长", "severity": "一般"}],
                "visit_conclusion": "总体情况良好，发现问题已督促整改",
            },
        )

    def dept_selfcheck(self, unit: str) -> None:
        t = self.one("dept_selfcheck", node_id=unit)
        if t is None:
            return
        self.complete(
            t,
            f"{unit}_dept",
            {
                "departments": "人力资源部、财务部",
                "dept_summary": "已按要求完成自查",
                "dept_problems": [{"problem": "公示期不足", "measure": "延长公示", "status": "已整改"}],
            },
        )

    def unit_summary(self, unit: str) -> None:
        t = self.one("unit_selfcheck_summary", node_id=unit)
        if t is not None:
            self.complete(
                t,
                f"{unit}_secretary",
                {"selfcheck_summary": "自查自纠报告", "problems_found": 1, "problems_rectified": 1},
            )

    def choose_mode(self, iid: int) -> None:
        t = self.one("choose_mode", instance_id=iid)
        if t is None:
            self.later(3, self.choose_mode, iid)
            return
        self.complete(t, "group_deputy", {"mode": "集中检查", "mode_note": "对两家单位集中检查"})
        self.later(4, self.central_check, iid)

    def central_check(self, iid: int) -> None:
        t = self.one("central_check", instance_id=iid)
        if t is None:
            return
        since = self.last_instance_id()
        findings = [
            {
                "unit_id": "xinsheng",
                "problem": "奖金分配方案未公示",
                "handling": "限期整改",
                "deadline": self.day_str(30),
            },
            {"unit_id": "xuchang", "problem": "套取冒领奖金", "handling": "移交问题线索", "person": "钱某（工区主任）"},
        ]
        self.complete(t, "group_standing", {"findings": findings, "check_summary": "集中检查发现问题2个"})
        for clue, unit in self.new_instances(since, "clue_disposal"):
            self.later(self.rng.randint(2, 5), self.assess_clue, clue, unit or "xuchang")
        self.later(15, self.rectify, "xinsheng")

    def rectify(self, unit: str) -> None:
        t = self.one("rectify", node_id=unit)
        if t is None:
            return
        results = [
            {
                "finding_key": item["key"],
                "measures": "已重新公示",
                "completed_date": self.day_str(-1),
                "status": "已整改",
            }
            for item in t.data.get("rectify_items") or []
        ]
        self.complete(t, f"{unit}_deputy", {"results": results, "rectify_summary": "已整改到位"})
        self.later(4, self.accept_rectify, t.instance_id)

    def accept_rectify(self, iid: int) -> None:
        t = self.one("accept_rectify")
        if t is not None:
            self.complete(t, "group_deputy", {"acceptance": "验收通过", "accept_note": "整改到位"})

    # ---- 随时报告 ---------------------------------------------------------------------------------------

    def adhoc_report(self, kind: str, i: int) -> None:
        branches = [b for u in UNIT_IDS for b in BRANCHES[u]]
        branch = branches[(i * 4 + 1) % len(branches)]
        unit = BRANCH_UNIT[branch]
        user = commissioner(branch)
        iid = self.start("adhoc_report", user)
        t = self.one("file_report", instance_id=iid)
        if t is None:
            return
        severity = {"major": "major", "escalated": "major", "incident": "major", "sensitive": "sensitive"}.get(
            kind, "routine"
        )
        subject, facts, area, person = FINDINGS[(i * 3) % len(FINDINGS)]
        self.complete(
            t,
            user,
            {
                "severity": severity,
                "subject": subject,
                "facts": facts,
                "occurred_on": self.day_str(-2),
                "persons": person,
                "area": area,
            },
        )
        if kind == "pending":  # filed, not classified yet
            return
        if kind == "incident":
            self.failing.add(iid)  # the unit has not acknowledged; firing the escalation timer fails
            return
        if severity != "routine":
            ack_in = 2 if kind == "escalated" else 0.2  # a day late: the group is asked to press the unit
            self.later(ack_in, self.adhoc_acks, iid, unit, kind)
            return
        self.later(self.rng.randint(1, 3), self.adhoc_classify, iid, unit, kind)

    def adhoc_acks(self, iid: int, unit: str, kind: str) -> None:
        press = self.one("escalate_unit", instance_id=iid)
        if press is not None:
            self.complete(press, "group_standing", {"escalation_note": f"请{unit}纪委立即签收"})
        t = self.one("unit_ack", instance_id=iid)
        if t is not None:
            self.complete(t, f"{unit}_secretary", {"unit_opinion": "已签收，立即组织核实"})
        t = self.one("group_ack", instance_id=iid)
        if t is not None:
            self.complete(t, "group_deputy", {"group_instructions": "请抓紧核实，结果及时报告"})
        self.later(1, self.adhoc_classify, iid, unit, "discipline_violation" if kind == "sensitive" else "tendency")

    def adhoc_classify(self, iid: int, unit: str, kind: str) -> None:
        t = self.one("classify", instance_id=iid)
        if t is None:
            return
        data: dict[str, Any] = {"classification": kind, "analysis": "经分析研判"}
        if kind == "immediate_fix":
            data.update(fix_requirement="立即整改", fix_deadline=self.day_str(10))
        if kind == "discipline_violation":
            data["clue_person_input"] = "周某（车间主任）"
        since = self.last_instance_id()
        self.complete(t, self.member(unit), data)
        if kind == "tendency":
            self.later(3, self.adhoc_measures, iid, unit)
        if kind == "immediate_fix":
            self.later(5, self.fix_again, iid)
        for clue, clue_unit in self.new_instances(since, "clue_disposal"):
            self.later(2, self.assess_clue, clue, clue_unit or unit)

    def adhoc_measures(self, iid: int, unit: str) -> None:
        t = self.one("record_measures", instance_id=iid)
        if t is not None:
            self.complete(
                t,
                self.member(unit),
                {"measures": [{"kind": "criticism", "detail": "批评教育", "done_on": self.day_str()}]},
            )

    # ---- 转发上级文件 -----------------------------------------------------------------------------------

    def forward_document(self) -> None:
        iid = self.start("document_forwarding", "xinsheng_secretary")
        t = self.one("draft_forwarding", instance_id=iid)
        if t is None:
            return
        self.complete(
            t,
            "xinsheng_secretary",
            {
                "doc_number": "淄矿纪发〔2019〕18号",
                "doc_title": "中共淄博矿业集团有限责任公司纪委关于实施纪检工作“三级联动”的安排意见",
                "doc_issuer": "中共淄博矿业集团有限责任公司纪委",
                "doc_date": "2019-10-12",
                "doc_attachment": "附件：淄矿纪发〔2019〕18号.pdf",
                "cover_number": f"新升纪发〔{self.today().year}〕10号",
                "cover_note": "希望各单位结合单位实际情况，更好地发挥本单位支部纪律检查委员的主动监督作用，"
                "构建纵向到底、协同联动的监督工作体系，推动全面从严治党治企工作逐级落实。",
                "recipients_mode": "全部支部",
                "ack_deadline": self.day_str(7),
            },
        )
        for i, b in enumerate(BRANCHES["xinsheng"]):
            self.later(2 + i if i < 2 else 10, self.acknowledge_document, b)  # the last after the reminder
        self.later(9, self.urge_receipt, iid)

    def acknowledge_document(self, branch: str) -> None:
        t = self.one("acknowledge", node_id=branch, process_key="document_forwarding_receipt")
        if t is not None:
            self.complete(
                t,
                commissioner(branch),
                {
                    "received": True,
                    "receiver": "纪律检查委员",
                    "receipt_date": self.day_str(),
                    "implementation_note": "",
                },
            )

    def urge_receipt(self, iid: int) -> None:
        t = self.one("urge_receipt", instance_id=iid)
        if t is not None:
            self.complete(t, "xinsheng_member", {"urge_note": "电话督促支部当日签收"})
