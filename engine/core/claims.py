"""Urge, claim, unclaim, assign: who may take or nudge an open task, and the task's `validate` rule."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select

from engine.core.runtime_base import URGE_INTERVAL, Loaded, RuntimeBase
from engine.errors import Conflict, Forbidden, Invalid, NotFound, SanjiError, ScriptError, field_error
from engine.infra import events
from engine.models import EventLog, HumanTask, OrgNode, ProcessInstance, User
from engine.org import nodes as org
from engine.org.nodes import Principal
from engine.org.routing import candidates, is_candidate, may_urge, task_visible_clause


class TaskClaims(RuntimeBase):
    def urge(self, task_id: int, actor: Principal, message: str = "") -> HumanTask:
        """催办: a member of the tier above nudges the assignee (or the candidates) of an open task.

        Logged as `task_urged`; the same person may urge the same task once per URGE_INTERVAL.
        The instance is not locked or changed, so an urge never conflicts with the work itself.
        """
        if not isinstance(message, str) or len(message) > 500:
            raise Invalid(
                "the message must be text of at most 500 characters",
                [field_error("message", "at most {limit} characters", "maxLength", limit=500)],
            )
        task = self.session.get(HumanTask, task_id, populate_existing=True)
        node = self.session.get(OrgNode, task.node_id) if task is not None else None
        if task is None or node is None or not may_urge(actor, task, node):
            visible = (
                task is not None
                and self.session.scalar(select(HumanTask.id).where(HumanTask.id == task_id, task_visible_clause(actor)))
                is not None
            )
            if visible:
                raise Forbidden("only the tier above (or an admin) may urge this task")
            raise NotFound("task {id} does not exist", id=task_id)
        if task.status != "open":
            raise Conflict("the task is already {status}", status=task.status)
        inst = self.session.get(ProcessInstance, task.instance_id)
        if inst is not None and inst.status != "running":
            raise Conflict("the instance is {status}", status=inst.status)
        now = self.clock.now()
        last = self.session.scalar(
            select(EventLog.at)
            .where(EventLog.type == "task_urged", EventLog.task_id == task.id, EventLog.actor_id == actor.id)
            .order_by(EventLog.at.desc())
            .limit(1)
        )
        if last is not None and now - last < URGE_INTERVAL:
            raise Conflict(
                "you urged this task a short while ago; try again later",
                {"retry_after": int((last + URGE_INTERVAL - now).total_seconds())},
            )
        if task.assignee_id is not None:
            assignee = self.session.get(User, task.assignee_id)
            to = [assignee.username] if assignee else []
        else:
            to = [u.username for u in candidates(self.session, task)]
        events.log(
            self.session,
            now,
            "task_urged",
            instance_id=task.instance_id,
            task_id=task.id,
            actor=actor,
            payload={
                "name": task.name,
                "message": message.strip(),
                "to": to,
                "overdue": bool(task.due_at and task.due_at < now),
            },
        )
        return task

    def _check_rules(self, loaded: Loaded, guid: UUID, data: dict[str, Any]) -> None:
        """The task's `validate` property: an expression over task data + submitted data that
        returns nothing when fine, or a message / {field: message} (e.g. the 20% cap)."""
        t = loaded.wf.get_task_from_id(guid)
        props = (getattr(t.task_spec, "extensions", None) or {}).get("properties", {}) if t else {}
        rule = (props or {}).get("validate")
        if not rule:
            return
        scope = dict(t.data)
        scope.update(data)
        try:
            result = loaded.engine.environment.evaluate(rule, scope)
        except SanjiError:
            raise
        except Exception as exc:
            raise ScriptError("the task's validate rule failed: {reason}", reason=str(exc)) from exc
        if not result:
            return
        if isinstance(result, dict):
            # the rule's own words (the process author's language): the catalog passes them through
            details = [field_error(str(k), "{problem}", problem=str(v)) for k, v in result.items()]
            raise Invalid("{problems}", details, problems="; ".join(d["message"] for d in details))
        raise Invalid("{problem}", [field_error("", "{problem}", problem=str(result))], problem=str(result))

    def claim(self, task_id: int, actor: Principal) -> HumanTask:
        task, _inst = self._task_for_action(task_id, actor)
        if task.assignee_id is None:
            task.assignee_id = actor.id
            self._touch_task(task, "task_claimed", actor)
        return task

    def unclaim(self, task_id: int, actor: Principal) -> HumanTask:
        task = self._visible_task(task_id, actor, lock=True)
        if task.status != "open":
            raise Conflict("the task is not open")
        if task.assignee_id is None:
            return task
        if task.assignee_id != actor.id and not actor.is_admin:
            raise Conflict("the task is claimed by someone else")
        task.assignee_id = None
        self._touch_task(task, "task_unclaimed", actor)
        return task

    def assign(self, task_id: int, username: str, actor: Principal, *, handover: bool = False) -> HumanTask:
        """Admin reassign, or 转办 (handover) by the current assignee/candidate to a colleague."""
        if handover:
            task, _inst = self._task_for_action(task_id, actor)
        else:
            if not actor.is_admin:
                raise Forbidden("only admins reassign tasks")
            task = self._visible_task(task_id, actor, lock=True)
            if task.status != "open":
                raise Conflict("the task is not open")
        user = self.session.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
        if user is None:
            raise Invalid(
                "user {username!r} does not exist", [field_error("username", "unknown user")], username=username
            )
        target = org.load_principal(self.session, user)
        if not is_candidate(target, task.tier, task.node_id, task.candidate_roles):
            raise Invalid(
                "{username} holds no matching role on {node_id}",
                [field_error("username", "not a member of the task's org node")],
                username=username,
                node_id=task.node_id,
            )
        previous = task.assignee_id
        task.assignee_id = user.id
        self._touch_task(
            task, "task_handed_over" if handover else "task_assigned", actor, {"to": username, "from_user_id": previous}
        )
        return task
