"""What each official document says: the parts of a Party-organ document (GB/T 9704-2012) built
from a record's data — 发文机关标志, 标题, 主送, 正文 (paragraphs, level-1 headings, tables), 落款 and
成文日期. Every text is Chinese: identifiers and enums go through labels.py, never as written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.linkage.documents.labels import (
    AREAS,
    CLASSIFICATIONS,
    CLUE_STEPS,
    FINDING_STATES,
    MONTHLY_STATUS,
    QUARTERLY_STATUS,
    QUARTERS,
    SEVERITIES,
    day,
    label,
    text,
)
from engine.models import OrgNode, Record

# what a paragraph of the body is: a plain paragraph, a level-1 heading (黑体), or a table
PARA, HEADING = "p", "h1"


@dataclass
class Document:
    """An official document, ready for the DOCX and PDF renderers."""

    issuer: str  # 发文机关标志
    title: str
    addressee: str  # 主送
    body: list[tuple[str, str]] = field(default_factory=list)  # (PARA | HEADING, text)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)  # (caption, header, rows)
    signer: str = ""  # 落款
    date: str = ""  # 成文日期
    doc_no: str = ""  # 发文字号, set when issued
    kind_title: str = ""  # 文种 for the file name

    def p(self, t: str) -> None:
        self.body.append((PARA, t))

    def h(self, t: str) -> None:
        self.body.append((HEADING, t))


KINDS = {
    "monthly_report": "月度书面报告",
    "quarterly_report": "季度书面报告",
    "quarterly_analysis": "综合研判意见",
    "commendation": "通报表彰",
    "forwarding": "转发通知",
    "clue": "问题线索处置审批表",
}


def organ(name: str) -> str:
    """发文机关标志 from an org node's name: 中共… and 纪律检查委员会 written out."""
    out = name if name.startswith("中共") else "中共" + name
    if out.endswith("纪委"):
        out = out.removesuffix("纪委") + "纪律检查委员会"
    return out


def issuing_node(session: Session, r: Record) -> OrgNode:
    """The committee that issues the record's document (its number is counted per this node)."""
    if r.kind == "commendation":  # the group committee's bulletin, whoever is commended
        node = session.scalars(select(OrgNode).where(OrgNode.tier == "group").order_by(OrgNode.id)).first()
    else:
        node = session.get(OrgNode, r.node_id) if r.node_id else None
    if node is None:
        raise NotFound("record {record_id} has no issuing committee", record_id=r.id)
    return node


def _parent_name(session: Session, node: OrgNode, default: str) -> str:
    parent = session.get(OrgNode, node.parent_id) if node.parent_id else None
    return parent.name if parent is not None else default


def build(session: Session, r: Record, node: OrgNode, data: dict[str, Any]) -> Document:
    """The document of record `r` (data as the reader may see it)."""
    maker = BUILDERS.get(r.kind)
    if maker is None:
        raise NotFound("record {record_id} has no official document", record_id=r.id)
    doc = maker(session, r, node, data)
    doc.kind_title = KINDS[r.kind]
    return doc


def _monthly(session: Session, r: Record, node: OrgNode, d: dict[str, Any]) -> Document:
    branch = text(d.get("branch_name"), node.name)
    period = f"{d.get('year')}年{d.get('month')}月" if d.get("year") and d.get("month") else "本月"
    doc = Document(
        organ(node.name),
        f"{branch}关于{period}纪检监督工作情况的书面报告",
        _parent_name(session, node, "单位纪委") + "：",
        signer=organ(node.name) + "纪律检查委员",
        date=day(d.get("submitted_at")),
    )
    doc.p(f"现将本支部{period}纪检监督工作情况报告如下。")
    doc.h("一、工作开展情况")
    doc.p(text(d.get("summary")))
    findings = [f for f in d.get("findings") or [] if isinstance(f, dict)]
    doc.h("二、发现的问题")
    if not findings:
        doc.p("本月未发现问题。")
    for i, f in enumerate(findings, start=1):
        doc.p(
            f"（{i}）{text(f.get('title'))}。监督事项：{label(AREAS, f.get('area'))}；"
            f"基本情况：{text(f.get('facts'))}；处置分类：{label(CLASSIFICATIONS, f.get('classification'), '待分类')}；"
            f"办理状态：{label(FINDING_STATES, f.get('state'))}。"
        )
    doc.h("三、办理情况")
    doc.p(
        f"报告状态：{label(MONTHLY_STATUS, d.get('status'))}；"
        f"{'按期报送' if d.get('on_time') else '逾期报送' if d.get('on_time') is False else '报送时间未记载'}。"
    )
    if d.get("review_opinion"):
        doc.p("单位纪委受理意见：" + text(d.get("review_opinion")))
    if d.get("return_opinion"):
        doc.p("退回补充意见：" + text(d.get("return_opinion")))
    doc.p("特此报告。")
    return doc


def _counts(table: dict[Any, str], counts: Any) -> str:
    if not isinstance(counts, dict) or not counts:
        return "无"
    return "，".join(f"{label(table, k, '其他')}{v}件" for k, v in counts.items())


def _quarterly(session: Session, r: Record, node: OrgNode, d: dict[str, Any]) -> Document:
    q = f"{d.get('year')}年{label(QUARTERS, d.get('quarter'), '本季度')}"
    doc = Document(
        organ(node.name),
        f"{text(d.get('unit_name'), node.name)}关于{q}三级联动工作情况的报告",
        _parent_name(session, node, "集团公司纪委") + "：",
        signer=organ(node.name),
        date=day(d.get("submitted_at")),
    )
    doc.p(f"现将{q}三级联动工作开展情况报告如下。")
    stats = d.get("statistics")
    s: dict[str, Any] = stats if isinstance(stats, dict) else {}
    doc.h("一、月度书面报告情况")
    doc.p(
        f"应报{s.get('reports_expected', 0)}份，实报{s.get('reports_submitted', 0)}份，"
        f"按期报送{s.get('reports_on_time', 0)}份。" + text(d.get("monthly_overview"), "")
    )
    doc.h("二、发现问题及处置情况")
    doc.p(
        f"各支部共发现问题{s.get('findings_total', 0)}个，其中{_counts(CLASSIFICATIONS, s.get('findings_by_classification'))}；"
        f"待分类{s.get('findings_unclassified', 0)}个，尚未办结{s.get('findings_open', 0)}个。"
        f"随时报告{s.get('adhoc_reports', 0)}件（{_counts(SEVERITIES, s.get('adhoc_by_severity'))}）。"
        + text(d.get("findings_overview"), "")
    )
    doc.h("三、工作总结")
    doc.p(text(d.get("work_summary")))
    doc.h("四、存在问题")
    doc.p(text(d.get("problems")))
    doc.h("五、下步打算")
    doc.p(text(d.get("next_plan")))
    if d.get("group_opinion"):
        doc.h("六、集团公司纪委意见")
        doc.p(text(d.get("group_opinion")))
    doc.p(f"报告状态：{label(QUARTERLY_STATUS, d.get('status'))}。")
    doc.p("特此报告。")
    rows = [
        [
            text(b.get("branch_name")),
            "、".join(f"{m}" for m in b.get("months_reported") or []) or "无",
            str(b.get("findings", 0)),
        ]
        for b in d.get("branch_overview") or []
        if isinstance(b, dict)
    ]
    doc.tables.append(("各支部报告情况", ["支部", "已报月份", "发现问题（个）"], rows))
    return doc


def _analysis(session: Session, r: Record, node: OrgNode, d: dict[str, Any]) -> Document:
    q = f"{d.get('year')}年{label(QUARTERS, d.get('quarter'), '本季度')}"
    doc = Document(
        organ(node.name),
        f"关于{q}各单位三级联动工作报告的综合研判意见",
        "各权属单位纪委：",
        signer=organ(node.name),
        date=day(d.get("issued_at")),
    )
    doc.p(f"集团公司纪委对各单位报送的{q}三级联动工作报告进行了综合研判，现将意见通报如下。")
    doc.h("一、综合研判意见")
    doc.p(text(d.get("analysis")))
    doc.h("二、日常监督掌握情况")
    doc.p(text(d.get("daily_knowledge")))
    units = [u for u in d.get("units") or [] if isinstance(u, str)]
    names = dict(session.execute(select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(units))).all()) if units else {}
    if units:
        doc.p("本次研判涉及：" + "、".join(label(names, u, "有关单位") for u in units) + "。")
    return doc


def _commendation(session: Session, r: Record, node: OrgNode, d: dict[str, Any]) -> Document:
    year = d.get("year")
    doc = Document(
        organ(node.name),
        f"关于对{year}年度三级联动工作表现突出的纪检干部予以通报表彰的决定",
        "各权属单位纪委，各基层党支部：",
        signer=organ(node.name),
        date=day(d.get("bulletin_date")),
    )
    doc.p(
        f"{year}年度，各级纪检干部认真履行监督职责，三级联动工作取得明显成效。经集团公司纪委研究，"
        "决定对以下同志予以通报表彰。"
    )
    doc.h("一、受表彰人员及事迹")
    doc.p(
        f"{text(d.get('unit_name'), '')}{text(d.get('node_name'), '')}{text(d.get('role_name'), '')}"
        f"{text(d.get('name'))}同志：{text(d.get('deeds'))}"
    )
    doc.h("二、有关要求")
    doc.p("希望受表彰的同志珍惜荣誉、再接再厉；各级纪检组织和纪检干部要以先进为榜样，扎实做好监督执纪工作。")
    doc.tables.append(
        (
            "受表彰人员名单",
            ["姓名", "职务", "所在组织", "所在单位"],
            [
                [
                    text(d.get("name")),
                    text(d.get("role_name")),
                    text(d.get("node_name")),
                    text(d.get("unit_name"), "集团公司"),
                ]
            ],
        )
    )
    return doc


def _forwarding(session: Session, r: Record, node: OrgNode, d: dict[str, Any]) -> Document:
    title = text(d.get("doc_title"), "有关文件")
    doc = Document(
        organ(node.name),
        f"关于转发《{title}》的通知",
        "各基层党支部：",
        signer=organ(node.name),
        date=day(d.get("sent_at")),
    )
    doc.p(
        f"现将{text(d.get('doc_issuer'), '上级')}《{title}》（{text(d.get('doc_number'), '无文号')}，"
        f"{day(d.get('doc_date'))}印发）转发给你们，请认真贯彻落实，并于{day(d.get('ack_deadline'))}前签收。"
    )
    if d.get("cover_note"):
        doc.p(text(d.get("cover_note")))
    doc.h("附：被转发文件")
    doc.p(text(d.get("doc_text")))
    acked = [a for a in d.get("acknowledged") or [] if isinstance(a, dict)]
    done = {a.get("branch_id") for a in acked}
    rows = [
        [
            text(a.get("branch_name")),
            text(a.get("receiver")),
            day(a.get("receipt_date")),
            text(a.get("implementation_note")),
        ]
        for a in acked
    ]
    rows += [
        [text(b.get("name")), "未签收", "", ""]
        for b in d.get("recipients") or []
        if isinstance(b, dict) and b.get("branch_id") not in done
    ]
    doc.tables.append(("签收情况", ["支部", "签收人", "签收日期", "贯彻落实情况"], rows))
    return doc


def _clue(session: Session, r: Record, node: OrgNode, d: dict[str, Any]) -> Document:
    doc = Document(
        organ(node.name), "问题线索处置审批表", "", signer=organ(node.name), date=day(d.get("registered_at"))
    )
    rows = [
        ["线索编号", text(d.get("clue_no"))],
        ["线索标题", text(d.get("title"))],
        ["所属单位", text(d.get("unit_name"))],
        ["所属支部", text(d.get("branch_name"))],
        ["线索来源", text(d.get("origin"))],
        ["被反映人", text(d.get("person"))],
        ["主要问题", text(d.get("facts"))],
        ["登记日期", day(d.get("registered_at"))],
        ["线索等级", text(d.get("level"), "未研判")],
        ["拟处置方式", text(d.get("disposal"), "未确定")],
        ["办理状态", text(d.get("status"))],
        ["报告集团公司纪委", "已报告" if d.get("reported_to_group") else "未报告"],
        ["处置结果", text(d.get("outcome"), "办理中")],
    ]
    result = d.get("result") if isinstance(d.get("result"), dict) else {}
    if result:
        detail = result.get("sanction") or result.get("org_measure")
        rows.append(["结果说明", "；".join(x for x in (text(detail, ""), text(result.get("reason"), "")) if x) or "无"])
    report = d.get("outcome_report") if isinstance(d.get("outcome_report"), dict) else {}
    if report:
        rows.append(
            ["向集团公司纪委报告结果", day(report.get("at")) + ("（已审阅）" if report.get("accepted_at") else "")]
        )
    doc.tables.append(("", ["项目", "内容"], rows))
    steps = [
        [
            day(h.get("at")),
            label(CLUE_STEPS, h.get("step"), "办理"),
            "；".join(x for x in (text(h.get("disposal"), ""), text(h.get("note"), ""), text(h.get("result"), "")) if x)
            or "无",
        ]
        for h in d.get("history") or []
        if isinstance(h, dict)
    ]
    doc.tables.append(("办理过程", ["日期", "环节", "意见"], steps))
    ack = d.get("group_ack") if isinstance(d.get("group_ack"), dict) else None
    doc.h("审批意见")
    doc.p("集团公司纪委批示：" + (text(ack.get("instructions"), "同意") if ack else "无"))
    if ack and ack.get("deadline"):
        doc.p("报告结果期限：" + text(ack.get("deadline")))
    return doc


BUILDERS = {
    "monthly_report": _monthly,
    "quarterly_report": _quarterly,
    "quarterly_analysis": _analysis,
    "commendation": _commendation,
    "forwarding": _forwarding,
    "clue": _clue,
}
