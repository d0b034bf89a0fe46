"""The smallest record of each kind that its schema accepts (engine/linkage/kinds), for tests
that need a record of the right shape without running its diagram."""
from __future__ import annotations

from typing import Any

from engine.linkage.kinds import SCHEMAS

_PLAIN = {"string": "x", "integer": 1, "number": 1, "boolean": True, "array": [], "null": None}


def value(schema: dict[str, Any]) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return value(schema["anyOf"][0])
    t = schema.get("type")
    t = t[0] if isinstance(t, list) else t
    if t == "object":
        props = schema.get("properties") or {}
        return {k: value(props[k]) for k in schema.get("required", [])}
    return _PLAIN[t]


def sample(kind: str, **fields: Any) -> dict[str, Any]:
    """A valid `kind` record with `fields` set on top."""
    return {**value(SCHEMAS[kind]), **fields}
