"""Business records written by processes (`save_record` in scripts) and who may read them.

A record is owned by an org node. The group committee and admins read all records; a unit
committee reads the records of its unit and its branches; a commissioner reads their own
branch's records. `confidential` records (明察暗访 findings, sensitive reports, clues) are
never shown to a branch other than the owning one, nor to other units — the rule above
already guarantees that, and list endpoints use this clause so ids cannot be guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.linkage.kinds import linkage as linkage_kinds
from engine.linkage.kinds.typed import AdhocReport, Clue, FormFindings, MonthlyReport, QuarterlyUnitStatus, Stored
from engine.models import OrgNode, ProcessInstance, Record
from engine.org.confidential import Redactor
from engine.org.nodes import Principal


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


def query(p: Principal, kind: str, **filters: Any) -> Select[Record]:
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
        raise NotFound("record {record_id} does not exist", record_id=record_id)
    return row


def shown(r: Record, redactor: Redactor | None) -> dict[str, Any]:
    """The record's data as the reader may see it (engine/org/confidential.py)."""
    data = r.data or {}
    return redactor.record(data, r.confidential) if redactor is not None else data


def as_dict(r: Record, redactor: Redactor | None = None) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "key": r.key,
        "node_id": r.node_id,
        "unit_id": r.unit_id,
        "instance_id": r.instance_id,
        "confidential": r.confidential,
        "data": shown(r, redactor),
        "created_at": r.created_at.isoformat(),
        "updated_at": r.updated_at.isoformat(),
    }


CLUE_STATUSES = linkage_kinds.CLUE_STATUSES  # declared with the clue schema


def listing(
    p: Principal, kind: str, unit_id: str | None = None, year: int | None = None, status: str | None = None
) -> Select[Record]:
    """The register lists (ledger, commendations, clues) with their filters: `year` and `status`
    match the record's data (data.year, data.status). Shared by the JSON API and the pages."""
    q = query(p, kind, unit_id=unit_id)
    if year is not None:
        q = q.where(Record.data["year"].as_integer() == year)
    if status is not None:
        q = q.where(Record.data["status"].as_string() == status)
    return q


# ---- record kinds: which processes' scripts may touch them ------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A record kind the built-in procedures write. Only the scripts of `processes` read or write
    it (engine/org/policy.py `ScriptScope`), so that a newly deployed process cannot read a unit's
    clues or forge its ledger; a kind no one declared is free for any process (within its scope)."""

    processes: frozenset[str]
    # every record of the kind names people or hidden findings: stored confidential, whatever
    # the script says, and read only by instances whose people may all see it
    confidential: bool = False
    # processes whose branch-scoped instances also reach the record owned by the branch's own
    # unit (nothing else above the branch): the procedure writes upward by design
    unit_reach: frozenset[str] = frozenset()


def _kind(*processes: str, confidential: bool = False, unit_reach: tuple[str, ...] = ()) -> Kind:
    return Kind(frozenset(processes), confidential, frozenset(unit_reach))


KINDS: dict[str, Kind] = {
    # a clue reported by a branch (monthly_report_finding, adhoc_report) starts clue_disposal by
    # message with the branch's branch_id: that instance registers the clue on its unit's register
    "clue": _kind("clue_disposal", confidential=True, unit_reach=("clue_disposal",)),
    # sensitive reports are stored confidential (per record); the unit's quarterly report counts them
    "adhoc_report": _kind("adhoc_report", "adhoc_report_unit", "quarterly_report_unit"),
    "monthly_report": _kind("monthly_report_branch", "monthly_report_finding", "quarterly_report_unit"),
    "quarterly_report": _kind("quarterly_report", "quarterly_report_unit", "quarterly_report_feedback"),
    "quarterly_analysis": _kind("quarterly_report"),
    # a branch confirms its part of the unit's status record (path ["branches", branch_id])
    "quarterly_unit_status": _kind(
        "quarterly_tasks", "quarterly_tasks_unit", "quarterly_tasks_branch", unit_reach=("quarterly_tasks_branch",)
    ),
    "assessment": _kind("annual_assessment_unit"),
    "member_assessment": _kind("annual_assessment_unit"),
    "assessment_round": _kind("annual_assessment"),
    # the year-end assessment, and the group whenever it finds perfunctory linkage work (linkage_ledger)
    "ledger": _kind("annual_assessment_unit", "linkage_ledger"),
    "commendation": _kind("annual_assessment"),
    "forwarding": _kind("document_forwarding"),
    "forwarding_receipt": _kind("document_forwarding", "document_forwarding_receipt"),
    "study_article": _kind("monthly_article_write"),
    "study_stats": _kind("monthly_article"),
    "secondment": _kind("secondment"),
    "secondment_batch": _kind("secondment"),
    "special_inspection": _kind("special_inspection"),
    "inspection_selfcheck": _kind("special_inspection", "special_inspection_unit"),
    "inspection_visit": _kind("special_inspection", "special_inspection_visit", confidential=True),
    "inspection_finding": _kind(
        "special_inspection", "special_inspection_followup", "special_inspection_clue", confidential=True
    ),
    # written by the engine when a task whose form marks a field `"x-record": "findings"` is
    # completed (engine/linkage/form_records.py); no script may write (or forge) them
    "form_findings": _kind(confidential=True),
}


# ---- typed reading: the dashboards and reports read records through these, not raw dicts ----------

T = TypeVar("T")


def procedure_instances(process_key: str) -> Select[Any]:
    """The instances of a procedure: those of process `process_key` and every instance whose root
    is one (a child of a fan-out belongs to the procedure that fanned out)."""
    roots = select(ProcessInstance.id).where(ProcessInstance.process_key == process_key)
    return select(ProcessInstance.id).where(
        or_(ProcessInstance.process_key == process_key, ProcessInstance.root_id.in_(roots))
    )


def _typed(
    session: Session,
    p: Principal,
    kind: str,
    make: Callable[[dict[str, Any]], T],
    unit_ids: Sequence[str] | None,
    year: int | None = None,
    process_key: str | None = None,
) -> list[Stored[T]]:
    """Records of `kind` visible to `p` (in `unit_ids`, of data.year `year`, written by an instance of
    procedure `process_key`), oldest first."""
    q = select(Record.id, Record.key, Record.node_id, Record.unit_id, Record.data).where(
        Record.kind == kind, visible_clause(p)
    )
    if process_key is not None:
        q = q.where(Record.instance_id.in_(procedure_instances(process_key)))
    if unit_ids is not None:
        q = q.where(Record.unit_id.in_(unit_ids))
    if year is not None:
        q = q.where(Record.data["year"].as_integer() == year)
    return [
        Stored(id_, key, node_id, unit_id, make(data or {}))
        for id_, key, node_id, unit_id, data in session.execute(q.order_by(Record.id))
    ]


def quarterly_statuses(
    session: Session,
    p: Principal,
    unit_ids: Sequence[str] | None = None,
    year: int | None = None,
    process_key: str | None = None,
) -> list[Stored[QuarterlyUnitStatus]]:
    return _typed(session, p, "quarterly_unit_status", QuarterlyUnitStatus.of, unit_ids, year, process_key)


def monthly_reports(
    session: Session,
    p: Principal,
    unit_ids: Sequence[str] | None = None,
    year: int | None = None,
    process_key: str | None = None,
) -> list[Stored[MonthlyReport]]:
    return _typed(session, p, "monthly_report", MonthlyReport.of, unit_ids, year, process_key)


def form_findings(
    session: Session,
    p: Principal,
    unit_ids: Sequence[str] | None = None,
    year: int | None = None,
    process_key: str | None = None,
) -> list[Stored[FormFindings]]:
    return _typed(session, p, "form_findings", FormFindings.of, unit_ids, year, process_key)


def adhoc_reports(
    session: Session, p: Principal, unit_ids: Sequence[str] | None = None, process_key: str | None = None
) -> list[Stored[AdhocReport]]:
    return _typed(session, p, "adhoc_report", AdhocReport.of, unit_ids, None, process_key)


def clues(
    session: Session, p: Principal, unit_ids: Sequence[str] | None = None, process_key: str | None = None
) -> list[Stored[Clue]]:
    return _typed(session, p, "clue", Clue.of, unit_ids, None, process_key)
