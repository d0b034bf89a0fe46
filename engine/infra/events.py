"""Append-only event log: one row per thing that happened, with actor and UTC time.

Each row is also written to the `sanji.events` logger as one JSON line — when the
transaction that inserted it commits, so a rolled-back change (a 409, a savepoint undone
by an incident) never shows up in the logs. Log lines leave out form data and start
variables (see engine/infra/logs.py); the database row keeps everything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import Session, SessionTransaction

from engine.infra.db import within_transaction
from engine.infra.logs import redact
from engine.models import EventLog
from engine.org.nodes import Principal

SYSTEM = "system"
_log = logging.getLogger("sanji.events")
_PENDING = "sanji_pending_events"
_BUFFER = "sanji_event_buffer"
_TABLE = cast(Table, EventLog.__table__)
_INSERT = insert(_TABLE).returning(_TABLE.c.id)
# Without sort_by_parameter_order: on SQLite SQLAlchemy would send that one row at a time. The ids
# of one multi-row INSERT are handed out in row order (SQLite: max(rowid) + 1 per row under the
# write lock; PostgreSQL: nextval per row, as the rows are produced), so sorted they pair with
# the rows. Only the log lines' event_id depends on the pairing; the rows are what was logged.
_INSERT_MANY = insert(_TABLE).returning(_TABLE.c.id)


def log(
    session: Session,
    now: datetime,
    type_: str,
    *,
    instance_id: int | None = None,
    task_id: int | None = None,
    actor: Principal | str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Insert one event: a Core insert on the session's connection (no ORM statement path, one
    cached compiled statement), after flushing pending changes as an ORM execute would — so what
    was changed before the event is written before it. Inside `buffered(session)` the row is
    collected instead and written, in order, when the block ends."""
    if isinstance(actor, Principal) and not actor.is_system:
        actor_id, actor_name = actor.id, actor.username
    elif isinstance(actor, Principal):  # the system actor (engine/org/policy.py SYSTEM)
        actor_id, actor_name = None, actor.username
    else:
        actor_id, actor_name = None, (actor or SYSTEM)[:64]  # e.g. a failed login's unknown username
    row = {
        "at": now,
        "type": type_,
        "instance_id": instance_id,
        "task_id": task_id,
        "actor_id": actor_id,
        "actor": actor_name,
        "payload": payload or {},
    }
    buffer = session.info.get(_BUFFER)
    if buffer is not None:
        buffer.append(row)
        return
    if session.autoflush:
        session.flush()
    _written(session, [row], [session.connection().execute(_INSERT, row).scalar_one()])


@contextmanager
def buffered(session: Session) -> Iterator[None]:
    """Collect the events logged inside the block and insert them with one statement when it
    ends (the runtime's completions and starts: one round trip instead of one per event).
    Nested blocks join the outermost; an exception discards what was collected, as the
    transaction that would have held it is rolled back by the caller."""
    if _BUFFER in session.info:
        yield
        return
    rows: list[dict[str, Any]] = []
    session.info[_BUFFER] = rows
    try:
        yield
    finally:
        session.info.pop(_BUFFER, None)
    if rows:
        ids = session.connection().execute(_INSERT_MANY, rows).scalars().all()
        _written(session, rows, sorted(ids))


def mark(session: Session) -> int:
    """Where the buffer stands: a savepoint records it and `discard_after` it on rollback."""
    buffer = session.info.get(_BUFFER)
    return len(buffer) if buffer is not None else -1


def discard_after(session: Session, position: int) -> None:
    buffer = session.info.get(_BUFFER)
    if buffer is not None and position >= 0:
        del buffer[position:]


def _written(session: Session, rows: list[dict[str, Any]], ids: list[int]) -> None:
    if not _log.isEnabledFor(logging.INFO):
        return
    tx = session.get_nested_transaction() or session.get_transaction()
    pending = session.info.setdefault(_PENDING, [])
    for row, event_id in zip(rows, ids):
        pending.append(
            (
                tx,
                {
                    "event_id": event_id,
                    "event": row["type"],
                    "at": row["at"].isoformat(),
                    "instance_id": row["instance_id"],
                    "task_id": row["task_id"],
                    "actor": row["actor"],
                    "payload": redact(row["payload"]),
                },
            )
        )


@event.listens_for(Session, "after_commit")
def _emit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint was released: wait for the real commit
        return
    for _tx, record in session.info.pop(_PENDING, None) or ():
        _log.info("event %s", record["event"], extra=record)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [(tx, r) for tx, r in pending if not within_transaction(tx, previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _drop_unfinished(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outer transaction ended without after_commit: nothing was kept
        session.info.pop(_PENDING, None)
