"""The bulletin (通知公告 / 经验交流) as the JSON API (`/api/v1/bulletin`) and the bulletin pages
(`/bulletin`) list and change it: one filter, one query (engine/platform/bulletin.py `search`, its
visibility rule from engine/org/policy.py), one pager; each command commits or rolls back here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.infra import events
from engine.org.nodes import Principal
from engine.platform import bulletin
from engine.platform.models import BulletinPost, BulletinRead
from engine.services.paging import AnySelect, Page, PageRequest, fetch


@dataclass(frozen=True)
class BulletinFilter:
    """Search words in title and body, one kind (bulletin.KINDS), only the posts `p` has not read."""

    text: str | None = None
    kind: str | None = None
    unread: bool = False


def list_query(session: Session, p: Principal, f: BulletinFilter) -> AnySelect:
    """The one query of the post list: pinned first, newest first (422 on an unknown kind)."""
    return bulletin.search(session, p, f.text, f.kind, f.unread)


def list_posts(session: Session, p: Principal, f: BulletinFilter, req: PageRequest) -> Page[dict[str, Any]]:
    """One page of the posts `p` reads, each as `bulletin.post_json` (what both sides render)."""
    return fetch(session, list_query(session, p, f), req).map(lambda r: bulletin.post_json(session, p, r[0]))


def unread_count(session: Session, p: Principal) -> int:
    q = list_query(session, p, BulletinFilter(unread=True)).order_by(None)
    return session.scalar(select(func.count()).select_from(q.subquery())) or 0


def _committed(session: Session, fn: Any) -> Any:
    try:
        out = fn()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return out


@dataclass(frozen=True)
class PostCommand:
    """A new post: the fields of `bulletin.create` (kind, title, body, node_id, audience_node_id,
    pinned); `read_by_author`: the author's own read receipt is written with it (the pages)."""

    data: dict[str, Any] = field(default_factory=dict)
    read_by_author: bool = False


def create(session: Session, p: Principal, cmd: PostCommand, now: datetime) -> dict[str, Any]:
    """Post and log `bulletin_posted`; the post as JSON (with its text)."""

    def run() -> dict[str, Any]:
        post = bulletin.create(session, p, dict(cmd.data), now)
        events.log(
            session,
            now,
            "bulletin_posted",
            actor=p,
            payload={"post_id": post.id, "kind": post.kind, "title": post.title, "audience": post.audience_node_id},
        )
        if cmd.read_by_author:
            bulletin.mark_read(session, p, post, now)
        return bulletin.post_json(session, p, post, full=True)

    return _committed(session, run)


def change(
    session: Session, p: Principal, post_id: int, data: dict[str, Any], now: datetime, log: bool = False
) -> dict[str, Any]:
    """Change kind, title, text or the pin (policy: author; group committee pins); `log`: record
    `bulletin_changed` with what it was before (the edit page)."""

    def run() -> dict[str, Any]:
        item = bulletin.get(session, p, post_id)
        before = {"kind": item.kind, "title": item.title}
        bulletin.change(session, p, item, dict(data), now)
        if log:
            events.log(
                session,
                now,
                "bulletin_changed",
                actor=p,
                payload={"post_id": item.id, "kind": item.kind, "title": item.title, "before": before},
            )
        return bulletin.post_json(session, p, item, full=True)

    return _committed(session, run)


def toggle_pin(session: Session, p: Principal, post_id: int, now: datetime) -> None:
    item = bulletin.get(session, p, post_id)
    change(session, p, item.id, {"pinned": not item.pinned}, now)


def delete(session: Session, p: Principal, post_id: int, now: datetime) -> None:
    """Delete (author or admin) and log `bulletin_deleted`."""

    def run() -> None:
        item = bulletin.get(session, p, post_id)
        bulletin.delete(session, p, item, now)
        events.log(session, now, "bulletin_deleted", actor=p, payload={"post_id": post_id, "title": item.title})

    _committed(session, run)


def read(session: Session, p: Principal, post_id: int, now: datetime) -> bool:
    """Record `p`'s read receipt (once); True the first time."""
    return bool(_committed(session, lambda: bulletin.mark_read(session, p, bulletin.get(session, p, post_id), now)))


def has_read(session: Session, p: Principal, post: BulletinPost) -> bool:
    return session.get(BulletinRead, (post.id, p.id)) is not None
