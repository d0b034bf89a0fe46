"""Browser tests of the task pages: Playwright for Python driving Debian's Chromium (the `browser`
fixture of tests/conftest.py: skipped, saying why, without /usr/bin/chromium; never a downloaded
browser) against the app served on 127.0.0.1 by a real threaded server (tests.conftest.LiveServer).
Screenshots of each page go to test-artifacts/ (kept out of git). Mark the tests `browser`."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from engine.infra.settings import ROOT
from tests.conftest import sign_in  # noqa: F401 - the in-browser tests import it from here

ARTIFACTS = ROOT / "test-artifacts"


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
def pages(browser: Any, live_server: Any) -> Iterator[Pages]:
    """`browser` is the one Chromium of tests/conftest.py."""
    p = Pages(browser, live_server.url)
    yield p
    p.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"), full_page=True)


