"""Official documents of the procedures' records (issue 16): 月度书面报告, 季度书面报告, the group's
综合研判意见, 通报表彰, 转发通知 with its receipts and 问题线索处置审批表, as DOCX and PDF.

A document is readable exactly by those who may read its record (engine/linkage/records.py), and
a confidential record's document not at all by a reader whose view is redacted (the system
administrator, 三员分立): 404 for them as for an unknown id. The 发文字号 is issued at the first
download (numbers.py) and fixed afterwards. No Flask here: the API logs each download.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import NotFound
from engine.linkage import records
from engine.linkage.documents import numbers
from engine.linkage.documents.content import BUILDERS, KINDS, Document, build, issuing_node
from engine.models import Record
from engine.org.confidential import Redactor
from engine.org.nodes import Principal

__all__ = ["KINDS", "Document", "Issued", "has_document", "issue", "of_instance"]


@dataclass(frozen=True)
class Issued:
    record: Record
    document: Document


def has_document(kind: str) -> bool:
    return kind in BUILDERS


def readable(session: Session, p: Principal, redactor: Redactor, record_id: int) -> Record:
    """The record if `p` may read its document, else NotFound (the same answer as an unknown id)."""
    r = records.get(session, p, record_id)
    if r.confidential and redactor.active:
        raise NotFound("record {record_id} does not exist", record_id=record_id)
    if not has_document(r.kind):
        raise NotFound("record {record_id} has no official document", record_id=record_id)
    return r


def of_instance(session: Session, p: Principal, redactor: Redactor, instance_id: int) -> list[Record]:
    """The records of an instance that have a document `p` may read (the pages' download buttons)."""
    q = (
        select(Record)
        .where(Record.instance_id == instance_id, Record.kind.in_(list(BUILDERS)), records.visible_clause(p))
        .order_by(Record.id)
    )
    if redactor.active:
        q = q.where(Record.confidential.is_(False))
    return list(session.scalars(q))


def issue(
    session: Session, sessions: sessionmaker[Session], p: Principal, redactor: Redactor, record_id: int, now: datetime
) -> Issued:
    """The record's document with its 发文字号 (issued now on the first request)."""
    r = readable(session, p, redactor, record_id)
    node = issuing_node(session, r)
    doc = build(session, r, node, records.shown(r, redactor))
    doc.doc_no = numbers.issue(sessions, r.id, node.id, now, p.username)
    return Issued(r, doc)
