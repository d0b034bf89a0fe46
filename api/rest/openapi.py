"""The OpenAPI 3 document of `/api/v1`, written next to the code it describes.

`tests/api/test_openapi.py` checks that every Flask route under /api/v1 is documented here
and every documented path exists, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify

from .openapi_schemas import (  # noqa: F401
    DEFINITION_PROPS,
    JSON_OBJECT,
    NULLABLE_STR,
    NULLABLE_TIME,
    SCHEMAS,
    TASK_PROPS,
    TASK_REQUIRED,
)

bp = Blueprint("openapi", __name__)

# Other API modules describe their own paths and schemas: `extend(lambda: (paths, schemas))`.
_EXTENSIONS: list[Callable[[], tuple[dict[str, Any], dict[str, Any]]]] = []


def extend(contribution: Callable[[], tuple[dict[str, Any], dict[str, Any]]]) -> None:
    _EXTENSIONS.append(contribution)


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema (the feature modules' `_doc` use it)."""
    return {"$ref": f"#/components/schemas/{name}"}


ERROR = ref("Error")


def _resp(schema: dict[str, Any] | None = None, description: str = "OK") -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "Bad request",
        401: "Not authenticated",
        403: "Role not allowed",
        404: "Unknown id (or not visible)",
        409: "Conflict",
        413: "Too large",
        415: "Unsupported media type",
        422: "Invalid input",
        429: "Too many requests",
        503: "Database unavailable",
    }
    return {str(c): _resp(ERROR, names[c]) for c in codes}


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "total", "page", "per_page"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
    }


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PAGING = [
    _q("page", {"type": "integer", "minimum": 1}),
    _q("per_page", {"type": "integer", "minimum": 1, "maximum": 500}),
]
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
REASON_BODY = {
    "content": {"application/json": {"schema": {"type": "object", "properties": {"reason": {"type": "string"}}}}},
    "required": False,
}


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    params: list[Any] | None = None,
    body: Any = None,
    auth: bool = True,
    tag: str = "",
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, "tags": [tag] if tag else []}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    if not auth:
        op["security"] = []
    return op


def document() -> dict[str, Any]:
    std = _errors(401, 503)
    task_list_params = PAGING + [
        _q("status", {"type": "string", "enum": ["open", "completed", "cancelled"]}),
        _q("process_key", {"type": "string"}),
        _q("unit_id", {"type": "string"}),
        _q("node_id", {"type": "string"}),
        _q("instance_id", {"type": "integer"}),
        _q("due_before", {"type": "string", "format": "date-time"}),
        _q("overdue", {"type": "string", "enum": ["true", "false", "1", "0"]}),
        _q("assigned", {"type": "string", "enum": ["true", "false", "1", "0"]}),
    ]
    instance_list_params = PAGING + [
        _q("status", {"type": "string", "enum": ["running", "completed", "terminated", "suspended", "error"]}),
        _q("key", {"type": "string"}),
        _q("unit_id", {"type": "string"}),
        _q("parent_id", {"type": "integer"}),
        _q("top_level", {"type": "string"}),
        _q("started_after", {"type": "string", "format": "date-time"}),
        _q("started_before", {"type": "string", "format": "date-time"}),
        _q(
            "incident",
            {"type": "string"},
            "true or 1: with an open incident (an error recorded, not ended; a suspended failed instance too)",
        ),
        _q("overdue", {"type": "string"}),
    ]
    admin = {**_errors(401, 403, 404, 409, 422, 503)}
    paths: dict[str, Any] = {
        "/api/v1/healthz": {
            "get": _op(
                "Liveness and database check",
                {"200": _resp({"type": "object"}), **_errors(503)},
                auth=False,
                tag="system",
            )
        },
        "/api/v1/auth/login": {
            "post": _op(
                "Log in with username and password; returns a bearer token",
                {"200": _resp({"$ref": "#/components/schemas/Token"}), **_errors(400, 401, 403, 422, 429, 503)},
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["username", "password"],
                                "properties": {
                                    "username": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "\\S"},
                                    "password": {"type": "string", "minLength": 1},
                                },
                            }
                        }
                    },
                },
                auth=False,
                tag="auth",
            )
        },
        "/api/v1/auth/logout": {
            "post": _op("Revoke the bearer token", {"200": _resp({"type": "object"}), **std}, tag="auth")
        },
        "/api/v1/auth/password": {
            "post": _op(
                "Change the caller's own password (old and new; the new one must meet the password policy). "
                "Ends every other token and session of the user",
                {"200": _resp({"type": "object"}), **_errors(400, 401, 403, 422, 429, 503)},
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["old_password", "new_password"],
                                "properties": {
                                    "old_password": {"type": "string", "minLength": 1},
                                    "new_password": {"type": "string", "minLength": 1},
                                },
                            }
                        }
                    },
                },
                tag="auth",
            )
        },
        "/api/v1/me": {
            "get": _op("The caller with roles", {"200": _resp({"$ref": "#/components/schemas/Me"}), **std}, tag="auth")
        },
        "/api/v1/org": {
            "get": _op(
                "The organisation tree",
                {"200": _resp({"$ref": "#/components/schemas/OrgNode"}), **_errors(401, 404, 503)},
                tag="org",
            )
        },
        "/api/v1/process-definitions": {
            "get": _op(
                "Latest version of every process",
                {"200": _resp(_page("Definition")), **_errors(401, 422, 503)},
                params=PAGING,
                tag="definitions",
            ),
            "post": _op(
                "Deploy a BPMN file (process_owner or admin); multipart may add any number of .json forms, "
                "deployed first in the same transaction so that the diagram pins them (issue 15)",
                {
                    "201": _resp({"$ref": "#/components/schemas/Deployment"}, "New version(s) created"),
                    "200": _resp(
                        {"$ref": "#/components/schemas/Deployment"}, "Identical to the latest version: nothing stored"
                    ),
                    **_errors(400, 401, 403, 409, 413, 415, 422, 503),
                },
                params=[_q("filename", {"type": "string"})],
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
            ),
        },
        "/api/v1/process-definitions/{key}": {
            "get": _op(
                "Latest version with lanes, user tasks and start events",
                {"200": _resp({"$ref": "#/components/schemas/Definition"}), **_errors(401, 404, 503)},
                params=[KEY],
                tag="definitions",
            )
        },
        "/api/v1/process-definitions/{key}/versions": {
            "get": _op(
                "All versions, newest first",
                {"200": _resp(_page("Definition")), **_errors(401, 404, 422, 503)},
                params=[KEY] + PAGING,
                tag="definitions",
            )
        },
        "/api/v1/process-definitions/{key}/xml": {
            "get": _op(
                "The BPMN XML of a version (latest by default)",
                {
                    "200": {"description": "BPMN XML", "content": {"application/xml": {"schema": {"type": "string"}}}},
                    **_errors(401, 404, 422, 503),
                },
                params=[KEY, _q("version", {"type": "integer", "minimum": 1})],
                tag="definitions",
            )
        },
        "/api/v1/process-definitions/{key}/start": {
            "post": _op(
                "Start an instance of the latest version by hand: through its plain start event, by a person whose "
                "role and org node its start lane allows, with only `title`, the scope variable and the start event's "
                "`startVariables` (403 `not_startable` for processes only the engine starts; docs/bpmn-conventions.md)",
                {
                    "201": _resp({"$ref": "#/components/schemas/Instance"}),
                    **_errors(400, 401, 403, 404, 409, 413, 422, 503),
                },
                params=[KEY],
                body={
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"variables": JSON_OBJECT, "start_event": {"type": "string"}},
                            }
                        }
                    },
                },
                tag="instances",
            )
        },
        "/api/v1/process-instances": {
            "get": _op(
                "Instances the caller may trace",
                {"200": _resp(_page("Instance")), **_errors(401, 422, 503)},
                params=instance_list_params,
                tag="instances",
            )
        },
        "/api/v1/process-instances/{id}": {
            "get": _op(
                "One instance with open tasks and the variables the caller may see",
                {"200": _resp({"$ref": "#/components/schemas/Instance"}), **_errors(401, 404, 503)},
                params=[ID],
                tag="instances",
            )
        },
        "/api/v1/process-instances/{id}/history": {
            "get": _op(
                "The instance's event log",
                {"200": _resp(_page("Event")), **_errors(401, 404, 422, 503)},
                params=[ID] + PAGING,
                tag="instances",
            )
        },
        "/api/v1/tasks": {
            "get": _op(
                "The caller's tasks: open ones offered or assigned to them (default), or the ones they completed",
                {"200": _resp(_page("Task")), **_errors(401, 422, 503)},
                params=task_list_params,
                tag="tasks",
            )
        },
        "/api/v1/tasks/{id}": {
            "get": _op(
                "One task as its page shows it: form schema, the instance's variables (context), the earlier steps "
                "(previous: its own instance's and those of the calling instances the caller may trace) and the history "
                "of the same instances; confidential values redacted for the system administrator",
                {"200": _resp({"$ref": "#/components/schemas/TaskDetail"}), **_errors(401, 404, 503)},
                params=[ID],
                tag="tasks",
            )
        },
        "/api/v1/tasks/{id}/claim": {
            "post": _op(
                "Claim",
                {"200": _resp({"$ref": "#/components/schemas/Task"}), **_errors(401, 403, 404, 409, 503)},
                params=[ID],
                tag="tasks",
            )
        },
        "/api/v1/tasks/{id}/unclaim": {
            "post": _op(
                "Unclaim",
                {"200": _resp({"$ref": "#/components/schemas/Task"}), **_errors(401, 404, 409, 503)},
                params=[ID],
                tag="tasks",
            )
        },
        "/api/v1/tasks/{id}/complete": {
            "post": _op(
                "Complete with form data (validated against the task's JSON Schema)",
                {
                    "200": _resp({"$ref": "#/components/schemas/Task"}),
                    **_errors(400, 401, 403, 404, 409, 413, 422, 503),
                },
                params=[ID],
                body={
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "object", "properties": {"data": JSON_OBJECT}}}
                    },
                },
                tag="tasks",
            )
        },
        "/api/v1/tasks/{id}/assign": {
            "post": _op(
                "Reassign (admin) or hand over to a colleague of the same node (转办)",
                {"200": _resp({"$ref": "#/components/schemas/Task"}), **_errors(400, 401, 403, 404, 409, 422, 503)},
                params=[ID],
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["username"],
                                "properties": {"username": {"type": "string"}},
                            }
                        }
                    },
                },
                tag="tasks",
            )
        },
    }
    for action, summary in (
        ("suspend", "Suspend (admin)"),
        ("resume", "Resume (admin)"),
        ("terminate", "Terminate with a reason (admin)"),
        ("retry", "Retry an incident (admin)"),
    ):
        b = REASON_BODY
        if action == "retry":
            b = {
                "required": False,
                "content": {
                    "application/json": {"schema": {"type": "object", "properties": {"variables": JSON_OBJECT}}}
                },
            }
        errors = {**admin, **_errors(413)} if action == "retry" else admin  # retry: SANJI_MAX_FORM_BYTES
        paths[f"/api/v1/process-instances/{{id}}/{action}"] = {
            "post": _op(
                summary,
                {"200": _resp({"$ref": "#/components/schemas/Instance"}), **errors},
                params=[ID],
                body=b,
                tag="instances",
            )
        }
    schemas = dict(SCHEMAS)
    for contribution in _EXTENSIONS:
        more_paths, more_schemas = contribution()
        paths.update(more_paths)
        schemas.update(more_schemas)
    _input_rules(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sanji 三级联动纪检工作平台 API", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
    }


# What api.args refuses in every request: control characters in query text (and unpaired
# surrogates, which JSON Schema cannot express, in JSON bodies).
PRINTABLE = "^[^\\u0000-\\u001f\\u007f-\\u009f\\ufffe\\uffff]*$"


def _input_rules(paths: dict[str, Any]) -> None:
    """Say once, for every operation, what api.args checks once for every request: free-text
    query parameters match PRINTABLE, and any operation taking query parameters or a body may
    answer 422."""
    for item in paths.values():
        for operation in item.values():
            if "parameters" in operation:
                operation["parameters"] = [
                    _printable(p) if p.get("in") == "query" else p for p in operation["parameters"]
                ]
            query = any(p.get("in") == "query" for p in operation.get("parameters", []))
            if (query or operation.get("requestBody")) and "422" not in operation["responses"]:
                operation["responses"] = {**operation["responses"], **_errors(422)}


def _printable(param: dict[str, Any]) -> dict[str, Any]:
    schema = param["schema"]
    if schema.get("type") != "string" or any(k in schema for k in ("enum", "pattern", "format")):
        return param
    return {**param, "schema": {**schema, "pattern": PRINTABLE}}


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Any:
    return jsonify(document())


# Public names for the modules that `extend` the document.
op, resp, errors_for, page_schema, query_param = _op, _resp, _errors, _page, _q
