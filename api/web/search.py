"""The search page (issue 18): the header's search box leads here. Without a kind it shows the
first hits of every kind with a link to all of them; with a kind, one page of that kind — the
same rows as `GET /api/v1/search` for the same words and kind (engine/services/search.py)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask_babel import lazy_gettext

from engine.errors import Invalid
from engine.services import search as service
from engine.services.paging import PageRequest
from engine.services.search import Hit, SearchFilter

from ..extensions import db, redactor
from ..rest.search import note_confidential
from .base import page_blueprint, signin_required
from .helpers import PER_PAGE, field_errors, me, page_number, pager

bp = page_blueprint("search")

LABELS = {
    "task": lazy_gettext("Tasks found"),
    "instance": lazy_gettext("Processes found"),
    "clue": lazy_gettext("Clues found"),
    "report": lazy_gettext("Reports found"),
    "post": lazy_gettext("Posts found"),
    "person": lazy_gettext("People found"),
}
PER_KIND = 5


def link(h: Hit) -> str | None:
    """Where a hit is read: the page of the task, instance, clue, post or person; a report on the
    page of the instance that wrote it."""
    if h.kind == "task":
        return url_for("tasks.task", task_id=h.id)
    if h.kind == "instance":
        return url_for("trace.instance", instance_id=h.id)
    if h.kind == "clue":
        return url_for("dashboard.register_clue", clue_id=h.id)
    if h.kind == "report":
        return url_for("trace.instance", instance_id=int(h.ref)) if h.ref else None
    if h.kind == "post":
        return url_for("bulletin.bulletin_post", post_id=h.id)
    return url_for("study.person", username=h.ref) if h.ref else None


@bp.get("/search")
@signin_required
def search_page() -> Any:
    p = me()
    q = request.args.get("q", "").strip()
    kind = request.args.get("kind") or None
    groups: list[Any] = []
    pg = None
    error = None
    status = 200
    if q or kind:
        try:
            f = SearchFilter(q, kind)
            if kind:
                pg = service.search(db(), p, f, PageRequest(page_number(), PER_PAGE))
                shown = pg.items
            else:
                groups = service.overview(db(), p, q, PER_KIND)
                shown = [h for g in groups for h in g.hits]
            note_confidential(shown, redactor(p).active)
        except Invalid as exc:
            error = next(iter(field_errors(exc).values()), "")
            status = 422
    return render_template(
        "search.html",
        q=q,
        kind=kind,
        groups=groups,
        page=pg,
        pager=pager(pg, "search.search_page") if pg is not None else None,
        labels=LABELS,
        link=link,
        error=error,
    ), status
