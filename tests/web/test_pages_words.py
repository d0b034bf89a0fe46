"""Pages in words a new user understands: the start page (description, cadence, a confirmation
before a fan-out, a link to the new instance), element kinds and names instead of identifiers
(heatmap, library), the site's own Chinese 404 page, and the bulletin's smaller fixes."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engine.models import ProcessInstance
from engine.platform.models import BulletinPost
from tests.web.builtins import deploy_builtins, start_by_timer


def html(r) -> str:
    return r.get_data(as_text=True)


@pytest.fixture
def builtins(app, clock):
    clock.set("2027-01-01T09:00:00+08:00")
    deploy_builtins(app)


def instances(reader) -> int:
    return reader.scalar(select(func.count()).select_from(ProcessInstance))


def test_start_page_in_words_and_a_fan_out_confirmed(web, builtins, reader):
    web.login("group_secretary")
    page = html(web.get("/start"))
    card = re.search(r'<section class="card" id="start-monthly_report".*?</section>', page, re.S).group(0)
    assert (
        '<p class="muted start-desc">基层党支部纪律检查委员每月向本单位纪委书面报告，单位纪委逐条分类处置。</p>' in card
    )
    assert "每月1日 09:00 自动发起；也可随时手动发起" in card
    assert "Timer start" not in page and "cron" not in page  # the diagrams' documentation is not shown
    special = re.search(r'id="start-special_inspection".*?</section>', page, re.S).group(0)
    assert "需要时手动发起" in special
    # a start that fans out asks first, saying what it creates; nothing is created by asking
    r = web.post("/start/monthly_report", {"title": ""})
    assert r.status_code == 200
    confirm = html(r)
    assert 'id="start-confirm"' in confirm and 'name="confirmed" value="yes"' in confirm
    count = re.search(r'<p id="start-count">(.*?)</p>', confirm, re.S).group(1)
    assert "本次发起将同时创建 9 个流程实例：" in count and "3 个单位" in count and "9 个党支部" in count
    assert "老干家委党总支" in confirm and "自下而上：支部月度报告与单位处置</strong> × 9" in confirm
    assert instances(reader) == 0
    # confirmed: started, with a link to the new instance
    r = web.post("/start/monthly_report", {"confirmed": "yes"})
    assert r.status_code == 302
    top = reader.scalar(select(ProcessInstance.id).where(ProcessInstance.parent_id.is_(None)))
    assert instances(reader) == 10
    after = html(web.get(r.headers["Location"]))
    assert f'<a href="/instances/{top}" id="started-link">查看新流程实例</a>' in after


def test_a_start_without_fan_out_is_not_asked_twice(web, builtins, reader):
    web.login("xinsheng_secretary")  # 转发上级文件 starts with the unit's own task
    r = web.post("/start/document_forwarding", {"node": "xinsheng"})
    assert r.status_code == 302 and instances(reader) == 1
    assert "/tasks/" in r.headers["Location"]


def test_heatmap_names_element_kinds_in_chinese(web, builtins, app):
    start_by_timer(app, "monthly_report")
    web.login("admin")
    page = html(web.get("/processes/monthly_report_branch/heatmap"))
    row = re.search(r'<tr data-element-id="write_report">.*?</tr>', page, re.S).group(0)
    assert "撰写月度书面报告" in row and "用户任务" in row and "userTask" not in row and "<code>" not in row
    assert "userTask" not in page and "exclusiveGateway" not in page


def test_library_shows_names_not_keys(web, builtins):
    web.login("owner")
    page = html(web.get("/processes"))
    listing = re.search(r'<table class="list" id="process-list">.*?</table>', page, re.S).group(0)
    visible = re.sub(r"<[^>]+>", " ", listing)
    assert "monthly_report" not in visible and ".bpmn" not in visible
    page = html(web.get("/processes/monthly_report_branch"))
    visible = re.sub(r"<[^>]+>", " ", page)
    assert ".json" not in visible and "表单：月度书面报告" in visible and "7天内" in visible
    assert "被调用" in visible or "调用方" in visible
    assert "自下而上：月度书面报告" in visible  # the caller by its name


def test_unknown_address_gets_the_sites_chinese_404(web):
    web.login("xinsheng_laogan")
    r = web.get("/no/such/page", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert "<h1>未找到</h1>" in html(r) and "该页面不存在。" in html(r) and "Not Found" not in html(r)


def test_bulletin_flags_every_missing_field_and_counts_readers_by_organisation(web, reader):
    web.login("group_secretary")
    bad = web.post("/bulletin/new", {"kind": "experience", "title": "", "body": ""})
    assert bad.status_code == 422
    assert 'id="error-title"' in html(bad) and 'id="error-body"' in html(bad)
    assert reader.scalar(select(func.count()).select_from(BulletinPost)) == 0
    r = web.post("/bulletin/new", {"kind": "experience", "title": "集团经验", "body": "正文"})
    assert r.status_code == 302
    page = html(web.get(r.headers["Location"]))
    assert "共 1 人已读，来自 1 个组织" in page and "0 个单位" not in page
