"""发起: start a process by hand (the engine policy decides what each person may start)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from markupsafe import Markup, escape
from sqlalchemy import select

from engine.errors import Forbidden, SanjiError
from engine.models import HumanTask
from engine.org import policy
from engine.org.routing import can_act_on
from engine.services import definitions as definitions_service
from engine.services.definitions import StartCommand

from ..extensions import clock, db, runtime
from . import start_info
from .base import page_blueprint, signin_required
from .helpers import TIER_LABELS, fail, me, node_names

bp = page_blueprint("start")
# ---- 发起: start a process ----------------------------------------------------------------------------------


@bp.get("/start")
@signin_required
def start() -> Any:
    p = me()
    items = policy.startables(db(), p)
    fixed_names = node_names({s.fixed for s in items if s.fixed})
    descriptions = {s.definition.key: start_info.description(s.definition) for s in items}
    cadences = start_info.cadences({s.definition.key for s in items}, clock().now())
    return render_template(
        "start.html",
        items=items,
        fixed_names=fixed_names,
        tier_labels=TIER_LABELS,
        descriptions=descriptions,
        cadences=cadences,
    )


@bp.post("/start/<key>")
@signin_required
def start_process(key: str) -> Any:
    p = me()
    item = next((s for s in policy.startables(db(), p) if s.definition.key == key), None)
    if item is None:  # not offered: the API's refusal (404 not deployed, 403 not startable or not allowed)
        definitions_service.check_start(db(), p, StartCommand(key))
        raise Forbidden("you may not start {key!r}", key=key)
    d = item.definition
    variables: dict[str, Any] = {}
    node = (request.form.get("node") or "").strip()
    var = policy.CHOSEN_VARIABLE.get(item.tier)
    if var and not item.fixed:
        if node not in {n for n, _ in item.options}:
            flash(gettext("Choose the organisation the process is for."), "error")
            return redirect(url_for("start.start"))
        variables[var] = node
    title = (request.form.get("title") or "").strip()
    if title:
        variables["title"] = title[: policy.MAX_TITLE]
    command = StartCommand(d, variables)
    definitions_service.check_start(db(), p, command)  # the API's refusal (403) for what the page does not offer
    try:
        if request.form.get("confirmed") != "yes":
            # a start that creates more instances than its own asks first, saying what it creates
            preview = definitions_service.preview_start(runtime(), p, command)
            if preview.fans_out:
                return render_template(
                    "start_confirm.html",
                    d=d,
                    node=node,
                    node_name=node_names({node}).get(node, "") if node else "",
                    title=title,
                    summary=start_info.fan_out_summary(preview.instances),
                )
        inst = definitions_service.start(runtime(), p, command)
    except SanjiError as exc:
        fail(exc)
        return redirect(url_for("start.start"))
    link = Markup('<a href="{}" id="started-link">{}</a>').format(
        url_for("trace.instance", instance_id=inst.id), gettext("Open the new instance")
    )
    flash(Markup("{} {}").format(escape(gettext("Started: %(title)s", title=inst.title)), link), "success")
    mine = (
        db()
        .scalars(
            select(HumanTask).where(HumanTask.instance_id == inst.id, HumanTask.status == "open").order_by(HumanTask.id)
        )
        .all()
    )
    first = next((t for t in mine if can_act_on(p, t)), None)
    if first is not None:
        return redirect(url_for("tasks.task", task_id=first.id))
    return redirect(url_for("tasks.tasks"))
