"""One pager for the JSON API and the pages: a page number and size in, one page of rows and
the total out. The API renders it as `{"items", "total", "page", "per_page"}`, the pages as
previous/next links (api/web/helpers.py `pager`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    # a SELECT of any columns (SQLAlchemy 2.1 types a Select by each of its columns)
    AnySelect: TypeAlias = Select[*tuple[Any, ...]]
else:
    AnySelect = Select

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class PageRequest:
    """Which page: 1-based number and rows per page (the adapters parse and bound them)."""

    page: int = 1
    per_page: int = 50

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass
class Page(Generic[T]):
    """One page of a list and the size of the whole list."""

    items: list[T]
    total: int
    page: int
    per_page: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def map(self, fn: Callable[[T], U]) -> Page[U]:
        return Page([fn(i) for i in self.items], self.total, self.page, self.per_page, self.extra)


def fetch(session: Session, query: AnySelect, req: PageRequest) -> Page[Any]:
    """One page of `query` (its rows) with the total. The page is read first: when it is the last
    one (some rows, fewer than asked for, or an empty first page) the total follows from it, and
    the COUNT query — a second pass over the same rows — only runs when more pages may follow."""
    rows = list(session.execute(query.limit(req.per_page).offset(req.offset)).all())
    if (rows or req.page == 1) and len(rows) < req.per_page:
        total = req.offset + len(rows)
    else:
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return Page(rows, total, req.page, req.per_page)
