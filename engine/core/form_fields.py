"""Form fields that know the organisation and the task (docs/forms.md, "Fields that know the task").

A stored form schema may carry three extensions that depend on the task it is shown for; they are
resolved here into plain JSON Schema before a form is served, rendered or validated, so the page,
the API and the server's check all use the same choices and the same rows:

- `"x-source"` on a string field (or on an array of strings): its choices come from the
  organisation (`branches`, `units`, `people`, `committee`) or from a list in the task's data
  (`{"source": "list", "list": "nominees", "value": "username", "label": "name"}`); resolved into
  `enum` + `enumNames` (values are ids or usernames, labels are names);
- `"x-default"` on any field: its first value, from the task's data (a variable name, a dotted
  path, or `{"expr": "…"}` evaluated in the script sandbox) — returned as the form's prefill;
- `"x-rows-from"` on an array of objects: one row per item of an earlier list, its key fields
  fixed (shown, not typed) and checked (`prefixItems` of `const`), the item shown above its row.

This module is pure: the organisation's choices come from a `choices_for` callback that the task
service implements (engine/services/task_form.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from engine.core.scripts import RestrictedEnvironment

SOURCES = (
    "branches",
    "units",
    "people",
    "committee",
    "inspectors",
    "zones",
    "zone_people",
    "secondment_batches",
    "list",
)
ChoicesFor = Callable[[Mapping[str, Any]], list[tuple[Any, str]]]


def source_spec(node: Mapping[str, Any]) -> dict[str, Any] | None:
    """The `x-source` of a field as a dict (`"branches"` is `{"source": "branches"}`)."""
    spec = node.get("x-source")
    if isinstance(spec, str):
        return {"source": spec}
    if isinstance(spec, Mapping) and isinstance(spec.get("source"), str):
        return dict(spec)
    return None


def lookup(variables: Mapping[str, Any], path: str) -> Any:
    """`a.b.0.c` in the task's data; None when any step is missing."""
    value: Any = variables
    for seg in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(seg)
        elif isinstance(value, list) and seg.isdigit() and int(seg) < len(value):
            value = value[int(seg)]
        else:
            return None
    return value


def evaluate(spec: Any, variables: Mapping[str, Any]) -> Any:
    """An `x-default`: a variable path, or `{"expr": …}` run in the sandbox (None when it fails)."""
    if isinstance(spec, str):
        return lookup(variables, spec)
    if isinstance(spec, Mapping) and isinstance(spec.get("expr"), str):
        try:
            return RestrictedEnvironment({}).evaluate(spec["expr"], dict(variables))
        except Exception:  # a default that cannot be computed leaves the field empty
            return None
    return None


def _format(template: Any, item: Mapping[str, Any]) -> str:
    if not isinstance(template, str):
        return ""
    try:
        return template.format_map({k: ("" if v is None else v) for k, v in item.items()})
    except (KeyError, IndexError, ValueError, AttributeError):
        return template


def row_items(spec: Mapping[str, Any], variables: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The items of the list a spec names, each with its position from 1 as `#` (a plain value
    is the item's `value`)."""
    items = lookup(variables, str(spec.get("list", "")))
    if not isinstance(items, list):
        return []
    return [{**(i if isinstance(i, Mapping) else {"value": i}), "#": n} for n, i in enumerate(items, 1)]


class _Resolver:
    def __init__(self, variables: Mapping[str, Any], choices_for: ChoicesFor) -> None:
        self.variables = variables
        self.choices_for = choices_for

    def choices(self, spec: dict[str, Any]) -> list[tuple[Any, str]]:
        if spec["source"] == "list":
            out = []
            for item in row_items(spec, self.variables):
                value = item.get(str(spec.get("value", "id")))
                if value is not None:
                    out.append((value, _format(spec.get("label"), item) or str(item.get("name", value))))
            return out
        return self.choices_for(spec)

    def node(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.node(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: self.node(v) for k, v in node.items()}
        spec = source_spec(node)
        if spec is not None:
            pairs = self.choices(spec)
            target = out
            if out.get("type") == "array" and isinstance(out.get("items"), dict):
                target = out["items"] = dict(out["items"])
            target["enum"] = [v for v, _label in pairs]
            target["enumNames"] = [label for _v, label in pairs]
        rows = node.get("x-rows-from")
        if isinstance(rows, Mapping) and isinstance(out.get("items"), dict):
            self.rows(out, rows)
        return out

    def rows(self, out: dict[str, Any], spec: Mapping[str, Any]) -> None:
        """One fixed row per item: at most that many rows, each key one of the items' keys (named
        by the item); whether every item got its row is the process's own rule (`validate`),
        which names the missing ones."""
        items = row_items(spec, self.variables)
        keys = {str(k): str(v) for k, v in (spec.get("key") or {}).items()}
        row = out["items"] = copy.deepcopy(out["items"])
        labels = [_format(spec.get("label"), i) for i in items]
        for name, item_field in keys.items():
            prop = (row.get("properties") or {}).get(name)
            if not isinstance(prop, dict):
                continue
            known = dict(zip(prop.get("enum") or [], prop.get("enumNames") or [], strict=False))
            values = [i.get(item_field) for i in items]
            prop["x-widget"] = "fixed"
            prop["enum"] = values
            prop["enumNames"] = [str(known.get(v) or labels[n] or v) for n, v in enumerate(values)]
        out["maxItems"] = len(items)
        out["x-rows-fixed"] = True
        out["x-row-labels"] = labels
        out["x-row-details"] = [_format(spec.get("detail"), i) for i in items]


def resolve(schema: Mapping[str, Any], variables: Mapping[str, Any], choices_for: ChoicesFor) -> dict[str, Any]:
    """The schema for one task: choices and rows filled in (a new dict; `schema` is not changed)."""
    return dict(_Resolver(variables, choices_for).node(dict(schema)))


def _defaults(node: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, sub in (node.get("properties") or {}).items():
        if not isinstance(sub, Mapping):
            continue
        if "x-default" in sub:
            value = evaluate(sub["x-default"], variables)
            if value is not None:
                out[key] = value
                continue
        rows = sub.get("x-rows-from")
        if isinstance(rows, Mapping):
            out[key] = _rows(sub, rows, variables)
        elif sub.get("type") == "object":
            inner = _defaults(sub, variables)
            if inner:
                out[key] = inner
    return out


def _rows(node: Mapping[str, Any], spec: Mapping[str, Any], variables: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of an `x-rows-from` array: key fields and copied fields from each item; the
    row's own `x-default`s are read with the item's fields on top of the task's data."""
    items = row_items(spec, variables)
    keys = {str(k): str(v) for k, v in (spec.get("key") or {}).items()}
    copies = {str(k): str(v) for k, v in (spec.get("copy") or {}).items()}
    row_schema = node.get("items") if isinstance(node.get("items"), Mapping) else {}
    out = []
    for item in items:
        row = _defaults(row_schema or {}, {**variables, "item": item})
        for name, field in {**copies, **keys}.items():
            if item.get(field) is not None:
                row[name] = item[field]
        out.append(row)
    return out


def prefill(schema: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """The first values of a new form for this task (`x-default`s and `x-rows-from` rows)."""
    return _defaults(schema, variables)


def has_extensions(schema: Any) -> bool:
    """Whether a schema depends on its task at all (most forms do not: they are served as stored)."""
    if isinstance(schema, list):
        return any(has_extensions(s) for s in schema)
    if not isinstance(schema, Mapping):
        return False
    if "x-source" in schema or "x-default" in schema or "x-rows-from" in schema:
        return True
    return any(has_extensions(v) for v in schema.values() if isinstance(v, (dict, list)))
