"""Attachments through the JSON API (issue 16): upload limits and types decided by the content,
names kept in Chinese, download headers, who reads an unbound upload, the purge after a day, the
audited download, streaming with bounded memory, and backup/restore with the files."""
from __future__ import annotations

import hashlib
import os
import tracemalloc
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.infra.db import write_intent
from engine.models import EventLog
from engine.platform.attachments import service
from tests.oracles import fields
from tests.platform import attachment_files as F
from tests.platform.attachment_files import counts, upload

MB = 1024 * 1024


@pytest.mark.parametrize("content, name, kind", [
    (F.PDF, "问题线索举报信.pdf", "application/pdf"),
    (F.PNG, "现场照片.png", "image/png"),
    (F.JPEG, "现场照片.jpg", "image/jpeg"),
    (F.DOCX, "函询回复.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (F.XLSX, "台账.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (F.OFD, "转发通知.ofd", "application/ofd"),
    (F.DOC, "谈话记录.doc", "application/msword"),
    (F.XLS, "统计表.xls", "application/vnd.ms-excel"),
    (F.PNG, "伪装成文档.pdf", "image/png"),  # the content decides, not the name
])

def test_upload_types_from_content(api, clock, content, name, kind):
    out = upload(api, "xinsheng_laogan", content, name)
    assert out == {"id": out["id"], "name": name, "size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
                   "content_type": kind, "created_at": clock.now().isoformat()}
    assert len(out["id"]) == 32
    r = api.get(f"/api/v1/attachments/{out['id']}", "xinsheng_laogan")
    assert (r.status_code, r.data, r.mimetype) == (200, content, kind)


@pytest.mark.parametrize("content, name", [
    (F.HTML, "报告.pdf"), (F.SVG, "照片.png"), (F.PLAIN_ZIP, "材料.docx"), (F.OTHER_OLE2, "幻灯片.doc"),
    (b"just some text", "说明.txt"), (b"%PD", "短.pdf"),
])
def test_other_types_are_refused_naming_the_allowed_list(api, sessions, content, name):
    err = upload(api, "xinsheng_laogan", content, name, status=415)
    assert err["error"] == "unsupported_media_type"
    assert err["message"] == ("file: only PDF, OFD, DOC, DOCX, XLS, XLSX, JPEG, PNG files are accepted "
                              "(the type is read from the content, not the name)")
    assert fields(err["details"]) == [{"field": "file", "message": "PDF, OFD, DOC, DOCX, XLS, XLSX, JPEG, PNG"}]
    assert counts(sessions) == (0, 0, 0)


def test_empty_missing_and_too_large(api, app, sessions, tmp_path):
    err = upload(api, "xinsheng_laogan", b"", "空文件.pdf", status=422)
    assert fields(err["details"]) == [{"field": "file", "message": "empty"}]
    r = api.post("/api/v1/attachments", "xinsheng_laogan", data={"other": "x"}, content_type="multipart/form-data")
    assert r.status_code == 422 and fields(r.get_json()["details"]) == [{"field": "file", "message": "required"}]
    # 60 MB against the default 50 MB: refused from the Content-Length before anything is read
    big = tmp_path / "big.pdf"
    with open(big, "wb") as f:
        f.write(b"%PDF-1.4\n")
        f.truncate(60 * MB)
    with open(big, "rb") as f:
        err = upload(api, "xinsheng_laogan", f, "大文件.pdf", status=413)
    assert (err["error"], err["message"]) == ("too_large", "file: an attachment may be at most 50 MB")
    assert counts(sessions) == (0, 0, 0)


def test_size_is_counted_while_streaming(app, api, sessions):
    """A body within the Content-Length allowance (limit + multipart framing) whose file is still
    above the limit: the bytes counted as they stream decide."""
    app.extensions["sanji"].settings = app.extensions["sanji"].settings.with_(attachment_max_mb=1)
    err = upload(api, "xinsheng_laogan", F.PDF + b"x" * MB, "略大.pdf", status=413)
    assert err["message"] == "file: an attachment may be at most 1 MB"
    exact = F.PDF + b"x" * (MB - len(F.PDF))
    assert upload(api, "xinsheng_laogan", exact, "正好.pdf")["size"] == MB
    assert counts(sessions) == (1, 1, 1)


def test_names_are_sanitised_and_downloads_never_render(api):
    out = upload(api, "xinsheng_laogan", F.PNG, "../../附件\u202e目录\x07/问题 线索;照片\u202egnp.exe.png")
    assert out["name"] == "问题 线索;照片gnp.exe.png"
    r = api.get(f"/api/v1/attachments/{out['id']}", "xinsheng_laogan")
    assert r.headers["Content-Disposition"] == (
        "attachment; filename=\"gnp.exe.png\"; filename*=UTF-8''"
        "%E9%97%AE%E9%A2%98%20%E7%BA%BF%E7%B4%A2%3B%E7%85%A7%E7%89%87gnp.exe.png")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert r.headers["Content-Length"] == str(len(F.PNG))
    assert r.headers["Content-Type"] == "image/png"


def test_unbound_upload_is_the_uploaders_only(api):
    out = upload(api, "xinsheng_laogan", F.PDF, "草稿.pdf")
    for user in ("xinsheng_wuye", "xinsheng_secretary", "group_secretary", "admin", "auditor", "security_admin"):
        r = api.get(f"/api/v1/attachments/{out['id']}", user)
        assert r.status_code == 404, user
        assert r.get_json()["error"] == "not_found"
    assert api.get(f"/api/v1/attachments/{out['id']}", "xinsheng_laogan").status_code == 200
    assert api.get("/api/v1/attachments/nosuchid", "xinsheng_laogan").status_code == 404
    assert api.get(f"/api/v1/attachments/{out['id']}").status_code == 401


def test_same_content_is_stored_once(api, sessions):
    a = upload(api, "xinsheng_laogan", F.PDF, "一.pdf")
    b = upload(api, "xuchang_zongcai", F.PDF, "二.pdf")
    assert a["id"] != b["id"] and a["sha256"] == b["sha256"]
    assert counts(sessions) == (2, 1, 1)
    assert api.get(f"/api/v1/attachments/{a['id']}", "xuchang_zongcai").status_code == 404


def test_download_is_an_audited_event(api, sessions, clock):
    out = upload(api, "xinsheng_laogan", F.PDF, "问题线索.pdf")
    clock.advance(minutes=5)
    assert api.get(f"/api/v1/attachments/{out['id']}", "xinsheng_laogan").status_code == 200
    assert api.get(f"/api/v1/attachments/{out['id']}", "xinsheng_wuye").status_code == 404
    with sessions() as s:
        rows = list(s.scalars(select(EventLog).where(EventLog.type.like("attachment%")).order_by(EventLog.id)))
    assert [(e.type, e.actor, e.at) for e in rows] == [
        ("attachment_uploaded", "xinsheng_laogan", clock.now() - timedelta(minutes=5)),
        ("attachment_downloaded", "xinsheng_laogan", clock.now())]
    assert rows[1].payload == {"attachment_id": out["id"], "size": len(F.PDF),
                               "sha256": out["sha256"], "content_type": "application/pdf", "confidential": False,
                               "redacted": False, "path": f"/api/v1/attachments/{out['id']}"}
    r = api.get("/api/v1/audit-events", "auditor", query_string={"type": "attachment_downloaded"})
    assert r.status_code == 200
    assert [(e["actor"], e["payload"]["attachment_id"]) for e in r.get_json()["items"]] == [
        ("xinsheng_laogan", out["id"])]


def test_unbound_uploads_are_purged_after_a_day(api, app, sessions, clock):
    old = upload(api, "xinsheng_laogan", F.PDF, "旧.pdf")
    clock.advance(hours=23)
    api.tokens.clear()  # sign in again: tokens last 12 hours
    young = upload(api, "xinsheng_laogan", F.PNG, "新.png")
    kept = upload(api, "xinsheng_laogan", F.DOCX, "已绑定.docx")
    with write_intent(), sessions() as s:
        service.bind(s, [kept["id"]], [("instance", 1)], None, clock.now())
        s.commit()
    clock.advance(hours=1, seconds=1)
    result = app.test_cli_runner().invoke(args=["purge-attachments"])
    assert (result.exit_code, result.output) == (0, "purged 1 unbound attachment(s)\n")
    assert api.get(f"/api/v1/attachments/{old['id']}", "xinsheng_laogan").status_code == 404
    assert api.get(f"/api/v1/attachments/{young['id']}", "xinsheng_laogan").status_code == 200
    assert counts(sessions) == (2, 2, 2)  # the PDF's content went with its only attachment
    # the scheduler's tick does the same a day later
    from engine.core import scheduler

    clock.advance(days=1)
    api.tokens.clear()
    service._last_purge.clear()  # the tick's own pace (every 10 minutes) starts afresh
    scheduler.tick(sessions, clock, app.extensions["sanji"].settings)
    assert counts(sessions) == (1, 1, 1)
    assert api.get(f"/api/v1/attachments/{kept['id']}", "xinsheng_laogan").status_code == 200
    with sessions() as s:
        purged = [e.payload for e in s.scalars(select(EventLog).where(EventLog.type == "attachments_purged")
                                               .order_by(EventLog.id))]
    assert [(p["attachments"], p["contents"]) for p in purged] == [(1, 1), (1, 1)]


def test_large_file_streams_with_bounded_memory(api, sessions, tmp_path):
    """40 MB up and down: the peak of Python allocations stays a small fraction of the file."""
    size = 40 * MB
    block = os.urandom(MB)
    path = tmp_path / "large.png"
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(size // MB):
            data = (F.PNG[:8] + block[8:]) if i == 0 else block
            f.write(data)
            digest.update(data)
    api.token("xinsheng_laogan")  # the sign-in outside the measurement
    tracemalloc.start()
    try:
        with open(path, "rb") as f:
            out = upload(api, "xinsheng_laogan", f, "大照片.png")
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        r = api.get(f"/api/v1/attachments/{out['id']}", "xinsheng_laogan", buffered=False)
        assert r.status_code == 200 and r.headers["Content-Length"] == str(size)
        got, n = hashlib.sha256(), 0
        for chunk in r.response:
            got.update(chunk)
            n += len(chunk)
        r.close()
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (out["size"], out["sha256"], n, got.hexdigest()) == (size, digest.hexdigest(), size, digest.hexdigest())
    assert counts(sessions) == (1, 1, 40)
    assert upload_peak < 8 * MB, upload_peak
    assert download_peak < 8 * MB, download_peak


def test_backup_and_restore_keep_the_files(app, api, sessions, clock, tmp_path, clean_db):
    kept = upload(api, "xinsheng_laogan", F.DOCX, "备份前.docx")
    runner = app.test_cli_runner()
    target = tmp_path / "sanji.backup"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    clock.advance(days=2)
    assert runner.invoke(args=["purge-attachments"]).output == "purged 1 unbound attachment(s)\n"
    assert counts(sessions) == (0, 0, 0)
    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    clean_db.dispose()
    assert counts(sessions) == (1, 1, 1)
    api.tokens.clear()
    r = api.get(f"/api/v1/attachments/{kept['id']}", "xinsheng_laogan")
    assert (r.status_code, r.data) == (200, F.DOCX)
