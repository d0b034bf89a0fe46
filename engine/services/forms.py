"""Forms as deployed resources with versions (issue 15): check, deploy, list, read.

A form is deployed like a diagram: by a process owner (engine/org/policy.py), as a new version
unless its canonical JSON equals the newest version's (then that version is returned, nothing is
written). Anyone signed in reads forms; a task's form is the version its definition pins
(engine/core/forms.py). Problems name the field: `schema` for JSON syntax (with `line`/`column`),
`schema/<JSON pointer>` for the JSON Schema and Sanji's extensions (docs/forms.md), which the form
editor puts on the line of the text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core import form_fields, repository
from engine.core.form_models import DefinitionForm, FormVersion
from engine.core.forms import FormStore
from engine.errors import Conflict, Invalid, NotFound, field_error
from engine.infra.settings import Settings
from engine.models import ProcessDefinition
from engine.org import policy
from engine.org.nodes import Principal

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,194}\.json$")
WIDGETS = ("textarea", "radio", "select", "checkboxes", "hidden")
_META = Draft202012Validator(Draft202012Validator.META_SCHEMA)
_CHECKED: set[str] = set()  # sha256 of schemas that passed `check` (trusted across deploys)


@dataclass(frozen=True)
class FormInfo:
    key: str
    version: int
    title: str
    sha256: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class Deployed:
    form: FormInfo
    created: bool


def info(row: FormVersion) -> FormInfo:
    try:
        title = json.loads(row.content).get("title") or ""
    except (ValueError, AttributeError):
        title = ""
    return FormInfo(row.key, row.version, str(title), row.sha256, row.created_at, row.created_by)


def canonical(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def form_key(raw: Any, field: str = "key") -> str:
    """A form's key: its file name (`x.json`; `.json` is added when missing)."""
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid(
            "{name} is required and must be a non-empty string", [field_error(field, "required string")], name=field
        )
    key = raw.strip()
    key = key if key.endswith(".json") else key + ".json"
    if not KEY.match(key):
        raise Invalid(
            "a form's key is a file name of letters, digits, '_', '.' and '-' ending in .json: {key!r}",
            [field_error(field, "not a form key")],
            key=key,
        )
    return key


def parse(content: Any, field: str = "schema") -> tuple[dict[str, Any], str]:
    """(schema, text to keep) from JSON text or an already parsed object; 422 at the line of a syntax error."""
    if isinstance(content, (bytes, bytearray)):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid("the form is not UTF-8 text", [field_error(field, "the form is not UTF-8 text")]) from None
    if isinstance(content, str):
        try:
            schema = json.loads(content)
        except json.JSONDecodeError as exc:
            detail = field_error(
                field,
                "the text is not valid JSON (line {line}, column {column})",
                "json",
                line=exc.lineno,
                column=exc.colno,
            )
            detail.update(line=exc.lineno, column=exc.colno)
            raise Invalid("the form is not valid JSON: {count} problem(s)", [detail], count=1) from None
        text = content
    else:
        schema = content
        text = json.dumps(content, ensure_ascii=False, indent=2)
    if not isinstance(schema, dict):
        raise Invalid("the form must be a JSON object", [field_error(field, "the form must be a JSON object", "type")])
    return schema, text


def _pointer(field: str, path: Any) -> str:
    return "/".join([field, *(str(p) for p in path)])


def schema_problems(schema: dict[str, Any], field: str = "schema") -> list[dict[str, Any]]:
    """Every problem of a parsed form: JSON Schema 2020-12 (its metaschema) and our extensions."""
    found: dict[str, dict[str, Any]] = {}
    for err in sorted(_META.iter_errors(schema), key=lambda e: list(map(str, e.absolute_path))):
        where = _pointer(field, err.absolute_path)
        if where not in found:
            found[where] = field_error(
                where,
                "not valid JSON Schema here ({keyword}): {reason}",
                str(err.validator),
                keyword=str(err.validator),
                reason=err.message[:200],
            )
    if found:
        return list(found.values())
    problems: list[dict[str, Any]] = []
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        problems.append(field_error(field, "a form is an object schema with properties", "type"))
    _walk(schema, [], problems, field)
    problems.extend(_send_back(schema, field))
    return problems


def _walk(node: Any, path: list[str], out: list[dict[str, Any]], field: str) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, [*path, str(i)], out, field)
        return
    if not isinstance(node, dict):
        return
    widget = node.get("x-widget")
    if widget is not None and widget not in WIDGETS:
        out.append(
            field_error(
                _pointer(field, [*path, "x-widget"]),
                "x-widget must be one of {choices}",
                "x-widget",
                choices=", ".join(WIDGETS),
            )
        )
    rows = node.get("x-rows")
    if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or not 1 <= rows <= 50):
        out.append(
            field_error(_pointer(field, [*path, "x-rows"]), "x-rows must be a whole number from 1 to 50", "x-rows")
        )
    if "x-source" in node:
        spec = form_fields.source_spec(node)
        if spec is None or spec["source"] not in form_fields.SOURCES:
            out.append(
                field_error(
                    _pointer(field, [*path, "x-source"]),
                    "x-source must be one of {choices}",
                    "x-source",
                    choices=", ".join(form_fields.SOURCES),
                )
            )
    secret = node.get("x-confidential")
    if secret is not None and not isinstance(secret, bool):
        out.append(
            field_error(
                _pointer(field, [*path, "x-confidential"]), "x-confidential must be true or false", "x-confidential"
            )
        )
    names, enum = node.get("enumNames"), node.get("enum")
    if names is not None and (not isinstance(names, list) or not isinstance(enum, list) or len(names) != len(enum)):
        out.append(
            field_error(
                _pointer(field, [*path, "enumNames"]), "enumNames must give one label per enum value", "enumNames"
            )
        )
    props = node.get("properties")
    required = node.get("required")
    if node.get("type") == "object" and isinstance(props, dict) and isinstance(required, list):
        for i, name in enumerate(required):
            if name not in props:
                out.append(
                    field_error(
                        _pointer(field, [*path, "required", str(i)]),
                        "required names {name!r}, which is not a property here",
                        "required",
                        name=name,
                    )
                )
    for k, v in node.items():
        if k not in ("enum", "const", "default", "examples", "x-send-back"):
            _walk(v, [*path, k], out, field)


def _send_back(schema: dict[str, Any], field: str) -> list[dict[str, Any]]:
    spec = schema.get("x-send-back")
    if spec is None:
        return []
    where = _pointer(field, ["x-send-back"])
    props = schema.get("properties") or {}
    if not isinstance(spec, dict) or not isinstance(spec.get("field"), str) or "value" not in spec:
        return [field_error(where, "x-send-back must be an object with field and value", "x-send-back")]
    target = props.get(spec["field"])
    if not isinstance(target, dict):
        return [
            field_error(
                where + "/field",
                "x-send-back names the field {name!r}, which the form does not have",
                "x-send-back",
                name=spec["field"],
            )
        ]
    reason = spec.get("reason")
    if reason is not None and reason not in props:
        return [
            field_error(
                where + "/reason",
                "x-send-back names the field {name!r}, which the form does not have",
                "x-send-back",
                name=reason,
            )
        ]
    return []


def check(content: Any, field: str = "schema") -> tuple[dict[str, Any], str]:
    """Parse and check a form; 422 listing every problem (nothing is written)."""
    schema, text = parse(content, field)
    sha = hashlib.sha256(canonical(schema).encode()).hexdigest()
    if sha not in _CHECKED:
        problems = schema_problems(schema, field)
        if problems:
            raise Invalid("the form has {count} problem(s)", problems, count=len(problems))
        _CHECKED.add(sha)
    return schema, text


def deploy(
    session: Session, p: Principal | None, key: Any, content: Any, now: datetime, field: str = "schema"
) -> Deployed:
    """Deploy one form (`p` None: the system, e.g. init-db); flushes, the caller commits."""
    if p is not None:
        policy.require_form_deployer(p)
    name = form_key(key)
    schema, text = check(content, field)
    sha = hashlib.sha256(canonical(schema).encode()).hexdigest()
    latest = session.scalars(
        select(FormVersion).where(FormVersion.key == name).order_by(FormVersion.version.desc()).limit(1)
    ).first()
    if latest is not None and latest.sha256 == sha:
        return Deployed(info(latest), False)
    row = FormVersion(
        key=name,
        version=(latest.version + 1) if latest else 1,
        content=text,
        sha256=sha,
        created_at=now,
        created_by=p.username if p is not None else "init-db",
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("another deployment of the same form happened at the same time; try again") from None
    return Deployed(info(row), True)


def deploy_directory(session: Session, directory: Path, now: datetime) -> list[Deployed]:
    """Deploy every `*.json` of a folder that changed (init-db and the test fixtures: `forms/`).

    One query for the newest versions and one flush for all new rows: every test app deploys
    the ~50 built-in forms, so this runs hundreds of times per test run."""
    parsed: list[tuple[str, dict[str, Any], str]] = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            name = form_key(path.name)
            schema, text = check(path.read_bytes(), "schema")
        except Invalid as exc:
            raise Invalid("{path_name}: {problem}", exc.details, path_name=path.name, problem=exc.message) from None
        parsed.append((name, schema, text))
    newest: dict[str, FormVersion] = {}
    keys = [name for name, _, _ in parsed]
    for row in session.scalars(select(FormVersion).where(FormVersion.key.in_(keys)).order_by(FormVersion.version)):
        newest[row.key] = row  # ascending: the last one seen is the newest
    out: list[tuple[FormVersion, bool]] = []
    for name, schema, text in parsed:
        sha = hashlib.sha256(canonical(schema).encode()).hexdigest()
        latest = newest.get(name)
        if latest is not None and latest.sha256 == sha:
            out.append((latest, False))
            continue
        row = FormVersion(
            key=name,
            version=(latest.version + 1) if latest else 1,
            content=text,
            sha256=sha,
            created_at=now,
            created_by="init-db",
        )
        session.add(row)
        out.append((row, True))
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("another deployment of the same form happened at the same time; try again") from None
    return [Deployed(info(row), created) for row, created in out]


def deploy_bundle(
    session: Session,
    p: Principal,
    bpmn: tuple[bytes, str],
    form_files: list[tuple[str, bytes]],
    now: datetime,
    store: FormStore,
    settings: Settings,
) -> tuple[repository.DeployResult, list[Deployed]]:
    """A diagram with its forms, in one transaction: the forms first, so that it pins them."""
    policy.require_form_deployer(p)
    forms = [deploy(session, p, name, data, now, field=name) for name, data in form_files]
    result = repository.deploy(
        session, bpmn[0], bpmn[1], p.username, now, store, settings.max_bpmn_bytes, settings=settings
    )
    return result, forms


def list_forms(session: Session) -> list[FormInfo]:
    """The newest version of every form, by key."""
    newest = select(FormVersion.key, func.max(FormVersion.version).label("v")).group_by(FormVersion.key).subquery()
    rows = session.scalars(
        select(FormVersion)
        .join(newest, (FormVersion.key == newest.c.key) & (FormVersion.version == newest.c.v))
        .order_by(FormVersion.key)
    )
    return [info(r) for r in rows]


def get_form(session: Session, key: str, version: int | None = None) -> tuple[FormInfo, str]:
    q = select(FormVersion).where(FormVersion.key == key)
    q = q.order_by(FormVersion.version.desc()).limit(1) if version is None else q.where(FormVersion.version == version)
    row = session.scalars(q).first()
    if row is None:
        if version is None:
            raise NotFound("form {name!r} does not exist", name=key)
        raise NotFound("form {name!r} has no version {version}", name=key, version=version)
    return info(row), row.content


def versions(session: Session, key: str) -> list[FormInfo]:
    rows = list(session.scalars(select(FormVersion).where(FormVersion.key == key).order_by(FormVersion.version.desc())))
    if not rows:
        raise NotFound("form {name!r} does not exist", name=key)
    return [info(r) for r in rows]


def used_by(session: Session, key: str) -> list[tuple[str, int, int]]:
    """(process key, definition version, form version) of the definitions that pin `key`."""
    rows = session.execute(
        select(ProcessDefinition.key, ProcessDefinition.version, DefinitionForm.form_version)
        .join(DefinitionForm, DefinitionForm.definition_id == ProcessDefinition.id)
        .where(DefinitionForm.form_key == key)
        .order_by(ProcessDefinition.key, ProcessDefinition.version)
    )
    return [(k, v, f) for k, v, f in rows]
