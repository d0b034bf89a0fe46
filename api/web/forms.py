"""Form pages (issue 15 item 2): the list of deployed forms and the form editor.

The editor (templates/form_editor.html, bundle vendor/form-editor.js with CodeMirror 6) edits a
form's JSON, checks it with `POST /api/v1/forms/check` (problems on their line), previews it with
`POST /forms/preview` — the HTML of the task page's own renderer (formrender + _form.html) — and
deploys it with `POST /api/v1/forms` as a new version. Everyone signed in reads the list (forms are
read by whoever sees a task); only process owners open the editor (engine/org/policy.py).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, render_template, request

from engine.errors import Invalid, NotFound
from engine.org import policy
from engine.services import forms as forms_service

from ..extensions import clock, db, settings
from . import formrender
from .base import page_blueprint, signin_required
from .helpers import me

bp = page_blueprint("forms")

# the form a new editor starts with: a text field and a choice (docs/forms.md)
STARTER: dict[str, Any] = {
    "title": "新表单",
    "type": "object",
    "required": ["content"],
    "properties": {
        "content": {"type": "string", "title": "内容", "x-widget": "textarea"},
        "result": {"type": "string", "title": "结果", "enum": ["agree", "disagree"], "enumNames": ["同意", "不同意"]},
    },
}


@bp.get("/forms")
@signin_required
def forms() -> Any:
    p = me()
    return render_template(
        "forms.html", forms=forms_service.list_forms(db()), may_edit=p.is_process_owner, zone=settings().zone
    )


@bp.get("/forms/edit")
@signin_required
def edit() -> Any:
    """The editor for `key` (its newest version, or `version`); a key not deployed yet (or none: one
    is made up, nobody types it) starts from STARTER."""
    policy.require_form_deployer(me())
    key = request.args.get("key") or f"form_{clock().now().strftime('%Y%m%d%H%M%S')}.json"
    key = forms_service.form_key(key)
    raw = request.args.get("version", "")
    version = int(raw) if raw.isdigit() else None
    try:
        info, content = forms_service.get_form(db(), key, version)
        versions = forms_service.versions(db(), key)
    except NotFound:
        if version is not None:
            raise
        info, content, versions = None, json.dumps(STARTER, ensure_ascii=False, indent=2), []
    return render_template("form_editor.html", key=key, info=info, content=content, versions=versions)


@bp.post("/forms/preview")
@signin_required
def preview() -> Any:
    """The form as the task page renders it (an HTML fragment); 422 with the problems (JSON) when
    the form cannot be used."""
    payload = request.get_json(silent=True)
    content = payload.get("schema") if isinstance(payload, dict) else None
    try:
        schema, _text = forms_service.check(content if content is not None else "")
    except Invalid as exc:
        from ..messages import api_language, details

        return jsonify({"problems": details(exc.details, api_language())}), 422
    form = formrender.build(schema, {}, zone=settings().zone)
    html = render_template("_form_preview.html", form=form, schema=schema)
    return Response(html, mimetype="text/html")
