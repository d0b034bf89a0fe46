"""Process definitions: list, deploy, versions, XML, start by hand."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select

from engine.core import repository
from engine.errors import Invalid, NotFound, field_error
from engine.infra import events
from engine.models import ProcessDefinition
from engine.services import definitions as definitions_service
from engine.services import forms as forms_service
from engine.services.definitions import DefinitionFilter, StartCommand

from ..auth import current_principal, login_required, roles_required
from ..extensions import clock, db, runtime, settings, state
from .common import body, commit, int_arg, iso, page, page_json, page_request
from .diagrams import problems_json
from .forms import form_json
from .instances import instance_json

bp = Blueprint("api_definitions", __name__, url_prefix="/api/v1")


# ---- process definitions ---------------------------------------------------------------------------


def definition_json(d: ProcessDefinition, detail: bool = False) -> dict[str, Any]:
    out = {
        "id": d.id,
        "key": d.key,
        "name": d.name,
        "version": d.version,
        "sha256": d.sha256,
        "filename": d.filename,
        "deployed_by": d.deployed_by,
        "deployed_at": iso(d.deployed_at),
        "active": d.active,
        "called_only": bool((d.info or {}).get("called_only")),
        "start_events": (d.info or {}).get("start_events", []),
        "documentation": (d.info or {}).get("documentation", ""),
    }
    if detail:
        out.update(
            lanes=d.info.get("lanes", []), user_tasks=d.info.get("user_tasks", []), calls=d.info.get("calls", [])
        )
    return out


@bp.get("/process-definitions")
@login_required
def definitions() -> Response:
    pg = definitions_service.list_definitions(db(), DefinitionFilter(), page_request())
    return page_json(pg, definition_json)


@bp.post("/process-definitions")
@roles_required("process_owner")
def deploy() -> tuple[Response, int]:
    max_bytes = settings().max_bpmn_bytes
    if request.content_length and request.content_length > max_bytes + 64 * 1024:
        from engine.errors import TooLarge

        raise TooLarge(
            "the upload is {size} bytes; the BPMN limit is {max_bytes} bytes",
            size=request.content_length,
            max_bytes=max_bytes,
        )
    form_files: list[tuple[str, bytes]] = []
    if request.mimetype in ("multipart/form-data",):
        # issue 15: one .bpmn (field `file`, or any field) and any .json forms, deployed together
        uploads = [f for name in request.files for f in request.files.getlist(name)]
        form_files = [(f.filename or "", f.read(max_bytes + 1)) for f in uploads if _is_form(f.filename)]
        diagrams = [f for f in uploads if not _is_form(f.filename)]
        named = request.files.get("file")
        upload = named if named is not None and not _is_form(named.filename) else None
        upload = upload or (diagrams[0] if len(diagrams) == 1 else None)
        if upload is None:
            raise Invalid("multipart upload needs a field named file", [field_error("file", "missing")])
        data, filename = upload.read(max_bytes + 1), upload.filename or "upload.bpmn"
    elif request.mimetype in ("application/xml", "text/xml", "application/bpmn+xml"):
        data, filename = request.get_data(cache=False), request.args.get("filename", "upload.bpmn")
    else:
        from engine.errors import SanjiError

        err = SanjiError("send the BPMN as application/xml or as multipart field 'file'")
        err.status, err.code = 415, "unsupported_media_type"
        raise err
    p = current_principal()
    forms: list[Any] = []
    if form_files:
        result, forms = forms_service.deploy_bundle(
            db(), p, (data, filename), form_files, clock().now(), state().forms, settings()
        )
    else:
        result = repository.deploy(
            db(), data, filename, p.username, clock().now(), state().forms, max_bytes, settings=settings()
        )
    events.log(
        db(),
        clock().now(),
        "definition_deployed" if result.created else "definition_unchanged",
        actor=p,
        payload={
            "filename": filename,
            "definitions": [{"key": d.key, "version": d.version} for d in result.definitions],
            **({"forms": [{"key": f.form.key, "version": f.form.version} for f in forms]} if forms else {}),
        },
    )
    commit()
    created = result.created or any(f.created for f in forms)
    out: dict[str, Any] = {
        "created": created,
        "definitions": [definition_json(d, True) for d in result.definitions],
        "warnings": problems_json(result.warnings),
    }
    if forms:
        out["forms"] = [form_json(f.form) | {"created": f.created} for f in forms]
    return jsonify(out), 201 if created else 200


def _is_form(filename: str | None) -> bool:
    return bool(filename) and str(filename).lower().endswith(".json")


@bp.get("/process-definitions/<key>")
@login_required
def definition(key: str) -> Response:
    return jsonify(definition_json(repository.latest(db(), key), True))


@bp.get("/process-definitions/<key>/versions")
@login_required
def definition_versions(key: str) -> Response:
    q = select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())
    if db().scalar(select(func.count()).select_from(q.subquery())) == 0:
        raise NotFound("process {key!r} is not deployed", key=key)
    return page(q, lambda r: definition_json(r[0]))


@bp.get("/process-definitions/<key>/xml")
@login_required
def definition_xml(key: str) -> Response:
    version = request.args.get("version")
    if version:
        d = repository.get_version(db(), key, int_arg("version", 1))
    else:
        d = repository.latest(db(), key, active_only=False)
    return Response(
        d.xml,
        mimetype="application/xml",
        headers={"Content-Disposition": f'inline; filename="{d.key}-v{d.version}.bpmn"'},
    )


@bp.post("/process-definitions/<key>/start")
@login_required
def start(key: str) -> tuple[Response, int]:
    data = body()
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise Invalid("variables must be a JSON object", [field_error("variables", "expected an object")])
    p = current_principal()
    d = repository.latest(db(), key)
    start_event = data.get("start_event")
    if start_event is not None and not isinstance(start_event, str):
        raise Invalid("start_event must be a string", [field_error("start_event", "expected a string")])
    # refusals are 403 (api/errors.py writes the access_refused event) or 422 naming the field
    inst = definitions_service.start(runtime(), p, StartCommand(d, variables, start_event))
    return jsonify(instance_json(inst, p, detail=True)), 201
