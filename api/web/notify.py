"""Notification pages: the signed-in user's notifications (unread count in the header, marked read
when opened, linking to the task they concern), and for admins and committee secretaries the
channels (WeCom / DingTalk group robots, e-mail) with a test send, and the outbox with retry.

Visibility is the API's (api/rest/notifications.py): one's own notifications only; channels and
outbox messages of the committees whose secretary / deputy secretary one is (admins: all).
"""

from __future__ import annotations

import re
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from engine.errors import Forbidden, Invalid, SanjiError
from engine.infra.db import _write_intent
from engine.models import OrgNode
from engine.org.nodes import Principal
from engine.platform import notify
from engine.services import notifications as service
from engine.services.notifications import ChannelFilter, NotificationFilter, OutboxFilter
from engine.services.paging import PageRequest

from ..extensions import clock, db, settings
from .base import nav_item, page_blueprint, safe_next, signin_required
from .helpers import PER_PAGE, checkbox, fail, field_errors, form_text, me, page_number, paged, pager

bp = page_blueprint("notify")


@bp.before_request
def _write_intent_for_reading_pages() -> None:
    """Opening a notification always writes (it is marked read): declare write intent before the
    first statement, as mutating requests do, so SQLite begins IMMEDIATE instead of upgrading a read
    transaction mid-way. Pages that write only sometimes (a task page with unread notifications)
    read first, end that transaction, and write in one of their own."""
    if request.method == "GET" and request.endpoint == "notify.notification_open" and "_sanji_session" not in g:
        _write_intent.set(True)  # reset with the request's own token at teardown


def unread_notes(p: Principal) -> int:
    return notify.unread_count(db(), p.id)


KIND_LABELS = {
    "task_offered": lazy_gettext("New task"),
    "task_due_soon": lazy_gettext("Due soon"),
    "task_overdue": lazy_gettext("Overdue"),
    "task_urged": lazy_gettext("Urged"),
    "escalation": lazy_gettext("Escalated report"),
    "task_copied": lazy_gettext("Copied to you"),
    "test": lazy_gettext("Test message"),
}
CHANNEL_LABELS = {
    "wecom": lazy_gettext("WeCom group robot"),
    "dingtalk": lazy_gettext("DingTalk group robot"),
    "email": lazy_gettext("E-mail"),
}
OUTBOX_STATUS = {
    "pending": lazy_gettext("pending"),
    "sending": lazy_gettext("sending"),
    "sent": lazy_gettext("sent"),
    "failed": lazy_gettext("failed"),
}


# ---- my notifications -----------------------------------------------------------------------------------


@bp.get("/notifications")
@signin_required
def notifications() -> Any:
    p = me()
    unread_only = request.args.get("unread") == "1"
    pg = service.list_notifications(
        db(), p, NotificationFilter(unread=unread_only), PageRequest(page_number(), PER_PAGE)
    )
    return render_template(
        "platform/notifications.html",
        notes=pg.items,
        pager=pager(pg, "notify.notifications"),
        unread_only=unread_only,
        unread=notify.unread_count(db(), p.id),
        kinds=KIND_LABELS,
        manages=notify.managed_nodes(p) != set(),
    )


@bp.get("/notifications/<int:note_id>")
@signin_required
def notification_open(note_id: int) -> Any:
    """Mark the notification read and go to what it concerns (its task or report)."""
    note = service.read(db(), me(), note_id if note_id < 2**62 else 0, clock().now())
    link = safe_next(note.link)
    return redirect(link or url_for("notify.notifications"))


@bp.post("/notifications/read-all")
@signin_required
def notifications_read_all() -> Any:
    n = service.read_all(db(), me(), clock().now())
    flash(gettext("%(n)s notification(s) marked read.", n=n), "success")
    return redirect(url_for("notify.notifications"))


# ---- channels and outbox (admins, committee secretaries) --------------------------------------------------


def managed() -> set[str] | None:
    nodes = notify.managed_nodes(me())
    if nodes is not None and not nodes:
        raise Forbidden("channels are managed by admins and the secretaries of the group and unit committees")
    return nodes


def node_options(nodes: set[str] | None) -> list[tuple[str, str]]:
    q = select(OrgNode.id, OrgNode.name).where(OrgNode.tier.in_(("group", "unit")), OrgNode.active.is_(True))
    if nodes is not None:
        q = q.where(OrgNode.id.in_(nodes))
    return [(i, n) for i, n in db().execute(q.order_by(OrgNode.path))]


def channel_data(kind: str, creating: bool) -> dict[str, Any]:
    """The API's channel fields from the form (blank webhook / secret on an edit: keep them)."""
    data: dict[str, Any] = {
        "name": request.form.get("name", ""),
        "events": request.form.getlist("events"),
        "cover_subtree": checkbox("cover_subtree"),
        "email_users": checkbox("email_users"),
        "msg_format": request.form.get("msg_format", "markdown"),
        "active": checkbox("active"),
    }
    if creating:
        data["kind"], data["node_id"] = kind, request.form.get("node_id", "")
    if kind in ("wecom", "dingtalk"):
        data.pop("email_users")
        url = form_text("url")
        if url is not None or creating:
            data["url"] = (url or "").strip()
        secret = form_text("secret")
        if secret is not None:
            data["secret"] = secret
        elif checkbox("clear_secret"):
            data["secret"] = None
    else:
        data["recipients"] = [a for a in re.split(r"[\s,;，；]+", request.form.get("recipients", "")) if a]
    return data


def render_channels(
    nodes: set[str] | None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Any:
    channels = db().scalars(service.channels_query(me(), ChannelFilter())).all()
    status_filter = request.args.get("status", "")
    f = OutboxFilter(status_filter if status_filter in OUTBOX_STATUS else None)
    rows, pager = paged(service.outbox_query(me(), f))
    options = node_options(nodes)
    return render_template(
        "platform/channels.html",
        channels=channels,
        outbox=rows,
        pager=pager,
        status_filter=status_filter,
        statuses=OUTBOX_STATUS,
        kinds=KIND_LABELS,
        channel_kinds=CHANNEL_LABELS,
        event_kinds=notify.KINDS,
        node_options=options,
        node_names=dict(options),
        errors=errors or {},
        url_hint=notify.url_hint,
        values=values or {"kind": "wecom", "events": list(notify.KINDS[:4]), "active": True, "msg_format": "markdown"},
    ), status


@bp.get("/notifications/channels")
@signin_required
def channels_page() -> Any:
    return render_channels(managed())


@bp.post("/notifications/channels")
@signin_required
def channel_create() -> Any:
    nodes = managed()
    p = me()
    kind = request.form.get("kind", "")
    data = channel_data(kind, creating=True)
    try:
        ch = service.create_channel(db(), p, data, clock().now())
    except Invalid as exc:
        values = {**data, "url": request.form.get("url", ""), "recipients": request.form.get("recipients", "")}
        return render_channels(nodes, field_errors(exc), values, 422)
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("notify.channels_page"))
    flash(gettext("Channel %(name)s created.", name=ch["name"]), "success")
    return redirect(url_for("notify.channels_page"))


@bp.route("/notifications/channels/<int:channel_id>", methods=["GET", "POST"])
@signin_required
def channel_edit(channel_id: int) -> Any:
    nodes = managed()
    p = me()
    ch = notify.get_channel(db(), p, channel_id if channel_id < 2**31 else 0)
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = channel_data(ch.kind, creating=False)
        try:
            saved = service.change_channel(db(), p, ch.id, data, clock().now())
        except Invalid as exc:
            errors = field_errors(exc)
            ch = notify.get_channel(db(), p, channel_id)
        else:
            flash(gettext("Channel %(name)s saved.", name=saved["name"]), "success")
            return redirect(url_for("notify.channels_page"))
    return render_template(
        "platform/channel_edit.html",
        ch=ch,
        errors=errors,
        channel_kinds=CHANNEL_LABELS,
        kinds=KIND_LABELS,
        event_kinds=notify.KINDS,
        url_hint=notify.url_hint(ch.url),
        node_names=dict(node_options(nodes)),
    ), 422 if errors else 200


@bp.post("/notifications/channels/<int:channel_id>/delete")
@signin_required
def channel_delete(channel_id: int) -> Any:
    name = service.delete_channel(db(), me(), channel_id if channel_id < 2**31 else 0, clock().now())
    flash(gettext("Channel %(name)s deleted.", name=name), "success")
    return redirect(url_for("notify.channels_page"))


@bp.post("/notifications/channels/<int:channel_id>/test")
@signin_required
def channel_test(channel_id: int) -> Any:
    name, rows = service.test_channel(db(), settings(), me(), channel_id if channel_id < 2**31 else 0, clock().now())
    if rows:
        flash(gettext("A test message is queued on %(name)s; the next dispatch sends it.", name=name), "success")
    else:
        flash(gettext("Nothing to send: the channel has no address for you."), "warn")
    return redirect(url_for("notify.channels_page"))


@bp.post("/notifications/outbox/<int:outbox_id>/retry")
@signin_required
def outbox_retry(outbox_id: int) -> Any:
    try:
        service.retry(db(), me(), outbox_id if outbox_id < 2**62 else 0, clock().now())
        flash(gettext("The message will be sent again at the next dispatch."), "success")
    except SanjiError as exc:
        fail(exc)
    return redirect(url_for("notify.channels_page", status=request.form.get("status") or None))


NAV = [
    nav_item(
        "notify.notifications",
        lazy_gettext("Notifications"),
        order=15,
        badge=unread_notes,
        prefix="/notifications",
        badge_id="note-badge",
        badge_title=lazy_gettext("Unread notifications"),
    )
]
