"""In-app notifications, channels and the outbox as the JSON API (`/api/v1/notifications`,
`/notification-channels`, `/notification-outbox`) and the notification pages (`/notifications`)
list them: one filter and one query per list, one pager; who manages which channel is
`notify.managed_nodes` (engine/platform/notify/channels.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Invalid, field_error
from engine.infra import events
from engine.infra.settings import Settings
from engine.org.nodes import Principal
from engine.platform import notify
from engine.platform.models import Notification, NotificationChannel, Outbox
from engine.services.paging import AnySelect, Page, PageRequest, fetch

T = TypeVar("T")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")


@dataclass(frozen=True)
class NotificationFilter:
    unread: bool = False  # only the unread ones


def list_query(p: Principal, f: NotificationFilter) -> AnySelect:
    """The one query of `p`'s notifications: unread first, newest first."""
    q = select(Notification).where(Notification.user_id == p.id)
    if f.unread:
        q = q.where(Notification.read_at.is_(None))
    return q.order_by(Notification.read_at.is_not(None), Notification.id.desc())


def list_notifications(session: Session, p: Principal, f: NotificationFilter, req: PageRequest) -> Page[Notification]:
    return fetch(session, list_query(p, f), req).map(lambda r: r[0])


def read(session: Session, p: Principal, note_id: int, now: datetime) -> Notification:
    """Mark one of `p`'s notifications read and commit."""
    try:
        note = notify.mark_read(session, p.id, note_id, now)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return note


def read_all(session: Session, p: Principal, now: datetime, task_id: int | None = None) -> int:
    """Mark all of `p`'s notifications (of one task) read and commit; how many."""
    try:
        n = notify.mark_all_read(session, p.id, now, task_id)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return n


@dataclass(frozen=True)
class ChannelFilter:
    node_id: str | None = None


def channels_query(p: Principal, f: ChannelFilter) -> AnySelect:
    """The channels `p` manages (admins: all), by node."""
    nodes = notify.managed_nodes(p)
    q = select(NotificationChannel)
    if nodes is not None:
        q = q.where(NotificationChannel.node_id.in_(nodes or {""}))
    if f.node_id:
        q = q.where(NotificationChannel.node_id == f.node_id)
    return q.order_by(NotificationChannel.node_id, NotificationChannel.id)


@dataclass(frozen=True)
class OutboxFilter:
    status: str | None = None
    channel_id: int | None = None

    def __post_init__(self) -> None:
        if self.status and self.status not in OUTBOX_STATUSES:
            raise Invalid(
                "status must be pending, sending, sent or failed",
                [field_error("status", "one of {allowed}", allowed=", ".join(OUTBOX_STATUSES))],
            )


def outbox_query(p: Principal, f: OutboxFilter) -> AnySelect:
    """The outbox rows of the channels `p` manages, newest first, each with its channel's name."""
    nodes = notify.managed_nodes(p)
    q = select(Outbox, NotificationChannel.name).join(NotificationChannel, NotificationChannel.id == Outbox.channel_id)
    if nodes is not None:
        q = q.where(NotificationChannel.node_id.in_(nodes or {""}))
    if f.status:
        q = q.where(Outbox.status == f.status)
    if f.channel_id is not None:
        q = q.where(Outbox.channel_id == f.channel_id)
    return q.order_by(Outbox.id.desc())


# ---- channels and the outbox: each command logs and commits here ------------------------------------------


def _committed(session: Session, fn: Callable[[], T]) -> T:
    try:
        out = fn()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return out


def create_channel(session: Session, p: Principal, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A channel of a node `p` manages (notify.save_channel's rules); the channel as JSON."""

    def run() -> dict[str, Any]:
        ch = notify.save_channel(session, p, data, now)
        events.log(
            session,
            now,
            "notification_channel_created",
            actor=p,
            payload={"channel_id": ch.id, "kind": ch.kind, "node_id": ch.node_id, "events": ch.events},
        )
        return notify.channel_json(ch)

    return _committed(session, run)


def change_channel(
    session: Session, p: Principal, channel_id: int, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        ch = notify.get_channel(session, p, channel_id)
        notify.save_channel(session, p, data, now, ch)
        events.log(
            session, now, "notification_channel_changed", actor=p, payload={"channel_id": ch.id, "fields": sorted(data)}
        )
        return notify.channel_json(ch)

    return _committed(session, run)


def delete_channel(session: Session, p: Principal, channel_id: int, now: datetime) -> str:
    """Delete a channel `p` manages; its name."""

    def run() -> str:
        ch = notify.get_channel(session, p, channel_id)
        events.log(
            session, now, "notification_channel_deleted", actor=p, payload={"channel_id": ch.id, "name": ch.name}
        )
        name = ch.name
        session.delete(ch)
        return name

    return _committed(session, run)


def test_channel(
    session: Session, settings: Settings, p: Principal, channel_id: int, now: datetime
) -> tuple[str, list[dict[str, Any]]]:
    """Queue a test message to `p` on the channel; its name and the rows queued (as JSON)."""

    def run() -> tuple[str, list[dict[str, Any]]]:
        ch = notify.get_channel(session, p, channel_id)
        rows = notify.enqueue_test(session, settings, p, ch, now)
        return ch.name, [notify.outbox_json(r) for r in rows]

    return _committed(session, run)


def retry(session: Session, p: Principal, outbox_id: int, now: datetime) -> dict[str, Any]:
    """Send a failed outbox row again at the next dispatch; the row as JSON."""
    return _committed(session, lambda: notify.outbox_json(notify.retry_outbox(session, p, outbox_id, now)))
