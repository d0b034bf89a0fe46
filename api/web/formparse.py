"""The posted HTML form back into JSON data by the form's schema (the other way of
`formrender.build`): numbers, booleans, enum values of any type, arrays of objects …, ready for the
engine's validation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .formschema import _MISSING, _empty, choices_of, is_attachment, join, main_type, widget_hint

# ---- posted form -> JSON data --------------------------------------------------------------------


def parse(schema: Mapping[str, Any], form: Any, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """JSON data from an HTML form (a werkzeug MultiDict, or a dict of str / list of str) posted
    with the controls `build` made. Empty inputs are left out (so `required` reports them);
    values that do not convert (`12a` in a number) are kept as text for the schema to refuse."""
    getlist: Callable[[str], list[str]]
    if hasattr(form, "getlist"):
        getlist = form.getlist
        keys = list(form.keys())
    else:

        def getlist(k: str) -> list[str]:
            v = form.get(k)
            return [] if v is None else (list(v) if isinstance(v, (list, tuple)) else [v])

        keys = list(form)
    p = _Parser(getlist, keys, zone)
    value = p.node(dict(schema), "")
    return value if isinstance(value, dict) else {}


class _Parser:
    def __init__(self, getlist: Callable[[str], list[str]], keys: list[str], zone: ZoneInfo | None) -> None:
        self.getlist = getlist
        self.keys = keys
        self.zone = zone

    def first(self, path: str) -> str | None:
        values = self.getlist(path)
        return values[-1] if values else None  # a checkbox after its hidden twin wins

    def node(self, schema: Mapping[str, Any], path: str) -> Any:
        t = main_type(schema)
        choices = choices_of(schema)
        if is_attachment(schema):
            ids = [v.strip() for v in self.getlist(path) if v.strip()]
            if t == "array":
                return ids
            return ids[-1] if ids else _MISSING
        if t == "object":
            out: dict[str, Any] = {}
            for key, sub in (schema.get("properties") or {}).items():
                if not isinstance(sub, dict):
                    continue
                v = self.node(sub, join(path, key))
                if v is not _MISSING:
                    out[key] = v
            return out if path == "" or not _empty(out) else _MISSING
        if t == "array":
            items: Mapping[str, Any] = schema["items"] if isinstance(schema.get("items"), dict) else {}
            item_choices = choices_of(items)
            if item_choices or widget_hint(schema) == "checkboxes":
                by_key = {c.key: c.value for c in item_choices}
                return [by_key.get(raw, raw) for raw in self.getlist(path) if raw != ""]
            prefix = path + "/" if path else ""
            indices = sorted(
                {
                    int(seg)
                    for seg in (k[len(prefix) :].split("/", 1)[0] for k in self.keys if k.startswith(prefix))
                    if seg.isdigit()
                }
            )
            if schema.get("x-rows-fixed") is True:
                return self.fixed_rows(items, path, indices)
            rows = []
            for i in indices:
                v = self.node(items, join(path, i))
                if v is _MISSING or _empty(v):
                    continue
                rows.append(v)
            return rows
        raw = self.first(path)
        if t == "boolean" and not choices:
            return raw not in (None, "", "0", "false", "off")
        if raw is None:
            return _MISSING
        text = raw.strip()
        if text == "":
            return _MISSING
        if choices:
            for c in choices:
                if c.key == text:
                    return c.value
            return text
        if t == "integer":
            try:
                return int(text)
            except ValueError:
                try:
                    f = float(text)
                    return int(f) if f.is_integer() else text
                except ValueError:
                    return text
        if t == "number":
            try:
                return int(text)
            except ValueError:
                try:
                    f = float(text)
                    return f if math.isfinite(f) else text
                except ValueError:
                    return text
        if schema.get("format") == "date-time":
            return _from_local_input(text, self.zone)
        return text

    def fixed_rows(self, items: Mapping[str, Any], path: str, indices: list[int]) -> Any:
        """Rows per item (engine/core/form_fields.py): every row is kept with its fixed key, so a
        row left blank is reported on its own fields; when no row has anything but its key, the
        list is left out (e.g. a review sent back needs no classification)."""
        fixed = {
            k
            for k, sub in (items.get("properties") or {}).items()
            if isinstance(sub, Mapping) and widget_hint(sub) == "fixed"
        }
        rows, filled = [], False
        for i in indices:
            v = self.node(items, join(path, i))
            if v is _MISSING:
                continue
            if isinstance(v, dict) and not _empty({k: x for k, x in v.items() if k not in fixed}):
                filled = True
            rows.append(v)
        return rows if filled else _MISSING


def _from_local_input(text: str, zone: ZoneInfo | None) -> str:
    """`2027-01-05T10:00` from a datetime-local control → ISO 8601 with the zone's offset."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return text
    if dt.tzinfo is None and zone is not None:
        dt = dt.replace(tzinfo=zone)
    return dt.isoformat()
