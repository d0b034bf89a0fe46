"""The linkage platform's pages (搭建平台): notifications, bulletin, study records, profiles and
the leading group. Each part is a module of its own on the web blueprint; this one holds what
they share and loads them (`app.py` imports it before `web.init_app` registers the blueprint).

The pages call the same engine functions as the JSON APIs of api/notifications.py,
api/bulletin.py, api/study.py and api/people.py, so they enforce the same visibility rules.
"""
from __future__ import annotations

import re
from typing import Callable

from flask import g, request
from flask_babel import gettext

from engine.infra.db import _write_intent
from engine.errors import Invalid
from engine.org.nodes import Principal

from .web import bp, signed_in

# GET pages that always write (opening a notification marks it read): declare write intent before
# the first statement, as mutating requests do, so SQLite begins IMMEDIATE instead of upgrading a
# read transaction mid-way. Pages that write only sometimes (a post's first reading, a task page
# with unread notifications) read first, end that transaction, and write in one of their own.
WRITING_GETS = {"web.notification_open"}


@bp.before_request
def _write_intent_for_reading_pages() -> None:
    if request.method == "GET" and request.endpoint in WRITING_GETS and "_sanji_session" not in g:
        _write_intent.set(True)  # reset with the request's own token at teardown


def in_organisation(p: Principal) -> bool:
    """Holds a role on an org node (or is an admin): the bulletin and the leading group are theirs."""
    return p.is_admin or any(r.node_id for r in p.roles)


def me() -> Principal:
    p = signed_in()
    assert p is not None
    return p


# The engine's field messages (English, for API callers) as the pages say them; others are shown as they are.
MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"required text of at most (\d+) characters"),
     lambda m: gettext("Required, at most %(n)s characters.", n=m.group(1))),
    (re.compile(r"an ISO date, e\.g\. .*"), lambda m: gettext("A date such as 2027-01-05.")),
    (re.compile(r"cannot be in the future|a meeting that has taken place.*"),
     lambda m: gettext("Cannot be in the future.")),
    (re.compile(r"entries can be made up for at most (\d+) days"),
     lambda m: gettext("Entries can be made up for at most %(n)s days.", n=m.group(1))),
    (re.compile(r"unknown users: (.*)"), lambda m: gettext("Unknown users: %(names)s", names=m.group(1))),
    (re.compile(r"the robot's webhook address.*"),
     lambda m: gettext("The group robot's webhook address, starting with https:// or http://.")),
    (re.compile(r"a non-empty list of .*"), lambda m: gettext("Choose at least one.")),
    (re.compile(r"a list of e-mail addresses"), lambda m: gettext("E-mail addresses, one per line.")),
    (re.compile(r"give at least one address, or set email_users"),
     lambda m: gettext("Give at least one address, or e-mail the people concerned.")),
    (re.compile(r"only DingTalk robots are signed with a secret"),
     lambda m: gettext("Only DingTalk robots are signed with a secret.")),
    (re.compile(r"one of [a-z_, ]+( \(.*\))?"), lambda m: gettext("Choose one of the listed values.")),
    (re.compile(r"true or false"), lambda m: gettext("Yes or no.")),
    (re.compile(r"markdown or text"), lambda m: gettext("Markdown or plain text.")),
    (re.compile(r"text of at most (\d+) characters"), lambda m: gettext("At most %(n)s characters.", n=m.group(1))),
    (re.compile(r"you hold roles on several org nodes: choose one of .*"),
     lambda m: gettext("You hold roles on several org units: choose the one you post for.")),
    (re.compile(r"you may post only for an org node you hold a role on"),
     lambda m: gettext("You may post only for an org unit you hold a role on.")),
    (re.compile(r"the group \(everyone\) or one unit"), lambda m: gettext("Everyone, or one unit.")),
    (re.compile(r"a unit or branch posts for everyone or for its own unit"),
     lambda m: gettext("A unit or branch posts for everyone or for its own unit.")),
    (re.compile(r"notices \(通知公告\) are posted by the group or a unit committee"),
     lambda m: gettext("Notices (通知公告) are posted by the group or a unit committee.")),
    (re.compile(r"only the author changes a post"), lambda m: gettext("Only the author changes a post.")),
    (re.compile(r"only the group committee pins posts"), lambda m: gettext("Only the group committee pins posts.")),
    (re.compile(r"not an org node"), lambda m: gettext("Not an org unit.")),
    (re.compile(r"a branch uses the channels of its unit; configure the unit"),
     lambda m: gettext("A branch uses its unit's channels: configure them for the unit.")),
    (re.compile(r"a year between (\d+) and (\d+)"),
     lambda m: gettext("A year between %(a)s and %(b)s.", a=m.group(1), b=m.group(2))),
]


def say(message: str) -> str:
    for pattern, text in MESSAGES:
        m = pattern.fullmatch(message)
        if m:
            return text(m)
    return message


def field_errors(exc: Invalid) -> dict[str, str]:
    """{field: message} of an engine Invalid error (the field a bad form input names)."""
    out: dict[str, str] = {}
    for d in exc.details or []:
        if isinstance(d, dict) and d.get("field"):
            out.setdefault(str(d["field"]), say(str(d.get("message") or exc.message)))
    if not out:
        out["_"] = say(exc.message)
    return out


def form_text(name: str) -> str | None:
    """A form field's text, None when absent or blank (the engine then reports the field)."""
    value = request.form.get(name)
    return value if value is not None and value.strip() else None


def checkbox(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "yes")


from . import web_bulletin, web_notify, web_study  # noqa: E402,F401 - the pages, on bp
