"""Who reads which meetings and zone activities (as SQL, from engine/org/policy.py's rules), and
the meeting counts the study figures and the annual assessment read.

Kept apart from the modules that write (which bind attachments), so that the attachments'
`readable_clause` can ask it without an import cycle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from engine.org import policy
from engine.org.nodes import Principal
from engine.platform.meetings.models import UnitMeeting, UnitMeetingAttendee, ZoneActivity, ZoneUnit

KINDS = {"regular": "例会", "training": "学习培训", "exchange": "业务交流"}


def meetings_visible(p: Principal) -> ColumnElement[bool]:
    """SQL: the meetings `p` reads: all (admins, the group committee); a unit committee its unit's;
    anyone the meetings they attended (a branch commissioner: only those)."""
    units = policy.meeting_units(p)
    if units is None:
        return true()
    attended = exists().where(
        UnitMeetingAttendee.meeting_id == UnitMeeting.id, UnitMeetingAttendee.username == p.username
    )
    return or_(UnitMeeting.unit_id.in_(sorted(units)), attended) if units else attended


def activities_visible(p: Principal) -> ColumnElement[bool]:
    """SQL: the zone activities `p` reads: all (admins, the group committee); the people of a
    zone's units (its committees and their branches' commissioners) the zone's activities."""
    units = policy.zone_units_of(p)
    if units is None:
        return true()
    if not units:
        return false()
    return exists().where(ZoneUnit.zone_id == ZoneActivity.zone_id, ZoneUnit.unit_id.in_(sorted(units)))


def empty_counts() -> dict[str, int]:
    return {**{k: 0 for k in KINDS}, "total": 0}


def counts(session: Session, start: date, end: date, units: set[str] | None = None) -> dict[str, dict[str, int]]:
    """Meetings held from `start` to `end` (inclusive) per unit and kind, with each unit's total."""
    q = (
        select(UnitMeeting.unit_id, UnitMeeting.kind, func.count())
        .where(UnitMeeting.held_on >= start, UnitMeeting.held_on <= end)
        .group_by(UnitMeeting.unit_id, UnitMeeting.kind)
    )
    if units is not None:
        q = q.where(UnitMeeting.unit_id.in_(sorted(units)))
    out: dict[str, dict[str, int]] = {}
    for unit_id, kind, n in session.execute(q):
        row = out.setdefault(unit_id, empty_counts())
        if kind in row:
            row[kind] += n
        row["total"] += n
    return out


def script_helpers(session: Session, scope: Any = None) -> dict[str, Callable[..., Any]]:
    """`unit_meetings(unit_id, year)`: the unit's meetings of the year by kind and in total
    ({"regular", "training", "exchange", "total"}), inside the instance's scope (a unit instance
    its own unit, a group instance any)."""

    def unit_meetings(unit_id: str, year: int) -> dict[str, int]:
        if scope is not None:
            scope.people_of("unit_meetings", unit_id)
        y = int(year)
        return counts(session, date(y, 1, 1), date(y, 12, 31), {str(unit_id)}).get(str(unit_id), empty_counts())

    return {"unit_meetings": unit_meetings}
