"""The 发文字号 of the official documents: one row per record, given the first time its document
is issued and never changed; numbers count per issuing committee and year."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.infra.db import Base, UTCDateTime


class DocumentNumber(Base):
    __tablename__ = "document_number"
    # unique (node, year, seq): two issues racing for the same number cannot both commit (numbers.py retries)
    __table_args__ = (UniqueConstraint("node_id", "year", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("record.id", ondelete="CASCADE"), unique=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    doc_no: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[str] = mapped_column(String(64))
