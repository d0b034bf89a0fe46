"""What a notification says and where it goes: messages built from tasks and events, the
channels that take them, and their idempotent delivery into notifications and the outbox."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from engine.infra.settings import Settings
from engine.models import EventLog, HumanTask, OrgNode, ProcessInstance, RoleAssignment, User
from engine.org import confidential
from engine.org.routing import candidates, roles_for
from engine.platform.models import Notification, NotificationChannel, Outbox

KINDS = ("task_offered", "task_due_soon", "task_overdue", "task_urged", "escalation")
# 抄送 is told to the people copied only: in the app, and by e-mail through the node's e-mail
# channels that mail the users concerned (`email_users`) — never to a group robot or a channel's
# fixed addresses, who would learn of a step not copied to them
PERSONAL_KINDS = ("task_copied",)
KIND_NAMES = {
    "task_offered": "新待办",
    "task_due_soon": "即将到期",
    "task_overdue": "已逾期",
    "task_urged": "催办",
    "escalation": "逐级上报",
    "task_copied": "抄送",
    "test": "测试消息",
}
CHANNEL_KINDS = ("wecom", "dingtalk", "email")
FORMATS = ("markdown", "text")
CURSOR = "event_log"
SOURCE_EVENTS = ("task_created", "task_urged", "task_copied", "approval_returned")
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


@dataclass
class Known:
    """What one notification pass reads once for all its events: a cycle's 1,000 new tasks were
    told with seven statements each (the task, its instance, its node, the candidates, their
    roles, the channels, the insert); now with the insert alone."""

    held: list[Any] = field(default_factory=list)  # tasks, instances, nodes: kept in the identity map
    nodes: set[str] = field(default_factory=set)  # the nodes whose role holders were read
    holders: dict[str, list[tuple[str, User]]] = field(default_factory=dict)  # node -> (role, user), by username
    channels: list[NotificationChannel] | None = None

    def candidates(self, task: HumanTask) -> list[User] | None:
        """`routing.candidates` from what was read (None: not read, ask the database)."""
        if task.node_id not in self.nodes:
            return None
        roles = set(roles_for(task.tier, task.candidate_roles))
        users = {u.id: u for role, u in self.holders.get(task.node_id, []) if role in roles}
        return list(users.values())


def known_for(session: Session, task_ids: Iterable[int]) -> Known:
    """Read the tasks of a pass's events, their instances and nodes, the active holders of a role
    on those nodes and the active channels, a statement each."""
    known = Known()
    ids = sorted(set(task_ids))
    tasks = list(session.scalars(select(HumanTask).where(HumanTask.id.in_(ids)))) if ids else []
    node_ids = sorted({t.node_id for t in tasks})
    instance_ids = sorted({t.instance_id for t in tasks})
    known.held += tasks
    if instance_ids:
        known.held += session.scalars(
            select(ProcessInstance).where(ProcessInstance.id.in_(instance_ids)).options(defer(ProcessInstance.state))
        ).all()
    known.channels = list(
        session.scalars(
            select(NotificationChannel).where(NotificationChannel.active.is_(True)).order_by(NotificationChannel.id)
        )
    )
    wanted = set(node_ids) | {ch.node_id for ch in known.channels if ch.cover_subtree}
    if wanted:
        known.held += session.scalars(select(OrgNode).where(OrgNode.id.in_(sorted(wanted)))).all()
    if node_ids:
        rows = session.execute(
            select(RoleAssignment.node_id, RoleAssignment.role, User)
            .join(User, User.id == RoleAssignment.user_id)
            .where(RoleAssignment.node_id.in_(node_ids), User.active.is_(True))
            .order_by(User.username)
        ).all()
        for node_id, role, user in rows:
            if node_id is not None:  # always: the rows are read by node
                known.holders.setdefault(node_id, []).append((role, user))
        known.nodes.update(node_ids)
    return known


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
    except Exception:
        return {}
    for s in (spec, *subs.values()):
        ts = s.task_specs.get(spec_id)
        if ts is not None:
            return dict((getattr(ts, "extensions", None) or {}).get("properties", {}) or {})
    return {}


def task_message(
    session: Session,
    settings: Settings,
    kind: str,
    task: HumanTask,
    source_key: str,
    recipients: list[User] | None = None,
    extra_lines: list[tuple[str, str]] | None = None,
    known: Known | None = None,
) -> Message:
    node = session.get(OrgNode, task.node_id)
    assert node is not None
    inst = session.get(ProcessInstance, task.instance_id)
    if recipients is None:
        if task.assignee_id is not None:
            user = session.get(User, task.assignee_id)
            recipients = [user] if user is not None and user.active else []
        else:
            recipients = known.candidates(task) if known is not None else None
            if recipients is None:
                recipients = candidates(session, task)
    who = node.name + (f"（{_names(recipients)}）" if recipients else "")
    # a notification leaves the system (robots, e-mail): the title never quotes confidential values
    title = confidential.always(settings.forms_dir).text(inst.title, inst.data) if inst else task.process_key
    lines = [("任务", task.name), ("流程", title or ""), ("办理", who), ("截止", _local(task.due_at, settings))]
    lines.extend(extra_lines or [])
    return Message(
        kind=kind,
        source_key=source_key,
        title=f"{KIND_NAMES[kind]}：{task.name}",
        lines=lines,
        node=node,
        recipients=recipients,
        task_id=task.id,
        instance_id=task.instance_id,
        link=f"/tasks/{task.id}",
    )


def _users_by_name(session: Session, names: Iterable[str]) -> list[User]:
    names = [n for n in names if isinstance(n, str)]
    if not names:
        return []
    return list(
        session.scalars(select(User).where(User.username.in_(names), User.active.is_(True)).order_by(User.username))
    )


def copy_message(session: Session, task: HumanTask, ev: EventLog) -> Message:
    """抄送: tells the people copied which step they may read — its name, node and who did it,
    never the instance's title or data (engine/core/copies.py)."""
    node = session.get(OrgNode, task.node_id)
    assert node is not None
    to = (ev.payload or {}).get("to")
    by = session.get(User, ev.actor_id) if ev.actor_id else None
    return Message(
        kind="task_copied",
        source_key=f"ev:{ev.id}",
        title=f"{KIND_NAMES['task_copied']}：{task.name}",
        lines=[("步骤", task.name), ("办理", node.name + (f"（{by.display_name}）" if by else ""))],
        node=node,
        recipients=_users_by_name(session, to) if isinstance(to, list) else [],
        task_id=task.id,
        instance_id=None,  # the copy is of the step, not of its instance
        link=f"/tasks/{task.id}",
    )


def _note(task: HumanTask, inst: ProcessInstance | None, variable: str) -> str:
    """The value of `notifyNote`'s variable in the task's data (else the instance's), as text."""
    if not variable:
        return ""
    for data in (task.data, inst.data if inst is not None else None):
        if isinstance(data, dict) and data.get(variable) not in (None, ""):
            return str(data[variable])[:500]
    return ""


def messages_for_event(session: Session, settings: Settings, ev: EventLog, known: Known | None = None) -> list[Message]:
    if ev.task_id is None:
        return []
    task = session.get(HumanTask, ev.task_id)
    if task is not None and ev.type == "task_copied":  # 抄送: a completed step, to the people copied
        return [copy_message(session, task, ev)]
    if task is None or task.status != "open":
        return []  # done or cancelled before anyone needed telling
    key = f"ev:{ev.id}"
    if ev.type == "task_created":
        inst = session.get(ProcessInstance, task.instance_id)
        props = _task_props(session, inst, task.spec_id)
        wanted = (props.get("notifyKind") or "").strip()
        if wanted == "none":
            return []
        if wanted == "urge":  # a step reached after a 督办 / 催办: told as one, with its opinion
            note = _note(task, inst, (props.get("notifyNote") or "").strip())
            extra = [("督办意见", note)] if note else []
            return [task_message(session, settings, "task_urged", task, key, None, extra, known)]
        kind = "escalation" if wanted == "escalation" else "task_offered"
        return [task_message(session, settings, kind, task, key, known=known)]
    if ev.type == "approval_returned":  # 审批退回: the task is back with its doer, with the opinion
        opinion = str((ev.payload or {}).get("opinion") or "")[:500]
        return [
            task_message(session, settings, "task_offered", task, key, extra_lines=[("退回意见", opinion)], known=known)
        ]
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
        return [task_message(session, settings, "task_urged", task, key, recipients, extra, known)]
    return []


# ---- channels ---------------------------------------------------------------------------------------


def channels_for(
    session: Session, kind: str, node: OrgNode, active: list[NotificationChannel] | None = None
) -> list[NotificationChannel]:
    """Active channels that take `kind` events of `node`: its own, its unit's (for a branch),
    and the ones of ancestors that cover their subtree (`active`: the pass's reading of them)."""
    out = []
    chans = (
        active
        if active is not None
        else session.scalars(
            select(NotificationChannel).where(NotificationChannel.active.is_(True)).order_by(NotificationChannel.id)
        ).all()
    )
    paths: dict[str, str] = {}
    for ch in chans:
        if kind in PERSONAL_KINDS:
            if ch.kind != "email" or not ch.email_users:
                continue
        elif kind not in (ch.events or []) and kind != "test":
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
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # One cached statement executed for many rows; RETURNING counts what was inserted on both
    # backends (rowcount is not reliable for ON CONFLICT DO NOTHING).
    stmt = insert(model).on_conflict_do_nothing(index_elements=keys).returning(getattr(model, keys[0]))
    return len(session.execute(stmt, rows).all())


NOTIFICATION_KEYS = ["user_id", "source_key"]
OUTBOX_KEYS = ["source_key", "channel_id", "recipient"]


def deliver(
    session: Session, settings: Settings, msg: Message, now: datetime, known: Known | None = None
) -> dict[str, int]:
    """Write the in-app notifications and the outbox rows of one message (idempotent)."""
    notes, outbox = message_rows(session, settings, msg, now, known)
    return {
        "notifications": _insert_ignore(session, Notification, notes, NOTIFICATION_KEYS),
        "outbox": _insert_ignore(session, Outbox, outbox, OUTBOX_KEYS),
    }


def message_rows(
    session: Session, settings: Settings, msg: Message, now: datetime, known: Known | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The notification and outbox rows of one message; a pass inserts its messages' rows at once."""
    notes = [
        {
            "user_id": u.id,
            "kind": msg.kind,
            "source_key": msg.source_key,
            "title": msg.title[:300],
            "body": msg.body_text(),
            "link": msg.link,
            "task_id": msg.task_id,
            "instance_id": msg.instance_id,
            "node_id": msg.node.id,
            "created_at": now,
        }
        for u in {u.id: u for u in msg.recipients}.values()
    ]
    rows: list[dict[str, Any]] = []
    for ch in channels_for(session, msg.kind, msg.node, known.channels if known is not None else None):
        base = {
            "source_key": msg.source_key,
            "channel_id": ch.id,
            "kind": msg.kind,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        if ch.kind in ("wecom", "dingtalk"):
            rows.append({**base, "recipient": "", "payload": webhook_body(ch, msg, settings)})
        else:
            addresses = [] if msg.kind in PERSONAL_KINDS else list(ch.recipients or [])
            if ch.email_users:
                addresses += [u.email for u in msg.recipients if u.email]
            payload = email_payload(msg, settings)
            for address in dict.fromkeys(a.strip().lower() for a in addresses if a and a.strip()):
                rows.append({**base, "recipient": address[:200], "payload": payload})
    return notes, rows
