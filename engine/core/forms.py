"""JSON-schema forms for user tasks, validated on the server.

A user task names its form with the SpiffWorkflow property `formJsonSchemaFilename` (the form's
key). The app's store reads deployed, versioned forms from the database (`form`, issue 15): a
definition pins the versions it was deployed with, and each (key, version) is parsed and its
validator compiled once (issue 20). Without a database (benchmarks, engine tests) the store reads
`forms/` on disk, once per file version (mtime). Completion data is validated with one message
per field.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from sqlalchemy import bindparam, event, func, select
from sqlalchemy.orm import Session, object_session

from engine.core.form_models import DefinitionForm, FormVersion
from engine.errors import Invalid, Msg, NotFound, field_error
from engine.infra.db import write_intent

_FORMAT_CHECKER = FormatChecker()


def _send_back_problems(name: str, schema: dict[str, Any]) -> list[str]:
    """Check a form's `x-send-back` declaration against its own properties."""
    spec = schema.get("x-send-back")
    if spec is None:
        return []
    props = schema.get("properties") or {}
    if not isinstance(spec, dict) or not isinstance(spec.get("field"), str) or "value" not in spec:
        return [f"form {name!r}: x-send-back must be an object with field and value"]
    problems = []
    field = props.get(spec["field"])
    if not isinstance(field, dict):
        problems.append(f"form {name!r}: x-send-back names the field {spec['field']!r}, which the form does not have")
    else:
        choices = field.get("enum") or [o.get("const") for o in field.get("oneOf") or [] if isinstance(o, dict)]
        if choices and spec["value"] not in choices:
            problems.append(f"form {name!r}: x-send-back value {spec['value']!r} is not a choice of {spec['field']!r}")
    reason = spec.get("reason")
    if reason is not None and reason not in props:
        problems.append(f"form {name!r}: x-send-back names the reason field {reason!r}, which the form does not have")
    return problems


# JSON Schema keyword → the catalog template of its field error (jsonschema's English is never shown).
RULES = {
    "required": Msg("this field is required"),
    "minLength": Msg("enter at least {limit} characters"),
    "maxLength": Msg("enter at most {limit} characters"),
    "minimum": Msg("the value must be at least {limit}"),
    "maximum": Msg("the value must be at most {limit}"),
    "exclusiveMinimum": Msg("the value must be greater than {limit}"),
    "exclusiveMaximum": Msg("the value must be less than {limit}"),
    "multipleOf": Msg("the value must be a multiple of {limit}"),
    "minItems": Msg("add at least {limit} item(s)"),
    "maxItems": Msg("add at most {limit} item(s)"),
    "uniqueItems": Msg("each item may appear only once"),
    "enum": Msg("choose one of the options"),
    "const": Msg("choose one of the options"),
    "oneOf": Msg("choose one of the options"),
    "anyOf": Msg("choose one of the options"),
    "pattern": Msg("the format is not valid"),
    "additionalProperties": Msg("the form has no such field"),
}
FORMATS = {
    "date": Msg("enter a date (YYYY-MM-DD)"),
    "date-time": Msg("enter a date and time"),
    "email": Msg("enter an e-mail address"),
}
TYPES = {
    "integer": Msg("enter a whole number"),
    "number": Msg("enter a number"),
    "string": Msg("enter text"),
    "boolean": Msg("choose yes or no"),
    "array": Msg("expected a list"),
    "object": Msg("expected an object"),
}


def field_problem(path: str, err: Any) -> dict[str, Any]:
    """One jsonschema error as a catalog field error (its own English text is dropped)."""
    rule = str(err.validator)
    limit = err.validator_value
    if rule == "format":
        problem = FORMATS.get(str(limit), RULES["pattern"])
    elif rule == "type":
        wanted = limit if isinstance(limit, str) else next((t for t in limit if t != "null"), "")
        problem = TYPES.get(str(wanted), Msg("this value has the wrong type"))
    else:
        problem = RULES.get(rule, Msg("this value is not valid"))
    detail = field_error(path, problem.template, rule, **({"limit": limit} if "{limit}" in problem.template else {}))
    detail["rule"] = rule
    if isinstance(limit, (int, float, str)) and not isinstance(limit, bool):
        detail["limit"] = limit
    return detail


def field_problems(found: Any) -> list[dict[str, Any]]:
    """Every field error, once each, in field order (jsonschema reports a `required` error per
    schema that requires a property, each listing all missing ones)."""
    details: list[dict[str, Any]] = []
    for err in sorted(found, key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in err.absolute_path)
        if err.validator in ("required", "dependentRequired") and isinstance(err.instance, dict):
            wanted = err.validator_value
            if err.validator == "dependentRequired":  # {present: [needed, …]}: the missing ones are required
                wanted = [n for k, v in wanted.items() if k in err.instance for n in v]
            for name in [r for r in wanted if r not in err.instance]:
                detail = field_error(f"{path}/{name}" if path else name, RULES["required"].template, "required")
                detail["rule"] = "required"
                details.append(detail)
            continue
        details.append(field_problem(path, err))
    return list({(d["field"], d["template"]): d for d in details}.values())


Entry = tuple[dict[str, Any], Draft202012Validator]

# A deployed form version and a definition's pins never change once committed (no statement
# updates or deletes them), so the stores below keep what they read: (key, version) → content
# hash and (definition id, key) → pinned version. Only committed rows may be kept: a transaction
# that inserted forms, pins or definitions could still roll back and the same key, version or
# (on SQLite) id be given to other content later. Such a transaction is marked here (its root
# `SessionTransaction` in `session.info`) and reads through it are not kept.
_WROTE = "sanji_forms_written_in"
_CACHE_MAX = 4096


def mark_written(_mapper: Any, _connection: Any, target: Any) -> None:
    """`after_insert` listener: the session's current transaction wrote forms, pins or definitions."""
    s = object_session(target)
    if s is not None:
        s.info[_WROTE] = s.get_transaction()


event.listen(FormVersion, "after_insert", mark_written)
event.listen(DefinitionForm, "after_insert", mark_written)  # ProcessDefinition: engine/core/repository.py


_PIN = select(DefinitionForm.form_version).where(
    DefinitionForm.definition_id == bindparam("definition_id"), DefinitionForm.form_key == bindparam("form_key")
)


def _committed_reads(s: Session) -> bool:
    """Whether what `s` reads now is committed data (its transaction inserted no forms, pins or
    definitions): only then may a store keep it beyond the transaction."""
    wrote = s.info.get(_WROTE)
    return wrote is None or wrote is not s.get_transaction()


_CHECKED: OrderedDict[str, None] = OrderedDict()  # canonical JSON of schemas that passed the metaschema
_CHECKED_MAX = 512
_CHECKED_LOCK = threading.Lock()


def compile_schema(schema: dict[str, Any]) -> Draft202012Validator:
    """Check a schema against its metaschema (SchemaError) and compile its validator. The check
    (most of a deploy's time: every form of every process) runs once per distinct content per
    process, whichever store asks: the answer depends on the content alone."""
    canonical = json.dumps(schema, sort_keys=True, ensure_ascii=False, default=str)
    with _CHECKED_LOCK:
        known = canonical in _CHECKED
        if known:
            _CHECKED.move_to_end(canonical)
    if not known:
        Draft202012Validator.check_schema(schema)
        with _CHECKED_LOCK:
            _CHECKED[canonical] = None
            while len(_CHECKED) > _CHECKED_MAX:
                _CHECKED.popitem(last=False)
    return Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)


class FormStore:
    """Forms by key (and version). `FormStore(dir)` reads files; `FormStore(dir, sessions)` reads
    the database, through `bound(session)`'s session when given (so a deploy sees the forms of its
    own transaction), else a short read-only session of its own."""

    def __init__(self, forms_dir: Path, sessions: Callable[[], Session] | None = None) -> None:
        self.forms_dir = Path(forms_dir)
        self._sessions = sessions
        self._session: Session | None = None
        self._files: dict[str, tuple[float, dict[str, Any], Draft202012Validator]] = {}
        self._versions: dict[str, Entry] = {}  # by sha256 of the canonical JSON: never stale
        # committed rows only (see _committed_reads), shared by every bound clone
        self._shas: dict[tuple[str, int], str] = {}  # (key, version) → sha256
        self._pins: dict[tuple[int, str], int | None] = {}  # (definition id, key) → pinned version
        # has_extensions per schema object (the cached schemas are shared and never changed)
        self._extended: dict[int, tuple[Mapping[str, Any], bool]] = {}
        self._lock = threading.Lock()
        self._secret: tuple[Any, frozenset[str]] = (None, frozenset())
        if sessions is not None:
            from engine.org import confidential  # not at the top: confidential is imported by engine.core users

            confidential.register_deployed(self.forms_dir, self.confidential_keys)

    @property
    def in_db(self) -> bool:
        return self._sessions is not None or self._session is not None

    def bound(self, session: Session) -> FormStore:
        """The same store (sharing its caches) reading through `session`."""
        if not self.in_db:
            return self
        clone = copy.copy(self)
        clone._session = session
        return clone

    @contextmanager
    def _db(self) -> Iterator[Session]:
        if self._session is not None:
            yield self._session
            return
        assert self._sessions is not None
        with write_intent(False), self._sessions() as s:  # a read: never BEGIN IMMEDIATE beside a writer
            yield s

    def path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise NotFound("form {name!r} does not exist", name=name)
        return self.forms_dir / name

    def exists(self, name: str, version: int | None = None) -> bool:
        if not self.in_db:
            try:
                return self.path(name).is_file()
            except NotFound:
                return False
        try:
            self.resolve(name, version)
        except NotFound:
            return False
        return True

    def latest_version(self, name: str) -> int | None:
        """The newest deployed version of `name` (None: none, or a store without a database)."""
        if not self.in_db:
            return None
        with self._db() as s:
            return s.scalar(
                select(FormVersion.version).where(FormVersion.key == name).order_by(FormVersion.version.desc()).limit(1)
            )

    def resolve(self, name: str, version: int | None = None) -> tuple[int | None, dict[str, Any], Draft202012Validator]:
        """(version, schema, validator) of `name` at `version` (default: the newest). Compiled
        validators are cached by content (sha256): a version rolled back and deployed again with
        other content is never confused with the first."""
        if not self.in_db:
            schema, validator = self._file(name)
            return None, schema, validator
        if version is not None:  # a version is immutable: no statement once it was read
            known_sha = self._shas.get((name, version))
            known = self._versions.get(known_sha) if known_sha is not None else None
            if known is not None:
                return version, known[0], known[1]
        q = select(FormVersion.version, FormVersion.sha256).where(FormVersion.key == name)
        q = (
            q.order_by(FormVersion.version.desc()).limit(1)
            if version is None
            else q.where(FormVersion.version == version)
        )
        with self._db() as s:
            row = s.execute(q).first()
            if row is None:
                if version is None:
                    raise NotFound("form {name!r} does not exist", name=name)
                raise NotFound("form {name!r} has no version {version}", name=name, version=version)
            found, sha = row
            cached = self._versions.get(sha)
            if cached is None:
                content = s.scalar(
                    select(FormVersion.content).where(FormVersion.key == name, FormVersion.version == found)
                )
            keep = _committed_reads(s)
        if cached is None:
            schema = json.loads(content or "null")
            cached = (schema, compile_schema(schema))
            with self._lock:
                self._versions[sha] = cached
        if keep:
            with self._lock:
                if len(self._shas) >= _CACHE_MAX:
                    self._shas.clear()
                self._shas[(name, found)] = sha
        return found, cached[0], cached[1]

    def has_extensions(self, schema: Mapping[str, Any]) -> bool:
        """`form_fields.has_extensions` of a schema this store returned, walked once per schema."""
        hit = self._extended.get(id(schema))
        if hit is not None and hit[0] is schema:  # the entry holds the schema: its id is not reused
            return hit[1]
        from engine.core import form_fields  # not at the top: form_fields imports the script engine

        value = form_fields.has_extensions(schema)
        with self._lock:
            if len(self._extended) >= _CACHE_MAX:
                self._extended.clear()
            self._extended[id(schema)] = (schema, value)
        return value

    def confidential_keys(self) -> frozenset[str]:
        """Field names marked x-confidential in any deployed version of any form (re-read when a
        form is deployed: the fingerprint is the row count and the newest id)."""
        if not self.in_db:
            return frozenset()
        from engine.org.confidential import reading_session, schema_keys

        request_session = self._session or reading_session()
        if request_session is not None and request_session.is_active:
            return self._deployed_keys(request_session, schema_keys)
        with self._db() as s:
            return self._deployed_keys(s, schema_keys)

    def _deployed_keys(self, s: Session, schema_keys: Callable[[Any], set[str]]) -> frozenset[str]:
        fingerprint = tuple(s.execute(select(func.count(), func.max(FormVersion.id))).one())
        if fingerprint == self._secret[0]:
            return self._secret[1]
        keys: set[str] = set()
        for content in s.scalars(select(FormVersion.content)):
            try:
                keys |= schema_keys(json.loads(content))
            except ValueError:
                continue
        self._secret = (fingerprint, frozenset(keys))
        return self._secret[1]

    def pinned(self, definition_id: int, name: str) -> int | None:
        """The version of form `name` that definition `definition_id` was deployed with (None: the
        definition pins none — deployed before forms had versions — or no database: the newest)."""
        if not self.in_db:
            return None
        try:
            return self._pins[(definition_id, name)]  # a definition's pins never change
        except KeyError:
            pass
        with self._db() as s:
            version = s.scalar(_PIN, {"definition_id": definition_id, "form_key": name})
            keep = _committed_reads(s)
        if keep:
            with self._lock:
                if len(self._pins) >= _CACHE_MAX:
                    self._pins.clear()
                self._pins[(definition_id, name)] = version
        return version

    def task_version(self, task: Any, session: Session) -> int | None:
        """The form version of a task (a `HumanTask` or any row with `instance_id` and `form_key`):
        the one its instance's definition pins. The instance comes from the caller's `session`
        (its identity map, usually: an instance's definition never changes) and the pin from
        `pinned`'s cache, so a task page sends no statement for it."""
        if not self.in_db or not getattr(task, "form_key", None):
            return None
        from engine.models import ProcessInstance  # engine.models imports this module's models

        inst = session.get(ProcessInstance, task.instance_id)
        return None if inst is None else self.pinned(inst.definition_id, task.form_key)

    def _file(self, name: str) -> Entry:
        path = self.path(name)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            raise NotFound("form {name!r} does not exist in {folder}/", name=name, folder=self.forms_dir.name) from None
        with self._lock:
            cached = self._files.get(name)
            if cached and cached[0] == mtime:
                return cached[1], cached[2]
        schema = json.loads(path.read_text(encoding="utf-8"))
        validator = compile_schema(schema)
        with self._lock:
            self._files[name] = (mtime, schema, validator)
        return schema, validator

    def _entry(self, name: str, version: int | None = None) -> Entry:
        _v, schema, validator = self.resolve(name, version)
        return schema, validator

    def schema(self, name: str, version: int | None = None) -> dict[str, Any]:
        return self._entry(name, version)[0]

    def problems(self, name: str, version: int | None = None) -> list[str]:
        """Why a form cannot be used (deploy-time check); empty when fine."""
        try:
            schema = self.schema(name, version)
        except NotFound as exc:
            return [exc.message]
        except json.JSONDecodeError as exc:
            return [f"form {name!r} is not valid JSON: {exc}"]
        except SchemaError as exc:
            return [f"form {name!r} is not a valid JSON Schema: {exc.message}"]
        from engine.linkage import form_records  # not at the top: engine.linkage imports engine.core

        return _send_back_problems(name, schema) + [f"form {name!r}: {p}" for p in form_records.problems(schema)]

    def errors(self, name: str | None, data: dict[str, Any], version: int | None = None) -> list[dict[str, Any]]:
        """Every field error of `data` (`field_error` entries: field, code = the JSON Schema keyword
        that failed, template + params; plus `rule` and `limit`, which the task form uses)."""
        if not name:
            return []
        _schema, validator = self._entry(name, version)
        return field_problems(validator.iter_errors(data))

    def send_back(self, name: str | None, data: dict[str, Any], version: int | None = None) -> dict[str, Any] | None:
        """The form's 退回 (send back) convention, if `data` chose it (docs/bpmn-conventions.md).

        A form declares `"x-send-back": {"field": F, "value": V, "reason": R}` at its top level;
        data with `F == V` sends the instance back, `R` names the field holding the reason.
        Returns `{"field", "value", "reason"}` (reason = the submitted text) or None.
        """
        spec = self.send_back_spec(name, version)
        if spec is None or data.get(spec["field"]) != spec["value"]:
            return None
        reason = data.get(spec["reason"]) if spec.get("reason") else None
        return {"field": spec["field"], "value": spec["value"], "reason": reason if isinstance(reason, str) else ""}

    def send_back_spec(self, name: str | None, version: int | None = None) -> dict[str, Any] | None:
        if not name:
            return None
        try:
            schema = self.schema(name, version)
        except NotFound:
            return None
        spec = schema.get("x-send-back")
        if not isinstance(spec, dict) or not isinstance(spec.get("field"), str) or "value" not in spec:
            return None
        return spec

    def validate(self, name: str | None, data: Any, version: int | None = None) -> None:
        """Raise Invalid (422) listing every field error; nothing is changed on failure."""
        if not isinstance(data, dict):
            raise Invalid("data must be a JSON object", [field_error("", TYPES["object"].template, "type")])
        if not name:
            return
        _schema, validator = self._entry(name, version)
        unique = field_problems(validator.iter_errors(data))
        if unique:
            raise Invalid("form data is invalid: {count} problem(s)", unique, count=len(unique))

    def validate_schema(self, schema: dict[str, Any], data: Any) -> None:
        validate_schema(schema, data)


def validate_schema(schema: dict[str, Any], data: Any) -> None:
    """Raise Invalid (422) listing every field error of `data` against a schema resolved for one
    task (engine/core/form_fields.py): the same messages as `FormStore.validate`."""
    if not isinstance(data, dict):
        raise Invalid("data must be a JSON object", [field_error("", TYPES["object"].template, "type")])
    found = schema_errors(schema, data)
    if found:
        raise Invalid("form data is invalid: {count} problem(s)", found, count=len(found))


def schema_errors(schema: dict[str, Any], data: Any) -> list[dict[str, Any]]:
    """Every field error of `data` against a resolved schema (as `FormStore.errors`)."""
    return field_problems(Draft202012Validator(schema, format_checker=_FORMAT_CHECKER).iter_errors(data))
