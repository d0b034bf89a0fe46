"""Record kinds: each kind the built-in diagrams write, declared once with a JSON Schema
(Draft 2020-12) and a Chinese title.

`save_record` / `update_record` (the script helpers) call `check` on the data they are about to
store (for an update: the whole merged record), so a diagram that writes a wrong shape fails at
the write — an incident naming the kind and the field, nothing stored — instead of silently
emptying a dashboard later.

Unknown keys: every declared object is closed (`additionalProperties: false`), so a misspelt key
is refused where it is written; a new key means a line in the schema. Kinds nobody declared
(a process deployed later, test diagrams) are not checked: `KINDS` in records.py already keeps
them apart from the built-in kinds.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from engine.errors import ScriptError
from engine.linkage.kinds import inspection, linkage, platform
from engine.linkage.kinds._types import Schema

SCHEMAS: dict[str, Schema] = {**linkage.SCHEMAS, **platform.SCHEMAS, **inspection.SCHEMAS}
TITLES: dict[str, str] = {k: s["title"] for k, s in SCHEMAS.items()}


@cache
def _validator(kind: str) -> Draft202012Validator:
    """The reference validator: it names the field at fault when the fast one refuses."""
    return Draft202012Validator(SCHEMAS[kind])


@cache
def _fast(kind: str) -> jsonschema_rs.Draft202012Validator:
    """The same schema compiled by jsonschema-rs: ≈ 6 µs instead of ≈ 1.5 ms for a unit's
    quarterly record, which every branch's report checks twice (at the script's call and under the
    row lock at commit). The kinds use no format and no pattern, so both validators judge alike
    (tests/engine/test_record_kinds.py checks that they agree)."""
    return jsonschema_rs.Draft202012Validator(SCHEMAS[kind], validate_formats=False)


def _field(path: list[Any]) -> str:
    """A JSON path people can read: findings[2].state."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "(the record)"


def _describe(err: ValidationError) -> tuple[str, str]:
    """(field, problem) of a validation error, the field being the key at fault."""
    path = list(err.absolute_path)
    if err.validator == "required":
        missing = [k for k in err.validator_value if isinstance(err.instance, dict) and k not in err.instance]
        return _field(path + missing[:1]), "is required"
    if err.validator == "additionalProperties":
        known = set(err.schema.get("properties") or {})
        extra = sorted(k for k in err.instance if k not in known) if isinstance(err.instance, dict) else []
        return _field(path + extra[:1]), "is not a field of this kind"
    if err.validator == "type":
        types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        return _field(path), "must be " + " or ".join(types)
    if err.validator == "enum":
        return _field(path), "must be one of " + ", ".join("null" if v is None else str(v) for v in err.validator_value)
    return _field(path), str(err.message)


def _order(err: ValidationError) -> tuple[int, bool, str]:
    """Outermost first; at one level an unknown key first (a misspelt key also leaves one missing)."""
    return len(err.absolute_path), err.validator != "additionalProperties", _field(list(err.absolute_path))


def check(kind: str, data: Any) -> None:
    """Raise ScriptError naming the kind and the first wrong field when `data` does not fit the
    kind's schema; undeclared kinds pass."""
    if kind not in SCHEMAS or _fast(kind).is_valid(data):
        return
    errors = sorted(_validator(kind).iter_errors(data), key=_order)
    if errors:
        field, problem = _describe(errors[0])
        raise ScriptError("record {kind}: field {field}: {problem}", kind=kind, field=field, problem=problem)


def is_valid(kind: str, data: Any) -> bool:
    return kind not in SCHEMAS or _fast(kind).is_valid(data)
