"""Unit meetings and training (例会、学习培训、业务交流): a unit committee records, for its own
unit, the date (never in the future), the kind, the topic, the attendees (people of the unit:
its committee and its branches' commissioners, stored by username), the materials (attachments,
engine/platform/attachments) and notes. Who reads which is engine/org/policy.py's rule, as SQL in
`rules.meetings_visible`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.errors import Invalid, NotFound
from engine.models import OrgNode, User
from engine.org import nodes as org
from engine.org import policy
from engine.org.nodes import Principal
from engine.platform.attachments import service as attachments
from engine.platform.attachments.models import Attachment
from engine.platform.meetings.models import UnitMeeting, UnitMeetingAttendee
from engine.platform.meetings.rules import KINDS, meetings_visible

MAX_TOPIC = 200
MAX_NOTES = 5000
FIELDS = {"unit_id", "kind", "held_on", "topic", "attendees", "materials", "notes"}
LINK = "meeting"


# ---- shared checks (zone activities use them too) ---------------------------------------------------------


def unknown_fields(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise Invalid.on(unknown[0], "unknown field")


def past_day(value: Any, field_: str, today: date) -> date:
    """An ISO date, not after today."""
    if not isinstance(value, str) or not value:
        raise Invalid.on(field_, "an ISO date, e.g. 2027-01-05")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Invalid.on(field_, "an ISO date, e.g. 2027-01-05") from None
    if day > today:
        raise Invalid.on(field_, "cannot be in the future")
    if day.year < 2000:
        raise Invalid.on(field_, "a year between 2000 and 2100")
    return day


def text(data: dict[str, Any], field_: str, limit: int, required: bool = True) -> str:
    value = data.get(field_, "" if not required else None)
    if value is None and not required:
        value = ""
    if not isinstance(value, str) or len(value.strip()) > limit or (required and not value.strip()):
        if required:
            raise Invalid.on(field_, "required text of at most {limit} characters", limit=limit)
        raise Invalid.on(field_, "text of at most {limit} characters", limit=limit)
    return value.strip()


def str_list(data: dict[str, Any], field_: str) -> list[str]:
    value = data.get(field_) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Invalid.on(field_, "a list of names")
    return list(dict.fromkeys(value))


def materials(session: Session, p: Principal, data: dict[str, Any]) -> list[str]:
    """The attachment ids of `materials`: each one `p` uploaded (422 naming the field). Only one's own,
    never confidential uploads: binding a file to a meeting lets the meeting's readers read it, so a
    file readable through a clue or a task must not travel on that way."""
    ids = str_list(data, "materials")
    if ids:
        mine = (Attachment.id.in_(ids), Attachment.uploaded_by_id == p.id, Attachment.confidential.is_(False))
        found = set(session.scalars(select(Attachment.id).where(*mine)))
        for i, att_id in enumerate(ids):
            if att_id not in found:
                raise Invalid.on(f"materials/{i}", "attachment {id} does not exist", id=att_id[:64])
    return ids


def unit_node(session: Session, unit_id: Any, field_: str = "unit_id") -> OrgNode:
    node = session.get(OrgNode, unit_id) if isinstance(unit_id, str) and unit_id else None
    if node is None or node.tier != "unit" or not node.active:
        raise Invalid.on(field_, "{unit_id!r} is not a unit of the organisation", unit_id=str(unit_id)[:64])
    return node


# ---- meetings ---------------------------------------------------------------------------------------------


def people_of(session: Session, unit_id: str) -> list[dict[str, Any]]:
    """Who may attend a unit's meeting: its committee and its branches' commissioners."""
    return org.people(session, unit_id)


def create(session: Session, p: Principal, data: dict[str, Any], now: datetime, zone: Any) -> UnitMeeting:
    """Record a meeting (the caller commits): 422 naming the first wrong field, 403 for another unit."""
    unknown_fields(data, FIELDS)
    mine = policy.recording_units(p)
    unit_id = data.get("unit_id") or (mine[0] if len(mine) == 1 else None)
    if unit_id is None and not mine:
        policy.require_record_meeting(p, "")
    unit = unit_node(session, unit_id)
    policy.require_record_meeting(p, unit.id)
    kind = data.get("kind")
    if kind not in KINDS:
        raise Invalid.on("kind", "one of {kinds} ({labels})", kinds=", ".join(KINDS), labels="、".join(KINDS.values()))
    held_on = past_day(data.get("held_on"), "held_on", now.astimezone(zone).date())
    topic = text(data, "topic", MAX_TOPIC)
    attendees = str_list(data, "attendees")
    if not attendees:
        raise Invalid.on("attendees", "choose at least one attendee")
    allowed = {person["username"] for person in people_of(session, unit.id)}
    for i, username in enumerate(attendees):
        if username not in allowed:
            raise Invalid.on(f"attendees/{i}", "{username} is not one of the unit's people", username=username[:64])
    notes = text(data, "notes", MAX_NOTES, required=False)
    files = materials(session, p, data)
    m = UnitMeeting(
        unit_id=unit.id,
        kind=kind,
        held_on=held_on,
        topic=topic,
        notes=notes,
        created_by_id=p.id,
        created_at=now,
        updated_at=now,
    )
    session.add(m)
    session.flush()
    for i, username in enumerate(attendees):
        session.add(UnitMeetingAttendee(meeting_id=m.id, username=username, sort=i))
    if files:
        attachments.bind(session, files, [(LINK, m.id)], p, now)
    session.flush()
    return m


@dataclass(frozen=True)
class MeetingFilter:
    unit_id: str | None = None
    kind: str | None = None
    year: int | None = None


def query(p: Principal, f: MeetingFilter) -> Select[Any]:
    """The one query of the meetings `p` reads: newest first."""
    q = select(UnitMeeting).where(meetings_visible(p))
    if f.unit_id:
        q = q.where(UnitMeeting.unit_id == f.unit_id)
    if f.kind:
        if f.kind not in KINDS:
            raise Invalid.on("kind", "one of {kinds}", kinds=", ".join(KINDS))
        q = q.where(UnitMeeting.kind == f.kind)
    if f.year is not None:
        q = q.where(UnitMeeting.held_on >= date(f.year, 1, 1), UnitMeeting.held_on <= date(f.year, 12, 31))
    return q.order_by(UnitMeeting.held_on.desc(), UnitMeeting.id.desc())


def get(session: Session, p: Principal, meeting_id: int) -> UnitMeeting:
    m = session.scalars(select(UnitMeeting).where(UnitMeeting.id == meeting_id, meetings_visible(p))).first()
    if m is None:
        raise NotFound("meeting {id} does not exist", id=meeting_id)
    return m


def attended(session: Session, p: Principal, username: str, limit: int = 50) -> list[dict[str, Any]]:
    """The meetings `username` attended that `p` reads (a person's profile), newest first."""
    mine = select(UnitMeetingAttendee.meeting_id).where(
        UnitMeetingAttendee.meeting_id == UnitMeeting.id, UnitMeetingAttendee.username == username
    )
    rows = list(session.scalars(query(p, MeetingFilter()).where(mine.exists()).limit(limit)))
    keys = ("id", "unit_name", "kind", "kind_name", "held_on", "topic")
    return [{k: d[k] for k in keys} for d in as_json(session, p, rows)]


def as_json(session: Session, p: Principal, rows: list[UnitMeeting], files: bool = False) -> list[dict[str, Any]]:
    """The meetings with their unit's name and attendees' names (and, with `files`, the readable materials)."""
    ids = [m.id for m in rows]
    attendees: dict[int, list[str]] = {}
    if ids:
        for mid, username in session.execute(
            select(UnitMeetingAttendee.meeting_id, UnitMeetingAttendee.username)
            .where(UnitMeetingAttendee.meeting_id.in_(ids))
            .order_by(UnitMeetingAttendee.meeting_id, UnitMeetingAttendee.sort)
        ):
            attendees.setdefault(mid, []).append(username)
    names = dict(
        session.execute(
            select(User.username, User.display_name).where(
                User.username.in_({u for us in attendees.values() for u in us})
            )
        ).all()
    )
    creators = dict(
        session.execute(select(User.id, User.username).where(User.id.in_({m.created_by_id for m in rows}))).all()
    )
    units = dict(
        session.execute(select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_({m.unit_id for m in rows}))).all()
    )
    out = []
    for m in rows:
        d: dict[str, Any] = {
            "id": m.id,
            "unit_id": m.unit_id,
            "unit_name": units.get(m.unit_id, m.unit_id),
            "kind": m.kind,
            "kind_name": KINDS.get(m.kind, m.kind),
            "held_on": m.held_on.isoformat(),
            "topic": m.topic,
            "notes": m.notes,
            "attendees": [{"username": u, "display_name": names.get(u, u)} for u in attendees.get(m.id, [])],
            "created_by": creators.get(m.created_by_id),
            "created_at": m.created_at.isoformat(),
        }
        if files:
            d["materials"] = [attachments.as_dict(a) for a in attachments.bound_to(session, p, LINK, m.id)]
        out.append(d)
    return out
