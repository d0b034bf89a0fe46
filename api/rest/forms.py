"""Forms as deployed resources (issue 15): deploy a version, list, read, check without storing.

`POST /api/v1/forms` takes `{"key", "schema"}` (the schema as an object or as JSON text) or a
multipart `.json` file (`file`; the key is its name unless a `key` field says otherwise): 201 with
the new version, 200 with the existing one when the content is unchanged. Only process owners
deploy; anyone signed in reads. Logic in engine/services/forms.py.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.errors import Invalid, field_error
from engine.infra import events
from engine.services import forms as forms_service
from engine.services.forms import FormInfo

from ..auth import current_principal, login_required
from ..extensions import clock, db, settings
from . import openapi
from .common import body, commit, iso

bp = Blueprint("api_forms", __name__, url_prefix="/api/v1")


def form_json(f: FormInfo) -> dict[str, Any]:
    return {
        "key": f.key,
        "version": f.version,
        "title": f.title,
        "sha256": f.sha256,
        "created_at": iso(f.created_at),
        "created_by": f.created_by,
    }


def read_form_upload() -> tuple[Any, Any]:
    """(key, content) of the request: JSON `{"key", "schema"}` or a multipart `.json` file."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("multipart upload needs a field named file", [field_error("file", "missing")])
        limit = settings().max_form_bytes
        data = upload.read(limit + 1)
        if len(data) > limit:
            raise Invalid("the form is larger than {limit} bytes", [field_error("file", "too large")], limit=limit)
        return request.form.get("key") or upload.filename, data
    payload = body()
    if "schema" not in payload:
        raise Invalid("{name} is required", [field_error("schema", "required")], name="schema")
    return payload.get("key"), payload["schema"]


@bp.post("/forms")
@login_required
def deploy_form() -> tuple[Response, int]:
    key, content = read_form_upload()
    p = current_principal()
    done = forms_service.deploy(db(), p, key, content, clock().now())
    events.log(
        db(),
        clock().now(),
        "form_deployed" if done.created else "form_unchanged",
        actor=p,
        payload={"key": done.form.key, "version": done.form.version},
    )
    commit()
    return jsonify(form_json(done.form)), 201 if done.created else 200


@bp.post("/forms/check")
@login_required
def check_form() -> Response:
    """Check a form as a deploy would, storing nothing (the form editor's validation)."""
    payload = body()
    forms_service.check(payload.get("schema"))
    return jsonify({"problems": []})


@bp.get("/forms")
@login_required
def list_forms() -> Response:
    return jsonify({"items": [form_json(f) for f in forms_service.list_forms(db())]})


@bp.get("/forms/<key>")
@login_required
def get_form(key: str) -> Response:
    key = forms_service.form_key(key)  # a key that is no file name is a 422 naming `key`, never a query
    raw = request.args.get("version")
    version = None
    if raw is not None:
        if not raw.isdigit() or int(raw) < 1:
            raise Invalid(
                "{name} must be a positive whole number", [field_error("version", "not a number")], name="version"
            )
        version = int(raw)
    f, content = forms_service.get_form(db(), key, version)
    return jsonify({**form_json(f), "schema": json.loads(content), "content": content})


@bp.get("/forms/<key>/versions")
@login_required
def form_versions(key: str) -> Response:
    key = forms_service.form_key(key)
    used = forms_service.used_by(db(), key)
    return jsonify(
        {
            "items": [form_json(f) for f in forms_service.versions(db(), key)],
            "used_by": [{"process": k, "version": v, "form_version": fv} for k, v, fv in used],
        }
    )


def _document() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors, q = openapi.op, openapi.resp, openapi.errors_for, openapi.query_param
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
    form = {"$ref": "#/components/schemas/Form"}
    upload = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["key", "schema"],
                    "properties": {"key": {"type": "string"}, "schema": {"type": ["object", "string"]}},
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}, "key": {"type": "string"}},
                }
            },
        },
    }
    paths = {
        "/api/v1/forms": {
            "get": op(
                "The newest version of every deployed form",
                {"200": resp({"type": "object"}), **errors(401, 503)},
                tag="forms",
            ),
            "post": op(
                "Deploy a form (process owners): 201 a new version, 200 the existing one when unchanged; "
                "422 names the field (schema/<JSON pointer>, or schema with line and column for bad JSON)",
                {"201": resp(form), "200": resp(form), **errors(400, 401, 403, 409, 422, 503)},
                body=upload,
                tag="forms",
            ),
        },
        "/api/v1/forms/check": {
            "post": op(
                "Check a form as a deploy would, storing nothing",
                {"200": resp({"type": "object"}), **errors(400, 401, 422, 503)},
                body={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                tag="forms",
            )
        },
        "/api/v1/forms/{key}": {
            "get": op(
                "A form (default: its newest version) with its schema",
                {"200": resp(form), **errors(401, 404, 422, 503)},
                params=[key, q("version", {"type": "integer", "minimum": 1})],
                tag="forms",
            )
        },
        "/api/v1/forms/{key}/versions": {
            "get": op(
                "Every version of a form, and the process versions that pin it",
                {"200": resp({"type": "object"}), **errors(401, 404, 422, 503)},
                params=[key],
                tag="forms",
            )
        },
    }
    schemas = {
        "Form": {
            "type": "object",
            "required": ["key", "version", "created_at", "created_by"],
            "properties": {
                "key": {"type": "string"},
                "version": {"type": "integer"},
                "title": {"type": "string"},
                "sha256": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "created_by": {"type": "string"},
                "schema": {"type": "object"},
                "content": {"type": "string"},
            },
        }
    }
    return paths, schemas


openapi.extend(_document)
