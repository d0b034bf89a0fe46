"""Engine features the linkage procedures rely on: several start events, cron start timers fired by
whoever starts the instance, `update_record`, `instance_id()`, message payload expressions."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import Invalid
from engine.models import HumanTask, ProcessInstance, Record
from engine.org.policy import ScriptScope
from engine.core.repository import validate
from tests.conftest import BPMN, is_pg, deploy_file, principal, roundtrip_all


def open_tasks(session):
    return list(session.scalars(select(HumanTask).where(HumanTask.status == "open").order_by(HumanTask.id)))


def test_several_start_events_start_by_hand_or_as_the_timer(session, rt, forms, clock):
    deploy_file(session, BPMN / "two_starts.bpmn", forms, clock)
    by_hand = rt.start("two_starts", {}, principal(session, "group_secretary"))
    by_timer = rt.start("two_starts", {}, None, start_event="by_timer")
    session.commit()
    assert (by_hand.status, by_hand.data["how"], by_hand.data["iid"]) == ("running", "hand", by_hand.id)
    assert (by_timer.status, by_timer.data["how"], by_timer.data["iid"]) == ("running", "timer", by_timer.id)
    assert [t.instance_id for t in open_tasks(session)] == [by_hand.id, by_timer.id]
    assert by_timer.next_timer_at is None  # the cycle of a start timer is the scheduler's, not the instance's
    roundtrip_all(session)
    for t in open_tasks(session):
        rt.complete(t.id, {}, principal(session, "group_member"))
    session.commit()
    assert {i.status for i in session.scalars(select(ProcessInstance))} == {"completed"}
    with pytest.raises(Invalid):
        rt.start("two_starts", {}, None, start_event="nope")
    session.rollback()


def test_update_record_changes_parts_and_counts(session, rt, forms, clock):
    deploy_file(session, BPMN / "record_update.bpmn", forms, clock)
    inst = rt.start("record_update", {"unit_id": "xuchang", "note": "已整改", "branch": "xuchang-juejin"}, None)
    session.commit()
    assert inst.status == "completed", inst.error_message
    rec = session.scalars(select(Record).where(Record.kind == "tally")).one()
    assert rec.node_id == "xuchang" and rec.instance_id == inst.id
    assert rec.data == {"count": 3, "items": [{"state": "open"}, {"state": "done", "note": "已整改"}],
                        "by": {"x": "xuchang-juejin"}, "last": "ok"}
    assert inst.data["count_seen"] == 3


@pytest.mark.parametrize("script, message", [
    ('update_record("tally", "none", {"a": 1})', "there is no tally record"),
    ('save_record("tally", "k", {"a": [1]})\nupdate_record("tally", "k", {"b": 1}, path=["a", 5])', "has no"),
    ('save_record("tally", "k", {"a": [1]})\nupdate_record("tally", "k", {"b": 1}, path=["a", 0])', "is not an object"),
    ('save_record("tally", "k", {"a": "x"})\nupdate_record("tally", "k", increments={"a": 1})', "is not a number"),
    # a change queued by the step is dropped with the step's savepoint, never stored at the commit
    ('save_record("tally", "k", {"a": 1})\nupdate_record("tally", "k", {"b": 1})\nupdate_record("tally", "none", {})',
     "there is no tally record"),
])
def test_update_record_refuses_with_an_incident(session, rt, forms, clock, tmp_path, script, message):
    xml = (BPMN / "record_update.bpmn").read_text()
    start = xml.index("<bpmn:script>") + len("<bpmn:script>")
    xml = xml[:start] + script.replace('"', "&quot;") + xml[xml.index("</bpmn:script>"):]
    path = tmp_path / "record_update.bpmn"
    path.write_text(xml)
    deploy_file(session, path, forms, clock)
    inst = rt.start("record_update", {"unit_id": "xuchang"}, None)
    session.commit()
    assert inst.status == "error" and message in inst.error_message
    assert session.scalars(select(Record)).all() == []  # rolled back with the failing step


def test_message_payload_expression_is_checked_at_deploy(forms):
    xml = (BPMN / "message.bpmn").read_text().replace(
        '<bpmn:messageEventDefinition id="med1" messageRef="msg_clue" />',
        '<bpmn:messageEventDefinition id="med1" messageRef="msg_clue"><bpmn:extensionElements>'
        '<spiffworkflow:messagePayload>{"facts": open("/etc/passwd")}</spiffworkflow:messagePayload>'
        '</bpmn:extensionElements></bpmn:messageEventDefinition>')
    with pytest.raises(Invalid) as err:
        validate(xml, "message.bpmn", forms, 5 * 1024 * 1024)
    assert err.value.details[0]["element_id"] == "s_end" and "messagePayload" in err.value.details[0]["message"]


def test_message_payload_expression_names_what_the_catcher_gets(session, rt, forms, clock, tmp_path):
    xml = (BPMN / "message.bpmn").read_text().replace(
        '<bpmn:messageEventDefinition id="med1" messageRef="msg_clue" />',
        '<bpmn:messageEventDefinition id="med1" messageRef="msg_clue"><bpmn:extensionElements>'
        '<spiffworkflow:messagePayload>{"unit_id": unit_id, "facts": facts + "（转报）"}</spiffworkflow:messagePayload>'
        '</bpmn:extensionElements></bpmn:messageEventDefinition>')
    path = tmp_path / "message.bpmn"
    path.write_text(xml)
    deploy_file(session, path, forms, clock)
    commissioner = principal(session, "xinsheng_laogan")
    rt.start("message_sender", {"branch_id": "xinsheng-laogan", "unit_id": "xinsheng", "facts": "虚报出勤",
                                "secret": "不应转出"}, commissioner)
    session.commit()
    [t] = open_tasks(session)
    rt.complete(t.id, {}, commissioner)
    session.commit()
    receiver = session.scalars(select(ProcessInstance).where(ProcessInstance.process_key == "message_receiver")).one()
    assert receiver.data == {"unit_id": "xinsheng", "facts": "虚报出勤（转报）"}


def test_update_record_serialises_concurrent_updates(sessions, clock, settings, forms):
    """Two transactions add to one record at the same time (two branches confirmed at once): none is lost.
    The second one's `update_record` returns what its transaction sees: on PostgreSQL it does not wait
    for the first (the change is stored under the row lock at commit, tests/engine/test_record_updates.py),
    on SQLite the second write transaction begins only after the first committed."""
    import threading
    import time
    from types import SimpleNamespace

    from engine.infra.db import write_intent
    from engine.core.runtime import Runtime

    now = clock.now()
    with write_intent(), sessions() as s:
        s.add(Record(kind="tally", key="k", node_id="xuchang", unit_id="xuchang", data={"n": 0},
                     created_at=now, updated_at=now))
        s.commit()

    def helper(s):
        inst = SimpleNamespace(id=0, scope_node_id="xuchang", process_key="record_update", definition=SimpleNamespace(info={}))
        return Runtime(s, clock, settings, forms)._record_helpers(inst, ScriptScope.of(s, inst))["update_record"]

    holding = threading.Event()

    def first():
        with write_intent(), sessions() as s:
            helper(s)("tally", "k", increments={"n": 1}, changes={"by_first": True})
            holding.set()
            time.sleep(0.3)  # keep the transaction open while the second one tries
            s.commit()

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(10)
    with write_intent(), sessions() as s:
        data = helper(s)("tally", "k", increments={"n": 1})
        s.commit()
    thread.join(10)
    assert data == ({"n": 1} if is_pg(sessions.kw["bind"]) else {"n": 2, "by_first": True})
    with sessions() as s:
        assert s.scalars(select(Record.data).where(Record.key == "k")).one() == {"n": 2, "by_first": True}


def test_form_errors_name_each_missing_field_once(forms):
    with pytest.raises(Invalid) as err:
        forms.validate("adhoc_report_file.json", {"severity": "urgent", "subject": "x"})
    details = err.value.details
    assert sorted(d["field"] for d in details) == ["area", "facts", "occurred_on", "persons", "severity"]
    assert "5 problem(s)" in err.value.message
