"""Append-only event log: one row per thing that happened, with actor and UTC time."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from .models import EventLog
from .org import Principal

SYSTEM = "system"


def log(session: Session, now: datetime, type_: str, *, instance_id: int | None = None,
        task_id: int | None = None, actor: Principal | str | None = None,
        payload: dict[str, Any] | None = None) -> None:
    """Insert one event (Core insert: no ORM bookkeeping on a hot path)."""
    if isinstance(actor, Principal):
        actor_id, actor_name = actor.id, actor.username
    else:
        actor_id, actor_name = None, actor or SYSTEM
    session.execute(insert(EventLog).values(
        at=now, type=type_, instance_id=instance_id, task_id=task_id,
        actor_id=actor_id, actor=actor_name, payload=payload or {}))
