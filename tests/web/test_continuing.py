"""继续中 (issue 20): while the scheduler's worker is still starting a fan-out's children, the
instance page and `GET /api/v1/process-instances/{id}` show how many of how many are started."""

from __future__ import annotations

import re

import pytest

from api.extensions import state
from engine.core import async_jobs
from tests.web.builtins import deploy_builtins, start_by_timer


@pytest.fixture
def settings(settings):
    """Every fan-out of more than one child continues asynchronously, four children a batch."""
    return settings.with_(async_mode="worker", async_fanout_threshold=1, async_batch=4)


@pytest.fixture
def monthly(app, clock):
    clock.set("2027-01-01T09:00:00+08:00")
    deploy_builtins(app)
    return start_by_timer(app, "monthly_report")  # over the demo organisation's 9 branches


def continuing_block(html: str) -> str | None:
    found = re.search(r'<div class="notice continuing" role="status" id="continuing">(.*?)</div>', html, re.S)
    return " ".join(found.group(1).split()) if found else None


def test_the_instance_page_and_api_show_the_progress_until_every_child_is_started(app, api, web, monthly):
    st = state(app)
    detail = api.get(f"/api/v1/process-instances/{monthly}", "group_member").get_json()
    assert detail["continuing"] == [
        {
            "element": "branch_reports",
            "name": "各基层党支部报告、单位纪委处置",
            "kind": "fan_out",
            "started": 0,
            "total": 9,
            "failed_attempts": 0,
        }
    ]
    assert detail["children"] == {}
    web.login("admin")
    block = continuing_block(web.get(f"/instances/{monthly}").get_data(as_text=True))
    assert block == (
        '<p data-element="branch_reports"><strong>继续中</strong> 各基层党支部报告、单位纪委处置: '
        '已启动 0 / 9 个子流程实例 <progress max="9" value="0">0/9</progress> </p>'
    )

    assert async_jobs.run_due(st.sessions, st.clock, st.settings, max_batches=1).children == 4
    html = web.get(f"/instances/{monthly}").get_data(as_text=True)
    assert "已启动 4 / 9 个子流程实例" in continuing_block(html)
    assert "运行中 4" in html  # the children started so far are listed as usual
    assert api.get(f"/api/v1/process-instances/{monthly}", "group_member").get_json()["continuing"][0]["started"] == 4

    assert async_jobs.run_due(st.sessions, st.clock, st.settings).children == 5
    html = web.get(f"/instances/{monthly}").get_data(as_text=True)
    assert continuing_block(html) is None and "继续中" not in html and "运行中 9" in html
    assert api.get(f"/api/v1/process-instances/{monthly}", "group_member").get_json()["continuing"] == []
