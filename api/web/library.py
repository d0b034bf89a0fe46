"""Process library pages (流程库): every process with its versions, its diagram and deploy history;
the bpmn-js modeler (validate, deploy, download, compare) for process owners and admins; version
comparison; XML download; upload of a BPMN file; undeploy with a confirmation step.

Everyone signed in may read the list and the diagrams (the API's read rules); changing anything
needs the process_owner or admin role, as in the API. Routes parse input, call the engine,
commit, render. The diagrams are drawn by the bundles of docs/frontend.md, mounted from
`static/js/pages.js` (no inline scripts: the pages keep the web blueprint's CSP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import func, select

from engine.core import repository
from engine.errors import Forbidden, Invalid, NotFound, SanjiError, field_error
from engine.infra import events
from engine.models import EventLog, ProcessDefinition, ProcessInstance, Schedule
from engine.org.nodes import Principal
from engine.services import definitions as definitions_service
from engine.services import forms as forms_service
from engine.services.definitions import DefinitionFilter

from .. import messages
from ..extensions import clock, db, settings, state
from .base import current_language, nav_item, page_blueprint, signin_required
from .helpers import STATUS_LABELS, TIER_LABELS, fail, me
from .names import form_titles, process_names
from .timer_words import timer_words

bp = page_blueprint("library")


# deploy-related events shown in a process's history
DEPLOY_EVENTS = (
    "definition_deployed",
    "definition_unchanged",
    "definition_undeployed",
    "schedule_registered",
    "schedule_replaced",
    "schedule_removed",
)
DEPLOY_EVENT_LABELS = {
    "definition_deployed": lazy_gettext("Deployed"),
    "definition_unchanged": lazy_gettext("Deploy attempted: identical to the latest version"),
    "definition_undeployed": lazy_gettext("Undeployed"),
    "schedule_registered": lazy_gettext("Schedule registered"),
    "schedule_replaced": lazy_gettext("Schedule replaced"),
    "schedule_removed": lazy_gettext("Schedule removed"),
}
START_KINDS = {"none": lazy_gettext("by hand"), "timer": lazy_gettext("timer"), "message": lazy_gettext("message")}


def may_edit(p: Principal) -> bool:
    """Only process owners deploy: the system administrator reads instances (三员分立)."""
    return p.is_process_owner


def require_editor() -> Principal:
    p = me()
    if not may_edit(p):
        raise Forbidden("this needs the role process_owner or admin")
    return p


# columns of a definition without its XML and compiled spec
META = (
    ProcessDefinition.id,
    ProcessDefinition.key,
    ProcessDefinition.version,
    ProcessDefinition.name,
    ProcessDefinition.sha256,
    ProcessDefinition.filename,
    ProcessDefinition.deployed_by,
    ProcessDefinition.deployed_at,
    ProcessDefinition.active,
    ProcessDefinition.info,
)


@dataclass
class Entry:
    key: str
    name: str
    latest: Any  # a META row
    versions: int
    active: bool
    called_only: bool
    filename: str
    counts: dict[str, int] = field(default_factory=dict)
    schedules: int = 0
    callers: list[str] = field(default_factory=list)


# ---- the list ------------------------------------------------------------------------------------------


@bp.get("/processes")
@signin_required
def library() -> Any:
    return render_library()


def render_library(upload_error: dict[str, Any] | None = None, code: int = 200) -> Any:
    p = me()
    rows = db().execute(select(*META).order_by(ProcessDefinition.key, ProcessDefinition.version)).all()
    entries: dict[str, Entry] = {}
    for r in rows:
        info = r.info or {}
        e = entries.get(r.key)
        if e is None:
            e = entries[r.key] = Entry(r.key, r.name, r, 0, False, False, r.filename)
        e.latest, e.name, e.versions, e.filename = r, r.name, e.versions + 1, r.filename
        e.active = bool(r.active)
        e.called_only = bool(info.get("called_only"))
    callers: dict[str, set[str]] = {}
    for e in entries.values():
        for called in (e.latest.info or {}).get("calls", []):
            callers.setdefault(called, set()).add(e.key)
    for key, by in callers.items():
        if key in entries:
            entries[key].callers = sorted(by)
    for key, status, n in (
        db()
        .execute(
            select(ProcessInstance.process_key, ProcessInstance.status, func.count()).group_by(
                ProcessInstance.process_key, ProcessInstance.status
            )
        )
        .all()
    ):
        if key in entries:
            entries[key].counts[status] = int(n)
    for key, n in db().execute(select(Schedule.process_key, func.count()).group_by(Schedule.process_key)).all():
        if key in entries:
            entries[key].schedules = int(n)
    show = request.args.get("show", "")
    items = sorted(entries.values(), key=lambda e: (e.filename, e.called_only, e.key))
    listed = definitions_service.listed_keys(db(), DefinitionFilter(include_undeployed=show == "all"))
    items = [e for e in items if e.key in listed]
    hidden = len(entries) - len(items)
    names = {k: e.name for k, e in entries.items()}
    return render_template(
        "library.html",
        items=items,
        names=names,
        may_edit=may_edit(p),
        show=show,
        hidden=hidden,
        upload_error=upload_error,
        status_labels=STATUS_LABELS,
    ), code


@bp.post("/processes/upload")
@signin_required
def upload() -> Any:
    """Deploy an uploaded .bpmn file (process owners, admins): a new version of each process in it."""
    p = require_editor()
    chosen = [(u, str(u.filename)) for u in request.files.getlist("file") if u.filename]
    forms = [(u, n) for u, n in chosen if n.lower().endswith(".json")]  # issue 15: forms with the diagram
    diagrams = [(u, n) for u, n in chosen if not n.lower().endswith(".json")]
    if len(diagrams) != 1:
        flash(gettext("Choose a BPMN file."), "error")
        return redirect(url_for("library.library"))
    f, filename = diagrams[0]
    max_bytes = settings().max_bpmn_bytes
    data = f.read(max_bytes + 1)
    now = clock().now()
    try:
        if forms:
            result, _forms = forms_service.deploy_bundle(
                db(),
                p,
                (data, filename),
                [(n, u.read(max_bytes + 1)) for u, n in forms],
                now,
                state().forms,
                settings(),
            )
        else:
            result = repository.deploy(
                db(), data, filename, p.username, now, state().forms, max_bytes, settings=settings()
            )
    except Invalid as exc:
        db().rollback()
        lang = current_language()
        problems = [
            (d.get("element_id"), d.get("line"), messages.detail(d, lang).get("message") or str(d))
            if isinstance(d, dict)
            else (None, None, str(d))
            for d in (exc.details or [])
        ][:50]
        return render_library(
            upload_error={"filename": f.filename, "message": messages.message(exc, lang), "problems": problems},
            code=422,
        )
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("library.library"))
    events.log(
        db(),
        now,
        "definition_deployed" if result.created else "definition_unchanged",
        actor=p,
        payload={
            "filename": f.filename,
            "channel": "web",
            "definitions": [{"key": d.key, "version": d.version} for d in result.definitions],
        },
    )
    db().commit()
    what = ", ".join(f"{d.key} v{d.version}" for d in result.definitions)
    if result.created:
        flash(gettext("Deployed: %(what)s", what=what), "success")
    else:
        flash(gettext("Identical to the latest version: nothing deployed (%(what)s).", what=what), "info")
    lang = current_language()
    for w in result.warnings[:20]:  # engine/core/deploy_checks.py: deployed, but worth a look
        text = messages.detail(w.as_dict(), lang).get("message") or w.message
        flash(gettext("Warning on element %(element)s: %(text)s", element=w.element_id or "", text=text), "warn")
    first = result.definitions[0]
    return redirect(url_for("library.process", key=first.key))


# ---- one process ---------------------------------------------------------------------------------------


def versions_of(key: str) -> list[Any]:
    rows = (
        db().execute(select(*META).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())).all()
    )
    if not rows:
        raise NotFound("process {key!r} is not deployed", key=key)
    return list(rows)


def version_arg(rows: list[Any], name: str = "version") -> Any:
    raw = request.args.get(name, "")
    if raw:
        try:
            wanted = int(raw)
        except ValueError:
            raise Invalid(
                "{name} must be a version number", [field_error(name, "not a version number")], name=name
            ) from None
        for r in rows:
            if r.version == wanted:
                return r
        raise NotFound("process {key!r} has no version {version}", key=rows[0].key, version=wanted)
    return rows[0]


@dataclass
class HistoryItem:
    at: datetime
    kind: str
    label: str
    actor: str | None
    version: int | None = None
    sha256: str | None = None
    filename: str | None = None
    detail: str = ""


def deploy_history(key: str, rows: list[Any]) -> list[HistoryItem]:
    """Versions from the definitions table, with the deploy-related events of the event log."""
    items = [
        HistoryItem(
            r.deployed_at,
            "version",
            str(DEPLOY_EVENT_LABELS["definition_deployed"]),
            r.deployed_by,
            r.version,
            r.sha256,
            r.filename,
        )
        for r in rows
    ]
    evs = (
        db()
        .scalars(select(EventLog).where(EventLog.type.in_(DEPLOY_EVENTS)).order_by(EventLog.id.desc()).limit(2000))
        .all()
    )
    for e in evs:
        payload = e.payload or {}
        keys = {d.get("key") for d in payload.get("definitions", []) if isinstance(d, dict)}
        if payload.get("key") != key and payload.get("process_key") != key and key not in keys:
            continue
        if e.type == "definition_deployed":
            continue  # the version row above says it (with the same actor and time)
        detail = ""
        if e.type == "definition_undeployed":
            detail = payload.get("reason") or ""
        elif e.type.startswith("schedule_"):
            detail = " ".join(
                str(x) for x in (payload.get("start_event"), payload.get("expression"), payload.get("reason")) if x
            )
        items.append(
            HistoryItem(
                e.at,
                e.type,
                str(DEPLOY_EVENT_LABELS.get(e.type, e.type)),
                e.actor,
                payload.get("version"),
                None,
                payload.get("filename"),
                detail,
            )
        )
    items.sort(key=lambda i: (i.at, i.kind != "version"), reverse=True)
    return items


@bp.get("/processes/<key>")
@signin_required
def process(key: str) -> Any:
    p = me()
    rows = versions_of(key)
    shown = version_arg(rows)
    latest = rows[0]
    counts: dict[int, dict[str, int]] = {}
    for def_id, status, n in (
        db()
        .execute(
            select(ProcessInstance.definition_id, ProcessInstance.status, func.count())
            .where(ProcessInstance.process_key == key)
            .group_by(ProcessInstance.definition_id, ProcessInstance.status)
        )
        .all()
    ):
        counts.setdefault(def_id, {})[status] = int(n)
    schedules = (
        db().scalars(select(Schedule).where(Schedule.process_key == key).order_by(Schedule.start_event_id)).all()
    )
    info = shown.info or {}
    callers = sorted(
        {
            k
            for k, i in db()
            .execute(select(ProcessDefinition.key, ProcessDefinition.info).where(ProcessDefinition.active.is_(True)))
            .all()
            if key in (i or {}).get("calls", [])
        }
    )
    return render_template(
        "process.html",
        key=key,
        rows=rows,
        shown=shown,
        latest=latest,
        info=info,
        counts=counts,
        history=deploy_history(key, rows),
        schedules=schedules,
        may_edit=may_edit(p),
        tier_labels=TIER_LABELS,
        status_labels=STATUS_LABELS,
        start_kinds=START_KINDS,
        callers=callers,
        process_names=process_names(callers),
        form_titles=form_titles([t.get("form") for t in info.get("user_tasks", []) if t.get("form")]),
        timer_words=timer_words,
        xml_url=url_for("api_definitions.definition_xml", key=key, version=shown.version),
    )


@bp.get("/processes/<key>/v<int:version>.bpmn")
@signin_required
def download(key: str, version: int) -> Any:
    d = repository.get_version(db(), key, version)
    return Response(
        d.xml,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{d.key}-v{d.version}.bpmn"'},
    )


@bp.get("/processes/<key>/compare")
@signin_required
def compare(key: str) -> Any:
    rows = versions_of(key)
    if len(rows) < 2:
        flash(gettext("There is only one version: nothing to compare."), "info")
        return redirect(url_for("library.process", key=key))
    to_row = version_arg(rows, "to")
    older = [r for r in rows if r.version < to_row.version]
    from_row = version_arg(rows, "from") if request.args.get("from") else (older[0] if older else rows[-1])
    return render_template("compare.html", key=key, rows=rows, name=rows[0].name, from_row=from_row, to_row=to_row)


# ---- the modeler ----------------------------------------------------------------------------------------


@bp.get("/processes/<key>/edit")
@signin_required
def edit(key: str) -> Any:
    require_editor()
    rows = versions_of(key)
    shown = version_arg(rows)
    return render_template(
        "modeler.html", key=key, version=shown.version, name=shown.name, latest=rows[0].version, rows=rows
    )


@bp.get("/processes/new")
@signin_required
def new() -> Any:
    require_editor()
    return render_template("modeler.html", key=None, version=None, name=None, latest=None, rows=[])


# ---- undeploy ----------------------------------------------------------------------------------------------


@bp.route("/processes/<key>/undeploy", methods=["GET", "POST"])
@signin_required
def undeploy(key: str) -> Any:
    p = require_editor()
    rows = versions_of(key)
    if not any(r.active for r in rows):
        flash(gettext("%(key)s is already undeployed.", key=key), "info")
        return redirect(url_for("library.process", key=key))
    running = (
        db().scalar(
            select(func.count())
            .select_from(ProcessInstance)
            .where(ProcessInstance.process_key == key, ProcessInstance.status.in_(("running", "suspended", "error")))
        )
        or 0
    )
    schedules = db().scalars(select(Schedule).where(Schedule.process_key == key)).all()
    reason = (request.form.get("reason") or "").strip()[:500]
    if request.method == "GET" or request.form.get("confirmed") != "yes":
        return render_template(
            "undeploy.html", key=key, name=rows[0].name, running=running, schedules=schedules, reason=reason
        )
    if not reason:
        return render_template(
            "undeploy.html",
            key=key,
            name=rows[0].name,
            running=running,
            schedules=schedules,
            reason=reason,
            error=gettext("Give a reason."),
        ), 422
    now = clock().now()
    try:
        versions = repository.undeploy(db(), key, now)
        events.log(
            db(),
            now,
            "definition_undeployed",
            actor=p,
            payload={"key": key, "versions": [d.version for d in versions], "reason": reason, "channel": "web"},
        )
        db().commit()
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("library.process", key=key))
    flash(gettext("%(key)s was undeployed: it no longer starts; running instances go on.", key=key), "success")
    return redirect(url_for("library.process", key=key))


NAV = [
    nav_item(
        "library.library",
        lazy_gettext("Processes"),
        order=50,
        prefix="/processes",
        visible=lambda p: p.is_admin or p.is_process_owner or bool(p.committee_nodes()),
    )
]
