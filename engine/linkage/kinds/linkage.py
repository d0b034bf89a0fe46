"""Record kinds of the three-tier linkage procedures: monthly and ad-hoc reports from branches,
clues, quarterly reports and the quarterly task batches (processes/monthly_report.bpmn,
adhoc_report.bpmn, clue_disposal.bpmn, quarterly_report.bpmn, quarterly_tasks.bpmn).

Required: every key the creating `save_record` writes (so that the dashboards, the registers and
the other diagrams may rely on them); optional: the keys later steps add."""

from __future__ import annotations

from engine.linkage.kinds._types import BOOL, DATE, INT, STR, STR_LIST, TIME, Schema, array, kind, maybe, obj, one_of

AREAS = ("party_conduct", "pay", "safety", "micro_corruption", "tendency", "other")
CLASSIFICATIONS = ("none", "immediate_fix", "tendency", "discipline_violation")
FINDING_STATES = ("pending_review", "fixing", "measures_pending", "measures_taken", "fixed", "clue_reported", "closed")
MEASURE: Schema = obj(
    {
        "kind": one_of("reminder", "criticism", "interview", "rules", "supervision", "other"),
        "detail": STR,
        "done_on": DATE,
    }
)
CLUE_STATUSES = (
    "待研判",
    "报集团公司纪委",
    "谈话函询",
    "初步核实",
    "暂存待查",
    "拟予了结",
    "拟立案审查",
    "已立案审查",
    "已了结",
    "已澄清正名",
    "已给予党纪处分",
    "已组织处理",
)
DISPOSALS = ("谈话函询", "初步核实", "暂存待查", "予以了结")
# how a clue ends (processes/clue_disposal.bpmn, 记录处置结果); 立案审查 only in records written before
# the 审理 step existed
CLUE_OUTCOMES = ("予以了结", "澄清正名", "党纪处分", "组织处理", "立案审查")
SANCTIONS = ("警告", "严重警告", "撤销党内职务", "留党察看", "开除党籍")
ORG_MEASURES = ("谈话提醒", "批评教育", "责令检查", "诫勉", "停职检查", "调整职务", "责令辞职", "免职", "降职")

MONTHLY_FINDING = obj(
    {
        "no": INT,
        "title": STR,
        "facts": STR,
        "person": STR,
        "area": one_of(*AREAS),
        "classification": maybe(one_of(*CLASSIFICATIONS)),
        "state": one_of(*FINDING_STATES),
    },
    {
        "analysis": STR,
        "fix_requirement": STR,
        "fix_deadline": maybe(DATE),
        "fixed_at": TIME,
        "fix_note": STR,
        "measures": array(MEASURE),
        "measures_at": TIME,
        "clue_reported_at": TIME,
        # the branch's reminder or criticism of the person (苗头性、倾向性问题), when it reported
        "branch_action": one_of("none", "reminder", "criticism"),
        "branch_action_detail": STR,
        "branch_action_on": maybe(DATE),
        # the unit's verification of 即知即改: reopened how often, with its last opinion
        "reopened": INT,
        "verify_opinion": STR,
        "verified_at": TIME,
    },
)

MONTHLY_REPORT = kind(
    "月度书面报告",
    "A branch's monthly written report and the unit committee's classification of its findings.",
    {
        "year": INT,
        "month": INT,
        "period": STR,
        "branch_id": STR,
        "branch_name": STR,
        "unit_id": STR,
        "summary": STR,
        "submitted_at": TIME,
        "resubmitted_at": TIME,
        "due_date": DATE,
        "on_time": BOOL,
        "status": one_of("submitted", "returned", "reviewed", "closed"),
        "return_count": INT,
        "findings": array(MONTHLY_FINDING),
    },
    {"return_opinion": STR, "reviewed_at": TIME, "review_opinion": STR, "closed_at": TIME},
)

ADHOC_REPORT = kind(
    "随时报告",
    "A branch's (or a unit committee's) ad-hoc report of a major problem or sensitive information, and its disposal.",
    {
        "branch_id": maybe(STR),
        "branch_name": maybe(STR),
        "unit_id": STR,
        "severity": one_of("routine", "major", "sensitive"),
        "subject": STR,
        "facts": STR,
        "occurred_on": DATE,
        "persons": STR,
        "area": one_of(*AREAS),
        "filed_at": TIME,
        "status": one_of("filed", "reported_to_group", "acknowledged", "disposing", "closed"),
        "escalated": BOOL,
        "acks": obj(
            {},
            {
                "unit": obj({"acknowledged_at": TIME, "opinion": STR}),
                "group": obj({"acknowledged_at": TIME, "instructions": STR}),
            },
        ),
        "classification": maybe(one_of(*CLASSIFICATIONS)),
        "state": one_of("pending", *FINDING_STATES[1:]),
    },
    {
        "analysis": STR,
        "classified_at": TIME,
        "closed_at": TIME,
        "measures": array(MEASURE),
        "fix_note": STR,
        "reopened": INT,
        "verify_opinion": STR,
        # filed by a unit committee itself (adhoc_report_unit): branch_id / branch_name are null
        "filed_by": one_of("branch", "unit"),
        "source": one_of("committee", "department"),
        "department": STR,
        "disposal": STR,
    },
)

CLUE_STEP = obj(
    {"step": STR, "at": TIME},
    {
        "note": STR,
        "level": one_of("一般", "重大"),
        "disposal": one_of(*DISPOSALS),
        "method": STR,
        "date": maybe(DATE),
        "result": STR,
        "case_no": STR,
    },
)

# a 集体研究 record (engine/core/decisions.py): of the 重大 clue, and of the decision to file a case (立案)
_COLLECTIVE = obj(
    {"meeting_date": DATE, "attendees": STR_LIST, "decision": STR, "votes": {"type": "object"}}, closed=False
)

CLUE = kind(
    "问题线索",
    "A clue on the unit committee's register and where its disposal stands (confidential).",
    {
        "clue_no": STR,
        "title": STR,
        "unit_id": STR,
        "unit_name": STR,
        "branch_id": maybe(STR),
        "branch_name": maybe(STR),
        "source": STR,
        "origin": STR,
        "person": STR,
        "facts": STR,
        "reporter": maybe(STR),
        "registered_at": TIME,
        "status": one_of(*CLUE_STATUSES),
        "level": maybe(one_of("一般", "重大")),
        "disposal": maybe(one_of(*DISPOSALS)),
        "reported_to_group": BOOL,
        "group_ack": maybe(
            obj(
                {"at": TIME, "instructions": STR},
                {
                    "decision": one_of("approve", "instruct"),
                    "deadline": maybe(DATE),
                    "disposal": maybe(one_of(*DISPOSALS)),
                },
            )
        ),
        "outcome": maybe(one_of(*CLUE_OUTCOMES)),
        "history": array(CLUE_STEP),
    },
    {
        "collective": _COLLECTIVE,
        # the group's instruction, carried out by the unit as soon as it is given (落实集团公司纪委指示)
        "instruction": obj(
            {
                "instructions": STR,
                "deadline": maybe(DATE),
                "done_on": DATE,
                "report": STR,
                "reported_at": TIME,
                "on_time": BOOL,
            },
            {"accepted_at": TIME, "opinion": STR},
        ),
        "case": obj(
            {"case_no": STR, "filing_date": DATE, "note": STR},
            {
                "collective": _COLLECTIVE,
                "trial_date": DATE,
                "handling": one_of("党纪处分", "组织处理"),
                "sanction": maybe(one_of(*SANCTIONS)),
                "org_measure": maybe(one_of(*ORG_MEASURES)),
                "decision_no": STR,
                "trial_note": STR,
            },
        ),
        "result": obj(
            {"kind": one_of(*CLUE_OUTCOMES[:4]), "reason": STR, "way": one_of(*DISPOSALS), "decided_on": DATE},
            {"sanction": maybe(one_of(*SANCTIONS)), "org_measure": maybe(one_of(*ORG_MEASURES))},
        ),
        "outcome_report": obj(
            {"at": TIME, "text": STR, "deadline": maybe(DATE)}, {"accepted_at": TIME, "opinion": STR}
        ),
        "closed_at": TIME,
    },
)

_COUNTS = {"type": "object", "additionalProperties": INT}
QUARTERLY_REPORT = kind(
    "季度工作报告",
    "A unit committee's quarterly linkage report and the group committee's opinion on it.",
    {
        "year": INT,
        "quarter": INT,
        "unit_id": STR,
        "unit_name": STR,
        "statistics": obj(
            {
                "reports_expected": INT,
                "reports_submitted": INT,
                "reports_on_time": INT,
                "findings_total": INT,
                "findings_by_classification": _COUNTS,
                "findings_unclassified": INT,
                "findings_open": INT,
                "adhoc_reports": INT,
                "adhoc_by_severity": _COUNTS,
            }
        ),
        "branch_overview": array(
            obj({"branch_id": STR, "branch_name": STR, "months_reported": STR_LIST, "findings": INT})
        ),
        "monthly_overview": STR,
        "findings_overview": STR,
        "work_summary": STR,
        "problems": STR,
        "next_plan": STR,
        "submitted_at": TIME,
        "on_time": BOOL,
        "status": one_of("submitted", "opinion_issued", "acknowledged"),
        "group_opinion": maybe(STR),
        "acknowledged_at": maybe(TIME),
    },
    {"group_measures": STR, "group_requirements": STR, "opinion_issued_at": TIME, "implementation": STR},
)

QUARTERLY_ANALYSIS = kind(
    "季度综合研判",
    "The group committee's analysis of a quarter's unit reports.",
    {"year": INT, "quarter": INT, "analysis": STR, "daily_knowledge": STR, "issued_at": TIME, "units": STR_LIST},
)

BRANCH_STATUS = obj(
    {"branch_name": STR, "status": one_of("implementing", "reported", "returned", "confirmed"), "rounds": INT},
    {
        "reported_at": TIME,
        "return_opinion": STR,
        "confirmed_at": TIME,
        # what the branch reported, item by item, and the unit's reason for confirming items still in progress
        "results": array({"type": "object"}),
        "summary": STR,
        "report_text": STR,
        "in_progress": INT,
        "confirm_opinion": STR,
        "group_comment": STR,
    },
)

QUARTERLY_UNIT_STATUS = kind(
    "季度工作情况",
    "A unit's part of a quarterly task batch (regular or special) and its branches' progress.",
    {
        "year": INT,
        "quarter": INT,
        "batch": one_of("regular", "special"),
        "batch_key": STR,
        "task_title": STR,
        "unit_id": STR,
        "unit_name": STR,
        "status": one_of("planning", "implementing", "completed"),
        "branches_total": INT,
        "branches_done": INT,
        "branches": {"type": "object", "additionalProperties": BRANCH_STATUS},
        "issued_at": TIME,
        "plan_submitted_at": maybe(TIME),
        "completed_at": maybe(TIME),
        "closed_at": maybe(TIME),
    },
    {"plan": STR, "closing_opinion": STR},
)

# Written by the engine, not by a script: a form field marked `"x-record": "findings"`
# (engine/linkage/form_records.py); the findings chart counts each item.
FORM_FINDINGS = kind(
    "表单登记的问题",
    "The findings a form field marked x-record: findings held when its task was completed.",
    {
        "process_key": STR,
        "root_process_key": STR,
        "task": STR,
        "task_name": STR,
        "field": STR,
        "year": INT,
        "month": INT,
        "completed_at": TIME,
        "findings": array(obj({"classification": maybe(one_of(*CLASSIFICATIONS)), "item": {}})),
    },
)

SCHEMAS: dict[str, Schema] = {
    "form_findings": FORM_FINDINGS,
    "monthly_report": MONTHLY_REPORT,
    "adhoc_report": ADHOC_REPORT,
    "clue": CLUE,
    "quarterly_report": QUARTERLY_REPORT,
    "quarterly_analysis": QUARTERLY_ANALYSIS,
    "quarterly_unit_status": QUARTERLY_UNIT_STATUS,
}
