"""In Chromium, on a phone: a branch commissioner sees the unread notification and bulletin
counts in the header, writes a daily study entry (一个空表单先被拒绝), and reading the group's
notice clears the bulletin badge."""
from __future__ import annotations

from datetime import datetime

import pytest

from engine.models import User
from engine.platform.models import Notification
from tests.conftest import START
from tests.web.in_browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser


def test_commissioner_writes_a_daily_entry_and_reads_the_notice(pages, api, sessions):
    r = api.post("/api/v1/bulletin", "group_secretary", json={
        "kind": "notice", "title": "关于开展一月份廉洁家访的通知", "body": "各单位纪委：请于1月20日前完成家访。"})
    assert r.status_code == 201, r.get_json()
    with sessions() as s:
        laogan = s.query(User).filter_by(username="xinsheng_laogan").one()
        s.add(Notification(user_id=laogan.id, kind="task_offered", source_key="browser:1", title="新待办：每月一文章",
                           body="任务：每月一文章", link="/study", created_at=datetime.fromisoformat(START)))
        s.commit()

    page = pages.new(mobile=True)
    sign_in(page, "xinsheng_laogan")
    assert page.locator("#note-badge").inner_text() == "1"
    assert page.locator("#bulletin-badge").inner_text() == "1"

    page.click("#menu-toggle")  # a phone: the menu opens first
    page.click("nav >> text=四个一")
    page.wait_for_url("**/study")
    page.click("#save-entries")  # nothing written yet: refused, with the error at the field
    assert page.locator("#error-situation").inner_text() == "请至少填写一条。"
    page.fill("#study-situation", "走访老干部三户，了解家风家教情况")
    page.fill("#study-insight", "廉洁从家风开始")
    page.click("#save-entries")
    page.wait_for_selector(".flash-success")
    assert "走访老干部三户" in page.locator("tr[data-day='2027-01-05']").inner_text()
    shot(page, "platform-01-study-entry-phone")

    page.click("#menu-toggle")  # a phone: the menu opens first
    page.click("nav >> text=公告交流")
    page.click("text=关于开展一月份廉洁家访的通知")
    assert "请于1月20日前完成家访" in page.locator("#post-body").inner_text()
    assert page.locator("#bulletin-badge").inner_text() == "0"
    page.click("#menu-toggle")  # a phone: the menu opens first
    page.click("nav >> text=通知")
    page.click("text=新待办：每月一文章")
    page.wait_for_url("**/study")
    assert page.locator("#note-badge").inner_text() == "0"
    shot(page, "platform-02-after-reading-phone")
