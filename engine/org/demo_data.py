"""The demo history's fixed parts (issue 18): the seed, who is late on purpose, the texts people
write, and the open-task record the actions pick from (engine/org/demo_history.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import ProcessInstance
from engine.org.demo import UNITS

SEED = 2019_18  # 淄矿纪发〔2019〕18号
MONTHS = 12
UNIT_IDS = [u[0] for u in UNITS]
BRANCHES = {u[0]: [b[0] for b in u[3]] for u in UNITS}
BRANCH_UNIT = {b: u for u, bs in BRANCHES.items() for b in bs}
COMMITTEE = ("secretary", "deputy", "standing", "member")
GROUP_USERS = [f"group_{c}" for c in COMMITTEE]
# the branch that leaves its last complete month's report unwritten (past due, not submitted)
SILENT_BRANCH = "xinsheng-jidian"
# the unit whose slow plan keeps the current quarter's tasks at "plan being drafted" for a while
SLOW_UNIT = "daizhuang"
# the branch that files the month before last late
LATE_BRANCH = "xuchang-juejin"


def commissioner(branch_id: str) -> str:
    return branch_id.replace("-", "_")


def history_present(session: Session) -> bool:
    """True when the database already holds process instances: history is never made twice,
    nor on top of real work (the clock could not go back before it)."""
    return session.scalar(select(ProcessInstance.id).limit(1)) is not None


def history_start(now: datetime, zone: Any, months: int = MONTHS) -> datetime:
    """08:00 local time on the first day of the month `months` months before `now`'s month."""
    local = now.astimezone(zone)
    months = local.year * 12 + local.month - 1 - months
    return datetime.combine(date(months // 12, months % 12 + 1, 1), time(8), zone)


def _month_end(d: date) -> date:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _add_months(d: date, n: int) -> date:
    m = d.year * 12 + d.month - 1 + n
    return date(m // 12, m % 12 + 1, 1)


# ---- the texts people write -----------------------------------------------------------------------

FINDINGS = [
    ("班组考勤表存在代签", "夜班考勤表两处代签", "micro_corruption", "赵某（班长）"),
    ("奖金分配方案未公示", "本月奖金分配方案未在区队公示栏公示", "pay", "王某（区队长）"),
    ("个别管理人员工作作风漂浮", "副区队长多次未按规定下井带班", "tendency", "李某（副区队长）"),
    ("节日期间收受职工礼金", "节前收受职工礼金两千元", "micro_corruption", "张某（副主任）"),
    ("“三违”处罚结果未公示", "本月“三违”处罚结果未按规定公示", "safety", ""),
    ("工伤事故上报不及时", "轻伤事故延迟三天上报", "safety", "孙某（安全员）"),
    ("材料领用台账不全", "材料领用台账缺少签字记录", "micro_corruption", ""),
    ("慰问金发放未附签收表", "困难职工慰问金发放无签收记录", "pay", "周某（工会干事）"),
    ("公务用车登记不规范", "公务用车出车登记缺项", "party_conduct", ""),
    ("加班费核算依据不足", "加班费核算未附考勤依据", "pay", "吴某（核算员）"),
]
SUMMARIES = [
    "本月围绕职工薪酬分配、安全生产和作风建设开展日常监督，参加区队周例会4次，列席奖金分配会议1次。",
    "本月开展明察暗访2次，重点检查了考勤管理和材料领用情况，督促整改问题，谈心谈话3人次。",
    "本月监督工作情况正常，按要求完成了上级布置的联动任务，未发现其他需报告的问题。",
    "本月结合安全生产月活动开展监督，检查“三违”处置和隐患整改落实情况，提醒谈话2人次。",
]
ARTICLE = (
    "本月认真学习了党章党规和集团公司纪委有关文件精神，结合本岗位监督工作实际，"
    "深刻体会到纪检监察工作必须坚持实事求是、敢于担当，把日常监督做实做细，"
    "在“三级联动”中发挥好基层纪检委员的前哨作用。"
)
STUDY = {
    "situation": ["了解区队本周生产组织和奖金分配情况", "掌握班组职工思想动态", "了解工区材料管理情况"],
    "knowledge": ["学习《中国共产党纪律处分条例》第三章", "学习监督执纪“四种形态”有关规定", "学习集团公司廉洁从业规定"],
    "insight": ["监督要抓早抓小、防微杜渐", "作风建设永远在路上", "纪检委员要敢于监督、善于监督"],
}
CLUE_SOURCES = [
    ("信访举报", "刘某（工区主任）", "反映其在设备采购中收受供应商好处"),
    ("信访举报", "陈某（班长）", "反映其虚报出勤、套取工资"),
    ("上级交办", "郑某（副科长）", "反映其违规报销差旅费用"),
    ("监督检查发现", "冯某（库管员）", "反映其私自处理废旧物资"),
]
POSTS = [
    (
        "notice",
        "group_secretary",
        "关于做好季度“三级联动”工作的通知",
        "各权属单位纪委：请按要求做好本季度联动任务的实施方案和逐项落实。",
    ),
    (
        "work",
        "xinsheng_secretary",
        "新升实业纪委召开联动工作推进会",
        "会议通报了上月月度书面报告情况，部署下一阶段监督重点。",
    ),
    (
        "experience",
        "xuchang_zongcai",
        "综采一区开展明察暗访的几点做法",
        "坚持问题导向，采取“四不两直”方式，重点关注考勤和奖金分配。",
    ),
    (
        "study",
        "group_deputy",
        "学习资料：《中国共产党纪律处分条例》解读",
        "现将条例解读材料转发各单位，请组织纪检人员认真学习。",
    ),
    (
        "experience",
        "daizhuang_caimei",
        "采煤一区做实月度书面报告的体会",
        "月报要写实情、报问题，做到问题清楚、证据充分。",
    ),
    (
        "notice",
        "group_deputy",
        "关于开展专项监督检查的通知",
        "集团公司纪委决定开展专项监督检查，请各单位按时完成自查自纠。",
    ),
    ("work", "daizhuang_secretary", "岱庄煤矿纪委问题线索处置工作情况", "本季度受理问题线索，均已按规定程序处置。"),
    ("study", "xuchang_secretary", "学习资料：监督执纪“四种形态”", "请各支部纪检委员结合工作实际认真学习。"),
    ("experience", "xinsheng_laogan", "老干家委党总支做好日常监督的体会", "把监督融入日常，把问题发现在萌芽状态。"),
    ("notice", "group_secretary", "关于报送年度考核材料的通知", "请各单位纪委按要求报送年度考核和评先推荐材料。"),
]


@dataclass
class Open:
    """An open task with what the actions need to pick it."""

    id: int
    node_id: str
    unit_id: str | None
    instance_id: int
    parent_id: int | None
    data: dict[str, Any]
    assignee: str | None
    due_at: datetime | None
