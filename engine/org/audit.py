"""The audit log as the security auditor reads it, and the reads worth auditing.

`event_log` is the append-only record of who did what (migration 0005_audit refuses UPDATE and
DELETE): sign-ins and failed sign-ins, access refusals, every change to instances and tasks,
deployments, role grants and account changes (the security administrator's), and — written here —
reads of confidential content (`confidential_viewed`: a clue or confidential record, a task or an
instance holding confidential values) and downloads (`exported`).

The auditor reads events with their payloads redacted (engine/org/confidential.py `for_audit`):
who saw, changed or exported what, never the case content itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from engine.infra import events
from engine.infra.db import write_intent
from engine.models import EventLog, ProcessInstance
from engine.org.confidential import Redactor
from engine.org.nodes import Principal

READ = "confidential_viewed"
EXPORT = "exported"


@dataclass
class Read:
    """A read to be logged once the request has its answer (see api/audit.py)."""

    type: str
    payload: dict[str, Any]
    instance_id: int | None = None
    task_id: int | None = None


def log_reads(sessions: sessionmaker[Session], now: datetime, actor: Principal, reads: list[Read]) -> None:
    """Write the reads in a transaction of their own (the request's may be a read-only one)."""
    with write_intent(), sessions() as session:
        for r in reads:
            events.log(
                session, now, r.type, instance_id=r.instance_id, task_id=r.task_id, actor=actor, payload=r.payload
            )
        session.commit()


def query(
    types: list[str] | None = None,
    actor: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    instance_id: int | None = None,
) -> Select[EventLog]:
    """Events newest first, filtered by type(s), actor username, [start, end) and instance."""
    q = select(EventLog)
    if types:
        q = q.where(EventLog.type.in_(types))
    if actor:
        q = q.where(EventLog.actor == actor)
    if start is not None:
        q = q.where(EventLog.at >= start)
    if end is not None:
        q = q.where(EventLog.at < end)
    if instance_id is not None:
        q = q.where(EventLog.instance_id == instance_id)
    return q.order_by(EventLog.id.desc())


def rendered(session: Session, rows: list[EventLog], redactor: Redactor) -> list[dict[str, Any]]:
    """The events as the auditor sees them: payloads redacted (an incident's message searched for
    its instance's confidential values)."""
    wanted = {e.instance_id for e in rows if e.type == "incident" and e.instance_id}
    data: dict[int, Any] = (
        dict(
            session.execute(
                select(ProcessInstance.id, ProcessInstance.data).where(ProcessInstance.id.in_(wanted))
            ).all()
        )
        if wanted
        else {}
    )
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "type": e.type,
            "actor": e.actor,
            "actor_id": e.actor_id,
            "instance_id": e.instance_id,
            "task_id": e.task_id,
            "payload": redactor.payload(e.type, e.payload or {}, data.get(e.instance_id or 0)),
        }
        for e in rows
    ]
