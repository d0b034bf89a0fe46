"""Study records (四个一) as the JSON API (`/api/v1/study`) and the study pages (`/study`,
`/study/stats`) read and write them: one entry query, one save command (all or nothing, committed
here), the completion rates; whose records and rates one sees is engine/org/policy.py's rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import Invalid
from engine.models import User
from engine.org import policy
from engine.org.nodes import Principal
from engine.platform import study
from engine.platform.models import StudyEntry
from engine.services.paging import AnySelect, Page, PageRequest, fetch


@dataclass(frozen=True)
class EntryFilter:
    """Whose entries (None: the reader's own), from / to a day (inclusive), one kind."""

    username: str | None = None
    start: date | None = None
    end: date | None = None
    kind: str | None = None


def whose(session: Session, p: Principal, f: EntryFilter) -> User:
    """The person whose entries are listed: the reader, or one they oversee (404 otherwise)."""
    return study.person(session, p, f.username or p.username)


def list_query(user: User, f: EntryFilter) -> AnySelect:
    """The one query of a person's entries: newest day first."""
    return study.entries_query(user, f.start, f.end, f.kind)


def list_entries(session: Session, p: Principal, f: EntryFilter, req: PageRequest) -> Page[dict[str, Any]]:
    user = whose(session, p, f)
    return fetch(session, list_query(user, f), req).map(lambda r: study.entry_json(r[0], user.username))


def recent_entries(session: Session, p: Principal, f: EntryFilter) -> list[StudyEntry]:
    """Every entry of the filter (the study page shows the last 30 days at once)."""
    return list(session.scalars(list_query(whose(session, p, f), f)))


@dataclass(frozen=True)
class SaveEntries:
    """The reader's entries of one day: {kind: text}; `day` None: today."""

    texts: dict[str, str] = field(default_factory=dict)
    day: str | None = None


@dataclass
class Saved:
    """What `save` did: the entries written (entry, created), or the kind refused and why (nothing kept)."""

    entries: list[tuple[StudyEntry, bool]] = field(default_factory=list)
    refused_kind: str | None = None
    error: Invalid | None = None


def save(session: Session, p: Principal, cmd: SaveEntries, now: datetime, zone: Any) -> Saved:
    """Write every entry or none (the first refusal is reported with its kind) and commit."""
    out = Saved()
    try:
        for kind, text in cmd.texts.items():
            data: dict[str, Any] = {"kind": kind, "text": text}
            if cmd.day is not None:
                data["day"] = cmd.day
            try:
                out.entries.append(study.save_entry(session, p, data, now, zone))
            except Invalid as exc:
                session.rollback()
                return Saved(refused_kind=kind, error=exc)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return out


def save_entry(
    session: Session, p: Principal, data: dict[str, Any], now: datetime, zone: Any
) -> tuple[dict[str, Any], bool]:
    """One entry as the API sends it (kind, day, text; unknown fields refused); JSON and created."""
    try:
        entry, created = study.save_entry(session, p, data, now, zone)
        out = study.entry_json(entry, p.username)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return out, created


@dataclass(frozen=True)
class RatesFilter:
    year: int
    month: int | None = None
    unit_id: str | None = None


def rates(session: Session, p: Principal, f: RatesFilter, now: datetime, zone: Any) -> dict[str, Any]:
    """Completion rates of the units `p` oversees (403 for anyone else: policy.require_study_rates)."""
    return study.visible_rates(session, p, now, zone, f.year, f.month, f.unit_id)


def sees_rates(p: Principal) -> bool:
    return policy.study_units(p) != set()
