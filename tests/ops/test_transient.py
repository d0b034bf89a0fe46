"""A transient database failure inside engine steps (lost connection, deadlock, a concurrent
insert) fails the request and leaves the instance as it was — it is not recorded as an incident."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.models import HumanTask, ProcessInstance
from engine.core.runtime import Runtime
from tests.conftest import BPMN, deploy_file, principal


@pytest.mark.parametrize("error", [
    OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
    OperationalError("UPDATE", {}, Exception("deadlock detected")),
    IntegrityError("INSERT", {}, Exception("duplicate key value violates unique constraint")),
])
def test_transient_database_errors_are_not_incidents(session, rt, forms, clock, monkeypatch, error):
    deploy_file(session, BPMN / "ops_two_step.bpmn", forms, clock)
    sec = principal(session, "group_secretary")
    inst = rt.start("ops_two_step", {}, sec)
    session.commit()
    [task] = session.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
    version = inst.version

    def broken(self, loaded, *_):  # the failure happens while the engine records the next task
        raise error

    monkeypatch.setattr(Runtime, "_sync_tasks", broken)
    with pytest.raises(type(error)):
        rt.complete(task.id, {}, sec)
    session.rollback()
    monkeypatch.undo()
    session.expire_all()
    inst = session.get(ProcessInstance, inst.id)
    assert (inst.status, inst.error_message, inst.version) == ("running", None, version)
    assert session.get(HumanTask, task.id).status == "open"
    rt.complete(task.id, {}, sec)  # and once the database is fine again, the completion goes through
    session.commit()
    assert [t.spec_id for t in session.scalars(select(HumanTask).where(HumanTask.status == "open"))] == ["second"]
