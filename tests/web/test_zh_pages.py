"""No English on a Chinese page (issue 14): every navigation page of every demo role, and the
error paths (unknown ids, invalid form submissions, refused actions), rendered in zh, show no
run of three or more Latin words in their visible text."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from tests.web.conftest import Web, start_report

ROLES = ["admin", "security_admin", "auditor", "owner", "group_secretary", "group_member",
         "xinsheng_secretary", "xinsheng_deputy", "xinsheng_member", "xinsheng_dept", "xinsheng_laogan"]
# three Latin words in a row (identifiers such as usernames or process keys are single words)
SENTENCE = re.compile(r"[A-Za-z][A-Za-z'’]+(?:[ ,;:]+[A-Za-z][A-Za-z'’]+){2,}")


class Visible(HTMLParser):
    """The text a reader sees: text nodes outside script/style/code (code shows identifiers)."""

    SKIP = {"script", "style", "code", "pre", "textarea", "template"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIP:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth and data.strip():
            self.parts.append(data.strip())


def english(html: str) -> list[str]:
    parser = Visible()
    parser.feed(html)
    return [m.group(0) for part in parser.parts for m in SENTENCE.finditer(part)]


def nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="nav".*?</nav>', html, re.S)
    assert nav, "the page has no navigation"
    return re.findall(r'href="(/[^"#?]*)', nav.group(0))


def check(web: Web, path: str, status: int, method: str = "get", data: dict[str, Any] | None = None) -> str:
    r = web.get(path) if method == "get" else web.post(path, data or {})
    assert r.status_code == status, (path, r.status_code)
    html = r.get_data(as_text=True)
    assert english(html) == [], (path, english(html))
    return html


def test_every_nav_page_of_every_role_is_chinese(client):
    for user in ROLES:
        web = Web(client.application.test_client())
        web.login(user)
        links = nav_links(web.get("/tasks").get_data(as_text=True))
        assert links, user
        for link in links:
            check(web, link, 200)


def test_error_pages_are_chinese(web, report_app, api):
    inst = start_report(api)
    task_id = inst["open_tasks"][0]["id"]
    web.login("xinsheng_laogan")
    for path in ["/instances/999999", "/tasks/999999", "/processes/no_such_process", "/bulletin/999999",
                 "/people/nobody_here"]:
        check(web, path, 404)
    check(web, "/notifications/channels", 403)  # a commissioner configures no channels
    check(web, "/security/users", 403)
    html = check(web, f"/tasks/{task_id}", 422, "post", {"summary": ""})  # required fields missing
    assert "请修改标出的内容" in html
    check(web, "/bulletin/new", 422, "post", {"kind": "notice", "title": "", "body": ""})
    check(web, "/study", 422, "post", {"day": "2999-01-01", "kind": "theory", "text": ""})
    web.logout()
    web.login("xinsheng_secretary")
    good = {"name": "新升纪检群", "kind": "wecom", "node_id": "xinsheng", "events": ["task_offered"],
            "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", "active": "1", "msg_format": "markdown"}
    for bad in ({"url": "ftp://nope"}, {"events": []}, {"secret": "s"}, {"name": ""}):
        check(web, "/notifications/channels", 422, "post", {**good, **bad})
    refused = web.post("/notifications/channels", {**good, "node_id": "xuchang"})  # not its committee: flashed
    assert refused.status_code == 302
    check(web, "/notifications/channels", 200)
    web.logout()
    web.login("group_member")
    check(web, f"/instances/{inst['id']}/suspend", 403, "post")
    check(web, "/start/no_such_process", 404, "post")
