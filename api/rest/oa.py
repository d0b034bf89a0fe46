"""Chinese OA habits on the JSON API: 催办 (urge) a task of the tier below.

(转办 is `POST /api/v1/tasks/{id}/assign`; 退回 is a form value that routes the diagram back,
see docs/bpmn-conventions.md.)
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from engine.errors import Invalid, field_error
from engine.services import tasks as tasks_service
from engine.services.tasks import TaskCommand

from ..auth import current_principal, login_required
from ..extensions import runtime
from . import openapi
from .common import body
from .tasks import task_json

bp = Blueprint("api_oa", __name__, url_prefix="/api/v1")


@bp.post("/tasks/<int:task_id>/urge")
@login_required
def urge(task_id: int) -> Response:
    data = body()
    message = data.get("message", "")
    if not isinstance(message, str):
        raise Invalid("message must be a string", [field_error("message", "expected a string")])
    done = tasks_service.act(runtime(), current_principal(), TaskCommand(task_id, "urge", message=message))
    return jsonify(task_json(done.task))


def _doc() -> tuple[dict[str, Any], dict[str, Any]]:
    paths = {
        "/api/v1/tasks/{id}/urge": {
            "post": openapi.op(
                "催办: a member of the tier above nudges the assignee (or candidates) of an open task; "
                "logged as task_urged, once per hour per person and task",
                {
                    "200": openapi.resp({"$ref": "#/components/schemas/Task"}),
                    **openapi.errors_for(400, 401, 403, 404, 409, 422, 503),
                },
                params=[openapi.ID],
                body={
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"message": {"type": "string", "maxLength": 500}},
                            }
                        }
                    },
                },
                tag="tasks",
            )
        }
    }
    return paths, {}


openapi.extend(_doc)
