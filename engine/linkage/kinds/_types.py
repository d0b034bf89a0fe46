"""Building blocks of the record kinds' JSON Schemas (Draft 2020-12), so that each kind reads
as the list of its fields and the types mean the same everywhere."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
# timestamps written by now_iso() and dates (YYYY-MM-DD) from forms and date helpers; kept as strings
# without a format check, as the dashboards parse them leniently anyway
TIME: Schema = {"type": "string"}
DATE: Schema = {"type": "string"}
ANY_OBJECT: Schema = {"type": "object"}
STR_LIST: Schema = {"type": "array", "items": STR}


def maybe(schema: Schema) -> Schema:
    """The schema, or null (a field the diagram writes as None until a later step fills it)."""
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    t = schema.get("type")
    if isinstance(t, str):
        return {**schema, "type": [t, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def one_of(*values: Any) -> Schema:
    return {"enum": list(values)}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None, *, closed: bool = True) -> Schema:
    """An object with `required` and `optional` fields; `closed` refuses any other key (a misspelt
    key is caught where it is written, instead of silently emptying a chart later)."""
    properties = {**required, **(optional or {})}
    out: Schema = {"type": "object", "properties": properties, "required": sorted(required)}
    if closed:
        out["additionalProperties"] = False
    return out


def kind(
    title: str, description: str, required: dict[str, Schema], optional: dict[str, Schema] | None = None
) -> Schema:
    """A record kind's schema: `title` is its Chinese name (reports, pages)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": description,
        **obj(required, optional),
    }
