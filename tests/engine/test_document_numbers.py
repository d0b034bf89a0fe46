"""The 发文字号 of official documents (engine/linkage/documents/numbers.py): issued once per record,
counted per issuing committee and year, and an issue that loses a race to another one retries."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.infra.db import write_intent
from engine.linkage.documents import numbers
from engine.linkage.documents.models import DocumentNumber
from engine.models import Record
from tests.conftest import is_pg


def add_records(sessions, clock, n: int, prefix: str = "f") -> list[int]:
    with write_intent(), sessions() as s:
        rows = [Record(kind="forwarding", key=f"{prefix}{i}", node_id="xinsheng", unit_id="xinsheng", data={},
                       created_at=clock.now(), updated_at=clock.now()) for i in range(n)]
        s.add_all(rows)
        s.commit()
        return [r.id for r in rows]


def test_issued_once_and_counted_per_committee_and_year(sessions, clock):
    a, b = add_records(sessions, clock, 2)
    y = clock.now().year
    assert numbers.issue(sessions, a, "xinsheng", clock.now(), "u") == f"山东新升实业发展纪发〔{y}〕1号"
    assert numbers.issue(sessions, a, "xinsheng", clock.now(), "u") == f"山东新升实业发展纪发〔{y}〕1号"
    assert numbers.issue(sessions, b, "xinsheng", clock.now(), "u") == f"山东新升实业发展纪发〔{y}〕2号"
    clock.advance(days=400)
    [c] = add_records(sessions, clock, 1, "next")
    assert numbers.issue(sessions, c, "xinsheng", clock.now(), "u").endswith(f"〔{clock.now().year}〕1号")


def _racing(monkeypatch, sessions, clock, winner_record: int) -> None:
    """The first attempt is overtaken: another issue commits number 1 just before it writes.
    PostgreSQL only: on SQLite a write transaction begins IMMEDIATE, so issues never overlap."""
    if not is_pg(sessions.kw["bind"]):
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises write transactions)")
    original = numbers._try
    raced = []

    def racing(session, record_id, node, year, now, by):
        if not raced:
            raced.append(True)
            with write_intent(), sessions() as other:
                other.add(DocumentNumber(record_id=winner_record, node_id=node.id, year=year, seq=1,
                                         doc_no=f"赢家〔{year}〕1号", issued_at=now, issued_by="other"))
                other.commit()
        return original(session, record_id, node, year, now, by)

    monkeypatch.setattr(numbers, "_try", racing)


@pytest.mark.pg
def test_losing_a_race_for_a_number_takes_the_next(sessions, clock, monkeypatch):
    a, b = add_records(sessions, clock, 2)
    _racing(monkeypatch, sessions, clock, winner_record=a)
    year = clock.now().year
    assert numbers.issue(sessions, b, "xinsheng", clock.now(), "u") == f"山东新升实业发展纪发〔{year}〕2号"
    with sessions() as s:
        assert [(r.record_id, r.seq) for r in s.scalars(select(DocumentNumber).order_by(DocumentNumber.seq))] == [
            (a, 1), (b, 2)]


@pytest.mark.pg
def test_losing_a_race_for_the_same_record_reads_the_winners_number(sessions, clock, monkeypatch):
    [a] = add_records(sessions, clock, 1)
    _racing(monkeypatch, sessions, clock, winner_record=a)
    assert numbers.issue(sessions, a, "xinsheng", clock.now(), "u") == f"赢家〔{clock.now().year}〕1号"
    with sessions() as s:
        assert len(list(s.scalars(select(DocumentNumber)))) == 1
