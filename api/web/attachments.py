"""Attachments on the pages (issue 16, item 3): the lists on the task, instance, clue and register
pages, the files of a form's attachment fields, the plain file controls posted without JavaScript,
and an inline view of images and PDFs for the browser's own viewer.

Who may read a file is engine/platform/attachments/service.py's `readable_clause`, the same as
`GET /api/v1/attachments/{id}` (the download link of every list): a list shows only what the
reader may fetch, and the inline view answers 404 to everyone else. The inline view serves only
PDF, JPEG and PNG (never HTML or SVG, which the upload refuses anyway), with nosniff and a
sandboxing CSP; every view is an audited read like a download.
"""

from __future__ import annotations

from typing import Any

from flask import Response, url_for
from sqlalchemy import select
from sqlalchemy.orm import aliased
from werkzeug.datastructures import MultiDict

from engine.errors import NotFound
from engine.platform.attachments import service
from engine.platform.attachments.models import Attachment, AttachmentLink

from ..extensions import clock, db, redactor, settings, state
from ..reads import note_read
from ..rest.attachments import disposition
from . import formrender
from .base import page_blueprint, signin_required
from .helpers import me

bp = page_blueprint("attachments")
INLINE = {"application/pdf": "pdf", "image/jpeg": "image", "image/png": "image"}


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < service.MB:
        return f"{size / 1024:.1f} KB"
    return f"{size / service.MB:.1f} MB"


def describe(atts: list[Attachment]) -> list[dict[str, Any]]:
    """What a list shows of each file: name, size, uploader, time, download and view links."""
    names = service.uploader_names(db(), atts)
    out = []
    for a in atts:
        kind = INLINE.get(a.content_type)
        out.append(
            {
                "id": a.id,
                "name": a.name,
                "size": human_size(a.size),
                "bytes": a.size,
                "uploader": names.get(a.uploaded_by_id, ""),
                "created_at": a.created_at,
                "url": url_for("api_attachments.download", attachment_id=a.id),
                "view_url": url_for("attachments.view", attachment_id=a.id) if kind else None,
                "kind": kind,
            }
        )
    return out


def bound_list(kind: str, target_id: int) -> list[dict[str, Any]]:
    """The files bound to a task, instance or record that the signed-in person may read."""
    return describe(service.bound_to(db(), me(), kind, target_id))


def for_records(record_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The readable files of each of a register page's records, in one query."""
    if not record_ids:
        return {}
    link = aliased(AttachmentLink)  # not AttachmentLink itself: the readable clause's EXISTS would correlate to it
    rows = (
        db()
        .execute(
            select(link.target_id, Attachment)
            .join(Attachment, Attachment.id == link.attachment_id)
            .where(link.kind == "record", link.target_id.in_(record_ids), service.readable_clause(me()))
            .order_by(Attachment.created_at, Attachment.id)
        )
        .all()
    )
    described = {d["id"]: d for d in describe(list({a.id: a for _t, a in rows}.values()))}
    out: dict[int, list[dict[str, Any]]] = {}
    for target, a in rows:
        out.setdefault(target, []).append(described[a.id])
    return out


def readable_files(ids: list[str]) -> dict[str, dict[str, Any]]:
    """Of the ids in a form, those the signed-in person may read, described."""
    if not ids:
        return {}
    atts = list(db().scalars(select(Attachment).where(Attachment.id.in_(set(ids)), service.readable_clause(me()))))
    return {d["id"]: d for d in describe(atts)}


def annotate(root: formrender.Field | None) -> None:
    """Give each attachment field of a built form the files its ids name (unreadable ids are dropped)."""
    if root is None:
        return
    files = readable_files(formrender.attachment_ids(root))
    for f in root.walk():
        if f.widget == "attachment":
            f.attrs["files"] = [files[i] for i in f.value or [] if i in files]


def with_uploads(form: MultiDict[str, Any], files: MultiDict[str, Any]) -> MultiDict[str, Any]:
    """The posted form with the files of the plain file controls (`_upload:<path>`, sent without
    JavaScript) stored as attachments and their ids added under `<path>`; the caller commits."""
    merged: MultiDict[str, Any] = MultiDict(form)
    for key in files:
        if not key.startswith(formrender.UPLOAD):
            continue
        path = key[len(formrender.UPLOAD) :]
        for f in files.getlist(key):
            if not f or not f.filename:
                continue
            got = service.receive(f.stream, settings().attachment_max_mb * service.MB)
            att = service.store(db(), got, f.filename, me(), clock().now())
            merged.add(path, att.id)
    return merged


@bp.get("/attachments/<string:attachment_id>/view")
@signin_required
def view(attachment_id: str) -> Response:
    """An image or PDF shown inline (the browser's viewer), for whoever may download it."""
    p = me()
    att = service.readable(db(), p, attachment_id)
    if att.content_type not in INLINE:
        raise NotFound("attachment {id} does not exist", id=attachment_id[:64])
    instance_id, task_id = service.first_link(db(), att)
    note_read(
        service.DOWNLOADED, {**service.download_event(att, redactor(p).active), "inline": True}, instance_id, task_id
    )
    out = Response(service.chunks(state().sessions, att), mimetype=att.content_type, direct_passthrough=True)
    out.content_length = att.size
    out.headers["Content-Disposition"] = disposition(att.name).replace("attachment;", "inline;", 1)
    out.headers["X-Content-Type-Options"] = "nosniff"
    # images sandboxed; a sandboxed document gets no PDF viewer in Chromium, so a PDF only loses everything else
    out.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self'; sandbox"
        if INLINE[att.content_type] == "image"
        else "default-src 'none'; object-src 'self'"
    )
    out.headers["Cache-Control"] = "private, no-store"
    return out
