"""In Chromium: the unit committee classifies a branch's findings in one row per finding (the
finding shown, its number fixed), and the required marks of 即知即改 / 违反党的纪律 appear as the
classification is chosen, before any submit; a submit without them is refused on the field."""

from __future__ import annotations

import pytest

from tests.procedures.conftest import Scenario
from tests.procedures.test_form_fields import review_task
from tests.web.in_browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser


def test_review_rows_per_finding_and_live_required_marks(pages, api, app, clock):
    task = review_task(Scenario(api, app, clock), clock)
    page = pages.new()
    sign_in(page, "xinsheng_secretary")
    page.goto(f"/tasks/{task['id']}")

    rows = page.locator("[data-repeat='classifications'] [data-row]")
    assert rows.count() == 2
    assert rows.nth(0).locator("[data-row-item] .row-no").inner_text() == "问题1：班组考勤表存在代签"
    assert rows.nth(1).locator("[data-row-item] .help").inner_text() == "春节前收受职工礼金两千元"
    assert page.locator("[data-repeat='classifications'] [data-add-row]").count() == 0
    assert page.locator("[data-repeat='classifications'] [data-remove-row]").count() == 0
    assert page.locator("input[name='classifications/1/no']").input_value() == "2"
    assert page.locator("input[name='classifications/1/no']").get_attribute("type") == "hidden"

    fix = page.locator("[data-field='classifications/0/fix_requirement'] [data-req-when]")
    due = page.locator("[data-field='classifications/0/fix_deadline'] [data-req-when]")
    person = page.locator("[data-field='classifications/1/person'] [data-req-when]")
    assert fix.is_hidden() and due.is_hidden() and person.is_hidden()
    page.check("input[name='classifications/0/classification'][value='immediate_fix']")
    fix.wait_for(state="visible")
    due.wait_for(state="visible")
    assert person.is_hidden()
    page.check("input[name='classifications/1/classification'][value='discipline_violation']")
    person.wait_for(state="visible")
    page.check("input[name='classifications/1/classification'][value='tendency']")
    person.wait_for(state="hidden")
    shot(page, "form-fields-review-rows")

    page.check("input[name='decision'][value='accepted']")
    opinion = page.locator("[data-field='review_opinion'] [data-req-when]")
    assert opinion.is_hidden()  # 审核意见 is required only when sent back
    page.check("input[name='decision'][value='returned']")
    opinion.wait_for(state="visible")
    page.check("input[name='decision'][value='accepted']")
    opinion.wait_for(state="hidden")
    page.click("#submit")
    error = page.locator("[data-field='classifications/0/fix_requirement'] .error")
    error.wait_for()
    assert error.inner_text() == "此项为必填项。"
    assert page.locator("[data-field='classifications/1/classification'] .error").count() == 0
    fix.wait_for(state="visible")  # still marked after the refusal

    page.fill("textarea[name='classifications/0/fix_requirement']", "立即纠正代签")
    page.fill("input[name='classifications/0/fix_deadline']", "2027-02-10")
    page.click("#submit")
    page.wait_for_url("**/tasks")
    done = api.get(f"/api/v1/tasks/{task['id']}", "xinsheng_secretary").get_json()
    assert done["data"]["classifications"] == [
        {"no": 1, "classification": "immediate_fix", "fix_requirement": "立即纠正代签", "fix_deadline": "2027-02-10"},
        {"no": 2, "classification": "tendency"},
    ]
