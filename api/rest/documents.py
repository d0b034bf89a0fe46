"""Official documents (issue 16): `GET /api/v1/records/{id}/document?format=docx|pdf` gives the
record's document — 月度书面报告, 季度书面报告, 综合研判意见, 通报表彰, 转发通知, 问题线索处置审批表 — in
the Party-organ layout (engine/linkage/documents). Only to those who may read the record (404 for
everyone else, as for an unknown id); the first download issues its 发文字号. Every download is
an audited export (api/reads.py): no audit record, no document.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response

from engine.linkage import documents
from engine.linkage.documents import render
from engine.linkage.reports import cjk_font
from engine.models import Record
from engine.org import audit

from ..args import choice_arg
from ..auth import current_principal, login_required
from ..extensions import clock, db, redactor, settings, state
from ..reads import note_read
from . import openapi

bp = Blueprint("api_documents", __name__, url_prefix="/api/v1")
FORMATS = ("docx", "pdf")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def disposition(name: str, ext: str, record_id: int) -> str:
    """An ASCII fallback name and the Chinese one as RFC 5987 `filename*`."""
    return f"attachment; filename=\"document-{record_id}.{ext}\"; filename*=UTF-8''{quote(name + '.' + ext, safe='')}"


@bp.get("/records/<int:record_id>/document")
@login_required
def document(record_id: int) -> Response:
    """The record's official document as DOCX (default) or PDF."""
    fmt = choice_arg("format", FORMATS, "docx") or "docx"
    p = current_principal()
    red = redactor(p)
    issued = documents.issue(db(), state().sessions, p, red, record_id, clock().now())
    doc, r = issued.document, issued.record
    if fmt == "pdf":
        content, mimetype = render.to_pdf(doc, cjk_font(settings())), "application/pdf"
    else:
        content, mimetype = render.to_docx(doc), DOCX
    note_read(
        audit.EXPORT,
        {
            "what": "document",
            "record_id": r.id,
            "kind": r.kind,
            "format": fmt,
            "doc_no": doc.doc_no,
            "confidential": r.confidential,
            "redacted": red.active,
        },
        r.instance_id,
    )
    out = Response(content, mimetype=mimetype)
    out.headers["Content-Disposition"] = disposition(f"{doc.doc_no}{doc.kind_title}", fmt, r.id)
    out.headers["X-Content-Type-Options"] = "nosniff"
    out.headers["Cache-Control"] = "private, no-store"
    return out


@bp.app_template_global()
def official_documents(instance_id: int | None) -> list[tuple[int, str]]:
    """(record id, Chinese label) of the documents of an instance's records the signed-in user may
    read, for the download buttons of the instance and task pages (templates/_documents.html)."""
    if not instance_id:
        return []
    p = current_principal()
    return [(r.id, documents.KINDS[r.kind]) for r in documents.of_instance(db(), p, redactor(p), instance_id)]


@bp.app_template_global()
def official_kind(kind: str | None) -> bool:
    return bool(kind) and documents.has_document(str(kind))


@bp.app_template_global()
def official_readable(r: Record) -> bool:
    """A register row's record whose document the signed-in user may download (a redacted reader
    sees a confidential row masked, and its document not at all)."""
    return documents.has_document(r.kind) and not (r.confidential and redactor(current_principal()).active)


def _document() -> tuple[dict[str, Any], dict[str, Any]]:
    op, errors, q = openapi.op, openapi.errors_for, openapi.query_param
    binary = {"schema": {"type": "string", "format": "binary"}}
    ok = {"description": "The document (always as an attachment)", "content": {DOCX: binary, "application/pdf": binary}}
    paths = {
        "/api/v1/records/{id}/document": {
            "get": op(
                "The official document of a record (月度书面报告, 季度书面报告, 综合研判意见, 通报表彰, 转发通知, "
                "问题线索处置审批表) in the Party-organ layout; the first download issues its document number. "
                "404 when the record is not visible to the caller or has no document; every download is audited",
                {"200": ok, **errors(401, 404, 409, 422, 503)},
                params=[
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                    q("format", {"type": "string", "enum": list(FORMATS)}, "docx (default) or pdf"),
                ],
                tag="records",
            )
        }
    }
    return paths, {}


openapi.extend(_document)
