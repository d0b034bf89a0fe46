"""Routing: lane → tier → org node → candidate users, and who may see what.

The convention (docs/bpmn-conventions.md): a user task's lane name selects the tier; the
org node comes from the task data — `unit_id` for unit and department lanes, `branch_id`
for branch lanes, the group committee for the group lane. A task is offered to the users
holding a matching role on exactly that node, optionally narrowed by `candidateRoles`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from engine.errors import SanjiError
from engine.models import COMMITTEE_ROLES, HumanTask, OrgNode, ProcessInstance, RoleAssignment, User
from engine.org.node_rows import NodeRef, node_row
from engine.org.nodes import Principal

LANE_TIERS = {
    "集团公司纪委": "group",
    "权属单位纪委": "unit",
    "基层党支部纪律检查委员": "branch",
    "职能部门": "department",
    "group": "group",
    "unit": "unit",
    "branch": "branch",
    "department": "department",
}
TIER_ROLES = {
    "group": COMMITTEE_ROLES,
    "unit": COMMITTEE_ROLES,
    "branch": ("commissioner",),
    "department": ("department",),
}
NODE_TIER = {"group": "group", "unit": "unit", "branch": "branch", "department": "unit"}
NODE_VARIABLE = {"unit": "unit_id", "branch": "branch_id", "department": "unit_id"}


class RoutingError(SanjiError):
    status, code = 422, "routing_error"


def lane_tier(lane: str | None) -> str | None:
    return LANE_TIERS.get((lane or "").strip())


def _node(session: Session, node_id: str) -> NodeRef | None:
    return node_row(session.connection(), node_id)


def resolve_node(
    session: Session, tier: str, data: dict[str, Any], group_id: str, variable: str | None = None
) -> NodeRef:
    """The org node a task of `tier` is routed to, from the task data."""
    if tier == "group" and variable is None:
        node = _node(session, group_id)
        assert node is not None
        return node
    var = variable or NODE_VARIABLE[tier]
    node_id = data.get(var)
    if not node_id or not isinstance(node_id, str):
        raise RoutingError(
            "a task in the {tier} lane needs the variable {var!r} naming its org node", tier=tier, var=var
        )
    node = _node(session, node_id)
    if node is None or not node.active:
        raise RoutingError("{var}={node_id!r} is not an org node", var=var, node_id=node_id)
    if node.tier != NODE_TIER[tier]:
        raise RoutingError(
            "{var}={node_id!r} is a {node_tier}, but the {tier} lane needs a {needed}",
            var=var,
            node_id=node_id,
            node_tier=node.tier,
            tier=tier,
            needed=NODE_TIER[tier],
        )
    return node


def roles_for(tier: str, candidate_roles: str | None) -> tuple[str, ...]:
    roles = TIER_ROLES[tier]
    if candidate_roles:
        wanted = {r.strip() for r in candidate_roles.split(",") if r.strip()}
        roles = tuple(r for r in roles if r in wanted)
    return roles


def is_candidate(p: Principal, tier: str, node_id: str, candidate_roles: str | None) -> bool:
    roles = roles_for(tier, candidate_roles)
    return any(r.node_id == node_id and r.role in roles for r in p.roles)


def candidates(session: Session, task: HumanTask) -> list[User]:
    roles = roles_for(task.tier, task.candidate_roles)
    return list(
        session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(RoleAssignment.node_id == task.node_id, RoleAssignment.role.in_(roles), User.active.is_(True))
            .distinct()
            .order_by(User.username)
        )
    )


# ---- access predicates (SQL), shared by lists and single-object reads -------------------------


def offered_clause(p: Principal) -> ColumnElement[bool]:
    """Open tasks offered to `p` and not claimed by someone else, or assigned to `p`."""
    parts: list[ColumnElement[bool]] = [HumanTask.assignee_id == p.id]
    by_node: dict[tuple[str, str], set[str]] = {}
    for r in p.roles:
        if not r.node_id:
            continue
        for tier, roles in TIER_ROLES.items():
            if r.role in roles and NODE_TIER[tier] == r.tier:
                by_node.setdefault((tier, r.node_id), set()).add(r.role)
    for (tier, node_id), held in by_node.items():
        role_ok: ColumnElement[bool] = HumanTask.candidate_roles.is_(None)
        for role in held:
            role_ok = or_(role_ok, HumanTask.candidate_roles.contains(f",{role},"))
        parts.append(
            and_(HumanTask.tier == tier, HumanTask.node_id == node_id, HumanTask.assignee_id.is_(None), role_ok)
        )
    return or_(*parts)


def task_visible_clause(p: Principal) -> ColumnElement[bool]:
    """Tasks `p` may read: offered/assigned ones, ones `p` completed, and (as candidate) claimed ones."""
    if p.is_admin:
        return true()
    parts: list[ColumnElement[bool]] = [HumanTask.assignee_id == p.id, HumanTask.completed_by_id == p.id]
    for r in p.roles:
        if not r.node_id:
            continue
        for tier, roles in TIER_ROLES.items():
            if r.role in roles and NODE_TIER[tier] == r.tier:
                parts.append(and_(HumanTask.tier == tier, HumanTask.node_id == r.node_id))
    return or_(*parts)


def task_visible(p: Principal, task: HumanTask) -> bool:
    """`task_visible_clause` for one task already read (the completion path reads the task by id
    and checks here instead of building the clause: same rule, tested side by side)."""
    if p.is_admin or task.assignee_id == p.id or task.completed_by_id == p.id:
        return True
    for r in p.roles:
        if (
            r.node_id
            and r.node_id == task.node_id
            and NODE_TIER.get(task.tier) == r.tier
            and r.role in TIER_ROLES.get(task.tier, ())
        ):
            return True
    return False


def can_act_on(p: Principal, task: HumanTask) -> bool:
    if task.assignee_id is not None:
        return task.assignee_id == p.id
    return is_candidate(p, task.tier, task.node_id, task.candidate_roles)


def instance_visible_clause(p: Principal, by_set: bool = False) -> ColumnElement[bool]:
    """Instances `p` may trace: admin and the group committee see all; a committee sees its
    subtree; anyone sees instances they started or hold or held a task in. `by_set`: the same
    rule with "held a task in" as `id IN (the instances of the tasks p may read)`, which the
    database computes once instead of once per instance (search checks thousands of candidates)."""
    if p.is_admin or p.in_group_committee:
        return true()
    parts: list[ColumnElement[bool]] = [ProcessInstance.started_by_id == p.id]
    for path in p.supervised_paths():
        parts.append(ProcessInstance.scope_node_id.in_(select(OrgNode.id).where(OrgNode.path.startswith(path))))
    if by_set:
        parts.append(ProcessInstance.id.in_(select(HumanTask.instance_id).where(task_visible_clause(p))))
    else:
        parts.append(exists().where(HumanTask.instance_id == ProcessInstance.id, task_visible_clause(p)))
    return or_(*parts) if parts else false()


# ---- 催办 (urge): the tier above nudges --------------------------------------------------------

URGE_LEADERS = ("secretary", "deputy_secretary")


def may_urge(p: Principal, task: HumanTask, node: OrgNode) -> bool:
    """Who may urge a task: a committee of an ancestor of the task's org node (the unit committee
    for a branch task, the group for a unit task, …), a unit committee for its own functional
    departments, the group's secretary and deputy secretary for the group committee's own tasks,
    and admins."""
    if p.is_admin:
        return True
    for r in p.committee_nodes():
        if r.node_id == node.id:
            if task.tier == "department" or (task.tier == "group" and r.tier == "group" and r.role in URGE_LEADERS):
                return True
        elif r.path and node.path.startswith(r.path):
            return True
    return False


def urgeable_clause(p: Principal) -> ColumnElement[bool]:
    """SQL twin of `may_urge`: the tasks `p` supervises (督办)."""
    if p.is_admin:
        return true()
    parts: list[ColumnElement[bool]] = []
    for r in p.committee_nodes():
        if r.path:
            parts.append(
                HumanTask.node_id.in_(
                    select(OrgNode.id).where(OrgNode.path.startswith(r.path, autoescape=True), OrgNode.id != r.node_id)
                )
            )
        parts.append(and_(HumanTask.tier == "department", HumanTask.node_id == r.node_id))
        if r.tier == "group" and r.role in URGE_LEADERS:
            parts.append(and_(HumanTask.tier == "group", HumanTask.node_id == r.node_id))
    return or_(*parts) if parts else false()
