"""Process variables by their labels (the instance page): 报告编号, never `report_key`.

A variable's label comes from, in order: the table below (variables the built-in procedures'
scripts set), the form field of that name (the deployed forms' titles), the diagram's data property
(`<bpmn:property name="基层党支部列表（branch_ids）">`). Values that name organisations show their
names. What has no label is technical bookkeeping: the page folds it away."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from lxml import etree
from sqlalchemy import select

from engine.errors import SanjiError
from engine.models import OrgNode, ProcessDefinition
from engine.services import forms as forms_service

from ..extensions import db, state
from .base import current_language

LABELS_ZH = {
    "title": "标题",
    "node_id": "组织",
    "unit_id": "权属单位",
    "unit_name": "单位名称",
    "unit_ids": "权属单位",
    "branch_id": "基层党支部",
    "branch_name": "支部名称",
    "branch_ids": "基层党支部",
    "year": "年度",
    "month": "月份",
    "quarter": "季度",
    "period": "期间",
    "due_date": "截止日期",
    "report_due": "报告截止日期",
    "draft_due": "拟稿截止日期",
    "implement_due": "落实截止日期",
    "rectify_deadline": "整改期限",
    "report_key": "报告编号",
    "batch_key": "批次编号",
    "quarter_key": "季度编号",
    "forwarding_key": "转发编号",
    "inspection_id": "检查编号",
    "return_count": "退回次数",
    "rework_round": "返工轮次",
    "report_findings": "报告的问题",
    "quarter_findings": "本季度问题",
    "my_findings": "本支部问题",
    "my_items": "本支部任务",
    "on_time": "按时",
    "issued_at": "下达时间",
    "submitted_at": "提交时间",
    "first_submitted_at": "首次提交时间",
    "closed_at": "关闭时间",
    "recorded_at": "登记时间",
    "transferred_at": "移交时间",
    "clue_source": "线索来源",
    "topic_name": "专题名称",
    "checked_units": "检查的单位",
    "scope_units": "检查范围",
    "followup_units": "需整改的单位",
    "visit_branches": "明察暗访的支部",
    "visit_reports": "明察暗访报告",
    "selfcheck_reports": "自查自纠报告",
    "unit_reports": "各单位报告",
    "units_completed": "已完成的单位",
    "pending_branches": "未完成的支部",
    "rectify_items": "整改事项",
    "quarter_first_day": "季度首日",
    "months_reported": "已报告月份",
    "nomination_entry": "推荐人选",
    "nomination_cap": "推荐名额",
    "group_requirements": "集团公司纪委要求",
    "group_opinion": "集团公司纪委意见",
    "group_measures": "集团公司纪委措施",
    "assess_units": "考核的单位",
    "targets": "收文党支部",
    "inspectors": "纪检人员",
    "units": "权属单位",
    "chosen": "选定人选",
    "meetings_count": "本年度例会、学习培训和业务交流次数",
}
_SUFFIX = re.compile(r"[（(][^（）()]*[）)]\s*$")
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


@dataclass
class Shown:
    """One variable as the page shows it: label and text, or the rows of a list of records."""

    key: str
    label: str
    text: str | None
    rows: list[list[tuple[str, str]]] | None = None


def form_labels() -> dict[str, str]:
    """Field name → title over every form (first form wins), nested fields included."""
    out: dict[str, str] = {}

    def walk(props: Any) -> None:
        for k, v in (props or {}).items():
            if isinstance(v, dict):
                if isinstance(v.get("title"), str) and k not in out:
                    out[k] = v["title"]
                walk(v.get("properties"))
                if isinstance(v.get("items"), dict):
                    walk(v["items"].get("properties"))

    store = state().forms
    for f in forms_service.list_forms(db()):  # the deployed forms, newest versions (issue 15)
        try:
            walk(store.schema(f.key).get("properties"))
        except (SanjiError, ValueError, AttributeError):
            continue
    return out


def diagram_labels(d: ProcessDefinition) -> dict[str, str]:
    """The diagram's data properties whose name says more than their id."""
    try:
        root = etree.fromstring(d.xml.encode("utf-8") if isinstance(d.xml, str) else d.xml)
    except (etree.XMLSyntaxError, ValueError):
        return {}
    out = {}
    for prop in root.iter(f"{_BPMN}property"):
        pid, name = prop.get("id"), _SUFFIX.sub("", prop.get("name") or "").strip()
        if pid and name and name != pid:
            out[pid] = name
    return out


def present(variables: dict[str, Any], d: ProcessDefinition) -> tuple[list[Shown], dict[str, Any]]:
    """The labelled variables (in label order) and the technical rest (by key)."""
    zh = current_language().startswith("zh")
    labels = {**diagram_labels(d), **form_labels(), **(LABELS_ZH if zh else {})}
    if not zh:
        labels = {}
    nodes = _node_names(variables)
    shown: list[Shown] = []
    technical: dict[str, Any] = {}
    for key, value in variables.items():
        label = labels.get(key)
        if label is None:
            technical[key] = value
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            rows = [
                [(labels.get(k, k), _text(v, nodes, labels)) for k, v in item.items() if k in labels] for item in value
            ]
            shown.append(Shown(key, label, None, rows))
        else:
            shown.append(Shown(key, label, _text(value, nodes, labels)))
    shown.sort(key=lambda s: (s.key != "title", s.label))
    return shown, technical


def _text(value: Any, nodes: dict[str, str], labels: dict[str, str]) -> str:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, str):
        return nodes.get(value, value)
    if isinstance(value, list):
        return "、".join(_text(v, nodes, labels) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{labels.get(k, k)}：{_text(v, nodes, labels)}" for k, v in value.items() if k in labels)
    return str(value)


def _node_names(variables: dict[str, Any]) -> dict[str, str]:
    """Org node id → name for every string value that could be one (one query)."""
    found: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, str) and 0 < len(v) <= 64:
            found.add(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(list(variables.values()))
    if not found:
        return {}
    return dict(db().execute(select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(found))).all())
