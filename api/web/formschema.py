"""What the form renderer (api/web/formrender.py) and the form parser (api/web/formparse.py) read
from a JSON Schema alike: a node's main type, its choices (`enum`, `const`, `oneOf`/`anyOf` of
`const`), whether it holds attachment ids, its widget hint; and the emptiness of a value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ATTACHMENT = "attachment"  # the format of a field holding attachment ids

_MISSING = object()


@dataclass
class Choice:
    value: Any
    key: str  # the HTML value
    label: str


def join(path: str, key: str | int) -> str:
    return f"{path}/{key}" if path else str(key)


def main_type(schema: Mapping[str, Any]) -> str | None:
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
    return t


def choice_key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def choices_of(schema: Mapping[str, Any]) -> list[Choice]:
    """enum (+ enumNames), const, or oneOf/anyOf of {const, title}."""
    if isinstance(schema.get("enum"), list):
        names = schema.get("enumNames")
        names = names if isinstance(names, list) and len(names) == len(schema["enum"]) else None
        return [
            Choice(v, choice_key(v), str(names[i]) if names else str(v))
            for i, v in enumerate(schema["enum"])
            if v is not None
        ]
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if isinstance(options, list) and options and all(isinstance(o, dict) and "const" in o for o in options):
            return [
                Choice(o["const"], choice_key(o["const"]), str(o.get("title", o["const"])))
                for o in options
                if o["const"] is not None
            ]
    return []


def is_attachment(schema: Mapping[str, Any]) -> bool:
    """A field of attachment ids (engine/platform/attachments): `"format": "attachment"` or an array of them."""
    if schema.get("format") == ATTACHMENT:
        return True
    items = schema.get("items")
    return main_type(schema) == "array" and isinstance(items, Mapping) and items.get("format") == ATTACHMENT


def widget_hint(schema: Mapping[str, Any]) -> str | None:
    hint = schema.get("x-widget", schema.get("ui:widget"))
    return hint if isinstance(hint, str) else None


def _empty(value: Any) -> bool:
    if value is None or value == "" or value is False:
        return True
    if isinstance(value, list):
        return all(_empty(v) for v in value)
    if isinstance(value, dict):
        return all(_empty(v) for v in value.values())
    return False
