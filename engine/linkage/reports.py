"""Linkage reports out: the quarterly and annual 三级联动 reports of a unit or of the group,
as data, XLSX (openpyxl), a printable page (rendered by the API) and PDF (fpdf2 with a CJK
font from disk, when one is there); the XLSX and PDF files are made in
engine/linkage/report_files.py (re-exported here).

Figures come from what the procedures write, for the report's org node and period:
- tasks (`task`): offered, completed, completed late, still open, overdue — per row;
- business records (`record`) created in the period, by kind: `quarterly_unit_status`,
  `monthly_report`, `clue`, `ledger`, `commendation` (and any other kind, counted too);
- process instances started in the period;
- study (四个一) completion rates from `engine.platform.study`.
Rows: the group report has one row per unit (the unit and its branches) and one for the
group committee itself; a unit report has one row per branch and one for the unit committee.

A report is a draft until it is issued (`issue`): the document number (发文字号, e.g.
淄矿纪联〔2027〕3号) is fixed the first time and never changes afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from engine.infra.settings import Settings
from engine.linkage import records
from engine.linkage.kinds import TITLES as KIND_TITLES
from engine.linkage.report_files import CJK_FONTS, PdfUnavailable, _pct, cjk_font, to_pdf, to_xlsx  # noqa: F401
from engine.models import HumanTask, OrgNode, ProcessInstance, Record
from engine.org import nodes as org
from engine.org.nodes import Principal
from engine.platform import study
from engine.platform.models import ReportIssue

# the kinds every report shows (with their titles from engine/linkage/kinds); other kinds only when counted
RECORD_KINDS = {
    k: KIND_TITLES[k] for k in ("quarterly_unit_status", "monthly_report", "clue", "ledger", "commendation")
}
QUARTER_NAMES = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}
ISSUERS = ("secretary", "deputy_secretary")


@dataclass(frozen=True)
class Period:
    label: str  # 2027-Q1 | 2027
    year: int
    quarter: int | None
    start: date
    end: date

    @property
    def kind(self) -> str:
        return "quarterly" if self.quarter else "annual"

    @property
    def chinese(self) -> str:
        return f"{self.year}年{QUARTER_NAMES[self.quarter]}" if self.quarter else f"{self.year}年度"


def parse_period(text: str | None) -> Period:
    m = re.fullmatch(r"(\d{4})(?:-Q([1-4]))?", (text or "").strip())
    if not m:
        raise Invalid(
            "period must be a quarter like 2027-Q1 or a year like 2027",
            [field_error("period", "a quarter like 2027-Q1 or a year like 2027")],
        )
    year = int(m.group(1))
    if m.group(2):
        start, end, label = study.quarter_bounds(year, int(m.group(2)))
        return Period(label, year, int(m.group(2)), start, end)
    start, end, label = study.period_bounds(year)
    return Period(label, year, None, start, end)


def scope_node(session: Session, p: Principal, unit_id: str | None) -> OrgNode:
    """The report's org node: the group, or a unit; 404 unless the caller's committee sees it."""
    if unit_id:
        node = session.get(OrgNode, unit_id)
        if (
            node is None
            or node.tier != "unit"
            or not (
                p.is_admin
                or p.in_group_committee
                or any(r.node_id == node.id and r.role != "department" for r in p.roles)
            )
        ):
            raise NotFound("unit {unit_id!r} does not exist", unit_id=unit_id)
        return node
    if not (p.is_admin or p.in_group_committee):
        raise NotFound("the group's linkage report is for the group committee")
    return org.group_root(session)


def _utc_bounds(period: Period, zone: Any) -> tuple[datetime, datetime]:
    start = datetime.combine(period.start, time(0), zone)
    end = datetime.combine(period.end + timedelta(days=1), time(0), zone)
    return start, end


def _subtree(session: Session, node: OrgNode) -> list[str]:
    return list(session.scalars(select(OrgNode.id).where(OrgNode.path.startswith(node.path))))


def build(
    session: Session, p: Principal, period: Period, unit_id: str | None, now: datetime, settings: Settings
) -> dict[str, Any]:
    zone = settings.zone
    node = scope_node(session, p, unit_id)
    start, end = _utc_bounds(period, zone)
    as_of = min(now, end)
    children = list(
        session.scalars(
            select(OrgNode)
            .where(OrgNode.parent_id == node.id, OrgNode.active.is_(True))
            .order_by(OrgNode.sort, OrgNode.id)
        )
    )
    rows_spec = [(c, _subtree(session, c)) for c in children] + [(node, [node.id])]
    study_rows = study.rates(session, now, zone, period.year, None, None, True, period.quarter)
    people = [person for u in study_rows["units"] for person in u["people"]]
    if study_rows["group"]:
        people += study_rows["group"]["people"]
    visible = records.visible_clause(p)
    kinds = dict(RECORD_KINDS)
    rows: list[dict[str, Any]] = []
    for n, ids in rows_spec:
        t = HumanTask
        base = select(func.count()).select_from(t).where(t.node_id.in_(ids), t.created_at >= start, t.created_at < end)
        offered = session.scalar(base) or 0
        completed = session.scalar(base.where(t.status == "completed")) or 0
        late = (
            session.scalar(base.where(t.status == "completed", t.due_at.is_not(None), t.completed_at > t.due_at)) or 0
        )
        still_open = session.scalar(base.where(t.status == "open")) or 0
        overdue = session.scalar(base.where(t.status == "open", t.due_at.is_not(None), t.due_at < as_of)) or 0
        instances = (
            session.scalar(
                select(func.count())
                .select_from(ProcessInstance)
                .where(
                    ProcessInstance.scope_node_id.in_(ids),
                    ProcessInstance.parent_id.is_(None),
                    ProcessInstance.started_at >= start,
                    ProcessInstance.started_at < end,
                )
            )
            or 0
        )
        rec_counts = dict(
            session.execute(
                select(Record.kind, func.count())
                .where(
                    Record.node_id.in_(ids),
                    Record.created_at >= start,
                    Record.created_at < end,
                    visible,
                    Record.kind.not_in((study.ARTICLE_KIND, study.STATS_KIND)),
                )
                .group_by(Record.kind)
            ).all()
        )
        for k in rec_counts:
            kinds.setdefault(k, KIND_TITLES.get(k, k))
        mine = [x for x in people if x["node_id"] in ids]
        expected = sum(x["daily_expected"] for x in mine)
        asked = sum(x["articles_asked"] for x in mine)
        rows.append(
            {
                "node_id": n.id,
                "name": n.name if n.id != node.id else f"{n.name}（本级）",
                "tier": n.tier,
                "tasks": {
                    "offered": offered,
                    "completed": completed,
                    "completed_late": late,
                    "open": still_open,
                    "overdue": overdue,
                    "on_time_rate": round((completed - late) / completed, 4) if completed else None,
                },
                "instances": instances,
                "records": rec_counts,
                "study": {
                    "people": len(mine),
                    "daily_rate": round(sum(x["daily_entries"] for x in mine) / expected, 4) if expected else None,
                    "article_rate": round(sum(x["articles_submitted"] for x in mine) / asked, 4) if asked else None,
                },
            }
        )
    totals = {
        "tasks": {
            k: sum(r["tasks"][k] for r in rows) for k in ("offered", "completed", "completed_late", "open", "overdue")
        },
        "instances": sum(r["instances"] for r in rows),
        "records": {k: sum(r["records"].get(k, 0) for r in rows) for k in kinds},
    }
    done = totals["tasks"]["completed"]
    totals["tasks"]["on_time_rate"] = round((done - totals["tasks"]["completed_late"]) / done, 4) if done else None
    scope_study = (
        next((u for u in study_rows["units"] if u["node_id"] == node.id), None)
        if node.tier == "unit"
        else study_rows["total"]
    )
    totals["study"] = (
        {
            "people": scope_study["people_count"],
            "daily_rate": scope_study["daily_rate"],
            "article_rate": scope_study["article_rate"],
        }
        if scope_study
        else None
    )
    issue = session.scalars(
        select(ReportIssue).where(ReportIssue.node_id == node.id, ReportIssue.period == period.label)
    ).first()
    issued_on = (issue.issued_at if issue else now).astimezone(zone).date()
    return {
        "title": f"关于{period.chinese}纪检工作“三级联动”情况的报告",
        "kind": period.kind,
        "period": period.label,
        "period_name": period.chinese,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "as_of": as_of.astimezone(zone).isoformat(),
        "issuer": node.name,
        "node_id": node.id,
        "tier": node.tier,
        "addressee": "集团公司纪委：" if node.tier == "unit" else "各单位纪委：",
        "doc_no": issue.doc_no if issue else None,
        "issued": issue is not None,
        "issued_at": issue.issued_at.isoformat() if issue else None,
        "date": f"{issued_on.year}年{issued_on.month}月{issued_on.day}日",
        "record_kinds": kinds,
        "rows": rows,
        "totals": totals,
        "paragraphs": _paragraphs(node, period, rows, totals, kinds),
    }


def _paragraphs(
    node: OrgNode, period: Period, rows: list[dict[str, Any]], totals: dict[str, Any], kinds: dict[str, str]
) -> list[str]:
    t = totals["tasks"]
    what = (
        "各权属单位纪委、基层党支部纪律检查委员" if node.tier == "group" else "本单位纪委委员、各基层党支部纪律检查委员"
    )
    recs = "，".join(f"{kinds[k]}{n}件" for k, n in totals["records"].items() if n) or "无新增业务记录"
    out = [
        f"现将{period.chinese}纪检工作“三级联动”开展情况报告如下。",
        f"一、任务落实情况。本期{what}共承办联动任务{t['offered']}项，已办结{t['completed']}项"
        f"（按期办结率{_pct(t['on_time_rate'])}，逾期办结{t['completed_late']}项），尚在办理{t['open']}项，其中已逾期{t['overdue']}项；"
        f"发起联动流程{totals['instances']}次。",
        f"二、自下而上报告和问题处置情况。本期形成{recs}。",
    ]
    s = totals.get("study")
    if s:
        out.append(
            f"三、学习交流情况。纳入“四个一”学习统计的纪检人员{s['people']}人，每日学习记录完成率{_pct(s['daily_rate'])}，"
            f"“每月一文章”完成率{_pct(s['article_rate'])}。"
        )
    late = [r["name"] for r in rows if r["tasks"]["overdue"]]
    out.append(
        "四、存在问题和下步打算。"
        + (
            f"{'、'.join(late)}尚有逾期未办结任务，将督促限期办结，对应付凑付、无安排无落实的按规定记入管理台账。"
            if late
            else "各项联动任务均在期限内推进，下步将继续压实责任，推动联动工作常态化。"
        )
    )
    return out


# ---- issuing (document number) -------------------------------------------------------------------------


def default_code(node: OrgNode) -> str:
    name = node.name.removeprefix("中共").replace("有限责任公司", "").replace("有限公司", "")
    name = name.removesuffix("纪委").removesuffix("纪律检查委员会")
    return (name or node.id) + "纪"


def issue(
    session: Session, p: Principal, period: Period, unit_id: str | None, now: datetime, doc_code: str | None = None
) -> tuple[ReportIssue, bool]:
    """Give the report its document number (once; returns (row, issued now)).
    Secretaries and deputy secretaries of the committee, admins."""
    node = scope_node(session, p, unit_id)
    if not (p.is_admin or any(r.node_id == node.id and r.role in ISSUERS for r in p.roles)):
        raise Forbidden("the committee's secretary or deputy secretary issues its reports")
    existing = session.scalars(
        select(ReportIssue).where(ReportIssue.node_id == node.id, ReportIssue.period == period.label)
    ).first()
    if existing is not None:
        return existing, False
    if doc_code is not None and (not isinstance(doc_code, str) or not 1 <= len(doc_code.strip()) <= 20):
        raise Invalid(
            "doc_code: the issuing committee's short code, e.g. 淄矿纪", [field_error("doc_code", "1-20 characters")]
        )
    code = (doc_code or "").strip() or default_code(node)
    number = (
        session.scalar(
            select(func.max(ReportIssue.number)).where(ReportIssue.node_id == node.id, ReportIssue.year == period.year)
        )
        or 0
    ) + 1
    row = ReportIssue(
        node_id=node.id,
        period=period.label,
        year=period.year,
        number=number,
        doc_no=f"{code}联〔{period.year}〕{number}号",
        issued_at=now,
        issued_by=p.username,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict("another report was issued at the same moment; try again") from None
    return row, True
