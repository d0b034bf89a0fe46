"""The OpenAPI paths and schemas of the schedules and jobs API; `schedules.py` registers them
with `openapi.extend` where it always did, so the document keeps its order."""

from __future__ import annotations

from typing import Any

from . import openapi

# The largest page of GET /api/v1/jobs: enforced by `schedules.list_jobs`, documented below.
JOBS_MAX_PER_PAGE = 100


def document() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors = openapi.op, openapi.resp, openapi.errors_for
    q = openapi.query_param
    sid = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
    reason = {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object", "properties": {"reason": {"type": "string"}}}}},
    }
    paging = [q("page", {"type": "integer", "minimum": 1}), q("per_page", {"type": "integer", "minimum": 1})]
    one = {"200": resp({"$ref": "#/components/schemas/Schedule"})}
    paths = {
        "/api/v1/schedules": {
            "get": op(
                "Timer start schedules of the deployed processes, with the next 4 fire times",
                {"200": resp(openapi.page_schema("Schedule")), **errors(401, 422, 503)},
                params=paging
                + [
                    q("process_key", {"type": "string"}),
                    q("paused", {"type": "string", "enum": ["true", "false", "1", "0"]}),
                ],
                tag="schedules",
            )
        },
        "/api/v1/schedules/{id}": {
            "get": op("One schedule", {**one, **errors(401, 404, 503)}, params=[sid], tag="schedules")
        },
        "/api/v1/schedules/{id}/pause": {
            "post": op(
                "Pause a schedule (admin): nothing fires until it is resumed",
                {**one, **errors(401, 403, 404, 409, 422, 503)},
                params=[sid],
                body=reason,
                tag="schedules",
            )
        },
        "/api/v1/schedules/{id}/resume": {
            "post": op(
                "Resume a schedule (admin); fires that fell due while paused are skipped",
                {**one, **errors(401, 403, 404, 409, 422, 503)},
                params=[sid],
                body=reason,
                tag="schedules",
            )
        },
        "/api/v1/jobs": {
            "get": op(
                "Timers waiting inside instances (admin): one job per instance, due first, with each timer",
                {"200": resp(openapi.page_schema("Job")), **errors(401, 403, 422, 503)},
                params=[
                    q("page", {"type": "integer", "minimum": 1}),
                    q("per_page", {"type": "integer", "minimum": 1, "maximum": JOBS_MAX_PER_PAGE}),
                    q("process_key", {"type": "string"}),
                    q("status", {"type": "string", "enum": ["running", "suspended"]}),
                    q("due_before", {"type": "string", "format": "date-time"}),
                    q("overdue", {"type": "string", "enum": ["true", "false", "1", "0"]}),
                    q(
                        "detail",
                        {"type": "string", "enum": ["true", "false", "1", "0"]},
                        "false: leave out the per-timer detail (which reads each instance's state)",
                    ),
                ],
                tag="schedules",
            )
        },
        "/api/v1/jobs/{id}/execute": {
            "post": op(
                "Fire an instance's timer now (admin, logged); the one due first unless timer_id names one",
                {
                    "200": resp(
                        {
                            "type": "object",
                            "required": ["fired", "job"],
                            "properties": {"fired": {"type": "string"}, "job": {"$ref": "#/components/schemas/Job"}},
                        }
                    ),
                    **errors(400, 401, 403, 404, 409, 422, 503),
                },
                params=[sid],
                body={
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"timer_id": {"type": "string"}}}
                        }
                    },
                },
                tag="schedules",
            )
        },
        "/api/v1/process-definitions/{key}/undeploy": {
            "post": op(
                "Undeploy every version of a process (process_owner or admin): it no longer starts by hand, "
                "message or timer, its schedules are removed; running instances go on",
                {
                    "200": resp(
                        {
                            "type": "object",
                            "properties": {
                                "key": {"type": "string"},
                                "active": {"type": "boolean"},
                                "versions": {"type": "array", "items": {"type": "integer"}},
                            },
                        }
                    ),
                    **errors(401, 403, 404, 409, 422, 503),
                },
                params=[key],
                body=reason,
                tag="definitions",
            )
        },
    }
    time = {"type": "string", "format": "date-time"}
    ntime = {"type": ["string", "null"], "format": "date-time"}
    nstr = {"type": ["string", "null"]}
    schemas = {
        "Schedule": {
            "type": "object",
            "required": [
                "id",
                "process_key",
                "version",
                "start_event",
                "expression",
                "time_zone",
                "next_fire_times",
                "paused",
                "last_fire",
            ],
            "properties": {
                "id": {"type": "integer"},
                "process_key": {"type": "string"},
                "process_name": nstr,
                "version": {"type": "integer"},
                "definition_id": {"type": "integer"},
                "start_event": {"type": "object", "properties": {"id": {"type": "string"}, "name": nstr}},
                "timer_kind": {"type": "string", "enum": ["timeDate", "timeDuration", "timeCycle"]},
                "expression": {"type": "string"},
                "time_zone": {"type": "string"},
                "paused": {"type": "boolean"},
                "next_fire_at": ntime,
                "next_fire_times": {
                    "type": "array",
                    "maxItems": 4,
                    "items": time,
                    "description": "ISO 8601 with the offset of time_zone",
                },
                "fire_count": {"type": "integer"},
                "last_fire": {
                    "type": ["object", "null"],
                    "properties": {
                        "due_at": ntime,
                        "fired_at": ntime,
                        "late": {"type": "boolean"},
                        "message": nstr,
                        "result": {"type": "string", "enum": ["started", "incident", "failed", "missed"]},
                        "instance_id": {"type": ["integer", "null"]},
                    },
                },
                "registered_at": time,
                "updated_at": time,
            },
        },
        "Job": {
            "type": "object",
            "required": ["id", "instance_id", "process_key", "due_at"],
            "properties": {
                "id": {"type": "integer", "description": "the instance id"},
                "instance_id": {"type": "integer"},
                "process_key": {"type": "string"},
                "definition_version": {"type": "integer"},
                "title": {"type": "string"},
                "instance_status": {"type": "string"},
                "due_at": ntime,
                "overdue": {"type": "boolean"},
                "timers_error": {"type": "string"},
                "timers": {
                    "type": ["array", "null"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "timer_id": {"type": "string"},
                            "name": nstr,
                            "kind": {"type": "string"},
                            "expression": {"type": "string"},
                            "due_at": ntime,
                            "boundary": {"type": "boolean"},
                            "interrupting": {"type": ["boolean", "null"]},
                            "attached_to": nstr,
                            "cycles_left": {"type": ["integer", "null"]},
                        },
                    },
                },
            },
        },
    }
    return paths, schemas
