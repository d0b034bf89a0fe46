"""Diagram endpoints for the modeler and the viewer (`/api/v1`).

- `POST /process-definitions/validate`: the deploy check, storing nothing → `{valid, errors}`.
- `GET /process-definitions/{key}/diff?from=N&to=M`: what changed between two versions.
- `GET /process-definitions/{key}/heatmap?version=N`: instances at / through each element.
- `GET /process-instances/{id}/diagram`: the instance's diagram with element states.
- `GET /modeler/config`: forms, lane names → tiers and roles for the modeler's properties panel.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select

from engine.core import diff as bpmn_diff
from engine.core import fan_choice, repository, trace
from engine.errors import Invalid, SanjiError, TooLarge, field_error
from engine.models import ROLES, HumanTask, ProcessDefinition, User
from engine.org import policy
from engine.org.nodes import ROLE_NAMES
from engine.org.routing import LANE_TIERS
from engine.services import forms as forms_service

from .. import messages
from ..auth import current_principal, login_required, roles_required
from ..extensions import db, redactor, settings, state
from . import openapi
from .common import int_arg, iso
from .instances import visible_instance

bp = Blueprint("api_diagrams", __name__, url_prefix="/api/v1")

XML_TYPES = ("application/xml", "text/xml", "application/bpmn+xml")

# The user-task properties the engine reads (docs/bpmn-conventions.md), for the properties panel.
TASK_PROPERTIES = [
    {
        "name": "formJsonSchemaFilename",
        "label": "表单 form",
        "help": "JSON Schema in forms/ the completion data must satisfy",
    },
    {
        "name": "fanOut",
        "label": "分发对象 fan out",
        "help": "call activity or multi-instance user task: all_units, unit_branches, form_units, form_branches, "
        "unit_committee, zone_units",
    },
    {"name": "fanOutField", "label": "选定字段 chosen ids", "help": "the form field holding the chosen ids"},
    {"name": "rollUp", "label": "汇总字段 roll up", "help": "call activity: children's fields, comma-separated"},
    {"name": "dueIn", "label": "期限 due in", "help": "ISO 8601 duration from the task's creation, e.g. P10D, P1M"},
    {"name": "dueAt", "label": "截止 due at", "help": "expression giving an ISO date or date-time, e.g. month_end()"},
    {
        "name": "candidateRoles",
        "label": "候选角色 candidate roles",
        "help": "comma-separated roles, e.g. secretary,deputy_secretary",
    },
    {
        "name": "nodeVariable",
        "label": "组织变量 node variable",
        "help": "read the org node from this variable instead of unit_id / branch_id",
    },
    {
        "name": "validate",
        "label": "校验 validate",
        "help": "expression returning None when the data is acceptable, else a message or {field: message}",
    },
]


def _read_bpmn() -> tuple[bytes, str]:
    """The uploaded BPMN: an XML body or a multipart field `file` (same rules as deploy)."""
    max_bytes = settings().max_bpmn_bytes
    if request.content_length and request.content_length > max_bytes + 64 * 1024:
        raise TooLarge(
            "the upload is {size} bytes; the BPMN limit is {max_bytes} bytes",
            size=request.content_length,
            max_bytes=max_bytes,
        )
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("multipart upload needs a field named file", [field_error("file", "missing")])
        return upload.read(max_bytes + 1), upload.filename or "upload.bpmn"
    if request.mimetype in XML_TYPES:
        return request.get_data(cache=False), request.args.get("filename", "upload.bpmn")
    err = SanjiError("send the BPMN as application/xml or as multipart field 'file'")
    err.status, err.code = 415, "unsupported_media_type"
    raise err


@bp.post("/process-definitions/validate")
@roles_required("process_owner")
def validate() -> Response:
    data, filename = _read_bpmn()

    def known(key: str) -> bool:
        return (
            db().scalar(select(func.count()).select_from(ProcessDefinition).where(ProcessDefinition.key == key)) or 0
        ) > 0

    try:
        parsed = repository.validate(
            data,
            filename,
            state().forms,
            settings().max_bpmn_bytes,
            known,
            settings=settings(),
            deployed=repository.deployed_xml(db()),
        )
    except Invalid as exc:
        found = [_problem(d) for d in (exc.details or [])] or [
            {"element_id": None, "line": None, "message": exc.message}
        ]
        errors = [p for p in found if p.get("severity") != "warning"]
        warnings = [p for p in found if p.get("severity") == "warning"]
        message = messages.message(exc, messages.api_language())
        return jsonify({"valid": False, "message": message, "errors": errors, "warnings": warnings, "processes": []})
    return jsonify(
        {
            "valid": True,
            "message": "the diagram can be deployed",
            "errors": [],
            "warnings": problems_json(parsed.warnings),
            "processes": repository.deploy_plan(db(), parsed, state().forms),
        }
    )


def problems_json(problems: list[repository.Problem]) -> list[dict[str, Any]]:
    """Deploy-check findings (engine/core/deploy_checks.py) with their messages in the reader's language."""
    return [_problem(p.as_dict()) for p in problems]


def _problem(detail: Any) -> dict[str, Any]:
    """A problem on an element; with its code, severity and message in the reader's language when it
    has a catalog template (engine/core/deploy_checks.py)."""
    if not isinstance(detail, dict):
        return {"element_id": None, "line": None, "message": str(detail)}
    rendered = messages.detail(detail, messages.api_language())
    out = {
        "element_id": detail.get("element_id"),
        "line": detail.get("line"),
        "message": rendered.get("message") or json.dumps(detail, ensure_ascii=False),
    }
    if detail.get("code"):
        out.update(code=detail["code"], severity=detail.get("severity", "error"), params=rendered.get("params"))
    return out


def _version_json(d: ProcessDefinition) -> dict[str, Any]:
    return {
        "version": d.version,
        "sha256": d.sha256,
        "deployed_at": iso(d.deployed_at),
        "deployed_by": d.deployed_by,
        "filename": d.filename,
    }


@bp.get("/process-definitions/<key>/diff")
@login_required
def definition_diff(key: str) -> Response:
    newest = repository.latest(db(), key, active_only=False)
    to_v = int_arg("to", newest.version)
    from_v = int_arg("from", max(to_v - 1, 1))
    a = repository.get_version(db(), key, from_v)
    b = repository.get_version(db(), key, to_v)
    result = bpmn_diff.diff(a.xml, b.xml, 1 << 30)  # stored versions passed the size cap at deploy
    return jsonify({"key": key, "from": _version_json(a), "to": _version_json(b), **result})


@bp.get("/process-definitions/<key>/heatmap")
@login_required
def heatmap(key: str) -> Response:
    version = request.args.get("version")
    d = repository.get_version(db(), key, int_arg("version", 1)) if version else repository.latest(db(), key, False)
    p = current_principal()
    # Counts only, no instance data: process owners see them over every instance (to improve the
    # diagram); everyone else over the instances they may trace.
    result = trace.heatmap(db(), d, policy.heatmap_scope(p))
    return jsonify({"key": d.key, "version": d.version, "name": d.name, "xml": d.xml, **result})


@bp.get("/process-instances/<int:instance_id>/diagram")
@login_required
def instance_diagram(instance_id: int) -> Response:
    inst = visible_instance(instance_id)
    d = inst.definition
    states = trace.instance_diagram(db(), inst)
    rows = (
        db()
        .execute(
            select(HumanTask.id, HumanTask.spec_id, HumanTask.name, User.username)
            .outerjoin(User, User.id == HumanTask.assignee_id)
            .where(HumanTask.instance_id == inst.id, HumanTask.status == "open")
            .order_by(HumanTask.id)
        )
        .all()
    )
    red = redactor(current_principal())
    return jsonify(
        {
            "instance_id": inst.id,
            "process_key": inst.process_key,
            "process_name": d.name,
            "version": d.version,
            "status": inst.status,
            "title": red.text(inst.title, inst.data),
            "parent_id": inst.parent_id,
            "xml": d.xml,
            **states,
            "incident": {"message": red.text(inst.error_message, inst.data), "task": inst.error_task}
            if inst.error_message
            else None,
            "open_tasks": [{"id": r[0], "spec_id": r[1], "name": r[2], "assignee": r[3]} for r in rows],
        }
    )


@bp.get("/modeler/config")
@login_required
def modeler_config() -> Response:
    forms = [{"filename": f.key, "title": f.title or None} for f in forms_service.list_forms(db())]  # issue 15
    return jsonify(
        {
            "forms": forms,
            "lane_tiers": LANE_TIERS,
            "roles": list(ROLES),
            "role_names": {r: ROLE_NAMES.get(r, r) for r in ROLES},  # the pickers show names, not ids
            "task_properties": TASK_PROPERTIES,
            # issue 19: the fanOut select (engine/core/fan_choice.py)
            "fan_out": [
                {"value": k, "label": c.label, "item": c.item, "needs_field": c.needs_field}
                for k, c in fan_choice.FAN_OUT.items()
            ],
        }
    )


# ---- OpenAPI ---------------------------------------------------------------------------------------


def _openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors, q = openapi.op, openapi.resp, openapi.errors_for, openapi.query_param
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
    ident = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    ids = {"type": "array", "items": {"type": "string"}}
    paths = {
        "/api/v1/process-definitions/validate": {
            "post": op(
                "Check a BPMN file as a deploy would, storing nothing (process_owner or admin)",
                {
                    "200": resp({"$ref": "#/components/schemas/ValidationResult"}),
                    **errors(400, 401, 403, 413, 415, 503),
                },
                params=[q("filename", {"type": "string"})],
                body={
                    "required": True,
                    "content": {
                        "application/xml": {"schema": {"type": "string"}},
                        "multipart/form-data": {
                            "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                        },
                    },
                },
                tag="definitions",
            )
        },
        "/api/v1/process-definitions/{key}/diff": {
            "get": op(
                "Elements added, removed and changed between two versions (default: the latest and the one before)",
                {"200": resp({"$ref": "#/components/schemas/DefinitionDiff"}), **errors(401, 404, 422, 503)},
                params=[key, q("from", {"type": "integer", "minimum": 1}), q("to", {"type": "integer", "minimum": 1})],
                tag="definitions",
            )
        },
        "/api/v1/process-definitions/{key}/heatmap": {
            "get": op(
                "Per element, how many instances of a version are at it, passed through it or failed at it (process owners: all instances; others: the instances they may trace)",
                {"200": resp({"$ref": "#/components/schemas/Heatmap"}), **errors(401, 404, 422, 503)},
                params=[key, q("version", {"type": "integer", "minimum": 1})],
                tag="definitions",
            )
        },
        "/api/v1/process-instances/{id}/diagram": {
            "get": op(
                "The instance's BPMN with its completed, active and failed elements",
                {"200": resp({"$ref": "#/components/schemas/InstanceDiagram"}), **errors(401, 404, 503)},
                params=[ident],
                tag="instances",
            )
        },
        "/api/v1/modeler/config": {
            "get": op(
                "What the modeler's properties panel offers: forms, lane names and their tiers, roles",
                {"200": resp({"$ref": "#/components/schemas/ModelerConfig"}), **errors(401, 503)},
                tag="definitions",
            )
        },
    }
    element: dict[str, Any] = {
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "process": {"type": ["string", "null"]},
        },
    }
    version = {
        "type": "object",
        "required": ["version"],
        "properties": {
            "version": {"type": "integer"},
            "sha256": {"type": "string"},
            "deployed_at": {"type": "string"},
            "deployed_by": {"type": ["string", "null"]},
            "filename": {"type": "string"},
        },
    }
    counts = {
        "type": "object",
        "properties": {"active": {"type": "integer"}, "completed": {"type": "integer"}, "failed": {"type": "integer"}},
    }
    schemas = {
        "Problem": {
            "type": "object",
            "required": ["element_id", "line", "message"],
            "properties": {
                "element_id": {"type": ["string", "null"]},
                "line": {"type": ["integer", "null"]},
                "message": {"type": "string"},
                "code": {
                    "type": "string",
                    "description": "deploy check (docs/bpmn-conventions.md), e.g. unknown_helper",
                },
                "severity": {"type": "string", "enum": ["error", "warning"]},
                "params": {"type": "object"},
            },
        },
        "ValidationResult": {
            "type": "object",
            "required": ["valid", "errors"],
            "properties": {
                "valid": {"type": "boolean"},
                "message": {"type": "string"},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
                "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
                "processes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "key": {"type": "string"},
                            "name": {"type": "string"},
                            "current_version": {"type": ["integer", "null"]},
                            "new_version": {"type": ["integer", "null"]},
                        },
                    },
                },
            },
        },
        "DefinitionDiff": {
            "type": "object",
            "required": ["key", "from", "to", "added", "removed", "changed"],
            "properties": {
                "key": {"type": "string"},
                "from": version,
                "to": version,
                "added": {"type": "array", "items": element},
                "removed": {"type": "array", "items": element},
                "changed": {
                    "type": "array",
                    "items": {
                        **element,
                        "properties": {
                            **element["properties"],
                            "changes": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["field"],
                                    "properties": {"field": {"type": "string"}, "from": {}, "to": {}},
                                },
                            },
                        },
                    },
                },
                "layout_changed": ids,
                "summary": {"type": "object"},
            },
        },
        "Heatmap": {
            "type": "object",
            "required": ["key", "version", "xml", "instances", "elements"],
            "properties": {
                "key": {"type": "string"},
                "version": {"type": "integer"},
                "name": {"type": "string"},
                "xml": {"type": "string"},
                "instances": {"type": "object"},
                "elements": {"type": "object", "additionalProperties": counts},
                "max": counts,
            },
        },
        "InstanceDiagram": {
            "type": "object",
            "required": ["instance_id", "xml", "completed", "active", "failed"],
            "properties": {
                "instance_id": {"type": "integer"},
                "process_key": {"type": "string"},
                "process_name": {"type": "string"},
                "version": {"type": "integer"},
                "status": {"type": "string"},
                "title": {"type": "string"},
                "parent_id": {"type": ["integer", "null"]},
                "xml": {"type": "string"},
                "completed": ids,
                "active": ids,
                "failed": ids,
                "flows": ids,
                "incident": {"type": ["object", "null"]},
                "open_tasks": {"type": "array", "items": {"type": "object"}},
            },
        },
        "ModelerConfig": {
            "type": "object",
            "required": ["forms", "lane_tiers", "roles"],
            "properties": {
                "forms": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"filename": {"type": "string"}, "title": {"type": ["string", "null"]}},
                    },
                },
                "lane_tiers": {"type": "object", "additionalProperties": {"type": "string"}},
                "roles": {"type": "array", "items": {"type": "string"}},
                "task_properties": {"type": "array", "items": {"type": "object"}},
                "fan_out": {
                    "type": "array",
                    "description": "the values of the fanOut property (分发对象): label, the item variable, "
                    "whether fanOutField is needed",
                    "items": {
                        "type": "object",
                        "required": ["value", "label", "item", "needs_field"],
                        "properties": {
                            "value": {"type": "string"},
                            "label": {"type": "string"},
                            "item": {"type": "string"},
                            "needs_field": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    }
    return paths, schemas


openapi.extend(_openapi)
