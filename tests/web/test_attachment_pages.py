"""Attachments on the pages (issue 16, item 3): the file control of a task form (posted without
JavaScript and as ids uploaded by the page's script), the lists on the task, instance, clue and
register pages, the inline view of images and PDFs, and that nobody else sees or fetches them."""
from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from engine.infra.db import write_intent
from engine.models import HumanTask, Record
from engine.platform.attachments import service
from engine.platform.attachments.models import Attachment
from tests.conftest import BPMN
from tests.platform import attachment_files as F
from tests.platform.attachment_files import upload

NOW = datetime(2027, 1, 5, 2, 0, tzinfo=UTC)


def html(r: Any) -> str:
    return r.get_data(as_text=True)


def start(api: Any) -> int:
    assert api.deploy(BPMN / "attachment_report.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/attachment_report/start", "xinsheng_laogan",
                 json={"variables": {"branch_id": "xinsheng-laogan"}})
    assert r.status_code == 201, r.get_json()
    [task] = api.tasks("xinsheng_laogan", status="open")
    return int(task["id"])


def test_form_field_uploads_lists_and_previews(web, api, sessions):
    task_id = start(api)
    web.login("xinsheng_laogan")
    page = html(web.get(f"/tasks/{task_id}"))
    assert 'enctype="multipart/form-data"' in page and 'data-upload-url="/api/v1/attachments"' in page
    assert 'data-attachment-field="evidence"' in page and 'name="_upload:evidence"' in page
    assert 'data-attachment-field="findings/__i__/photos"' in page  # the repeating group's row template
    assert "将文件拖到此处或点击选择" in page and "js/attachments.js" in page

    # the page's script uploads through the API with the session and the page's CSRF token
    r = web.client.post("/api/v1/attachments", data={"file": (io.BytesIO(F.PDF), "情况说明.pdf")},
                        headers={"X-CSRFToken": web.token}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    pdf = r.get_json()
    assert web.client.post("/api/v1/attachments", data={"file": (io.BytesIO(F.PDF), "x.pdf")},
                           content_type="multipart/form-data").status_code == 400  # no CSRF header
    # a failed submission keeps the chosen file, shown by name
    r = web.post(f"/tasks/{task_id}", {"_action": "submit", "evidence": pdf["id"]})
    assert r.status_code == 422
    assert f'<input type="hidden" name="evidence" value="{pdf["id"]}">' in html(r) and "情况说明.pdf" in html(r)

    # without JavaScript: the plain file control posts with the form
    r = web.post(f"/tasks/{task_id}", {"_action": "submit", "summary": "本月正常", "evidence": pdf["id"],
                                      "_upload:findings/0/photos": (io.BytesIO(F.PNG), "现场照片.png"),
                                      "findings/0/title": "考勤代签"}, content_type="multipart/form-data")
    assert r.status_code == 302, html(r)[:3000]
    with sessions() as s:
        photo = s.scalars(select(Attachment).where(Attachment.name == "现场照片.png")).one()
        review = s.scalars(select(HumanTask).where(HumanTask.status == "open")).one()
    # the completed task and its instance list both files, the image with its preview
    for path, card in ((f"/tasks/{task_id}", "task-attachments"), (f"/instances/{review.instance_id}",
                                                                    "instance-attachments")):
        page = html(web.get(path))
        assert f'id="{card}"' in page, path
        assert "情况说明.pdf" in page and "现场照片.png" in page and "xinsheng_laogan" in page
        assert f'href="/api/v1/attachments/{pdf["id"]}"' in page
        assert f'<img src="/attachments/{photo.id}/view"' in page
    # the unit committee reviewing it sees them in the earlier input and opens the image inline
    web.logout()
    web.login("xinsheng_secretary")
    page = html(web.get(f"/tasks/{review.id}"))
    assert "现场照片.png" in page and f'href="/attachments/{pdf["id"]}/view"' in page
    r = web.get(f"/attachments/{photo.id}/view")
    assert (r.status_code, r.data, r.mimetype) == (200, F.PNG, "image/png")
    assert r.headers["Content-Disposition"].startswith("inline;")
    assert r.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in r.headers["Content-Security-Policy"]
    r = web.get(f"/attachments/{pdf['id']}/view")
    assert (r.status_code, r.mimetype) == (200, "application/pdf")
    assert web.get(f"/api/v1/attachments/{pdf['id']}").status_code == 200

    # another branch: no task, no instance, no file, no list
    web.logout()
    web.login("xinsheng_wuye")
    for path in (f"/tasks/{task_id}", f"/instances/{review.instance_id}", f"/attachments/{photo.id}/view",
                 f"/api/v1/attachments/{photo.id}"):
        r = web.get(path)
        assert r.status_code == 404, path
        assert "现场照片.png" not in html(r)


def test_office_files_are_never_inline(web, api):
    doc = upload(api, "xinsheng_laogan", F.DOCX, "函询回复.docx")
    web.login("xinsheng_laogan")
    assert web.get(f"/attachments/{doc['id']}/view").status_code == 404
    assert web.get(f"/api/v1/attachments/{doc['id']}").status_code == 200
    assert web.get("/attachments/nosuchid/view").status_code == 404


def test_clue_page_and_register_rows_list_their_files(web, api, sessions, clock):
    letter = upload(api, "xinsheng_secretary", F.PDF, "举报信.pdf")
    with write_intent(), sessions() as s:
        clue = Record(kind="clue", key="xinsheng:2027-001", node_id="xinsheng", unit_id="xinsheng", confidential=True,
                      data={"clue_no": "2027-001", "title": "问题线索：某某", "status": "待处置"},
                      created_at=NOW, updated_at=NOW)
        s.add(clue)
        s.flush()
        service.bind(s, [letter["id"]], [("record", clue.id)], None, clock.now(), confidential=True)
        s.commit()
        clue_id = clue.id
    web.login("xinsheng_secretary")
    page = html(web.get(f"/registers/clues/{clue_id}"))
    assert 'id="clue-attachments"' in page and "举报信.pdf" in page
    page = html(web.get("/registers/clues"))
    assert f'data-record-id="{clue_id}"' in page and "举报信.pdf" in page
    assert f'href="/attachments/{letter["id"]}/view"' in page
    web.logout()
    web.login("xuchang_secretary")  # another unit: the clue is not theirs
    assert web.get(f"/registers/clues/{clue_id}").status_code == 404
    assert "举报信.pdf" not in html(web.get("/registers/clues"))
    assert web.get(f"/attachments/{letter['id']}/view").status_code == 404
