"""Process definitions as the JSON API (`GET /api/v1/process-definitions`) and the process
library page (`/processes`) list them: one process per key, its newest active version; the
library's "show all" adds the undeployed processes (every version inactive), newest version.
Anyone signed in may read the list (engine/org/policy.py: deploying is the process owner's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core import repository
from engine.core.runtime import Runtime
from engine.models import ProcessDefinition, ProcessInstance
from engine.org import policy
from engine.org.nodes import Principal
from engine.services.paging import AnySelect, Page, PageRequest, fetch


@dataclass(frozen=True)
class DefinitionFilter:
    include_undeployed: bool = False  # also the processes whose versions are all inactive


def list_query(f: DefinitionFilter) -> AnySelect:
    """The one query of the definition list (newest version of each process shown), by key."""
    if not f.include_undeployed:
        return repository.newest_active().order_by(ProcessDefinition.key)
    newest = (
        select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    return (
        select(ProcessDefinition)
        .join(newest, (newest.c.key == ProcessDefinition.key) & (newest.c.v == ProcessDefinition.version))
        .order_by(ProcessDefinition.key)
    )


def list_definitions(session: Session, f: DefinitionFilter, req: PageRequest) -> Page[ProcessDefinition]:
    return fetch(session, list_query(f), req).map(lambda r: r[0])


def listed_keys(session: Session, f: DefinitionFilter) -> set[str]:
    """The keys the list holds (the library page groups every version of each)."""
    return set(session.scalars(select(list_query(f).order_by(None).subquery().c.key)))


# ---- starting a process by hand -------------------------------------------------------------------


@dataclass(frozen=True)
class StartCommand:
    """A person starts a process: its key (or the version already chosen), the variables they
    give and, optionally, the start event they name (it must be the one meant for people)."""

    process: str | ProcessDefinition
    variables: dict[str, Any] = field(default_factory=dict)
    start_event: str | None = None


def check_start(session: Session, p: Principal, cmd: StartCommand) -> tuple[ProcessDefinition, dict[str, Any]]:
    """The definition and the variables (the org node filled in from `p`'s roles) if the policy
    lets `p` start it; else 404 (not deployed), 403 (not startable, not allowed) or 422 naming the field."""
    d = cmd.process if isinstance(cmd.process, ProcessDefinition) else repository.latest(session, cmd.process)
    variables = dict(cmd.variables)
    policy.default_scope(session, p, d, variables)
    policy.check_start(session, p, d, variables, cmd.start_event)
    return d, variables


def start(rt: Runtime, p: Principal, cmd: StartCommand) -> ProcessInstance:
    """Start the process for `p` and commit (nothing of it stays on any failure)."""
    try:
        d, variables = check_start(rt.session, p, cmd)
        inst = rt.start(d, variables, p, start_event=cmd.start_event)
        rt.session.commit()
    except BaseException:
        rt.session.rollback()
        raise
    return inst


@dataclass(frozen=True)
class StartPreview:
    """What a start would create, found by starting it for real and rolling back: the instances
    (process name, org node) below the top one, so the start page can ask before a fan-out."""

    instances: list[tuple[str, str]]  # (process name, scope node id) of every instance besides the top one

    @property
    def fans_out(self) -> bool:
        return bool(self.instances)


def preview_start(rt: Runtime, p: Principal, cmd: StartCommand) -> StartPreview:
    """Start as `start` would, read what was created, and roll everything back (nothing stays)."""
    try:
        d, variables = check_start(rt.session, p, cmd)
        inst = rt.start(d, variables, p, start_event=cmd.start_event)
        rt.session.flush()
        found: list[tuple[str, str]] = []
        parents = [inst.id]
        while parents:
            rows = rt.session.execute(
                select(ProcessInstance.id, ProcessDefinition.name, ProcessInstance.scope_node_id)
                .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                .where(ProcessInstance.parent_id.in_(parents))
                .order_by(ProcessInstance.id)
            ).all()
            found += [(name, node) for _, name, node in rows]
            parents = [i for i, _, _ in rows]
    finally:
        rt.session.rollback()
    return StartPreview(found)
