"""Decision properties of a user task checked on submission (issue 17): 集体研究 and 会签 / 或签.

- `collective` = `required`: the completion data carries `collective`, the record of the committee
  meeting that decided: `meeting_date` (ISO date, not in the future), `attendees` (display names of
  members of the task's committee, more than half of it), `decision` (text) and `votes`
  (`agree`, `against`, `abstain`: whole numbers adding up to the attendees).
- `sign` = `all` (会签) or `any` (或签) on a parallel multi-instance user task: each signer submits
  `agree` (true / false) and `opinion` (required when not agreeing); the engine writes the
  signature `{username, name, agree, opinion, at}` into the task's `outputDataItem` (so the
  `loopDataOutputRef` list holds every signature) and, for `any`, the first signature ends the
  task (its other instances are cancelled: engine/core/spiff_seam.py sets the completion condition).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import select

from engine.core.runtime_base import Loaded, RuntimeBase
from engine.errors import Invalid, field_error
from engine.infra import events
from engine.models import COMMITTEE_ROLES, HumanTask, OrgNode, ProcessInstance, RoleAssignment, User
from engine.org.nodes import Principal

COLLECTIVE_VALUES = ("required",)
SIGN_VALUES = ("all", "any")
VOTES = ("agree", "against", "abstain")
MAX_TEXT = 5000


def committee_node(session: Any, task: HumanTask) -> str:
    """The committee that decides for a task: its own node (group, unit; a department task: its
    unit), for a branch task the branch's unit committee."""
    if task.tier == "branch":
        node = session.get(OrgNode, task.node_id)
        return node.parent_id if node is not None and node.parent_id else task.node_id
    return task.node_id


def committee_names(session: Any, node_id: str) -> list[str]:
    """Display names of the active committee members of a node, each once, by rank then name."""
    order = {r: i for i, r in enumerate(COMMITTEE_ROLES)}
    rows = session.execute(
        select(User.display_name, RoleAssignment.role)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(User.active.is_(True), RoleAssignment.node_id == node_id, RoleAssignment.role.in_(COMMITTEE_ROLES))
    ).all()
    best: dict[str, int] = {}
    for name, role in rows:
        best[name] = min(best.get(name, 99), order.get(role, 99))
    return sorted(best, key=lambda n: (best[n], n))


def check_collective(record: Any, members: list[str], today: date) -> dict[str, Any]:
    """The 集体研究 record as stored, or 422 naming the first field at fault."""
    if not isinstance(record, dict):
        raise Invalid(
            "the record of the collective decision is required",
            [field_error("collective", "the record of the collective decision is required", "required")],
        )
    raw = record.get("meeting_date")
    try:
        day = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise Invalid(
            "the meeting date must be a date (YYYY-MM-DD)",
            [field_error("collective/meeting_date", "the meeting date must be a date (YYYY-MM-DD)", "format")],
        )
    if day > today:
        raise Invalid(
            "the meeting date cannot be in the future",
            [field_error("collective/meeting_date", "the meeting date cannot be in the future", "maximum")],
        )
    attendees = record.get("attendees")
    if not isinstance(attendees, list) or not all(isinstance(a, str) and a.strip() for a in attendees):
        raise Invalid(
            "the attendees must be a list of names",
            [field_error("collective/attendees", "the attendees must be a list of names", "type")],
        )
    attendees = [a.strip() for a in attendees]
    if len(set(attendees)) != len(attendees):
        raise Invalid(
            "an attendee is listed twice",
            [field_error("collective/attendees", "an attendee is listed twice", "uniqueItems")],
        )
    for name in attendees:
        if name not in members:
            raise Invalid(
                "{name} is not a member of the committee",
                [field_error("collective/attendees", "{name} is not a member of the committee", "enum", name=name)],
                name=name,
            )
    quorum = len(members) // 2 + 1
    if len(attendees) < quorum:
        total = len(members)
        raise Invalid(
            "more than half of the committee must attend: at least {quorum} of {total}",
            [
                field_error(
                    "collective/attendees",
                    "more than half of the committee must attend: at least {quorum} of {total}",
                    "minItems",
                    quorum=quorum,
                    total=total,
                )
            ],
            quorum=quorum,
            total=total,
        )
    decision = record.get("decision")
    if not isinstance(decision, str) or not decision.strip():
        raise Invalid(
            "the decision is required", [field_error("collective/decision", "the decision is required", "required")]
        )
    if len(decision) > MAX_TEXT:
        raise Invalid(
            "at most {limit} characters",
            [field_error("collective/decision", "at most {limit} characters", "maxLength", limit=MAX_TEXT)],
            limit=MAX_TEXT,
        )
    votes = record.get("votes")
    if not isinstance(votes, dict):
        raise Invalid(
            "the votes (agree, against, abstain) are required",
            [field_error("collective/votes", "the votes (agree, against, abstain) are required", "required")],
        )
    counts: dict[str, int] = {}
    for key in VOTES:
        value = votes.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Invalid(
                "must be a whole number of at least 0",
                [field_error(f"collective/votes/{key}", "must be a whole number of at least 0", "minimum")],
            )
        counts[key] = value
    if sum(counts.values()) != len(attendees):
        total, present = sum(counts.values()), len(attendees)
        raise Invalid(
            "the votes add up to {votes}, but {attendees} attended",
            [
                field_error(
                    "collective/votes",
                    "the votes add up to {votes}, but {attendees} attended",
                    "sum",
                    votes=total,
                    attendees=present,
                )
            ],
            votes=total,
            attendees=present,
        )
    return {"meeting_date": day.isoformat(), "attendees": attendees, "decision": decision.strip(), "votes": counts}


def sign_outcome(child: Any) -> None:
    """After a signature: `<task id>_agreed` on the multi-instance task (and so, once it ends, in
    the instance) — true when every signature collected so far agrees (for `all`, when the task
    ends: all signers agreed; for `any`: the one signer agreed)."""
    parent = child.parent
    spec = getattr(parent, "task_spec", None)
    output = getattr(spec, "data_output", None)
    if parent is None or spec is None or output is None:
        return
    signatures = parent.data.get(output.bpmn_id) or []
    agreed = bool(signatures) and all(isinstance(s, dict) and s.get("agree") is True for s in signatures)
    parent.data[f"{spec.bpmn_id}_agreed"] = agreed


def check_signature(data: dict[str, Any]) -> tuple[bool, str]:
    agree = data.get("agree")
    if not isinstance(agree, bool):
        raise Invalid("choose agree or disagree", [field_error("agree", "choose agree or disagree", "required")])
    opinion = data.get("opinion") or ""
    if not isinstance(opinion, str) or len(opinion) > MAX_TEXT:
        raise Invalid(
            "at most {limit} characters",
            [field_error("opinion", "at most {limit} characters", "maxLength", limit=MAX_TEXT)],
            limit=MAX_TEXT,
        )
    if not agree and not opinion.strip():
        raise Invalid(
            "an opinion is required to disagree",
            [field_error("opinion", "an opinion is required to disagree", "required")],
        )
    return agree, opinion.strip()


class Decisions(RuntimeBase):
    def _spiff_props(self, loaded: Loaded, guid: UUID) -> dict[str, str]:
        t = loaded.wf.get_task_from_id(guid)
        if t is None:
            return {}
        props = dict((getattr(t.task_spec, "extensions", None) or {}).get("properties", {}) or {})
        output = getattr(getattr(t.parent, "task_spec", None), "output_item", None) if t.parent else None
        if props.get("sign") and output is not None:  # 会签 / 或签: the signature goes to the output item
            props["_sign_output"] = output.bpmn_id
        return props

    def _check_decision_properties(
        self, task: HumanTask, inst: ProcessInstance, props: dict[str, str], data: dict[str, Any], actor: Principal
    ) -> dict[str, Any]:
        """Check the `collective` and `sign` parts of a submission; returns the data to complete with."""
        data = dict(data)
        now = self.clock.now()
        if props.get("collective") == "required":
            members = committee_names(self.session, committee_node(self.session, task))
            record = check_collective(data.get("collective"), members, now.astimezone(self.zone).date())
            data["collective"] = record
            events.log(
                self.session,
                now,
                "collective_recorded",
                instance_id=inst.id,
                task_id=task.id,
                actor=actor,
                payload={"spec_id": task.spec_id, "name": task.name, **record},
            )
        sign = props.get("sign")
        if sign in SIGN_VALUES:
            agree, opinion = check_signature(data)
            user = self.session.get(User, actor.id)
            signature = {
                "username": actor.username,
                "name": user.display_name if user is not None else actor.username,
                "agree": agree,
                "opinion": opinion,
                "at": now.isoformat(),
            }
            data["agree"], data["opinion"] = agree, opinion
            output = props.get("_sign_output")
            data[output or "signature"] = signature
            events.log(
                self.session,
                now,
                "task_signed",
                instance_id=inst.id,
                task_id=task.id,
                actor=actor,
                payload={"spec_id": task.spec_id, "name": task.name, "sign": sign, "agree": agree, "opinion": opinion},
            )
        return data


def task_properties(inst: ProcessInstance | None, spec_id: str) -> dict[str, str]:
    """The extension properties of a task's element in its instance's definition (pages read
    `collective` and `sign` from here to show the matching form parts)."""
    if inst is None:
        return {}
    from engine.core.repository import SPECS

    try:
        spec, subs = SPECS.get(inst.definition)
    except Exception:
        return {}
    for s in (spec, *subs.values()):
        for ts in s.task_specs.values():
            if getattr(ts, "bpmn_id", None) == spec_id and getattr(ts, "extensions", None):
                return dict((ts.extensions or {}).get("properties", {}) or {})
    return {}
