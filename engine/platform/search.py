"""The search index (issue 18 item 2): one row per searchable thing — a process instance (which
also stands for its tasks), a clue, a report, a bulletin post, a person — with its title and its
text, kept in the same transaction as the change (mapper events on the ORM writes; the runtime's
Core write of a changed instance title calls `put_instance`), or rebuilt from the sources
(`rebuild`, idempotent).

Chinese text has no spaces, so the text is cut into overlapping two-character pieces (bigrams,
as CJK search engines do) plus the last character of each run; Latin words and numbers stay
words (engine/platform/search_tokens.py). `grams` holds these tokens separated by spaces, and the database's full-text index reads
them as words: SQLite's FTS5 (`search_fts`, unicode61 tokenizer), PostgreSQL's full text search
with the `simple` configuration (the stored column `tsv` = `to_tsvector('simple', grams)` and its
GIN index, migration 0014). A query of two or more characters asks for its bigrams (of a long
word every other one and the last, `match_tokens`), a one-character query for tokens that start
with it; the candidates are then checked with LIKE against the text itself, so a hit always
contains the words as typed (the index only makes finding them fast).

Who sees what is decided by the lists' own visibility rules, which the service
(engine/services/search.py) applies to each entry's source row. The entry keeps copies of the
columns those rules read (`node_id`, `confidential`, `owner_id`) so that the service can narrow
the candidates by the same rules before it joins the rows. `terms_public` and `title_public` are the
texts as the system administrator sees them (engine/org/confidential.py: confidential values
replaced), so that the administrator never finds a clue by the person it names.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    event,
    false,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from engine.infra.db import Base, UTCDateTime
from engine.infra.settings import ROOT
from engine.models import OrgNode, ProcessDefinition, ProcessInstance, Record, User
from engine.org import confidential
from engine.org.node_rows import node_row
from engine.platform.models import BulletinPost

# the tokenizer, also used as `search.…` by the service and the tests
from engine.platform.search_tokens import is_cjk, match_tokens, normalize, query_tokens, source_token, tokens  # noqa: F401

SOURCES = ("instance", "clue", "report", "post", "person")
# record kinds found as reports (报告): the branches' monthly and ad-hoc reports, the units' quarterly reports
REPORT_KINDS = ("monthly_report", "adhoc_report", "quarterly_report", "quarterly_analysis")
REPORT_TITLES = {
    "monthly_report": "月度书面报告",
    "adhoc_report": "随时报告",
    "quarterly_report": "季度工作报告",
    "quarterly_analysis": "季度综合研判",
}
MAX_TEXT = 20_000  # characters of one entry's text that are indexed (a long post's first part)
# data keys whose values are codes, ids or times, not words anyone searches for
_SKIP_SUFFIXES = ("_id", "_at", "_on", "_date", "_key")
_SKIP_KEYS = frozenset({"history", "statistics", "acks", "key", "unit_id", "branch_id", "node_id", "due", "period"})


class SearchEntry(Base):
    """One searchable thing: `source` and `ref_id` name the row it was read from."""

    __tablename__ = "search_entry"
    __table_args__ = (UniqueConstraint("source", "ref_id"), Index(None, "source", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    title_public: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(String(300), default="")
    # lower-case own text (full; as the administrator reads it)
    terms: Mapped[str] = mapped_column(Text)
    terms_public: Mapped[str] = mapped_column(Text)
    # the tokens of the text (and, for an instance, of its steps' names) for the full-text index
    grams: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # who may see it, copied from the source row (the service narrows candidates by them before
    # joining the row, whose own rule still decides): the org node (an instance's scope, a
    # record's node, a post's audience), a record's confidential flag, an instance's starter
    node_id: Mapped[str | None] = mapped_column(String(64))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    owner_id: Mapped[int | None] = mapped_column(Integer)


# ---- what is indexed of each source ----------------------------------------------------------------------

_KEYS: frozenset[str] | None = None


def _redactor() -> confidential.Redactor:
    """The system administrator's view (engine/org/confidential.py), with the configured forms' keys."""
    global _KEYS
    if _KEYS is None:
        _KEYS = confidential.confidential_keys(os.environ.get("SANJI_FORMS_DIR") or ROOT / "forms")
    return confidential.Redactor(_KEYS, True)


def _strings(data: Any, key: str | None = None) -> Iterator[str]:
    """The words of a record's data: every text value but codes, ids and times."""
    if key is not None and (key in _SKIP_KEYS or key.endswith(_SKIP_SUFFIXES)):
        return
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _strings(v, str(k))
    elif isinstance(data, list):
        for v in data:
            yield from _strings(v, key)
    elif isinstance(data, str) and data and data != confidential.MARK:
        yield data


def _text(parts: Iterable[str | None]) -> str:
    return normalize(" ".join(p for p in parts if p))[:MAX_TEXT]


def _row(
    source: str,
    ref_id: int,
    title: str,
    title_public: str,
    detail: str,
    own: Iterable[str | None],
    own_public: Iterable[str | None],
    at: datetime,
    node_id: str | None,
    extra: Iterable[str] = (),
    secret: bool = False,
    owner_id: int | None = None,
) -> dict[str, Any]:
    terms, public = _text(own), _text(own_public)
    grams = [source_token(source), *tokens(terms)]
    for name in extra:
        grams.extend(tokens(name))
    return {
        "source": source,
        "ref_id": ref_id,
        "title": title[:300],
        "title_public": title_public[:300],
        "detail": detail[:300],
        "terms": terms,
        "terms_public": public,
        "grams": " ".join(dict.fromkeys(grams)),
        "at": at,
        "node_id": node_id,
        "confidential": bool(secret),
        "owner_id": owner_id,
    }


def _definition(conn: Connection, inst: Any) -> tuple[str, list[str]]:
    """The process's name and its steps' names (from the instance's loaded definition when it has one)."""
    d = inst.__dict__.get("definition") if hasattr(inst, "__dict__") else None
    if isinstance(d, ProcessDefinition):
        return _steps(d.name, d.info)
    row = conn.execute(
        select(ProcessDefinition.name, ProcessDefinition.info).where(ProcessDefinition.id == inst.definition_id)
    ).first()
    return _steps(row[0], row[1]) if row is not None else ("", [])


def _steps(name: str, info: Any) -> tuple[str, list[str]]:
    return name, [t.get("name") or "" for t in (info or {}).get("user_tasks", [])]


def _node_name(conn: Connection, node_id: str | None) -> str:
    if not node_id:
        return ""
    node = node_row(conn, node_id)
    return node.name if node is not None else ""


def instance_row(
    conn: Connection, inst: Any, definition: tuple[str, list[str]] | None = None, scope: str | None = None
) -> dict[str, Any]:
    """An instance: its title, process and org node; its steps' names find its tasks (`definition`
    and `scope` when the caller has them at hand)."""
    process, steps = definition if definition is not None else _definition(conn, inst)
    scope = scope if scope is not None else _node_name(conn, inst.scope_node_id)
    title = inst.title or process
    public = _redactor().text(title, inst.data or {}) or ""
    return _row(
        "instance",
        inst.id,
        title,
        public,
        f"{process} · {scope}",
        [title, process, scope],
        [public, process, scope],
        inst.started_at,
        inst.scope_node_id,
        steps,
        owner_id=inst.started_by_id,
    )


def _record_title(kind: str, data: dict[str, Any]) -> str:
    name = str(data.get("title") or data.get("subject") or "")
    if name == confidential.MARK:  # the administrator's view: named by its number instead
        name = ""
    if kind == "clue":
        return name or f"问题线索 {data.get('clue_no') or ''}".strip()
    where = data.get("branch_name") or data.get("unit_name") or ""
    if kind == "monthly_report":
        return f"{where} {data.get('period') or ''} 月度书面报告".strip()
    if kind == "quarterly_report":
        return f"{where} {data.get('year') or ''}年第{data.get('quarter') or ''}季度工作报告".strip()
    if kind == "quarterly_analysis":
        return f"{data.get('year') or ''}年第{data.get('quarter') or ''}季度综合研判"
    return name or REPORT_TITLES.get(kind, kind)


def record_row(r: Any) -> dict[str, Any] | None:
    """A clue or a report (other record kinds are not searched)."""
    if r.kind != "clue" and r.kind not in REPORT_KINDS:
        return None
    data = r.data or {}
    shown = _redactor().record(data, r.confidential)
    title, public = _record_title(r.kind, data), _record_title(r.kind, shown)
    kind_title = "问题线索" if r.kind == "clue" else REPORT_TITLES[r.kind]
    where = str(data.get("branch_name") or data.get("unit_name") or "")
    return _row(
        "clue" if r.kind == "clue" else "report",
        r.id,
        title,
        public,
        f"{kind_title} · {where}" if where else kind_title,
        [title, kind_title, *_strings(data)],
        [public, kind_title, *_strings(shown)],
        r.updated_at,
        r.node_id,
        secret=r.confidential,
    )


def post_row(conn: Connection, post: Any, node: str | None = None) -> dict[str, Any]:
    own = [post.title, post.body]
    node = node if node is not None else _node_name(conn, post.node_id)
    return _row("post", post.id, post.title, post.title, node, own, own, post.created_at, post.audience_node_id)


def person_row(user: Any) -> dict[str, Any]:
    own = [user.display_name, user.username]
    return _row("person", user.id, user.display_name, user.display_name, "", own, own, user.created_at, None)


# ---- writing entries ---------------------------------------------------------------------------------------

_TABLE = cast(Table, SearchEntry.__table__)


def _sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


_INSERT = _TABLE.insert().returning(_TABLE.c.id)
_INSERT_MANY = _TABLE.insert().returning(_TABLE.c.id, sort_by_parameter_order=True)  # ids in the rows' order
_BUFFER = "sanji.search_rows"  # in the connection's info while `buffered` collects new entries


def put(conn: Connection, row: dict[str, Any], fresh: bool = False) -> None:
    """Insert or replace the entry of (source, ref_id), and its full-text row on SQLite; `fresh`:
    the source row was just inserted, so no entry exists yet."""
    if fresh and _BUFFER in conn.info:
        conn.info[_BUFFER].append(row)
        return
    old = (
        None
        if fresh
        else conn.execute(
            select(SearchEntry.id).where(SearchEntry.source == row["source"], SearchEntry.ref_id == row["ref_id"])
        ).scalar()
    )
    if old is None:
        entry_id = conn.execute(_INSERT, row).scalar_one()
    else:
        entry_id = old
        conn.execute(_TABLE.update().where(_TABLE.c.id == old).values(**row))
    if _sqlite(conn):
        conn.exec_driver_sql("DELETE FROM search_fts WHERE rowid = ?", (entry_id,))
        conn.exec_driver_sql("INSERT INTO search_fts(rowid, grams) VALUES (?, ?)", (entry_id, row["grams"]))


@contextmanager
def buffered(conn: Connection) -> Iterator[None]:
    """The entries of the rows inserted inside the block, written with one statement when it ends
    (a batch of child instances: one insert instead of one per child). An exception discards
    them with the work that made them; the caller rolls that back."""
    if _BUFFER in conn.info:
        yield
        return
    rows: list[dict[str, Any]] = []
    conn.info[_BUFFER] = rows
    try:
        yield
    finally:
        conn.info.pop(_BUFFER, None)
    if not rows:
        return
    ids = conn.execute(_INSERT_MANY, rows).scalars().all()
    if _sqlite(conn):
        conn.exec_driver_sql(
            "INSERT INTO search_fts(rowid, grams) VALUES (?, ?)", [(i, r["grams"]) for i, r in zip(ids, rows)]
        )


def drop(conn: Connection, source: str, ref_id: int) -> None:
    entry_id = conn.execute(
        select(SearchEntry.id).where(SearchEntry.source == source, SearchEntry.ref_id == ref_id)
    ).scalar()
    if entry_id is None:
        return
    conn.execute(delete(SearchEntry).where(SearchEntry.id == entry_id))
    if _sqlite(conn):
        conn.exec_driver_sql("DELETE FROM search_fts WHERE rowid = ?", (entry_id,))


def put_instance(conn: Connection, inst: ProcessInstance) -> None:
    """The runtime renamed an instance with a Core UPDATE (engine/core/loop.py): index its new title."""
    put(conn, instance_row(conn, inst))


def rebuild(conn: Connection) -> int:
    """Index every source again from scratch (idempotent); the number of entries. Reads only the
    columns it needs (Core), so that a migration may call it whatever columns come later."""
    conn.execute(delete(SearchEntry))
    P, R, B, U, D = ProcessInstance, Record, BulletinPost, User, ProcessDefinition
    nodes: dict[str, str] = {i: n for i, n in conn.execute(select(OrgNode.id, OrgNode.name))}
    defs = {i: _steps(n, info) for i, n, info in conn.execute(select(D.id, D.name, D.info))}
    rows: list[dict[str, Any]] = []
    for inst in conn.execute(
        select(P.id, P.definition_id, P.title, P.data, P.scope_node_id, P.started_by_id, P.started_at)
    ):
        rows.append(instance_row(conn, inst, defs.get(inst.definition_id, ("", [])), nodes.get(inst.scope_node_id)))
    kinds = ("clue", *REPORT_KINDS)
    for r in conn.execute(
        select(R.id, R.kind, R.data, R.confidential, R.updated_at, R.node_id).where(R.kind.in_(kinds))
    ):
        row = record_row(r)
        if row is not None:
            rows.append(row)
    for post in conn.execute(select(B.id, B.title, B.body, B.node_id, B.audience_node_id, B.created_at)):
        rows.append(post_row(conn, post, nodes.get(post.node_id)))
    for user in conn.execute(select(U.id, U.display_name, U.username, U.created_at)):
        rows.append(person_row(user))
    for start in range(0, len(rows), 1000):
        conn.execute(_TABLE.insert(), rows[start : start + 1000])
    if _sqlite(conn):
        conn.exec_driver_sql("DELETE FROM search_fts")
        conn.exec_driver_sql("INSERT INTO search_fts(rowid, grams) SELECT id, grams FROM search_entry")
    return len(rows)


# ---- kept in the same transaction as the change (ORM writes) ------------------------------------------------


@event.listens_for(ProcessInstance, "after_insert")
def _instance_started(_mapper: Mapper[Any], conn: Connection, inst: ProcessInstance) -> None:
    put(conn, instance_row(conn, inst), fresh=True)


@event.listens_for(Record, "after_insert")
@event.listens_for(Record, "after_update")
def _record_saved(_mapper: Mapper[Any], conn: Connection, r: Record) -> None:
    row = record_row(r)
    if row is not None:
        put(conn, row)


@event.listens_for(Record, "after_delete")
def _record_deleted(_mapper: Mapper[Any], conn: Connection, r: Record) -> None:
    drop(conn, "clue" if r.kind == "clue" else "report", r.id)


@event.listens_for(BulletinPost, "after_insert")
@event.listens_for(BulletinPost, "after_update")
def _post_saved(_mapper: Mapper[Any], conn: Connection, post: BulletinPost) -> None:
    put(conn, post_row(conn, post))


@event.listens_for(BulletinPost, "after_delete")
def _post_deleted(_mapper: Mapper[Any], conn: Connection, post: BulletinPost) -> None:
    drop(conn, "post", post.id)


@event.listens_for(User, "after_insert")
def _person_added(_mapper: Mapper[Any], conn: Connection, user: User) -> None:
    put(conn, person_row(user), fresh=True)


@event.listens_for(User, "after_update")
def _person_saved(_mapper: Mapper[Any], conn: Connection, user: User) -> None:
    # a user row changes at every sign-in and grant; the entry only when what it indexes changed
    state = inspect(user)
    if state.attrs.display_name.history.has_changes() or state.attrs.username.history.has_changes():
        put(conn, person_row(user))


@event.listens_for(User, "after_delete")
def _person_deleted(_mapper: Mapper[Any], conn: Connection, user: User) -> None:
    drop(conn, "person", user.id)
