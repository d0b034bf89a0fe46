"""Attachments (issue 16): `POST /api/v1/attachments` uploads a file, `GET /api/v1/attachments/{id}`
streams it to whoever may read it (engine/platform/attachments/service.py), everyone else 404.

The upload is bounded twice: a Content-Length above SANJI_ATTACHMENT_MAX_MB (plus room for the
multipart framing) is refused before a byte is read, and the body is counted as it streams
(werkzeug's limit on the request, then the file's own bytes) — a request without a length, or
lying about it, stops at the limit too. The file is spooled to a temporary file by werkzeug, hashed,
typed from its content and written to the blob store one 1 MiB row at a time.

A download is always `Content-Disposition: attachment` (the UTF-8 name as RFC 5987 `filename*`),
`X-Content-Type-Options: nosniff` and a sandboxing CSP, and only the accepted office and image
types exist at all: nothing is ever rendered inline as HTML or SVG. Each download is an audited
read (api/reads.py): if the audit record cannot be written, the answer is a 503, not the file.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import click
from flask import Blueprint, Response, jsonify, request

from engine.errors import Invalid, field_error
from engine.infra.db import write_intent
from engine.platform.attachments import service, sniff

from ..auth import current_principal, login_required
from ..extensions import clock, db, redactor, settings, state
from ..reads import note_read
from . import openapi
from .common import commit

bp = Blueprint("api_attachments", __name__, url_prefix="/api/v1", cli_group=None)
FRAMING = 64 * 1024  # room for the multipart boundaries and part headers around the file
UPLOAD_ENDPOINT = "api_attachments.upload"


def limit_bytes() -> int:
    return settings().attachment_max_mb * service.MB


@bp.before_app_request
def _upload_limits() -> None:
    """Before anything reads the body (the pages' CSRF check reads the form): the upload's own
    bound replaces the app's MAX_CONTENT_LENGTH, and a declared length above it is refused."""
    if request.endpoint != UPLOAD_ENDPOINT:
        return
    limit = limit_bytes()
    if request.content_length is not None and request.content_length > limit + FRAMING:
        raise service.too_large(limit)
    request.max_content_length = limit + FRAMING


@bp.post("/attachments")
@login_required
def upload() -> Any:
    """Upload one file (multipart field `file`); it stays unbound until a completed form names it."""
    p = current_principal()
    f = request.files.get("file")
    if f is None:
        raise Invalid("file: send the file as the multipart field file", [field_error("file", "required")])
    got = service.receive(f.stream, limit_bytes())
    att = service.store(db(), got, f.filename, p, clock().now())
    out = service.as_dict(att)
    commit()
    return jsonify(out), 201


def disposition(name: str) -> str:
    """`attachment` with an ASCII fallback name and the real one as RFC 5987 UTF-8 `filename*`."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "attachment"
    ext = name.rpartition(".")[2] if "." in name else ""
    if ext and re.fullmatch(r"[A-Za-z0-9]{1,10}", ext) and not fallback.endswith("." + ext):
        fallback = f"{fallback}.{ext}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@bp.get("/attachments/<string:attachment_id>")
@login_required
def download(attachment_id: str) -> Response:
    """The file, streamed, to whoever may read it (404 for everyone else, as for an unknown id)."""
    p = current_principal()
    att = service.readable(db(), p, attachment_id)
    instance_id, task_id = service.first_link(db(), att)
    note_read(service.DOWNLOADED, service.download_event(att, redactor(p).active), instance_id, task_id)
    body = service.chunks(state().sessions, att)  # its own short transactions: the request's ends first
    out = Response(body, mimetype=att.content_type, direct_passthrough=True)
    out.content_length = att.size
    out.headers["Content-Disposition"] = disposition(att.name)
    out.headers["X-Content-Type-Options"] = "nosniff"
    out.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    out.headers["Cache-Control"] = "private, no-store"
    out.headers["ETag"] = f'"{att.sha256}"'
    return out


@bp.cli.command("purge-attachments")
def purge_command() -> None:
    """Delete the uploads never bound to a task, instance or record within a day (the scheduler
    does this too), and the stored contents no attachment uses any more."""
    st = state()
    with write_intent(), st.sessions() as session:
        count = service.purge_unbound(session, st.clock.now())
        session.commit()
    click.echo(f"purged {count} unbound attachment(s)")


def _document() -> tuple[dict[str, Any], dict[str, Any]]:
    op, resp, errors = openapi.op, openapi.resp, openapi.errors_for
    ref = {"$ref": "#/components/schemas/Attachment"}
    binary = {"schema": {"type": "string", "format": "binary"}}
    file_body = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
    download_ok = {"description": "The file (always as an attachment)", "content": {t: binary for t in sniff.ALLOWED}}
    paths = {
        "/api/v1/attachments": {
            "post": op(
                "Upload a file (PDF, OFD, DOC, DOCX, XLS, XLSX, JPEG, PNG, typed from its content; at most "
                "SANJI_ATTACHMENT_MAX_MB). It stays readable by its uploader only until a completed form "
                "names its id in a field of format attachment; unbound uploads are purged after a day",
                {"201": resp(ref, "Stored"), **errors(400, 401, 413, 415, 422, 503)},
                body=file_body,
                tag="attachments",
            )
        },
        "/api/v1/attachments/{id}": {
            "get": op(
                "Download a file: only for its uploader and whoever may see the task, instance or record "
                "it is bound to (404 for everyone else); every download is in the audit log",
                {"200": download_ok, **errors(401, 404, 503)},
                params=[{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                tag="attachments",
            )
        },
    }
    schemas = {
        "Attachment": {
            "type": "object",
            "required": ["id", "name", "size", "sha256", "content_type", "created_at"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "size": {"type": "integer"},
                "sha256": {"type": "string"},
                "content_type": {"type": "string", "enum": list(sniff.ALLOWED)},
                "created_at": {"type": "string", "format": "date-time"},
            },
        }
    }
    return paths, schemas


openapi.extend(_document)
