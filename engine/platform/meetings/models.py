"""Tables of unit meetings and training (例会、学习培训、业务交流) and of 分区联创: zones of units
with a lead unit, and the activities recorded per zone.

Imported at the end of `engine/models.py`, so that Alembic and `Base.metadata` see them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.infra.db import Base, UTCDateTime


class UnitMeeting(Base):
    """A meeting or training a unit committee held for its people (committee members and its
    branches' commissioners): 例会 (`regular`), 学习培训 (`training`), 业务交流 (`exchange`)."""

    __tablename__ = "unit_meeting"
    __table_args__ = (Index(None, "unit_id", "held_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"))
    kind: Mapped[str] = mapped_column(String(16))
    held_on: Mapped[date] = mapped_column(Date)
    topic: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UnitMeetingAttendee(Base):
    """One attendee of a meeting, by username (a branch commissioner reads the meetings they attended)."""

    __tablename__ = "unit_meeting_attendee"
    __table_args__ = (Index(None, "username"),)

    meeting_id: Mapped[int] = mapped_column(ForeignKey("unit_meeting.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Zone(Base):
    """A 分区联创 zone: a named set of units working together, one of them the lead unit."""

    __tablename__ = "linkage_zone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    lead_unit_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ZoneUnit(Base):
    """A unit of a zone (the lead unit is one of them)."""

    __tablename__ = "linkage_zone_unit"
    __table_args__ = (Index(None, "unit_id"),)

    zone_id: Mapped[int] = mapped_column(ForeignKey("linkage_zone.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"), primary_key=True)


class ZoneActivity(Base):
    """An activity of a zone (联创活动): date, topic, participating units, summary; optionally the
    secondment batch (`secondment_batch` record key of processes/secondment.bpmn) whose people took part."""

    __tablename__ = "linkage_zone_activity"
    __table_args__ = (Index(None, "zone_id", "held_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("linkage_zone.id", ondelete="CASCADE"))
    held_on: Mapped[date] = mapped_column(Date)
    topic: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    batch_key: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ZoneActivityUnit(Base):
    """A unit that took part in a zone activity."""

    __tablename__ = "linkage_zone_activity_unit"

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("linkage_zone_activity.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"), primary_key=True)
