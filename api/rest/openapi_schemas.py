"""The component schemas of the OpenAPI document of `/api/v1` (the shapes the core routes answer with).

Kept apart from `openapi.py`, which holds the paths and the helpers other modules `extend` it with.
"""

from __future__ import annotations

from typing import Any

NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
JSON_OBJECT = {"type": "object", "additionalProperties": True}

TASK_PROPS = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "process_key": {"type": "string"},
    "instance_id": {"type": "integer"},
    "instance_title": NULLABLE_STR,
    "spec_id": {"type": "string"},
    "lane": NULLABLE_STR,
    "tier": {"type": "string"},
    "node_id": {"type": "string"},
    "node_name": NULLABLE_STR,
    "unit_id": NULLABLE_STR,
    "assignee": NULLABLE_STR,
    "created_at": {"type": "string", "format": "date-time"},
    "due_at": NULLABLE_TIME,
    "status": {
        "type": "string",
        "enum": ["open", "held", "completed", "cancelled"],
        "description": "held: submitted, waiting for approval (the task's `approval` property)",
    },
    "overdue": {"type": "boolean"},
    "completed_at": NULLABLE_TIME,
    "form_key": NULLABLE_STR,
}
TASK_REQUIRED = [
    "id",
    "name",
    "process_key",
    "instance_id",
    "tier",
    "node_id",
    "node_name",
    "assignee",
    "created_at",
    "due_at",
    "status",
]
DEFINITION_PROPS = {
    "id": {"type": "integer"},
    "key": {"type": "string"},
    "name": {"type": "string"},
    "version": {"type": "integer"},
    "sha256": {"type": "string"},
    "filename": {"type": "string"},
    "deployed_by": NULLABLE_STR,
    "deployed_at": {"type": "string", "format": "date-time"},
    "active": {"type": "boolean"},
    "called_only": {"type": "boolean"},
    "start_events": {"type": "array"},
    "documentation": {"type": "string"},
    "lanes": {"type": "array"},
    "user_tasks": {"type": "array"},
    "calls": {"type": "array"},
}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message", "details"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "details": {}},
    },
    "Token": {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string"},
            "token_type": {"type": "string"},
            "expires_in": {"type": "integer"},
            "password_change_required": {"type": "boolean"},
        },
    },
    "Role": {
        "type": "object",
        "required": ["role", "node_id", "tier"],
        "properties": {
            "role": {"type": "string"},
            "node_id": NULLABLE_STR,
            "tier": NULLABLE_STR,
            "node_name": NULLABLE_STR,
        },
    },
    "Me": {
        "type": "object",
        "required": ["username", "display_name", "roles"],
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "display_name": {"type": "string"},
            "roles": {"type": "array", "items": {"$ref": "#/components/schemas/Role"}},
            "is_admin": {"type": "boolean"},
            "is_process_owner": {"type": "boolean"},
            "password_change_required": {"type": "boolean"},
        },
    },
    "User": {
        "type": "object",
        "required": ["username", "display_name", "roles"],
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "display_name": {"type": "string"},
            "active": {"type": "boolean"},
            "email": {"type": ["string", "null"]},
            "roles": {"type": "array", "items": {"$ref": "#/components/schemas/Role"}},
        },
    },
    "OrgNode": {
        "type": "object",
        "required": ["id", "tier", "name", "children"],
        "properties": {
            "id": {"type": "string"},
            "tier": {"type": "string", "enum": ["group", "unit", "branch"]},
            "name": {"type": "string"},
            "parent_id": NULLABLE_STR,
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/OrgNode"}},
        },
    },
    "Definition": {"type": "object", "required": ["key", "version", "name"], "properties": DEFINITION_PROPS},
    "Deployment": {
        "type": "object",
        "required": ["created", "definitions"],
        "properties": {
            "created": {"type": "boolean"},
            "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
            "definitions": {"type": "array", "items": {"$ref": "#/components/schemas/Definition"}},
            "forms": {"type": "array", "items": {"type": "object"}},  # issue 15: forms deployed with the diagram
        },
    },
    "Task": {
        "type": "object",
        "required": TASK_REQUIRED,
        "properties": {**TASK_PROPS, "instance_status": NULLABLE_STR},
    },
    "TaskDetail": {
        "type": "object",
        "required": TASK_REQUIRED + ["form"],
        "properties": {
            **TASK_PROPS,
            "form": {
                "type": ["object", "null"],
                "description": "the task's JSON Schema resolved for this task (docs/forms.md: choices of "
                "`x-source` as enum + enumNames, rows of `x-rows-from`) and `prefill`, the first values "
                "of the form from the task's data (`x-default`)",
                "properties": {"prefill": JSON_OBJECT},
            },
            "can_complete": {"type": "boolean"},
            "context": JSON_OBJECT,
            "data": {"type": ["object", "null"]},
            "definition_version": {"type": ["integer", "null"]},
            "previous": {"type": "array", "items": {"$ref": "#/components/schemas/Step"}},
            "history": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
            "sent_back": {"oneOf": [{"$ref": "#/components/schemas/Event"}, {"type": "null"}]},
            "rollups": {
                "type": "array",
                "description": "the `rollUp` tables among the instance's variables (docs/bpmn-conventions.md): "
                "one row per child with its unit or branch (`node_id`, `node_name`), the columns' form titles",
                "items": {
                    "type": "object",
                    "required": ["variable", "title", "columns", "rows"],
                    "properties": {
                        "variable": {"type": "string"},
                        "title": {"type": "string"},
                        "columns": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "title"],
                                "properties": {"name": {"type": "string"}, "title": {"type": "string"}},
                            },
                        },
                        "rows": {"type": "array", "items": JSON_OBJECT},
                    },
                },
            },
            "kind": {
                "type": "string",
                "enum": ["task", "approval"],
                "description": "approval: the 审批 of task `subject_task_id`",
            },
            "decisions": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Event"},
                "description": "approval_requested / approval_approved / approval_returned (with `opinion`), "
                "collective_recorded, task_signed events of this task (of an approval: of its task)",
            },
            "returned": {"oneOf": [{"$ref": "#/components/schemas/Event"}, {"type": "null"}]},
            "subject_task_id": {"type": "integer"},
            "subject_data": {"type": ["object", "null"]},
        },
    },
    "Step": {
        "type": "object",
        "required": ["task_id", "instance_id", "spec_id", "name", "data"],
        "properties": {
            "task_id": {"type": "integer"},
            "instance_id": {"type": "integer"},
            "process_key": {"type": "string"},
            "spec_id": {"type": "string"},
            "name": {"type": "string"},
            "tier": {"type": "string"},
            "node_id": {"type": "string"},
            "node_name": {"type": "string"},
            "form_key": NULLABLE_STR,
            "completed_at": NULLABLE_TIME,
            "completed_by": NULLABLE_STR,
            "data": JSON_OBJECT,
        },
    },
    "Instance": {
        "type": "object",
        "required": ["id", "process_key", "status", "definition_version"],
        "properties": {
            "id": {"type": "integer"},
            "process_key": {"type": "string"},
            "process_name": {"type": "string"},
            "definition_version": {"type": "integer"},
            "status": {"type": "string", "enum": ["running", "completed", "terminated", "suspended", "error"]},
            "title": {"type": "string"},
            "scope_node_id": {"type": "string"},
            "unit_id": NULLABLE_STR,
            "parent_id": {"type": ["integer", "null"]},
            "root_id": {"type": ["integer", "null"]},
            "started_at": {"type": "string", "format": "date-time"},
            "ended_at": NULLABLE_TIME,
            "updated_at": {"type": "string", "format": "date-time"},
            "next_timer_at": NULLABLE_TIME,
            "version": {"type": "integer"},
            "incident": {"type": ["object", "null"]},
            "open_tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
            "variables": JSON_OBJECT,
            "started_by": NULLABLE_STR,
            "children": JSON_OBJECT,
            "decisions": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
        },
    },
    "Event": {
        "type": "object",
        "required": ["id", "at", "type", "actor", "payload"],
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "type": {"type": "string"},
            "actor": NULLABLE_STR,
            "instance_id": {"type": ["integer", "null"]},
            "task_id": {"type": ["integer", "null"]},
            "payload": JSON_OBJECT,
        },
    },
}
