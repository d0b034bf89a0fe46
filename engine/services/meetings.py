"""Unit meetings and training (例会、学习培训、业务交流) and 分区联创 zones with their activities, as
the JSON API (`/api/v1/meetings`, `/api/v1/zones`, `/api/v1/zone-activities`) and the pages
(`/meetings`, `/zones`) read and write them: one query per list, each command committed here (or
rolled back: nothing is kept when it fails). Who reads and records what is engine/org/policy.py's
rule (`meeting_units`, `require_record_meeting`, `require_manage_zones`, `zone_units_of`,
`require_record_zone_activity`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from engine.org import policy
from engine.org.nodes import Principal
from engine.platform.meetings import unit_meetings, zones
from engine.platform.meetings.unit_meetings import MeetingFilter
from engine.platform.meetings.zones import ActivityFilter
from engine.services.paging import Page, PageRequest, fetch

__all__ = ["ActivityFilter", "MeetingFilter"]
T = TypeVar("T")


def _write(session: Session, work: Callable[[], T]) -> T:
    try:
        out = work()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return out


# ---- meetings --------------------------------------------------------------------------------------------


def list_meetings(session: Session, p: Principal, f: MeetingFilter, req: PageRequest) -> Page[dict[str, Any]]:
    pg = fetch(session, unit_meetings.query(p, f), req)
    rows = [r[0] for r in pg.items]
    by_id = {d["id"]: d for d in unit_meetings.as_json(session, p, rows)}
    return pg.map(lambda r: by_id[r[0].id])


def get_meeting(session: Session, p: Principal, meeting_id: int) -> dict[str, Any]:
    m = unit_meetings.get(session, p, meeting_id)
    return unit_meetings.as_json(session, p, [m], files=True)[0]


def create_meeting(session: Session, p: Principal, data: dict[str, Any], now: datetime, zone: Any) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        m = unit_meetings.create(session, p, data, now, zone)
        return unit_meetings.as_json(session, p, [m], files=True)[0]

    return _write(session, work)


def recording_units(p: Principal) -> list[str]:
    """The units whose meetings `p` records (the form's choice of unit)."""
    return policy.recording_units(p)


def people_of(session: Session, unit_id: str) -> list[dict[str, Any]]:
    return unit_meetings.people_of(session, unit_id)


# ---- zones -----------------------------------------------------------------------------------------------


def list_zones(session: Session, p: Principal, req: PageRequest, include_closed: bool = False) -> Page[dict[str, Any]]:
    pg = fetch(session, zones.zones_query(p, include_closed), req)
    by_id = {d["id"]: d for d in zones.zones_json(session, p, [r[0] for r in pg.items])}
    return pg.map(lambda r: by_id[r[0].id])


def get_zone(session: Session, p: Principal, zone_id: int) -> dict[str, Any]:
    return zones.zones_json(session, p, [zones.get_zone(session, p, zone_id)])[0]


def create_zone(session: Session, p: Principal, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    return _write(session, lambda: zones.zones_json(session, p, [zones.create_zone(session, p, data, now)])[0])


def change_zone(session: Session, p: Principal, zone_id: int, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    return _write(session, lambda: zones.zones_json(session, p, [zones.change_zone(session, p, zone_id, data, now)])[0])


def close_zone(session: Session, p: Principal, zone_id: int, now: datetime) -> dict[str, Any]:
    return _write(session, lambda: zones.zones_json(session, p, [zones.close_zone(session, p, zone_id, now)])[0])


def may_manage_zones(p: Principal) -> bool:
    return policy.may_manage_zones(p)


def list_activities(session: Session, p: Principal, f: ActivityFilter, req: PageRequest) -> Page[dict[str, Any]]:
    if f.zone_id is not None:
        zones.get_zone(session, p, f.zone_id)  # 404 for a zone that does not exist
    pg = fetch(session, zones.activities_query(p, f), req)
    by_id = {d["id"]: d for d in zones.activities_json(session, p, [r[0] for r in pg.items])}
    return pg.map(lambda r: by_id[r[0].id])


def get_activity(session: Session, p: Principal, activity_id: int) -> dict[str, Any]:
    return zones.activities_json(session, p, [zones.get_activity(session, p, activity_id)], full=True)[0]


def record_activity(
    session: Session, p: Principal, zone_id: int, data: dict[str, Any], now: datetime, tz: Any
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        a = zones.record_activity(session, p, zone_id, data, now, tz)
        return zones.activities_json(session, p, [a], full=True)[0]

    return _write(session, work)
