"""`update_record` queues its change and stores it under the row lock at commit
(engine/core/record_updates.py): the row is not locked from the script to the end of the request,
concurrent changes are all kept, the same transaction reads its queued change, and a change that no
longer applies at commit rolls the whole transaction back."""
from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select, text

from engine.core.runtime import Runtime
from engine.errors import RecordUpdateFailed
from engine.infra.db import write_intent
from engine.models import Record
from engine.org.policy import ScriptScope
from tests.conftest import is_pg


def _seed(sessions, clock, data, key="k"):
    now = clock.now()
    with write_intent(), sessions() as s:
        s.add(Record(kind="tally", key=key, node_id="xuchang", unit_id="xuchang", data=data,
                     created_at=now, updated_at=now))
        s.commit()


def _helpers(s, clock, settings, forms):
    inst = SimpleNamespace(id=0, scope_node_id="xuchang", process_key="record_update", definition=SimpleNamespace(info={}))
    return Runtime(s, clock, settings, forms)._record_helpers(inst, ScriptScope.of(s, inst))


def _stored(sessions, key="k"):
    with write_intent(False), sessions() as s:  # a reader: never waits for a writer
        return s.scalars(select(Record.data).where(Record.key == key)).one()


def test_a_second_transaction_does_not_wait_for_the_first_ones_commit(sessions, clock, settings, forms):
    """Two branches of one unit report at once: the second's update_record returns while the first
    transaction is still open (it would wait on the row lock before), and both changes are kept."""
    if not is_pg(sessions.kw["bind"]):
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises write transactions)")
    _seed(sessions, clock, {"n": 0, "branches": {"a": {}, "b": {}}})
    updated, release, first_data = threading.Event(), threading.Event(), []

    def first():
        with write_intent(), sessions() as s:
            first_data.append(_helpers(s, clock, settings, forms)["update_record"](
                "tally", "k", {"done": True}, increments={"n": 1}, path=["branches", "a"]))
            updated.set()
            assert release.wait(10)
            s.commit()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert updated.wait(10)
        with write_intent(), sessions() as s:
            s.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting on the first's row lock fails here
            update = _helpers(s, clock, settings, forms)["update_record"]
            second = update("tally", "k", {"done": True}, increments={"n": 1}, path=["branches", "b"])
            assert second == {"n": 0, "branches": {"a": {}, "b": {"done": True, "n": 1}}}
            s.commit()  # the first has not written the row: nothing to wait for
        assert _stored(sessions) == {"n": 0, "branches": {"a": {}, "b": {"done": True, "n": 1}}}
    finally:
        release.set()
        thread.join(10)
    assert first_data == [{"n": 0, "branches": {"a": {"done": True, "n": 1}, "b": {}}}]
    # the first's change was applied at its commit on the row as the second left it
    assert _stored(sessions) == {"n": 0, "branches": {"a": {"done": True, "n": 1}, "b": {"done": True, "n": 1}}}


def test_the_same_transaction_reads_its_queued_change(sessions, clock, settings, forms):
    _seed(sessions, clock, {"n": 0, "branches": {"a": {}}})
    with write_intent(), sessions() as s:
        h = _helpers(s, clock, settings, forms)
        assert h["update_record"]("tally", "k", {"status": "reported"}, path=["branches", "a"]) == \
            {"n": 0, "branches": {"a": {"status": "reported"}}}
        assert _stored(sessions) == {"n": 0, "branches": {"a": {}}}  # queued: the row is not written yet
        assert h["get_record"]("tally", "k") == {"n": 0, "branches": {"a": {"status": "reported"}}}
        assert h["find_records"]("tally") == [{"key": "k", "node_id": "xuchang", "n": 0,
                                               "branches": {"a": {"status": "reported"}}}]
        assert h["update_record"]("tally", "k", increments={"n": 1}) == \
            {"n": 1, "branches": {"a": {"status": "reported"}}}
        assert _stored(sessions) == {"n": 0, "branches": {"a": {}}}
        s.commit()
    assert _stored(sessions) == {"n": 1, "branches": {"a": {"status": "reported"}}}


def test_another_read_of_records_applies_the_queue_first(sessions, clock, settings, forms):
    _seed(sessions, clock, {"n": 0})
    with write_intent(), sessions() as s:
        _helpers(s, clock, settings, forms)["update_record"]("tally", "k", increments={"n": 2})
        assert s.scalars(select(Record.data).where(Record.key == "k")).one() == {"n": 2}
        s.commit()
    assert _stored(sessions) == {"n": 2}


def test_a_rolled_back_savepoint_drops_its_queued_changes(sessions, clock, settings, forms):
    _seed(sessions, clock, {"n": 0})
    with write_intent(), sessions() as s:
        update = _helpers(s, clock, settings, forms)["update_record"]
        update("tally", "k", {"kept": True})
        savepoint = s.begin_nested()
        assert update("tally", "k", increments={"n": 5}) == {"n": 5, "kept": True}
        savepoint.rollback()
        assert _helpers(s, clock, settings, forms)["get_record"]("tally", "k") == {"n": 0, "kept": True}
        s.commit()
    assert _stored(sessions) == {"n": 0, "kept": True}


def test_a_change_that_no_longer_applies_at_commit_rolls_everything_back(sessions, clock, settings, forms):
    _seed(sessions, clock, {"n": 0})
    with write_intent(), sessions() as s:
        h = _helpers(s, clock, settings, forms)
        h["save_record"]("tally", "other", {"n": 9})
        h["update_record"]("tally", "k", increments={"n": 1})
        s.execute(delete(Record.__table__).where(Record.__table__.c.key == "k"))  # as if deleted meanwhile
        with pytest.raises(RecordUpdateFailed) as err:
            s.commit()
        assert err.value.status == 409
        assert err.value.message == "update_record: the tally record 'k' was deleted before the change was stored"
        with pytest.raises(RecordUpdateFailed):
            s.commit()  # never half-committed: the commit fails until the rollback
        s.rollback()
    with sessions() as s:
        assert [(r.key, r.data) for r in s.scalars(select(Record))] == [("k", {"n": 0})]
