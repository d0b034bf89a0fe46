"""Tables of the linkage platform (搭建平台): notifications and their outbox, study records
(四个一), the bulletin with read receipts, the leading group's decisions, issued reports.

Imported at the end of `engine/models.py`, so that Alembic and `Base.metadata` see them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.infra.db import Base, BigId, JSONType, UTCDateTime

# ---- notifications --------------------------------------------------------------------------------


class NotificationCursor(Base):
    """How far the notifier has read `event_log`: advanced in the same transaction that
    writes the notifications and outbox rows of the events it passed."""

    __tablename__ = "notification_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigId, default=0)
    # Ids below the cursor not seen yet ({id: first noticed}): on PostgreSQL a transaction may
    # commit an event after a later id was read; they are looked for again for a while.
    gaps: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notification(Base):
    """One in-app message to one user; `source_key` names what caused it (an event, a
    reminder), unique per user, so re-reading an event never notifies twice."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("user_id", "source_key"), Index(None, "user_id", "read_at", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # task_offered | task_due_soon | task_overdue | task_urged | escalation | test
    kind: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(300))
    task_id: Mapped[int | None] = mapped_column(Integer, index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    node_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskReminder(Base):
    """A deadline reminder already given for a task: once per (task, kind)."""

    __tablename__ = "task_reminder"

    task_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationChannel(Base):
    """An external channel of one org node (a unit — its branches inherit it — or the group):
    a WeCom / DingTalk group robot webhook or e-mail recipients, and the event kinds it gets."""

    __tablename__ = "notification_channel"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # wecom | dingtalk | email
    kind: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"), index=True)
    # The group's channel may take the events of every unit and branch too.
    cover_subtree: Mapped[bool] = mapped_column(Boolean, default=False)
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    url: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(String(200))
    recipients: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # e-mail: also write to the notified users' own addresses
    email_users: Mapped[bool] = mapped_column(Boolean, default=False)
    # markdown | text (webhooks)
    msg_format: Mapped[str] = mapped_column(String(16), default="markdown")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Outbox(Base):
    """One message for one channel (and, for e-mail, one address), sent by `dispatch` outside
    any request transaction; unique per (source, channel, recipient) so never queued twice."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("source_key", "channel_id", "recipient"),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_key: Mapped[str] = mapped_column(String(80))
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channel.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(32))
    # webhooks: the JSON body to POST; e-mail: {"subject", "body"}
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # pending | sending | sent | failed (gave up; an admin may retry)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # next try; while `sending`, the end of the claim (a crashed sender's row is retried after it)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---- study records (四个一) -----------------------------------------------------------------------


class StudyEntry(Base):
    """每日明一情 / 每日一新知 / 每日一感悟: one short text per kind per day per person."""

    __tablename__ = "study_entry"
    __table_args__ = (UniqueConstraint("user_id", "kind", "day"), Index(None, "day"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # situation (明一情) | knowledge (一新知) | insight (一感悟)
    kind: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# ---- exchange: the bulletin (通知公告 / 经验交流) -------------------------------------------------------


class BulletinPost(Base):
    __tablename__ = "bulletin_post"
    __table_args__ = (Index(None, "deleted_at", "pinned", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # notice 通知公告 | experience 经验交流 | study 学习资料 | work 工作信息
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # the org node the author posts for, and the subtree that may read it (the group: everyone)
    node_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"))
    audience_node_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BulletinRead(Base):
    """A read receipt: who read a post, and the unit (or group) they read it for."""

    __tablename__ = "bulletin_read"

    post_id: Mapped[int] = mapped_column(ForeignKey("bulletin_post.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[str | None] = mapped_column(String(64))
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)


# ---- the leading group (领导小组) and issued reports ---------------------------------------------------


class LeadingGroupDecision(Base):
    __tablename__ = "leading_group_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_date: Mapped[date] = mapped_column(Date, index=True)
    title: Mapped[str] = mapped_column(String(200))
    decisions: Mapped[str] = mapped_column(Text)
    attendees: Mapped[list[str]] = mapped_column(JSONType, default=list)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportIssue(Base):
    """The document number of a generated linkage report: fixed the first time it is issued."""

    __tablename__ = "report_issue"
    __table_args__ = (UniqueConstraint("node_id", "period"), UniqueConstraint("node_id", "year", "number"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"))
    # "2027-Q1" (quarterly) or "2027" (annual)
    period: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    doc_no: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[str | None] = mapped_column(String(64))
