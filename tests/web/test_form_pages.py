"""The form pages (issue 15 item 2): the list, the editor (process owners only) and its preview,
which renders the form with the task page's own renderer."""

from __future__ import annotations

import json
import re

NOTE = {
    "title": "情况说明",
    "type": "object",
    "required": ["note"],
    "properties": {
        "note": {"type": "string", "title": "说明"},
        "level": {"type": "string", "title": "等级", "enum": ["low", "high"], "enumNames": ["一般", "重要"]},
    },
}


def test_list_and_editor_for_process_owners(web):
    web.login("owner")
    html = web.get("/forms").get_data(as_text=True)
    assert 'data-key="web_report.json"' in html and 'id="new-form"' in html
    r = web.get("/forms/edit?key=web_report.json")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "data-sanji-form-editor" in page and "vendor/form-editor.js" in page
    source = re.search(r'<textarea id="form-source"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert (
        json.loads(
            source.replace("&#34;", '"')
            .replace("&quot;", '"')
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
            .replace("&#39;", "'")
        )["type"]
        == "object"
    )
    # a new form (no key given): a made-up key, the starter form
    page = web.get("/forms/edit").get_data(as_text=True)
    assert re.search(r'data-key="form_\d{14}\.json"', page) and "新表单" in page


def test_preview_renders_like_the_task_page_and_reports_problems(web):
    web.login("owner")
    headers = {"X-CSRFToken": web.token}
    r = web.client.post("/forms/preview", json={"schema": json.dumps(NOTE)}, headers=headers)
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert 'name="note"' in html and "说明" in html and "重要" in html
    r = web.client.post(
        "/forms/preview", json={"schema": '{"type": "object", "properties": {"a": {"type": "strin"}}}'}, headers=headers
    )
    assert r.status_code == 422
    assert [p["field"] for p in r.get_json()["problems"]] == ["schema/properties/a/type"]


def test_others_read_the_list_but_do_not_edit(web):
    web.login("xinsheng_secretary")
    html = web.get("/forms").get_data(as_text=True)
    assert 'data-key="web_report.json"' in html and 'id="new-form"' not in html
    assert web.get("/forms/edit?key=web_report.json").status_code == 403


def test_upload_a_diagram_with_its_form(web, api):
    import io

    from tests.conftest import BPMN

    web.login("owner")
    xml = (BPMN / "web_report.bpmn").read_bytes()
    report = json.loads((BPMN.parent / "forms" / "web_report.json").read_text(encoding="utf-8"))
    changed = json.dumps({**report, "title": "支部报告（新版）"}, ensure_ascii=False).encode()
    r = web.post("/processes/upload", {"file": [(io.BytesIO(xml), "web_report.bpmn"),
                                                (io.BytesIO(changed), "web_report.json")]},
                 content_type="multipart/form-data")
    assert r.status_code == 302 and r.headers["Location"].endswith("/processes/web_report")
    form = api.get("/api/v1/forms/web_report.json", "owner").get_json()
    assert (form["version"], form["title"]) == (2, "支部报告（新版）")
