"""People: the 三级联动 leading group (derived from roles, with its decisions) and each
person's profile (roles, secondments and training, study figures).

The leading group (领导小组) is never stored: it is read from the group committee's roles —
secretary = 组长, deputy secretaries = 副组长, other standing members = 成员 — so changing a
role changes it. Its meetings' decisions are recorded by its members (or an admin).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.errors import Invalid
from engine.linkage import records
from engine.models import OrgNode, Record, RoleAssignment, User
from engine.org import nodes as org
from engine.org import policy
from engine.org.nodes import ROLE_NAMES, Principal
from engine.platform import study
from engine.platform.meetings import unit_meetings
from engine.platform.models import LeadingGroupDecision

GROUP_NAME = "三级联动工作领导小组"
POSITIONS = {
    "secretary": ("leader", "组长"),
    "deputy_secretary": ("deputy_leaders", "副组长"),
    "standing_member": ("members", "成员"),
}
MAX_DECISIONS = 20_000


def leading_group(session: Session) -> dict[str, Any]:
    group = org.group_root(session)
    rows = session.execute(
        select(User, RoleAssignment.role)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.node_id == group.id, RoleAssignment.role.in_(POSITIONS), User.active.is_(True))
        .order_by(User.username)
    ).all()
    out: dict[str, Any] = {
        "name": GROUP_NAME,
        "committee": group.name,
        "node_id": group.id,
        "leader": [],
        "deputy_leaders": [],
        "members": [],
    }
    placed: set[int] = set()
    for role in POSITIONS:  # a person with several roles sits in the highest position only
        key, title = POSITIONS[role]
        for user, r in rows:
            if r == role and user.id not in placed:
                placed.add(user.id)
                out[key].append({"username": user.username, "display_name": user.display_name, "position": title})
    return out


def position_of(session: Session, user_id: int) -> str | None:
    group_id = org.group_root(session).id
    held = set(
        session.scalars(
            select(RoleAssignment.role).where(RoleAssignment.user_id == user_id, RoleAssignment.node_id == group_id)
        )
    )
    return next((title for role, (_key, title) in POSITIONS.items() if role in held), None)


def is_member(session: Session, p: Principal) -> bool:
    group_id = org.group_root(session).id
    return any(r.node_id == group_id and r.role in POSITIONS for r in p.roles)


def record_decision(
    session: Session, p: Principal, data: dict[str, Any], now: datetime, zone: Any
) -> LeadingGroupDecision:
    policy.require_record_decisions(p, is_member(session, p))
    unknown = sorted(set(data) - {"meeting_date", "title", "decisions", "attendees"})
    if unknown:
        raise Invalid.on(unknown[0], "unknown field")
    meeting = study.parse_day(data.get("meeting_date"), "meeting_date")
    if meeting > now.astimezone(zone).date():
        raise Invalid.on("meeting_date", "a meeting that has taken place (not in the future)")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise Invalid.on("title", "required text of at most 200 characters")
    text = data.get("decisions")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_DECISIONS:
        raise Invalid.on("decisions", "required text of at most {limit} characters", limit=MAX_DECISIONS)
    attendees = data.get("attendees", [])
    if not isinstance(attendees, list) or any(not isinstance(a, str) for a in attendees):
        raise Invalid.on("attendees", "a list of usernames")
    known = set(session.scalars(select(User.username).where(User.username.in_(attendees))))
    missing = [a for a in attendees if a not in known]
    if missing:
        raise Invalid.on("attendees", "unknown users: {missing}", missing=", ".join(missing))
    row = LeadingGroupDecision(
        meeting_date=meeting,
        title=title.strip(),
        decisions=text.strip(),
        attendees=list(dict.fromkeys(attendees)),
        recorded_by_id=p.id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def decisions_query(start: date | None = None, end: date | None = None) -> Select[LeadingGroupDecision]:
    q = select(LeadingGroupDecision)
    if start is not None:
        q = q.where(LeadingGroupDecision.meeting_date >= start)
    if end is not None:
        q = q.where(LeadingGroupDecision.meeting_date <= end)
    return q.order_by(LeadingGroupDecision.meeting_date.desc(), LeadingGroupDecision.id.desc())


def decision_json(session: Session, d: LeadingGroupDecision) -> dict[str, Any]:
    names = dict(
        session.execute(select(User.username, User.display_name).where(User.username.in_(d.attendees or []))).all()
    )
    by = session.get(User, d.recorded_by_id)
    return {
        "id": d.id,
        "meeting_date": d.meeting_date.isoformat(),
        "title": d.title,
        "decisions": d.decisions,
        "attendees": [{"username": a, "display_name": names.get(a, a)} for a in d.attendees or []],
        "recorded_by": by.username if by else None,
        "created_at": d.created_at.isoformat(),
    }


# ---- profile ----------------------------------------------------------------------------------------------


def _person_records(session: Session, p: Principal, kind: str, username: str) -> list[Record]:
    q = records.query(p, kind).where(Record.key.endswith(":" + username))
    return [r for r in session.scalars(q) if (r.data or {}).get("username") == username]


def profile(
    session: Session, p: Principal, username: str, now: datetime, zone: Any, year: int | None = None
) -> dict[str, Any]:
    """Roles, leading-group position, secondments and training, study figures of one person
    (themselves, or someone in a unit the caller's committee oversees; 404 otherwise)."""
    user = study.person(session, p, username)
    who = org.load_principal(session, user)
    nodes = dict(session.execute(select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(who.node_ids()))).all())
    year = year or now.astimezone(zone).year
    secondments = sorted(
        _person_records(session, p, "secondment", username),
        key=lambda r: (r.data or {}).get("starts_on") or "",
        reverse=True,
    )
    articles = sorted(_person_records(session, p, study.ARTICLE_KIND, username), key=lambda r: r.key, reverse=True)
    return {
        "username": user.username,
        "display_name": user.display_name,
        "active": user.active,
        "email": user.email if (p.id == user.id or p.is_admin) else None,
        "roles": [
            {
                "role": r.role,
                "role_name": ROLE_NAMES.get(r.role, r.role),
                "node_id": r.node_id,
                "node_name": nodes.get(r.node_id or ""),
                "tier": r.tier,
            }
            for r in who.roles
        ],
        "leading_group": position_of(session, user.id),
        "secondments": [
            {
                "id": r.id,
                **{
                    k: (r.data or {}).get(k)
                    for k in (
                        "batch_kind",
                        "batch_title",
                        "starts_on",
                        "ends_on",
                        "place",
                        "status",
                        "reason",
                        "remark",
                        "confirmed",
                    )
                },
            }
            for r in secondments
        ],
        "articles": [
            {"id": r.id, **{k: (r.data or {}).get(k) for k in ("period", "status", "title", "on_time", "due")}}
            for r in articles
        ],
        "study": study.person_rates(session, user, now, zone, year),
        # 例会、学习培训、业务交流 attended, as far as the caller reads them
        "meetings": unit_meetings.attended(session, p, user.username),
    }
