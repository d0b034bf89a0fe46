"""Chinese labels of the identifiers and enums the records hold, so that no identifier reaches an
official document (the forms' enumNames where a form shows the value)."""

from __future__ import annotations

from typing import Any

AREAS = {
    "party_conduct": "党风廉政建设及遵守党的纪律、执行制度规定",
    "pay": "工资、奖金分配方案研究及公示公开",
    "safety": "重大安全隐患、严重“三违”、工伤上报处置",
    "micro_corruption": "虚报出勤、套取冒领工资奖金、逢年过节收取索要钱物等损害职工及企业利益问题",
    "tendency": "党员及管理人员苗头性问题",
    "other": "其他",
}
CLASSIFICATIONS = {
    "none": "无需处置",
    "immediate_fix": "即知即改",
    "tendency": "苗头性、倾向性问题",
    "discipline_violation": "违反党的纪律",
}
FINDING_STATES = {
    "pending_review": "待分类处置",
    "fixing": "整改中",
    "measures_pending": "待采取措施",
    "measures_taken": "已采取措施",
    "fixed": "已整改",
    "clue_reported": "已作为问题线索上报",
    "closed": "已办结",
    "pending": "待处置",
}
MONTHLY_STATUS = {"submitted": "已报送", "returned": "已退回补充", "reviewed": "已受理", "closed": "已办结"}
QUARTERLY_STATUS = {"submitted": "已报送", "opinion_issued": "已出具意见", "acknowledged": "已签收落实"}
SEVERITIES = {"routine": "一般事项", "major": "重大问题", "sensitive": "敏感信息"}
MEASURES = {
    "reminder": "提醒",
    "criticism": "批评教育",
    "interview": "约谈",
    "rules": "完善制度",
    "supervision": "跟踪监督",
    "other": "其他",
}
QUARTERS = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}
CLUE_STEPS = {
    "registered": "登记",
    "assessed": "研判",
    "reported": "报告集团公司纪委",
    "group_ack": "集团公司纪委批示",
    "talk": "谈话函询",
    "verify": "初步核实",
    "shelve": "暂存待查",
    "close": "予以了结",
    "case": "立案审查",
}


def label(table: dict[Any, str], value: Any, default: str = "未填写") -> str:
    """The Chinese label of `value`; a value not in the table is shown only when it holds no ASCII
    letters (a Chinese enum value written by a diagram), else as the default."""
    if value is None or value == "":
        return default
    if value in table:
        return table[value]
    text = str(value)
    return default if any("a" <= c.lower() <= "z" for c in text) else text


def text(value: Any, default: str = "无") -> str:
    """A free-text field as written (people write it in Chinese), or the default when empty."""
    if value is None:
        return default
    out = str(value).strip()
    return out or default


def day(value: Any) -> str:
    """An ISO date or timestamp as 2027年3月5日."""
    s = str(value or "")[:10]
    try:
        y, m, d = (int(x) for x in s.split("-"))
    except ValueError:
        return "未填写"
    return f"{y}年{m}月{d}日"
