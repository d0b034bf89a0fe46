"""Record kinds of the special inspection procedure (processes/special_inspection.bpmn).

Required: every key the creating `save_record` writes; optional: the keys later steps add."""

from __future__ import annotations

from engine.linkage.kinds._types import DATE, INT, STR, STR_LIST, TIME, Schema, array, kind, obj, one_of

HANDLING = ("限期整改", "移交问题线索")

SPECIAL_INSPECTION = kind(
    "专项监督检查",
    "A special inspection the group committee ran: topic, units, how many findings.",
    {
        "inspection_id": STR,
        "topic": STR,
        "scope_units": STR_LIST,
        "mode": one_of("集中检查", "重点抽查"),
        "checked_units": STR_LIST,
        "finding_count": INT,
        "followup_units": STR_LIST,
        "summary": STR,
        "status": one_of("整改中", "已结束"),
        "checked_at": TIME,
    },
    {"closed_at": TIME},
)

INSPECTION_SELFCHECK = kind(
    "专项自查报告",
    "A unit's self-check report for a special inspection.",
    {
        "inspection_id": STR,
        "unit_id": STR,
        "unit_name": STR,
        "topic": STR,
        "departments": STR,
        "dept_problems": array(obj({"problem": STR, "measure": STR, "status": one_of("已整改", "整改中")})),
        "summary": STR,
        "problems_found": INT,
        "problems_rectified": INT,
        "reported_at": TIME,
    },
)

INSPECTION_VISIT = kind(
    "明察暗访记录",
    "What a branch's inspector found on an open or unannounced visit (confidential).",
    {
        "inspection_id": STR,
        "branch_id": STR,
        "branch_name": STR,
        "unit_id": STR,
        "unit_name": STR,
        "topic": STR,
        "visit_mode": one_of("明察", "暗访", "明察暗访结合"),
        "visit_date": DATE,
        "places": STR,
        "findings": array(obj({"problem": STR}, {"person": STR, "severity": one_of("一般", "较重", "严重")})),
        "conclusion": STR,
        "reported_at": TIME,
    },
)

INSPECTION_FINDING = kind(
    "专项检查问题",
    "A problem the inspection found at a unit: rectified by a deadline or handed over as a clue.",
    {
        "inspection_id": STR,
        "no": INT,
        "topic": STR,
        "mode": one_of("集中检查", "重点抽查"),
        "unit_id": STR,
        "unit_name": STR,
        "problem": STR,
        "handling": one_of(*HANDLING),
        "recorded_at": TIME,
        "status": one_of("待整改", "待移交线索", "已整改", "已移交线索"),
    },
    {
        "person": STR,
        "deadline": DATE,
        "measures": STR,
        "completed_date": DATE,
        "accepted_at": TIME,
        "accept_note": STR,
        "transferred_at": TIME,
    },
)

SCHEMAS: dict[str, Schema] = {
    "special_inspection": SPECIAL_INSPECTION,
    "inspection_selfcheck": INSPECTION_SELFCHECK,
    "inspection_visit": INSPECTION_VISIT,
    "inspection_finding": INSPECTION_FINDING,
}
