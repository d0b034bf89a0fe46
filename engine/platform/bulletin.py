"""The linkage bulletin (通知公告 / 经验交流): the durable, searchable counterpart of the
linkage chat group, with read receipts per unit.

Who may post, pin, change and see receipts is engine/org/policy.py's rule. Anyone holding a
role in the organisation posts for one of their org nodes; notices (通知公告)
come from committees. A post's audience is the whole organisation (the group node) or one
unit (its committee, branches and departments, plus the group committee above it). Search is
a case-insensitive LIKE on title and body, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import Invalid, NotFound, field_error
from engine.models import OrgNode, RoleAssignment, User
from engine.org import nodes as org
from engine.org import policy
from engine.org.nodes import Principal
from engine.platform.models import BulletinPost, BulletinRead

KINDS = {"notice": "通知公告", "experience": "经验交流", "study": "学习资料", "work": "工作信息"}
MAX_TITLE = 200
MAX_BODY = 50_000


def unit_of(node: OrgNode) -> str | None:
    return node.id if node.tier == "unit" else node.parent_id if node.tier == "branch" else None


def visible_clause(session: Session, p: Principal) -> ColumnElement[bool]:
    """Posts `p` may read: the organisation-wide ones, those for p's units, all for the group
    committee and admins."""
    audiences = policy.bulletin_audiences(p, org.group_root(session).id)
    if audiences is None:
        return BulletinPost.deleted_at.is_(None)
    return and_(BulletinPost.deleted_at.is_(None), BulletinPost.audience_node_id.in_(audiences))


def get(session: Session, p: Principal, post_id: int) -> BulletinPost:
    post = session.scalars(select(BulletinPost).where(BulletinPost.id == post_id, visible_clause(session, p))).first()
    if post is None:
        raise NotFound("bulletin post {post_id} does not exist", post_id=post_id)
    return post


def search(
    session: Session, p: Principal, text: str | None = None, kind: str | None = None, unread: bool = False
) -> Select[BulletinPost]:
    q = select(BulletinPost).where(visible_clause(session, p))
    if kind:
        if kind not in KINDS:
            raise Invalid.on("kind", "one of {kinds}", kinds=", ".join(KINDS))
        q = q.where(BulletinPost.kind == kind)
    if text and text.strip():
        for word in text.split()[:5]:
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            q = q.where(
                or_(BulletinPost.title.ilike(pattern, escape="\\"), BulletinPost.body.ilike(pattern, escape="\\"))
            )
    if unread:
        q = q.where(~BulletinPost.id.in_(select(BulletinRead.post_id).where(BulletinRead.user_id == p.id)))
    return q.order_by(BulletinPost.pinned.desc(), BulletinPost.created_at.desc(), BulletinPost.id.desc())


def _text(data: dict[str, Any], name: str, limit: int, required: bool) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Invalid.on(name, "required text of at most {limit} characters", limit=limit)
    return value.strip()


def _require_texts(data: dict[str, Any]) -> None:
    """Refuse a post whose title and body are both missing or too long, naming both fields."""
    bad = [
        field_error(name, "required text of at most {limit} characters", limit=limit)
        for name, limit in (("title", MAX_TITLE), ("body", MAX_BODY))
        if not isinstance(data.get(name), str) or not data[name].strip() or len(data[name]) > limit
    ]
    if len(bad) > 1:
        raise Invalid("required text of at most {limit} characters", bad, limit=MAX_TITLE)


def create(session: Session, p: Principal, data: dict[str, Any], now: datetime) -> BulletinPost:
    unknown = sorted(set(data) - {"kind", "title", "body", "node_id", "audience_node_id", "pinned"})
    if unknown:
        raise Invalid.on(unknown[0], "unknown field")
    kind = data.get("kind", "experience")
    if kind not in KINDS:
        raise Invalid.on("kind", "one of {kinds} ({labels})", kinds=", ".join(KINDS), labels="、".join(KINDS.values()))
    _require_texts(data)  # every missing field at once, not the first only
    title = _text(data, "title", MAX_TITLE, True)
    text = _text(data, "body", MAX_BODY, True)
    policy.require_poster(p)
    mine = {r.node_id: r for r in p.roles if r.node_id}
    node_id = data.get("node_id")
    if node_id is None:
        if len(mine) > 1:
            raise Invalid.on(
                "node_id", "you hold roles on several org nodes: choose one of {mine}", mine=", ".join(sorted(mine))
            )
        node_id = next(iter(mine))
    if node_id not in mine:
        raise Invalid.on("node_id", "you may post only for an org node you hold a role on")
    node = session.get(OrgNode, node_id)
    assert node is not None
    if kind == "notice":
        policy.require_notice(p, node_id)
    group = org.group_root(session)
    audience_id = data.get("audience_node_id") or group.id
    audience = session.get(OrgNode, audience_id) if isinstance(audience_id, str) else None
    if audience is None or audience.tier not in ("group", "unit"):
        raise Invalid.on("audience_node_id", "the group (everyone) or one unit")
    if audience.tier == "unit" and audience.id != unit_of(node) and node.tier != "group":
        raise Invalid.on("audience_node_id", "a unit or branch posts for everyone or for its own unit")
    pinned = data.get("pinned", False)
    if not isinstance(pinned, bool):
        raise Invalid.on("pinned", "true or false")
    if pinned:
        policy.require_pin(p)
    post = BulletinPost(
        kind=kind,
        title=title,
        body=text,
        node_id=node.id,
        audience_node_id=audience.id,
        author_id=p.id,
        pinned=pinned,
        created_at=now,
        updated_at=now,
    )
    session.add(post)
    session.flush()
    return post


def change(session: Session, p: Principal, post: BulletinPost, data: dict[str, Any], now: datetime) -> BulletinPost:
    unknown = sorted(set(data) - {"title", "body", "kind", "pinned"})
    if unknown:
        raise Invalid.on(unknown[0], "unknown field")
    editing = {"title", "body", "kind"} & set(data)
    if editing:
        policy.require_change_post(p, post.author_id)
    if "pinned" in data:
        if not isinstance(data["pinned"], bool):
            raise Invalid.on("pinned", "true or false")
        policy.require_pin(p)
        post.pinned = data["pinned"]
    if "kind" in data:
        if data["kind"] not in KINDS:
            raise Invalid.on("kind", "one of {kinds}", kinds=", ".join(KINDS))
        if data["kind"] == "notice" and post.kind != "notice":
            policy.require_notice(p, post.node_id)
        post.kind = data["kind"]
    post.title = _text(data, "title", MAX_TITLE, False) or post.title
    post.body = _text(data, "body", MAX_BODY, False) or post.body
    post.updated_at = now
    session.flush()
    return post


def delete(session: Session, p: Principal, post: BulletinPost, now: datetime) -> None:
    policy.require_delete_post(p, post.author_id)
    post.deleted_at = now


def mark_read(session: Session, p: Principal, post: BulletinPost, now: datetime) -> bool:
    """Record that `p` read the post (once); returns True the first time."""
    if session.get(BulletinRead, (post.id, p.id)) is not None:
        return False
    units = sorted(
        {
            r.node_id if r.tier == "unit" else (r.path or "").strip("/").split("/")[1]
            for r in p.roles
            if r.tier in ("unit", "branch") and r.node_id
        }
    )
    session.add(BulletinRead(post_id=post.id, user_id=p.id, unit_id=units[0] if units else None, read_at=now))
    session.flush()
    return True


def _people_by_unit(session: Session) -> dict[str | None, set[int]]:
    """Active users with a role in each unit's subtree (None: the group committee)."""
    out: dict[str | None, set[int]] = {}
    for user_id, tier, node_id, parent in session.execute(
        select(RoleAssignment.user_id, OrgNode.tier, OrgNode.id, OrgNode.parent_id)
        .join(OrgNode, OrgNode.id == RoleAssignment.node_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(User.active.is_(True))
    ):
        key = None if tier == "group" else node_id if tier == "unit" else parent
        out.setdefault(key, set()).add(user_id)
    return out


def receipts(session: Session, p: Principal, post: BulletinPost) -> dict[str, Any]:
    """Who read the post, per unit: counts for everyone who sees it; names for the author, the
    group committee and admins, and for a unit committee its own unit's readers."""
    reads = session.execute(
        select(BulletinRead, User.username, User.display_name)
        .join(User, User.id == BulletinRead.user_id)
        .where(BulletinRead.post_id == post.id)
        .order_by(BulletinRead.read_at)
    ).all()
    people = _people_by_unit(session)
    all_names = policy.sees_reader_names(p, post.author_id)
    own_units = policy.bulletin_reader_units(p)
    audience = session.get(OrgNode, post.audience_node_id)
    units = [n for n in org.units(session) if audience is None or audience.tier == "group" or n.id == audience.id]
    group = org.group_root(session)
    rows = []
    for node_id, name in [(None, group.name)] + [(u.id, u.name) for u in units]:
        readers = [
            (r, username, display)
            for r, username, display in reads
            if (r.unit_id == node_id if node_id is not None else r.unit_id is None)
        ]
        row: dict[str, Any] = {
            "unit_id": node_id,
            "name": name,
            "people": len(people.get(node_id, set())),
            "read": len(readers),
            "has_read": bool(readers),
        }
        if all_names or (node_id is not None and node_id in own_units):
            row["readers"] = [
                {"username": u, "display_name": d, "read_at": r.read_at.isoformat()} for r, u, d in readers
            ]
        rows.append(row)
    return {
        "post_id": post.id,
        "total_read": len(reads),
        "units_read": sum(1 for r in rows if r["unit_id"] and r["has_read"]),
        "units": rows,
    }


def post_json(session: Session, p: Principal, post: BulletinPost, full: bool = False) -> dict[str, Any]:
    author = session.get(User, post.author_id)
    node = session.get(OrgNode, post.node_id)
    read = session.get(BulletinRead, (post.id, p.id)) is not None
    count = session.scalar(select(func.count()).select_from(BulletinRead).where(BulletinRead.post_id == post.id))
    out = {
        "id": post.id,
        "kind": post.kind,
        "kind_name": KINDS[post.kind],
        "title": post.title,
        "excerpt": post.body[:120],
        "node_id": post.node_id,
        "node_name": node.name if node else None,
        "audience_node_id": post.audience_node_id,
        "author": author.username if author else None,
        "author_name": author.display_name if author else None,
        "pinned": post.pinned,
        "created_at": post.created_at.isoformat(),
        "updated_at": post.updated_at.isoformat(),
        "read": read,
        "read_count": count or 0,
    }
    if full:
        out["body"] = post.body
    return out
