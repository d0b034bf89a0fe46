"""Browser tests: Playwright for Python driving Debian's Chromium against the app served on
127.0.0.1 by a real threaded server (tests.conftest.LiveServer). Never downloads a browser:
without /usr/bin/chromium (apt-get install chromium) these tests are skipped with that reason.
Screenshots of each page go to test-artifacts/ (kept out of git). Mark the tests `browser`."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from engine.settings import ROOT

CHROMIUM = os.environ.get("SANJI_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking"]
ARTIFACTS = ROOT / "test-artifacts"


def unavailable(reason: str) -> None:
    """Skip with the reason; in CI (SANJI_BROWSER_TESTS=required, set by .ci/run) fail instead."""
    if os.environ.get("SANJI_BROWSER_TESTS") == "required":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium): "
                    "browser tests skipped")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        unavailable("the playwright package is not installed (pip install -e '.[test]')")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    except Exception as exc:  # noqa: BLE001 - a broken install is a skip with its reason, not an error
        pw.stop()
        unavailable(f"Chromium at {CHROMIUM} did not start: {exc}")
    yield browser
    browser.close()
    pw.stop()


class Pages:
    """New browser contexts (each a fresh cookie jar) on the live server, with screenshots."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[Any] = []

    def new(self, *, mobile: bool = False) -> Any:
        options: dict[str, Any] = {"base_url": self.base_url, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
        if mobile:
            options.update(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                           has_touch=True)
        else:
            options.update(viewport={"width": 1280, "height": 900})
        context = self.browser.new_context(**options)
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(chromium: Any, live_server: Any) -> Iterator[Pages]:
    p = Pages(chromium, live_server.url)
    yield p
    p.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"), full_page=True)


def sign_in(page: Any, username: str, password: str = "demo12345") -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r".*/tasks.*"))
