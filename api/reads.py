"""Audited reads: a view that shows confidential content (a clue, a confidential record, a task or
an instance holding confidential values) or an export queues a read (`note_read`, `note_view`);
after the view has answered, the queued reads are written to the audit log (engine/org/audit.py) in a
transaction of their own. When they cannot be written the answer is a 503 instead of the content:
no unaudited read.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request

from engine.errors import Unavailable
from engine.org import audit, confidential

from .extensions import state
from .messages import api_language, to_json

log = logging.getLogger("sanji.api")


def note_read(type_: str, payload: dict[str, Any], instance_id: int | None = None, task_id: int | None = None) -> None:
    """Queue the audit of a read (written once the answer is made)."""
    pending = g.setdefault("_sanji_reads", [])
    pending.append(audit.Read(type_, {**payload, "path": request.path[:300]}, instance_id, task_id))


def note_view(
    kind: str, content: Any, redacted: bool, instance_id: int | None = None, task_id: int | None = None
) -> None:
    """Audit the view of a task or an instance when what it shows holds confidential values."""
    keys = confidential.confidential_keys(state().forms.forms_dir)
    if confidential.holds_confidential(keys, content):
        note_read(audit.READ, {"object": kind, "redacted": redacted}, instance_id, task_id)


def init_app(app: Flask) -> None:
    @app.after_request
    def _write_reads(response: Response) -> Response:
        pending = g.pop("_sanji_reads", None)
        principal = g.get("principal")
        if not pending or principal is None or response.status_code >= 400:
            return response
        session = g.get("_sanji_session")
        if session is not None:
            session.close()  # the answer is made: end the request's transaction before writing
        try:
            st = state()
            audit.log_reads(st.sessions, st.clock.now(), principal, pending)
        except Exception:
            log.exception("could not record the audit of a confidential read")
            err = Unavailable("the audit log is unavailable; try again shortly")
            out = jsonify(to_json(err, api_language()))
            out.status_code = err.status
            return out
        return response
