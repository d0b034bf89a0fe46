"""The scheduler and message-triggered starts act as the explicit system actor
(engine/org/policy.py SYSTEM): no person starts the instance, the log names "system", and the
start rule for people neither applies to it nor lets it through the services. Engine only (no Flask)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.core.runtime import Runtime
from engine.core.scheduler import tick
from engine.errors import Forbidden
from engine.infra.db import write_intent
from engine.models import EventLog, HumanTask, ProcessInstance
from engine.org import policy
from engine.services import definitions
from engine.services.definitions import StartCommand
from tests.conftest import BPMN, deploy_file, principal

QUARTERLY = BPMN / "quarterly_timer.bpmn"


def started_event(session, instance_id: int) -> EventLog:
    return session.scalars(
        select(EventLog).where(EventLog.instance_id == instance_id, EventLog.type == "instance_started")
    ).one()


def test_the_system_actor_is_nobody():
    assert policy.SYSTEM.is_system and not policy.SYSTEM.roles
    assert policy.person(policy.SYSTEM) is None and policy.person(None) is None
    assert not policy.SYSTEM.is_admin and not policy.SYSTEM.in_group_committee


def test_scheduler_starts_as_the_system_actor(sessions, clock, settings, forms, monkeypatch):
    seen = []
    original = Runtime.start

    def spy(self, key, variables=None, actor=None, **kw):
        seen.append(actor)
        return original(self, key, variables, actor, **kw)

    monkeypatch.setattr(Runtime, "start", spy)
    clock.set("2026-12-01T10:00:00+08:00")
    with write_intent(), sessions() as s:
        deploy_file(s, QUARTERLY, forms, clock)
        s.commit()
    clock.set("2027-01-01T09:00:00+08:00")
    result = tick(sessions, clock, settings)
    assert len(result.started) == 1 and seen == [policy.SYSTEM]
    with sessions() as s:
        inst = s.get(ProcessInstance, result.started[0])
        assert inst.started_by_id is None
        ev = started_event(s, inst.id)
        assert (ev.actor, ev.actor_id) == ("system", None)


def test_message_start_is_the_system_actor(session, rt, forms, clock, monkeypatch):
    deploy_file(session, BPMN / "message.bpmn", forms, clock)
    commissioner = principal(session, "xinsheng_laogan")
    sender = rt.start(
        "message_sender", {"branch_id": "xinsheng-laogan", "unit_id": "xinsheng", "facts": "虚报出勤"}, commissioner
    )
    session.commit()
    seen = []
    original = Runtime.start

    def spy(self, key, variables=None, actor=None, **kw):
        seen.append(actor)
        return original(self, key, variables, actor, **kw)

    monkeypatch.setattr(Runtime, "start", spy)
    [t] = session.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
    rt.complete(t.id, {}, commissioner)
    session.commit()
    assert seen == [policy.SYSTEM]
    receiver = session.scalars(select(ProcessInstance).where(ProcessInstance.process_key == "message_receiver")).one()
    assert receiver.started_by_id is None and sender.started_by_id == commissioner.id
    ev = started_event(session, receiver.id)
    assert (ev.actor, ev.actor_id) == ("system", None)


def test_the_system_actor_starts_nothing_by_hand(session, rt, forms, clock):
    """The start rule is for people: the services refuse the system actor a start by hand."""
    deploy_file(session, BPMN / "message.bpmn", forms, clock)
    with pytest.raises(Forbidden):
        definitions.start(rt, policy.SYSTEM, StartCommand("message_sender", {"branch_id": "xinsheng-laogan"}))
    assert session.scalars(select(ProcessInstance)).all() == []
