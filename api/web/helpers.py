"""The linkage platform's pages (搭建平台): notifications, bulletin, study records, profiles and
the leading group. Each part is a module of its own on the web blueprint; this one holds what
they share and loads them (`app.py` imports it before `web.init_app` registers the blueprint).

The pages call the same engine functions as the JSON APIs of api/rest/notifications.py,
api/rest/bulletin.py, api/rest/study.py and api/rest/people.py, so they enforce the same visibility rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import flash, request, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from sqlalchemy import Select, select

from engine.errors import SanjiError
from engine.models import OrgNode
from engine.org import policy
from engine.org.nodes import Principal
from engine.services import task_view
from engine.services.paging import Page, PageRequest, fetch

from .. import messages
from ..extensions import db, settings
from .base import current_language, error_message, signed_in


def in_organisation(p: Principal) -> bool:
    """Holds a role on an org node (or is an admin): the bulletin and the leading group are theirs."""
    return policy.in_organisation(p)


def me() -> Principal:
    p = signed_in()
    assert p is not None
    return p


def say(err: SanjiError) -> str:
    """An engine error's sentence in the page's language (from the catalog; no field id), or the
    translated lead sentence of its kind while the catalog does not know the message."""
    return messages.page_message(err, current_language()) or error_message(err)


def field_errors(exc: SanjiError) -> dict[str, str]:
    """{field: message} of an engine Invalid error in the page's language (`_` when no field)."""
    return messages.field_messages(exc, current_language())


def form_text(name: str) -> str | None:
    """A form field's text, None when absent or blank (the engine then reports the field)."""
    value = request.form.get(name)
    return value if value is not None and value.strip() else None


def checkbox(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "yes")


PER_PAGE = 30


TIER_LABELS = {
    "group": lazy_gettext("Group committee"),
    "unit": lazy_gettext("Unit committee"),
    "branch": lazy_gettext("Branch commissioner"),
    "department": lazy_gettext("Functional department"),
}


EVENT_LABELS = {
    "instance_started": lazy_gettext("Process started"),
    "instance_completed": lazy_gettext("Process completed"),
    "instance_suspended": lazy_gettext("Process suspended"),
    "instance_resumed": lazy_gettext("Process resumed"),
    "instance_terminated": lazy_gettext("Process terminated"),
    "task_created": lazy_gettext("Task assigned"),
    "task_completed": lazy_gettext("Task completed"),
    "task_sent_back": lazy_gettext("Sent back"),
    "task_claimed": lazy_gettext("Claimed"),
    "task_unclaimed": lazy_gettext("Released"),
    "task_assigned": lazy_gettext("Reassigned"),
    "task_handed_over": lazy_gettext("Handed over"),
    "task_urged": lazy_gettext("Urged"),
    "task_cancelled": lazy_gettext("Task cancelled"),
    "timer_fired": lazy_gettext("Timer fired"),
    "incident": lazy_gettext("Error"),
    "incident_retried": lazy_gettext("Retried"),
    "message_delivered": lazy_gettext("Message sent"),
    "attachment_downloaded": lazy_gettext("Attachment downloaded"),
    "attachments_bound": lazy_gettext("Attachments added"),
    "confidential_viewed": lazy_gettext("Confidential content viewed"),
    "approval_requested": lazy_gettext("Submitted for approval"),
    "approval_approved": lazy_gettext("Approved"),
    "approval_returned": lazy_gettext("Returned by the approver"),
    "collective_recorded": lazy_gettext("Collective decision recorded"),
    "task_signed": lazy_gettext("Signed"),
    "task_copied": lazy_gettext("Copied"),
}


STATUS_LABELS = {
    "running": lazy_gettext("running"),
    "suspended": lazy_gettext("suspended"),
    "error": lazy_gettext("stopped by an error"),
    "completed": lazy_gettext("completed"),
    "terminated": lazy_gettext("terminated"),
}


def paged(q: Select[Any]) -> tuple[list[Any], dict[str, Any]]:
    """One page of `q` (the API's pager, engine/services/paging.py) and its links."""
    pg = fetch(db(), q, PageRequest(page_number(), PER_PAGE))
    return pg.items, pager(pg, request.endpoint or "tasks.tasks")


def node_names(ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(db().execute(select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(ids))).all())


def due_text(due: datetime | None, now: datetime) -> tuple[bool, str]:
    if due is None:
        return False, ""
    zone = settings().zone
    days = (due.astimezone(zone).date() - now.astimezone(zone).date()).days
    if due < now:
        if days >= 0:
            return True, gettext("Overdue")
        return True, ngettext("Overdue by %(num)s day", "Overdue by %(num)s days", -days)
    if days == 0:
        return False, gettext("Due today")
    if days == 1:
        return False, gettext("Due tomorrow")
    return False, ngettext("%(num)s day left", "%(num)s days left", days)


def fail(err: SanjiError) -> None:
    """Show an engine refusal as a flash message (translated lead, engine text as detail)."""
    db().rollback()
    detail = messages.page_message(err, current_language())
    flash(f"{error_message(err)} ({detail})" if detail else error_message(err), "error")


def display_names(usernames: set[str]) -> dict[str, str]:
    return task_view.display_names(db(), usernames)


def require_admin() -> Principal:
    p = me()
    policy.require_admin(p)
    return p


def page_number(name: str = "page") -> int:
    try:
        return max(1, int(request.args.get(name, "1")))
    except ValueError:
        return 1


def pager(pg: Page[Any], endpoint: str, name: str = "page", **args: Any) -> dict[str, Any]:
    """The links of a page (the other query arguments kept), for templates/_pager.html."""
    keep: dict[str, Any] = {k: v for k, v in request.args.items() if k != name and v}
    keep.update(args)
    page, pages = pg.page, pg.pages
    return {
        "page": page,
        "pages": pages,
        "total": pg.total,
        "prev": url_for(endpoint, **{**keep, name: page - 1}) if page > 1 else None,
        "next": url_for(endpoint, **{**keep, name: page + 1}) if page < pages else None,
    }
