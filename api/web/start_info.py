"""What the 发起 page says about each process: a one-line Chinese description and its cadence in
words, for readers who do not know the diagrams (the diagrams' documentation is long and partly
written for developers)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from engine.core import schedules
from engine.core.calendar import describe_zh, is_cron
from engine.models import OrgNode, ProcessDefinition, Schedule

from ..extensions import db
from .base import current_language

# One line per built-in process (processes/*.bpmn); a process deployed later falls back on the
# first sentence of its diagram's documentation when that is Chinese prose.
DESCRIPTIONS_ZH = {
    "adhoc_report": "支部或单位纪委随时报告日常情况；重大问题、敏感信息及时逐级上报。",
    "adhoc_report_unit": "权属单位纪委把掌握的（含职能部门报来的）重大问题、敏感信息直接报告集团公司纪委。",
    "annual_assessment": "年底集团公司纪委考核各权属单位纪委，并通报表彰先进集体和个人。",
    "clue_disposal": "权属单位纪委受理支部发现的问题线索，按程序处置，重大线索报集团公司纪委。",
    "linkage_ledger": "集团公司纪委发现联动工作应付凑付、无安排无落实的，随时记入管理台账。",
    "document_forwarding": "权属单位纪委把上级文件转发给所属党支部，并跟踪各支部签收。",
    "monthly_article": "每月向每名纪检人员布置一篇学习文章，月底前完成。",
    "monthly_report": "基层党支部纪律检查委员每月向本单位纪委书面报告，单位纪委逐条分类处置。",
    "quarterly_report": "各权属单位纪委每季度末向集团公司纪委书面报告联动工作情况。",
    "quarterly_tasks": "集团公司纪委每季度首月向各单位纪委下达联动任务，逐级分解落实。",
    "secondment": "集团公司纪委分批选调各单位优秀纪检人员参加分区联创、培训和交流。",
    "special_inspection": "集团公司纪委不定期组织专项监督检查，各单位明察暗访、自查自纠。",
    "zone_activity": "集团公司纪委部署分区联创联合活动，牵头单位制定方案，成员单位选派人员，活动情况登记到分区。",
}
_LATIN_WORD = re.compile(r"[A-Za-z_]{3,}")


def description(d: ProcessDefinition) -> str | None:
    """The one-line description shown on the card (Chinese pages only, none when unknown)."""
    if not current_language().startswith("zh"):
        return None
    if d.key in DESCRIPTIONS_ZH:
        return DESCRIPTIONS_ZH[d.key]
    doc = str((d.info or {}).get("documentation") or "").strip()
    first = re.split(r"(?<=[。！？])", doc, maxsplit=1)[0].strip()
    if not first or _LATIN_WORD.search(first) or len(first) > 120:
        return None
    return first


def cadences(keys: set[str], now: datetime) -> dict[str, list[str]]:
    """Per process key: its timer starts in words ("每月1日 09:00 自动发起"), paused ones said so."""
    out: dict[str, list[str]] = defaultdict(list)
    if not keys:
        return out
    rows = db().scalars(select(Schedule).where(Schedule.process_key.in_(keys)).order_by(Schedule.id)).all()
    for row in rows:
        out[row.process_key].append(cadence(row, now))
    return out


def cadence(row: Schedule, now: datetime) -> str:
    """One schedule in words: cron described, other timers by their next fire time."""
    if is_cron(row.expression) and current_language().startswith("zh"):
        text = gettext("%(when)s, started automatically", when=describe_zh(row.expression))
    else:
        try:
            upcoming = schedules.next_fire_times(row, now, 1)
        except Exception:
            upcoming = []
        if upcoming:
            when = upcoming[0].astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M")
            text = gettext("started automatically, next on %(when)s", when=when)
        else:
            text = gettext("started automatically on a timer")
    if row.paused:
        text += gettext(" (paused)")
    return text


def fan_out_summary(instances: list[tuple[str, str]]) -> dict[str, Any]:
    """The instances a start would create, by process, with their organisations by tier."""
    ids = {node for _, node in instances}
    nodes = {n.id: n for n in db().scalars(select(OrgNode).where(OrgNode.id.in_(ids)))} if ids else {}
    by_process: dict[str, list[str]] = defaultdict(list)
    tiers: dict[str, set[str]] = defaultdict(set)
    in_org_order = sorted(instances, key=lambda i: (nodes[i[1]].path, nodes[i[1]].sort) if i[1] in nodes else ("~", 0))
    for name, node in in_org_order:
        n = nodes.get(node)
        by_process[name].append(n.name if n else node)
        if n is not None:
            tiers[n.tier].add(n.id)
            if n.tier == "branch" and n.parent_id:
                parent = db().get(OrgNode, n.parent_id)
                while parent is not None and parent.tier not in ("unit", "group"):
                    parent = db().get(OrgNode, parent.parent_id) if parent.parent_id else None
                if parent is not None and parent.tier == "unit":
                    tiers["unit"].add(parent.id)
    return {
        "count": len(instances),
        "by_process": list(by_process.items()),
        "units": len(tiers.get("unit", ())),
        "branches": len(tiers.get("branch", ())),
    }
