"""Request input checked once for every request (API and pages) before any route runs: query
parameters, and the text of JSON bodies.

Why here and not per route: a unit id, a status, a search text or a `next=` carrying a control
character is never legitimate, yet each route passed such values on (into an XLSX subtitle, a
filter, a link) and some answered 500. One check answers 422 naming the parameter instead, so a
route added tomorrow is covered too. Routes then parse their own values (`v1.int_arg`,
`choice_arg`, …) knowing the text is printable.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request

from engine.errors import Invalid, field_error

# C0 and C1 controls and DEL; surrogates; U+FFFE/U+FFFF (not characters in XML, hence in no export)
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
SURROGATE = re.compile("[\ud800-\udfff]")


def shown(name: str) -> str:
    """The parameter's name as an error message can carry it (its control characters escaped)."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), name)[:100]


# `next` is a return address: the pages check it themselves (web.safe_next) and ignore an unsafe
# one, so that signing in never fails over a bad link.
SELF_CHECKED = ("next",)


def check_query() -> None:
    for name, value in request.args.items(multi=True):
        if CONTROL.search(name) or (CONTROL.search(value) and name not in SELF_CHECKED):
            field = shown(name)
            raise Invalid(
                "query parameter {field} contains a control character",
                [field_error(field, "control characters are not allowed")],
                field=field,
            )


def _surrogate_at(value: Any, path: str) -> str | None:
    """The path of the first text in a JSON value holding an unpaired surrogate, else None."""
    if isinstance(value, str):
        return path if SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if SURROGATE.search(str(key)):
                return where
            found = _surrogate_at(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _surrogate_at(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def check_json_body() -> None:
    """JSON allows `"\\ud800"`, an escape of no character: stored, it broke every later encode
    (a 500 on completion). Refused here for every JSON body (form posts decode to U+FFFD)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or not request.is_json:
        return
    found = _surrogate_at(request.get_json(silent=True), "")
    if found is not None:
        field = shown(found) or "body"
        raise Invalid(
            "{field}: an unpaired surrogate (\\ud800-\\udfff) is not a character",
            [field_error(field, "not valid Unicode text")],
            field=field,
        )


def choice_arg(name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    """A query parameter that must be one of `choices` (absent or empty: `default`)."""
    raw = request.args.get(name) or default
    if raw is not None and raw not in choices:
        raise Invalid(
            "query parameter {name} must be one of {choices}",
            [field_error(name, "one of {choices}", choices=", ".join(choices))],
            name=name,
            choices=", ".join(choices),
        )
    return raw


def init_app(app: Flask) -> None:
    app.before_request(check_query)
    app.before_request(check_json_body)
