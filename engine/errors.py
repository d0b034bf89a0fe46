"""One error hierarchy for the whole engine.

Every failure a caller can cause maps to exactly one subclass; the API layer turns each
into `{"error", "code", "template", "message", "params", "details"}` with the class's HTTP
status (api/messages.py), so route handlers never build error responses by hand.

A message is a *template* with named parameters, never a finished sentence:

    raise Invalid("unknown users: {names}", names="、".join(missing))

The template is the catalog key (the English text doubles as the msgid of the gettext
catalog in api/translations), the parameters fill it in. The engine stays language-free:
`message` is the English rendering for logs; readers get the catalog's text in their
language (api/messages.py). Never build the template with an f-string: the catalog could
not know it (tests/web/test_error_catalog.py checks every site and every translation).

    raise Invalid.on("day", "cannot be in the future")      # names the input field
    field_error("title", "enter at most {limit} characters", "maxLength", limit=200)  # a details entry
    Msg("missing column {column}", column=name)             # a message as a parameter of another
"""

from __future__ import annotations

from typing import Any, Self


def render(template: str, params: dict[str, Any]) -> str:
    """`template` filled with `params` (str.format: `{name}`, `{name!r}`, `{n:,}`); a list of
    `Msg`s is a list of problems, joined with "; "."""
    if not params:
        return template
    return template.format(**{k: "; ".join(map(str, v)) if is_msgs(v) else v for k, v in params.items()})


def is_msgs(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(x, Msg) for x in value)


class Msg:
    """A message that is a parameter of another one (a reason, a nested problem): rendered in
    the reader's language with it. `str()` is the English text."""

    def __init__(self, template: str, /, **params: Any) -> None:
        self.template, self.params = template, params

    def __str__(self) -> str:
        return render(self.template, self.params)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return repr(str(self))


def field_error(field: str, template: str, code: str = "invalid", /, **params: Any) -> dict[str, Any]:
    """One entry of an `Invalid`'s details: the field, a code (`invalid` or the JSON Schema
    keyword that failed: `required`, `maxLength`…), the template and its params (the catalog
    renders them for the reader), and `message`, the English rendering."""
    return {"field": field, "code": code, "template": template, "params": params, "message": render(template, params)}


class SanjiError(Exception):
    """Base class: a clear, user-facing failure that changed nothing.

    `code` is the category (the class), `template` + `params` the message's identity and
    values, `field` the input it names (if one: the English `message` then starts with it)."""

    status = 400
    code = "bad_request"
    field: str | None = None

    def __init__(self, template: str, details: Any = None, /, **params: Any) -> None:
        self.template = template
        self.params = params
        self.message = render(template, params)
        super().__init__(self.message)
        self.details = details

    @classmethod
    def on(cls, field: str, template: str, code: str = "invalid", /, **params: Any) -> Self:
        """An error naming one input field (`message` is "field: problem"; details list it)."""
        err = cls(template, [field_error(field, template, code, **params)], **params)
        err.field = field
        err.message = f"{field}: {err.message}"
        err.args = (err.message,)
        return err

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


class RecordUpdateFailed(Conflict):
    """A script's `update_record`, queued until the commit, no longer applies to the record as
    committed meanwhile (deleted, the path gone, the kind's schema broken): the commit does not
    happen and the whole transaction is rolled back (engine/core/record_updates.py)."""


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
