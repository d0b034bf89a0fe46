"""In Chromium: the security administrator creates an account and grants it a role through the
pages, is refused (in Chinese) a second of the three separated roles, and the auditor finds both
changes in the audit log."""
from __future__ import annotations

import pytest

from tests.web.in_browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser


def test_security_admin_grants_and_the_auditor_reads_it(pages):
    page = pages.new()
    sign_in(page, "security_admin")
    page.click("nav >> text=账号与角色")
    page.wait_for_url("**/security/users")
    page.fill("#username", "new_inspector")
    page.fill("#display_name", "新纪检员")
    page.fill("#password", "Correct-Horse-42")
    page.click("#create-user")
    page.wait_for_url("**/security/users/new_inspector")
    page.select_option("#grant-role", "member")
    page.select_option("#grant-node", "xinsheng")
    page.click("#grant")
    page.wait_for_selector(".flash-success")
    assert page.locator("#roles tr[data-role='member'][data-node='xinsheng']").count() == 1
    page.goto("/security/users/auditor")
    page.select_option("#grant-role", "admin")
    page.click("#grant")
    page.wait_for_selector(".flash-error")
    assert "三员分立" in page.locator(".flash-error").inner_text()
    assert page.locator("#roles tr[data-role='admin']").count() == 0
    shot(page, "security-01-separation-refused")

    auditor = pages.new()
    sign_in(auditor, "auditor")
    auditor.click("nav >> text=审计日志")
    auditor.wait_for_url("**/audit")
    auditor.fill("#actor", "security_admin")
    auditor.click("#audit-filters button")
    rows = auditor.locator("#audit-list tr[data-type]")
    assert {rows.nth(i).get_attribute("data-type") for i in range(rows.count())} >= {"user_created", "role_granted"}
    shot(auditor, "security-02-audit-log")
