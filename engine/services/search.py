"""Search (issue 18 item 2) as the JSON API (`GET /api/v1/search`) and the page (`/search`) use it:
one query per kind over the index (engine/platform/search.py), each joined to its source row and
narrowed by the rule the kind's own list uses (engine/org/policy.py and the modules it names), so
a hit is never something the same person could not open:

| kind | source row | who finds it |
|---|---|---|
| task | `task` (+ its instance's entry) | `policy.tasks_visible`, as `GET /api/v1/tasks/{id}` |
| instance | `process_instance` | `policy.instances_visible`, as the tracing list |
| clue, report | `record` | `records.visible_clause`, as the registers |
| post | `bulletin_post` | `bulletin.visible_clause`, as the bulletin |
| person | `user_account` | `study.may_see_person` (its SQL twin here), as the profile page |

Each kind's rule is first applied over the index entry's copies of the row's columns (`_among`),
so candidates are narrowed before their rows are joined. A kind's newest hits are looked for
among its newest rows first (`_first`, `WINDOW`); totals are counted up to `COUNT_CAP` past the
page (docs/performance.md, "Search at the demo's size × 100").

The system administrator (三员分立) matches and reads only the texts with confidential values
replaced (`title_public`, `terms_public`): searching a clue's person finds nothing for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    String,
    and_,
    cast,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy import null as sql_null
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import True_

from engine.errors import Invalid, field_error
from engine.linkage import records
from engine.models import HumanTask, OrgNode, ProcessInstance, Record, RoleAssignment, User
from engine.org import confidential, policy
from engine.org.nodes import Principal
from engine.platform import bulletin
from engine.platform import search as index
from engine.platform.models import BulletinPost
from engine.platform.search import SearchEntry
from engine.services.paging import AnySelect, Page, PageRequest

KINDS = ("task", "instance", "clue", "report", "post", "person")
MAX_QUERY = 100
MAX_TERMS = 5
# hits counted past the page asked for: a search that finds more says so ("150+" on page 1 of 50) instead of
# counting them all
COUNT_CAP = 100
# a kind's newest hits are first looked for among its this many newest rows (`_first`)
WINDOW = 1000


@dataclass(frozen=True)
class SearchFilter:
    """The words (`q`, up to five, all must occur) and one kind, or every kind."""

    q: str
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise Invalid(
                "kind must be one of {allowed}",
                [field_error("kind", "must be one of {allowed}", "enum", allowed=", ".join(KINDS))],
                allowed=", ".join(KINDS),
            )
        if len(self.q) > MAX_QUERY:
            raise Invalid(
                "q must be at most {limit} characters",
                [field_error("q", "at most {limit} characters", limit=MAX_QUERY)],
                limit=MAX_QUERY,
            )
        if not self.terms:
            raise Invalid(
                "q must contain a word or a Chinese character to search for",
                [field_error("q", "a word or a Chinese character to search for", "required")],
            )

    @property
    def terms(self) -> list[str]:
        """The words as compared: normalized, each holding at least one letter, digit or character."""
        out = []
        for word in index.normalize(self.q).split():
            word = word.strip("".join(ch for ch in word if not (ch.isalnum() or index.is_cjk(ch))))
            if word and index.query_tokens(word):
                out.append(word)
        return list(dict.fromkeys(out))[:MAX_TERMS]


@dataclass
class Hit:
    """One result as the reader may see it; `ref` is the username of a person, the instance of a
    report (where its page is), the instance of a task."""

    kind: str
    id: int
    title: str
    detail: str
    at: datetime | None
    status: str | None
    ref: str | None
    confidential: bool


# ---- matching --------------------------------------------------------------------------------------------


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def matched(session: Session, f: SearchFilter, source: str, walk: bool = False) -> list[ColumnElement[bool]]:
    """SQL: the entries of `source` whose tokens hold the words' tokens (`index.match_tokens`;
    the full-text index; an entry's tokens name its source too), as conditions on
    `search_entry`. SQLite: FTS5, asked once as a list of ids; PostgreSQL: the GIN index on the
    stored `tsv` column (migration 0014); `walk`: the caller has narrowed the entries to a few
    newest ones, which PostgreSQL then checks one by one (the stored vector) instead of
    intersecting the index's long lists of common tokens (≈ 3 ms a kind)."""
    toks = [(index.source_token(source), False)]
    toks += list(dict.fromkeys(t for word in f.terms for t in index.match_tokens(word)))
    if session.get_bind().dialect.name == "sqlite":
        expr = " AND ".join(f'"{tok}"' + ("*" if prefix else "") for tok, prefix in toks)
        name = f"fts_{source}"  # one parameter per kind: the kinds' queries are parts of one UNION
        hits: Any = sql_text(f"SELECT rowid FROM search_fts WHERE search_fts MATCH :{name}")
        hits = hits.bindparams(**{name: expr})
        return [SearchEntry.id.in_(hits.columns(rowid=Integer))]
    query = " & ".join(f"'{tok}'" + (":*" if prefix else "") for tok, prefix in toks)
    simple: Any = literal_column("'simple'::regconfig")
    tsv: Any = literal_column("search_entry.tsv")
    if walk:  # not the indexed expression, so the planner reads the window's rows instead
        tsv = func.coalesce(tsv, literal_column("''::tsvector"))
    return [tsv.op("@@")(func.to_tsquery(simple, literal(query, String)))]


def contains_all(column: Any, f: SearchFilter) -> ColumnElement[bool]:
    """SQL: `column` (normalized text) contains every word as typed."""
    return and_(*(column.like(_like(word), escape="\\") for word in f.terms))


# ---- who finds what ----------------------------------------------------------------------------------------


def people_visible(p: Principal) -> ColumnElement[bool]:
    """SQL twin of engine/platform/study.py `may_see_person`: oneself, or someone holding a role in
    a unit (or a branch of a unit) whose people `p` oversees (`policy.study_units`)."""
    units = policy.study_units(p)
    if units is None:
        return true()
    if not units:
        return User.id == p.id
    in_units = (
        select(RoleAssignment.user_id)
        .join(OrgNode, OrgNode.id == RoleAssignment.node_id)
        .where(
            or_(
                and_(OrgNode.tier == "unit", OrgNode.id.in_(units)),
                and_(OrgNode.tier == "branch", OrgNode.parent_id.in_(units)),
            )
        )
    )
    return or_(User.id == p.id, User.id.in_(in_units))


def _columns(kind: str, id_: Any, title: Any, detail: Any, at: Any, status: Any, ref: Any, secret: Any) -> list[Any]:
    return [
        literal(KINDS.index(kind), Integer).label("rank"),
        literal(kind, String).label("kind"),
        id_.label("id"),
        cast(title, String).label("title"),
        cast(detail, String).label("detail"),
        at.label("at"),
        cast(status, String).label("status"),
        cast(ref, String).label("ref"),
        secret.label("confidential"),
    ]


_INSTANCE, _RECORD, _POST = ProcessInstance.__table__, Record.__table__, BulletinPost.__table__
# the source row's columns the index copies (engine/platform/search.py `_row`)
_INSTANCE_COPIES = {
    _INSTANCE.c.id: SearchEntry.ref_id,
    _INSTANCE.c.scope_node_id: SearchEntry.node_id,
    _INSTANCE.c.started_by_id: SearchEntry.owner_id,
}
_RECORD_COPIES = {
    _RECORD.c.id: SearchEntry.ref_id,
    _RECORD.c.node_id: SearchEntry.node_id,
    _RECORD.c.confidential: SearchEntry.confidential,
}
_POST_COPIES = {_POST.c.id: SearchEntry.ref_id, _POST.c.audience_node_id: SearchEntry.node_id}


def _among(source: Any, seen: ColumnElement[bool], copies: dict[Any, Any]) -> list[ColumnElement[bool]]:
    """The kind's own rule `seen` over the entry's copies of the source row's columns (`copies`:
    source column → entry column, engine/platform/search.py), so that the database narrows the
    candidate entries before it joins their rows. The rule itself is still applied to the joined
    row: this only narrows early, never widens. Nothing when the rule lets everything through or
    still needs another column of the source row."""
    if isinstance(seen, True_):
        return []
    mapping = {c: e.expression for c, e in copies.items()}

    def copy(element: Any, **_kw: Any) -> Any:
        return mapping.get(element)

    rule: Any = seen
    opts: dict[str, Any] = {}
    narrowed: ColumnElement[bool] = visitors.replacement_traverse(rule, opts, copy)
    if any(getattr(c, "table", None) is source for c in visitors.iterate(narrowed) if isinstance(c, Column)):
        return []
    return [narrowed]


def _edges(session: Session, kinds: list[str]) -> dict[str, Any]:
    """The time of each kind's `WINDOW`-th newest row (None: it has fewer), in one query."""
    cols = []
    for kind in kinds:
        if kind == "task":
            bound = select(HumanTask.created_at).order_by(HumanTask.created_at.desc())
        else:
            bound = select(SearchEntry.at).where(SearchEntry.source == kind).order_by(SearchEntry.at.desc())
        cols.append(bound.offset(WINDOW - 1).limit(1).scalar_subquery().label(kind))
    row = session.execute(select(*cols)).one()
    return dict(zip(kinds, row, strict=True))


def kind_query(session: Session, p: Principal, f: SearchFilter, kind: str, since: Any = None) -> AnySelect:
    """The hits of one kind that `p` may see (unordered); `since`: only those not older (a task
    created, an entry's time; see `_first`)."""
    admin = confidential.redacts(p)
    title = SearchEntry.title_public if admin else SearchEntry.title
    terms = SearchEntry.terms_public if admin else SearchEntry.terms
    entries = SearchEntry.__table__
    found = matched(session, f, "instance" if kind == "task" else kind, since is not None)
    no = sql_null()
    if kind == "task":
        own = func.lower(HumanTask.name) + " " + terms
        return (
            select(
                *_columns(
                    kind,
                    HumanTask.id,
                    HumanTask.name,
                    title,
                    HumanTask.created_at,
                    HumanTask.status,
                    HumanTask.instance_id,
                    false(),
                )
            )
            .select_from(entries)
            .join(HumanTask, HumanTask.instance_id == SearchEntry.ref_id)
            .where(
                SearchEntry.source == "instance",
                *found,
                *([HumanTask.created_at >= since] if since is not None else []),
                contains_all(own, f),
                policy.tasks_visible(p),
            )
        )
    hit = [*found, *([SearchEntry.at >= since] if since is not None else []), contains_all(terms, f)]
    if kind == "instance":
        # the copies of an instance's columns never go stale (its id, scope and starter are set
        # when it starts), so the rule over them is the rule itself: asked once, not twice
        seen = policy.instances_visible(p, by_set=True)
        cols = _columns(
            kind, ProcessInstance.id, title, SearchEntry.detail, SearchEntry.at, ProcessInstance.status, no, false()
        )
        return (
            select(*cols)
            .select_from(entries)
            .join(ProcessInstance, ProcessInstance.id == SearchEntry.ref_id)
            .where(SearchEntry.source == "instance", *hit, *(_among(_INSTANCE, seen, _INSTANCE_COPIES) or [seen]))
        )
    if kind in ("clue", "report"):
        seen = records.visible_clause(p)
        cols = _columns(
            kind,
            Record.id,
            title,
            SearchEntry.detail,
            SearchEntry.at,
            Record.data["status"].as_string(),
            Record.instance_id,
            Record.confidential,
        )
        return (
            select(*cols)
            .select_from(entries)
            .join(Record, Record.id == SearchEntry.ref_id)
            .where(SearchEntry.source == kind, *hit, *_among(_RECORD, seen, _RECORD_COPIES), seen)
        )
    if kind == "post":
        seen = bulletin.visible_clause(session, p)
        cols = _columns(
            kind, BulletinPost.id, title, SearchEntry.detail, SearchEntry.at, BulletinPost.kind, no, false()
        )
        return (
            select(*cols)
            .select_from(entries)
            .join(BulletinPost, BulletinPost.id == SearchEntry.ref_id)
            .where(SearchEntry.source == "post", *hit, *_among(_POST, seen, _POST_COPIES), seen)
        )
    seen = people_visible(p)
    cols = _columns(kind, User.id, title, SearchEntry.detail, SearchEntry.at, no, User.username, false())
    return (
        select(*cols)
        .select_from(entries)
        .join(User, User.id == SearchEntry.ref_id)
        .where(SearchEntry.source == "person", *hit, seen)
    )


def _newest(q: AnySelect, n: int) -> AnySelect:
    """The newest `n` rows of one kind's query (its order within the results)."""
    cols = q.selected_columns
    sub = q.order_by(cols.at.desc(), cols.id.desc()).limit(n).subquery()
    return select(sub)


def list_query(session: Session, p: Principal, f: SearchFilter) -> AnySelect:
    """The one query of the results: by kind (tasks first), newest first within a kind."""
    kinds = [f.kind] if f.kind else list(KINDS)
    parts = [kind_query(session, p, f, k) for k in kinds]
    if len(parts) == 1:
        q = parts[0].subquery()
    else:
        q = parts[0].union_all(*parts[1:]).subquery()
    return select(q).order_by(q.c.rank, q.c.at.desc(), q.c.id.desc())


class _Queries:
    """The kinds' queries of one search (all rows, or only the newest: `since`), each built once."""

    def __init__(self, session: Session, p: Principal, f: SearchFilter) -> None:
        self.session, self.p, self.f = session, p, f
        self.built: dict[tuple[str, bool], AnySelect] = {}

    def __call__(self, kind: str, since: Any) -> AnySelect:
        key = (kind, since is not None)
        if key not in self.built:
            self.built[key] = kind_query(self.session, self.p, self.f, kind, since)
        return self.built[key]


def _newest_query(q: _Queries, kinds: list[str], n: int, since: dict[str, Any]) -> Any:
    """Each kind's newest `n` hits (`since`: among its rows not older than that), one UNION."""
    parts = [_newest(q(k, since.get(k)), n) for k in kinds]
    return parts[0] if len(parts) == 1 else parts[0].union_all(*parts[1:])


@dataclass
class _First:
    """The first hits of each kind; `exact`: how many hits the kinds have that were asked over all
    their rows and found fewer than asked for; `dense`: the kinds whose newest rows gave enough."""

    rows: list[Any]
    exact: dict[str, int]
    dense: set[str]


def _first(q: _Queries, n: int, edges: dict[str, Any]) -> _First:
    """The first `n` hits of each kind (of `f.kind`, or of every kind), ordered as `list_query`
    orders them. A kind's newest hits are asked for first among its `WINDOW` newest rows (those
    not older than `edges[kind]`, `_edges`: a bounded walk, which a common word fills at once);
    only the kinds that found fewer there are asked again over all their rows (the full-text
    index: a rare word has few candidates)."""
    kinds = [q.f.kind] if q.f.kind else list(KINDS)
    recent = {k: edges[k] for k in kinds if edges.get(k) is not None}
    rows: list[Any] = []
    if recent:
        rows = list(q.session.execute(_newest_query(q, list(recent), n, recent)).all())
    got = {k: sum(1 for r in rows if r.kind == k) for k in kinds}
    again = [k for k in kinds if got[k] < n]
    exact: dict[str, int] = {}
    if again:
        rows = [r for r in rows if r.kind not in again]
        more = q.session.execute(_newest_query(q, again, n, {})).all()
        rows += more
        exact = {k: c for k in again if (c := sum(1 for r in more if r.kind == k)) < n}
    rows.sort(key=lambda r: (r.at.timestamp() if r.at is not None else float("-inf"), r.id), reverse=True)
    rows.sort(key=lambda r: r.rank)
    return _First(rows, exact, {k for k in kinds if k not in again})


def _counts(q: _Queries, kinds: list[str], cap: int, edges: dict[str, Any], first: _First) -> dict[str, int]:
    """How many hits each kind has, counting at most `cap` + 1 of each (the database stops
    there): known from `first` when a kind had fewer than asked for; first among the newest rows
    (`edges`) of the kinds that filled their page there; then, for the kinds with no more than
    `cap` there, over all their rows."""

    def count(which: list[str], since: dict[str, Any]) -> dict[str, int]:
        parts = [
            select(literal(k, String).label("kind"), func.count().label("n")).select_from(
                q(k, since.get(k)).limit(cap + 1).subquery()
            )
            for k in which
        ]
        query = parts[0].union_all(*parts[1:]) if len(parts) > 1 else parts[0]
        return {k: n for k, n in q.session.execute(query)}

    out = {k: first.exact[k] for k in kinds if k in first.exact}
    recent = {k: edges[k] for k in kinds if k in first.dense and edges.get(k) is not None}
    if recent:
        out.update(count(list(recent), recent))
    rest = [k for k in kinds if k not in first.exact and out.get(k, 0) <= cap]
    if rest:
        out.update(count(rest, {}))
    return out


def _hit(row: Any) -> Hit:
    return Hit(row.kind, row.id, row.title, row.detail or "", row.at, row.status, row.ref, bool(row.confidential))


def search(session: Session, p: Principal, f: SearchFilter, req: PageRequest) -> Page[Hit]:
    """One page of what `p` finds for `f`. The total counts at most `COUNT_CAP` hits past this
    page; when there are more, it is that bound and `extra["more"]` is true (shown as "550+")."""
    kinds = [f.kind] if f.kind else list(KINDS)
    edges = _edges(session, kinds)
    q = _Queries(session, p, f)
    first = _first(q, req.offset + req.per_page, edges)
    rows = first.rows[req.offset : req.offset + req.per_page]
    more = False
    if (rows or req.page == 1) and len(rows) < req.per_page:
        total = req.offset + len(rows)
    else:
        bound = req.offset + COUNT_CAP
        total = sum(_counts(q, kinds, bound, edges, first).values())
        more = total > bound
        total = min(total, bound)
    page: Page[Any] = Page(rows, total, req.page, req.per_page, {"more": more})
    return page.map(_hit)


@dataclass
class Group:
    """The first hits of one kind and how many there are (`more`: more than `total`)."""

    kind: str
    total: int
    hits: list[Hit]
    more: bool = False


def overview(session: Session, p: Principal, q: str, per_kind: int = 5) -> list[Group]:
    """The search page without a kind: the first `per_kind` hits of every kind that has any; the
    kinds with that many are counted (at most `COUNT_CAP`)."""
    queries = _Queries(session, p, SearchFilter(q))
    edges = _edges(session, list(KINDS))
    hits: dict[str, list[Hit]] = {}
    first = _first(queries, per_kind, edges)
    for row in first.rows:
        hits.setdefault(row.kind, []).append(_hit(row))
    full = [k for k in KINDS if len(hits.get(k, ())) >= per_kind]
    counts = _counts(queries, full, COUNT_CAP, edges, first) if full else {}
    out = []
    for kind in KINDS:
        if kind in hits:
            n = counts.get(kind, len(hits[kind]))
            out.append(Group(kind, min(n, COUNT_CAP), hits[kind], n > COUNT_CAP))
    return out
