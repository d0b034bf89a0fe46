"""The reach of script helpers (issue 13 item 3): what the scripts of one instance may read and
write. Re-exported from engine.org.policy.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from engine.errors import ScriptError
from engine.linkage.records import KINDS, Kind
from engine.models import OrgNode, Record
from engine.org.node_rows import NodeRef, node_row

# The lanes whose people may all see the confidential records of an instance's scope subtree:
# the group committee sees everything, a unit committee its unit, a commissioner their branch;
# department staff never see confidential records.
CONFIDENTIAL_LANES = {
    "group": frozenset({"group"}),
    "unit": frozenset({"group", "unit"}),
    "branch": frozenset({"group", "unit", "branch"}),
}


class ScriptScope:
    """What the scripts of one instance may reach: the records owned inside the instance's scope
    subtree (a branch instance its branch, a unit instance its unit and branches, a group
    instance everything), of the record kinds its process may touch (engine/linkage/records.py KINDS),
    confidential ones only when every lane of its process may see them; people of the units in
    its scope. A violation is a ScriptError naming the helper: the instance gets an incident and
    the script gets no data (see docs/bpmn-conventions.md, "Scripts and conditions")."""

    def __init__(self, session: Session, process_key: str, scope_node_id: str, lanes: frozenset[str]) -> None:
        self.session = session
        self.process_key = process_key
        self.scope_node_id = scope_node_id
        self.lanes = lanes
        self._node: NodeRef | None = None

    @classmethod
    def of(cls, session: Session, inst: Any) -> ScriptScope:
        info = getattr(inst.definition, "info", None) or {}
        lanes = frozenset(lane["tier"] for lane in info.get("lanes", []) if lane.get("tier"))
        return cls(session, inst.process_key, inst.scope_node_id, lanes)

    def _row(self, node_id: Any) -> NodeRef | None:
        """An org node as this transaction sees it, read once in it (engine/org/node_rows.py)."""
        return node_row(self.session.connection(), node_id) if isinstance(node_id, str) else None

    @property
    def node(self) -> NodeRef:
        if self._node is None:
            node = self._row(self.scope_node_id)
            if node is None:  # the scope was checked at start; a deleted node reaches nothing
                raise ScriptError(
                    "the instance's org node {scope_node_id!r} no longer exists", scope_node_id=self.scope_node_id
                )
            self._node = node
        return self._node

    # -- record kinds and owners

    def kind(self, helper: str, kind: Any) -> Kind | None:
        """The declared rule of `kind`; refuses a kind this process may not touch."""
        if not isinstance(kind, str) or not kind:
            raise ScriptError("{helper}: the record kind must be a non-empty string", helper=helper)
        rule = KINDS.get(kind)
        if rule is not None and self.process_key not in rule.processes:
            raise ScriptError(
                "{helper}: process {process_key!r} may not touch {kind!r} records (only {processes} may)",
                helper=helper,
                process_key=self.process_key,
                kind=kind,
                processes=", ".join(sorted(rule.processes)),
            )
        return rule

    def _reach_unit(self, rule: Kind | None) -> str | None:
        """The unit node above a branch scope that this process may reach for this kind, if any."""
        if rule is not None and self.process_key in rule.unit_reach and self.node.tier == "branch":
            return self.node.parent_id
        return None

    def owns(self, helper: str, rule: Kind | None, node_id: str, what: str) -> NodeRef:
        """The org node `node_id` if it lies in this instance's reach; else refuse naming `what`."""
        node = self._row(node_id)
        if node is None:
            raise ScriptError("{helper}: org node {node_id!r} does not exist", helper=helper, node_id=node_id)
        if not node.path.startswith(self.node.path) and node.id != self._reach_unit(rule):
            raise ScriptError(
                "{helper}: {what} belongs to {node_id!r}, outside the scope of this instance ({scope_id!r})",
                helper=helper,
                what=what,
                node_id=node.id,
                scope_id=self.node.id,
            )
        return node

    def area(self, rule: Kind | None) -> ColumnElement[bool]:
        """SQL: records owned inside this instance's reach."""
        inside = Record.node_id.in_(select(OrgNode.id).where(OrgNode.path.startswith(self.node.path, autoescape=True)))
        unit = self._reach_unit(rule)
        return or_(inside, Record.node_id == unit) if unit else inside

    def filter_node(self, helper: str, node_id: Any, what: str) -> None:
        """A filter (find_records' unit_id / node_id) may name a node inside the reach or one of
        the scope's own ancestors (the results stay inside the reach); nothing else."""
        node = self._row(node_id)
        if node is None or not (node.path.startswith(self.node.path) or self.node.path.startswith(node.path)):
            raise ScriptError(
                "{helper}: {what}={node_id!r} is outside the scope of this instance ({scope_id!r})",
                helper=helper,
                what=what,
                node_id=node_id,
                scope_id=self.node.id,
            )

    def confidential(self, helper: str, kind: str) -> None:
        """Refuse reading confidential records unless every lane's people may see them here."""
        allowed = CONFIDENTIAL_LANES.get(self.node.tier, frozenset())
        if not self.lanes <= allowed:
            extra = ", ".join(sorted(self.lanes - allowed))
            raise ScriptError(
                "{helper}: {kind!r} records are confidential and this {node_tier}-scoped instance has "
                "{extra} lanes whose people may not see them",
                helper=helper,
                kind=kind,
                node_tier=self.node.tier,
                extra=extra,
            )

    # -- people

    def people_of(self, helper: str, unit_id: Any) -> None:
        """Who works in a unit is for its own committee and the group's: a unit instance asks for
        its own unit, a group instance for any; a branch instance for none."""
        if self.node.tier == "group" or (self.node.tier == "unit" and unit_id == self.node.id):
            return
        raise ScriptError(
            "{helper}: the people of {unit_id!r} are outside the scope of this instance ({node_id!r})",
            helper=helper,
            unit_id=unit_id,
            node_id=self.node.id,
        )

    def units(self, helper: str) -> set[str] | None:
        """The units whose people this instance may count (None: all, for a group instance)."""
        if self.node.tier == "group":
            return None
        if self.node.tier == "unit":
            return {self.node.id}
        raise ScriptError("{helper}: a branch instance may not read the people of its unit", helper=helper)
