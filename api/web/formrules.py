"""Conditional rules of an object schema, as the task page marks them live (js/formrules.js).

JSON Schema `if`/`then`/`else` (also inside `allOf`), `dependentRequired` and `dependentSchemas`
make a field required only when another field of the same object has a value. The renderer
puts each field's conditions on its container (`data-required-when`); the script shows the red
`*` while one holds. Without JavaScript nothing changes: the server refuses with the message on
the field (engine/core/forms.py).

A condition is `{"all": [{"field": sibling, "in": [choice keys]} | {"field": sibling, "filled": true}],
"negate": bool}`; a field is required when any of its conditions holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .formschema import choice_key


def _test(if_schema: Any) -> list[dict[str, Any]] | None:
    """The sibling tests of an `if` (each property's `const` or `enum`); None when not of that shape."""
    if not isinstance(if_schema, Mapping):
        return None
    props = if_schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        return None
    tests = []
    for name, sub in props.items():
        if not isinstance(sub, Mapping):
            return None
        if "const" in sub:
            values = [sub["const"]]
        elif isinstance(sub.get("enum"), list):
            values = list(sub["enum"])
        else:
            return None
        tests.append({"field": str(name), "in": [choice_key(v) for v in values]})
    return tests


def _required_by(branch: Any) -> list[str]:
    """Fields a `then`/`else`/dependent schema makes required (also `minLength`/`minItems` ≥ 1)."""
    if not isinstance(branch, Mapping):
        return []
    names = [str(n) for n in branch.get("required") or [] if isinstance(n, str)]
    for name, sub in (branch.get("properties") or {}).items():
        if isinstance(sub, Mapping) and (
            int(sub.get("minLength", 0) or 0) >= 1 or int(sub.get("minItems", 0) or 0) >= 1
        ):
            names.append(str(name))
    return names


def conditions(schema: Mapping[str, Any], skip: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Property name → the conditions under which it is required (fields in `skip`, already
    required, are left out)."""
    out: dict[str, list[dict[str, Any]]] = {}
    skip = skip or set()

    def add(names: list[str], cond: dict[str, Any]) -> None:
        for name in names:
            if name not in skip and cond not in out.setdefault(name, []):
                out[name].append(cond)

    parts = [schema] + [p for p in schema.get("allOf") or [] if isinstance(p, Mapping)]
    for part in parts:
        tests = _test(part.get("if"))
        if tests is None:
            continue
        add(_required_by(part.get("then")), {"all": tests, "negate": False})
        add(_required_by(part.get("else")), {"all": tests, "negate": True})
    for name, needed in (schema.get("dependentRequired") or {}).items():
        if isinstance(needed, list):
            add([str(n) for n in needed], {"all": [{"field": str(name), "filled": True}], "negate": False})
    for name, sub in (schema.get("dependentSchemas") or {}).items():
        add(_required_by(sub), {"all": [{"field": str(name), "filled": True}], "negate": False})
    return out


def holds(cond: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether a condition holds for the object's current values (the page's first rendering)."""
    ok = True
    for test in cond.get("all") or []:
        value = values.get(test["field"])
        if test.get("filled"):
            ok = ok and value not in (None, "", [], False)
        else:
            ok = ok and value is not None and choice_key(value) in test.get("in", [])
    return (not ok) if cond.get("negate") else ok
