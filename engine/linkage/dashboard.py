"""Dashboard figures (看板): what the linkage procedures wrote, counted per unit, tier and month.

Five charts, each `chart(session, scope, period, now, zone)` → a `Chart`: x-axis categories
(units or months), stacked series of counts, and the table rows behind them (for the XLSX
download and the page's data table). Sources:

- quarterly completion: `quarterly_unit_status` records (quarterly_tasks), per unit by status;
- overdue tasks: the `task` table: tasks whose deadline fell in the period that are still open
  past it or were completed after it, per unit (and the group committee's own) and tier;
- findings: each finding of a `monthly_report` record (the report's month), each `adhoc_report`
  (the month it was filed) and each item of a form field marked `"x-record": "findings"` in any
  procedure (`form_findings`, the month its task was completed), by the unit committee's
  classification;
- clue dispositions: `clue` records registered in the period, per unit by state / outcome;
- monthly report punctuality: `monthly_report` records on time or late per unit and month,
  and the branches whose report is past due and not submitted (open `write_report` tasks).

Every chart can be narrowed to one procedure (`process_key`): the records written and tasks
opened by its instances and their fan-out children (`records.procedure_instances`).

Who sees what (`scope`): admins and the group committee every unit; a unit committee member
their own unit(s); anybody else nothing (404, like an id they may not see). Records are read
through `records.visible_clause` as well, so the dashboards never show more than the lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from engine.core import calendar, repository
from engine.errors import Invalid, Msg, NotFound, field_error
from engine.linkage import records
from engine.models import HumanTask, OrgNode, ProcessDefinition
from engine.org import nodes as org
from engine.org.nodes import Principal

CHARTS = ("quarterly_completion", "overdue_tasks", "findings", "clue_dispositions", "punctuality")
QUARTERLY_STATUSES = ("completed", "implementing", "planning")
TIERS = ("group", "unit", "branch", "department")
FINDING_KINDS = ("immediate_fix", "tendency", "discipline_violation", "none", "pending")
CLUE_STATUSES = records.CLUE_STATUSES
PUNCTUALITY = ("on_time", "late", "missing")
GROUP = "group"  # the category of the group committee's own tasks (overdue chart)


@dataclass(frozen=True)
class Period:
    year: int
    quarter: int | None
    start: date
    end: date  # inclusive

    @property
    def months(self) -> list[int]:
        return list(range(self.start.month, self.end.month + 1))

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.quarter}" if self.quarter else str(self.year)

    def utc_bounds(self, zone: Any) -> tuple[datetime, datetime]:
        """[start, end) of the period as aware datetimes in the configured zone."""
        return (
            datetime.combine(self.start, time(0), zone),
            datetime.combine(self.end + timedelta(days=1), time(0), zone),
        )


@dataclass(frozen=True)
class Scope:
    units: list[OrgNode]  # the units shown (all the caller sees, or the one asked for)
    with_group: bool  # the group committee's own tasks are shown too
    unit_id: str | None = None
    process_key: str | None = None  # only what this procedure's instances (and their children) did

    @property
    def unit_ids(self) -> list[str]:
        return [u.id for u in self.units]


@dataclass
class Chart:
    chart: str
    period: Period
    unit_id: str | None
    category_keys: list[str]
    categories: list[str]
    series: dict[str, list[int]]  # series key -> one count per category
    columns: list[str]  # keys of the table rows, in order
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "chart": self.chart,
            "year": self.period.year,
            "quarter": self.period.quarter,
            "period": self.period.label,
            "unit_id": self.unit_id,
            "category_keys": self.category_keys,
            "categories": self.categories,
            "series": [{"key": k, "data": v} for k, v in self.series.items()],
            "columns": self.columns,
            "rows": self.rows,
        }


# ---- filters and who sees what ---------------------------------------------------------------------


def _bad(name: str, problem: Msg) -> Invalid:
    return Invalid(
        "query parameter {name} must be {problem}", [field_error(name, problem.template)], name=name, problem=problem
    )


def parse_period(year: str | None, quarter: str | None, today: date) -> Period:
    """year (default: this year) 2000-2100, quarter 1-4 or empty for the whole year."""
    if year in (None, ""):
        y = today.year
    elif not re.fullmatch(r"[0-9]{4}", str(year)):
        raise _bad("year", Msg("a year such as 2027"))
    elif not 2000 <= (y := int(str(year))) <= 2100:
        raise _bad("year", Msg("between 2000 and 2100"))
    if quarter in (None, ""):
        return Period(y, None, date(y, 1, 1), date(y, 12, 31))
    if not re.fullmatch(r"[1-4]", str(quarter)):
        raise _bad("quarter", Msg("1, 2, 3 or 4"))
    q = int(str(quarter))
    return Period(y, q, *calendar.quarter_bounds(y, q))


def may_view(p: Principal) -> bool:
    return p.is_admin or p.in_group_committee or any(r.tier == "unit" for r in p.committee_nodes())


def scope(session: Session, p: Principal, unit_id: str | None) -> Scope:
    """The units `p` may see (all for the group committee and admins, their own for a unit
    committee), narrowed to `unit_id`; NotFound when the unit is unknown or not theirs."""
    if not may_view(p):
        raise NotFound("the dashboards are for the group committee and the unit committees")
    everything = p.is_admin or p.in_group_committee
    mine = {r.node_id for r in p.committee_nodes() if r.tier == "unit"}
    units = [u for u in org.units(session) if everything or u.id in mine]
    if unit_id:
        units = [u for u in units if u.id == unit_id]
        if not units:
            raise NotFound("unit {unit_id!r} does not exist", unit_id=unit_id)
        return Scope(units, False, unit_id)
    return Scope(units, everything, None)


def _local_date(value: Any, zone: Any) -> date | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(zone)
    return dt.date()


def _unit_chart(
    name: str,
    sc: Scope,
    period: Period,
    keys: tuple[str, ...],
    counts: dict[str, dict[str, int]],
    extra: dict[str, dict[str, Any]] | None = None,
    extra_columns: tuple[str, ...] = (),
) -> Chart:
    """A chart with one category per unit and one series per key of `keys`."""
    rows = []
    for u in sc.units:
        c = counts.get(u.id, {})
        rows.append(
            {
                "unit_id": u.id,
                "unit_name": u.name,
                **{k: c.get(k, 0) for k in keys},
                "total": sum(c.get(k, 0) for k in keys),
                **(extra or {}).get(u.id, {}),
            }
        )
    return Chart(
        name,
        period,
        sc.unit_id,
        sc.unit_ids,
        [u.name for u in sc.units],
        {k: [r[k] for r in rows] for k in keys},
        ["unit_id", "unit_name", *keys, "total", *extra_columns],
        rows,
    )


# ---- the five charts ---------------------------------------------------------------------------------


def quarterly_completion(session: Session, p: Principal, sc: Scope, period: Period, now: datetime, zone: Any) -> Chart:
    """Per unit: the quarter's linkage task batches (regular and special) by status, and branches done."""
    counts: dict[str, dict[str, int]] = {}
    extra: dict[str, dict[str, Any]] = {}
    quarters = {period.quarter} if period.quarter else {1, 2, 3, 4}
    for r in records.quarterly_statuses(session, p, sc.unit_ids, period.year, sc.process_key):
        s, unit_id = r.data, r.unit_id or ""
        if s.quarter not in quarters or s.status not in QUARTERLY_STATUSES:
            continue
        counts.setdefault(unit_id, {}).setdefault(s.status, 0)
        counts[unit_id][s.status] += 1
        e = extra.setdefault(unit_id, {"branches_total": 0, "branches_done": 0})
        e["branches_total"] += s.branches_total
        e["branches_done"] += s.branches_done
    for e in extra.values():
        e["completion_rate"] = round(e["branches_done"] / e["branches_total"], 4) if e["branches_total"] else None
    blank = {"branches_total": 0, "branches_done": 0, "completion_rate": None}
    extra = {u.id: extra.get(u.id, blank) for u in sc.units}
    return _unit_chart(
        "quarterly_completion",
        sc,
        period,
        QUARTERLY_STATUSES,
        counts,
        extra,
        ("branches_done", "branches_total", "completion_rate"),
    )


def overdue_tasks(session: Session, p: Principal, sc: Scope, period: Period, now: datetime, zone: Any) -> Chart:
    """Tasks whose deadline fell in the period and that missed it: open past due (as of now) or
    completed after it. One category per unit (plus the group committee's own), one series per tier."""
    start, end = period.utc_bounds(zone)
    t = HumanTask
    where_unit: ColumnElement[bool] = t.unit_id.in_(sc.unit_ids)
    if sc.with_group:
        where_unit = or_(where_unit, and_(t.unit_id.is_(None), t.tier == "group"))
    rows_q = select(t.unit_id, t.tier, t.status, t.due_at, t.completed_at).where(
        where_unit,
        t.due_at.is_not(None),
        t.due_at >= start,
        t.due_at < end,
        or_(and_(t.status == "open", t.due_at < now), and_(t.status == "completed", t.completed_at > t.due_at)),
    )
    if sc.process_key is not None:
        rows_q = rows_q.where(t.instance_id.in_(records.procedure_instances(sc.process_key)))
    keys = ([GROUP] if sc.with_group else []) + sc.unit_ids
    names = ([org.group_root(session).name] if sc.with_group else []) + [u.name for u in sc.units]
    cells = {(k, tier): {"open_overdue": 0, "completed_late": 0} for k in keys for tier in TIERS}
    for unit_id, tier, status, _due, _done in session.execute(rows_q):
        key = GROUP if unit_id is None else unit_id
        if (key, tier) in cells:
            cells[(key, tier)]["open_overdue" if status == "open" else "completed_late"] += 1
    series = {tier: [sum(cells[(k, tier)].values()) for k in keys] for tier in TIERS}
    rows = [
        {"unit_id": k, "unit_name": n, "tier": tier, **cells[(k, tier)], "total": sum(cells[(k, tier)].values())}
        for k, n in zip(keys, names)
        for tier in TIERS
    ]
    return Chart(
        "overdue_tasks",
        period,
        sc.unit_id,
        keys,
        names,
        series,
        ["unit_id", "unit_name", "tier", "open_overdue", "completed_late", "total"],
        rows,
    )


def findings(session: Session, p: Principal, sc: Scope, period: Period, now: datetime, zone: Any) -> Chart:
    """Findings per month by classification: monthly report findings (the report's month) and ad-hoc
    reports (the month filed); `pending` = not classified yet."""
    months = period.months
    cells = {(m, u.id): {k: 0 for k in FINDING_KINDS} for m in months for u in sc.units}
    for r in records.monthly_reports(session, p, sc.unit_ids, period.year, sc.process_key):
        m = r.data.month
        if m is None or m not in months:
            continue
        for f in r.data.findings:
            kind = f.classification or "pending"
            cells[(m, r.unit_id or "")][kind if kind in FINDING_KINDS else "pending"] += 1
    # findings made in any procedure's form (a field marked "x-record": "findings"), the month completed
    for ff in records.form_findings(session, p, sc.unit_ids, period.year, sc.process_key):
        m = ff.data.month
        if m is None or m not in months or (m, ff.unit_id or "") not in cells:
            continue
        for c in ff.data.classifications:
            kind = c or "pending"
            cells[(m, ff.unit_id or "")][kind if kind in FINDING_KINDS else "pending"] += 1
    for a in records.adhoc_reports(session, p, sc.unit_ids, sc.process_key):
        filed = _local_date(a.data.filed_at, zone)
        if filed is None or filed.year != period.year or filed.month not in months:
            continue
        kind = a.data.classification or "pending"
        cells[(filed.month, a.unit_id or "")][kind if kind in FINDING_KINDS else "pending"] += 1
    labels = [f"{period.year}-{m:02d}" for m in months]
    series = {k: [sum(cells[(m, u.id)][k] for u in sc.units) for m in months] for k in FINDING_KINDS}
    rows = [
        {
            "month": label,
            "unit_id": u.id,
            "unit_name": u.name,
            **cells[(m, u.id)],
            "total": sum(cells[(m, u.id)].values()),
        }
        for m, label in zip(months, labels)
        for u in sc.units
    ]
    return Chart(
        "findings",
        period,
        sc.unit_id,
        labels,
        labels,
        series,
        ["month", "unit_id", "unit_name", *FINDING_KINDS, "total"],
        rows,
    )


def clue_dispositions(session: Session, p: Principal, sc: Scope, period: Period, now: datetime, zone: Any) -> Chart:
    """Clues registered in the period per unit, by where their disposal stands (in progress or the outcome)."""
    counts: dict[str, dict[str, int]] = {}
    extra = {u.id: {"major": 0, "reported_to_group": 0} for u in sc.units}
    for r in records.clues(session, p, sc.unit_ids, sc.process_key):
        c, unit_id = r.data, r.unit_id or ""
        registered = _local_date(c.registered_at, zone)
        if registered is None or not period.start <= registered <= period.end:
            continue
        status = c.status if c.status in CLUE_STATUSES else "待研判"
        counts.setdefault(unit_id, {}).setdefault(status, 0)
        counts[unit_id][status] += 1
        extra[unit_id]["major"] += c.level == "重大"
        extra[unit_id]["reported_to_group"] += c.reported_to_group
    return _unit_chart("clue_dispositions", sc, period, CLUE_STATUSES, counts, extra, ("major", "reported_to_group"))


def punctuality(session: Session, p: Principal, sc: Scope, period: Period, now: datetime, zone: Any) -> Chart:
    """Monthly written reports per month: on time, late, and past due without a report."""
    months = period.months
    cells = {(m, u.id): {k: 0 for k in PUNCTUALITY} for m in months for u in sc.units}
    submitted: set[tuple[str, str]] = set()
    for r in records.monthly_reports(session, p, sc.unit_ids, period.year, sc.process_key):
        mr = r.data
        submitted.add((r.node_id or "", mr.period or ""))
        if mr.month is not None and mr.month in months and mr.on_time is not None:
            cells[(mr.month, r.unit_id or "")]["on_time" if mr.on_time else "late"] += 1
    start, end = period.utc_bounds(zone)
    t = HumanTask
    missing_q = select(t.node_id, t.unit_id, t.due_at).where(
        t.process_key == "monthly_report_branch",
        t.spec_id == "write_report",
        t.status == "open",
        t.unit_id.in_(sc.unit_ids),
        t.due_at.is_not(None),
        t.due_at >= start,
        t.due_at < end,
        t.due_at < now,
    )
    if sc.process_key is not None:
        missing_q = missing_q.where(t.instance_id.in_(records.procedure_instances(sc.process_key)))
    missing = session.execute(missing_q)
    for node_id, unit_id, due in missing:
        assert due is not None and unit_id is not None  # both in the WHERE clause
        due_local = due.astimezone(zone)
        if (node_id, f"{due_local.year}-{due_local.month:02d}") in submitted:
            continue  # sent back for completion: the report was submitted (and counted) already
        if due_local.month in months:
            cells[(due_local.month, unit_id)]["missing"] += 1
    labels = [f"{period.year}-{m:02d}" for m in months]
    series = {k: [sum(cells[(m, u.id)][k] for u in sc.units) for m in months] for k in PUNCTUALITY}
    rows = []
    for m, label in zip(months, labels):
        for u in sc.units:
            c = cells[(m, u.id)]
            expected = sum(c.values())
            rows.append(
                {
                    "month": label,
                    "unit_id": u.id,
                    "unit_name": u.name,
                    **c,
                    "total": expected,
                    "on_time_rate": round(c["on_time"] / expected, 4) if expected else None,
                }
            )
    return Chart(
        "punctuality",
        period,
        sc.unit_id,
        labels,
        labels,
        series,
        ["month", "unit_id", "unit_name", *PUNCTUALITY, "total", "on_time_rate"],
        rows,
    )


BUILDERS = {
    "quarterly_completion": quarterly_completion,
    "overdue_tasks": overdue_tasks,
    "findings": findings,
    "clue_dispositions": clue_dispositions,
    "punctuality": punctuality,
}


def procedures(session: Session) -> list[tuple[str, str]]:
    """(key, name) of the procedures a dashboard may be narrowed to, by name: the newest active
    version of every deployed process that no other deployed process calls (a called process's
    instances count with the procedure that fanned out to them)."""
    defs = session.scalars(repository.newest_active()).all()
    called = {key for d in defs for key in (d.info or {}).get("calls", [])}
    found = [(d.key, d.name or d.key) for d in defs if not (d.info or {}).get("called_only") and d.key not in called]
    return sorted(found, key=lambda kn: (kn[1], kn[0]))


def build(
    session: Session,
    p: Principal,
    chart: str,
    unit_id: str | None,
    period: Period,
    now: datetime,
    zone: Any,
    process_key: str | None = None,
) -> Chart:
    """The chart for `p`; with `process_key`, only what that procedure's instances did (404 for a
    process that was never deployed)."""
    if chart not in BUILDERS:
        raise NotFound("chart {chart!r} does not exist", chart=chart)
    sc = scope(session, p, unit_id)
    if process_key:
        if session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == process_key).limit(1)) is None:
            raise NotFound("process {key!r} is not deployed", key=process_key)
        sc = replace(sc, process_key=process_key)
    return BUILDERS[chart](session, p, sc, period, now, zone)
