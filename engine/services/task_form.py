"""A task's form as its people see and submit it: the stored schema with the organisation's
choices, the rows per item and the prefill of engine/core/form_fields.py resolved for this task.

The API (`GET /api/v1/tasks/{id}` → `form`, `form.prefill`), the task page and the completion
check all go through `task_form`, so a choice offered on the page is exactly one the server
accepts: another unit's branch is refused with 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import form_fields
from engine.core.bounds import check_submitted
from engine.core.forms import FormStore
from engine.errors import NotFound
from engine.models import COMMITTEE_ROLES, HumanTask, OrgNode, ProcessInstance, RoleAssignment, User
from engine.org import nodes as org
from engine.org.nodes import ROLE_NAMES, Principal
from engine.org.routing import can_act_on
from engine.platform.meetings import zones
from engine.platform.study import inspectors


@dataclass
class TaskForm:
    schema: dict[str, Any]  # resolved for the task (choices, rows)
    prefill: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        """The schema the API serves, with the prefill beside its keywords (`form.prefill`)."""
        return {**self.schema, "prefill": self.prefill}


def _unit(session: Session, task: HumanTask, spec: Mapping[str, Any], variables: Mapping[str, Any]) -> str | None:
    """The unit a source speaks of: a named variable (`"unit": "unit_id"`), else the task's unit."""
    if isinstance(spec.get("unit"), str):
        value = form_fields.lookup(variables, spec["unit"])
        return value if isinstance(value, str) else None
    if task.unit_id:
        return task.unit_id
    node = session.get(OrgNode, task.node_id)
    return node.id if node is not None and node.tier == "unit" else None


def _committee(session: Session, node_id: str) -> list[tuple[Any, str]]:
    rows = session.execute(
        select(User.username, User.display_name, RoleAssignment.role)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(User.active.is_(True), RoleAssignment.node_id == node_id, RoleAssignment.role.in_(COMMITTEE_ROLES))
        .order_by(RoleAssignment.role, User.username)
    ).all()
    order = {r: i for i, r in enumerate(COMMITTEE_ROLES)}
    seen: dict[str, tuple[int, str]] = {}
    for username, name, role in rows:
        rank = order.get(role, 99)
        if username not in seen or rank < seen[username][0]:
            seen[username] = (rank, f"{name}（{ROLE_NAMES.get(role, role)}）")
    return [(u, label) for u, (_rank, label) in sorted(seen.items(), key=lambda kv: (kv[1][0], kv[0]))]


def _people(session: Session, unit_ids: list[str], roles: Any, with_unit: bool = False) -> list[tuple[Any, str]]:
    """The discipline inspectors of the units (committee and branches' commissioners), by role."""
    wanted = set(roles) if isinstance(roles, list) else None
    out: list[tuple[Any, str]] = []
    for unit in unit_ids:
        try:
            people = org.people(session, unit)
        except NotFound:
            continue
        unit_name = org.get_node(session, unit).name if with_unit else ""
        for p in people:
            if wanted is not None and p["role"] not in wanted:
                continue
            where = p["node_name"] if not with_unit or p["node_id"] == unit else f"{unit_name} {p['node_name']}"
            out.append((p["username"], f"{p['name']}（{where} {p['role_name']}）"))
    return out


def _zone_units(spec: Mapping[str, Any], variables: Mapping[str, Any], session: Session) -> list[str]:
    """The member units of the zone a source names (`"zone": "zone_id"`, the default variable)."""
    zone = zones.info(session, form_fields.lookup(variables, str(spec.get("zone") or "zone_id")))
    return list(zone["unit_ids"]) if zone else []


def _inspectors(session: Session) -> list[tuple[Any, str]]:
    """Every discipline inspector of the organisation (group and unit committees, commissioners)."""
    names = dict(session.execute(select(OrgNode.id, OrgNode.name)).all())
    return [
        (i.username, f"{i.display_name}（{names.get(i.node_id, i.node_id)} {ROLE_NAMES.get(i.role, i.role)}）")
        for i in inspectors(session, UTC)
    ]


def cc_people(session: Session, doer: str | None) -> list[tuple[Any, str]]:
    """Whom the doer of a task with `cc` = `form` may copy in the field `cc_users` (engine/core/copies.py):
    the organisation's discipline inspectors by name — the `inspectors` source — without the doer."""
    return [(u, label) for u, label in _inspectors(session) if u != doer]


def choices(
    session: Session, task: HumanTask, spec: Mapping[str, Any], variables: Mapping[str, Any]
) -> list[tuple[Any, str]]:
    """The choices of an organisation source for this task: (stored value, name shown), narrowed
    to the values of a list in the task's data when the source names one (`"among": "scope_units"`,
    with `"field"` for a list of objects)."""
    pairs = _source(session, task, spec, variables)
    among = spec.get("among")
    if not isinstance(among, str):
        return pairs
    items = form_fields.lookup(variables, among)
    key = str(spec.get("field", ""))
    allowed = [i.get(key) if isinstance(i, Mapping) else i for i in items] if isinstance(items, list) else []
    return [(v, label) for v, label in pairs if v in allowed]


def _source(
    session: Session, task: HumanTask, spec: Mapping[str, Any], variables: Mapping[str, Any]
) -> list[tuple[Any, str]]:
    source = spec.get("source")
    if source == "inspectors":
        return _inspectors(session)
    if source == "units":
        return [(n.id, n.name) for n in org.units(session)]
    if source == "branches":
        unit = _unit(session, task, spec, variables)
        return [(n.id, n.name) for n in org.branches(session, unit)] if unit else []
    if source == "people":
        unit = _unit(session, task, spec, variables)
        return _people(session, [unit], spec.get("roles")) if unit else []
    if source == "zones":  # 分区联创: the active zones
        return list(zones.choices(session))
    if source == "secondment_batches":  # the 选调 batches whose people take part (default 类别 分区联创)
        return list(zones.batch_choices(session, str(spec.get("kind") or "分区联创")))
    if source == "zone_people":  # the people of the zone's member units, each named with their unit
        return _people(session, _zone_units(spec, variables, session), spec.get("roles"), with_unit=True)
    if source == "committee":
        if spec.get("of") == "unit":
            unit = _unit(session, task, spec, variables)
            return _committee(session, unit) if unit else []
        return _committee(session, org.group_root(session).id)
    return []


def variables_of(inst: ProcessInstance | None) -> dict[str, Any]:
    return {k: v for k, v in ((inst.data if inst is not None else None) or {}).items() if not k.startswith("_")}


def task_form(
    session: Session,
    forms: FormStore,
    task: HumanTask,
    variables: Mapping[str, Any],
    schema: Mapping[str, Any] | None = None,
) -> TaskForm | None:
    """The task's form resolved with `variables` (the task's context as its reader sees it)."""
    if schema is None:
        if not task.form_key:
            return None
        schema = forms.schema(task.form_key, version=forms.task_version(task, session))
    if not forms.has_extensions(schema):
        return TaskForm(dict(schema), {})
    resolved = form_fields.resolve(schema, variables, lambda spec: choices(session, task, spec, variables))
    return TaskForm(resolved, form_fields.prefill(schema, variables))


def completion_check(
    session: Session, forms: FormStore, p: Principal, data: Any, max_bytes: int
) -> Callable[[HumanTask, ProcessInstance, int | None], None]:
    """The completion's check of `data` against the form resolved for the task (choices computed
    for it), as `Runtime.complete(check=…)` runs it before the engine: on the task and instance
    rows the runtime reads (and, on PostgreSQL, locks), with the form version their definition
    pins — no statement of its own for a form without organisation choices. A task `p` may not
    act on is left to the runtime to refuse, and oversized data to its bound (413)."""

    def check(task: HumanTask, inst: ProcessInstance, version: int | None) -> None:
        check_loaded(session, forms, p, task, inst, version, data, max_bytes)

    return check


def check_loaded(
    session: Session,
    forms: FormStore,
    p: Principal,
    task: HumanTask,
    inst: ProcessInstance | None,
    version: int | None,
    data: Any,
    max_bytes: int,
) -> None:
    """`completion_check`'s check (`version`: the form version the instance's definition pins)."""
    if task.status != "open" or not task.form_key or not isinstance(data, dict):
        return
    if not can_act_on(p, task):
        return
    schema = forms.schema(task.form_key, version=version)
    if not forms.has_extensions(schema):
        return
    check_submitted(data, max_bytes)
    if inst is None or inst.status != "running":  # suspended, failed …: the runtime says so
        return
    resolved = task_form(session, forms, task, variables_of(inst), schema)
    if resolved is not None:
        forms.validate_schema(resolved.schema, data)


def for_page(session: Session, forms: FormStore, task: HumanTask, redactor: Any) -> TaskForm | None:
    """The form as the task page posts it back (resolved from the context its reader sees)."""
    inst = session.get(ProcessInstance, task.instance_id)
    try:
        return task_form(session, forms, task, redactor.data(variables_of(inst)))
    except NotFound:
        return None
