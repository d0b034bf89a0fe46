"""三员分立 pages: accounts and roles for the security administrator (安全保密管理员), the audit log
for the security auditor (安全审计员). The same engine calls and rules as api/rest/security.py: granting a
second of the three separated roles is refused by `engine.org.nodes.grant`, whatever the path.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import or_, select

from engine.errors import Forbidden, SanjiError
from engine.models import ROLES, SEPARATED_ROLES, OrgNode, User
from engine.org import audit, confidential
from engine.org import nodes as org
from engine.org.nodes import ROLE_NAMES, Principal, SeparationOfDuties

from ..extensions import db, state
from ..rest.security import audit_filters, change_role, change_user, create_user
from .base import nav_item, page_blueprint, signin_required
from .helpers import TIER_LABELS, fail, me, paged

bp = page_blueprint("security")


def security_admin() -> Principal:
    p = me()
    if not p.is_security_admin:
        raise Forbidden("this needs the role security_admin", {"needs": ["security_admin"]})
    return p


def refused(err: SanjiError) -> None:
    if isinstance(err, SeparationOfDuties):
        db().rollback()
        flash(
            gettext(
                "Nobody holds two of the system administrator, the security administrator and the security "
                "auditor: the role was refused. (%(detail)s)",
                detail=err.message,
            ),
            "error",
        )
    else:
        fail(err)


@bp.get("/security/users")
@signin_required
def security_users() -> Any:
    security_admin()
    q = select(User).order_by(User.username)
    text = (request.args.get("q") or "").strip()[:64]
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        q = q.where(or_(User.username.ilike(like), User.display_name.ilike(like)))
    rows, pager = paged(q)
    return render_template(
        "security_users.html", users=[r[0] for r in rows], pager=pager, q=text, role_names=ROLE_NAMES
    )


@bp.post("/security/users")
@signin_required
def security_user_create() -> Any:
    p = security_admin()
    data = {k: request.form.get(k) or None for k in ("username", "display_name", "password", "email")}
    try:
        user = create_user(p, data)
        db().commit()
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("security.security_users"))
    flash(gettext("Account %(name)s created.", name=user.username), "success")
    return redirect(url_for("security.security_user", username=user.username))


@bp.get("/security/users/<username>")
@signin_required
def security_user(username: str) -> Any:
    security_admin()
    user = org.get_user(db(), username)
    nodes = (
        db()
        .execute(select(OrgNode.id, OrgNode.name, OrgNode.tier).where(OrgNode.active.is_(True)).order_by(OrgNode.path))
        .all()
    )
    names = {n.id: n.name for n in nodes}
    return render_template(
        "security_user.html",
        user=user,
        nodes=nodes,
        names=names,
        roles=ROLES,
        role_names=ROLE_NAMES,
        separated=SEPARATED_ROLES,
        tier_labels=TIER_LABELS,
    )


@bp.post("/security/users/<username>/<any(grant, revoke, active, name):action>")
@signin_required
def security_user_change(username: str, action: str) -> Any:
    p = security_admin()
    user = org.get_user(db(), username)
    try:
        if action in ("grant", "revoke"):
            change_role(
                p,
                user,
                {"role": request.form.get("role") or "", "node_id": request.form.get("node_id") or None},
                granting=action == "grant",
            )
        elif action == "active":
            change_user(p, user, {"active": request.form.get("active") == "true"})
        else:
            change_user(p, user, {"display_name": request.form.get("display_name") or ""})
        db().commit()
    except SanjiError as exc:
        refused(exc)
    else:
        flash(gettext("Saved."), "success")
    return redirect(url_for("security.security_user", username=username))


@bp.get("/audit")
@signin_required
def audit_log() -> Any:
    p = me()
    if not p.is_auditor:
        raise Forbidden("this needs the role auditor", {"needs": ["auditor"]})
    try:
        filters = audit_filters()
    except SanjiError as exc:
        fail(exc)
        filters = {}
    rows, pager = paged(audit.query(**filters))
    red = confidential.for_audit(state().forms.forms_dir)
    items = audit.rendered(db(), [r[0] for r in rows], red)
    f = {k: request.args.get(k, "") for k in ("type", "actor", "from", "to")}
    return render_template("audit.html", items=items, pager=pager, f=f)


NAV = [
    nav_item(
        "security.security_users",
        lazy_gettext("Accounts and roles"),
        order=80,
        prefix="/security",
        visible=lambda p: p.is_security_admin,
    ),
    nav_item(
        "security.audit_log", lazy_gettext("Audit log"), order=85, prefix="/audit", visible=lambda p: p.is_auditor
    ),
]
