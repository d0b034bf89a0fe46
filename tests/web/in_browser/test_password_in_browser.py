"""The change-password page in Chromium: a user created by an org import signs in, lands on it,
sees the policy's refusals in Chinese, changes the password and reaches the task list."""
from __future__ import annotations

import re

import pytest

from tests.web.in_browser.conftest import shot

pytestmark = pytest.mark.browser
INITIAL = "Kq7-lamp-orbit"


def test_an_imported_user_changes_the_password_before_anything_else(app, pages, tmp_path):
    org = tmp_path / "org.csv"
    org.write_text("kind,id,tier,name,parent,username,display_name,role,node,password\n"
                   f"user,,,,,tk_zc,综采工区纪检委员,,,{INITIAL}\nrole,,,,,tk_zc,,commissioner,xuchang-zongcai,\n",
                   encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["import-org", str(org)]).exit_code == 0
    page = pages.new()
    page.goto("/login")
    page.fill("#username", "tk_zc")
    page.fill("#password", INITIAL)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r".*/password.*"))
    assert "请先修改密码再继续操作" in page.inner_text("#password-forced")
    assert page.locator("nav.nav a").count() == 0  # no navigation, no task counts until it is changed
    page.goto("/tasks")  # nothing else until the password is changed
    page.wait_for_url(re.compile(r".*/password\?next=/tasks$"))
    page.fill("#old_password", INITIAL)
    page.fill("#new_password", "password")
    page.fill("#confirm_password", "password")
    page.click("#password-submit")
    errors = page.inner_text("#error-new_password")
    assert "至少需要 10 个字符。" in errors and "这是最常见的密码之一，请换一个。" in errors
    shot(page, "password-refused")
    page.fill("#old_password", INITIAL)
    page.fill("#new_password", "Orbit-lamp-58q")
    page.fill("#confirm_password", "Orbit-lamp-58q")
    page.click("#password-submit")
    page.wait_for_url(re.compile(r".*/tasks$"))
    assert "密码已修改。" in page.content() and page.locator("nav.nav a").count() > 3
    shot(page, "password-changed")
