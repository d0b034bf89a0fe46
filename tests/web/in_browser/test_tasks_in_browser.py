"""In Chromium: a branch commissioner files a report with two findings (an invalid submission
first, the error shows next to its field), the unit committee sees it and sends it back; the
language switch; the pages on a phone; the unit committee urges a late task."""
from __future__ import annotations

import re

import pytest

from tests.web.in_browser.conftest import shot, sign_in
from tests.conftest import BPMN

pytestmark = pytest.mark.browser


@pytest.fixture
def report(api):
    assert api.deploy(BPMN / "web_report.bpmn").status_code == 201
    return api


def test_commissioner_reports_two_findings_and_the_unit_committee_reviews(pages, report):
    page = pages.new()
    page.goto("/tasks")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    assert page.locator("h1").inner_text() == "登录"
    shot(page, "01-login")
    sign_in(page, "xinsheng_laogan")
    assert page.locator("#task-badge").inner_text() == "0"

    # 发起: the commissioner starts an ad-hoc report and lands on its first task
    page.click("nav >> text=发起")
    shot(page, "02-start")
    page.fill("#title-web_report", "即时报告：井下作业区检查")
    page.click("#start-web_report button[type=submit]")
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    assert page.locator("#task-name").inner_text() == "填写支部报告"
    assert page.locator("#task-badge").inner_text() == "1"
    assert page.locator("#diagram").get_attribute("data-highlight") == "write_report"

    page.fill("#f-report_date", "2027-01-05")
    page.fill("#f-summary", "本月对井下作业区开展了两次现场监督")
    page.fill("#f-meetings", "2")
    page.check("input[name='findings/0/kind'][value='early_warning']")
    page.fill("#f-findings-0-description", "个别班组交接班记录不全")
    page.click("[data-add-row]")  # a second finding
    assert page.locator("[data-repeat='findings'] [data-row]").count() == 2
    page.fill("textarea[name='findings/1/description']", "违规发放加班补贴")
    page.check("input[name='findings/1/fixed']")
    page.click("#submit")  # the second finding has no classification yet

    error = page.locator("[data-field='findings/1/kind'] .error")
    error.wait_for()
    assert error.inner_text() == "此项为必填项。"
    assert page.locator("[data-field='findings/0/kind'] .error").count() == 0
    assert page.locator("textarea[name='findings/1/description']").input_value() == "违规发放加班补贴"
    shot(page, "03-task-invalid")

    page.check("input[name='findings/1/kind'][value='violation']")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/tasks$"))
    assert "已提交" in page.locator(".flash-success").inner_text()
    assert page.locator("#task-badge").inner_text() == "0"
    shot(page, "04-tasks-after-submit")
    page.click("nav >> text=已办")
    assert page.locator("#done-list").inner_text().count("填写支部报告") == 1
    shot(page, "04b-done")
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/login$"))

    # the unit committee sees the report with both findings
    sign_in(page, "xinsheng_secretary")
    row = page.locator("#task-list tbody tr", has_text="单位纪委审核")
    assert row.count() == 1
    shot(page, "05-unit-tasks")
    row.locator("a.task-link").click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    earlier = page.locator("#previous-input").inner_text()
    assert "苗头性、倾向性问题" in earlier and "违反党的纪律" in earlier and "违规发放加班补贴" in earlier
    assert "即时报告：井下作业区检查" in page.locator("#instance-title").inner_text()
    shot(page, "06-unit-review")

    # the pages' JSON API calls: the session cookie with the page's CSRF token
    task_id = int(page.url.rsplit("/", 1)[1])
    claimed = page.evaluate("id => window.sanji.api('POST', '/api/v1/tasks/' + id + '/claim')", task_id)
    assert claimed["assignee"] == "xinsheng_secretary"
    status = page.evaluate("""id => fetch('/api/v1/tasks/' + id + '/unclaim', {method: 'POST'})
                                   .then(r => r.status)""", task_id)
    assert status == 400  # no CSRF token: refused

    # 退回 with a reason (the button asks for confirmation)
    page.click("#send-back summary")
    page.fill("#f-return_reason", "请补充违规发放补贴的金额和整改情况")
    page.click("#send-back-submit")
    page.wait_for_url(re.compile(r".*/tasks$"))
    assert "已退回" in page.locator(".flash-success").inner_text()
    page.click("#logout")
    sign_in(page, "xinsheng_laogan")
    page.locator("#task-list a.task-link", has_text="填写支部报告").click()
    assert "请补充违规发放补贴的金额和整改情况" in page.locator("#sent-back").inner_text()
    assert page.locator("textarea[name='findings/1/description']").input_value() == "违规发放加班补贴"
    shot(page, "07-sent-back")


def test_language_switch(pages, report):
    page = pages.new()
    sign_in(page, "xinsheng_laogan")
    assert page.locator("nav a").first.inner_text().startswith("待办")
    page.click(".lang-switch button[value=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("nav a").first.inner_text().startswith("My tasks")
    assert page.locator("#logout").inner_text() == "Sign out"
    shot(page, "08-english")
    page.click(".lang-switch button[value=zh]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("#logout").inner_text() == "退出"


def test_phone_viewport(pages, report):
    report.post("/api/v1/process-definitions/web_report/start", "xinsheng_laogan", json={"variables": {}})
    page = pages.new(mobile=True)
    sign_in(page, "xinsheng_laogan")
    shot(page, "09-mobile-tasks")
    page.locator("#task-list a.task-link").first.click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    page.click("[data-add-row]")
    shot(page, "10-mobile-task")
    # nothing wider than the phone: no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.locator("#submit").bounding_box()
    assert box is not None and box["width"] >= 100 and box["height"] >= 40  # a button a thumb can hit


def test_unit_committee_urges_a_late_branch_task(pages, report, clock):
    from datetime import timedelta

    report.post("/api/v1/process-definitions/web_report/start", "xinsheng_laogan", json={"variables": {}})
    clock.advance(timedelta(days=6))  # the report is a day late
    page = pages.new()
    sign_in(page, "xinsheng_secretary")
    page.click("nav >> text=督办")
    row = page.locator("#supervise-list tbody tr", has_text="填写支部报告")
    assert "已逾期 1 天" in row.inner_text()
    row.locator("input[name=message]").fill("请今天报送月度报告")
    row.locator("button", has_text="催办").click()
    page.wait_for_load_state()
    assert "已催办：填写支部报告" in page.locator(".flash-success").inner_text()
    assert "已催办 1 次" in page.locator("#supervise-list").inner_text()
    shot(page, "11-supervise")
    other = pages.new(mobile=True)
    sign_in(other, "xinsheng_laogan")
    other.locator("#task-list a.task-link").first.click()
    assert "此任务已被催办 1 次" in other.locator("#urged").inner_text()
    assert "请今天报送月度报告" in other.locator("#history").inner_text()
