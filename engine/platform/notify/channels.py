"""In-app notifications (read / unread) and channel administration (create, change, test, retry)."""

from __future__ import annotations

import urllib.parse
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.errors import Conflict, Forbidden, Invalid, NotFound
from engine.infra.db import rowcount
from engine.infra.settings import Settings
from engine.models import OrgNode, User
from engine.org.nodes import Principal
from engine.platform.models import Notification, NotificationChannel, Outbox
from engine.platform.notify.messages import (
    CHANNEL_KINDS,
    CHANNEL_MANAGERS,
    EMAIL_RE,
    FORMATS,
    KIND_NAMES,
    KINDS,
    Message,
    email_payload,
    webhook_body,
)

# ---- in-app notifications -------------------------------------------------------------------------------


def unread_count(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, user_id: int, notification_id: int, now: datetime) -> Notification:
    note = session.scalars(
        select(Notification).where(Notification.id == notification_id, Notification.user_id == user_id)
    ).first()
    if note is None:
        raise NotFound("notification {id} does not exist", id=notification_id)
    if note.read_at is None:
        note.read_at = now
    return note


def mark_all_read(session: Session, user_id: int, now: datetime, task_id: int | None = None) -> int:
    q = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if task_id is not None:
        q = q.where(Notification.task_id == task_id)
    return rowcount(session.execute(q.values(read_at=now).execution_options(synchronize_session=False))) or 0


# ---- channel administration -----------------------------------------------------------------------------


def managed_nodes(p: Principal) -> set[str] | None:
    """Org nodes whose channels `p` manages (None: all, for admins)."""
    if p.is_admin:
        return None
    return {r.node_id for r in p.roles if r.role in CHANNEL_MANAGERS and r.node_id and r.tier in ("group", "unit")}


def get_channel(session: Session, p: Principal, channel_id: int) -> NotificationChannel:
    ch = session.get(NotificationChannel, channel_id)
    nodes = managed_nodes(p)
    if ch is None or (nodes is not None and ch.node_id not in nodes):
        raise NotFound("notification channel {id} does not exist", id=channel_id)
    return ch


def save_channel(
    session: Session, p: Principal, data: dict[str, Any], now: datetime, ch: NotificationChannel | None = None
) -> NotificationChannel:
    """Create (`ch` None) or change a channel from API data; every field is checked first."""
    creating = ch is None
    known = {
        "name",
        "kind",
        "node_id",
        "cover_subtree",
        "events",
        "url",
        "secret",
        "recipients",
        "email_users",
        "msg_format",
        "active",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise Invalid.on(unknown[0], "unknown field")
    current: dict[str, Any] = (
        {}
        if ch is None
        else {
            "name": ch.name,
            "kind": ch.kind,
            "node_id": ch.node_id,
            "cover_subtree": ch.cover_subtree,
            "events": list(ch.events or []),
            "url": ch.url,
            "secret": ch.secret,
            "recipients": list(ch.recipients or []),
            "email_users": ch.email_users,
            "msg_format": ch.msg_format,
            "active": ch.active,
        }
    )
    v = {
        **{
            "cover_subtree": False,
            "events": list(KINDS[:4]),
            "url": None,
            "secret": None,
            "recipients": [],
            "email_users": False,
            "msg_format": "markdown",
            "active": True,
        },
        **current,
        **data,
    }
    if not creating and "kind" in data and data["kind"] != current["kind"]:
        raise Invalid.on("kind", "the kind of a channel cannot change; create a new channel")
    if not isinstance(v.get("name"), str) or not v["name"].strip() or len(v["name"]) > 100:
        raise Invalid.on("name", "required text of at most 100 characters")
    if v.get("kind") not in CHANNEL_KINDS:
        raise Invalid.on("kind", "one of {kinds}", kinds=", ".join(CHANNEL_KINDS))
    node = session.get(OrgNode, v.get("node_id")) if isinstance(v.get("node_id"), str) else None
    if node is None or not node.active:
        raise Invalid.on("node_id", "not an org node")
    if node.tier == "branch":
        raise Invalid.on("node_id", "a branch uses the channels of its unit; configure the unit")
    nodes = managed_nodes(p)
    if nodes is not None and node.id not in nodes:
        raise Forbidden("only an admin or the committee's secretary / deputy secretary manages its channels")
    events = v.get("events")
    if not isinstance(events, list) or not events or any(e not in KINDS for e in events):
        raise Invalid.on("events", "a non-empty list of {kinds}", kinds=", ".join(KINDS))
    for flag in ("cover_subtree", "email_users", "active"):
        if not isinstance(v.get(flag), bool):
            raise Invalid.on(flag, "true or false")
    if v.get("msg_format") not in FORMATS:
        raise Invalid.on("msg_format", "markdown or text")
    if v["kind"] in ("wecom", "dingtalk"):
        url = v.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000 or " " in url:
            raise Invalid.on("url", "the robot's webhook address (http:// or https://)")
        if v.get("secret") is not None:
            if v["kind"] != "dingtalk":
                raise Invalid.on("secret", "only DingTalk robots are signed with a secret")
            if not isinstance(v["secret"], str) or len(v["secret"]) > 200:
                raise Invalid.on("secret", "text of at most 200 characters")
            v["secret"] = v["secret"].strip() or None
        if v.get("recipients"):
            raise Invalid.on("recipients", "webhook channels have no e-mail recipients")
    else:
        recipients = v.get("recipients")
        if not isinstance(recipients, list) or any(
            not isinstance(a, str) or not EMAIL_RE.match(a.strip()) for a in recipients
        ):
            raise Invalid.on("recipients", "a list of e-mail addresses")
        if not recipients and not v.get("email_users"):
            raise Invalid.on("recipients", "give at least one address, or set email_users")
        if v.get("url") or v.get("secret"):
            raise Invalid.on("url", "e-mail channels have no webhook")
        v["recipients"] = [a.strip() for a in recipients]
    if ch is None:
        ch = NotificationChannel(created_at=now, created_by=p.username)
        session.add(ch)
    ch.name, ch.kind, ch.node_id = v["name"].strip(), v["kind"], node.id
    ch.cover_subtree, ch.events, ch.url, ch.secret = (
        v["cover_subtree"],
        list(dict.fromkeys(events)),
        v.get("url"),
        v.get("secret"),
    )
    ch.recipients, ch.email_users, ch.msg_format, ch.active = (
        v["recipients"],
        v["email_users"],
        v["msg_format"],
        v["active"],
    )
    ch.updated_at = now
    session.flush()
    return ch


def url_hint(url: str | None) -> str | None:
    """A webhook address without its key: the robot's key is a credential."""
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    tail = url[-4:] if len(url) > 12 else ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}{'?…' + tail if parts.query else ''}"


def channel_json(ch: NotificationChannel) -> dict[str, Any]:
    return {
        "id": ch.id,
        "name": ch.name,
        "kind": ch.kind,
        "node_id": ch.node_id,
        "cover_subtree": ch.cover_subtree,
        "events": list(ch.events or []),
        "url_hint": url_hint(ch.url),
        "has_secret": bool(ch.secret),
        "recipients": list(ch.recipients or []),
        "email_users": ch.email_users,
        "msg_format": ch.msg_format,
        "active": ch.active,
        "created_by": ch.created_by,
        "created_at": ch.created_at.isoformat(),
        "updated_at": ch.updated_at.isoformat(),
    }


def enqueue_test(
    session: Session, settings: Settings, p: Principal, ch: NotificationChannel, now: datetime
) -> list[Outbox]:
    """Queue a test message on one channel (sent by the next dispatch)."""
    node = session.get(OrgNode, ch.node_id)
    assert node is not None
    user = session.get(User, p.id)
    msg = Message(
        kind="test",
        source_key=f"test:{ch.id}:{int(now.timestamp() * 1000)}",
        title=f"{KIND_NAMES['test']}（{ch.name}）",
        lines=[("发送人", p.display_name), ("通道", ch.name)],
        node=node,
        recipients=[user] if user else [],
    )
    rows = []
    if ch.kind in ("wecom", "dingtalk"):
        rows.append(
            Outbox(
                source_key=msg.source_key,
                channel_id=ch.id,
                recipient="",
                kind="test",
                payload=webhook_body(ch, msg, settings),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    else:
        addresses = list(ch.recipients or []) + ([user.email] if ch.email_users and user and user.email else [])
        for a in dict.fromkeys(x.lower() for x in addresses):
            rows.append(
                Outbox(
                    source_key=msg.source_key,
                    channel_id=ch.id,
                    recipient=a,
                    kind="test",
                    payload=email_payload(msg, settings),
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    session.add_all(rows)
    session.flush()
    return rows


def outbox_json(row: Outbox) -> dict[str, Any]:
    return {
        "id": row.id,
        "source_key": row.source_key,
        "channel_id": row.channel_id,
        "recipient": row.recipient,
        "kind": row.kind,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "payload": row.payload,
    }


def retry_outbox(session: Session, p: Principal, row_id: int, now: datetime) -> Outbox:
    row = session.get(Outbox, row_id)
    if row is None:
        raise NotFound("outbox message {id} does not exist", id=row_id)
    get_channel(session, p, row.channel_id)  # 404 unless the caller manages its channel
    if row.status == "sent":
        raise Conflict("the message was sent already")
    row.status, row.attempts, row.next_attempt_at = "pending", 0, now
    session.flush()
    return row
