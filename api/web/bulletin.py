"""Bulletin pages (通知公告 / 经验交流): the list with search and kind filter, posting (any tier;
notices by committees), the post page that records the read receipt, and read receipts per unit.

Visibility is the API's (engine/platform/bulletin.py): a post is read by its audience (everyone, or one
unit); receipt counts are shown to the author and to committee members, names as
`bulletin.receipts` allows (author, group committee, a unit committee for its own unit).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from engine.errors import Forbidden, Invalid, SanjiError
from engine.infra.db import write_intent
from engine.models import OrgNode
from engine.org import nodes as org
from engine.org import policy
from engine.org.nodes import ROLE_NAMES, Principal
from engine.platform import bulletin
from engine.services import bulletin as service
from engine.services.bulletin import BulletinFilter, PostCommand
from engine.services.paging import PageRequest

from ..extensions import clock, db
from .base import nav_item, page_blueprint, signin_required
from .helpers import PER_PAGE, checkbox, fail, field_errors, in_organisation, me, page_number, pager, say

bp = page_blueprint("bulletin")


def unread_posts(p: Principal) -> int:
    try:
        return service.unread_count(db(), p)
    except SanjiError:  # no organisation loaded yet: no posts
        return 0


KIND_LABELS = {
    "notice": lazy_gettext("Notice"),
    "experience": lazy_gettext("Experience"),
    "study": lazy_gettext("Study material"),
    "work": lazy_gettext("Work information"),
}


def sees_receipts(p: Principal, author_id: int) -> bool:
    return policy.sees_receipts(p, author_id)


@bp.get("/bulletin")
@signin_required
def bulletin_list() -> Any:
    p = me()
    text, kind = request.args.get("q", "").strip()[:200], request.args.get("kind", "")
    unread_only = request.args.get("unread") == "1"
    f = BulletinFilter(text, kind if kind in bulletin.KINDS else None, unread_only)
    pg = service.list_posts(db(), p, f, PageRequest(page_number(), PER_PAGE))
    return render_template(
        "platform/bulletin.html",
        posts=pg.items,
        pager=pager(pg, "bulletin.bulletin_list"),
        q=text,
        kind=kind,
        unread_only=unread_only,
        kinds=KIND_LABELS,
        filtered=bool(text or kind or unread_only),
    )


def post_options(p: Principal) -> dict[str, Any]:
    """Org nodes the user posts for, and audiences (everyone, or a unit)."""
    nodes = {r.node_id for r in p.roles if r.node_id}
    rows = db().scalars(select(OrgNode).where(OrgNode.id.in_(nodes)).order_by(OrgNode.path)).all() if nodes else []
    group = org.group_root(db())
    units = {bulletin.unit_of(n) for n in rows} - {None}
    if any(n.tier == "group" for n in rows):
        units = {u.id for u in org.units(db())}
    audience = [(group.id, gettext("Everyone"))] + [
        (u.id, u.name) for u in db().scalars(select(OrgNode).where(OrgNode.id.in_(units)).order_by(OrgNode.sort))
    ]
    committee = {r.node_id for r in p.committee_nodes()}
    return {
        "nodes": [(n.id, n.name) for n in rows],
        "audience": audience,
        "may_notice": bool(committee & nodes),
        "may_pin": policy.may_pin(p),
    }


def refused(exc: Invalid | Forbidden) -> tuple[dict[str, str], int]:
    """A refused post or change: nothing is kept; the field errors (a refusal is about the kind:
    notices are for committees) and the status to answer the form with."""
    db().rollback()
    if isinstance(exc, Invalid):
        return field_errors(exc), 422
    return {"kind": say(exc)}, 403


@bp.route("/bulletin/new", methods=["GET", "POST"])
@signin_required
def bulletin_new() -> Any:
    p = me()
    options = post_options(p)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"kind": request.args.get("kind", "experience")}
    status = 200
    if request.method == "POST":
        values = {
            "kind": request.form.get("kind", ""),
            "title": request.form.get("title", ""),
            "body": request.form.get("body", ""),
        }
        data: dict[str, Any] = dict(values)
        for name in ("node_id", "audience_node_id"):
            if request.form.get(name):
                data[name] = values[name] = request.form[name]
        if checkbox("pinned"):
            data["pinned"] = values["pinned"] = True
        try:
            post = service.create(db(), p, PostCommand(data, read_by_author=True), clock().now())
        except (Invalid, Forbidden) as exc:
            errors, status = refused(exc)
        else:
            flash(gettext("Posted."), "success")
            return redirect(url_for("bulletin.bulletin_post", post_id=post["id"]))
    return render_template(
        "platform/bulletin_new.html",
        options=options,
        errors=errors,
        values=values,
        kinds=KIND_LABELS,
        max_title=bulletin.MAX_TITLE,
        max_body=bulletin.MAX_BODY,
    ), status


@bp.get("/bulletin/<int:post_id>")
@signin_required
def bulletin_post(post_id: int) -> Any:
    """The post; opening it records the read receipt."""
    p = me()
    post_id = post_id if post_id < 2**31 else 0
    item = bulletin.get(db(), p, post_id)
    if not service.has_read(db(), p, item):  # the first reading writes the receipt
        db().rollback()
        with write_intent():
            service.read(db(), p, post_id, clock().now())
        item = bulletin.get(db(), p, post_id)
    post = bulletin.post_json(db(), p, item, full=True)
    receipts = bulletin.receipts(db(), p, item) if sees_receipts(p, item.author_id) else None
    return render_template(
        "platform/bulletin_post.html",
        post=post,
        receipts=receipts,
        kinds=KIND_LABELS,
        may_delete=policy.may_change_post(p, item.author_id),
        may_edit=policy.may_change_post(p, item.author_id),
        may_pin=policy.may_pin(p),
        role_names=ROLE_NAMES,
    )


@bp.route("/bulletin/<int:post_id>/edit", methods=["GET", "POST"])
@signin_required
def bulletin_edit(post_id: int) -> Any:
    """The author (or an admin) changes kind, title and text; the same rules as PATCH on the API."""
    p = me()
    item = bulletin.get(db(), p, post_id if post_id < 2**31 else 0)
    if not policy.may_change_post(p, item.author_id):
        fail(Forbidden("only the author changes a post"))
        return redirect(url_for("bulletin.bulletin_post", post_id=item.id))
    options = post_options(p)
    values: dict[str, Any] = {"kind": item.kind, "title": item.title, "body": item.body}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = {
            "kind": request.form.get("kind", ""),
            "title": request.form.get("title", ""),
            "body": request.form.get("body", ""),
        }
        try:
            service.change(db(), p, item.id, dict(values), clock().now(), log=True)
        except (Invalid, Forbidden) as exc:
            errors, status = refused(exc)
        else:
            flash(gettext("The post was changed."), "success")
            return redirect(url_for("bulletin.bulletin_post", post_id=item.id))
    return render_template(
        "platform/bulletin_edit.html",
        post_id=item.id,
        options=options,
        errors=errors,
        values=values,
        kinds=KIND_LABELS,
        max_title=bulletin.MAX_TITLE,
        max_body=bulletin.MAX_BODY,
    ), status


@bp.post("/bulletin/<int:post_id>/delete")
@signin_required
def bulletin_delete(post_id: int) -> Any:
    p = me()
    item = bulletin.get(db(), p, post_id if post_id < 2**31 else 0)
    try:
        service.delete(db(), p, item.id, clock().now())
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("bulletin.bulletin_post", post_id=post_id))
    flash(gettext("The post was deleted."), "success")
    return redirect(url_for("bulletin.bulletin_list"))


@bp.post("/bulletin/<int:post_id>/pin")
@signin_required
def bulletin_pin(post_id: int) -> Any:
    p = me()
    item = bulletin.get(db(), p, post_id if post_id < 2**31 else 0)
    try:
        service.toggle_pin(db(), p, item.id, clock().now())
    except SanjiError as exc:
        fail(exc)
    return redirect(url_for("bulletin.bulletin_post", post_id=post_id))


NAV = [
    nav_item(
        "bulletin.bulletin_list",
        lazy_gettext("Bulletin"),
        order=60,
        badge=unread_posts,
        prefix="/bulletin",
        visible=in_organisation,
        badge_id="bulletin-badge",
        badge_title=lazy_gettext("Unread posts"),
    )
]
