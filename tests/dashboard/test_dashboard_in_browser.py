"""In Chromium: the group secretary signs in, opens the dashboard, and each of the five charts
draws its bars (a canvas with painted pixels, and a data table); screenshots on a desktop and a
phone go to test-artifacts/. The data is the quarter of tests/dashboard/conftest.py."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.web.in_browser.conftest import Pages, shot, sign_in

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not (ROOT / "api" / "static" / "vendor" / "charts.js").exists(),
    reason="the front-end bundle charts.js is missing (make setup: npm ci + node build.mjs)")]

CHARTS = ["quarterly-completion", "overdue-tasks", "findings", "clue-dispositions", "punctuality"]
# per chart canvas: its size and how many pixels are painted (alpha > 0) and are neither white nor
# transparent; bars, axes and labels paint well over a thousand, a blank canvas none
PAINTED = """el => {
  const c = el.querySelector('canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let painted = 0, coloured = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 0 && !(d[i] > 245 && d[i + 1] > 245 && d[i + 2] > 245)) painted++;
    if (d[i + 3] > 0 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) coloured++;
  }
  return { width: c.width, height: c.height, painted, coloured, url: c.toDataURL().length };
}"""


@pytest.fixture
def pages(browser: Any, world: Any) -> Iterator[Pages]:
    with LiveServer(world.app) as server:
        p = Pages(browser, server.url)
        yield p
        p.close()


def test_the_group_secretary_reads_the_dashboard(pages):
    for mobile in (False, True):
        page = pages.new(mobile=mobile)
        sign_in(page, "group_secretary")
        if mobile:
            page.click("#menu-toggle")  # a phone: the menu opens first
        page.click("nav >> text=看板")
        page.wait_for_url("**/dashboard")
        assert page.locator("h1").inner_text() == "看板"
        for chart in CHARTS:
            root = page.locator(f"#chart-{chart}")
            page.wait_for_function("el => el.dataset.state === 'ready' || el.dataset.state === 'error'",
                                   arg=root.element_handle())
            assert root.get_attribute("data-state") == "ready", chart
            assert int(root.get_attribute("data-total")) > 0, chart
            pixels = root.evaluate(PAINTED)
            assert pixels["width"] > 100 and pixels["height"] > 100, (chart, pixels)
            assert pixels["painted"] > 1000 and pixels["coloured"] > 200, (chart, pixels)
            # the data table behind the chart
            page.locator(f"#card-{chart} details summary").click()
            assert page.locator(f"[data-chart-table='chart-{chart}'] tbody tr").count() > 0, chart
        findings = page.locator("[data-chart-table='chart-findings']").inner_text()
        assert "即知即改" in findings and "2027-01" in findings
        shot(page, "dashboard-phone" if mobile else "dashboard")
