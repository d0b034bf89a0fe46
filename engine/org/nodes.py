"""The three-tier organisation: nodes, users, roles, and who a user is (a Principal)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, Invalid, Msg, NotFound, field_error
from engine.models import (
    COMMITTEE_ROLES,
    NODE_ROLES,
    ROLES,
    SEPARATED_ROLES,
    SYSTEM_ROLES,
    OrgNode,
    RoleAssignment,
    User,
)

TIER_NAMES = {"group": "集团公司纪委", "unit": "权属单位纪委", "branch": "基层党支部"}
ROLE_NAMES = {
    "secretary": "书记",
    "deputy_secretary": "副书记",
    "standing_member": "常委",
    "member": "委员",
    "commissioner": "纪律检查委员",
    "department": "职能部门",
    "process_owner": "流程管理员",
    "admin": "系统管理员",
    "security_admin": "安全保密管理员",
    "auditor": "安全审计员",
}
CHILD_TIER = {"group": "unit", "unit": "branch"}


@dataclass(frozen=True)
class RoleOn:
    role: str
    node_id: str | None
    tier: str | None
    path: str | None


@dataclass
class Principal:
    """The acting user with everything access checks need, loaded once per request."""

    id: int
    username: str
    display_name: str
    roles: list[RoleOn] = field(default_factory=list)

    @property
    def is_system(self) -> bool:
        """The engine itself (engine/org/policy.py SYSTEM), not a person."""
        return False

    @property
    def is_admin(self) -> bool:
        return any(r.role == "admin" for r in self.roles)

    @property
    def is_security_admin(self) -> bool:
        return any(r.role == "security_admin" for r in self.roles)

    @property
    def is_auditor(self) -> bool:
        return any(r.role == "auditor" for r in self.roles)

    @property
    def is_process_owner(self) -> bool:
        return any(r.role == "process_owner" for r in self.roles)

    def has_role(self, *roles: str) -> bool:
        return any(r.role in roles for r in self.roles)

    def committee_nodes(self) -> list[RoleOn]:
        return [r for r in self.roles if r.role in COMMITTEE_ROLES and r.node_id]

    @property
    def in_group_committee(self) -> bool:
        return any(r.tier == "group" for r in self.committee_nodes())

    def supervised_paths(self) -> list[str]:
        """Paths of nodes whose subtree this user oversees (committee roles on group/unit)."""
        return [r.path for r in self.committee_nodes() if r.path]

    def node_ids(self) -> set[str]:
        return {r.node_id for r in self.roles if r.node_id}


def load_principal(session: Session, user: User) -> Principal:
    rows = session.execute(
        select(RoleAssignment.role, RoleAssignment.node_id, OrgNode.tier, OrgNode.path)
        .outerjoin(OrgNode, OrgNode.id == RoleAssignment.node_id)
        .where(RoleAssignment.user_id == user.id)
    ).all()
    return Principal(user.id, user.username, user.display_name, [RoleOn(*r) for r in rows])


def group_root(session: Session) -> OrgNode:
    node = session.scalars(select(OrgNode).where(OrgNode.tier == "group", OrgNode.parent_id.is_(None))).first()
    if node is None:
        raise NotFound("the organisation has no group committee yet (run init-db --demo or import-org)")
    return node


def get_node(session: Session, node_id: str) -> OrgNode:
    node = session.get(OrgNode, node_id)
    if node is None:
        raise NotFound("org node {node_id!r} does not exist", node_id=node_id)
    return node


def tree(session: Session) -> dict[str, Any]:
    nodes = session.scalars(select(OrgNode).where(OrgNode.active.is_(True)).order_by(OrgNode.sort, OrgNode.id)).all()
    by_parent: dict[str | None, list[OrgNode]] = {}
    for n in nodes:
        by_parent.setdefault(n.parent_id, []).append(n)

    def build(n: OrgNode) -> dict[str, Any]:
        return {
            "id": n.id,
            "tier": n.tier,
            "name": n.name,
            "parent_id": n.parent_id,
            "children": [build(c) for c in by_parent.get(n.id, [])],
        }

    roots = by_parent.get(None, [])
    if not roots:
        raise NotFound("the organisation is empty")
    return build(roots[0])


def units(session: Session) -> list[OrgNode]:
    return list(
        session.scalars(
            select(OrgNode).where(OrgNode.tier == "unit", OrgNode.active.is_(True)).order_by(OrgNode.sort, OrgNode.id)
        )
    )


def branches(session: Session, unit_id: str | None = None) -> list[OrgNode]:
    q = select(OrgNode).where(OrgNode.tier == "branch", OrgNode.active.is_(True))
    if unit_id is not None:
        q = q.where(OrgNode.parent_id == unit_id)
    return list(session.scalars(q.order_by(OrgNode.sort, OrgNode.id)))


def committee_usernames(session: Session, node_id: str, roles: list[str] | None = None) -> list[str]:
    """The active members of the committee of a group or unit node (narrowed to `roles`), each once,
    by rank (书记 first) then username: e.g. the signers of 会签 (`committee_members()` in scripts)."""
    wanted = [r for r in (roles or COMMITTEE_ROLES) if r in COMMITTEE_ROLES]
    rows = session.execute(
        select(User.username, RoleAssignment.role)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(User.active.is_(True), RoleAssignment.node_id == node_id, RoleAssignment.role.in_(wanted))
    ).all()
    order = {r: i for i, r in enumerate(COMMITTEE_ROLES)}
    rank: dict[str, int] = {}
    for username, role in rows:
        rank[username] = min(rank.get(username, 99), order[role])
    return sorted(rank, key=lambda u: (rank[u], u))


def people(session: Session, unit_id: str) -> list[dict[str, Any]]:
    """The discipline inspectors of a unit: its committee members (书记, 副书记, 常委, 委员 on the
    unit) and the commissioners (纪律检查委员) of its active branches, each person once."""
    unit = session.get(OrgNode, unit_id)
    if unit is None or unit.tier != "unit":
        raise NotFound("{unit_id!r} is not a unit of the organisation", unit_id=unit_id)
    rows = session.execute(
        select(User.username, User.display_name, RoleAssignment.role, OrgNode.id, OrgNode.name, OrgNode.tier)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .join(OrgNode, OrgNode.id == RoleAssignment.node_id)
        .where(
            User.active.is_(True),
            OrgNode.active.is_(True),
            ((OrgNode.id == unit_id) & RoleAssignment.role.in_(COMMITTEE_ROLES))
            | ((OrgNode.parent_id == unit_id) & (OrgNode.tier == "branch") & (RoleAssignment.role == "commissioner")),
        )
        .order_by(OrgNode.tier.desc(), OrgNode.sort, OrgNode.id, User.username)
    ).all()
    seen: dict[str, dict[str, Any]] = {}
    for username, name, role, node_id, node_name, _tier in rows:
        if username not in seen:
            seen[username] = {
                "username": username,
                "name": name,
                "role": role,
                "role_name": ROLE_NAMES.get(role, role),
                "node_id": node_id,
                "node_name": node_name,
            }
    return list(seen.values())


def add_node(session: Session, node_id: str, tier: str, name: str, parent_id: str | None, sort: int = 0) -> OrgNode:
    if tier not in TIER_NAMES:
        raise Invalid(
            "tier must be one of {tiers}",
            [field_error("tier", "one of {tiers}", tiers=", ".join(TIER_NAMES))],
            tiers=", ".join(TIER_NAMES),
        )
    parent = session.get(OrgNode, parent_id) if parent_id else None
    if tier == "group":
        if parent_id:
            raise Invalid(
                "the group committee has no parent", [field_error("parent", "the group committee has no parent")]
            )
    else:
        if parent is None:
            raise Invalid(
                "parent {parent_id!r} of {node_id!r} does not exist",
                [field_error("parent", "org node {node_id!r} does not exist", node_id=parent_id)],
                parent_id=parent_id,
                node_id=node_id,
            )
        if CHILD_TIER.get(parent.tier) != tier:
            above = next(k for k, v in CHILD_TIER.items() if v == tier)
            raise Invalid(
                "a {tier} must sit under a {above}",
                [field_error("parent", "a {tier} must sit under a {above}", tier=tier, above=above)],
                tier=tier,
                above=above,
            )
    node = session.get(OrgNode, node_id)
    path = (parent.path if parent else "/") + node_id + "/"
    if node is None:
        node = OrgNode(id=node_id, tier=tier, name=name, parent_id=parent_id, path=path, sort=sort)
        session.add(node)
    else:
        node.tier, node.name, node.parent_id, node.path, node.sort, node.active = (
            tier,
            name,
            parent_id,
            path,
            sort,
            True,
        )
    return node


class SeparationOfDuties(Invalid):
    """三员分立: one person never holds two of the system administrator, the security administrator
    and the security auditor."""

    code = "separation_of_duties"


def grant(session: Session, user: User, role: str, node_id: str | None) -> bool:
    """Give `user` the role (on the node); False when they hold it already. Every path that grants
    (the API and pages of the security administrator, the CLI, the org import, the demo) comes here."""
    if role not in ROLES:
        raise Invalid(
            "unknown role {role!r}", [field_error("role", "one of {roles}", roles=", ".join(ROLES))], role=role
        )
    if role in SYSTEM_ROLES:
        node_id = None
    else:
        node = session.get(OrgNode, node_id) if node_id else None
        if node is None:
            raise Invalid(
                "role {role} needs an existing org node, not {node_id!r}",
                [field_error("node", "org node {node_id!r} does not exist", node_id=node_id)],
                role=role,
                node_id=node_id,
            )
        if role == "commissioner" and node.tier != "branch":
            raise Invalid("commissioner is a branch role", [field_error("role", "commissioner is a branch role")])
        if role == "department" and node.tier != "unit":
            raise Invalid(
                "department staff belong to a unit", [field_error("role", "department staff belong to a unit")]
            )
        if role in COMMITTEE_ROLES and node.tier == "branch":
            raise Invalid(
                "{role} is a committee role of the group or a unit",
                [field_error("role", "{role} is a committee role of the group or a unit", role=role)],
                role=role,
            )
    if role in SEPARATED_ROLES:
        held = sorted({r.role for r in user.roles if r.role in SEPARATED_ROLES and r.role != role})
        if held:
            raise SeparationOfDuties(
                "{username} holds {held}: nobody holds two of {separated} (separation of duties), so {role} is refused",
                [
                    field_error(
                        "role",
                        "{role} refused: {username} holds {held}",
                        username=user.username,
                        held=held[0],
                        role=role,
                    )
                ],
                username=user.username,
                held=held[0],
                separated=", ".join(SEPARATED_ROLES),
                role=role,
            )
    if {role} | {r.role for r in user.roles} >= {"admin", "process_owner"}:
        # whoever deploys diagrams (and so scripts) must not also read every instance: a script
        # could copy a confidential value under a new name that redaction does not know
        other = "process_owner" if role == "admin" else "admin"
        raise SeparationOfDuties(
            "{username} holds {held}: the system administrator does not author processes, so {role} is refused",
            [
                field_error(
                    "role", "{role} refused: {username} holds {held}", username=user.username, held=other, role=role
                )
            ],
            username=user.username,
            held=other,
            role=role,
        )
    exists = next((r for r in user.roles if r.role == role and r.node_id == node_id), None)
    if exists is None:
        exists = session.scalars(
            select(RoleAssignment).where(
                RoleAssignment.user_id == user.id,
                RoleAssignment.role == role,
                RoleAssignment.node_id.is_(None) if node_id is None else RoleAssignment.node_id == node_id,
            )
        ).first()
    if exists is not None:
        return False
    session.add(RoleAssignment(user=user, role=role, node_id=node_id))
    return True


def revoke(session: Session, user: User, role: str, node_id: str | None) -> None:
    """Take the role (on the node) away from `user`; NotFound when they do not hold it."""
    if role in SYSTEM_ROLES:
        node_id = None
    held = next((r for r in user.roles if r.role == role and r.node_id == (node_id or None)), None)
    if held is None:
        raise NotFound(
            "{username} does not hold {role} on {node_id}" if node_id else "{username} does not hold {role}",
            username=user.username,
            role=role,
            node_id=node_id,
        )
    user.roles.remove(held)
    session.flush()


def get_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound("user {username!r} does not exist", username=username)
    return user


def create_user(
    session: Session, username: str, display_name: str, password_hash: str, now: datetime, email: str | None = None
) -> User:
    """A new account (the security administrator's); Conflict when the username is taken."""
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict("user {username!r} exists already", username=username)
    user = User(username=username, display_name=display_name, password_hash=password_hash, email=email, created_at=now)
    session.add(user)
    session.flush()
    return user


def ensure_user(
    session: Session, username: str, display_name: str, password_hash: str, now: datetime, email: str | None = None
) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        user = User(
            username=username, display_name=display_name, password_hash=password_hash, email=email, created_at=now
        )
        session.add(user)
    else:
        user.display_name = display_name
        if email:
            user.email = email
    return user


IMPORT_COLUMNS = (
    "kind",
    "id",
    "tier",
    "name",
    "parent",
    "username",
    "display_name",
    "role",
    "node",
    "password",
    "email",
)


def read_rows(filename: str, content: bytes) -> list[dict[str, str]]:
    """Rows of an org import file (CSV in UTF-8, or the first sheet of an XLSX)."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        rows = [[("" if c is None else str(c)).strip() for c in row] for row in wb.active.iter_rows(values_only=True)]
    else:
        text = content.decode("utf-8-sig")
        rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
    rows = [r for r in rows if any(r)]
    if not rows:
        raise Invalid("the import file is empty", [field_error("file", "no rows")])
    header = [h.lower() for h in rows[0]]
    unknown = [h for h in header if h and h not in IMPORT_COLUMNS]
    if unknown or "kind" not in header:
        raise Invalid(
            "the first row must name the columns: {columns}",
            [
                field_error("header", "unknown columns {unknown}", unknown=unknown)
                if unknown
                else field_error("header", "missing kind")
            ],
            columns=", ".join(IMPORT_COLUMNS),
        )
    return [dict(zip(header, r + [""] * (len(header) - len(r)))) for r in rows[1:]]


def import_rows(session: Session, rows: Iterable[dict[str, str]], hash_password: Any, now: datetime) -> dict[str, int]:
    """Apply node / user / role rows in order; any bad row rejects the whole file."""
    counts = {"nodes": 0, "users": 0, "roles": 0}
    for lineno, row in enumerate(rows, start=2):
        kind = row.get("kind", "").lower()
        try:
            if kind == "node":
                add_node(session, row["id"], row["tier"], row["name"], row.get("parent") or None)
                counts["nodes"] += 1
            elif kind == "user":
                if not row.get("username") or not row.get("password"):
                    raise Invalid("a user row needs username and password", None)
                ensure_user(
                    session,
                    row["username"],
                    row.get("display_name") or row["username"],
                    hash_password(row["password"]),
                    now,
                    row.get("email") or None,
                )
                counts["users"] += 1
            elif kind == "role":
                user = session.scalars(select(User).where(User.username == row.get("username"))).first()
                if user is None:
                    raise Invalid("user {username!r} is not defined above", None, username=row.get("username"))
                grant(session, user, row.get("role", ""), row.get("node") or None)
                counts["roles"] += 1
            else:
                raise Invalid("kind must be node, user or role, not {kind!r}", None, kind=kind)
            session.flush()
        except (Invalid, KeyError) as exc:
            problem = (
                Msg(exc.template, **exc.params)
                if isinstance(exc, Invalid)
                else Msg("missing column {column}", column=str(exc))
            )
            rows = [field_error(f"row {lineno}", "{problem}", problem=problem)]
            if isinstance(exc, SeparationOfDuties):  # stays one
                raise SeparationOfDuties(
                    "import row {lineno}: {problem}", rows, lineno=lineno, problem=problem
                ) from None
            raise Invalid("import row {lineno}: {problem}", rows, lineno=lineno, problem=problem) from None
    return counts


__all__ = ["COMMITTEE_ROLES", "NODE_ROLES", "Principal", "RoleOn", "load_principal", "tree"]
