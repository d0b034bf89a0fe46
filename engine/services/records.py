"""The registers (管理台账, 通报表彰, 问题线索) as the JSON API (`/api/v1/ledger`, `/commendations`,
`/clues`) and the register pages (`/registers/*`) list them: one filter, one query
(engine/linkage/records.py `listing`, with its visibility rule), one pager. The API lists
oldest first, the pages newest first; the rows are the same."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine.errors import Invalid, field_error
from engine.linkage import records
from engine.models import Record
from engine.org.nodes import Principal
from engine.services.paging import AnySelect, Page, PageRequest, fetch

KINDS = ("ledger", "commendation", "clue")


@dataclass(frozen=True)
class RecordFilter:
    kind: str
    unit_id: str | None = None
    year: int | None = None  # the record's data.year
    status: str | None = None  # a clue's state (问题线索 only)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise Invalid(
                "kind must be one of {allowed}",
                [field_error("kind", "must be one of {allowed}", "enum", allowed=", ".join(KINDS))],
                allowed=", ".join(KINDS),
            )
        if self.status is not None and (self.kind != "clue" or self.status not in records.CLUE_STATUSES):
            raise Invalid(
                "status must be one of {allowed}",
                [field_error("status", "must be one of {allowed}", "enum", allowed=", ".join(records.CLUE_STATUSES))],
                allowed=", ".join(records.CLUE_STATUSES),
            )


def list_query(p: Principal, f: RecordFilter, newest_first: bool = False) -> AnySelect:
    """The one query of a register: the records of the kind `p` may see, filtered."""
    q = records.listing(p, f.kind, unit_id=f.unit_id, year=f.year, status=f.status)
    return q.order_by(None).order_by(Record.id.desc()) if newest_first else q


def list_records(
    session: Session, p: Principal, f: RecordFilter, req: PageRequest, newest_first: bool = False
) -> Page[Record]:
    return fetch(session, list_query(p, f, newest_first), req).map(lambda r: r[0])
