"""Study records (四个一): 每日明一情、每日一新知、每日一感悟 (daily entries) and 每月一文章
(the monthly article, asked by the `monthly_article` process), and completion rates.

Who is an inspector (纪检人员): the committee members of the group and of every unit
(secretary, deputy secretary, standing member, member) and the branch commissioners; a
person holding several roles counts once, at their highest tier.

Rates for a period (a month or a year) count, per person, the days since the period began
(or since the person's account was created) up to today: the daily rate is entries / (3 ×
days); the article rate is articles submitted / articles asked, from the `study_article`
records that `monthly_article` writes. Each unit's figures also count the meetings, training and
exchanges (例会、学习培训、业务交流) it held in the period (engine/platform/meetings). A unit committee sees its unit's people, the group
committee sees every unit's; the year-end assessment reads the same figures through the
script helper `study_rates(year)` or the `study_stats` records `monthly_article` saves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from engine.core import calendar
from engine.errors import Invalid, NotFound
from engine.infra.clock import Clock
from engine.infra.settings import Settings
from engine.models import COMMITTEE_ROLES, OrgNode, Record, RoleAssignment, User
from engine.org import policy
from engine.org.nodes import Principal
from engine.org.policy import ScriptScope
from engine.platform.meetings import rules as meeting_rules
from engine.platform.models import StudyEntry

KINDS = {"situation": "每日明一情", "knowledge": "每日一新知", "insight": "每日一感悟"}
MAX_TEXT = 1000
BACKFILL_DAYS = 7
TIER_ORDER = {"group": 0, "unit": 1, "branch": 2}
ROLE_ORDER = {r: i for i, r in enumerate(COMMITTEE_ROLES + ("commissioner",))}
ARTICLE_KIND = "study_article"
STATS_KIND = "study_stats"


@dataclass(frozen=True)
class Inspector:
    user_id: int
    username: str
    display_name: str
    tier: str
    node_id: str
    unit_id: str | None
    role: str
    since: date

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("user_id")
        d["since"] = self.since.isoformat()
        return d


def inspectors(session: Session, zone: Any, unit_id: str | None = None, include_group: bool = True) -> list[Inspector]:
    rows = session.execute(
        select(User, RoleAssignment.role, OrgNode)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .join(OrgNode, OrgNode.id == RoleAssignment.node_id)
        .where(
            User.active.is_(True),
            OrgNode.active.is_(True),
            or_(
                and_(RoleAssignment.role.in_(COMMITTEE_ROLES), OrgNode.tier.in_(("group", "unit"))),
                and_(RoleAssignment.role == "commissioner", OrgNode.tier == "branch"),
            ),
        )
    ).all()
    best: dict[int, tuple[tuple[int, int, int, str], Inspector]] = {}
    for user, role, node in rows:
        unit = node.id if node.tier == "unit" else node.parent_id if node.tier == "branch" else None
        ins = Inspector(
            user.id,
            user.username,
            user.display_name,
            node.tier,
            node.id,
            unit,
            role,
            user.created_at.astimezone(zone).date(),
        )
        rank = (TIER_ORDER[node.tier], node.sort, ROLE_ORDER.get(role, 9), node.id)
        if user.id not in best or rank < best[user.id][0]:
            best[user.id] = (rank, ins)
    out = [
        ins
        for _rank, ins in sorted(best.values(), key=lambda x: (x[0][0], x[1].unit_id or "", x[0][1:], x[1].username))
    ]
    if unit_id is not None:
        out = [i for i in out if i.unit_id == unit_id]
    if not include_group:
        out = [i for i in out if i.tier != "group"]
    return out


# ---- who sees whose study records ---------------------------------------------------------------------


def visible_units(p: Principal) -> set[str] | None:
    """Units whose people `p` oversees; None for all (admins and the group committee)."""
    return policy.study_units(p)


def units_of_user(session: Session, user_id: int) -> set[str]:
    rows = session.execute(
        select(OrgNode.tier, OrgNode.id, OrgNode.parent_id)
        .join(RoleAssignment, RoleAssignment.node_id == OrgNode.id)
        .where(RoleAssignment.user_id == user_id)
    ).all()
    return {
        str(nid if tier == "unit" else parent)
        for tier, nid, parent in rows
        if tier in ("unit", "branch") and (nid or parent)
    }


def may_see_person(session: Session, p: Principal, user: User) -> bool:
    if user.id == p.id:
        return True
    units = visible_units(p)
    return units is None or bool(units & units_of_user(session, user.id))


def person(session: Session, p: Principal, username: str) -> User:
    """The user `username` if `p` may see their records; 404 otherwise (names do not leak)."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not may_see_person(session, p, user):
        raise NotFound("person {username!r} does not exist", username=username)
    return user


# ---- daily entries --------------------------------------------------------------------------------------


def parse_day(value: Any, field_: str = "day") -> date:
    if not isinstance(value, str):
        raise Invalid.on(field_, "an ISO date, e.g. 2027-01-05")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid.on(field_, "an ISO date, e.g. 2027-01-05") from None


def save_entry(
    session: Session, p: Principal, data: dict[str, Any], now: datetime, zone: Any
) -> tuple[StudyEntry, bool]:
    """Write (or rewrite) the caller's entry of one kind for one day; returns (entry, created)."""
    unknown = sorted(set(data) - {"kind", "day", "text"})
    if unknown:
        raise Invalid.on(unknown[0], "unknown field")
    kind = data.get("kind")
    if kind not in KINDS:
        raise Invalid.on("kind", "one of {kinds} ({labels})", kinds=", ".join(KINDS), labels="、".join(KINDS.values()))
    text = data.get("text")
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_TEXT:
        raise Invalid.on("text", "required text of at most {limit} characters", limit=MAX_TEXT)
    today = now.astimezone(zone).date()
    day = parse_day(data["day"]) if data.get("day") is not None else today
    if day > today:
        raise Invalid.on("day", "cannot be in the future")
    if day < today - timedelta(days=BACKFILL_DAYS):
        raise Invalid.on("day", "entries can be made up for at most {days} days", days=BACKFILL_DAYS)
    entry = session.scalars(
        select(StudyEntry).where(StudyEntry.user_id == p.id, StudyEntry.kind == kind, StudyEntry.day == day)
    ).first()
    created = entry is None
    if entry is None:
        entry = StudyEntry(user_id=p.id, kind=kind, day=day, created_at=now)
        session.add(entry)
    entry.text, entry.updated_at = text.strip(), now
    session.flush()
    return entry, created


def entries_query(user: User, start: date | None, end: date | None, kind: str | None) -> Select[Any]:
    q = select(StudyEntry).where(StudyEntry.user_id == user.id)
    if kind is not None:
        if kind not in KINDS:
            raise Invalid.on("kind", "one of {kinds}", kinds=", ".join(KINDS))
        q = q.where(StudyEntry.kind == kind)
    if start is not None:
        q = q.where(StudyEntry.day >= start)
    if end is not None:
        q = q.where(StudyEntry.day <= end)
    return q.order_by(StudyEntry.day.desc(), StudyEntry.kind)


def entry_json(e: StudyEntry, username: str) -> dict[str, Any]:
    return {
        "id": e.id,
        "username": username,
        "kind": e.kind,
        "kind_name": KINDS[e.kind],
        "day": e.day.isoformat(),
        "text": e.text,
        "created_at": e.created_at.isoformat(),
        "updated_at": e.updated_at.isoformat(),
    }


# ---- completion rates -----------------------------------------------------------------------------------


def period_bounds(year: int, month: int | None = None) -> tuple[date, date, str]:
    if not 2000 <= year <= 2100:
        raise Invalid.on("year", "a year between 2000 and 2100")
    if month is None:
        return date(year, 1, 1), date(year, 12, 31), f"{year}"
    if not 1 <= month <= 12:
        raise Invalid.on("month", "a month 1-12")
    return *calendar.month_bounds(year, month), f"{year}-{month:02d}"


def _ratio(done: int, expected: int) -> float | None:
    return round(done / expected, 4) if expected else None


def _person_rows(
    session: Session, people: list[Inspector], start: date, end: date, today: date, months: set[str]
) -> list[dict[str, Any]]:
    last = min(end, today)
    ids = [i.user_id for i in people]
    counts: dict[tuple[int, str], int] = {}
    if ids and last >= start:
        for user_id, kind, n in session.execute(
            select(StudyEntry.user_id, StudyEntry.kind, func.count())
            .where(StudyEntry.user_id.in_(ids), StudyEntry.day >= start, StudyEntry.day <= last)
            .group_by(StudyEntry.user_id, StudyEntry.kind)
        ):
            counts[(user_id, kind)] = n
    articles: dict[str, list[dict[str, Any]]] = {}
    names = {i.username for i in people}
    in_period = or_(*[Record.key.startswith(m + ":") for m in sorted(months)]) if months else Record.id.is_(None)
    for r in session.scalars(select(Record).where(Record.kind == ARTICLE_KIND, in_period)):
        data = r.data or {}
        if data.get("period") in months and data.get("username") in names:
            articles.setdefault(data["username"], []).append(data)
    rows = []
    for i in people:
        first = max(start, i.since)
        days = max((last - first).days + 1, 0)
        entries = {k: counts.get((i.user_id, k), 0) for k in KINDS}
        done = sum(entries.values())
        mine = articles.get(i.username, [])
        submitted = [a for a in mine if a.get("status") == "submitted"]
        rows.append(
            {
                **i.public(),
                "days": days,
                "entries": entries,
                "daily_entries": done,
                "daily_expected": 3 * days,
                "daily_rate": _ratio(done, 3 * days),
                "articles_asked": len(mine),
                "articles_submitted": len(submitted),
                "articles_on_time": sum(1 for a in submitted if a.get("on_time")),
                "article_rate": _ratio(len(submitted), len(mine)),
            }
        )
    return rows


def _aggregate(node_id: str, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    sums = {
        k: sum(r[k] for r in rows)
        for k in ("daily_entries", "daily_expected", "articles_asked", "articles_submitted", "articles_on_time")
    }
    return {
        "node_id": node_id,
        "name": name,
        "people_count": len(rows),
        **sums,
        "daily_rate": _ratio(sums["daily_entries"], sums["daily_expected"]),
        "article_rate": _ratio(sums["articles_submitted"], sums["articles_asked"]),
        "people": rows,
    }


def quarter_bounds(year: int, quarter: int) -> tuple[date, date, str]:
    if not 1 <= quarter <= 4:
        raise Invalid.on("quarter", "a quarter 1-4")
    period_bounds(year)  # the year's range check
    return *calendar.quarter_bounds(year, quarter), calendar.quarter_label(year, quarter)


def rates(
    session: Session,
    now: datetime,
    zone: Any,
    year: int,
    month: int | None = None,
    units: set[str] | None = None,
    include_group: bool = True,
    quarter: int | None = None,
) -> dict[str, Any]:
    """Completion rates per unit (and for the group committee) for a month, a quarter or a year."""
    if quarter is not None:
        start, end, label = quarter_bounds(year, quarter)
        months = {f"{year}-{m:02d}" for m in calendar.quarter_months(quarter)}
    else:
        start, end, label = period_bounds(year, month)
        months = {label} if month else {f"{year}-{m:02d}" for m in range(1, 13)}
    today = now.astimezone(zone).date()
    people = inspectors(session, zone)
    rows = _person_rows(
        session,
        [
            i
            for i in people
            if (i.unit_id in units if units is not None else True) or (include_group and i.tier == "group")
        ],
        start,
        end,
        today,
        months,
    )
    nodes = {
        n.id: n
        for n in session.scalars(select(OrgNode).where(OrgNode.tier.in_(("group", "unit")), OrgNode.active.is_(True)))
    }
    held = meeting_rules.counts(session, start, end, units)  # 例会、学习培训、业务交流 of each unit
    unit_rows = []
    for n in sorted((n for n in nodes.values() if n.tier == "unit"), key=lambda n: (n.sort, n.id)):
        if units is not None and n.id not in units:
            continue
        unit_rows.append(
            {
                "unit_id": n.id,
                **_aggregate(n.id, n.name, [r for r in rows if r["unit_id"] == n.id]),
                "meetings": held.get(n.id, meeting_rules.empty_counts()),
            }
        )
    group = None
    if include_group:
        root = next((n for n in nodes.values() if n.tier == "group" and n.parent_id is None), None)
        if root is not None:
            group = {
                "unit_id": None,
                **_aggregate(root.id, root.name, [r for r in rows if r["tier"] == "group"]),
                "meetings": meeting_rules.empty_counts(),
            }
    total = _aggregate("", "合计", rows)
    total.pop("people")
    total["meetings"] = {k: sum(u["meetings"][k] for u in unit_rows) for k in meeting_rules.empty_counts()}
    return {
        "period": label,
        "year": year,
        "month": month,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "as_of": today.isoformat(),
        "units": unit_rows,
        "group": group,
        "total": total,
    }


def visible_rates(
    session: Session,
    p: Principal,
    now: datetime,
    zone: Any,
    year: int,
    month: int | None = None,
    unit_id: str | None = None,
) -> dict[str, Any]:
    policy.require_study_rates(p)
    units = visible_units(p)
    if unit_id is not None:
        node = session.get(OrgNode, unit_id)
        if node is None or node.tier != "unit" or (units is not None and unit_id not in units):
            raise NotFound("unit {unit_id!r} does not exist", unit_id=unit_id)
        units = {unit_id}
    return rates(session, now, zone, year, month, units, include_group=units is None)


def person_rates(session: Session, user: User, now: datetime, zone: Any, year: int) -> dict[str, Any] | None:
    """One person's figures for each month of `year` so far and the whole year (None: not an inspector)."""
    ins = next((i for i in inspectors(session, zone) if i.user_id == user.id), None)
    if ins is None:
        return None
    today = now.astimezone(zone).date()
    out: dict[str, Any] = {"year": year, "months": []}
    for m in range(1, 13):
        start, end, label = period_bounds(year, m)
        if start > today:
            break
        [row] = _person_rows(session, [ins], start, end, today, {label})
        out["months"].append(
            {
                "period": label,
                **{
                    k: row[k]
                    for k in (
                        "days",
                        "entries",
                        "daily_rate",
                        "articles_asked",
                        "articles_submitted",
                        "articles_on_time",
                        "article_rate",
                    )
                },
            }
        )
    start, end, label = period_bounds(year)
    [row] = _person_rows(session, [ins], start, end, today, {f"{year}-{m:02d}" for m in range(1, 13)})
    out["year_total"] = {
        k: row[k]
        for k in (
            "days",
            "entries",
            "daily_entries",
            "daily_expected",
            "daily_rate",
            "articles_asked",
            "articles_submitted",
            "articles_on_time",
            "article_rate",
        )
    }
    return out


# ---- helpers for BPMN scripts ------------------------------------------------------------------------------


def script_helpers(
    session: Session, clock: Clock, settings: Settings, scope: ScriptScope | None = None
) -> dict[str, Callable[..., Any]]:
    """`org_inspectors`, `study_rates`, `month_of` for scripts (see docs/bpmn-conventions.md).
    With the instance's `scope` (engine/org/policy.py), people and rates stay inside it: a unit
    instance reads its own unit's, a group instance every unit's, a branch instance none."""
    zone = settings.zone

    def org_inspectors(unit_id: str | None = None, include_group: bool = True) -> list[dict[str, Any]]:
        if scope is not None:
            scope.people_of("org_inspectors", unit_id)
        return [
            {k: v for k, v in i.public().items() if k != "since"}
            for i in inspectors(session, zone, unit_id, include_group)
        ]

    def study_rates(year: int, month: int | None = None) -> dict[str, Any]:
        units = scope.units("study_rates") if scope is not None else None
        return rates(
            session, clock.now(), zone, int(year), int(month) if month else None, units, include_group=units is None
        )

    def month_of(d: Any = None) -> int:
        value = d or clock.now().astimezone(zone).date().isoformat()
        return date.fromisoformat(str(value)[:10]).month

    return {"org_inspectors": org_inspectors, "study_rates": study_rates, "month_of": month_of}
