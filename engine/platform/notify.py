"""Notifications: in-app messages and the outbox of group robots (WeCom, DingTalk) and e-mail.

Where they come from
- The append-only `event_log`: `task_created` (a task is offered; `escalation` when the
  task's BPMN property `notifyKind` says so) and `task_urged` (催办). A durable cursor row
  (`notification_cursor`) holds the last event id read; it is advanced in the same
  transaction that writes the notifications and outbox rows of the events it passed, so a
  crash loses nothing and a re-run repeats nothing. On PostgreSQL an id can become visible
  after a higher one (transactions commit out of order): ids skipped over are remembered as
  `gaps` and looked for again for `GAP_TTL`.
- A periodic check of open tasks: due within `DUE_SOON` (and offered before that window
  began) and overdue, each notified once per task (`task_reminder`, unique per task and kind).

Who is told: the task's assignee, else its candidates (`routing.candidates`); for an urge,
the people the urge named. What they are told never quotes a confidential value (engine/org/confidential.py:
an instance title such as "问题线索：<person>" is sent as "问题线索：【已隐去】"); the task page shows the rest
to those who may read it. Every (user, cause) pair is unique, and so is every outbox row
(cause, channel, recipient): nothing is queued twice.

Channels (`notification_channel`) belong to an org node: a unit's channels get the events of
the unit and of its branches, the group's get the group's (and everyone's with
`cover_subtree`), each only for the event kinds it lists.

Sending (`dispatch`) happens outside any request transaction: due outbox rows are claimed
(status `sending`, with a lease), sent with no transaction open, then marked `sent`, or
retried with exponential backoff until `notify_max_attempts`, then `failed`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Iterable

from sqlalchemy import Interval, exists, func, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.org import confidential
from engine.infra.clock import Clock
from engine.infra.db import write_intent
from engine.errors import Conflict, Forbidden, Invalid, NotFound
from engine.models import EventLog, HumanTask, OrgNode, ProcessInstance, User
from engine.org.nodes import Principal
from engine.platform.models import Notification, NotificationChannel, NotificationCursor, Outbox, TaskReminder
from engine.org.routing import candidates
from engine.infra.settings import Settings

log = logging.getLogger("sanji.notify")

KINDS = ("task_offered", "task_due_soon", "task_overdue", "task_urged", "escalation")
KIND_NAMES = {"task_offered": "新待办", "task_due_soon": "即将到期", "task_overdue": "已逾期",
              "task_urged": "催办", "escalation": "逐级上报", "test": "测试消息"}
CHANNEL_KINDS = ("wecom", "dingtalk", "email")
FORMATS = ("markdown", "text")
CURSOR = "event_log"
SOURCE_EVENTS = ("task_created", "task_urged")
BATCH = 500
GAP_TTL = timedelta(minutes=10)
MAX_GAPS = 10_000
DUE_SOON = timedelta(hours=24)
MAX_BACKOFF = timedelta(hours=6)
CHANNEL_MANAGERS = ("secretary", "deputy_secretary")
EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
TITLE_PREFIX = "【三级联动】"


# ---- building messages --------------------------------------------------------------------------

@dataclass
class Message:
    kind: str
    source_key: str
    title: str
    lines: list[tuple[str, str]]
    node: OrgNode
    recipients: list[User]
    task_id: int | None = None
    instance_id: int | None = None
    link: str | None = None  # path inside the web app, e.g. /tasks/12
    extra: dict[str, Any] = field(default_factory=dict)

    def body_text(self) -> str:
        return "\n".join(f"{label}：{value}" for label, value in self.lines)


def _local(dt: datetime | None, settings: Settings) -> str:
    if dt is None:
        return "无"
    return dt.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M")


def _names(users: Iterable[User]) -> str:
    return "、".join(u.display_name for u in users)


def _task_props(session: Session, inst: ProcessInstance | None, spec_id: str) -> dict[str, str]:
    """The SpiffWorkflow extension properties of a task's spec (e.g. `notifyKind`)."""
    if inst is None:
        return {}
    from engine.core.repository import SPECS

    try:
        spec, subs = SPECS.get(inst.definition)
    except Exception:  # noqa: BLE001 - a broken spec must not stop notifications
        return {}
    for s in (spec, *subs.values()):
        ts = s.task_specs.get(spec_id)
        if ts is not None:
            return dict((getattr(ts, "extensions", None) or {}).get("properties", {}) or {})
    return {}


def task_message(session: Session, settings: Settings, kind: str, task: HumanTask, source_key: str,
                 recipients: list[User] | None = None, extra_lines: list[tuple[str, str]] | None = None) -> Message:
    node = session.get(OrgNode, task.node_id)
    assert node is not None
    inst = session.get(ProcessInstance, task.instance_id)
    if recipients is None:
        if task.assignee_id is not None:
            user = session.get(User, task.assignee_id)
            recipients = [user] if user is not None and user.active else []
        else:
            recipients = candidates(session, task)
    who = node.name + (f"（{_names(recipients)}）" if recipients else "")
    # a notification leaves the system (robots, e-mail): the title never quotes confidential values
    title = confidential.always(settings.forms_dir).text(inst.title, inst.data) if inst else task.process_key
    lines = [("任务", task.name), ("流程", title), ("办理", who),
             ("截止", _local(task.due_at, settings))]
    lines.extend(extra_lines or [])
    return Message(kind=kind, source_key=source_key, title=f"{KIND_NAMES[kind]}：{task.name}", lines=lines,
                   node=node, recipients=recipients, task_id=task.id, instance_id=task.instance_id,
                   link=f"/tasks/{task.id}")


def _users_by_name(session: Session, names: Iterable[str]) -> list[User]:
    names = [n for n in names if isinstance(n, str)]
    if not names:
        return []
    return list(session.scalars(select(User).where(User.username.in_(names), User.active.is_(True))
                                .order_by(User.username)))


def messages_for_event(session: Session, settings: Settings, ev: EventLog) -> list[Message]:
    if ev.task_id is None:
        return []
    task = session.get(HumanTask, ev.task_id)
    if task is None or task.status != "open":
        return []  # done or cancelled before anyone needed telling
    key = f"ev:{ev.id}"
    if ev.type == "task_created":
        inst = session.get(ProcessInstance, task.instance_id)
        wanted = (_task_props(session, inst, task.spec_id).get("notifyKind") or "").strip()
        if wanted == "none":
            return []
        kind = "escalation" if wanted == "escalation" else "task_offered"
        return [task_message(session, settings, kind, task, key)]
    if ev.type == "task_urged":
        payload = ev.payload or {}
        to = payload.get("to")
        recipients = _users_by_name(session, to) if isinstance(to, list) else None
        extra = [("催办人", ev.actor or "")]
        if ev.actor_id:
            actor = session.get(User, ev.actor_id)
            if actor is not None:
                extra = [("催办人", actor.display_name)]
        if payload.get("message"):
            extra.append(("催办意见", str(payload["message"])[:500]))
        return [task_message(session, settings, "task_urged", task, key, recipients, extra)]
    return []


# ---- channels ---------------------------------------------------------------------------------------

def channels_for(session: Session, kind: str, node: OrgNode) -> list[NotificationChannel]:
    """Active channels that take `kind` events of `node`: its own, its unit's (for a branch),
    and the ones of ancestors that cover their subtree."""
    out = []
    chans = session.scalars(select(NotificationChannel).where(NotificationChannel.active.is_(True))
                            .order_by(NotificationChannel.id)).all()
    paths: dict[str, str] = {}
    for ch in chans:
        if kind not in (ch.events or []) and kind != "test":
            continue
        if ch.node_id == node.id or (node.tier == "branch" and ch.node_id == node.parent_id):
            out.append(ch)
            continue
        if ch.cover_subtree:
            if ch.node_id not in paths:
                n = session.get(OrgNode, ch.node_id)
                paths[ch.node_id] = n.path if n else "\0"
            if node.path.startswith(paths[ch.node_id]):
                out.append(ch)
    return out


def _absolute(link: str | None, settings: Settings) -> str | None:
    if not link or not settings.base_url:
        return None
    return settings.base_url.rstrip("/") + link


def webhook_body(ch: NotificationChannel, msg: Message, settings: Settings) -> dict[str, Any]:
    """The JSON a WeCom or DingTalk group robot takes (markdown or text)."""
    title = TITLE_PREFIX + msg.title
    url = _absolute(msg.link, settings)
    if ch.msg_format == "text":
        content = "\n".join([title, msg.body_text()] + ([f"办理：{url}"] if url else []))
        return {"msgtype": "text", "text": {"content": content}}
    quoted = [f"> {label}：{value}" for label, value in msg.lines]
    if ch.kind == "wecom":
        content = "\n".join([f"**{title}**"] + quoted + ([f"[去办理]({url})"] if url else []))
        return {"msgtype": "markdown", "markdown": {"content": content}}
    text = "\n\n".join([f"#### {title}"] + quoted + ([f"[去办理]({url})"] if url else []))
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def email_payload(msg: Message, settings: Settings) -> dict[str, Any]:
    url = _absolute(msg.link, settings)
    body = msg.body_text() + (f"\n\n办理地址：{url}" if url else "") + "\n\n（本邮件由三级联动纪检工作平台自动发送）\n"
    return {"subject": TITLE_PREFIX + msg.title, "body": body}


def _insert_ignore(session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]) -> int:
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # One cached statement executed for many rows; RETURNING counts what was inserted on both
    # backends (rowcount is not reliable for ON CONFLICT DO NOTHING).
    stmt = insert(model).on_conflict_do_nothing(index_elements=keys).returning(getattr(model, keys[0]))
    return len(session.execute(stmt, rows).all())


def deliver(session: Session, settings: Settings, msg: Message, now: datetime) -> dict[str, int]:
    """Write the in-app notifications and the outbox rows of one message (idempotent)."""
    notes = _insert_ignore(session, Notification, [
        {"user_id": u.id, "kind": msg.kind, "source_key": msg.source_key, "title": msg.title[:300],
         "body": msg.body_text(), "link": msg.link, "task_id": msg.task_id, "instance_id": msg.instance_id,
         "node_id": msg.node.id, "created_at": now} for u in {u.id: u for u in msg.recipients}.values()],
        ["user_id", "source_key"])
    rows: list[dict[str, Any]] = []
    for ch in channels_for(session, msg.kind, msg.node):
        base = {"source_key": msg.source_key, "channel_id": ch.id, "kind": msg.kind, "status": "pending",
                "attempts": 0, "next_attempt_at": now, "created_at": now}
        if ch.kind in ("wecom", "dingtalk"):
            rows.append({**base, "recipient": "", "payload": webhook_body(ch, msg, settings)})
        else:
            addresses = list(ch.recipients or [])
            if ch.email_users:
                addresses += [u.email for u in msg.recipients if u.email]
            payload = email_payload(msg, settings)
            for address in dict.fromkeys(a.strip().lower() for a in addresses if a and a.strip()):
                rows.append({**base, "recipient": address[:200], "payload": payload})
    queued = _insert_ignore(session, Outbox, rows, ["source_key", "channel_id", "recipient"])
    return {"notifications": notes, "outbox": queued}


# ---- collecting: event log cursor and deadline reminders -----------------------------------------------

def _cursor(session: Session, now: datetime) -> NotificationCursor:
    _insert_ignore(session, NotificationCursor, [{"name": CURSOR, "last_event_id": 0, "gaps": {}, "updated_at": now}],
                   ["name"])
    q = select(NotificationCursor).where(NotificationCursor.name == CURSOR).execution_options(populate_existing=True)
    if session.get_bind().dialect.name != "sqlite":
        q = q.with_for_update()
    return session.scalars(q).one()


def collect(session: Session, clock: Clock, settings: Settings) -> dict[str, int]:
    """Read new events and due/overdue tasks; write notifications and outbox rows.

    One transaction: the caller commits (the cursor moves with what it produced).
    """
    now = clock.now()
    cursor = _cursor(session, now)
    totals = {"events": 0, "notifications": 0, "outbox": 0, "reminders": 0}

    def add(result: dict[str, int]) -> None:
        totals["notifications"] += result["notifications"]
        totals["outbox"] += result["outbox"]

    gaps = dict(cursor.gaps or {})
    found: list[EventLog] = []
    if gaps:
        found = list(session.scalars(select(EventLog).where(EventLog.id.in_([int(g) for g in gaps]))))
        for ev in found:
            gaps.pop(str(ev.id), None)
        gaps = {g: seen for g, seen in gaps.items() if now - datetime.fromisoformat(seen) < GAP_TTL}
    ids = session.execute(select(EventLog.id).where(EventLog.id > cursor.last_event_id)
                          .order_by(EventLog.id).limit(BATCH)).scalars().all()
    expected = cursor.last_event_id + 1
    for i in ids:
        for missing in range(expected, i):
            if len(gaps) < MAX_GAPS:
                gaps[str(missing)] = now.isoformat()
        expected = i + 1
    if ids:
        found += list(session.scalars(select(EventLog).where(EventLog.id.in_(ids), EventLog.type.in_(SOURCE_EVENTS))
                                      .order_by(EventLog.id)))
    for ev in found:
        if ev.type not in SOURCE_EVENTS:
            continue
        totals["events"] += 1
        for msg in messages_for_event(session, settings, ev):
            add(deliver(session, settings, msg, now))
    for kind, task in due_tasks(session, now):
        if _insert_ignore(session, TaskReminder, [{"task_id": task.id, "kind": kind, "at": now}], ["task_id", "kind"]):
            totals["reminders"] += 1
            add(deliver(session, settings, task_message(session, settings, kind, task, f"rem:{kind}:{task.id}"), now))
    if ids:
        cursor.last_event_id = ids[-1]
    cursor.gaps = gaps
    cursor.updated_at = now
    session.flush()
    return totals


def due_tasks(session: Session, now: datetime, limit: int = BATCH) -> list[tuple[str, HumanTask]]:
    """Open tasks of running instances that are overdue, or due within DUE_SOON (and were
    offered before that window opened), with no reminder of that kind yet."""
    def not_reminded(kind: str) -> Any:
        return ~exists().where(TaskReminder.task_id == HumanTask.id, TaskReminder.kind == kind)

    # correlated per candidate task: `IN (SELECT id … running)` built the set of every running
    # instance on each tick, which grew with the instances (124 ms at 100,000 on SQLite)
    running = exists().where(ProcessInstance.id == HumanTask.instance_id, ProcessInstance.status == "running")
    overdue = session.scalars(select(HumanTask).where(
        HumanTask.status == "open", HumanTask.due_at.is_not(None), HumanTask.due_at <= now, running,
        not_reminded("task_overdue")).order_by(HumanTask.due_at, HumanTask.id).limit(limit)).all()
    soon = session.scalars(select(HumanTask).where(
        HumanTask.status == "open", HumanTask.due_at > now, HumanTask.due_at <= now + DUE_SOON, running,
        HumanTask.created_at <= HumanTask.due_at - literal(DUE_SOON, Interval())
        if session.get_bind().dialect.name == "postgresql"
        else func.julianday(HumanTask.created_at) <= func.julianday(HumanTask.due_at) - DUE_SOON.total_seconds() / 86400,
        not_reminded("task_due_soon")).order_by(HumanTask.due_at, HumanTask.id).limit(limit)).all()
    return [("task_overdue", t) for t in overdue] + [("task_due_soon", t) for t in soon]


# ---- sending ------------------------------------------------------------------------------------------

class SendError(Exception):
    pass


def dingtalk_signed(url: str, secret: str, now: datetime) -> str:
    """DingTalk's signature: timestamp (ms) + base64(HMAC-SHA256("timestamp\\nsecret")), url-encoded."""
    timestamp = str(int(now.timestamp() * 1000))
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"


def post_json(url: str, body: dict[str, Any], timeout: float) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only, checked
            text = response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        raise SendError(f"HTTP {exc.code} from the webhook") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SendError(f"webhook unreachable: {getattr(exc, 'reason', exc)}") from None
    try:
        answer = json.loads(text or b"{}")
    except ValueError:
        return  # a 2xx without JSON: taken as delivered
    if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
        raise SendError(f"the robot refused the message: errcode {answer.get('errcode')} {answer.get('errmsg', '')}")


def send_email(settings: Settings, to: str, subject: str, body: str, message_id: str, now: datetime) -> None:
    if not settings.smtp_host:
        raise SendError("no mail server is configured (SANJI_SMTP_HOST)")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg.set_content(body, cte="base64")
    try:
        if settings.smtp_tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                                  timeout=settings.notify_timeout_s,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout_s)
        with smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(f"SMTP: {type(exc).__name__}: {exc}") from None


@dataclass
class Claimed:
    id: int
    kind: str
    recipient: str
    payload: dict[str, Any]
    attempts: int
    channel_kind: str
    url: str | None
    secret: str | None


def send_one(row: Claimed, settings: Settings, now: datetime) -> None:
    if row.channel_kind in ("wecom", "dingtalk"):
        if not row.url:
            raise SendError("the channel has no webhook URL")
        url = dingtalk_signed(row.url, row.secret, now) if row.channel_kind == "dingtalk" and row.secret else row.url
        post_json(url, row.payload, settings.notify_timeout_s)
    else:
        send_email(settings, row.recipient, str(row.payload.get("subject", "")), str(row.payload.get("body", "")),
                   make_msgid(idstring=f"outbox{row.id}", domain="sanji.local"), now)


def backoff(settings: Settings, attempts: int) -> timedelta:
    return min(timedelta(seconds=settings.notify_backoff_s * (2 ** max(attempts - 1, 0))), MAX_BACKOFF)


def send_due(session_factory: sessionmaker[Session], clock: Clock, settings: Settings, limit: int = 100) -> dict[str, int]:
    """Claim due outbox rows, send them with no transaction open, record the outcome."""
    now = clock.now()
    due = (Outbox.status.in_(("pending", "sending"))) & (Outbox.next_attempt_at <= now)
    with write_intent(), session_factory() as s:
        ids = s.scalars(select(Outbox.id).where(due).order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)).all()
        lease = now + timedelta(seconds=settings.notify_timeout_s * (len(ids) + 1) + 60)
        claimed: list[Claimed] = []
        for row_id in ids:
            took = s.execute(update(Outbox).where(Outbox.id == row_id, due)
                             .values(status="sending", attempts=Outbox.attempts + 1, next_attempt_at=lease)
                             .execution_options(synchronize_session=False))
            if took.rowcount != 1:
                continue  # another dispatcher has it
            row, ch = s.execute(select(Outbox, NotificationChannel)
                                .join(NotificationChannel, NotificationChannel.id == Outbox.channel_id)
                                .where(Outbox.id == row_id).execution_options(populate_existing=True)).one()
            claimed.append(Claimed(row.id, row.kind, row.recipient, dict(row.payload or {}), row.attempts, ch.kind,
                                   ch.url, ch.secret))
        s.commit()
    result = {"sent": 0, "retry": 0, "failed": 0}
    for row in claimed:
        error = None
        try:
            send_one(row, settings, clock.now())
        except SendError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
            log.exception("sending outbox row %s failed unexpectedly", row.id)
            error = f"{type(exc).__name__}: {exc}"
        done = clock.now()
        with write_intent(), session_factory() as s:
            if error is None:
                values: dict[str, Any] = {"status": "sent", "sent_at": done, "last_error": None}
                result["sent"] += 1
            elif row.attempts >= settings.notify_max_attempts:
                values = {"status": "failed", "last_error": error[:2000]}
                result["failed"] += 1
                log.warning("outbox row %s failed for good after %s attempts: %s", row.id, row.attempts, error)
            else:
                values = {"status": "pending", "last_error": error[:2000],
                          "next_attempt_at": done + backoff(settings, row.attempts)}
                result["retry"] += 1
            s.execute(update(Outbox).where(Outbox.id == row.id, Outbox.status == "sending").values(**values)
                      .execution_options(synchronize_session=False))
            s.commit()
    return result


def dispatch(session_factory: sessionmaker[Session], clock: Clock, settings: Settings) -> dict[str, int]:
    """One pass: collect new notifications (one transaction), then send what is due.

    The scheduler's tick calls this; `flask --app app notify-dispatch` runs one pass by hand.
    Never raises: a failure is logged, counted in `errors`, and the next pass tries again
    (the cursor moved only if its transaction committed).
    """
    totals = {"events": 0, "notifications": 0, "outbox": 0, "reminders": 0}
    errors = 0
    try:
        with write_intent(), session_factory() as s:
            totals = collect(s, clock, settings)
            s.commit()
    except Exception:  # noqa: BLE001 - sending what is queued still matters
        log.exception("collecting notifications failed; the next pass retries")
        errors += 1
    try:
        totals.update(send_due(session_factory, clock, settings))
    except Exception:  # noqa: BLE001
        log.exception("sending the outbox failed; the next pass retries")
        totals.update({"sent": 0, "retry": 0, "failed": 0})
        errors += 1
    if errors:
        totals["errors"] = errors
    return totals


# ---- in-app notifications -------------------------------------------------------------------------------

def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Notification)
                          .where(Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def mark_read(session: Session, user_id: int, notification_id: int, now: datetime) -> Notification:
    note = session.scalars(select(Notification).where(Notification.id == notification_id,
                                                      Notification.user_id == user_id)).first()
    if note is None:
        raise NotFound(f"notification {notification_id} does not exist")
    if note.read_at is None:
        note.read_at = now
    return note


def mark_all_read(session: Session, user_id: int, now: datetime, task_id: int | None = None) -> int:
    q = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if task_id is not None:
        q = q.where(Notification.task_id == task_id)
    return session.execute(q.values(read_at=now).execution_options(synchronize_session=False)).rowcount or 0


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
        raise NotFound(f"notification channel {channel_id} does not exist")
    return ch


def _bad(field_: str, message: str) -> Invalid:
    return Invalid(f"{field_}: {message}", [{"field": field_, "message": message}])


def save_channel(session: Session, p: Principal, data: dict[str, Any], now: datetime,
                 ch: NotificationChannel | None = None) -> NotificationChannel:
    """Create (`ch` None) or change a channel from API data; every field is checked first."""
    creating = ch is None
    known = {"name", "kind", "node_id", "cover_subtree", "events", "url", "secret", "recipients", "email_users",
             "msg_format", "active"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise _bad(unknown[0], "unknown field")
    current: dict[str, Any] = {} if ch is None else {
        "name": ch.name, "kind": ch.kind, "node_id": ch.node_id, "cover_subtree": ch.cover_subtree,
        "events": list(ch.events or []), "url": ch.url, "secret": ch.secret, "recipients": list(ch.recipients or []),
        "email_users": ch.email_users, "msg_format": ch.msg_format, "active": ch.active}
    v = {**{"cover_subtree": False, "events": list(KINDS[:4]), "url": None, "secret": None, "recipients": [],
            "email_users": False, "msg_format": "markdown", "active": True}, **current, **data}
    if not creating and "kind" in data and data["kind"] != current["kind"]:
        raise _bad("kind", "the kind of a channel cannot change; create a new channel")
    if not isinstance(v.get("name"), str) or not v["name"].strip() or len(v["name"]) > 100:
        raise _bad("name", "required text of at most 100 characters")
    if v.get("kind") not in CHANNEL_KINDS:
        raise _bad("kind", f"one of {', '.join(CHANNEL_KINDS)}")
    node = session.get(OrgNode, v.get("node_id")) if isinstance(v.get("node_id"), str) else None
    if node is None or not node.active:
        raise _bad("node_id", "not an org node")
    if node.tier == "branch":
        raise _bad("node_id", "a branch uses the channels of its unit; configure the unit")
    nodes = managed_nodes(p)
    if nodes is not None and node.id not in nodes:
        raise Forbidden("only an admin or the committee's secretary / deputy secretary manages its channels")
    events = v.get("events")
    if not isinstance(events, list) or not events or any(e not in KINDS for e in events):
        raise _bad("events", f"a non-empty list of {', '.join(KINDS)}")
    for flag in ("cover_subtree", "email_users", "active"):
        if not isinstance(v.get(flag), bool):
            raise _bad(flag, "true or false")
    if v.get("msg_format") not in FORMATS:
        raise _bad("msg_format", "markdown or text")
    if v["kind"] in ("wecom", "dingtalk"):
        url = v.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000 or " " in url:
            raise _bad("url", "the robot's webhook address (http:// or https://)")
        if v.get("secret") is not None:
            if v["kind"] != "dingtalk":
                raise _bad("secret", "only DingTalk robots are signed with a secret")
            if not isinstance(v["secret"], str) or len(v["secret"]) > 200:
                raise _bad("secret", "text of at most 200 characters")
            v["secret"] = v["secret"].strip() or None
        if v.get("recipients"):
            raise _bad("recipients", "webhook channels have no e-mail recipients")
    else:
        recipients = v.get("recipients")
        if not isinstance(recipients, list) or any(not isinstance(a, str) or not EMAIL_RE.match(a.strip())
                                                   for a in recipients):
            raise _bad("recipients", "a list of e-mail addresses")
        if not recipients and not v.get("email_users"):
            raise _bad("recipients", "give at least one address, or set email_users")
        if v.get("url") or v.get("secret"):
            raise _bad("url", "e-mail channels have no webhook")
        v["recipients"] = [a.strip() for a in recipients]
    if ch is None:
        ch = NotificationChannel(created_at=now, created_by=p.username)
        session.add(ch)
    ch.name, ch.kind, ch.node_id = v["name"].strip(), v["kind"], node.id
    ch.cover_subtree, ch.events, ch.url, ch.secret = v["cover_subtree"], list(dict.fromkeys(events)), v.get("url"), v.get("secret")
    ch.recipients, ch.email_users, ch.msg_format, ch.active = v["recipients"], v["email_users"], v["msg_format"], v["active"]
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
    return {"id": ch.id, "name": ch.name, "kind": ch.kind, "node_id": ch.node_id, "cover_subtree": ch.cover_subtree,
            "events": list(ch.events or []), "url_hint": url_hint(ch.url), "has_secret": bool(ch.secret),
            "recipients": list(ch.recipients or []), "email_users": ch.email_users, "msg_format": ch.msg_format,
            "active": ch.active, "created_by": ch.created_by, "created_at": ch.created_at.isoformat(),
            "updated_at": ch.updated_at.isoformat()}


def enqueue_test(session: Session, settings: Settings, p: Principal, ch: NotificationChannel, now: datetime) -> list[Outbox]:
    """Queue a test message on one channel (sent by the next dispatch)."""
    node = session.get(OrgNode, ch.node_id)
    assert node is not None
    user = session.get(User, p.id)
    msg = Message(kind="test", source_key=f"test:{ch.id}:{int(now.timestamp() * 1000)}",
                  title=f"{KIND_NAMES['test']}（{ch.name}）", lines=[("发送人", p.display_name), ("通道", ch.name)],
                  node=node, recipients=[user] if user else [])
    rows = []
    if ch.kind in ("wecom", "dingtalk"):
        rows.append(Outbox(source_key=msg.source_key, channel_id=ch.id, recipient="", kind="test",
                           payload=webhook_body(ch, msg, settings), status="pending", attempts=0,
                           next_attempt_at=now, created_at=now))
    else:
        addresses = list(ch.recipients or []) + ([user.email] if ch.email_users and user and user.email else [])
        for a in dict.fromkeys(x.lower() for x in addresses):
            rows.append(Outbox(source_key=msg.source_key, channel_id=ch.id, recipient=a, kind="test",
                               payload=email_payload(msg, settings), status="pending", attempts=0,
                               next_attempt_at=now, created_at=now))
    session.add_all(rows)
    session.flush()
    return rows


def outbox_json(row: Outbox) -> dict[str, Any]:
    return {"id": row.id, "source_key": row.source_key, "channel_id": row.channel_id, "recipient": row.recipient,
            "kind": row.kind, "status": row.status, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at.isoformat(), "last_error": row.last_error,
            "created_at": row.created_at.isoformat(), "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            "payload": row.payload}


def retry_outbox(session: Session, p: Principal, row_id: int, now: datetime) -> Outbox:
    row = session.get(Outbox, row_id)
    if row is None:
        raise NotFound(f"outbox message {row_id} does not exist")
    get_channel(session, p, row.channel_id)  # 404 unless the caller manages its channel
    if row.status == "sent":
        raise Conflict("the message was sent already")
    row.status, row.attempts, row.next_attempt_at = "pending", 0, now
    session.flush()
    return row


