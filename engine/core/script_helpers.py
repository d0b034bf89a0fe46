"""What an instance's scripts may call: org, record and platform helpers, inside its `ScriptScope`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from engine.core import record_updates
from engine.core.runtime_base import RuntimeBase, _jsonable
from engine.core.scripts import RestrictedEnvironment, SanjiScriptEngine, date_helpers
from engine.errors import Invalid, Msg, ScriptError, field_error
from engine.infra import events
from engine.infra.clock import as_utc
from engine.linkage import kinds as record_kinds
from engine.models import HumanTask, OrgNode, ProcessInstance, Record, User
from engine.org import nodes as org
from engine.org.node_rows import NodeRef, node_row
from engine.org.policy import ScriptScope
from engine.org.routing import candidates
from engine.platform.meetings.rules import script_helpers as meeting_helpers
from engine.platform.meetings.zones import script_helpers as zone_helpers
from engine.platform.study import script_helpers as platform_helpers


class ScriptHelpers(RuntimeBase):
    # ---- scripts ------------------------------------------------------------------------------------

    def _script_engine(self, inst: ProcessInstance) -> SanjiScriptEngine:
        def helpers() -> dict[str, Any]:
            scope = ScriptScope.of(self.session, inst)  # what this instance's scripts may reach
            out: dict[str, Any] = date_helpers(self.clock.now, self.zone)
            out.update(self._org_helpers(scope))
            out.update(self._record_helpers(inst, scope))
            out.update(platform_helpers(self.session, self.clock, self.settings, scope))
            out.update(meeting_helpers(self.session, scope))  # unit_meetings(unit_id, year)
            out.update(zone_helpers(self.session, scope, inst.id, self.clock.now, self.zone))  # 分区联创
            return out

        env = RestrictedEnvironment(
            helpers, self.settings.script_timeout_ms / 1000, self.settings.script_max_mb << 20, self._deadline
        )
        return SanjiScriptEngine(
            env, self.clock.now, self.zone, self.settings.max_branches, self.settings.timer_min_seconds
        )

    def _org_helpers(self, scope: ScriptScope) -> dict[str, Callable[..., Any]]:
        """The org tree (what every signed-in user reads at GET /api/v1/org) is open to every
        script; who works in a unit only to instances whose scope holds the unit."""
        session = self.session

        def org_units() -> list[str]:
            return [n.id for n in org.units(session)]

        def org_branches(unit_id: str | None = None) -> list[str]:
            return [n.id for n in org.branches(session, unit_id)]

        def org_name(node_id: str) -> str:
            node = session.get(OrgNode, node_id)
            return node.name if node else str(node_id)

        def unit_of(node_id: str) -> str | None:
            node = session.get(OrgNode, node_id)
            return self._unit_of(node) if node else None

        def org_people(unit_id: str) -> list[dict[str, Any]]:
            scope.people_of("org_people", unit_id)
            return org.people(session, unit_id)

        def committee_members(node_id: str | None = None, roles: str | list[str] | None = None) -> list[str]:
            """Usernames of the committee of a unit (or the group), e.g. the signers of 会签."""
            node_id = node_id or self._group()
            if node_id != self._group():
                scope.people_of("committee_members", node_id)
            wanted = roles.split(",") if isinstance(roles, str) else roles
            return org.committee_usernames(session, node_id, [r.strip() for r in wanted] if wanted else None)

        return {
            "org_units": org_units,
            "org_branches": org_branches,
            "org_name": org_name,
            "unit_of": unit_of,
            "group_id": self._group,
            "org_people": org_people,
            "committee_members": committee_members,
        }

    def _record_helpers(self, inst: ProcessInstance, scope: ScriptScope) -> dict[str, Callable[..., Any]]:
        """Records inside the instance's scope, of the kinds its process may touch (`ScriptScope`)."""
        session = self.session

        def save_record(
            kind: str, key: str, data: dict[str, Any], node_id: str | None = None, confidential: bool = False
        ) -> None:
            rule = scope.kind("save_record", kind)
            if not isinstance(data, dict):
                raise ScriptError("save_record(kind, key, data): data must be a dict")
            node = scope.owns("save_record", rule, node_id or inst.scope_node_id, "the owner node")
            now = self.clock.now()
            row = session.scalars(select(Record).where(Record.kind == kind, Record.key == str(key))).first()
            if row is not None:  # never replace (or move) a record owned outside the scope
                scope.owns("save_record", rule, row.node_id, f"{kind} record {str(key)!r}")
            data = _jsonable(data)
            record_kinds.check(kind, data)  # the kind's schema (engine/linkage/kinds): nothing written if wrong
            if row is None:
                row = Record(kind=kind, key=str(key), created_at=now)
                session.add(row)
            # a rewrite never lowers confidentiality, and a confidential kind is always confidential
            secret = bool(confidential) or bool(rule and rule.confidential) or bool(row.confidential)
            row.node_id, row.unit_id, row.instance_id = node.id, self._unit_of(node), inst.id
            row.confidential, row.data, row.updated_at = secret, data, now

        def find_records(kind: str, unit_id: str | None = None, node_id: str | None = None) -> list[dict[str, Any]]:
            rule = scope.kind("find_records", kind)
            if rule is not None and rule.confidential:
                scope.confidential("find_records", kind)
            q = select(Record).where(Record.kind == kind, scope.area(rule))
            if unit_id:
                scope.filter_node("find_records", unit_id, "unit_id")
                q = q.where(Record.unit_id == unit_id)
            if node_id:
                scope.filter_node("find_records", node_id, "node_id")
                q = q.where(Record.node_id == node_id)
            rows = list(session.scalars(q.order_by(Record.id).execution_options(**{record_updates.OVERLAID: True})))
            if any(r.confidential for r in rows):
                scope.confidential("find_records", kind)
            return [{"key": r.key, "node_id": r.node_id, **record_updates.overlay(session, r)} for r in rows]

        def update_record(
            kind: str,
            key: str,
            changes: dict[str, Any] | None = None,
            increments: dict[str, Any] | None = None,
            path: list[Any] | None = None,
        ) -> dict[str, Any]:
            """Change part of an existing record so that concurrent instances (e.g. several
            branches confirmed at once) never lose each other's updates: `path` leads from the
            record's data to the dict to change (e.g. ["findings", 2]), `changes` are set there,
            `increments` are added to numbers there. Returns the new data as this transaction
            sees it.

            The record is read without a lock and the change checked here (no such record, a
            bad path, not an object, not a number, the scope, the kind's schema: ScriptError, so
            the incident is at this step); the change is then queued and stored just before the
            commit, on the row read again under its lock with everything committed meanwhile
            kept (engine/core/record_updates.py): the row is locked for the commit only, not
            from here to the end of the request. This transaction's later `get_record`,
            `find_records` and `update_record` see the queued change."""
            rule = scope.kind("update_record", kind)
            if rule is not None and rule.confidential:
                scope.confidential("update_record", kind)
            q = (
                select(Record)
                .where(Record.kind == kind, Record.key == str(key))
                .execution_options(populate_existing=True, **{record_updates.OVERLAID: True})
            )
            row = session.scalars(q).first()
            if row is None:
                raise ScriptError("update_record: there is no {kind} record {key!r}", kind=kind, key=key)
            scope.owns("update_record", rule, row.node_id, f"{kind} record {str(key)!r}")
            if row.confidential:  # the new data is returned to the script
                scope.confidential("update_record", kind)
            op = record_updates.RecordOp(
                record_updates.current_tx(session),
                kind,
                str(key),
                _jsonable(changes) if changes else {},
                dict(increments or {}),
                tuple(path or ()),
                self.clock.now(),
            )
            data = record_updates.overlay(session, row)
            record_updates.apply_op(data, op)
            record_kinds.check(kind, data)  # the merged record; nothing queued if wrong
            record_updates.queue(session, op)
            return data  # overlay's own copy: nothing else holds it

        def get_record(kind: str, key: str) -> dict[str, Any] | None:
            rule = scope.kind("get_record", kind)
            if rule is not None and rule.confidential:
                scope.confidential("get_record", kind)
            row = session.scalars(
                select(Record)
                .where(Record.kind == kind, Record.key == str(key))
                .execution_options(**{record_updates.OVERLAID: True})
            ).first()
            if row is None:
                return None
            scope.owns("get_record", rule, row.node_id, f"{kind} record {str(key)!r}")
            if row.confidential:
                scope.confidential("get_record", kind)
            return record_updates.overlay(session, row)

        def instance_id() -> int:
            return inst.id

        def urge_open(spec_id: str, message: str = "") -> int:
            """督办 from the diagram: urge this instance's open tasks of step `spec_id` with
            `message`, as the tier above does by hand (`task_urged`, by the system): their assignee,
            else their candidates, are told on the notification channels. Returns how many."""
            if not isinstance(spec_id, str) or not isinstance(message, str):
                raise ScriptError("urge_open(spec_id, message): both must be text")
            tasks = self.session.scalars(
                select(HumanTask)
                .where(HumanTask.instance_id == inst.id, HumanTask.spec_id == spec_id, HumanTask.status == "open")
                .order_by(HumanTask.id)
            ).all()
            now = self.clock.now()
            for task in tasks:
                if task.assignee_id is not None:
                    assignee = session.get(User, task.assignee_id)
                    to = [assignee.username] if assignee else []
                else:
                    to = [u.username for u in candidates(session, task)]
                events.log(
                    session,
                    now,
                    "task_urged",
                    instance_id=task.instance_id,
                    task_id=task.id,
                    payload={
                        "name": task.name,
                        "message": message.strip()[:500],
                        "to": to,
                        "overdue": bool(task.due_at and as_utc(task.due_at) < now),
                        "by_step": True,
                    },
                )
            return len(tasks)

        return {
            "save_record": save_record,
            "find_records": find_records,
            "update_record": update_record,
            "get_record": get_record,
            "instance_id": instance_id,
            "urge_open": urge_open,
        }

    # ---- org helpers -----------------------------------------------------------------------------------

    def _group(self) -> str:
        if self._group_id is None:
            self._group_id = org.group_root(self.session).id
        return self._group_id

    @staticmethod
    def _unit_of(node: OrgNode | NodeRef) -> str | None:
        if node.tier == "unit":
            return node.id
        if node.tier == "branch":
            return node.parent_id
        return None

    def _scope_node(self, variables: dict[str, Any]) -> NodeRef:
        """The deepest org node named by the start data; `unit_id` and `branch_id` must agree."""
        found: dict[str, NodeRef] = {}
        conn = self.session.connection()
        for var, tier, name in (("branch_id", "branch", Msg("branch")), ("unit_id", "unit", Msg("unit"))):
            value = variables.get(var)
            if value is None:
                continue
            node = node_row(conn, value) if isinstance(value, str) else None
            if node is None or node.tier != tier or not node.active:
                raise Invalid(
                    "{var}={value!r} is not a {tier} of the organisation",
                    [field_error(f"variables/{var}", "not a {tier}", tier=name)],
                    var=var,
                    value=value,
                    tier=name,
                )
            found[tier] = node
        if "branch" in found and "unit" in found and found["branch"].parent_id != found["unit"].id:
            raise Invalid(
                "branch {branch_id} does not belong to unit {unit_id}",
                [field_error("variables/branch_id", "not in that unit")],
                branch_id=found["branch"].id,
                unit_id=found["unit"].id,
            )
        scope = found.get("branch") or found.get("unit") or node_row(conn, self._group())
        assert scope is not None  # the group's root exists (group_root raised otherwise)
        return scope
