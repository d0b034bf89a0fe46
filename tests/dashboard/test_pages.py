"""The dashboard and register pages (server side): who gets them, filters, paging links, the
XLSX of the current filter, zh by default and English on request."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from engine.infra.db import write_intent
from engine.models import Record


@pytest.fixture(scope="module")
def registers(world):
    """A ledger entry and a commendation as annual_assessment writes them (save_record)."""
    now = world.clock.now()
    with write_intent(), world.sessions() as s:
        s.add(Record(kind="ledger", key="annual:2026:xuchang", node_id="xuchang", unit_id="xuchang", created_at=now,
                     updated_at=now, data={"ledger": "淄矿集团公司纪检监察工作管理台账", "year": 2026, "unit_id": "xuchang",
                                           "unit_name": "许厂煤矿纪委", "problem": "无安排无落实", "reason": "二季度联动任务未分解",
                                           "score": 71, "rating": "一般", "source": "annual_assessment",
                                           "source_name": "年度分级考核", "recorded_at": "2027-01-20T10:00:00+08:00"}))
        s.add(Record(kind="commendation", key="2026:xinsheng_laogan", node_id="xinsheng-laogan", unit_id="xinsheng",
                     created_at=now, updated_at=now, data={
                         "year": 2026, "username": "xinsheng_laogan", "name": "老干家委纪检委员", "role": "commissioner",
                         "role_name": "纪律检查委员", "node_id": "xinsheng-laogan", "node_name": "老干家委党总支",
                         "unit_id": "xinsheng", "unit_name": "新升实业纪委", "deeds": "按月报告，发现问题及时",
                         "bulletin_no": "淄矿纪〔2027〕1号", "bulletin_date": "2027-01-25"}))
        s.commit()
    return world


def html(r):
    return r.get_data(as_text=True)


def test_dashboard_page_for_the_group_and_a_unit(world):
    web = world.web("group_secretary")
    page = html(web.get("/dashboard"))
    assert 'href="/dashboard"' in page and "看板" in page  # in the header navigation
    charts = re.findall(r'data-sanji-chart data-url="([^"]+)"', page)
    assert [c.split("?")[0] for c in charts] == [
        "/api/v1/dashboard/quarterly-completion", "/api/v1/dashboard/overdue-tasks", "/api/v1/dashboard/findings",
        "/api/v1/dashboard/clue-dispositions", "/api/v1/dashboard/punctuality"]
    assert all("year=2027" in c and "quarter=1" in c for c in charts)  # the current quarter by default
    assert page.count("format=xlsx") == 5 and "vendor/charts.js" in page and "js/dashboard.js" in page
    assert 'id="filter-unit"' in page and "<script>" not in page  # no inline script (CSP)
    page = html(web.get("/dashboard?year=2027&quarter=&unit_id=xuchang"))
    assert "year=2027&amp;unit_id=xuchang" in page and "quarter=1" not in page

    unit = world.web("xuchang_deputy")
    page = html(unit.get("/dashboard"))
    assert "许厂" in page and 'id="filter-unit"' not in page
    assert unit.get("/dashboard?unit_id=xinsheng").status_code == 404
    assert unit.get("/dashboard?quarter=7").status_code == 422

    commissioner = world.web("xinsheng_laogan")
    assert 'href="/dashboard"' not in html(commissioner.get("/tasks"))
    assert commissioner.get("/dashboard").status_code == 404


def test_dashboard_page_narrows_to_one_procedure(world):
    """按流程筛选: the deployed procedures by name (not the processes they call), passed to every chart."""
    web = world.web("group_secretary")
    page = html(web.get("/dashboard"))
    select = re.search(r'<select name="process_key" id="filter-procedure">(.*?)</select>', page, re.S).group(1)
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
    names = {k: n for k, n in options}
    assert options[0] == ("", "全部流程") and "按流程筛选" in page
    assert set(names) == {"", "quarterly_tasks", "monthly_report", "clue_disposal", "adhoc_report"}
    assert names["quarterly_tasks"] != "quarterly_tasks"  # the process's name, not its key
    assert [n for _k, n in options[1:]] == sorted(n for _k, n in options[1:])
    page = html(web.get("/dashboard?year=2027&quarter=1&process_key=monthly_report"))
    charts = re.findall(r'data-sanji-chart data-url="([^"]+)"', page)
    assert len(charts) == 5 and all("process_key=monthly_report" in c for c in charts)
    assert re.search(r'<option value="monthly_report" selected>', page)
    assert f'<span id="shown-procedure">{names["monthly_report"]}</span>' in page


def test_clue_register_page_and_detail(world):
    web = world.web("xinsheng_secretary")
    page = html(web.get("/registers/clues"))
    assert re.search(r'id="register-total">1<', page) and "已了结" in page and "赵某" not in page
    clue = world.clue_ids["xinsheng"]
    detail = web.get(f"/registers/clues/{clue}")
    assert detail.status_code == 200 and "办结" in html(detail) and "保密" in html(detail)
    assert web.get(f"/registers/clues/{world.clue_ids['daizhuang']}").status_code == 404
    assert web.get("/registers/clues?status=bogus").status_code == 422

    group = world.web("group_member")
    page = html(group.get("/registers/clues"))
    assert re.search(r'id="register-total">2<', page)
    page = html(group.get("/registers/clues?status=初步核实"))
    assert re.search(r'id="register-total">1<', page) and "赵某" in page
    xlsx = re.search(r'id="register-xlsx" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "format=xlsx" in xlsx and "status=" in xlsx
    r = group.get(xlsx)
    assert r.status_code == 200 and r.headers["Content-Disposition"] == 'attachment; filename="clue.xlsx"'
    rows = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    assert rows[3][:3] == ("线索编号", "标题", "单位") and len(rows) == 5
    assert rows[4][5] == "赵某" and rows[4][9] == "初步核实"
    assert world.web("xinsheng_laogan").get(f"/registers/clues/{clue}").status_code == 404


def test_ledger_and_commendations_pages_with_filters_and_xlsx(registers):
    group = registers.web("group_secretary")
    page = html(group.get("/registers/ledger"))
    assert "无安排无落实" in page and "许厂煤矿纪委" in page
    assert "没有符合筛选条件的记录" in html(group.get("/registers/ledger?year=2025"))
    assert group.get("/registers/ledger?year=twenty").status_code == 422
    # a unit sees its own ledger only; the API says the same
    assert "暂无您可查看的记录" in html(registers.web("xinsheng_member").get("/registers/ledger"))
    assert registers.api.get("/api/v1/ledger", "xinsheng_member").get_json()["total"] == 0

    r = registers.api.get("/api/v1/commendations", "group_member", query_string={"year": 2026, "format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "通报表彰" and rows[4][:3] == (2026, "老干家委纪检委员", "纪律检查委员")
    assert registers.api.get("/api/v1/commendations", "group_member",
                             query_string={"format": "csv"}).get_json()["details"][0]["field"] == "format"
    # the commissioner sees their own commendation, on a phone-sized card list like every list page
    page = html(registers.web("xinsheng_laogan").get("/registers/commendations"))
    assert "按月报告，发现问题及时" in page and 'data-label="姓名"' in page


def test_pages_in_english(world):
    web = world.web("group_secretary")
    web.post("/lang", {"lang": "en", "next": "/registers/ledger"})
    page = html(web.get("/registers/ledger"))
    assert "Management ledger" in page and "Download XLSX" in page
    assert "Findings per month by kind" in html(web.get("/dashboard"))
