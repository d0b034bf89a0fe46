"""审批 (approval): a user task whose submission takes effect only once a holder of a role approves.

A user task with the property `approval` (`secretary`, or a comma-separated list of committee
roles, e.g. `secretary,deputy_secretary`) is not completed when its doer submits: the data is
*held* on the task row (status `held`, `completed_by_id` = the doer), nothing is merged into the
instance and the diagram does not move. An approval row (`kind` = `approval`,
`subject_task_id` = the task) is offered to the holders of those roles on the task's org node
(for a department task: on its unit). Its completion data is `{"decision": "approve" | "return",
"opinion": "…"}`:

- `approve`: the held data completes the task as the doer submitted it, and the flow goes on;
- `return` (the opinion is required): the task is open again for its doer, its held data kept
  as the form's prefill, the opinion shown on the task.

The doer may not decide on their own submission, even when they hold the role (403): an
approval is a second person's act. Every request and decision is an event on the task
(`approval_requested`, `approval_approved`, `approval_returned`: who, when, opinion), which the
task and instance pages and the API show.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from engine.core.runtime_base import _TASK_INSERT, RuntimeBase
from engine.errors import Conflict, Forbidden, Invalid, field_error
from engine.infra import events
from engine.models import HumanTask, ProcessInstance, User
from engine.org import nodes as org
from engine.org import policy
from engine.org.nodes import Principal

DECISIONS = ("approve", "return")
MAX_OPINION = 2000


def approval_roles(value: str | None) -> list[str]:
    """The roles an `approval` property names (`secretary` by default for a bare `true`)."""
    if not value:
        return []
    roles = [r.strip() for r in value.split(",") if r.strip()]
    return ["secretary" if r in ("true", "yes") else r for r in roles]


def check_decision(data: dict[str, Any]) -> tuple[str, str]:
    """The decision and opinion of an approval's completion data; 422 naming the field."""
    decision = data.get("decision")
    opinion = data.get("opinion", "")
    if decision not in DECISIONS:
        raise Invalid(
            "decision must be one of {allowed}",
            [field_error("decision", "must be one of {allowed}", "enum", allowed=", ".join(DECISIONS))],
            allowed=", ".join(DECISIONS),
        )
    if opinion is None:
        opinion = ""
    if not isinstance(opinion, str) or len(opinion) > MAX_OPINION:
        raise Invalid(
            "the opinion must be text of at most {limit} characters",
            [field_error("opinion", "at most {limit} characters", "maxLength", limit=MAX_OPINION)],
            limit=MAX_OPINION,
        )
    opinion = opinion.strip()
    if decision == "return" and not opinion:
        raise Invalid(
            "an opinion is required to return a submission",
            [field_error("opinion", "an opinion is required to return a submission", "required")],
        )
    return decision, opinion


class Approvals(RuntimeBase):
    def _hold_for_approval(
        self, task: HumanTask, inst: ProcessInstance, data: dict[str, Any], roles: list[str], actor: Principal
    ) -> HumanTask:
        """The doer submitted a task that needs approval: hold the data, offer the approval."""
        now = self.clock.now()
        self._write_task(
            task,
            status="held",
            completed_at=now,
            completed_by_id=actor.id,
            assignee_id=task.assignee_id or actor.id,  # a returned task comes back to its doer
            data=data,
        )
        tier = "unit" if task.tier == "department" else task.tier
        earlier = self.session.scalar(  # a resubmission after a return
            select(HumanTask.id).where(HumanTask.subject_task_id == task.id, HumanTask.kind == "approval").limit(1)
        )
        name = f"审批：{task.name}"[:200]
        approval_id: int = (
            self.session.connection()
            .execute(
                _TASK_INSERT,
                dict(
                    instance_id=inst.id,
                    root_instance_id=inst.root_id or inst.id,
                    task_guid=str(uuid.uuid4()),
                    spec_id=task.spec_id,
                    name=name,
                    process_key=inst.process_key,
                    lane=task.lane,
                    tier=tier,
                    node_id=task.node_id,
                    unit_id=task.unit_id,
                    candidate_roles="," + ",".join(roles) + ",",
                    form_key=None,
                    status="open",
                    created_at=now,
                    due_at=task.due_at,
                    assignee_id=None,
                    completed_at=None,
                    completed_by_id=None,
                    data=None,
                    kind="approval",
                    subject_task_id=task.id,
                ),
            )
            .scalar_one()
        )
        inst.updated_at = now
        events.log(
            self.session,
            now,
            "approval_requested",
            instance_id=inst.id,
            task_id=task.id,
            actor=actor,
            payload={
                "spec_id": task.spec_id,
                "name": task.name,
                "approval_task_id": approval_id,
                "roles": roles,
                "resubmitted": earlier is not None,
            },
        )
        events.log(
            self.session,
            now,
            "task_created",
            instance_id=inst.id,
            task_id=approval_id,
            payload={
                "spec_id": task.spec_id,
                "name": name,
                "tier": tier,
                "node_id": task.node_id,
                "approval_of": task.id,
            },
        )
        self._flush()
        return task

    def _decide(self, approval: HumanTask, inst: ProcessInstance, data: dict[str, Any], actor: Principal) -> HumanTask:
        """An approver's decision on a held submission."""
        decision, opinion = check_decision(data)
        subject = self.session.get(HumanTask, approval.subject_task_id, populate_existing=True)
        if subject is None or subject.status != "held":
            raise Conflict("the task is already {status}", status=subject.status if subject else "cancelled")
        if not policy.may_decide_approval(actor, subject.completed_by_id):
            raise Forbidden("you cannot approve or return your own submission")
        now = self.clock.now()
        record = {"decision": decision, "opinion": opinion}
        self._write_task(
            approval,
            status="completed",
            completed_at=now,
            completed_by_id=actor.id,
            assignee_id=approval.assignee_id or actor.id,
            data=record,
        )
        payload = {
            "spec_id": subject.spec_id,
            "name": subject.name,
            "approval_task_id": approval.id,
            "opinion": opinion,
        }
        if decision == "return":
            self._write_task(subject, status="open", completed_at=None, completed_by_id=None)
            inst.updated_at = now
            events.log(
                self.session,
                now,
                "approval_returned",
                instance_id=inst.id,
                task_id=subject.id,
                actor=actor,
                payload=payload,
            )
            self._flush()
            return approval
        events.log(
            self.session,
            now,
            "approval_approved",
            instance_id=inst.id,
            task_id=subject.id,
            actor=actor,
            payload=payload,
        )
        doer_user = self.session.get(User, subject.completed_by_id) if subject.completed_by_id else None
        doer = org.load_principal(self.session, doer_user) if doer_user is not None else actor
        self._finish(subject, inst, dict(subject.data or {}), doer)  # type: ignore[attr-defined]
        return approval
