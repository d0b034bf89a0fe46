"""People and the leading group (三级联动领导小组) as the JSON API (`/api/v1/people`,
`/api/v1/leading-group`) and the pages (`/people/<username>`, `/leading-group`) read and write
them: one decision query, one pager; who reads and who records is engine/org/policy.py's rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.infra import events
from engine.org import policy
from engine.org.nodes import Principal
from engine.platform import people
from engine.services.paging import AnySelect, Page, PageRequest, fetch


@dataclass(frozen=True)
class DecisionFilter:
    """Meetings from / to a day (inclusive)."""

    start: date | None = None
    end: date | None = None


def list_query(f: DecisionFilter) -> AnySelect:
    """The one query of the decisions: newest meeting first."""
    return people.decisions_query(f.start, f.end)


def list_decisions(session: Session, p: Principal, f: DecisionFilter, req: PageRequest) -> Page[dict[str, Any]]:
    """The leading group's decisions (403 outside the organisation)."""
    policy.require_read_decisions(p)
    return fetch(session, list_query(f), req).map(lambda r: people.decision_json(session, r[0]))


def may_record(session: Session, p: Principal) -> bool:
    return policy.may_record_decisions(p, people.is_member(session, p))


def record(session: Session, p: Principal, data: dict[str, Any], now: datetime, zone: Any) -> dict[str, Any]:
    """Record a meeting's decisions (members of the leading group, admins), log it and commit."""
    try:
        row = people.record_decision(session, p, data, now, zone)
        events.log(
            session,
            now,
            "leading_group_decision",
            actor=p,
            payload={"decision_id": row.id, "meeting_date": row.meeting_date.isoformat(), "title": row.title},
        )
        out = people.decision_json(session, row)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return out


def leading_group(session: Session) -> dict[str, Any]:
    return people.leading_group(session)


def profile(
    session: Session, p: Principal, username: str, now: datetime, zone: Any, year: int | None = None
) -> dict[str, Any]:
    """A person's profile as `p` may see it (404 when not)."""
    return people.profile(session, p, username, now, zone, year)
