"""Org nodes read once per transaction.

Starting a unit's 20 branch instances read each branch and its unit four times over (the start
data's scope, the route of the first task, the search entry's name), one statement each; a
completion read its route's node as well as the task form's unit. Here a node is read once per
database transaction and kept on the connection for the rest of it: the same snapshot the
statements around it see, never carried into the next transaction. An ORM write of an org node
or a rollback to a savepoint forgets what was kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, event, select
from sqlalchemy.orm import Mapper

from engine.models import OrgNode

_KEY = "sanji.org_nodes"  # in the DBAPI connection's info: (the transaction, {node id: NodeRef | None})
_COLUMNS = (OrgNode.id, OrgNode.tier, OrgNode.name, OrgNode.parent_id, OrgNode.path, OrgNode.sort, OrgNode.active)
_SELECT = select(*_COLUMNS).where(OrgNode.id == bindparam("node_id"))
_SELECT_MANY = select(*_COLUMNS).where(OrgNode.id.in_(bindparam("node_ids", expanding=True)))


@dataclass(frozen=True, slots=True)
class NodeRef:
    """An org node's row, without an ORM object."""

    id: str
    tier: str
    name: str
    parent_id: str | None
    path: str
    sort: int
    active: bool


def node_row(conn: Connection, node_id: str) -> NodeRef | None:
    """The org node `node_id` as this transaction sees it (None if there is none)."""
    rows = _held(conn)
    if rows is None:
        return _read(conn, node_id)
    if node_id not in rows:
        rows[node_id] = _read(conn, node_id)
    return rows[node_id]


def prefetch(conn: Connection, node_ids: Iterable[Any]) -> None:
    """Read the nodes not yet read in this transaction with one statement (a batch of children
    names its branches up front)."""
    rows = _held(conn)
    if rows is None:
        return
    missing = sorted({i for i in node_ids if isinstance(i, str)} - rows.keys())
    if not missing:
        return
    found = {r.id: NodeRef(*r) for r in conn.execute(_SELECT_MANY, {"node_ids": missing})}
    for node_id in missing:
        rows[node_id] = found.get(node_id)


def _held(conn: Connection) -> dict[str, NodeRef | None] | None:
    txn = conn.get_transaction()
    if txn is None:
        return None
    held = conn.info.get(_KEY)
    if held is None or held[0] is not txn:
        held = (txn, {})
        conn.info[_KEY] = held
    rows: dict[str, NodeRef | None] = held[1]
    return rows


def forget(conn: Connection) -> None:
    conn.info.pop(_KEY, None)


def _read(conn: Connection, node_id: str) -> NodeRef | None:
    row = conn.execute(_SELECT, {"node_id": node_id}).first()
    return NodeRef(*row) if row is not None else None


@event.listens_for(OrgNode, "after_insert")
@event.listens_for(OrgNode, "after_update")
@event.listens_for(OrgNode, "after_delete")
def _written(_mapper: Mapper[Any], conn: Connection, _node: OrgNode) -> None:
    forget(conn)


@event.listens_for(Engine, "rollback_savepoint")
def _rolled_back(conn: Connection, _name: Any, _context: Any) -> None:
    forget(conn)
