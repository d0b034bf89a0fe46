"""抄送 (cc, issue 17 item 6): a completed step is copied to named committees or people.

The property `cc` of a user task is a comma-separated list of entries:

- `<node_id>` — the committee of that org node (书记, 副书记, 常委, 委员), or the commissioner
  of a branch;
- `<role>@<node_id>` — the holders of one role there, e.g. `secretary@group`;
- `unit` / `<role>@unit` — the same for the task's own unit (`group` is the group committee);
- `form` — also the people the doer names in the form field `cc_users` (a list of usernames).

When the step completes (after its approval, if it needs one), each person named gets a
`task_copy` row, a notification (`task_copied`) and may read that step — its submitted data,
nothing else of the instance (engine/org/policy.py `tasks_copied`, `task_reading`). The doer and
an entry naming nobody are left out; an unknown node or user is refused at completion (422).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from engine.core.runtime_base import RuntimeBase
from engine.errors import Invalid, field_error
from engine.infra import events
from engine.models import (
    COMMITTEE_ROLES,
    NODE_ROLES,
    HumanTask,
    OrgNode,
    ProcessInstance,
    RoleAssignment,
    TaskCopy,
    User,
)
from engine.org.nodes import Principal

ENTRY = re.compile(r"^(?:(?P<role>[a-z_]+)@)?(?P<node>[A-Za-z0-9_.\-]+)$")
FORM_FIELD = "cc_users"
MAX_COPIES = 200


def cc_entries(value: str | None) -> list[str]:
    return [e.strip() for e in (value or "").split(",") if e.strip()]


def entry_problem(entry: str) -> str | None:
    """Why a `cc` entry cannot be read (None: it can)."""
    if entry == "form":
        return None
    m = ENTRY.match(entry)
    if m is None:
        return "syntax"
    if m.group("role") and m.group("role") not in NODE_ROLES:
        return "role"
    return None


class Copies(RuntimeBase):
    def _cc_node(self, where: str, task: HumanTask) -> OrgNode | None:
        if where == "unit":
            return self.session.get(OrgNode, task.unit_id) if task.unit_id else None
        if where == "group":
            return self.session.get(OrgNode, self._group())
        return self.session.get(OrgNode, where)

    def _cc_recipients(self, task: HumanTask, value: str, data: dict[str, Any]) -> list[tuple[User, str]]:
        out: dict[int, tuple[User, str]] = {}
        for entry in cc_entries(value):
            if entry == "form":
                names = data.get(FORM_FIELD) or []
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise Invalid(
                        "{field} must be a list of usernames",
                        [field_error(FORM_FIELD, "{field} must be a list of usernames", "type", field=FORM_FIELD)],
                        field=FORM_FIELD,
                    )
                for name in names:
                    user = self.session.scalars(
                        select(User).where(User.username == name, User.active.is_(True))
                    ).first()
                    if user is None:
                        raise Invalid(
                            "user {username!r} does not exist",
                            [field_error(FORM_FIELD, "user {username!r} does not exist", "enum", username=name)],
                            username=name,
                        )
                    out.setdefault(user.id, (user, "form"))
                continue
            m = ENTRY.match(entry)
            if m is None:
                continue  # refused at deploy
            node = self._cc_node(m.group("node"), task)
            if node is None or not node.active:
                raise Invalid(
                    "cc: {entry!r} names no org node",
                    [field_error("cc", "cc: {entry!r} names no org node", "enum", entry=entry)],
                    entry=entry,
                )
            roles = (
                [m.group("role")]
                if m.group("role")
                else (["commissioner"] if node.tier == "branch" else list(COMMITTEE_ROLES))
            )
            for user in self.session.scalars(
                select(User)
                .join(RoleAssignment, RoleAssignment.user_id == User.id)
                .where(RoleAssignment.node_id == node.id, RoleAssignment.role.in_(roles), User.active.is_(True))
                .order_by(User.username)
            ):
                out.setdefault(user.id, (user, entry))
        return list(out.values())[:MAX_COPIES]

    def _copy_step(
        self, task: HumanTask, inst: ProcessInstance, value: str, data: dict[str, Any], doer: Principal
    ) -> None:
        """Copy a completed step to the people its `cc` names (the doer excepted)."""
        now = self.clock.now()
        to = []
        for user, source in self._cc_recipients(task, value, data):
            if user.id == doer.id:
                continue
            self.session.add(
                TaskCopy(
                    task_id=task.id, instance_id=inst.id, user_id=user.id, by_id=doer.id, source=source[:200], at=now
                )
            )
            to.append(user.username)
        if not to:
            return
        self.session.flush()
        events.log(
            self.session,
            now,
            "task_copied",
            instance_id=inst.id,
            task_id=task.id,
            actor=doer,
            payload={"spec_id": task.spec_id, "name": task.name, "to": to},
        )
