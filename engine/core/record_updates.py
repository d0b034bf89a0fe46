"""`update_record` changes, queued at the script's call and stored under the row lock at commit.

The script helper `update_record` (engine/core/script_helpers.py) reads the record without a lock,
checks the change (path, object, numbers, the kind's schema) on the data this transaction sees,
returns the new data and queues the operation here, in `session.info`. Just before the
transaction commits (`before_commit`), every queued operation is applied again, record by record
(in (kind, key) order, so two transactions never wait on each other's rows crosswise), on the row
read `FOR UPDATE` (PostgreSQL; SQLite serialises writers): changes other transactions committed
meanwhile — another branch's part, a counter — are kept, and the row lock is held only for the
commit itself instead of from the script to the end of the request.

Reads: the script helpers `get_record`, `find_records` and a second `update_record` overlay the
queued operations on the row they read (`overlay`), so a script sees its own change. Any other
ORM statement on `Record` in the same transaction (a form's record, a service, `save_record`)
applies the queue first (`do_orm_execute`), so it sees — or replaces — the changed row.

A queued operation that no longer applies at commit (the record was deleted, the path is gone,
the merged record breaks the kind's schema) raises `RecordUpdateFailed`: the commit does not
happen and the caller rolls the whole transaction back. A rolled-back savepoint drops the
operations queued inside it; the end of the transaction drops whatever is left."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from engine.errors import RecordUpdateFailed, SanjiError, ScriptError
from engine.infra.db import is_sqlite, within_transaction
from engine.linkage import kinds as record_kinds
from engine.models import Record

_QUEUE = "sanji_record_updates"
#: execution option of the helpers' own reads, which overlay the queue instead of applying it
OVERLAID = "sanji_record_updates_overlaid"


@dataclass(frozen=True)
class RecordOp:
    tx: SessionTransaction | None
    kind: str
    key: str
    changes: dict[str, Any]
    increments: dict[str, Any]
    path: tuple[Any, ...]
    at: datetime


def apply_op(data: dict[str, Any], op: RecordOp) -> None:
    """Apply one operation to `data` in place; ScriptError when it does not fit."""
    kind, key, path = op.kind, op.key, list(op.path)
    target: Any = data
    for step in path:
        try:
            target = target[step]
        except (KeyError, IndexError, TypeError):
            raise ScriptError(
                "update_record: {kind} record {key!r} has no {path!r}", kind=kind, key=key, path=path
            ) from None
    if not isinstance(target, dict):
        raise ScriptError(
            "update_record: {path!r} of {kind} record {key!r} is not an object", path=path, kind=kind, key=key
        )
    if op.changes:
        target.update(deepcopy(op.changes))
    for name, amount in op.increments.items():
        current = target.get(name) or 0
        if not isinstance(current, (int, float)) or not isinstance(amount, (int, float)):
            raise ScriptError(
                "update_record: {name!r} of {kind} record {key!r} is not a number", name=name, kind=kind, key=key
            )
        target[name] = current + amount


def _queue(session: Session) -> list[RecordOp]:
    return session.info.get(_QUEUE) or []


def queued(session: Session, kind: str, key: str) -> list[RecordOp]:
    return [op for op in _queue(session) if op.kind == kind and op.key == key]


def overlay(session: Session, row: Record) -> dict[str, Any]:
    """A copy of the row's data with this transaction's queued operations on it applied."""
    data = deepcopy(row.data or {})
    for op in queued(session, row.kind, row.key):
        apply_op(data, op)
    return data


def queue(session: Session, op: RecordOp) -> None:
    session.info.setdefault(_QUEUE, []).append(op)


def current_tx(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def apply_queued(session: Session) -> None:
    """Store the queued operations: each record read under its row lock, the operations applied
    in their order on the fresh data, the merged record checked against its kind, written."""
    ops: list[RecordOp] = session.info.pop(_QUEUE, None) or []
    if not ops:
        return
    by_record: dict[tuple[str, str], list[RecordOp]] = {}
    for op in ops:
        by_record.setdefault((op.kind, op.key), []).append(op)
    lock = not is_sqlite(session)  # SQLite: writers are serialised already
    try:
        merged: list[tuple[Record, dict[str, Any], datetime]] = []
        for (kind, key), record_ops in sorted(by_record.items()):
            q = (
                select(Record)
                .where(Record.kind == kind, Record.key == key)
                .execution_options(populate_existing=True, **{OVERLAID: True})
            )
            row = session.scalars(q.with_for_update() if lock else q).first()
            if row is None:
                raise RecordUpdateFailed(
                    "update_record: the {kind} record {key!r} was deleted before the change was stored",
                    kind=kind,
                    key=key,
                )
            data = deepcopy(row.data or {})
            try:
                for op in record_ops:
                    apply_op(data, op)
                record_kinds.check(kind, data)
            except SanjiError as err:
                raise RecordUpdateFailed(
                    "update_record: the change of {kind} record {key!r} could not be stored: {problem}",
                    kind=kind,
                    key=key,
                    problem=err.message,
                ) from err
            merged.append((row, data, record_ops[-1].at))
    except BaseException:
        session.info[_QUEUE] = ops  # nothing assigned: a retried commit fails again until the rollback
        raise
    for row, data, at in merged:  # all or none
        row.data, row.updated_at = data, at


@event.listens_for(Session, "before_commit")
def _apply_before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint is released (the engine loop's): wait for the real commit
        return
    apply_queued(session)


@event.listens_for(Session, "do_orm_execute")
def _apply_before_other_statements(state: ORMExecuteState) -> None:
    if not state.session.info.get(_QUEUE) or state.execution_options.get(OVERLAID):
        return
    if any(m.class_ is Record for m in state.all_mappers):
        apply_queued(state.session)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    ops = session.info.get(_QUEUE)
    if ops:
        session.info[_QUEUE] = [op for op in ops if not within_transaction(op.tx, previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _drop_unfinished(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction ended: nothing queued outlives it
        session.info.pop(_QUEUE, None)
