"""Who may do what: starting processes by hand, and what a script's helpers may reach.

Start permission (issue 13 item 2, issue 14 "Must deliver" 2).

One rule, used by the JSON API (`POST /api/v1/process-definitions/<key>/start`), the 发起 page
and anything else that starts a process on behalf of a person:

1. Only through a start event meant for people: the process's plain (none) start event. A
   process that a call activity starts (`called_only`, or called by another deployed process),
   or that has only timer or message start events, is started by the engine alone — the
   scheduler, a message, a parent instance — never by a person (403 `not_startable`).
2. By someone whose role and org node the start event's lane allows: group lane (or no lane):
   a committee member of the group; unit or department lane: a committee member of that unit;
   branch lane: that branch's commissioner. Admin and process owner are no exception: without
   a role at the node they start nothing there.
3. With only the variables a person may give at start: `title`, the scope variable of the lane
   (`unit_id` / `branch_id`) and the names the start event declares in its `startVariables`
   property. Anything else (a `finding_key`, a `report_key`, a `clue_person` …) is internal
   state the process computes itself: 422 naming the field.

The engine itself (scheduler, messages, fan-out) starts as the system actor `SYSTEM`; it is not
subject to this rule.

Who sees what (issue 14): the application services (engine/services/) ask this module, never
engine/org/routing.py or a role test of their own, which instances, tasks and definitions a
principal may list or act on, so that the JSON API and the pages apply one rule.

The platform's rules (bulletin, study, leading group, meetings and zones) are in engine/org/policy_platform.py and
the reach of script helpers (`ScriptScope`) in engine/org/script_scope.py; both are re-exported
here, so this stays the one module callers ask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from engine.core import repository
from engine.errors import Forbidden, Invalid, field_error
from engine.models import COMMITTEE_ROLES, OrgNode, ProcessDefinition
from engine.org import routing
from engine.org.nodes import Principal

# the platform rules (bulletin, study, leading group) and the reach of script helpers live in their
# own modules; callers use them through this one (`policy.may_pin`, `policy.ScriptScope`)
from engine.org.policy_platform import (  # noqa: F401
    bulletin_audiences,
    bulletin_reader_units,
    in_organisation,
    may_change_post,
    may_manage_zones,
    may_pin,
    may_post_notice,
    may_record_decisions,
    may_record_meeting,
    may_record_zone_activity,
    meeting_units,
    recording_units,
    require_change_post,
    require_delete_post,
    require_manage_zones,
    require_notice,
    require_pin,
    require_poster,
    require_read_decisions,
    require_record_decisions,
    require_record_meeting,
    require_record_zone_activity,
    require_study_rates,
    sees_reader_names,
    sees_receipts,
    study_units,
    zone_units_of,
)
from engine.org.script_scope import CONFIDENTIAL_LANES, ScriptScope  # noqa: F401

# ---- the actors --------------------------------------------------------------------------------------

SYSTEM_NAME = "system"


class SystemPrincipal(Principal):
    """The engine acting on its own (scheduler firings, message-triggered starts): no user, no
    roles, not subject to the start rule. `Runtime.start` records it as no person (`started_by`
    empty, events by "system"), exactly as before it had a name."""

    @property
    def is_system(self) -> bool:
        return True


SYSTEM = SystemPrincipal(id=0, username=SYSTEM_NAME, display_name=SYSTEM_NAME)


def person(p: Principal | None) -> Principal | None:
    """The person acting, None for the system actor (who is nobody's user row)."""
    return None if p is None or p.is_system else p


# ---- who sees what ----------------------------------------------------------------------------------


def require_admin(p: Principal) -> None:
    if not p.is_admin:
        raise Forbidden("this needs the role admin")


def may_trace(p: Principal) -> bool:
    """Whether the tracing menu is offered (anyone may still open an instance they took part in)."""
    return p.is_admin or bool(p.committee_nodes())


def may_see_schedules(p: Principal) -> bool:
    return p.is_admin or p.is_process_owner


def assign_is_handover(p: Principal) -> bool:
    """An admin reassigns a task; anyone else who may act on it hands it over (移交)."""
    return not p.is_admin


def instances_visible(p: Principal, by_set: bool = False) -> ColumnElement[bool]:
    """SQL: the instances `p` may trace (admin, the group committee all; a committee its subtree;
    anyone the instances they started or hold or held a task in); `by_set`: the same rule, the
    tasks' part as one set (routing.instance_visible_clause)."""
    return routing.instance_visible_clause(p, by_set)


def heatmap_scope(p: Principal) -> ColumnElement[bool] | None:
    """The instances a definition's heatmap counts for `p`: every one for process owners."""
    return None if p.is_process_owner else routing.instance_visible_clause(p)


def tasks_offered(p: Principal) -> ColumnElement[bool]:
    """SQL: open tasks offered to `p` (assigned to them, or open to their role at the node)."""
    return routing.offered_clause(p)


def tasks_visible(p: Principal) -> ColumnElement[bool]:
    """SQL: tasks `p` may read."""
    return routing.task_visible_clause(p)


def tasks_copied(p: Principal) -> ColumnElement[bool]:
    """SQL: completed steps copied to `p` (抄送, engine/core/copies.py): `p` may read such a step's
    submitted data and nothing else of its instance — not its variables, other steps, history, or
    the instance itself (instances_visible does not count copies)."""
    from engine.models import HumanTask, TaskCopy

    return HumanTask.id.in_(select(TaskCopy.task_id).where(TaskCopy.user_id == p.id))


def task_reading(p: Principal, visible: bool, copied: bool) -> str | None:
    """How `p` reads a task: `full` (the task view: context, earlier steps, history) when the task
    is visible to them (tasks_visible), `copy` (its own data only) when it was only copied to them,
    else None (404)."""
    if visible:
        return "full"
    return "copy" if copied else None


def may_decide_approval(p: Principal, doer_id: int | None) -> bool:
    """审批 (engine/core/approvals.py): the approval task is offered to the holders of the named
    roles on the task's node (routing: candidate roles); of them, the doer may never decide on
    their own submission — not even as the only holder: an approval is a second person's act."""
    return doer_id is None or p.id != doer_id


def tasks_urgeable(p: Principal) -> ColumnElement[bool]:
    """SQL: open tasks of the tiers below that `p` may urge (督办)."""
    return routing.urgeable_clause(p)


# The org-node variable each start tier chooses (the group lane may name any node below it).
TIER_VARIABLES: dict[str, tuple[str, ...]] = {
    "group": ("unit_id", "branch_id"),
    "unit": ("unit_id",),
    "department": ("unit_id",),
    "branch": ("branch_id", "unit_id"),
}
# The variable the 发起 page asks for, and the tier of the nodes offered for it.
CHOSEN_VARIABLE = {"unit": "unit_id", "department": "unit_id", "branch": "branch_id"}
MAX_TITLE = 300


class NotStartable(Forbidden):
    """The process has no start event meant for people: only the engine starts it."""

    code = "not_startable"


# ---- what a definition offers --------------------------------------------------------------------


def manual_start_event(d: ProcessDefinition) -> dict[str, Any] | None:
    """The start event a person may use, or None when only the engine starts the process."""
    info = d.info or {}
    if info.get("called_only"):
        return None
    return next((e for e in info.get("start_events", []) if e.get("kind") == "none"), None)


def start_tier(d: ProcessDefinition) -> str:
    """The tier of the lane holding the manual start event (no lane: the group committee)."""
    event = manual_start_event(d)
    if event is not None:
        for lane in (d.info or {}).get("lanes", []):
            if event["id"] in lane.get("nodes", []):
                return lane.get("tier") or "group"
    return "group"


def called_keys(session: Session) -> set[str]:
    """Processes that the newest active version of some deployed process calls. A caller in
    another file makes a process just as internal as one in the same file (`called_only`)."""
    infos = session.scalars(repository.newest_active())
    return {key for d in infos for key in (d.info or {}).get("calls", [])}


def not_startable_reason(d: ProcessDefinition, called: set[str]) -> str | None:
    """Why no person may start `d` (None: it has a start event for people)."""
    info = d.info or {}
    if info.get("called_only") or d.key in called:
        return "a call activity of another process starts it"
    if manual_start_event(d) is None:
        kinds = sorted({e.get("kind", "none") for e in info.get("start_events", [])})
        return f"only its {' and '.join(kinds)} start events start it" if kinds else "it has no start event"
    return None


# ---- the rule ------------------------------------------------------------------------------------------


def may_start(p: Principal, d: ProcessDefinition, variables: dict[str, Any]) -> bool:
    """Whether `p` may start `d` by hand for the org node named in `variables` (after
    `default_scope`). Does not know about callers in other files: `check_start` does."""
    if manual_start_event(d) is None:
        return False
    tier = start_tier(d)
    if tier == "group":
        return p.in_group_committee
    if tier in ("unit", "department"):
        unit = variables.get("unit_id")
        return any(r.node_id == unit and r.tier == "unit" and r.role in COMMITTEE_ROLES for r in p.roles)
    if tier == "branch":
        branch = variables.get("branch_id")
        return any(r.node_id == branch and r.tier == "branch" and r.role == "commissioner" for r in p.roles)
    return False


def allowed_variables(d: ProcessDefinition) -> set[str]:
    """The names a person may pass when starting `d` by hand."""
    event = manual_start_event(d) or {}
    return {"title", *TIER_VARIABLES.get(start_tier(d), ()), *(event.get("variables") or [])}


def check_variables(d: ProcessDefinition, variables: dict[str, Any]) -> None:
    allowed = allowed_variables(d)
    unknown = sorted(k for k in variables if k not in allowed)
    if unknown:
        raise Invalid(
            "variables/{variable}: {key!r} takes no variable {variable!r} at start; it accepts {allowed}",
            [field_error(f"variables/{k}", "not a start variable of this process") for k in unknown],
            variable=unknown[0],
            key=d.key,
            allowed=", ".join(sorted(allowed)),
        )
    title = variables.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE):
        raise Invalid(
            "variables/title must be text of at most {limit} characters",
            [field_error("variables/title", "text of at most {limit} characters", limit=MAX_TITLE)],
            limit=MAX_TITLE,
        )


def check_start(
    session: Session, p: Principal, d: ProcessDefinition, variables: dict[str, Any], start_event: str | None = None
) -> None:
    """Raise unless `p` may start `d` by hand with `variables` (already through `default_scope`):
    NotStartable (403), Forbidden (403) for the role or node, Invalid (422) naming the field."""
    reason = not_startable_reason(d, called_keys(session))
    if reason is not None:
        raise NotStartable("process {key!r} cannot be started by hand: {reason}", key=d.key, reason=reason)
    event = manual_start_event(d)
    assert event is not None
    if start_event is not None and start_event != event["id"]:
        raise Invalid(
            "start_event {start_event!r} is not the start event for people ({event_id!r})",
            [field_error("start_event", "only {event_id} starts by hand", event_id=event["id"])],
            start_event=start_event,
            event_id=event["id"],
        )
    if not may_start(p, d, variables):
        raise Forbidden("your roles do not allow starting {key!r} for this org node", key=d.key)
    check_variables(d, variables)


def default_scope(session: Session, p: Principal, d: ProcessDefinition, variables: dict[str, Any]) -> None:
    """A commissioner starting a branch process files for their own branch, a unit committee
    member for their unit (when they hold one only); a branch names its unit."""
    tier = start_tier(d)
    if "branch_id" not in variables and tier == "branch":
        branches = [r.node_id for r in p.roles if r.role == "commissioner" and r.tier == "branch"]
        if len(branches) == 1:
            variables["branch_id"] = branches[0]
    if "unit_id" not in variables and tier in ("unit", "department", "branch"):
        if "branch_id" in variables:
            node = session.get(OrgNode, variables["branch_id"]) if isinstance(variables["branch_id"], str) else None
            if node is not None and node.tier == "branch":
                variables["unit_id"] = node.parent_id
        elif tier != "branch":
            units = {r.node_id for r in p.roles if r.tier == "unit" and r.role in COMMITTEE_ROLES}
            if len(units) == 1:
                variables["unit_id"] = units.pop()


# ---- the 发起 page's offer ---------------------------------------------------------------------------


@dataclass
class Startable:
    definition: ProcessDefinition
    tier: str
    fixed: str | None  # the org node filled in from the person's roles
    options: list[tuple[str, str]] = field(default_factory=list)  # else: the nodes to choose from


def startables(session: Session, p: Principal) -> list[Startable]:
    """What `p` may start by hand, each with the org node(s) it would be for: exactly the
    starts `check_start` lets through (a test compares the two for every demo role)."""
    defs = session.scalars(repository.newest_active().order_by(ProcessDefinition.name, ProcessDefinition.key)).all()
    called = {key for d in defs for key in (d.info or {}).get("calls", [])}
    out = []
    for d in defs:
        if not_startable_reason(d, called) is not None:
            continue
        tier = start_tier(d)
        var = CHOSEN_VARIABLE.get(tier)
        variables: dict[str, Any] = {}
        default_scope(session, p, d, variables)
        if var is None or variables.get(var):
            if may_start(p, d, variables):
                out.append(Startable(d, tier, variables.get(var) if var else None))
            continue
        options = [(node_id, name) for node_id, name in own_nodes(session, p, tier) if may_start(p, d, {var: node_id})]
        if options:
            out.append(Startable(d, tier, None, options))
    return out


def own_nodes(session: Session, p: Principal, tier: str) -> list[tuple[str, str]]:
    """The active nodes of the tier's kind on which `p` holds a role, in the organisation's order."""
    node_tier = "branch" if tier == "branch" else "unit"
    ids = [r.node_id for r in p.roles if r.node_id and r.tier == node_tier]
    if not ids:
        return []
    q = select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(ids), OrgNode.active.is_(True))
    return [(i, n) for i, n in session.execute(q.order_by(OrgNode.sort, OrgNode.id)).all()]


def require_form_deployer(p: Principal) -> None:
    """Forms deploy like diagrams (issue 15): only process owners. Anyone signed in reads them."""
    if not p.is_process_owner:
        raise Forbidden("this needs the role {roles}", roles="process_owner")
