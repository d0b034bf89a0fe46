"""A lived-in demo (issue 18): about twelve months of history, made by running the built-in
procedures through the engine with the clock moved — never by inserting rows.

`generate` starts a travelling clock at the first day of the month twelve months before `now`,
deploys the forms and diagrams then (so their timer start schedules are anchored a year ago),
and walks to `now`. On the way the scheduler's own `tick` fires what is due (the monthly report
and article cycles, the quarterly tasks and reports, the year-end assessment, escalation timers),
and the demo users act through the application services the API calls (`engine.services`:
start, complete, bulletin, study), so policy checks, records, the search index, events and
notifications are produced as in real use. What each person does and when is drawn from a
seeded random generator: the same seed and `now` give the same history.

Actions planned after `now` are dropped, which leaves the work of the current weeks open: each
demo user with a task role finds tasks to try. A few things are late on purpose (reports filed
after the month end, one branch that never files its last report, slow reviews), and one timer
firing fails the way the scheduler records it (`async_jobs.record_incident`), for an admin to
retry.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.core import async_jobs, repository, scheduler, schedules
from engine.core.decisions import committee_names
from engine.core.forms import FormStore
from engine.core.runtime import Runtime
from engine.infra.clock import FrozenClock, as_utc
from engine.infra.db import write_intent
from engine.infra.settings import Settings
from engine.models import HumanTask, ProcessInstance, Record, Schedule, User
from engine.org import demo_meetings
from engine.org import nodes as org
from engine.org.demo import UNITS
from engine.platform.meetings.models import UnitMeeting, ZoneActivity
from engine.services import bulletin as bulletin_service
from engine.services import definitions as definitions_service
from engine.services import forms as forms_service
from engine.services import study as study_service
from engine.services import tasks as tasks_service

log = logging.getLogger("sanji.demo")

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


# ---- the simulation ----------------------------------------------------------------------------------


class _History:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        forms: FormStore,
        start: datetime,
        end: datetime,
        seed: int,
        months: int = MONTHS,
    ) -> None:
        self.months = months
        self.sessions = sessions
        self.settings = settings
        self.forms = forms
        self.zone = settings.zone
        self.clock = FrozenClock(start)
        self.begin, self.end = start, end
        self.rng = random.Random(seed)
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.seq = 0
        self.failing: set[int] = set()  # instances whose next timer firing fails (the incident)
        self.done: Counter[str] = Counter()

    # ---- time ----------------------------------------------------------------------------------

    def local(self, d: date, hour: int = 9, minute: int = 0) -> datetime:
        return datetime.combine(d, time(hour, minute), self.zone)

    def today(self) -> date:
        return self.clock.now().astimezone(self.zone).date()

    def at(self, when: datetime, fn: Callable[..., None], *args: Any) -> None:
        """Plan an action; those after the end are dropped (their tasks stay open)."""
        if when <= self.end:
            self.seq += 1
            action: Callable[[], None] = partial(fn, *args)
            heapq.heappush(self.queue, (when, self.seq, action))

    def later(self, days: float, fn: Callable[..., None], *args: Any, hour: int | None = None) -> None:
        """Plan an action `days` from now (at `hour` o'clock local, or a working hour)."""
        d = (self.clock.now() + timedelta(days=days)).astimezone(self.zone).date()
        when = self.local(d, hour if hour is not None else self.rng.randint(8, 17), self.rng.randint(0, 59))
        self.at(max(when, self.clock.now() + timedelta(minutes=5)), fn, *args)

    def run(self) -> None:
        while self.queue and self.queue[0][0] <= self.end:
            when, _seq, action = heapq.heappop(self.queue)
            self.advance(when)
            action()
            self.drain()
        self.advance(self.end)

    def advance(self, to: datetime) -> None:
        """Move the clock to `to`, running the scheduler's tick at every schedule or timer due on the way."""
        repeats = 0
        last: datetime | None = None
        while True:
            with self.sessions() as s:
                due_s = s.scalar(select(func.min(Schedule.next_fire_at)).where(Schedule.paused.is_(False)))
                due_t = s.scalar(
                    select(func.min(ProcessInstance.next_timer_at)).where(ProcessInstance.status == "running")
                )
            due = [as_utc(x) for x in (due_s, due_t) if x is not None]
            nxt = min(due) if due else None
            if nxt is None or nxt > to:
                break
            repeats = repeats + 1 if nxt == last else 0
            if repeats > 3:  # a timer that does not move on: leave it to the real scheduler
                log.warning("demo history: %s stays due; moving on", nxt.isoformat())
                break
            last = nxt
            if nxt > self.clock.now():
                self.clock.set(nxt)
            self.fail_due_timers()
            scheduler.tick(self.sessions, self.clock, self.settings)
            self.drain()
        if to > self.clock.now():
            self.clock.set(to)

    def drain(self) -> None:
        """What the scheduler's worker does between requests: start the children of large fan-outs."""
        for _ in range(100):
            if not async_jobs.run_due(self.sessions, self.clock, self.settings).children:
                return

    def fail_due_timers(self) -> None:
        """The timer of a chosen instance fails to fire: recorded as the scheduler records it."""
        now = self.clock.now()
        for instance_id in sorted(self.failing):
            with write_intent(), self.sessions() as s:
                inst = s.get(ProcessInstance, instance_id)
                if inst is None or inst.next_timer_at is None or as_utc(inst.next_timer_at) > now:
                    continue
                exc = TimeoutError("database is locked")
                message = f"firing a timer failed: {type(exc).__name__}: {exc}"
                if async_jobs.record_incident(s, now, instance_id, message, exc, None):
                    self.done["incidents"] += 1
                s.commit()
            self.failing.discard(instance_id)

    # ---- acting as a demo user -----------------------------------------------------------------------

    @contextmanager
    def acting(self, username: str) -> Iterator[tuple[Session, org.Principal]]:
        with write_intent(), self.sessions() as s:
            user = s.scalars(select(User).where(User.username == username)).one()
            yield s, org.load_principal(s, user)

    def complete(self, task: Open, username: str, data: dict[str, Any]) -> None:
        with self.acting(username) as (s, p):
            rt = Runtime(s, self.clock, self.settings, self.forms)
            tasks_service.act(rt, p, tasks_service.TaskCommand(task.id, "complete", data))
        self.done["tasks_completed"] += 1
        self.drain()

    def start(self, key: str, username: str, variables: dict[str, Any] | None = None) -> int:
        with self.acting(username) as (s, p):
            rt = Runtime(s, self.clock, self.settings, self.forms)
            inst = definitions_service.start(rt, p, definitions_service.StartCommand(key, dict(variables or {})))
            iid = inst.id
        self.drain()
        return iid

    def open_tasks(
        self,
        spec_id: str,
        *,
        process_key: str | None = None,
        node_id: str | None = None,
        instance_id: int | None = None,
        parent_id: int | None = None,
        **match: Any,
    ) -> list[Open]:
        with self.sessions() as s:
            q = (
                select(HumanTask, ProcessInstance.data, ProcessInstance.parent_id, User.username)
                .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                .outerjoin(User, User.id == HumanTask.assignee_id)
                .where(HumanTask.status == "open", HumanTask.spec_id == spec_id, ProcessInstance.status == "running")
            )
            if process_key:
                q = q.where(HumanTask.process_key == process_key)
            if node_id:
                q = q.where(HumanTask.node_id == node_id)
            if instance_id is not None:
                q = q.where(HumanTask.instance_id == instance_id)
            if parent_id is not None:
                q = q.where(ProcessInstance.parent_id == parent_id)
            out = []
            for t, data, parent, assignee in s.execute(q.order_by(HumanTask.id)).all():
                d = dict(data or {})
                if all(d.get(k) == v for k, v in match.items()):
                    out.append(Open(t.id, t.node_id, t.unit_id, t.instance_id, parent, d, assignee, t.due_at))
            return out

    def one(self, spec_id: str, **kw: Any) -> Open | None:
        found = self.open_tasks(spec_id, **kw)
        return found[0] if found else None

    def last_instance_id(self) -> int:
        with self.sessions() as s:
            return s.scalar(select(func.max(ProcessInstance.id))) or 0

    def new_instances(self, since: int, key: str) -> list[tuple[int, str | None]]:
        with self.sessions() as s:
            return [
                (i, u)
                for i, u in s.execute(
                    select(ProcessInstance.id, ProcessInstance.unit_id)
                    .where(ProcessInstance.id > since, ProcessInstance.process_key == key)
                    .order_by(ProcessInstance.id)
                ).all()
            ]

    def member(self, unit_or_group: str) -> str:
        return f"{unit_or_group}_{self.rng.choice(COMMITTEE)}"

    def day_str(self, days: int = 0) -> str:
        return (self.today() + timedelta(days=days)).isoformat()

    # ---- the plan ---------------------------------------------------------------------------------

    def plan(self) -> None:
        first = self.begin.astimezone(self.zone).date()
        months = [_add_months(first, i) for i in range(self.months + 1)]
        now_local = self.end.astimezone(self.zone)
        month_start = self.local(now_local.date().replace(day=1), 0)
        quarter_start = self.local(date(now_local.year, (now_local.month - 1) // 3 * 3 + 1, 1), 0)
        for m in months:
            # the scheduler starts the month's cycles at 09:00 on the 1st; people read them after
            self.at(self.local(m, 10), self.plan_monthly_reports, m, len(months) - 1 - months.index(m))
            self.at(self.local(m, 10, 5), self.plan_articles, m)
            if m.month in (1, 4, 7, 10):
                self.at(self.local(m + timedelta(days=2), 10), self.draft_quarterly_tasks, m)
            if m.month in (1, 4, 7, 10) and m != first:
                self.at(self.local(m + timedelta(days=2), 11), self.plan_quarterly_reports, m)
            if m.month == 12:
                self.at(self.local(m + timedelta(days=21), 10), self.annual_notice, m.year)
        # a special inspection finished in spring, one under way now
        if len(months) > 6:
            self.at(self.local(months[4] + timedelta(days=9), 10), self.special_inspection, False)
        self.at(self.end - timedelta(days=14), self.special_inspection, True)
        # the current month and quarter have their own: a report just filed, a clue just registered
        self.at(month_start + (self.end - month_start) / 2, self.adhoc_report, "pending", 9)
        self.at(quarter_start + (self.end - quarter_start) / 2, self.manual_clue, 5)
        # ad-hoc reports through the year, one major report whose escalation timer fails just now
        incident = self.end - timedelta(days=3, hours=2)
        if incident < quarter_start and self.end - quarter_start > timedelta(hours=26):
            incident = quarter_start + timedelta(minutes=30)
        self.at(incident, self.adhoc_report, "incident", 8)
        for i, (kind, month) in enumerate(
            [
                ("none", 1),
                ("tendency", 2),
                ("immediate_fix", 3),
                ("major", 5),
                ("sensitive", 6),
                ("escalated", 8),
                ("tendency", 10),
                ("immediate_fix", 11),
            ]
        ):
            if month < len(months):
                self.at(self.local(months[month] + timedelta(days=5 + 2 * i), 10), self.adhoc_report, kind, i)
        # clues registered by hand (信访举报 and the like)
        for i, month in enumerate((2, 6, 9, 11)):
            if month < len(months):
                self.at(self.local(months[month] + timedelta(days=12), 15), self.manual_clue, i)
        # 转发上级文件: 新升实业 forwards the group's document to its branches (one receipt comes late)
        self.at(self.local(months[min(3, len(months) - 1)] + timedelta(days=15), 10), self.forward_document)
        # the bulletin board and the daily study (四个一)
        for i in range(len(POSTS)):
            self.at(self.local(months[min(1 + i, len(months) - 1)] + timedelta(days=8 + i), 16), self.post, i)
        # 例会、学习培训、业务交流 of each unit and the 分区联创 zones (engine/org/demo_meetings.py)
        demo_meetings.plan(self, months)
        day = first + timedelta(days=1)
        while (when := self.local(day, 20)) <= self.end:
            recent = (self.end - when).days < 30
            if recent or day.weekday() == 4:
                self.at(when, self.study_day, recent)
            day += timedelta(days=1)

    # ---- 自下而上: the monthly written report ----------------------------------------------------------

    def plan_monthly_reports(self, month: date, age: int) -> None:
        """`age`: 0 the current month, 1 the last complete one, ..."""
        period = f"{month.year}-{month.month:02d}"
        end = _month_end(month)
        for t in self.open_tasks("write_report", process_key="monthly_report_branch", period=period):
            branch = t.node_id
            r = self.rng.random()
            if age == 1 and branch == SILENT_BRANCH:
                continue  # never filed: past due, not submitted
            if age == 2 and branch == LATE_BRANCH:
                r = 0.9
            if age == 0 and branch == "xuchang-zongcai":  # one report of this month is in already
                when = self.clock.now() + (self.end - self.clock.now()) / 2
                self.at(when, self.write_report, branch, period, [self.finding(FINDINGS[6])])
                continue
            if r < 0.8:
                day = month + timedelta(days=self.rng.randint(9, end.day - 2))
            elif r < 0.97:
                day = end + timedelta(days=self.rng.randint(1, 4))  # late
            else:
                continue
            n = self.rng.choice((0, 0, 1, 1, 1, 2, 2, 3))
            findings = [self.finding(f) for f in self.rng.sample(FINDINGS, n)]
            self.at(
                self.local(day, self.rng.randint(8, 17), self.rng.randint(0, 59)),
                self.write_report,
                branch,
                period,
                findings,
            )

    @staticmethod
    def finding(f: tuple[str, str, str, str]) -> dict[str, Any]:
        item = {"title": f[0], "facts": f[1], "area": f[2]}
        if f[3]:
            item["person"] = f[3]
        if f[2] == "tendency":  # the commissioner has already reminded the person (三（三）5)
            item["branch_action"] = "reminder"
            item["branch_action_detail"] = "当面予以提醒，要求立即纠正"
        return item

    def write_report(self, branch: str, period: str, findings: list[dict[str, Any]]) -> None:
        t = self.one("write_report", process_key="monthly_report_branch", node_id=branch, period=period)
        if t is None:
            return
        self.complete(t, commissioner(branch), {"summary": self.rng.choice(SUMMARIES), "findings": findings})
        late = self.rng.random() < 0.12
        self.later(self.rng.randint(8, 11) if late else self.rng.randint(1, 5), self.review_report, branch, period)

    def review_report(self, branch: str, period: str) -> None:
        unit = BRANCH_UNIT[branch]
        t = self.one(
            "review_report", process_key="monthly_report_branch", node_id=unit, branch_id=branch, period=period
        )
        if t is None:
            return
        findings = t.data.get("report_findings") or t.data.get("findings") or []
        user = self.member(unit)
        if findings and not t.data.get("return_count") and self.rng.random() < 0.08:
            self.complete(t, user, {"decision": "returned", "review_opinion": "请补充问题涉及人员和具体事实"})
            self.later(2, self.write_report, branch, period, [self.strip(f) for f in findings])
            return
        classes = []
        follow: list[tuple[int, str]] = []
        for no, f in enumerate(findings, start=1):
            kind = self.rng.choices(
                ("immediate_fix", "tendency", "none", "discipline_violation"), weights=(36, 32, 22, 10)
            )[0]
            c: dict[str, Any] = {"no": no, "classification": kind}
            if kind == "immediate_fix":
                c.update(analysis="属即知即改问题", fix_requirement="立即纠正，规范管理", fix_deadline=self.day_str(12))
            elif kind == "tendency":
                c.update(analysis="属苗头性、倾向性问题")
            elif kind == "discipline_violation":
                c.update(analysis="涉嫌违反党的纪律", person=f.get("person") or "某班组长")
            else:
                c.update(analysis="经核实已整改，无需处置")
            classes.append(c)
            follow.append((no, kind))
        since = self.last_instance_id()
        self.complete(t, user, {"decision": "accepted", "review_opinion": "已逐条分类处置", "classifications": classes})
        if any(k in ("immediate_fix", "tendency") for _no, k in follow):
            self.later(self.rng.randint(2, 6), self.finding_followups, t.instance_id)
        for iid, unit_id in self.new_instances(since, "clue_disposal"):
            self.later(self.rng.randint(2, 6), self.assess_clue, iid, unit_id or unit)

    @staticmethod
    def strip(f: dict[str, Any]) -> dict[str, Any]:
        keep = ("title", "facts", "area", "person", "branch_action", "branch_action_detail")
        return {k: f[k] for k in keep if f.get(k)}

    def finding_followups(self, report_instance: int) -> None:
        """The findings of one report: the branch reports its fix, the unit records measures."""
        for t in self.open_tasks("report_fix", parent_id=report_instance):
            if self.rng.random() < 0.25:
                self.complete(t, commissioner(t.node_id), {"fix_state": "not_fixed", "fix_description": "正在整改"})
                self.later(self.rng.randint(1, 3), self.urge_fix, t.instance_id)
            else:
                self.complete(t, commissioner(t.node_id), {"fix_state": "fixed", "fix_description": "已当面纠正到位"})
                self.later(self.rng.randint(1, 3), self.verify_fix, t.instance_id)
        for t in self.open_tasks("record_measures", parent_id=report_instance):
            measure = self.rng.choice(("reminder", "criticism", "interview", "rules", "supervision"))
            self.complete(
                t,
                self.member(t.node_id),
                {"measures": [{"kind": measure, "detail": "对相关人员进行提醒谈话", "done_on": self.day_str()}]},
            )

    def urge_fix(self, instance_id: int) -> None:
        t = self.one("urge_fix", instance_id=instance_id)
        if t is None:
            return
        self.complete(t, self.member(t.node_id), {"urge_opinion": "限期整改到位", "fix_due": self.day_str(10)})
        self.later(self.rng.randint(3, 8), self.fix_again, instance_id)

    def fix_again(self, instance_id: int) -> None:
        t = self.one("report_fix", instance_id=instance_id)
        if t is not None:
            self.complete(t, commissioner(t.node_id), {"fix_state": "fixed", "fix_description": "已整改完毕"})
            self.later(self.rng.randint(1, 3), self.verify_fix, instance_id)

    def verify_fix(self, instance_id: int) -> None:
        """The unit verifies a fix the branch reported: now and then sent back once, else accepted."""
        t = self.one("verify_fix", instance_id=instance_id)
        if t is None:
            return
        if self.rng.random() < 0.15 and not t.data.get("reopen_count"):
            self.complete(
                t,
                self.member(t.node_id),
                {
                    "verify_decision": "reopened",
                    "verify_opinion": "整改不彻底，请补充佐证材料",
                    "reopen_due": self.day_str(7),
                },
            )
            self.later(self.rng.randint(2, 5), self.fix_again, instance_id)
            return
        self.complete(t, self.member(t.node_id), {"verify_decision": "accepted", "verify_opinion": "经复核已整改到位"})

    # ---- 问题线索处置 -----------------------------------------------------------------------------------

    def manual_clue(self, i: int) -> None:
        unit = UNIT_IDS[i % len(UNIT_IDS)]
        origin, person, facts = CLUE_SOURCES[i % len(CLUE_SOURCES)]
        user = f"{unit}_member"
        iid = self.start("clue_disposal", user)
        t = self.one("register_form", instance_id=iid)
        if t is None:
            return
        self.complete(
            t,
            user,
            {
                "clue_origin": origin,
                "branch_id": BRANCHES[unit][i % 3],
                "clue_person": person,
                "clue_facts": facts,
                "received_date": self.day_str(-1),
            },
        )
        self.later(self.rng.randint(1, 4), self.assess_clue, iid, unit)

    def approve(self, spec_id: str, iid: int, doer: str, data: dict[str, Any], unit: str) -> bool:
        """A step with `approval` = `secretary`: the undertaker submits, the unit's 书记 approves."""
        t = self.one(spec_id, instance_id=iid)
        if t is None:
            return False
        self.complete(t, doer, data)
        a = self.one(spec_id, instance_id=iid)  # the approval task now open for that step
        if a is not None:
            self.complete(a, f"{unit}_secretary", {"decision": "approve", "opinion": "同意"})
        return True

    def undertaker(self, unit: str) -> str:
        return f"{unit}_{self.rng.choice(COMMITTEE[1:])}"  # anyone of the committee but the 书记 who approves

    def assess_clue(self, iid: int, unit: str) -> None:
        disposal = self.rng.choices(("谈话函询", "初步核实", "暂存待查", "予以了结"), weights=(35, 25, 15, 25))[0]
        major = self.rng.random() < 0.2
        opinion = "经研判，反映问题不具体，予以了结" if disposal == "予以了结" else "经研判，提出处置意见"
        data = {"clue_level": "重大" if major else "一般", "disposal": disposal, "assess_opinion": opinion}
        if disposal == "暂存待查":
            data["pending_until"] = self.day_str(self.rng.randint(40, 80))
        if not self.approve("assess", iid, self.undertaker(unit), data, unit):
            return
        if major:
            self.later(self.rng.randint(1, 4), self.collective_clue, iid, unit)
        else:
            self.dispose_clue(iid, unit, disposal)

    def dispose_clue(self, iid: int, unit: str, disposal: str) -> None:
        if disposal == "谈话函询":
            self.later(self.rng.randint(10, 30), self.talk, iid, unit)
        elif disposal == "初步核实":
            self.later(self.rng.randint(20, 45), self.verify, iid, unit)
        elif disposal == "暂存待查":
            self.later(self.rng.randint(40, 80), self.shelve_review, iid, unit)
        else:
            self.report_clue_outcome(iid, unit)

    def collective_clue(self, iid: int, unit: str) -> None:
        """集体研究 of a 重大 clue: three of the four committee members at the meeting, then the group decides."""
        t = self.one("collective_study", instance_id=iid)
        if t is None:
            return
        with self.sessions() as s:
            names = committee_names(s, unit)
        record = {
            "meeting_date": self.day_str(),
            "attendees": names[:3],
            "decision": "同意承办人意见，报集团公司纪委",
            "votes": {"agree": 3, "against": 0, "abstain": 0},
        }
        self.complete(t, self.undertaker(unit), {"collective": record})
        self.later(self.rng.randint(1, 3), self.group_review_clue, iid, unit)

    def group_review_clue(self, iid: int, unit: str) -> None:
        t = self.one("group_review", instance_id=iid)
        if t is None:
            return
        data: dict[str, Any] = {"group_decision": "approve"}
        if self.rng.random() < 0.6:
            deadline = self.day_str(self.rng.randint(45, 75))
            data = {
                "group_decision": "instruct",
                "group_instructions": f"从严从快核查，核实结果于{deadline}前报集团公司纪委",
                "group_deadline": deadline,
            }
        self.complete(t, self.rng.choice(("group_secretary", "group_deputy")), data)
        disposal = self.clue_disposal_of(iid)
        if disposal:
            self.dispose_clue(iid, unit, disposal)

    def clue_disposal_of(self, iid: int) -> str | None:
        with self.sessions() as s:
            inst = s.get(ProcessInstance, iid)
            return (inst.data or {}).get("disposal") if inst is not None else None

    def report_clue_outcome(self, iid: int, unit: str) -> None:
        """For a clue the group saw: the unit reports the outcome (by the group's deadline), the group reads it."""
        t = self.one("report_outcome", instance_id=iid)
        if t is None:
            return
        self.later(self.rng.randint(2, 8), self.send_clue_outcome, iid, unit)

    def send_clue_outcome(self, iid: int, unit: str) -> None:
        t = self.one("report_outcome", instance_id=iid)
        if t is None:
            return
        self.complete(t, self.undertaker(unit), {"outcome_report": "按集团公司纪委要求完成处置，现报告处置结果"})
        self.later(self.rng.randint(1, 4), self.accept_clue_outcome, iid)

    def accept_clue_outcome(self, iid: int) -> None:
        t = self.one("group_accept", instance_id=iid)
        if t is not None:
            self.complete(t, "group_deputy", {"accept_decision": "accept", "accept_opinion": "同意，按程序归档"})

    def talk(self, iid: int, unit: str) -> None:
        t = self.one("talk", instance_id=iid)
        if t is None:
            return
        roll = self.rng.random()
        result = "转初步核实" if roll < 0.3 else ("澄清正名" if roll < 0.45 else "予以了结")
        data = {
            "talk_method": self.rng.choice(("谈话", "函询")),
            "talk_date": self.day_str(-1),
            "talk_record": "本人对反映的问题作了说明",
            "talk_result": result,
        }
        if result == "澄清正名":
            data["result_reason"] = "反映问题不实，在一定范围内予以澄清"
        elif result == "予以了结":
            data["result_reason"] = "本人如实说明，问题轻微，已批评教育"
        self.complete(t, self.undertaker(unit), data)
        if result == "转初步核实":
            self.later(self.rng.randint(20, 40), self.verify, iid, unit)
        else:
            self.report_clue_outcome(iid, unit)

    def verify(self, iid: int, unit: str) -> None:
        t = self.one("verify", instance_id=iid)
        if t is None:
            return
        roll = self.rng.random()
        conclusion = "立案审查" if roll < 0.4 else ("澄清正名" if roll < 0.55 else "予以了结")
        data = {
            "verify_date": self.day_str(-1),
            "verify_findings": "经核实，反映问题基本属实" if conclusion == "立案审查" else "经核实，反映问题不实",
            "verify_conclusion": conclusion,
        }
        if conclusion != "立案审查":
            data["result_reason"] = "经初步核实，反映问题不实" + ("，予以澄清正名" if conclusion == "澄清正名" else "")
        self.complete(t, self.undertaker(unit), data)
        if conclusion == "立案审查":
            self.later(self.rng.randint(4, 10), self.file_case, iid, unit)
        else:
            self.report_clue_outcome(iid, unit)

    def file_case(self, iid: int, unit: str) -> None:
        if self.one("case_file", instance_id=iid) is None:
            return
        self.done["cases"] += 1
        no = f"{unit}纪审〔{self.today().year}〕{self.done['cases']}号"
        data = {"case_no": no, "filing_date": self.day_str(), "case_note": "经书记审批，启动审查程序"}
        if self.approve("case_file", iid, self.undertaker(unit), data, unit):
            self.later(self.rng.randint(20, 50), self.try_case, iid, unit)

    def try_case(self, iid: int, unit: str) -> None:
        """审理: a Party-discipline sanction or 组织处理, approved by the 书记."""
        if self.rng.random() < 0.7:
            sanction = self.rng.choices(
                ("警告", "严重警告", "撤销党内职务", "留党察看", "开除党籍"), (40, 30, 12, 10, 8)
            )[0]
            extra = {"handling": "党纪处分", "sanction": sanction}
        else:
            extra = {
                "handling": "组织处理",
                "org_measure": self.rng.choice(("诫勉", "批评教育", "责令检查", "调整职务")),
            }
        data = {
            "trial_date": self.day_str(),
            "decision_no": f"{unit}纪处〔{self.today().year}〕{self.done['cases']}号",
            "trial_note": "经审理，事实清楚，证据确凿",
            **extra,
        }
        if self.approve("case_trial", iid, self.undertaker(unit), data, unit):
            self.report_clue_outcome(iid, unit)

    def shelve_review(self, iid: int, unit: str) -> None:
        data = {"disposal": "予以了结", "review_note": "暂存期满，未发现新的问题"}
        if self.approve("shelve_review", iid, self.undertaker(unit), data, unit):
            self.report_clue_outcome(iid, unit)

    # ---- 每月一文章 and the daily study (四个一) ---------------------------------------------------------

    def plan_articles(self, month: date) -> None:
        period = f"{month.year}-{month.month:02d}"
        end = _month_end(month)
        for t in (
            self.open_tasks("write_branch", period=period)
            + self.open_tasks("write_unit", period=period)
            + (self.open_tasks("write_group", period=period))
        ):
            if t.assignee is None or self.rng.random() < 0.06:
                continue
            if month == self.end.astimezone(self.zone).date().replace(day=1):
                day = end - timedelta(days=self.rng.randint(1, 5))  # this month's: written in its last days
            else:
                day = month + timedelta(days=self.rng.randint(4, end.day - 3))
            self.at(self.local(day, self.rng.randint(8, 21)), self.write_article, t.id, t.assignee, month)

    def write_article(self, task_id: int, username: str, month: date) -> None:
        with self.sessions() as s:
            t = s.get(HumanTask, task_id)
            if t is None or t.status != "open":
                return
        title = f"{month.month}月学习体会：做实日常监督"
        self.complete(
            Open(task_id, "", None, 0, None, {}, username, None), username, {"title": title, "body": ARTICLE * 2}
        )

    def study_day(self, recent: bool) -> None:
        people = ["xinsheng_laogan", "xuchang_zongcai", "daizhuang_caimei", "xinsheng_member", "group_member"]
        if recent:
            people += ["xinsheng_wuye", "xuchang_juejin", "daizhuang_yunshu", "xuchang_member", "daizhuang_standing"]
        for username in people:
            if self.rng.random() < (0.3 if recent else 0.4):
                continue
            kinds = [k for k in STUDY if self.rng.random() < 0.8] or ["situation"]
            texts = {k: self.rng.choice(STUDY[k]) for k in kinds}
            with self.acting(username) as (s, p):
                saved = study_service.save(s, p, study_service.SaveEntries(texts), self.clock.now(), self.zone)
            self.done["study_entries"] += len(saved.entries)

    def post(self, i: int) -> None:
        kind, username, title, body = POSTS[i]
        with self.acting(username) as (s, p):
            made = bulletin_service.create(
                s, p, bulletin_service.PostCommand({"kind": kind, "title": title, "body": body}, True), self.clock.now()
            )
        self.done["bulletin_posts"] += 1
        readers = self.rng.sample(["group_member", "xinsheng_secretary", "xuchang_member", "daizhuang_deputy"], 2)
        for reader in readers:
            if reader != username:
                with self.acting(reader) as (s, p):
                    bulletin_service.read(s, p, int(made["id"]), self.clock.now())

    # ---- 自上而下: quarterly linkage tasks -------------------------------------------------------------

    def draft_quarterly_tasks(self, month: date) -> None:
        t = self.one("draft_tasks", process_key="quarterly_tasks")
        if t is None:
            return
        q = (month.month - 1) // 3 + 1
        m2, m3 = _add_months(month, 1), _add_months(month, 2)
        data = {
            "task_title": f"{month.year}年第{'一二三四'[q - 1]}季度纪检工作“三级联动”任务",
            "content": "围绕职工薪酬分配、严重“三违”处置和作风建设开展联动监督。",
            "tasks": [
                {
                    "title": "薪酬分配公示监督",
                    "requirement": "检查奖金分配方案研究及公示情况",
                    "deadline": str(m2 + timedelta(19)),
                },
                {"title": "作风建设提醒", "requirement": "开展廉洁提醒谈话", "deadline": str(m3 + timedelta(19))},
            ],
            "requirements": "各单位于本季度首月10日前报送实施方案。",
            "unit_scope": "all",
        }
        self.complete(t, "group_deputy", data)
        current = _add_months(month, 3) > self.end.astimezone(self.zone).date()
        for unit in UNIT_IDS:
            days = self.rng.randint(2, 6)
            if unit == SLOW_UNIT and current:
                days = 20  # past the plan's deadline
            self.later(days, self.quarterly_plan, unit, month, current)

    def quarterly_plan(self, unit: str, month: date, current: bool) -> None:
        t = self.one("draft_plan", node_id=unit, process_key="quarterly_tasks_unit")
        if t is None:
            return
        m2, m3 = _add_months(month, 1), _add_months(month, 2)
        early = current and unit == "xinsheng"  # done before the quarter's last weeks
        branches = BRANCHES[unit]
        items: list[dict[str, Any]] = [
            {
                "title": "薪酬公示检查",
                "requirement": "逐项检查公示情况",
                "deadline": str(m2 + timedelta(self.rng.randint(9, 24))),
            },
            {
                "title": "廉洁提醒谈话",
                "requirement": "对重点岗位人员开展提醒谈话",
                "deadline": str((m2 if early else m3) + timedelta(self.rng.randint(9, 24))),
                "branch_ids": self.rng.sample(branches, 2),
            },
        ]
        self.complete(t, self.member(unit), {"plan": "结合本单位实际制定的实施方案。", "items": items})
        for b in branches:
            latest = max(date.fromisoformat(i["deadline"]) for i in items if b in i.get("branch_ids", branches))
            offset = self.rng.randint(-9, -1) if self.rng.random() < 0.88 else self.rng.randint(1, 4)
            self.at(self.local(latest + timedelta(days=offset), self.rng.randint(8, 17)), self.implement, b)

    def implement(self, branch: str) -> None:
        t = self.one("implement", node_id=branch, process_key="quarterly_tasks_branch")
        if t is None:
            return
        n = len(t.data.get("my_items") or []) or 1
        results = [{"item_no": i, "status": "completed", "description": f"第{i}项已落实"} for i in range(1, n + 1)]
        self.complete(t, commissioner(branch), {"results": results, "summary": "已逐项落实。"})
        self.later(self.rng.randint(1, 4), self.confirm, branch)

    def confirm(self, branch: str) -> None:
        unit = BRANCH_UNIT[branch]
        t = self.one("confirm", node_id=unit, branch_id=branch)
        if t is None:
            return
        if self.rng.random() < 0.07 and t.data.get("rework_round", 1) == 1:
            self.complete(t, self.member(unit), {"decision": "returned", "confirm_opinion": "请补充落实佐证材料"})
            self.later(3, self.implement, branch)
            return
        self.complete(t, self.member(unit), {"decision": "confirmed"})
        close = self.one("review_completion", process_key="quarterly_tasks")
        if close is not None:
            self.later(self.rng.randint(2, 5), self.close_quarter)

    def close_quarter(self) -> None:
        t = self.one("review_completion", process_key="quarterly_tasks")
        if t is not None:
            self.complete(t, "group_secretary", {"closing_opinion": "各单位按期完成本季度联动任务。"})

    # ---- 每季度末: the unit's quarterly report and the group's analysis --------------------------------

    def plan_quarterly_reports(self, month: date) -> None:
        for unit in UNIT_IDS:
            late = self.rng.random() < 0.15
            self.later(self.rng.randint(9, 12) if late else self.rng.randint(1, 6), self.quarterly_report, unit)
        self.later(13, self.analyse_quarter)

    def quarterly_report(self, unit: str) -> None:
        t = self.one("write_report", node_id=unit, process_key="quarterly_report_unit")
        if t is None:
            return
        self.complete(
            t,
            f"{unit}_secretary",
            {
                "monthly_overview": t.data.get("monthly_overview") or "本季度各支部按月报送书面报告。",
                "findings_overview": t.data.get("findings_overview") or "本季度发现问题均已分类处置。",
                "work_summary": "本季度联动工作按计划推进，月度报告、问题处置和线索办理有序开展。",
                "problems": "个别支部月度报告不够及时，问题描述不够具体。",
                "next_plan": "加强督促指导，提高月度报告质量。",
            },
        )

    def analyse_quarter(self) -> None:
        t = self.one("analyse", process_key="quarterly_report")
        if t is None:
            self.later(4, self.analyse_quarter)
            return
        opinions = [
            {
                "unit_id": u,
                "opinion": "联动工作总体较好",
                "measures": "加强线索督办",
                "requirements": "按时报送月度报告",
            }
            for u in UNIT_IDS
        ]
        self.complete(
            t,
            "group_standing",
            {
                "daily_knowledge": "日常监督中掌握的情况",
                "analysis": "本季度各单位联动工作综合研判",
                "opinions": opinions,
            },
        )
        for unit in UNIT_IDS:
            self.later(self.rng.randint(2, 6), self.acknowledge_quarter, unit)

    def acknowledge_quarter(self, unit: str) -> None:
        t = self.one("acknowledge", node_id=unit, process_key="quarterly_report_feedback")
        if t is not None:
            self.complete(t, self.member(unit), {"implementation": "已传达学习，逐项抓好落实"})

    # ---- 分级考核与通报表彰 --------------------------------------------------------------------------

    def annual_notice(self, year: int) -> None:
        t = self.one("issue_notice", process_key="annual_assessment")
        if t is None:
            return
        deadline = date(year + 1, 1, 10)
        self.complete(
            t,
            "group_secretary",
            {
                "year": year,
                "requirements": "依据履职考核评价办法，重点考核三级联动落实情况",
                "unit_deadline": str(deadline),
            },
        )
        for unit in UNIT_IDS:
            self.at(self.local(deadline - timedelta(days=self.rng.randint(2, 6)), 10), self.unit_assessment, unit)
            self.at(self.local(deadline + timedelta(days=self.rng.randint(1, 3)), 15), self.group_assessment, unit)
        self.at(self.local(deadline + timedelta(days=6), 10), self.review_nominations)

    def unit_assessment(self, unit: str) -> None:
        t = self.one("unit_assess_members", node_id=unit)
        if t is None:
            return
        people = t.data.get("people") or []
        rated = [
            {"username": p["username"], "rating": "优秀" if i == 0 else "称职", "comment": "工作积极"}
            for i, p in enumerate(people)
        ]
        nominee = next((p["username"] for p in people if p.get("role") == "commissioner"), None)
        nominees = [{"username": nominee, "deeds": "全年按时报送月度报告，主动发现问题"}] if nominee else []
        self.complete(
            t, f"{unit}_secretary", {"assessments": rated, "nominees": nominees, "member_summary": "全年考核总结"}
        )
        self.later(1, self.approve_small_nominations)

    def approve_small_nominations(self) -> None:
        """A unit too small for one nomination at 20 % nominated one: the group decides."""
        for t in self.open_tasks("approve_small_nomination"):
            self.complete(t, "group_secretary", {"small_decision": "approved", "small_opinion": "同意推荐"})

    def group_assessment(self, unit: str) -> None:
        for t in self.open_tasks("group_assess_unit"):
            if t.unit_id != unit and t.data.get("unit_id") != unit:
                continue
            if unit == SLOW_UNIT:
                data = {
                    "score": 72,
                    "rating": "一般",
                    "linkage_problem": "应付凑付",
                    "problem_reason": "月度报告应付凑付，季度实施方案报送迟缓",
                    "assess_comment": "改进报告质量",
                }
            else:
                data = {"score": 92, "rating": "好", "linkage_problem": "无", "assess_comment": "联动工作扎实"}
            self.complete(t, "group_member", data)
            return

    def review_nominations(self) -> None:
        t = self.one("review_nominations")
        if t is None:
            self.later(3, self.review_nominations)
            return
        nominated = [n["username"] for n in t.data.get("nominated") or []]
        self.complete(
            t,
            "group_secretary",
            {
                "approved": nominated[:2],
                "bulletin_no": f"淄矿纪发〔{self.today().year}〕3号",
                "bulletin_date": self.day_str(),
                "review_note": "同意",
            },
        )

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


# ---- entry point ------------------------------------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    """Thousands of events and scheduler lines would bury the command's output: warnings only."""
    logger = logging.getLogger("sanji")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _deploy_then(sessions: sessionmaker[Session], settings: Settings, forms: FormStore, start: datetime) -> None:
    """Deploy the forms and diagrams at the start of the history (nothing changes if they are
    deployed already) and anchor the timer start schedules there."""
    with write_intent(), sessions() as s:
        if settings.forms_dir.is_dir():
            forms_service.deploy_directory(s, settings.forms_dir, start)
        if settings.processes_dir.is_dir():
            repository.deploy_directory(
                s, settings.processes_dir, "init-db", start, forms, settings.max_bpmn_bytes, settings=settings
            )
        schedules.configure(settings.zone)
        for row in s.scalars(select(Schedule).order_by(Schedule.id)).all():
            if row.last_due_at is None and as_utc(row.anchor_at) > start:
                schedules.sync_definition(s, repository.latest(s, row.process_key), start, settings.zone)
        s.commit()


def counts(session: Session) -> dict[str, int]:
    """What the history holds: records per kind, instances, open tasks, incidents."""
    out: dict[str, int] = {
        f"records:{kind}": n
        for kind, n in session.execute(select(Record.kind, func.count()).group_by(Record.kind).order_by(Record.kind))
    }
    out["instances"] = session.scalar(select(func.count()).select_from(ProcessInstance)) or 0
    out["tasks_open"] = session.scalar(select(func.count()).where(HumanTask.status == "open")) or 0
    out["tasks_completed"] = session.scalar(select(func.count()).where(HumanTask.status == "completed")) or 0
    out["incidents"] = session.scalar(select(func.count()).where(ProcessInstance.status == "error")) or 0
    out["meetings"] = session.scalar(select(func.count()).select_from(UnitMeeting)) or 0
    out["zone_activities"] = session.scalar(select(func.count()).select_from(ZoneActivity)) or 0
    return out


def generate(
    sessions: sessionmaker[Session],
    settings: Settings,
    forms: FormStore,
    now: datetime,
    seed: int = SEED,
    months: int = MONTHS,
) -> dict[str, int] | None:
    """Make the demo history up to `now`; None when the database has process instances already."""
    with sessions() as s:
        if history_present(s):
            return None
    start = history_start(now, settings.zone, months)
    with _quiet():
        _deploy_then(sessions, settings, forms, start)
        sim = _History(sessions, settings, forms, start, now, seed, months)
        sim.plan()
        sim.run()
    with sessions() as s:
        out = counts(s)
    out["bulletin_posts"] = sim.done["bulletin_posts"]
    out["study_entries"] = sim.done["study_entries"]
    return out
