"""Attachments: upload, who may read one, binding on task completion, the purge of unbound uploads.

Who may read an attachment (`readable`): its uploader; and whoever may see a task, an instance,
a record, a unit meeting or a zone activity it is bound to — the rules of the task page (`routing.task_visible_clause`), of
tracing an instance (`routing.instance_visible_clause`) and of the registers
(`records.visible_clause`). An attachment bound through a confidential form field or to a
confidential record (a clue) is confidential: readers whose view is redacted (the system
administrator, engine/org/confidential.py) never get it. Everyone else gets 404, as for an id
that does not exist.

Binding (`bind_completed`, called once by the runtime's completion): the values of the form's
`"format": "attachment"` fields (or arrays of them, at any depth) must be ids of attachments the
completing person uploaded or may already read; they are bound to the task, its instance and the
records the completion wrote.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.orm import Session, aliased

from engine.errors import Invalid, NotFound, TooLarge, field_error
from engine.infra import events
from engine.linkage.records import visible_clause as record_visible_clause
from engine.models import HumanTask, ProcessInstance, Record, User
from engine.org.confidential import confidential_keys, redacts
from engine.org.nodes import Principal
from engine.org.routing import instance_visible_clause, task_visible_clause
from engine.platform.attachments import sniff
from engine.platform.attachments.models import Attachment, AttachmentLink
from engine.platform.attachments.store import DEFAULT, BlobStore
from engine.platform.meetings.models import UnitMeeting, ZoneActivity
from engine.platform.meetings.rules import activities_visible, meetings_visible

MB = 1024 * 1024
UNBOUND_TTL = timedelta(days=1)
FORMAT = "attachment"
UPLOADED, DOWNLOADED, PURGED, BOUND = (
    "attachment_uploaded",
    "attachment_downloaded",
    "attachments_purged",
    "attachments_bound",
)


# ---- upload ------------------------------------------------------------------------------------------


@dataclass
class Received:
    """A file received to a seekable spool, hashed and counted on the way."""

    file: IO[bytes]
    size: int
    sha256: str


def receive(source: IO[bytes], limit: int, spool: IO[bytes] | None = None, block: int = 64 * 1024) -> Received:
    """Count and hash `source` as it streams, copying it to `spool` (or, without one, reading the
    seekable `source` in place): `TooLarge` as soon as it passes `limit` bytes, whatever the
    request's Content-Length said."""
    digest, size = hashlib.sha256(), 0
    while True:
        data = source.read(block)
        if not data:
            break
        size += len(data)
        if size > limit:
            raise too_large(limit)
        digest.update(data)
        if spool is not None:
            spool.write(data)
    if spool is not None:
        spool.flush()
        source = spool
    source.seek(0)
    return Received(source, size, digest.hexdigest())


def too_large(limit: int) -> TooLarge:
    return TooLarge("file: an attachment may be at most {mb} MB", [field_error("file", "too large")], mb=limit // MB)


def store(
    session: Session, got: Received, name: str | None, actor: Principal, now: datetime, blobs: BlobStore = DEFAULT
) -> Attachment:
    """Check the content's type and keep the file (unbound) for `actor`; the caller commits."""
    if got.size == 0:
        raise Invalid("file: the file is empty", [field_error("file", "empty")])
    kind = sniff.content_type(got.file)
    blobs.put(session, got.sha256, got.size, got.file, now)
    att = Attachment(
        id=secrets.token_hex(16),
        name=sniff.clean_name(name),
        size=got.size,
        sha256=got.sha256,
        content_type=kind,
        uploaded_by_id=actor.id,
        created_at=now,
        bound_at=None,
        confidential=False,
    )
    session.add(att)
    session.flush()
    events.log(
        session,
        now,
        UPLOADED,
        actor=actor,
        payload={"attachment_id": att.id, "size": att.size, "sha256": att.sha256, "content_type": att.content_type},
    )
    return att


def as_dict(att: Attachment, uploader: str | None = None) -> dict[str, Any]:
    out = {
        "id": att.id,
        "name": att.name,
        "size": att.size,
        "sha256": att.sha256,
        "content_type": att.content_type,
        "created_at": att.created_at.isoformat(),
    }
    if uploader is not None:
        out["uploaded_by"] = uploader
    return out


# ---- who may read ------------------------------------------------------------------------------------


def readable_clause(p: Principal) -> Any:
    """SQL: the attachments `p` may read (see the module's docstring)."""
    link = AttachmentLink
    # correlated (a primary-key look-up per link), not `IN (every task p may see)`
    through = or_(
        and_(link.kind == "task", exists().where(HumanTask.id == link.target_id, task_visible_clause(p))),
        and_(link.kind == "instance", exists().where(ProcessInstance.id == link.target_id, instance_visible_clause(p))),
        and_(link.kind == "record", exists().where(Record.id == link.target_id, record_visible_clause(p))),
        # unit meetings' materials and zone activities' files (engine/platform/meetings)
        and_(link.kind == "meeting", exists().where(UnitMeeting.id == link.target_id, meetings_visible(p))),
        and_(link.kind == "zone_activity", exists().where(ZoneActivity.id == link.target_id, activities_visible(p))),
    )
    bound = exists().where(link.attachment_id == Attachment.id, through)
    rule = or_(Attachment.uploaded_by_id == p.id, and_(Attachment.bound_at.is_not(None), bound))
    if redacts(p):
        rule = and_(rule, Attachment.confidential.is_(False))
    return rule


def readable(session: Session, p: Principal, attachment_id: str) -> Attachment:
    att = session.scalars(select(Attachment).where(Attachment.id == attachment_id, readable_clause(p))).first()
    if att is None:
        raise NotFound("attachment {id} does not exist", id=str(attachment_id)[:64])
    return att


def first_link(session: Session, att: Attachment) -> tuple[int | None, int | None]:
    """(instance_id, task_id) of what the attachment is bound to, for the download's event."""
    first: dict[str, int] = {}
    for kind, target in session.execute(
        select(AttachmentLink.kind, AttachmentLink.target_id)
        .where(AttachmentLink.attachment_id == att.id, AttachmentLink.kind.in_(("task", "instance")))
        .order_by(AttachmentLink.id)
    ):
        first.setdefault(kind, target)
    return first.get("instance"), first.get("task")


def download_event(att: Attachment, redacted: bool) -> dict[str, Any]:
    """The payload of the audited download (who and when are the event's own). No file name: a
    name may quote the case ("某某违纪举报.pdf"), and the auditor and the administrator read events."""
    return {
        "attachment_id": att.id,
        "size": att.size,
        "sha256": att.sha256,
        "content_type": att.content_type,
        "confidential": att.confidential,
        "redacted": redacted,
    }


def chunks(sessions: Any, att: Attachment, blobs: BlobStore = DEFAULT) -> Iterator[bytes]:
    return blobs.read(sessions, att.sha256)


def uploader_names(session: Session, atts: list[Attachment]) -> dict[int, str]:
    ids = {a.uploaded_by_id for a in atts}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def bound_to(session: Session, p: Principal, kind: str, target_id: int) -> list[Attachment]:
    """The attachments bound to one task, instance or record that `p` may read (for the pages)."""
    # an alias: joined as AttachmentLink itself, the clause's EXISTS over links would correlate to it
    link = aliased(AttachmentLink)
    return list(
        session.scalars(
            select(Attachment)
            .join(link, link.attachment_id == Attachment.id)
            .where(link.kind == kind, link.target_id == target_id, readable_clause(p))
            .order_by(Attachment.created_at, Attachment.id)
        )
    )


# ---- binding on completion -----------------------------------------------------------------------------


def field_values(
    schema: Any, data: Any, keys: frozenset[str], path: str = "", secret: bool = False
) -> Iterator[tuple[str, Any, bool]]:
    """(field path, value, confidential) of every attachment field of `schema` present in `data`;
    paths as the form's own errors name fields ("findings/0/photos")."""
    if not isinstance(schema, Mapping):
        return
    if schema.get("format") == FORMAT:
        yield path, data, secret
        return
    items = schema.get("items")
    if isinstance(data, list) and isinstance(items, Mapping):
        for i, value in enumerate(data):
            yield from field_values(items, value, keys, f"{path}/{i}", secret)
        return
    if isinstance(data, Mapping):
        for name, sub in (schema.get("properties") or {}).items():
            if name in data:
                yield from field_values(
                    sub,
                    data[name],
                    keys,
                    f"{path}/{name}" if path else str(name),
                    secret or name in keys or schema.get("x-confidential") is True,
                )


def bind_completed(
    session: Session,
    forms: Any,
    task: HumanTask,
    inst: ProcessInstance,
    data: dict[str, Any],
    actor: Principal,
    now: datetime,
) -> int:
    """Bind the attachments named in a completed task's form to the task, its instance and the
    records the completion wrote (this instance's records changed at or after `now`). An id that
    does not exist or that `actor` neither uploaded nor may read: 422 naming the field (the
    caller's transaction, the completion included, is rolled back). Returns how many."""
    if not task.form_key or not data:
        return 0
    schema = forms.schema(task.form_key, version=forms.pinned(inst.definition_id, task.form_key))
    if next(field_values(schema, data, frozenset()), None) is None:
        return 0  # no attachment field filled in: the usual completion skips the forms folder's keys
    keys = confidential_keys(getattr(forms, "forms_dir", None))
    wanted: dict[str, tuple[str, bool]] = {}
    for path, value, secret in field_values(schema, data, keys):
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            where = f"{path}/{i}" if isinstance(value, list) else path
            if not isinstance(item, str) or not item:
                raise Invalid("{field}: an attachment id is expected", [field_error(where, "not an id")], field=where)
            old = wanted.get(item)
            wanted[item] = (old[0] if old else where, secret or bool(old and old[1]))
    if not wanted:
        return 0
    found = {
        a.id: a
        for a in session.scalars(select(Attachment).where(Attachment.id.in_(list(wanted)), readable_clause(actor)))
    }
    missing = [(i, where) for i, (where, _s) in wanted.items() if i not in found]
    if missing:
        raise Invalid(
            "{field}: attachment {id} does not exist",
            [field_error(w, "{id}", id=i) for i, w in missing],
            field=missing[0][1],
            id=missing[0][0][:64],
        )
    written = list(
        session.execute(
            select(Record.id, Record.confidential).where(Record.instance_id == inst.id, Record.updated_at >= now)
        ).all()
    )
    targets = [("task", task.id), ("instance", inst.id)] + [("record", rid) for rid, _c in written]
    any_secret_record = any(c for _rid, c in written)
    for att_id, (_where, secret) in wanted.items():
        att = found[att_id]
        have = set(
            session.execute(
                select(AttachmentLink.kind, AttachmentLink.target_id).where(AttachmentLink.attachment_id == att_id)
            ).all()
        )
        for kind, target in targets:
            if (kind, target) not in have:
                session.add(
                    AttachmentLink(
                        attachment_id=att_id, kind=kind, target_id=target, created_at=now, created_by_id=actor.id
                    )
                )
        att.bound_at = att.bound_at or now
        att.confidential = att.confidential or secret or any_secret_record
    session.flush()
    events.log(
        session,
        now,
        BOUND,
        instance_id=inst.id,
        task_id=task.id,
        actor=actor,
        payload={"attachment_ids": sorted(wanted), "records": [rid for rid, _c in written]},
    )
    return len(wanted)


def bind(
    session: Session,
    attachment_ids: list[str],
    targets: list[tuple[str, int]],
    actor: Principal | None,
    now: datetime,
    confidential: bool = False,
) -> None:
    """Bind attachments to targets directly (the engine's own documents, tests of visibility)."""
    for att_id in attachment_ids:
        att = session.get(Attachment, att_id)
        if att is None:
            raise NotFound("attachment {id} does not exist", id=att_id[:64])
        have = set(
            session.execute(
                select(AttachmentLink.kind, AttachmentLink.target_id).where(AttachmentLink.attachment_id == att_id)
            ).all()
        )
        for kind, target in targets:
            if (kind, target) not in have:
                session.add(
                    AttachmentLink(
                        attachment_id=att_id,
                        kind=kind,
                        target_id=target,
                        created_at=now,
                        created_by_id=actor.id if actor else None,
                    )
                )
        att.bound_at = att.bound_at or now
        att.confidential = att.confidential or confidential
    session.flush()


# ---- purge -------------------------------------------------------------------------------------------


def purge_unbound(session: Session, now: datetime, blobs: BlobStore = DEFAULT) -> int:
    """Delete the uploads never bound to anything within UNBOUND_TTL, then the contents no
    attachment uses any more. The caller commits. Returns how many attachments went."""
    cutoff = now - UNBOUND_TTL
    old = list(
        session.scalars(select(Attachment.id).where(Attachment.bound_at.is_(None), Attachment.created_at < cutoff))
    )
    if old:  # re-checked in the DELETE: one bound meanwhile stays (an unbound one has no links)
        session.execute(delete(Attachment).where(Attachment.id.in_(old), Attachment.bound_at.is_(None)))
    contents = blobs.collect(session)
    if old or contents:
        events.log(
            session,
            now,
            PURGED,
            payload={"attachments": len(old), "contents": contents, "older_than": cutoff.isoformat()},
        )
    return len(old)


_last_purge: list[datetime] = []


def purge_due(sessions: Any, now: datetime, every: timedelta = timedelta(minutes=10)) -> int:
    """The scheduler's call (engine/core/scheduler.py `tick`): `purge_unbound` at most every
    `every` per process (a clock set back runs it again), and only when there is something to
    purge (the look is a read; the write lock is taken only then). Failures are the caller's to log."""
    if _last_purge and _last_purge[0] <= now < _last_purge[0] + every:
        return 0
    _last_purge[:] = [now]
    from engine.infra.db import write_intent

    with sessions() as session:
        due = session.scalar(
            select(Attachment.id)
            .where(Attachment.bound_at.is_(None), Attachment.created_at < now - UNBOUND_TTL)
            .limit(1)
        )
    if due is None:
        return 0
    with write_intent(), sessions() as session:
        count = purge_unbound(session, now)
        session.commit()
    return count
