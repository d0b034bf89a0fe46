"""Browser tests: Debian's Chromium driven by Playwright against the app on 127.0.0.1.

They skip, saying why, when /usr/bin/chromium, the Playwright package or the built bundles
(`make setup` runs `npm ci` and `node build.mjs`) are missing. The small test pages in
`pages/` are served by a test-only blueprint at /_test/; screenshots go to test-artifacts/.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, send_from_directory

from engine.infra.settings import ROOT
from tests.conftest import Api, LiveServer

CHROMIUM = Path(os.environ.get("SANJI_CHROMIUM", "/usr/bin/chromium"))
VENDOR = ROOT / "api" / "static" / "vendor"
PAGES = Path(__file__).resolve().parent / "pages"
ARTIFACTS = ROOT / "test-artifacts"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    for bundle in ("modeler.js", "viewer.js", "charts.js", "bpmn.css"):
        if not (VENDOR / bundle).exists():
            return f"the front-end bundle api/static/vendor/{bundle} is missing (run make setup: npm ci + node build.mjs)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    reason = _missing()
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"browser test skipped: {reason}"))


class Web:
    """The live app, the JSON API as demo users, and helpers to open the test pages."""

    def __init__(self, server: LiveServer, api: Api, browser: Any) -> None:
        self.server = server
        self.url = server.url
        self.api = api
        self.browser = browser
        self.errors: list[str] = []
        self.failure: str | None = None  # why the page's work failed, if it did
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None)

    def open(self, page: str, user: str | None = None, **params: Any) -> Any:
        from urllib.parse import urlencode

        query = f"?{urlencode(params)}" if params else ""
        token = f"#token={self.api.token(user)}" if user else ""
        self.page.goto("about:blank")  # a new hash alone would not reload the page
        self.page.goto(f"{self.url}/_test/{page}.html{query}{token}")
        self.page.wait_for_function("() => window.sanjiReady !== undefined")
        self.failure = self.page.evaluate("() => window.sanjiReady.then(() => null, err => String(err))")
        return self.page

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def web(app: Any, browser: Any) -> Iterator[Web]:
    pages = Blueprint("browser_test_pages", __name__, url_prefix="/_test")

    @pages.get("/<name>.html")
    def test_page(name: str) -> Any:
        return send_from_directory(PAGES, f"{name}.html")

    app.register_blueprint(pages)
    with LiveServer(app) as server:
        w = Web(server, Api(app.test_client()), browser)
        try:
            yield w
        finally:
            w.close()
