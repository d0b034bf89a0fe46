"""分区联创: zones of units working together. A zone is a named set of units with a lead unit
(牵头单位), set up, changed and closed by the group committee; its activities (date, topic,
participating units, summary, attachments) are recorded by the committee of one of its units. An
activity may name the secondment batch (`secondment_batch` record of processes/secondment.bpmn,
类别 分区联创) whose selected people took part: they are listed with it.

Everyone in the organisation reads the zones; an activity is read by the group committee and the
people of the zone's units (engine/org/policy.py `zone_units_of`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.errors import Conflict, Forbidden, Invalid, NotFound, SanjiError, ScriptError
from engine.linkage import records
from engine.models import HumanTask, OrgNode, Record, User
from engine.org import policy
from engine.org.nodes import Principal, load_principal
from engine.platform.attachments import service as attachments
from engine.platform.meetings.models import Zone, ZoneActivity, ZoneActivityUnit, ZoneUnit
from engine.platform.meetings.rules import activities_visible
from engine.platform.meetings.unit_meetings import materials, past_day, str_list, text, unit_node, unknown_fields

MAX_NAME = 100
MAX_TOPIC = 200
MAX_TEXT = 5000
ZONE_FIELDS = {"name", "lead_unit_id", "unit_ids", "note"}
ACTIVITY_FIELDS = {"held_on", "topic", "unit_ids", "summary", "materials", "batch_key"}
LINK = "zone_activity"


# ---- zones ----------------------------------------------------------------------------------------------


def require_reader(p: Principal) -> None:
    if not policy.in_organisation(p):
        raise Forbidden("zones are for the members of the organisation")


def _units(session: Session, data: dict[str, Any], field_: str) -> list[str]:
    ids = str_list(data, field_)
    if not ids:
        raise Invalid.on(field_, "choose at least one unit")
    for i, unit_id in enumerate(ids):
        unit_node(session, unit_id, f"{field_}/{i}")
    return ids


def _apply(session: Session, z: Zone, data: dict[str, Any]) -> None:
    unknown_fields(data, ZONE_FIELDS)
    name = text(data, "name", MAX_NAME)
    same = session.scalars(select(Zone.id).where(Zone.name == name, Zone.id != (z.id or 0))).first()
    if same is not None:
        raise Invalid.on("name", "a zone named {name} exists", name=name)
    unit_ids = _units(session, data, "unit_ids")
    lead = data.get("lead_unit_id")
    if lead not in unit_ids:
        raise Invalid.on("lead_unit_id", "the lead unit must be one of the zone's units")
    z.name, z.lead_unit_id, z.note = name, str(lead), text(data, "note", MAX_TEXT, required=False)
    if z.id is None:
        session.add(z)
    session.flush()
    have = set(session.scalars(select(ZoneUnit.unit_id).where(ZoneUnit.zone_id == z.id)))
    for unit_id in have - set(unit_ids):
        session.delete(session.get(ZoneUnit, (z.id, unit_id)))
    for unit_id in unit_ids:
        if unit_id not in have:
            session.add(ZoneUnit(zone_id=z.id, unit_id=unit_id))
    session.flush()


def create_zone(session: Session, p: Principal, data: dict[str, Any], now: datetime) -> Zone:
    policy.require_manage_zones(p)
    z = Zone(created_by_id=p.id, created_at=now, updated_at=now, active=True, note="")
    _apply(session, z, data)
    return z


def get_zone(session: Session, p: Principal, zone_id: int) -> Zone:
    require_reader(p)
    z = session.get(Zone, zone_id)
    if z is None:
        raise NotFound("zone {id} does not exist", id=zone_id)
    return z


def change_zone(session: Session, p: Principal, zone_id: int, data: dict[str, Any], now: datetime) -> Zone:
    policy.require_manage_zones(p)
    z = get_zone(session, p, zone_id)
    _apply(session, z, data)
    z.updated_at = now
    return z


def close_zone(session: Session, p: Principal, zone_id: int, now: datetime) -> Zone:
    """Close a zone (its activities stay readable; no new ones are recorded)."""
    policy.require_manage_zones(p)
    z = get_zone(session, p, zone_id)
    z.active, z.updated_at = False, now
    session.flush()
    return z


def zones_query(p: Principal, include_closed: bool = False) -> Select[Any]:
    require_reader(p)
    q = select(Zone)
    if not include_closed:
        q = q.where(Zone.active.is_(True))
    return q.order_by(Zone.name, Zone.id)


def zone_units(session: Session, zone_id: int) -> list[str]:
    return list(session.scalars(select(ZoneUnit.unit_id).where(ZoneUnit.zone_id == zone_id).order_by(ZoneUnit.unit_id)))


def _unit_names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(session.execute(select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(ids))).all())


def zones_json(session: Session, p: Principal, rows: list[Zone]) -> list[dict[str, Any]]:
    ids = [z.id for z in rows]
    units: dict[int, list[str]] = {}
    counts: dict[int, int] = {}
    if ids:
        for zid, unit_id in session.execute(
            select(ZoneUnit.zone_id, ZoneUnit.unit_id)
            .join(OrgNode, OrgNode.id == ZoneUnit.unit_id)
            .where(ZoneUnit.zone_id.in_(ids))
            .order_by(ZoneUnit.zone_id, OrgNode.sort, OrgNode.id)
        ):
            units.setdefault(zid, []).append(unit_id)
        counts = dict(
            session.execute(
                select(ZoneActivity.zone_id, func.count())
                .where(ZoneActivity.zone_id.in_(ids), activities_visible(p))
                .group_by(ZoneActivity.zone_id)
            ).all()
        )
    names = _unit_names(session, {u for us in units.values() for u in us} | {z.lead_unit_id for z in rows})
    mine = policy.zone_units_of(p)
    recording = set(policy.recording_units(p))
    return [
        {
            "id": z.id,
            "name": z.name,
            "lead_unit_id": z.lead_unit_id,
            "lead_unit_name": names.get(z.lead_unit_id, z.lead_unit_id),
            "units": [{"unit_id": u, "name": names.get(u, u)} for u in units.get(z.id, [])],
            "note": z.note,
            "active": z.active,
            "activities": counts.get(z.id, 0),
            "member": mine is None or bool(mine & set(units.get(z.id, []))),
            "may_record": z.active and bool(recording & set(units.get(z.id, []))),
            "created_at": z.created_at.isoformat(),
            "updated_at": z.updated_at.isoformat(),
        }
        for z in rows
    ]


# ---- activities -----------------------------------------------------------------------------------------


def record_activity(
    session: Session, p: Principal, zone_id: int, data: dict[str, Any], now: datetime, tz: Any
) -> ZoneActivity:
    """Record an activity of a zone (the caller commits): by the committee of one of its units."""
    z = get_zone(session, p, zone_id)
    members = set(zone_units(session, z.id))
    policy.require_record_zone_activity(p, members)
    if not z.active:
        raise Conflict("zone {id} is closed", id=z.id)
    unknown_fields(data, ACTIVITY_FIELDS)
    held_on = past_day(data.get("held_on"), "held_on", now.astimezone(tz).date())
    topic = text(data, "topic", MAX_TOPIC)
    unit_ids = _units(session, data, "unit_ids")
    for i, unit_id in enumerate(unit_ids):
        if unit_id not in members:
            raise Invalid.on(f"unit_ids/{i}", "{unit_id!r} is not a unit of the zone", unit_id=unit_id)
    summary = text(data, "summary", MAX_TEXT, required=False)
    batch_key = data.get("batch_key") or None
    if batch_key is not None:
        found = (
            isinstance(batch_key, str)
            and session.scalars(
                select(Record.id).where(Record.kind == "secondment_batch", Record.key == batch_key)
            ).first()
        )
        if not found:
            raise Invalid.on("batch_key", "no secondment batch {key}", key=str(batch_key)[:64])
    files = materials(session, p, data)
    a = ZoneActivity(
        zone_id=z.id,
        held_on=held_on,
        topic=topic,
        summary=summary,
        batch_key=batch_key,
        created_by_id=p.id,
        created_at=now,
    )
    session.add(a)
    session.flush()
    for unit_id in unit_ids:
        session.add(ZoneActivityUnit(activity_id=a.id, unit_id=unit_id))
    if files:
        attachments.bind(session, files, [(LINK, a.id)], p, now)
    session.flush()
    return a


@dataclass(frozen=True)
class ActivityFilter:
    zone_id: int | None = None
    unit_id: str | None = None
    year: int | None = None


def activities_query(p: Principal, f: ActivityFilter) -> Select[Any]:
    q = select(ZoneActivity).where(activities_visible(p))
    if f.zone_id is not None:
        q = q.where(ZoneActivity.zone_id == f.zone_id)
    if f.unit_id:
        q = q.where(
            select(ZoneActivityUnit.activity_id)
            .where(ZoneActivityUnit.activity_id == ZoneActivity.id, ZoneActivityUnit.unit_id == f.unit_id)
            .exists()
        )
    if f.year is not None:
        q = q.where(ZoneActivity.held_on >= date(f.year, 1, 1), ZoneActivity.held_on <= date(f.year, 12, 31))
    return q.order_by(ZoneActivity.held_on.desc(), ZoneActivity.id.desc())


def get_activity(session: Session, p: Principal, activity_id: int) -> ZoneActivity:
    a = session.scalars(select(ZoneActivity).where(ZoneActivity.id == activity_id, activities_visible(p))).first()
    if a is None:
        raise NotFound("zone activity {id} does not exist", id=activity_id)
    return a


def secondments(session: Session, p: Principal, batch_key: str) -> list[dict[str, Any]]:
    """The people of a secondment batch that `p` may see (the register's rule), with whether they came."""
    rows = session.scalars(records.query(p, "secondment").where(Record.key.startswith(batch_key + ":")))
    return [
        {k: (r.data or {}).get(k) for k in ("username", "display_name", "unit_id", "status")}
        for r in rows
        if (r.data or {}).get("batch_key") == batch_key
    ]


def activities_json(
    session: Session, p: Principal, rows: list[ZoneActivity], full: bool = False
) -> list[dict[str, Any]]:
    ids = [a.id for a in rows]
    units: dict[int, list[str]] = {}
    if ids:
        for aid, unit_id in session.execute(
            select(ZoneActivityUnit.activity_id, ZoneActivityUnit.unit_id)
            .join(OrgNode, OrgNode.id == ZoneActivityUnit.unit_id)
            .where(ZoneActivityUnit.activity_id.in_(ids))
            .order_by(ZoneActivityUnit.activity_id, OrgNode.sort, OrgNode.id)
        ):
            units.setdefault(aid, []).append(unit_id)
    names = _unit_names(session, {u for us in units.values() for u in us})
    zones = dict(session.execute(select(Zone.id, Zone.name).where(Zone.id.in_({a.zone_id for a in rows}))).all())
    creators = dict(
        session.execute(select(User.id, User.username).where(User.id.in_({a.created_by_id for a in rows}))).all()
    )
    out = []
    for a in rows:
        d: dict[str, Any] = {
            "id": a.id,
            "zone_id": a.zone_id,
            "zone_name": zones.get(a.zone_id),
            "held_on": a.held_on.isoformat(),
            "topic": a.topic,
            "summary": a.summary,
            "units": [{"unit_id": u, "name": names.get(u, u)} for u in units.get(a.id, [])],
            "batch_key": a.batch_key,
            "created_by": creators.get(a.created_by_id),
            "created_at": a.created_at.isoformat(),
        }
        if full:
            d["materials"] = [attachments.as_dict(x) for x in attachments.bound_to(session, p, LINK, a.id)]
            d["secondments"] = secondments(session, p, a.batch_key) if a.batch_key else []
        out.append(d)
    return out


# ---- the procedure 分区联创联合活动 (processes/zone_activity.bpmn) ----------------------------------------

# The processes whose scripts may record a zone activity (`record_zone_activity`); any other process,
# whatever it is called, is refused, as for the record kinds of engine/linkage/records.py.
RECORDING_PROCESSES = frozenset({"zone_activity"})


def info(session: Session, zone_id: Any) -> dict[str, Any] | None:
    """A zone as the procedure reads it: id, name, lead unit, member units in the organisation's
    order, active; None when there is no such zone. Zones are read by everyone in the organisation."""
    z = session.get(Zone, zone_id) if isinstance(zone_id, int) and not isinstance(zone_id, bool) else None
    if z is None:
        return None
    units = list(
        session.scalars(
            select(ZoneUnit.unit_id)
            .join(OrgNode, OrgNode.id == ZoneUnit.unit_id)
            .where(ZoneUnit.zone_id == z.id)
            .order_by(OrgNode.sort, OrgNode.id)
        )
    )
    return {"id": z.id, "name": z.name, "lead_unit_id": z.lead_unit_id, "unit_ids": units, "active": z.active}


def choices(session: Session) -> list[tuple[int, str]]:
    """The active zones as a form offers them (`"x-source": "zones"`): id, name."""
    return [
        (z.id, z.name) for z in session.scalars(select(Zone).where(Zone.active.is_(True)).order_by(Zone.name, Zone.id))
    ]


def batch_choices(session: Session, kind: str = "分区联创") -> list[tuple[str, str]]:
    """The secondment batches (`secondment_batch` records of processes/secondment.bpmn) of a kind,
    newest first, as a form offers them (`"x-source": "secondment_batches"`): key, "title（dates）"."""
    rows = session.scalars(select(Record).where(Record.kind == "secondment_batch").order_by(Record.id.desc()))
    out = []
    for r in rows:
        d = r.data or {}
        if d.get("batch_kind", kind) == kind:
            dates = "～".join(str(d[k]) for k in ("starts_on", "ends_on") if d.get(k))
            out.append(
                (r.key, f"{d.get('batch_title') or r.key}（{dates}）" if dates else str(d.get("batch_title") or r.key))
            )
    return out


def script_helpers(
    session: Session, scope: Any, instance_id: int, now: Callable[[], datetime], tz: Any
) -> dict[str, Callable[..., Any]]:
    """`zone_info(zone_id)` for every script (the zones are public inside the organisation) and
    `record_zone_activity(step, zone_id, held_on, topic, unit_ids, summary, batch_key)` for the processes of
    `RECORDING_PROCESSES`: the activity is recorded through `record_activity` in the name of the
    person who completed step `step` of this instance, with that person's rights (a committee
    member of one of the zone's units) and the same checks as the page and the API."""

    def zone_info(zone_id: Any) -> dict[str, Any] | None:
        return info(session, zone_id)

    def record_zone_activity(
        step: str,
        zone_id: Any,
        held_on: str,
        topic: str,
        unit_ids: list[str],
        summary: str = "",
        batch_key: str | None = None,
    ) -> int:
        if scope is None or scope.process_key not in RECORDING_PROCESSES:
            raise ScriptError(
                "record_zone_activity: process {process_key!r} may not record zone activities (only {processes} may)",
                process_key=getattr(scope, "process_key", None),
                processes=", ".join(sorted(RECORDING_PROCESSES)),
            )
        done = session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id == instance_id, HumanTask.spec_id == step, HumanTask.status == "completed")
            .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())
        ).first()
        user = session.get(User, done.completed_by_id) if done is not None and done.completed_by_id else None
        if user is None:
            raise ScriptError("record_zone_activity: step {step!r} of this instance has not been completed", step=step)
        data = {"held_on": held_on, "topic": topic, "unit_ids": list(unit_ids or []), "summary": summary or ""}
        if batch_key:
            data["batch_key"] = batch_key
        try:
            a = record_activity(session, load_principal(session, user), zone_id, data, now(), tz)
        except SanjiError as exc:
            raise ScriptError("record_zone_activity: {reason}", reason=str(exc)) from exc
        return a.id

    return {"zone_info": zone_info, "record_zone_activity": record_zone_activity}
