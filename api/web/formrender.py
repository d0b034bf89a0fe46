"""Our small JSON-Schema form renderer, tested in tests/web/test_formrender.py.

Three pure functions around one tree of `Field`s:

- `build(schema, data, errors)` turns a task's form schema and the current values into fields
  (rendered by the macros of templates/_form.html, on the server, without JavaScript);
- `parse(schema, form)` turns the posted HTML form back into JSON data by the same schema
  (numbers, booleans, enum values of any type, arrays of objects …), ready for the engine's
  validation;
- `localize(detail, schema)` turns one 422 detail `{field, message, rule, limit}` into a
  translated message for the field it names.

Every HTML control is named by the JSON path of its value (`findings/0/kind`), the same path
the API's validation details use, so errors land next to their field. Supported: `title`,
`description`, `required`, `default`, `enum` (+ `enumNames`), `oneOf`/`anyOf` of `const` + `title`,
`boolean`, `integer`/`number` (+ `minimum`/`maximum`/`multipleOf`), `string` (+ `format`: `date`,
`date-time`, `email`, `attachment` — a file control, also for an array of them; `minLength`/`maxLength`; a textarea when `maxLength` > 200 or with
`"x-widget": "textarea"`), nested objects, arrays of enums (checkboxes) and repeating groups
(arrays of objects or scalars, `minItems`/`maxItems`). `"x-widget"` (or `"ui:widget"`) picks
`textarea`, `radio`, `select`, `checkboxes` or `hidden`. See docs/forms.md.

`parse` lives in api/web/formparse.py and what both read from a schema in api/web/formschema.py;
both are importable from here as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.org.confidential import MARK

from . import formrules
from .formparse import _from_local_input, _Parser, parse  # noqa: F401
from .formschema import (  # noqa: F401
    _MISSING,
    ATTACHMENT,
    Choice,
    _empty,
    choice_key,
    choices_of,
    is_attachment,
    join,
    main_type,
    widget_hint,
)

ROW = "__i__"  # placeholder index of the row template of a repeating group
RADIO_MAX = 4  # up to this many choices render as radio buttons, more as a select
LONG_TEXT = 200  # maxLength above this renders a textarea
UPLOAD = "_upload:"  # prefix of the plain file control of an attachment field (posted without JavaScript)


@dataclass
class Field:
    path: str
    name: str
    widget: str  # group | repeat | text | textarea | number | date | datetime | email | checkbox | radio | select | checkboxes | hidden
    label: str = ""
    help: str = ""
    required: bool = False
    value: Any = None
    choices: list[Choice] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    template: Field | None = None
    errors: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    min_items: int = 0
    max_items: int | None = None

    @property
    def id(self) -> str:
        return "f-" + (self.path.replace("/", "-") if self.path else "root")

    @property
    def text(self) -> str:
        """The value as a person reads it (choices by their label)."""
        return display_text(self)

    def walk(self) -> Iterable[Field]:
        yield self
        for child in self.children:
            yield from child.walk()


# ---- schema + values -> fields ------------------------------------------------------------------


def build(
    schema: Mapping[str, Any],
    data: Mapping[str, Any] | None,
    errors: Mapping[str, list[str]] | None = None,
    *,
    omit: Iterable[str] = (),
    extra_required: Iterable[str] = (),
    display: bool = False,
    zone: ZoneInfo | None = None,
) -> Field:
    """The root group of a form. `omit` skips top-level properties (rendered elsewhere);
    `extra_required` marks more top-level properties required (e.g. an `else` branch);
    `display` builds a read-only view: only values that are there, no padding rows."""
    ctx = _Ctx(dict(errors or {}), display, zone)
    required = set(schema.get("required") or []) | set(extra_required)
    root = Field(
        path="", name="", widget="group", label=str(schema.get("title", "")), help=str(schema.get("description", ""))
    )
    values = data if isinstance(data, Mapping) else {}
    for key, sub in (schema.get("properties") or {}).items():
        if key in omit or not isinstance(sub, dict):
            continue
        child = ctx.node(sub, key, key, values.get(key, _MISSING), key in required)
        if child is not None:
            root.children.append(child)
    ctx.mark_conditions(schema, root, required, values)
    root.errors = ctx.errors.pop("", [])
    return root


def leftover_errors(root: Field, errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Errors naming no field of the tree (shown at the top of the form)."""
    paths = {f.path for f in root.walk()}
    return {p: m for p, m in errors.items() if p not in paths}


class _Ctx:
    def __init__(self, errors: dict[str, list[str]], display: bool, zone: ZoneInfo | None) -> None:
        self.errors = errors
        self.display = display
        self.zone = zone

    def node(self, schema: Mapping[str, Any], path: str, name: str, value: Any, required: bool) -> Field | None:
        if value is _MISSING:
            value = None if self.display else schema.get("default")
        if self.display and _empty(value) and value is not False:
            return None
        t = main_type(schema)
        # a list with no minimum may stay empty: no * on it (e.g. 发现的问题, "没有则留空")
        if t == "array" and not schema.get("minItems"):
            required = False
        f = Field(
            path=path,
            name=name,
            widget="text",
            label=str(schema.get("title", name)),
            help=str(schema.get("description", "")),
            required=required,
            value=value,
            errors=self.errors.pop(path, []) if path != ROW and ROW not in path.split("/") else [],
        )
        if value == MARK:  # redacted for this reader (engine/org/confidential.py): shown as the mark, whatever its type
            return f
        hint = widget_hint(schema)
        choices = choices_of(schema)
        if t == "object":
            f.widget = "group"
            req = set(schema.get("required") or [])
            values = value if isinstance(value, Mapping) else {}
            for key, sub in (schema.get("properties") or {}).items():
                if isinstance(sub, dict):
                    child = self.node(sub, join(path, key), key, values.get(key, _MISSING), key in req)
                    if child is not None:
                        f.children.append(child)
            self.mark_conditions(schema, f, req, values)
            return f
        if is_attachment(schema):  # one id or an array of ids: one file control (templates/_attachments.html)
            f.widget = "attachment"
            f.attrs["multiple"] = t == "array"
            f.value = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v]
            return f
        if t == "array":
            items: Mapping[str, Any] = schema["items"] if isinstance(schema.get("items"), dict) else {}
            item_choices = choices_of(items)
            f.min_items = int(schema.get("minItems", 0) or 0)
            f.max_items = schema.get("maxItems")
            if item_choices or hint == "checkboxes":
                f.widget, f.choices = "checkboxes", item_choices
                f.value = value if isinstance(value, list) else []
                for key in [k for k in self.errors if k.startswith(path + "/") and k[len(path) + 1 :].isdigit()]:
                    f.errors.extend(m for m in self.errors.pop(key) if m not in f.errors)  # one checked box refused
                return f
            f.widget = "repeat"
            rows = value if isinstance(value, list) else []
            fixed = schema.get("x-rows-fixed") is True  # one row per item of an earlier list (form_fields)
            count = len(rows) if self.display else max(len(rows), f.min_items, 0 if fixed else 1)
            labels = schema.get("x-row-labels") or []
            details = schema.get("x-row-details") or []
            for i in range(count):
                row_value = rows[i] if i < len(rows) else _MISSING
                row = self.node(items, join(path, i), str(i), row_value, True)
                if row is not None:
                    if fixed:
                        row.label = str(labels[i]) if i < len(labels) else ""
                        row.help = str(details[i]) if i < len(details) else ""
                    f.children.append(row)
            f.attrs["fixed"] = fixed
            if not self.display and not fixed:
                f.template = self.node(items, join(path, ROW), ROW, _MISSING, True)
            return f
        if hint == "fixed":  # a key of a row per item: shown, posted as it is, never typed
            f.widget, f.choices = "fixed", choices
            return f
        if choices:
            f.choices = choices
            f.widget = (
                hint if hint in ("radio", "select", "hidden") else ("radio" if len(choices) <= RADIO_MAX else "select")
            )
            return f
        if t == "boolean":
            f.widget = "checkbox"
            f.value = value is True
            return f
        if t in ("integer", "number"):
            f.widget = "hidden" if hint == "hidden" else "number"
            step = schema.get("multipleOf") or (1 if t == "integer" else "any")
            f.attrs = {"step": step, "inputmode": "numeric" if t == "integer" else "decimal"}
            for kw, attr in (("minimum", "min"), ("maximum", "max")):
                if isinstance(schema.get(kw), (int, float)):
                    f.attrs[attr] = schema[kw]
            return f
        fmt = schema.get("format")
        max_len = schema.get("maxLength")
        if hint in ("textarea", "hidden"):
            f.widget = hint
        elif fmt == "date":
            f.widget = "date"
        elif fmt == "date-time":
            f.widget = "datetime"
            f.attrs["local"] = _to_local_input(value, self.zone)
        elif fmt == "email":
            f.widget = "email"
        elif isinstance(max_len, int) and max_len > LONG_TEXT:
            f.widget = "textarea"
        if isinstance(max_len, int):
            f.attrs["maxlength"] = max_len
        if isinstance(schema.get("x-rows"), int):
            f.attrs["rows"] = schema["x-rows"]
        return f

    def mark_conditions(
        self, schema: Mapping[str, Any], group: Field, required: set[str], values: Mapping[str, Any]
    ) -> None:
        """Put the object's conditional rules on its fields (`*` shown live, formrules.py)."""
        if self.display:
            return
        rules = formrules.conditions(schema, skip=required)
        for child in group.children:
            conds = rules.get(child.name)
            if conds:
                child.attrs["when"] = conds
                child.attrs["when_on"] = any(formrules.holds(c, values) for c in conds)


def display_text(f: Field) -> str:
    if f.widget == "attachment":
        return "、".join(f.value or [])
    if f.widget in ("radio", "select", "hidden", "fixed") and f.choices:
        for c in f.choices:
            if c.value == f.value:
                return c.label
    if f.widget == "checkboxes":
        labels = {c.key: c.label for c in f.choices}
        return "、".join(labels.get(choice_key(v), str(v)) for v in (f.value or []))
    if f.widget == "datetime" and f.attrs.get("local"):
        return str(f.attrs["local"]).replace("T", " ")
    if f.value is None:
        return ""
    if isinstance(f.value, float) and f.value.is_integer():
        return str(int(f.value))
    return str(f.value)


def _to_local_input(value: Any, zone: ZoneInfo | None) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if dt.tzinfo is not None and zone is not None:
        dt = dt.astimezone(zone)
    return dt.strftime("%Y-%m-%dT%H:%M")


def attachment_ids(root: Field) -> list[str]:
    """The ids held by the attachment fields of a form (for their names and sizes on the page)."""
    return [v for f in root.walk() if f.widget == "attachment" for v in (f.value or [])]


# ---- validation details -> messages -----------------------------------------------------------------


def node_at(schema: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    node: Any = schema
    for seg in [s for s in path.split("/") if s]:
        if not isinstance(node, Mapping):
            return None
        if main_type(node) == "array":
            node = node.get("items")
        else:
            node = (node.get("properties") or {}).get(seg)
    return node if isinstance(node, Mapping) else None


def localize(detail: Mapping[str, Any], schema: Mapping[str, Any], gettext: Callable[..., str]) -> str:
    """A translated message for one validation detail (the engine's English text as fallback)."""
    _ = gettext
    rule = detail.get("rule")
    limit = detail.get("limit")
    node = node_at(schema, str(detail.get("field", ""))) or {}
    t = main_type(node)
    if rule == "required":
        return _("This field is required.")
    if rule == "type":
        if t == "integer":
            return _("Enter a whole number.")
        if t == "number":
            return _("Enter a number.")
        return _("This value has the wrong type.")
    if rule in ("enum", "const", "oneOf", "anyOf"):
        return _("Choose one of the options.")
    if rule == "minLength":
        return _("Enter at least %(n)s characters.", n=limit)
    if rule == "maxLength":
        return _("Enter at most %(n)s characters.", n=limit)
    if rule == "minimum":
        return _("The value must be at least %(n)s.", n=limit)
    if rule == "maximum":
        return _("The value must be at most %(n)s.", n=limit)
    if rule == "exclusiveMinimum":
        return _("The value must be greater than %(n)s.", n=limit)
    if rule == "exclusiveMaximum":
        return _("The value must be less than %(n)s.", n=limit)
    if rule == "multipleOf":
        return _("The value must be a multiple of %(n)s.", n=limit)
    if rule == "minItems":
        return _("Add at least %(n)s item(s).", n=limit)
    if rule == "maxItems":
        return _("Add at most %(n)s item(s).", n=limit)
    if rule == "uniqueItems":
        return _("Each item may appear only once.")
    if rule == "format":
        fmt = node.get("format", limit)
        if fmt == "date":
            return _("Enter a date (YYYY-MM-DD).")
        if fmt == "date-time":
            return _("Enter a date and time.")
        if fmt == "email":
            return _("Enter an email address.")
        return _("The format is not valid.")
    if rule == "pattern":
        return _("The format is not valid.")
    return str(detail.get("message", ""))


def errors_by_field(details: Any, schema: Mapping[str, Any], gettext: Callable[..., str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in details if isinstance(details, list) else []:
        if isinstance(d, Mapping):
            out.setdefault(str(d.get("field", "")), []).append(localize(d, schema, gettext))
    return out


def send_back_required(schema: Mapping[str, Any]) -> set[str]:
    """Fields required unless sending back: the `else` branch of the send-back condition."""
    other = schema.get("else")
    if schema.get("x-send-back") and isinstance(other, Mapping):
        return set(other.get("required") or [])
    return set()
