"""One error hierarchy for the whole engine.

Every failure a caller can cause maps to exactly one subclass; the API layer turns each
into `{"error": code, "message": text, "details": ...}` with the class's HTTP status, so
route handlers never build error responses by hand.
"""
from __future__ import annotations

from typing import Any


class SanjiError(Exception):
    """Base class: a clear, user-facing failure that changed nothing."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class BadRequest(SanjiError):
    status, code = 400, "bad_request"


class Unauthorized(SanjiError):
    status, code = 401, "unauthorized"


class Forbidden(SanjiError):
    status, code = 403, "forbidden"


class PasswordChangeRequired(Forbidden):
    """The session may only change its user's password (someone else chose it, or it no longer
    meets the policy): everything else is refused until the password is changed."""

    status, code = 403, "password_change_required"


class NotFound(SanjiError):
    """Unknown id, or an id the caller may not see (so that ids do not leak)."""

    status, code = 404, "not_found"


class Conflict(SanjiError):
    """A concurrent change won, or the object is in a state that forbids the action."""

    status, code = 409, "conflict"


class TooLarge(SanjiError):
    status, code = 413, "too_large"


class Invalid(SanjiError):
    """Input is well-formed but wrong: form data, BPMN content, parameters."""

    status, code = 422, "invalid"


class TooManyRequests(SanjiError):
    status, code = 429, "too_many_requests"


class Unavailable(SanjiError):
    """The database or another dependency is down; the request can be retried."""

    status, code = 503, "unavailable"


class ScriptError(SanjiError):
    """A BPMN script or condition broke the sandbox rules or failed (becomes an incident)."""

    status, code = 422, "script_error"
