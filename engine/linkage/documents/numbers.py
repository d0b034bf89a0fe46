"""Issuing a document number (发文字号) once: the first download of a record's document takes the
next number of its issuing committee for the year (×纪发〔2027〕3号); every later download shows the
same number. Two issues at the same moment: the unique constraints refuse the loser, which reads
the winner's row (same record) or takes the next number (another record)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import Conflict
from engine.infra.db import write_intent
from engine.linkage.documents.models import DocumentNumber
from engine.linkage.reports import default_code
from engine.models import OrgNode

ATTEMPTS = 5


def existing(session: Session, record_id: int) -> DocumentNumber | None:
    return session.scalars(select(DocumentNumber).where(DocumentNumber.record_id == record_id)).first()


def _try(session: Session, record_id: int, node: OrgNode, year: int, now: datetime, by: str) -> DocumentNumber:
    seq = (
        session.scalar(
            select(func.max(DocumentNumber.seq)).where(DocumentNumber.node_id == node.id, DocumentNumber.year == year)
        )
        or 0
    ) + 1
    row = DocumentNumber(
        record_id=record_id,
        node_id=node.id,
        year=year,
        seq=seq,
        doc_no=f"{default_code(node)}发〔{year}〕{seq}号",
        issued_at=now,
        issued_by=by,
    )
    session.add(row)
    session.commit()
    return row


def issue(sessions: sessionmaker[Session], record_id: int, node_id: str, now: datetime, by: str) -> str:
    """The record's document number, issued now when it has none (in transactions of its own)."""
    for _ in range(ATTEMPTS):
        with write_intent(), sessions() as session:
            found = existing(session, record_id)
            if found is not None:
                return found.doc_no
            node = session.get(OrgNode, node_id)
            assert node is not None  # the caller read it
            try:
                return _try(session, record_id, node, now.year, now, by).doc_no
            except IntegrityError:
                session.rollback()
    raise Conflict("the document number of record {record_id} could not be issued; try again", record_id=record_id)
