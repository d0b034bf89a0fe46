"""Org nodes read once per transaction (engine/org/node_rows.py): the same answer as a fresh read,
never carried into the next transaction, forgotten when the node is written or a savepoint rolls
back; a batch of children reads each node and each caller once (issue 20)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from engine.core import async_jobs
from engine.models import OrgNode
from engine.org import nodes as org
from engine.org.node_rows import NodeRef, node_row
from tests.engine.test_async_continuation import children, to_the_fan_out


@contextmanager
def statements(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((" ".join(statement.split()), parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def node_reads(seen: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(s, p) for s, p in seen if s.startswith("SELECT") and "FROM org_node" in s]


NAME = "山东新升实业发展有限责任公司纪委"


def fresh(session: Any, node_id: str) -> NodeRef | None:
    n = session.execute(select(OrgNode).where(OrgNode.id == node_id).execution_options(populate_existing=True)).scalar()
    return None if n is None else NodeRef(n.id, n.tier, n.name, n.parent_id, n.path, n.sort, n.active)


def test_a_node_is_read_once_per_transaction_and_equals_a_fresh_read(session, db_engine):
    ids = list(session.scalars(select(OrgNode.id).order_by(OrgNode.id)))
    assert len(ids) > 10
    session.rollback()
    with statements(db_engine) as seen:
        first = [node_row(session.connection(), i) for i in ids]
        again = [node_row(session.connection(), i) for i in ids]
        assert node_row(session.connection(), "no-such-node") is None
        assert node_row(session.connection(), "no-such-node") is None
    assert first == again == [fresh(session, i) for i in ids]
    assert len(node_reads(seen)) == len(ids) + 1  # each node once, and the missing one once
    session.commit()
    with statements(db_engine) as seen:
        node_row(session.connection(), ids[0])
    assert len(node_reads(seen)) == 1  # a new transaction reads again


def test_a_write_of_the_node_and_a_rollback_to_a_savepoint_are_seen(session):
    assert node_row(session.connection(), "xinsheng").name == NAME  # type: ignore[union-attr]
    session.get(OrgNode, "xinsheng").name = "新升单位纪委（改）"  # type: ignore[union-attr]
    session.flush()
    assert node_row(session.connection(), "xinsheng").name == "新升单位纪委（改）"  # type: ignore[union-attr]

    savepoint = session.begin_nested()
    org.add_node(session, "xinsheng-new", "branch", "新设支部", "xinsheng", 9)
    session.flush()
    assert node_row(session.connection(), "xinsheng-new").tier == "branch"  # type: ignore[union-attr]
    savepoint.rollback()
    assert node_row(session.connection(), "xinsheng-new") is None
    session.rollback()
    assert node_row(session.connection(), "xinsheng").name == NAME  # type: ignore[union-attr]


def test_a_batch_of_children_reads_each_org_node_and_each_caller_once(sessions, clock, settings, forms, db_engine):
    wsettings = settings.with_(async_mode="worker", async_fanout_threshold=1, async_batch=3)
    parent = to_the_fan_out(sessions, clock, wsettings, forms)
    with statements(db_engine) as seen:
        done = async_jobs.run_due(sessions, clock, wsettings)
    assert (done.batches, done.children) == (1, 3)
    assert len(children(sessions, parent)) == 3
    reads = Counter(str(p) for _s, p in node_reads(seen))
    assert reads and set(reads.values()) == {1}, reads
    by_id = Counter(
        str(p) for s, p in seen if s.startswith("SELECT") and "FROM process_instance WHERE process_instance.id" in s
    )
    assert set(by_id.values()) <= {1}, by_id


def test_prefetch_reads_the_missing_nodes_with_one_statement(session, db_engine):
    from engine.org.node_rows import prefetch

    ids = list(session.scalars(select(OrgNode.id).order_by(OrgNode.id)))
    session.rollback()
    node_row(session.connection(), ids[0])
    with statements(db_engine) as seen:
        prefetch(session.connection(), [*ids, "no-such-node", None, 7])
        found = [node_row(session.connection(), i) for i in ids]
        assert node_row(session.connection(), "no-such-node") is None
        prefetch(session.connection(), ids)  # all known: no statement
    assert len(node_reads(seen)) == 1
    assert found == [fresh(session, i) for i in ids]
