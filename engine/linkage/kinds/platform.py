"""Record kinds of the annual assessment, document forwarding, secondment and study procedures
(processes/annual_assessment.bpmn, document_forwarding.bpmn, secondment.bpmn, monthly_article.bpmn).

Required: every key the creating `save_record` writes; optional: the keys later steps add."""

from __future__ import annotations

from engine.linkage.kinds._types import (
    ANY_OBJECT,
    BOOL,
    DATE,
    INT,
    NUM,
    STR,
    STR_LIST,
    TIME,
    Schema,
    array,
    kind,
    maybe,
    obj,
    one_of,
)

RATINGS = ("好", "较好", "一般", "差")
LINKAGE_PROBLEMS = ("无", "应付凑付", "效果差", "无安排", "无落实")

ASSESSMENT = kind(
    "年度分级考核",
    "The group committee's annual assessment of a unit committee's linkage work.",
    {
        "year": INT,
        "unit_id": STR,
        "unit_name": STR,
        "score": NUM,
        "rating": one_of(*RATINGS),
        "linkage_problem": one_of(*LINKAGE_PROBLEMS),
        "assess_comment": STR,
        "assessed_at": TIME,
    },
)

MEMBER_ASSESSMENT = kind(
    "纪检委员年度考核",
    "A unit committee's assessment of its inspectors and its nominations for commendation.",
    {
        "year": INT,
        "unit_id": STR,
        "unit_name": STR,
        "people": INT,
        "nomination_cap": INT,
        "assessments": array({"type": "object"}),
        "nominees": array({"type": "object"}),
        "summary": STR,
        "submitted_at": TIME,
    },
    {
        "unit_ratings": STR,
        # a unit too small for one nomination at 20 % nominates only with the group's approval
        "group_approval": one_of("not_needed", "pending", "approved", "refused"),
        "group_approval_opinion": STR,
        "group_approved_at": TIME,
    },
)

ASSESSMENT_ROUND = kind(
    "年度考核批次",
    "A year's assessment round: one per year (a second notice for the same year is refused).",
    {"year": INT, "instance_id": INT, "started_at": TIME},
)

LEDGER = kind(
    "管理台账记载",
    "An entry of the group's management ledger (应付凑付、无安排无落实 and the like).",
    {
        "ledger": STR,
        "year": INT,
        "unit_id": STR,
        "unit_name": STR,
        "problem": one_of(*LINKAGE_PROBLEMS),
        "reason": STR,
        "source": STR,
        "source_name": STR,
        "recorded_at": TIME,
    },
    # the year-end assessment adds its score and rating; an entry made when the group finds the
    # problem (linkage_ledger) names the quarter and who found it
    {"score": NUM, "rating": one_of(*RATINGS), "quarter": INT, "found_on": DATE, "recorded_by": STR},
)

COMMENDATION = kind(
    "通报表彰",
    "An inspector commended in the group's annual bulletin.",
    {
        "year": INT,
        "username": STR,
        "name": STR,
        "role": STR,
        "role_name": STR,
        "node_id": STR,
        "node_name": STR,
        "unit_id": maybe(STR),
        "unit_name": maybe(STR),
        "deeds": STR,
        "bulletin_no": STR,
        "bulletin_date": DATE,
        "published_at": TIME,
    },
)

BRANCH_REF = obj({"branch_id": STR, "name": STR})
RECEIPT_FIELDS: dict[str, Schema] = {
    "forwarding_key": STR,
    "branch_id": STR,
    "branch_name": STR,
    "receiver": STR,
    "receipt_date": DATE,
    "implementation_note": STR,
    "acknowledged_at": TIME,
}

FORWARDING = kind(
    "文件转发",
    "A document a unit committee forwards to its branches, and who has signed for it.",
    {
        "doc_number": STR,
        "doc_title": STR,
        "doc_issuer": STR,
        "doc_date": DATE,
        "doc_text": STR,
        "doc_attachment": maybe(STR),
        "cover_number": STR,
        "cover_note": STR,
        "unit_id": STR,
        "unit_name": STR,
        "ack_deadline": DATE,
        "recipients": array(BRANCH_REF),
        "sent_at": TIME,
        "acknowledged": array(obj(RECEIPT_FIELDS)),
        "pending": STR_LIST,
        "status": one_of("待签收", "已全部签收"),
    },
    {"closed_at": TIME},
)

FORWARDING_RECEIPT = kind("文件签收", "A branch's receipt of a forwarded document.", RECEIPT_FIELDS)

SECONDMENT_FIELDS: dict[str, Schema] = {
    "batch_key": STR,
    "batch_kind": STR,
    "batch_title": STR,
    "starts_on": DATE,
    "ends_on": DATE,
    "place": STR,
}

SECONDMENT = kind(
    "抽调参训",
    "An inspector selected for a secondment or training batch, and whether they came.",
    {
        **SECONDMENT_FIELDS,
        "username": STR,
        "display_name": STR,
        "tier": STR,
        "node_id": STR,
        "unit_id": maybe(STR),
        "reason": STR,
        "status": one_of("selected", "attended", "absent"),
    },
    {"confirmed": maybe(BOOL), "remark": STR},
)

SECONDMENT_BATCH = kind(
    "抽调批次",
    "A secondment or training batch: how many were nominated, selected and came.",
    {**SECONDMENT_FIELDS, "nominated": INT, "selected": INT, "attended": INT},
)

STUDY_ARTICLE = kind(
    "每月一文章",
    "An inspector's monthly article (asked, then submitted).",
    {
        "period": STR,
        "username": STR,
        "display_name": STR,
        "tier": one_of("group", "unit", "branch"),
        "node_id": STR,
        "unit_id": maybe(STR),
        "status": one_of("asked", "submitted"),
        "due": DATE,
    },
    {"title": STR, "body": STR, "length": INT, "submitted_at": TIME, "on_time": BOOL},
)

_RATE = maybe(NUM)
STUDY_STATS = kind(
    "学习完成率",
    "A committee's study (四个一) completion figures for a month or a year, as of a day.",
    {
        "period": STR,
        "as_of": DATE,
        "unit_id": maybe(STR),
        "node_id": STR,
        "name": STR,
        "people_count": INT,
        "daily_entries": INT,
        "daily_expected": INT,
        "articles_asked": INT,
        "articles_submitted": INT,
        "articles_on_time": INT,
        "daily_rate": _RATE,
        "article_rate": _RATE,
        "people": array(ANY_OBJECT),
    },
    {"meetings": ANY_OBJECT},  # the unit's 例会、学习培训、业务交流 of the period (by kind and total)
)

SCHEMAS: dict[str, Schema] = {
    "assessment": ASSESSMENT,
    "member_assessment": MEMBER_ASSESSMENT,
    "assessment_round": ASSESSMENT_ROUND,
    "ledger": LEDGER,
    "commendation": COMMENDATION,
    "forwarding": FORWARDING,
    "forwarding_receipt": FORWARDING_RECEIPT,
    "secondment": SECONDMENT,
    "secondment_batch": SECONDMENT_BATCH,
    "study_article": STUDY_ARTICLE,
    "study_stats": STUDY_STATS,
}
