"""The dashboard API over the quarter of tests/dashboard/conftest.py: the figures, who sees
which units, the XLSX downloads, and bad filters."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

Q1 = {"year": 2027, "quarter": 1}


def chart(world, path, user="group_secretary", status=200, **params):
    r = world.api.get(f"/api/v1/dashboard/{path}", user, query_string={**Q1, **params})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def series(body):
    return {s["key"]: s["data"] for s in body["series"]}


def by_unit(body):
    return {row["unit_id"]: row for row in body["rows"]}


def test_quarterly_completion_per_unit(world):
    body = chart(world, "quarterly-completion")
    assert sorted(body["category_keys"]) == ["daizhuang", "xinsheng", "xuchang"]
    rows = by_unit(body)
    assert (rows["xinsheng"]["completed"], rows["xinsheng"]["planning"]) == (1, 0)
    assert (rows["xinsheng"]["branches_done"], rows["xinsheng"]["branches_total"]) == (1, 1)
    assert rows["xinsheng"]["completion_rate"] == 1.0
    assert (rows["xuchang"]["planning"], rows["xuchang"]["completed"], rows["xuchang"]["branches_done"]) == (1, 0, 0)
    assert rows["daizhuang"]["total"] == 0  # not among the units this quarter's tasks went to
    order = body["category_keys"]
    assert series(body)["completed"] == [rows[u]["completed"] for u in order]
    assert [s["name"] for s in body["series"]] == ["已完成", "落实中", "制定方案中"]
    assert chart(world, "quarterly-completion", quarter=2)["rows"][0]["total"] == 0


def test_findings_per_month_by_kind(world):
    body = chart(world, "findings")
    assert body["categories"] == ["2027-01", "2027-02", "2027-03"]
    s = series(body)
    # January: 老干家委 three (fix, tendency, violation), 物业 one (none), 综采 one (fix); February: the ad-hoc report
    assert s == {"immediate_fix": [2, 0, 0], "tendency": [1, 1, 0], "discipline_violation": [1, 0, 0],
                 "none": [1, 0, 0], "pending": [0, 0, 0]}
    xs = chart(world, "findings", "xuchang_member")
    assert {r["unit_id"] for r in xs["rows"]} == {"xuchang"}
    assert series(xs)["immediate_fix"] == [1, 0, 0] and series(xs)["tendency"] == [0, 1, 0]
    whole_year = chart(world, "findings", quarter="")
    assert len(whole_year["categories"]) == 12 and sum(series(whole_year)["tendency"]) == 2


def test_monthly_report_punctuality(world):
    body = chart(world, "punctuality")
    jan = {r["unit_id"]: r for r in body["rows"] if r["month"] == "2027-01"}
    assert (jan["xinsheng"]["on_time"], jan["xinsheng"]["late"], jan["xinsheng"]["missing"]) == (1, 1, 1)
    assert (jan["xuchang"]["on_time"], jan["daizhuang"]["on_time"]) == (3, 3)
    assert jan["xinsheng"]["on_time_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert series(body) == {"on_time": [7, 0, 0], "late": [1, 0, 0], "missing": [1, 0, 0]}


def test_clue_dispositions(world):
    rows = by_unit(chart(world, "clue-dispositions"))
    assert rows["xinsheng"]["已了结"] == 1 and rows["xinsheng"]["total"] == 1
    assert rows["daizhuang"]["初步核实"] == 1 and rows["daizhuang"]["total"] == 1
    assert rows["xuchang"]["total"] == 0
    assert chart(world, "clue-dispositions", quarter=2)["rows"][0]["total"] == 0


def test_overdue_tasks_per_unit_and_tier(world):
    """Checked against a plain reading of every task row (deadline in Q1, open past it or done late)."""
    from sqlalchemy import select

    from engine.models import HumanTask

    body = chart(world, "overdue-tasks")
    now = world.clock.now()
    expected: dict[tuple[str, str], list[int]] = {}
    with world.sessions() as s:
        for t in s.scalars(select(HumanTask)):
            due = t.due_at
            if due is None or not ("2027-01-01" <= due.astimezone(now.tzinfo).date().isoformat() <= "2027-03-31"):
                continue
            late_open = t.status == "open" and due < now
            late_done = t.status == "completed" and t.completed_at > due
            if late_open or late_done:
                cell = expected.setdefault((t.unit_id or "group", t.tier), [0, 0])
                cell[0 if late_open else 1] += 1
    got = {(r["unit_id"], r["tier"]): [r["open_overdue"], r["completed_late"]] for r in body["rows"] if r["total"]}
    assert got == expected
    # what the scenario makes late: 机电 never reported, 老干家委's fix is past its deadline, 物业 reported late,
    # 岱庄 reviewed nothing, 许厂 never planned
    assert got[("xinsheng", "branch")] == [2, 1]
    assert got[("daizhuang", "unit")][0] >= 3 and got[("xuchang", "unit")][0] >= 1
    assert body["category_keys"][0] == "group"
    assert series(body)["branch"][body["category_keys"].index("xinsheng")] == 3


def test_a_unit_sees_its_own_unit_only(world):
    for path in ("quarterly-completion", "overdue-tasks", "findings", "clue-dispositions", "punctuality"):
        mine = chart(world, path, "xinsheng_standing")
        assert {r["unit_id"] for r in mine["rows"]} == {"xinsheng"}, path
        assert chart(world, path, "xinsheng_standing", unit_id="xinsheng")["rows"] == mine["rows"]
        refused = chart(world, path, "xinsheng_standing", status=404, unit_id="xuchang")
        assert refused["error"] == "not_found"
        # commissioners and departments have no dashboard; the group and admins see one unit on request
        chart(world, path, "xinsheng_laogan", status=404)
        chart(world, path, "xinsheng_dept", status=404)
        one = chart(world, path, "admin", unit_id="xuchang")
        assert {r["unit_id"] for r in one["rows"]} == {"xuchang"}
        assert chart(world, path, "group_member", status=404, unit_id="nowhere")["error"] == "not_found"
    mine = chart(world, "overdue-tasks", "xinsheng_standing")
    assert mine["category_keys"] == ["xinsheng"]  # no group committee row for a unit
    assert world.api.get("/api/v1/dashboard/findings").status_code == 401


@pytest.mark.parametrize("params, field", [({"year": "20x7"}, "year"), ({"year": 1999}, "year"),
                                           ({"quarter": 5}, "quarter"), ({"quarter": "Q1"}, "quarter"),
                                           ({"format": "pdf"}, "format")])
def test_a_bad_filter_is_422_naming_the_field(world, params, field):
    body = chart(world, "findings", status=422, **params)
    assert body["error"] == "invalid" and body["details"][0]["field"] == field and field in body["message"]


def test_each_chart_downloads_as_xlsx(world):
    for path in ("quarterly-completion", "overdue-tasks", "findings", "clue-dispositions", "punctuality"):
        body = chart(world, path, "xuchang_secretary")
        r = world.api.get(f"/api/v1/dashboard/{path}", "xuchang_secretary", query_string={**Q1, "format": "xlsx"})
        assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet"), path
        assert r.headers["Content-Disposition"] == f'attachment; filename="dashboard-{path.replace("-", "_")}-2027Q1.xlsx"'

        ws = load_workbook(io.BytesIO(r.data)).active
        values = [list(row) for row in ws.iter_rows(values_only=True)]
        assert values[0][0] == body["title"] and "2027" in values[1][0]
        columns = [c for c in body["columns"] if c != "unit_id"]
        labels = dict(zip(body["columns"], body["column_labels"]))
        assert values[3][:len(columns)] == [labels[c] for c in columns], path
        table = values[4:]
        assert len(table) == len(body["rows"]), path
        names = {s["key"]: s["name"] for s in body["series"]}
        for row, line in zip(body["rows"], table):
            assert line[:len(columns)] == [names[row[c]] if c == "tier" else row[c] for c in columns], path
    r = world.api.get("/api/v1/dashboard/findings", "xinsheng_laogan", query_string={"format": "xlsx"})
    assert r.status_code == 404


def test_english_labels_for_an_english_session(world):
    web = world.web("group_secretary")
    web.post("/lang", {"lang": "en", "next": "/dashboard"})
    body = web.get("/api/v1/dashboard/punctuality", query_string=Q1).get_json()
    assert body["title"] == "Monthly report punctuality"
    assert [s["name"] for s in body["series"]] == ["On time", "Late", "Past due, not submitted"]
