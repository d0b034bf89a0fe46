"""In Chromium, on the demo history: the group secretary opens the dashboard on its default period
(this quarter) and every chart draws non-empty series."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.web.in_browser.conftest import Pages, shot, sign_in

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, pytest.mark.once, pytest.mark.skipif(
    not (ROOT / "api" / "static" / "vendor" / "charts.js").exists(),
    reason="the front-end bundle charts.js is missing (make setup: npm ci + node build.mjs)")]

CHARTS = ["quarterly-completion", "overdue-tasks", "findings", "clue-dispositions", "punctuality"]


@pytest.fixture
def pages(browser: Any, demo: Any) -> Iterator[Pages]:
    with LiveServer(demo.app) as server:
        p = Pages(browser, server.url)
        yield p
        p.close()


def test_every_chart_of_the_demo_dashboard_has_data(pages):
    page = pages.new()
    sign_in(page, "group_secretary")
    page.goto("/dashboard")
    for chart in CHARTS:
        root = page.locator(f"#chart-{chart}")
        page.wait_for_function("el => el.dataset.state === 'ready' || el.dataset.state === 'error'",
                               arg=root.element_handle())
        assert root.get_attribute("data-state") == "ready", chart
        assert int(root.get_attribute("data-total")) > 0, chart
    shot(page, "demo-history-dashboard")
