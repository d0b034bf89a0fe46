"""Process repository: validate BPMN and deploy it as immutable, numbered versions.

Validation (the parse → XSD → Spiff → Sanji-checks pipeline) lives in engine/core/validation.py;
this module stores what passed, withdraws versions and caches the restored specs. Nothing is
stored unless every validation stage passes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.form_models import DefinitionForm
from engine.core.forms import FormStore, mark_written
from engine.core.spiff import load_specs
from engine.core.validation import (  # noqa: F401 - re-exported: callers and tests use repository.validate etc.
    BPMN_NS,
    CHOOSING_TAGS,
    HUMAN_TAGS,
    NS,
    SPIFF_NS,
    UNSUPPORTED_TAGS,
    ParsedFile,
    ParsedProcess,
    Problem,
    _check_process,
    _info,
    _invalid,
    _local,
    _props,
    _start_variable_problems,
    _start_variables,
    validate,
)
from engine.errors import Conflict, Invalid, Msg, NotFound
from engine.infra.settings import Settings
from engine.models import ProcessDefinition

# A transaction that inserted a definition reads pins the form store must not keep (engine/core/forms.py).
event.listen(ProcessDefinition, "after_insert", mark_written)

# Called after a deploy created new versions (the scheduler registers timer start events).
DEPLOY_HOOKS: list[Callable[[Session, list[ProcessDefinition], datetime], None]] = []
# Called after a process was undeployed (the scheduler removes its schedules).
UNDEPLOY_HOOKS: list[Callable[[Session, str, datetime], None]] = []


# ---- storage -------------------------------------------------------------------------------------


@dataclass
class DeployResult:
    definitions: list[ProcessDefinition]
    created: bool
    warnings: list[Problem] = field(default_factory=list)  # engine/core/deploy_checks.py: deployed anyway


def newest_active() -> Select[ProcessDefinition]:
    """The newest active version of every deployed process (the definition list, the start rule)."""
    newest = (
        select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
        .where(ProcessDefinition.active.is_(True))
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    return select(ProcessDefinition).join(
        newest, (newest.c.key == ProcessDefinition.key) & (newest.c.v == ProcessDefinition.version)
    )


def latest(session: Session, key: str, active_only: bool = True) -> ProcessDefinition:
    q = select(ProcessDefinition).where(ProcessDefinition.key == key)
    if active_only:
        q = q.where(ProcessDefinition.active.is_(True))
    d = session.scalars(q.order_by(ProcessDefinition.version.desc()).limit(1)).first()
    if d is None:
        raise NotFound("process {key!r} is not deployed", key=key)
    return d


def get_version(session: Session, key: str, version: int) -> ProcessDefinition:
    d = session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    ).first()
    if d is None:
        raise NotFound("process {key!r} has no version {version}", key=key, version=version)
    return d


def deployed_xml(session: Session) -> Callable[[str], str | None]:
    """The XML of a process's newest version (None: not deployed), for the deploy checks of a
    call activity's output variable (engine/core/deploy_checks.py)."""

    def xml(key: str) -> str | None:
        d = session.scalars(
            select(ProcessDefinition.xml)
            .where(ProcessDefinition.key == key)
            .order_by(ProcessDefinition.version.desc())
            .limit(1)
        ).first()
        return d

    return xml


def deploy(
    session: Session,
    data: bytes | str,
    filename: str,
    actor: str | None,
    now: datetime,
    forms: FormStore,
    max_bytes: int,
    *,
    settings: Settings | None = None,
) -> DeployResult:
    def known(key: str) -> bool:
        return (
            session.scalar(select(func.count()).select_from(ProcessDefinition).where(ProcessDefinition.key == key)) or 0
        ) > 0

    forms = forms.bound(session)  # sees the forms deployed in this transaction (issue 15)
    parsed = validate(data, filename, forms, max_bytes, known, settings=settings, deployed=deployed_xml(session))
    created: list[ProcessDefinition] = []
    result: list[ProcessDefinition] = []
    pins: dict[int, dict[str, int]] = {}
    for proc in parsed.processes:
        current, wanted, unchanged = compare_with_current(session, forms, parsed, proc)
        if unchanged and current is not None:
            result.append(current)
            continue
        d = ProcessDefinition(
            key=proc.key,
            version=(current.version + 1) if current else 1,
            name=proc.name,
            sha256=parsed.sha256,
            filename=Path(filename).name,
            xml=parsed.xml,
            spec_blob=proc.spec_blob,
            info=proc.info,
            deployed_by=actor,
            deployed_at=now,
        )
        session.add(d)
        created.append(d)
        result.append(d)
        pins[id(d)] = wanted
    try:
        session.flush()
        for d in created:
            session.add_all(
                DefinitionForm(definition_id=d.id, form_key=k, form_version=v) for k, v in pins[id(d)].items()
            )
        session.flush()
    except IntegrityError:
        raise Conflict("another deployment of the same process happened at the same time; try again") from None
    if created:
        for hook in DEPLOY_HOOKS:
            hook(session, created, now)
    return DeployResult(result, bool(created), parsed.warnings)


def form_pins(forms: FormStore, info: dict[str, Any]) -> dict[str, int]:
    """The newest version of each form the process's user tasks name (empty without a database)."""
    pins: dict[str, int] = {}
    for task in info.get("user_tasks", []):
        key = task.get("form")
        if key and key not in pins:
            version = forms.latest_version(key)
            if version is not None:
                pins[key] = version
    return pins


def pinned_forms(session: Session, definition_id: int) -> dict[str, int]:
    rows = session.execute(
        select(DefinitionForm.form_key, DefinitionForm.form_version).where(
            DefinitionForm.definition_id == definition_id
        )
    )
    return {k: v for k, v in rows}


def compare_with_current(
    session: Session, forms: FormStore, parsed: ParsedFile, proc: ParsedProcess
) -> tuple[ProcessDefinition | None, dict[str, int], bool]:
    """(newest version of `proc`, the form pins a deploy would give it, whether deploying changes
    nothing): one answer for deploy and for the modeler's plan, so that a changed form alone
    makes a new version in both (same XML, same active state, same pinned form versions)."""
    current = session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == proc.key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).first()
    wanted = form_pins(forms, proc.info)
    unchanged = (
        current is not None
        and current.sha256 == parsed.sha256
        and current.active
        and wanted == pinned_forms(session, current.id)
    )
    return current, wanted, unchanged


def deploy_plan(session: Session, parsed: ParsedFile, forms: FormStore) -> list[dict[str, Any]]:
    """What deploying `parsed` would do, per process of the file: its current version and the
    new version it would get (None: unchanged, nothing stored), so the modeler can ask first."""
    forms = forms.bound(session)
    plan = []
    for proc in parsed.processes:
        current, _wanted, unchanged = compare_with_current(session, forms, parsed, proc)
        plan.append(
            {
                "key": proc.key,
                "name": proc.name,
                "current_version": current.version if current else None,
                "new_version": None if unchanged else (current.version + 1 if current else 1),
            }
        )
    return plan


def undeploy(session: Session, key: str, now: datetime) -> list[ProcessDefinition]:
    """Withdraw every version of `key`: nothing new starts (by hand, message or timer);
    running instances go on. Deploying the file again makes a new active version."""
    q = select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version)
    if session.get_bind().dialect.name != "sqlite":
        q = q.with_for_update()
    versions = list(session.scalars(q))
    if not versions:
        raise NotFound("process {key!r} is not deployed", key=key)
    if not any(d.active for d in versions):
        raise Conflict("process {key!r} is already undeployed", key=key)
    for d in versions:
        d.active = False
    session.flush()
    for hook in UNDEPLOY_HOOKS:
        hook(session, key, now)
    return versions


def deploy_directory(
    session: Session,
    directory: Path,
    actor: str | None,
    now: datetime,
    forms: FormStore,
    max_bytes: int,
    *,
    settings: Settings | None = None,
) -> list[DeployResult]:
    """Deploy every `*.bpmn` that changed; files are ordered so that called processes come first."""
    files = sorted(Path(directory).glob("*.bpmn"))
    pending = list(files)
    results = []
    for _round in range(len(files) + 1):
        failed = []
        for path in pending:
            try:
                with session.begin_nested():
                    results.append(
                        deploy(session, path.read_bytes(), path.name, actor, now, forms, max_bytes, settings=settings)
                    )
            except Invalid as exc:
                if any("neither in this file nor deployed" in (d.get("message") or "") for d in exc.details or []):
                    failed.append((path, exc))
                else:
                    raise Invalid(
                        "{path_name}: {problem}",
                        exc.details,
                        path_name=path.name,
                        problem=Msg(exc.template, **exc.params),
                    ) from None
        if not failed:
            return results
        if len(failed) == len(pending):
            first_path, first_exc = failed[0]
            raise Invalid(
                "{path_name}: {problem}",
                first_exc.details,
                path_name=first_path.name,
                problem=Msg(first_exc.template, **first_exc.params),
            )
        pending = [p for p, _ in failed]
    return results


# ---- spec cache ----------------------------------------------------------------------------------


class SpecCache:
    """Restored specs per (key, file sha256): content-addressed, so entries never go stale."""

    def __init__(self) -> None:
        self._specs: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, definition: ProcessDefinition) -> tuple[Any, dict[str, Any]]:
        cache_key = (definition.key, definition.sha256)
        entry = self._specs.get(cache_key)
        if entry is None:
            entry = load_specs(definition.spec_blob)
            with self._lock:
                self._specs[cache_key] = entry
        return entry


SPECS = SpecCache()


from engine.core import schedules as _schedules  # noqa: E402,F401 - registers the schedule hooks above
