"""Business records written by processes (`save_record` in scripts) and who may read them.

A record is owned by an org node. The group committee and admins read all records; a unit
committee reads the records of its unit and its branches; a commissioner reads their own
branch's records. `confidential` records (明察暗访 findings, sensitive reports, clues) are
never shown to a branch other than the owning one, nor to other units — the rule above
already guarantees that, and list endpoints use this clause so ids cannot be guessed.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session

from .confidential import Redactor
from .errors import NotFound
from .models import OrgNode, Record
from .org import Principal


def visible_clause(p: Principal) -> ColumnElement[bool]:
    if p.is_admin or p.in_group_committee:
        return true()
    parts: list[ColumnElement[bool]] = []
    for path in p.supervised_paths():
        parts.append(Record.node_id.in_(select(OrgNode.id).where(OrgNode.path.startswith(path))))
    branches = [r.node_id for r in p.roles if r.role == "commissioner" and r.node_id]
    if branches:
        parts.append(Record.node_id.in_(branches))
    units = [r.node_id for r in p.roles if r.role == "department" and r.node_id]
    if units:  # department staff see their unit's non-confidential records
        parts.append(Record.node_id.in_(units) & Record.confidential.is_(False))
    return or_(*parts) if parts else false()


def query(p: Principal, kind: str, **filters: Any) -> Select[tuple[Record]]:
    """Records of `kind` visible to `p`; filters on columns (unit_id, node_id, instance_id)."""
    q = select(Record).where(Record.kind == kind, visible_clause(p))
    for name, value in filters.items():
        if value is not None:
            q = q.where(getattr(Record, name) == value)
    return q.order_by(Record.id)


def get(session: Session, p: Principal, record_id: int, kind: str | None = None) -> Record:
    q = select(Record).where(Record.id == record_id, visible_clause(p))
    if kind:
        q = q.where(Record.kind == kind)
    row = session.scalars(q).first()
    if row is None:
        raise NotFound(f"record {record_id} does not exist")
    return row


def shown(r: Record, redactor: Redactor | None) -> dict[str, Any]:
    """The record's data as the reader may see it (engine/confidential.py)."""
    data = r.data or {}
    return redactor.record(data, r.confidential) if redactor is not None else data


def as_dict(r: Record, redactor: Redactor | None = None) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "key": r.key, "node_id": r.node_id, "unit_id": r.unit_id,
            "instance_id": r.instance_id, "confidential": r.confidential, "data": shown(r, redactor),
            "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat()}


CLUE_STATUSES = ("待研判", "谈话函询", "初步核实", "暂存待查", "拟予了结", "拟立案审查", "已了结", "已立案审查")


def listing(p: Principal, kind: str, unit_id: str | None = None, year: int | None = None,
            status: str | None = None) -> Select[tuple[Record]]:
    """The register lists (ledger, commendations, clues) with their filters: `year` and `status`
    match the record's data (data.year, data.status). Shared by the JSON API and the pages."""
    q = query(p, kind, unit_id=unit_id)
    if year is not None:
        q = q.where(Record.data["year"].as_integer() == year)
    if status is not None:
        q = q.where(Record.data["status"].as_string() == status)
    return q
