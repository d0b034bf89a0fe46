"""Asynchronous continuation (issue 20): a large fan-out's children are started by the scheduler's
worker in batches, each in its own transaction; the request that reached it returns at once.
Nothing is lost or doubled when a batch dies; failed batches are retried, then an incident.
Driven with the injected clock, without Flask."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.core import async_jobs
from engine.core.runtime import Runtime
from engine.core.scheduler import tick
from engine.errors import Invalid
from engine.infra.db import write_intent
from engine.models import EventLog, FanOut, HumanTask, ProcessInstance
from tests.conftest import BPMN, deploy_file, principal, roundtrip_all

BRANCHES = ["xinsheng-jidian", "xinsheng-laogan", "xinsheng-wuye"]


@pytest.fixture
def settings(settings):
    """The deployment's mode: async elements are continued by the scheduler's worker."""
    return settings.with_(async_mode="worker")


@pytest.fixture
def asettings(settings):
    """Every fan-out of more than one child is asynchronous; two children per batch."""
    return settings.with_(async_fanout_threshold=1, async_batch=2, async_max_attempts=3, async_backoff_s=60.0)


def work(sessions, clock, settings, forms, fn):
    with write_intent(), sessions() as s:
        out = fn(Runtime(s, clock, settings, forms), s)
        s.commit()
        return out


def read(sessions, fn):
    with sessions() as s:
        return fn(s)


def children(sessions, parent_id: int) -> list[tuple[int | None, str]]:
    return read(
        sessions,
        lambda s: [
            (c.item_index, c.scope_node_id)
            for c in s.scalars(
                select(ProcessInstance)
                .where(ProcessInstance.parent_id == parent_id)
                .order_by(ProcessInstance.item_index)
            )
        ],
    )


def fan(sessions, parent_id: int) -> FanOut | None:
    return read(sessions, lambda s: s.scalars(select(FanOut).where(FanOut.instance_id == parent_id)).first())


def to_the_fan_out(sessions, clock, settings, forms, xml: bytes | None = None) -> int:
    """three_tier up to its call activity over xinsheng's 3 branches; returns the parent's id."""
    with write_intent(), sessions() as s:
        if xml is None:
            deploy_file(s, BPMN / "three_tier.bpmn", forms, clock)
        else:
            from engine.core import repository

            repository.deploy(s, xml, "three_tier.bpmn", "test", clock.now(), forms, 5 << 20)
        s.commit()
    inst_id = work(
        sessions,
        clock,
        settings,
        forms,
        lambda rt, s: rt.start("three_tier", {"unit_id": "xinsheng"}, principal(s, "group_secretary")).id,
    )
    for user in ("group_secretary", "xinsheng_member"):

        def complete(rt, s, user=user):
            [t] = s.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
            rt.complete(t.id, {"comment": "ok"}, principal(s, user))

        work(sessions, clock, settings, forms, complete)
    return inst_id


def test_the_request_returns_before_the_children_exist_and_the_worker_starts_them_in_batches(
    sessions, clock, asettings, forms
):
    parent = to_the_fan_out(sessions, clock, asettings, forms)
    # the unit's completion committed without starting a child: the fan-out waits for the worker
    assert children(sessions, parent) == []
    row = fan(sessions, parent)
    assert (row.total, row.pending, row.started, row.due_at) == (3, 3, 0, clock.now())
    assert sorted(row.payload["items"]) == BRANCHES  # the snapshot of the list the children are cut from
    assert read(sessions, lambda s: async_jobs.progress(s, parent)) == [
        async_jobs.Continuation(
            element="fan_out",
            name="各支部落实",
            kind="fan_out",
            started=0,
            total=3,
            attempts=0,
            last_error=None,
            due_at=clock.now(),
        )
    ]

    first = async_jobs.run_due(sessions, clock, asettings, max_batches=1)
    assert (first.batches, first.children, first.failed) == (1, 2, 0)
    assert [i for i, _n in children(sessions, parent)] == [0, 1]
    assert [(c.started, c.total) for c in read(sessions, lambda s: async_jobs.progress(s, parent))] == [(2, 3)]

    rest = async_jobs.run_due(sessions, clock, asettings)
    assert (rest.batches, rest.children) == (1, 1)
    made = children(sessions, parent)
    assert [i for i, _n in made] == [0, 1, 2]
    assert sorted(n for _i, n in made) == BRANCHES
    assert read(sessions, lambda s: async_jobs.progress(s, parent)) == []
    row = fan(sessions, parent)
    assert (row.started, row.pending, row.due_at) == (3, 3, None)
    assert async_jobs.run_due(sessions, clock, asettings) == async_jobs.Outcome()  # nothing left
    with sessions() as s:
        assert roundtrip_all(s) == 4

    # the branches report; the last one continues the parent with the reports in fan-out order
    def report(rt, s):
        for t in s.scalars(select(HumanTask).where(HumanTask.status == "open").order_by(HumanTask.id)).all():
            rt.complete(t.id, {"comment": f"{t.node_id} 已落实"}, principal(s, t.node_id.replace("-", "_")))

    work(sessions, clock, asettings, forms, report)
    inst = read(sessions, lambda s: s.get(ProcessInstance, parent))
    assert inst.status == "completed"
    order = [n for _i, n in made]
    assert inst.data["reports"] == [f"{n} 已落实" for n in order]
    assert fan(sessions, parent) is None


def test_the_scheduler_tick_continues_the_fan_out(sessions, clock, asettings, forms):
    parent = to_the_fan_out(sessions, clock, asettings, forms)
    result = tick(sessions, clock, asettings)
    assert (result.continued, result.incidents, result.busy) == (3, 0, True)
    assert len(children(sessions, parent)) == 3
    assert tick(sessions, clock, asettings).continued == 0


def _dying_after(monkeypatch, n: int) -> list[int]:
    """Child starts fail from the (n+1)-th on, as a worker that dies in the middle of a batch."""
    calls: list[int] = []
    real = Runtime.start

    def start(self, key, variables=None, actor=None, **kw: Any):
        if kw.get("_parent") is not None:
            calls.append(1)
            if len(calls) > n:
                raise RuntimeError("the worker died")
        return real(self, key, variables, actor, **kw)

    monkeypatch.setattr(Runtime, "start", start)
    return calls


def test_a_worker_dying_mid_batch_loses_nothing_and_doubles_nothing(sessions, clock, asettings, forms, monkeypatch):
    parent = to_the_fan_out(sessions, clock, asettings, forms)
    async_jobs.run_due(sessions, clock, asettings, max_batches=1)  # children 0 and 1 committed
    _dying_after(monkeypatch, 0)
    died = async_jobs.run_due(sessions, clock, asettings)
    assert (died.batches, died.failed, died.incidents) == (0, 1, 0)
    assert [i for i, _n in children(sessions, parent)] == [0, 1]  # the dead batch left nothing
    row = fan(sessions, parent)
    assert (row.started, row.attempts, row.due_at) == (2, 1, clock.now() + timedelta(seconds=60))
    assert "the worker died" in row.last_error
    monkeypatch.undo()
    assert async_jobs.run_due(sessions, clock, asettings).batches == 0  # not due before the back-off
    clock.advance(timedelta(seconds=60))
    again = async_jobs.run_due(sessions, clock, asettings)
    assert (again.batches, again.children) == (1, 1)
    made = children(sessions, parent)
    assert [i for i, _n in made] == [0, 1, 2] and sorted(n for _i, n in made) == BRANCHES
    row = fan(sessions, parent)
    assert (row.started, row.attempts, row.last_error, row.due_at) == (3, 0, None, None)
    tasks = read(
        sessions, lambda s: Counter(t.node_id for t in s.scalars(select(HumanTask).where(HumanTask.status == "open")))
    )
    assert tasks == Counter({b: 1 for b in BRANCHES})


def test_a_batch_dying_after_part_of_its_children_rolls_all_of_them_back(
    sessions, clock, asettings, forms, monkeypatch
):
    parent = to_the_fan_out(sessions, clock, asettings, forms)
    calls = _dying_after(monkeypatch, 1)  # the first child of the batch is started, then it dies
    assert async_jobs.run_due(sessions, clock, asettings).failed == 1
    # the batch's shared savepoint is undone and the batch started again one child at a time
    # (engine/core/fanout.py), where the first start dies at once
    assert len(calls) == 3
    assert children(sessions, parent) == []
    assert (
        read(
            sessions,
            lambda s: s.scalars(
                select(EventLog.type).where(EventLog.type == "instance_started", EventLog.instance_id != parent)
            ).all(),
        )
        == []
    )
    monkeypatch.undo()
    clock.advance(timedelta(seconds=60))
    assert async_jobs.run_due(sessions, clock, asettings).children == 3
    assert [i for i, _n in children(sessions, parent)] == [0, 1, 2]


def test_failed_batches_are_retried_then_an_incident_which_a_retry_continues(
    sessions, clock, asettings, forms, monkeypatch
):
    parent = to_the_fan_out(sessions, clock, asettings, forms)
    _dying_after(monkeypatch, 0)
    waits = []
    for attempt in range(1, 4):
        out = async_jobs.run_due(sessions, clock, asettings)
        assert (out.failed, out.incidents) == (1, 1 if attempt == 3 else 0)
        row = fan(sessions, parent)
        assert row.attempts == attempt
        if row.due_at is not None:
            waits.append(row.due_at - clock.now())
            clock.advance(row.due_at - clock.now())
    assert waits == [timedelta(seconds=60), timedelta(seconds=120)]  # the back-off doubles
    inst = read(sessions, lambda s: s.get(ProcessInstance, parent))
    assert (inst.status, inst.error_task) == ("error", "fan_out")
    assert inst.error_message.startswith("fan_out: starting the children failed 3 times (0 of 3 started)")
    assert read(
        sessions,
        lambda s: s.scalars(
            select(EventLog.payload).where(EventLog.type == "incident", EventLog.instance_id == parent)
        ).all(),
    ) == [{"message": inst.error_message, "task": "fan_out"}]
    clock.advance(timedelta(days=1))
    assert async_jobs.run_due(sessions, clock, asettings) == async_jobs.Outcome()  # given up until retried
    assert children(sessions, parent) == []
    monkeypatch.undo()

    work(sessions, clock, asettings, forms, lambda rt, s: rt.retry(parent, principal(s, "admin")))
    row = fan(sessions, parent)
    assert (row.attempts, row.due_at) == (0, clock.now())
    assert async_jobs.run_due(sessions, clock, asettings).children == 3
    assert read(sessions, lambda s: s.get(ProcessInstance, parent)).status == "running"
    assert [i for i, _n in children(sessions, parent)] == [0, 1, 2]


def test_a_suspended_parent_is_not_continued_until_resumed(sessions, clock, asettings, forms):
    parent = to_the_fan_out(sessions, clock, asettings, forms)
    work(sessions, clock, asettings, forms, lambda rt, s: rt.suspend(parent, principal(s, "admin")))
    assert async_jobs.run_due(sessions, clock, asettings) == async_jobs.Outcome()
    work(sessions, clock, asettings, forms, lambda rt, s: rt.resume(parent, principal(s, "admin")))
    assert async_jobs.run_due(sessions, clock, asettings).children == 3


def test_small_fan_outs_stay_inside_the_request(sessions, clock, settings, forms):
    assert settings.async_fanout_threshold == 10
    parent = to_the_fan_out(sessions, clock, settings, forms)
    assert [i for i, _n in children(sessions, parent)] == [0, 1, 2]
    row = fan(sessions, parent)
    assert (row.started, row.due_at, row.payload) == (3, None, None)


def _with_async(value: str) -> bytes:
    xml = (BPMN / "three_tier.bpmn").read_text()
    marked = xml.replace(
        '<bpmn:callActivity id="fan_out" name="各支部落实" calledElement="three_tier_branch">',
        '<bpmn:callActivity id="fan_out" name="各支部落实" calledElement="three_tier_branch"><bpmn:extensionElements>'
        f'<spiffworkflow:properties><spiffworkflow:property name="async" value="{value}"/></spiffworkflow:properties>'
        "</bpmn:extensionElements>",
    )
    assert marked != xml
    if "xmlns:spiffworkflow" not in marked:
        marked = marked.replace(
            "<bpmn:definitions ",
            '<bpmn:definitions xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" ',
            1,
        )
    return marked.encode()


def test_the_async_property_decides_whatever_the_size(sessions, clock, settings, forms):
    parent = to_the_fan_out(sessions, clock, settings, forms, _with_async("true"))  # 3 children, threshold 10
    assert children(sessions, parent) == [] and fan(sessions, parent).started == 0
    assert async_jobs.run_due(sessions, clock, settings).children == 3


def test_async_false_keeps_a_large_fan_out_inside_the_request(sessions, clock, asettings, forms):
    parent = to_the_fan_out(sessions, clock, asettings, forms, _with_async("false"))
    assert len(children(sessions, parent)) == 3 and fan(sessions, parent).due_at is None


def test_the_async_property_is_true_or_false(sessions, clock, settings, forms):
    from engine.core import repository

    with write_intent(), sessions() as s, pytest.raises(Invalid):
        repository.deploy(s, _with_async("soon"), "three_tier.bpmn", "test", clock.now(), forms, 5 << 20)


def test_two_workers_at_once_start_each_child_exactly_once(sessions, clock, asettings, forms):
    parents = [to_the_fan_out(sessions, clock, asettings, forms) for _ in range(3)]
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            results[i] = async_jobs.run_due(sessions, clock, asettings)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sum(r.children for r in results) == 9 and sum(r.failed for r in results) == 0
    for p in parents:
        assert [i for i, _n in children(sessions, p)] == [0, 1, 2]


# ---- a script task marked async (asyncBefore) --------------------------------------------------------


def _async_script(script: str = "branch_ids = org_branches(unit_id)") -> bytes:
    xml = (BPMN / "three_tier.bpmn").read_text()
    marked = xml.replace(
        '<bpmn:scriptTask id="pick_branches" name="确定支部">\n      <bpmn:script>branch_ids = org_branches(unit_id)',
        '<bpmn:scriptTask id="pick_branches" name="确定支部"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="async" value="true"/></spiffworkflow:properties></bpmn:extensionElements>\n'
        f"      <bpmn:script>{script}",
    )
    assert marked != xml
    return marked.encode()


def test_an_async_script_task_runs_in_the_worker_and_the_process_goes_on(sessions, clock, settings, forms):
    parent = to_the_fan_out(sessions, clock, settings, forms, _async_script())
    # the unit's completion stopped before the script: no branch list, no fan-out, no task row for it
    assert (
        children(sessions, parent) == []
        and read(sessions, lambda s: s.scalars(select(HumanTask.spec_id).where(HumanTask.status == "open")).all()) == []
    )
    assert [(c.element, c.kind, c.total) for c in read(sessions, lambda s: async_jobs.progress(s, parent))] == [
        ("pick_branches", "step", 1)
    ]
    out = async_jobs.run_due(sessions, clock, settings)
    assert (out.batches, out.failed) == (1, 0)
    assert sorted(n for _i, n in children(sessions, parent)) == BRANCHES  # 3 children: inside the worker's step
    assert read(sessions, lambda s: async_jobs.progress(s, parent)) == []
    assert read(sessions, lambda s: s.scalars(select(FanOut.payload).where(FanOut.instance_id == parent)).all()) == [
        None
    ]  # only the (synchronous) fan-out's row is left
    with sessions() as s:
        assert roundtrip_all(s) == 4


def test_an_async_script_that_fails_is_an_incident_and_a_retry_runs_it_again(sessions, clock, settings, forms):
    parent = to_the_fan_out(sessions, clock, settings, forms, _async_script("branch_ids = org_branches(unit_idx)"))
    out = async_jobs.run_due(sessions, clock, settings)
    inst = read(sessions, lambda s: s.get(ProcessInstance, parent))
    assert (inst.status, inst.error_task) == ("error", "pick_branches")
    assert (out.batches, out.failed) == (1, 0)  # the batch committed the incident, as a request would
    assert async_jobs.run_due(sessions, clock, settings) == async_jobs.Outcome()
    work(
        sessions,
        clock,
        settings,
        forms,
        lambda rt, s: rt.retry(parent, principal(s, "admin"), {"unit_idx": "xinsheng"}),
    )
    assert async_jobs.run_due(sessions, clock, settings).batches == 1
    assert read(sessions, lambda s: s.get(ProcessInstance, parent)).status == "running"
    assert sorted(n for _i, n in children(sessions, parent)) == BRANCHES


def test_inline_mode_runs_async_elements_inside_the_request(sessions, clock, asettings, forms):
    inline = asettings.with_(async_mode="inline")
    parent = to_the_fan_out(sessions, clock, inline, forms, _async_script())
    assert [i for i, _n in children(sessions, parent)] == [0, 1, 2]
    assert read(sessions, lambda s: async_jobs.progress(s, parent)) == []


def test_a_child_failing_in_a_batch_gets_its_incident_and_its_siblings_start(
    sessions, clock, asettings, forms, monkeypatch
):
    """A batch runs its children under one savepoint; one child's failure undoes the batch, which
    starts again with a savepoint per child: the failing child gets its incident, as it would
    have alone, and the others start as usual."""
    from engine.core.loop import EngineLoop
    from engine.errors import ScriptError

    parent = to_the_fan_out(sessions, clock, asettings.with_(async_batch=3), forms)
    real = EngineLoop._steps

    def steps(self, loaded):
        if loaded.inst.scope_node_id == BRANCHES[1]:
            raise ScriptError("this branch's script fails")
        return real(self, loaded)

    monkeypatch.setattr(EngineLoop, "_steps", steps)
    out = async_jobs.run_due(sessions, clock, asettings.with_(async_batch=3))
    assert (out.batches, out.children, out.failed, out.incidents) == (1, 3, 0, 0)
    made = read(
        sessions,
        lambda s: {
            c.scope_node_id: (c.status, c.error_message)
            for c in s.scalars(select(ProcessInstance).where(ProcessInstance.parent_id == parent))
        },
    )
    assert made == {
        BRANCHES[0]: ("running", None),
        BRANCHES[1]: ("error", "ScriptError: this branch's script fails"),
        BRANCHES[2]: ("running", None),
    }
    tasks = read(sessions, lambda s: sorted(s.scalars(select(HumanTask.node_id).where(HumanTask.status == "open"))))
    assert tasks == [BRANCHES[0], BRANCHES[2]]
    started = read(
        sessions,
        lambda s: Counter(
            s.scalars(select(EventLog.type).where(EventLog.instance_id != parent, EventLog.type.in_(("instance_started", "incident"))))
        ),
    )
    assert started == Counter({"instance_started": 3, "incident": 1})  # nothing of the undone pass is left
    assert fan(sessions, parent).started == 3


def test_a_batch_writes_its_childrens_search_entries_as_a_rebuild_would(sessions, clock, asettings, forms):
    """The children's search entries are written with one statement at the end of the batch
    (engine/platform/search.py `buffered`): the same entries, and on SQLite the same full-text
    rows, as indexing everything again from scratch gives."""
    from engine.platform.search import SearchEntry, rebuild

    parent = to_the_fan_out(sessions, clock, asettings.with_(async_batch=3), forms)
    assert async_jobs.run_due(sessions, clock, asettings.with_(async_batch=3)).children == 3
    columns = [c for c in SearchEntry.__table__.columns if c.key != "id"]

    def entries(s):
        rows = s.execute(select(*columns).where(SearchEntry.source == "instance")).all()
        fts = {}
        if s.get_bind().dialect.name == "sqlite":
            fts = dict(s.connection().exec_driver_sql(
                "SELECT e.ref_id, f.grams FROM search_fts f JOIN search_entry e ON e.id = f.rowid "
                "WHERE e.source = 'instance'").all())
        return sorted(map(tuple, rows), key=repr), fts

    with sessions() as s:
        written = entries(s)
        kids = set(s.scalars(select(ProcessInstance.id).where(ProcessInstance.parent_id == parent)))
    assert len(kids) == 3 and kids <= {row[1] for row in written[0]}
    with write_intent(), sessions() as s:
        rebuild(s.connection())
        assert entries(s) == written
        s.rollback()


def test_the_worker_keeps_to_its_list_of_due_continuations_fewest_left_first(
    sessions, clock, asettings, forms, monkeypatch
):
    """The list of due continuations is read once and worked through (each fan-out to its end,
    the fewest children left first), not read again after every batch; it is read again when it
    is done or REREAD_S old."""
    one = asettings.with_(async_batch=1)
    first = to_the_fan_out(sessions, clock, one, forms)
    assert async_jobs.run_due(sessions, clock, one, max_batches=1).children == 1  # 2 of 3 left
    second = work(
        sessions, clock, one, forms,
        lambda rt, s: rt.start("three_tier", {"unit_id": "xuchang"}, principal(s, "group_secretary")).id,
    )
    for user in ("group_secretary", "xuchang_member"):
        def complete(rt, s, user=user):
            [t] = s.scalars(select(HumanTask).where(HumanTask.status == "open", HumanTask.instance_id == second)).all()
            rt.complete(t.id, {"comment": "ok"}, principal(s, user))

        work(sessions, clock, one, forms, complete)
    assert [(c.started, c.total) for c in read(sessions, lambda s: async_jobs.progress(s, second))] == [(0, 3)]

    order: list[int] = []
    reads: list[int] = []
    real_batch, real_query = async_jobs.run_batch, async_jobs.due_query

    def run_batch(sessions_, clock_, settings_, instance_id, guid, out):
        order.append(instance_id)
        return real_batch(sessions_, clock_, settings_, instance_id, guid, out)

    def due_query(now, limit):
        reads.append(limit)
        return real_query(now, limit)

    monkeypatch.setattr(async_jobs, "run_batch", run_batch)
    monkeypatch.setattr(async_jobs, "due_query", due_query)
    monkeypatch.setattr(async_jobs, "REREAD_S", 3600.0)
    out = async_jobs.run_due(sessions, clock, one)
    assert order == [first, first, second, second, second]
    assert (out.batches, out.children, out.skipped, out.failed) == (5, 5, 0, 0)
    assert len(reads) == 2  # the list, then the empty list that ends the run
    assert len(children(sessions, first)) == len(children(sessions, second)) == 3
