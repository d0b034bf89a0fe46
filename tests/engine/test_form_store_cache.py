"""The deployed-form store keeps what it read (issue 20: no statement per completion for a form
version or a definition's pin it already knows), and is never wrong for it: a version or a pin
read inside a transaction that rolls back is not kept (the same key and version, or on SQLite
the same definition id, can be given to other content later); what another store (another
worker) deploys is seen; a definition keeps the version it pinned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.core import repository
from engine.core.forms import FormStore
from engine.infra.db import write_intent
from engine.services import forms as forms_service
from tests.api.test_forms_deploy import diagram as forms_deploy_diagram

NOTE_A = {"type": "object", "required": ["note"], "properties": {"note": {"type": "string", "title": "说明"}}}
NOTE_B = {**NOTE_A, "required": ["note", "level"], "properties": {**NOTE_A["properties"], "level": {"type": "string"}}}
KEY = "cache_note.json"


def diagram() -> bytes:
    return forms_deploy_diagram(KEY, "cache_pin").encode()


def deploy_form(sessions: Any, schema: dict[str, Any], clock: Any) -> int:
    with write_intent(), sessions() as s:
        version = forms_service.deploy(s, None, KEY, schema, clock.now()).form.version
        s.commit()
    return int(version)


def deploy_process(sessions: Any, store: FormStore, clock: Any) -> int:
    with write_intent(), sessions() as s:
        d = repository.deploy(s, diagram(), "cache_pin.bpmn", "owner", clock.now(), store, 5 << 20).definitions[0]
        s.commit()
        return int(d.id)


def test_a_version_read_in_a_rolled_back_deploy_is_not_kept(sessions: Any, settings: Any, clock: Any) -> None:
    store = FormStore(Path(settings.forms_dir), sessions)
    with write_intent(), sessions() as s:
        assert forms_service.deploy(s, None, KEY, NOTE_A, clock.now()).form.version == 1
        assert store.bound(s).resolve(KEY, 1)[1] == NOTE_A  # read inside the deploy's transaction
        s.rollback()
    assert not store.exists(KEY, 1)
    assert deploy_form(sessions, NOTE_B, clock) == 1  # the same key and version, other content
    assert store.resolve(KEY, 1)[1] == NOTE_B
    assert store.bound(sessions()).schema(KEY, 1) == NOTE_B


def test_a_pin_read_in_a_rolled_back_deploy_is_not_kept(sessions: Any, settings: Any, clock: Any) -> None:
    store = FormStore(Path(settings.forms_dir), sessions)
    assert deploy_form(sessions, NOTE_A, clock) == 1
    with write_intent(), sessions() as s:
        bound = store.bound(s)
        d = repository.deploy(s, diagram(), "cache_pin.bpmn", "owner", clock.now(), bound, 5 << 20).definitions[0]
        first_id = d.id
        assert bound.pinned(first_id, KEY) == 1
        s.rollback()
    assert deploy_form(sessions, NOTE_B, clock) == 2
    second_id = deploy_process(sessions, store, clock)  # on SQLite the rolled-back id is given again
    assert store.pinned(second_id, KEY) == 2
    assert store.resolve(KEY, store.pinned(second_id, KEY))[1] == NOTE_B


def test_committed_versions_and_pins_are_kept_and_new_ones_seen(sessions: Any, settings: Any, clock: Any) -> None:
    worker_1 = FormStore(Path(settings.forms_dir), sessions)
    worker_2 = FormStore(Path(settings.forms_dir), sessions)  # another process's store
    deploy_form(sessions, NOTE_A, clock)
    first = deploy_process(sessions, worker_1, clock)
    for _ in range(2):  # read, then from what the store kept
        assert worker_1.pinned(first, KEY) == 1
        assert worker_1.resolve(KEY, 1)[1] == NOTE_A
        assert worker_1.bound(sessions()).schema(KEY, worker_1.pinned(first, KEY)) == NOTE_A
    assert deploy_form(sessions, NOTE_B, clock) == 2  # a new version, deployed by the other worker
    second = deploy_process(sessions, worker_2, clock)
    assert second != first
    assert worker_1.pinned(first, KEY) == 1  # running instances keep the version they started with
    assert worker_1.pinned(second, KEY) == 2
    assert worker_1.resolve(KEY, 2)[1] == NOTE_B
    assert worker_1.resolve(KEY)[0] == 2  # the newest is asked each time


def test_has_extensions_is_answered_per_schema(settings: Any, sessions: Any, clock: Any) -> None:
    store = FormStore(Path(settings.forms_dir), sessions)
    plain = {"type": "object", "properties": {"a": {"type": "string"}}}
    sourced = {"type": "object", "properties": {"b": {"type": "string", "x-source": "units"}}}
    assert [store.has_extensions(plain), store.has_extensions(sourced)] == [False, True]
    assert [store.has_extensions(plain), store.has_extensions(sourced)] == [False, True]
    assert store.has_extensions(dict(sourced)) is True  # another object with the same content
