"""The blob store: where the bytes of attachments live, named by their SHA-256.

A small interface (`BlobStore`) so that another backend (a file system shared by the web hosts,
an object store) can replace the default later without touching the rest. The default,
`DatabaseBlobStore`, needs no extra server and works for several web hosts: the bytes are rows of
`blob_chunk` (1 MiB each) in Sanji's own database, SQLite or PostgreSQL, and therefore in every
`flask backup`. Writing and reading go one row at a time: a file is never held whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, Protocol

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.platform.attachments.models import Attachment, Blob, BlobChunk

CHUNK = 1024 * 1024


class BlobStore(Protocol):
    def has(self, session: Session, sha256: str) -> bool: ...

    def put(self, session: Session, sha256: str, size: int, source: IO[bytes], now: datetime) -> None:
        """Store `size` bytes read from `source` (already hashed) under `sha256`, inside the
        caller's transaction; nothing if the content is there already."""

    def read(self, sessions: sessionmaker[Session], sha256: str) -> Iterator[bytes]:
        """The bytes, piece by piece, each read in a short transaction of its own (a download may
        last minutes; it holds no connection in between)."""

    def collect(self, session: Session) -> int:
        """Delete the contents no attachment uses any more; returns how many."""


class DatabaseBlobStore:
    def __init__(self, chunk: int = CHUNK) -> None:
        self.chunk = chunk

    def has(self, session: Session, sha256: str) -> bool:
        return session.scalar(select(Blob.sha256).where(Blob.sha256 == sha256)) is not None

    def put(self, session: Session, sha256: str, size: int, source: IO[bytes], now: datetime) -> None:
        if self.has(session, sha256):
            return
        conn = session.connection()
        count = (size + self.chunk - 1) // self.chunk
        try:
            with session.begin_nested():  # two hosts storing the same content at once: one wins
                conn.execute(
                    insert(Blob),
                    {"sha256": sha256, "size": size, "chunk_size": self.chunk, "chunks": count, "created_at": now},
                )
                source.seek(0)
                for seq in range(count):
                    data = source.read(self.chunk)
                    conn.execute(insert(BlobChunk), {"sha256": sha256, "seq": seq, "data": data})
                    del data
        except IntegrityError:
            if not self.has(session, sha256):
                raise

    def read(self, sessions: sessionmaker[Session], sha256: str) -> Iterator[bytes]:
        seq = 0
        while True:
            with sessions() as s:
                data = s.scalar(select(BlobChunk.data).where(BlobChunk.sha256 == sha256, BlobChunk.seq == seq))
            if data is None:
                return
            yield bytes(data)
            del data
            seq += 1

    def collect(self, session: Session) -> int:
        unused = select(Blob.sha256).where(~exists().where(Attachment.sha256 == Blob.sha256))
        gone = list(session.scalars(unused))
        for sha in gone:
            session.execute(delete(BlobChunk).where(BlobChunk.sha256 == sha))
            session.execute(delete(Blob).where(Blob.sha256 == sha))
        return len(gone)


DEFAULT: BlobStore = DatabaseBlobStore()
