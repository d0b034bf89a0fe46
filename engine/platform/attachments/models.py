"""Tables of attachments (issue 16): the files people upload, what they are bound to, and the
content-addressed blobs that hold their bytes in the database.

Imported at the end of `engine/models.py`, so that Alembic and `Base.metadata` see them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.infra.db import Base, BigId, UTCDateTime


class Blob(Base):
    """The bytes of one content (named by their SHA-256), stored once however often uploaded.
    Its rows in `blob_chunk` are written in the same transaction as this row."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    chunk_size: Mapped[int] = mapped_column(Integer)
    chunks: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BlobChunk(Base):
    """One piece (at most `Blob.chunk_size` bytes, 1 MiB) of a blob: read and written one row at a
    time, so that no upload or download holds the whole file in memory."""

    __tablename__ = "blob_chunk"

    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    """One uploaded file: its name as the uploader gave it (sanitised), its type as its content
    says, and its blob. Unbound (`bound_at` empty) it is readable by its uploader only and purged
    after a day; bound, by whoever may see what it is bound to (`AttachmentLink`)."""

    __tablename__ = "attachment"
    __table_args__ = (Index(None, "bound_at", "created_at"),)

    # random, not a sequence: an id says nothing about how many files exist
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"), index=True)
    content_type: Mapped[str] = mapped_column(String(100))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # bound through a confidential form field or to a confidential record: readers whose view is
    # redacted (the system administrator) never get it
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)


class AttachmentLink(Base):
    """What an attachment is bound to: a task, an instance or a record (`kind`, `target_id`)."""

    __tablename__ = "attachment_link"
    __table_args__ = (UniqueConstraint("attachment_id", "kind", "target_id"), Index(None, "kind", "target_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    attachment_id: Mapped[str] = mapped_column(ForeignKey("attachment.id", ondelete="CASCADE"))
    # task | instance | record | meeting | zone_activity
    kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
