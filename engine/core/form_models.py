"""Deployed forms (issue 15): every version of every form, and the versions each definition pins.

A form is a JSON Schema named by its key (the file name a diagram's `formJsonSchemaFilename`
gives, e.g. `monthly_report.json`). Versions are immutable; a definition pins the version that was
newest when it was deployed, so that running instances keep the forms they started with.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.infra.db import Base, UTCDateTime


class FormVersion(Base):
    __tablename__ = "form"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # the text as deployed (kept for the editor); sha256 of the canonical JSON (sorted keys, no spaces)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class DefinitionForm(Base):
    """The form version a process definition (one deployed version) uses for a key."""

    __tablename__ = "definition_form"

    definition_id: Mapped[int] = mapped_column(
        ForeignKey("process_definition.id", ondelete="CASCADE"), primary_key=True
    )
    form_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    form_version: Mapped[int] = mapped_column(Integer)
