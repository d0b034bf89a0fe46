"""The JSON API and the pages list the same things (issue 14): for each list and each filter
either offers, the ids `GET /api/v1/...` returns equal the ids the page shows to the same demo
user, exactly. The data is made through the API (and the built-in monthly report, started as
its timer would), with incidents of every kind: open, suspended after failing, terminated."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import BPMN
from tests.web.builtins import deploy_builtins, start_by_timer

USERS = ("admin", "group_secretary", "group_member", "xinsheng_secretary", "xinsheng_laogan", "owner")
INSTANCE_STATUSES = ("running", "suspended", "error", "completed", "terminated")


def api_ids(api: Any, path: str, user: str, **params: Any) -> set[int]:
    """Every id of every page of an API list."""
    out: set[int] = set()
    page = 1
    while True:
        r = api.get(path, user, query_string={"per_page": 7, "page": page, **params})
        assert r.status_code == 200, (path, params, r.get_json())
        body = r.get_json()
        out |= {item["id"] for item in body["items"]}
        if page * body["per_page"] >= body["total"]:
            assert len(out) == body["total"], (path, params)
            return out
        page += 1


ROW = {
    "register-list": r'<tr data-record-id="(\d+)"',
    "process-list": r'<tr data-key="([^"]+)"',
    "instance-list": r'<tr data-instance-id="(\d+)"',
    "task-list": r'data-task-id="(\d+)"',
    "supervise-list": r'data-task-id="(\d+)"',
    "done-list": r'href="/tasks/(\d+)"',
}


def page_ids(web: Any, path: str, table: str, **params: Any) -> set[Any]:
    """Every id of every page of a page's list (following its pager)."""
    out: set[int] = set()
    page = 1
    while True:
        r = web.get(path, query_string={**params, "page": page})
        assert r.status_code == 200, (path, params)
        html = r.get_data(as_text=True)
        body = re.search(rf'id="{table}">.*?</table>', html, re.S)
        if body is None:
            return out
        out |= {i if table == "process-list" else int(i) for i in re.findall(ROW[table], body.group(0))}
        if f"page={page + 1}" not in html.split(f'id="{table}"')[1]:
            return out
        page += 1


@pytest.fixture
def world(app: Any, api: Any, clock: Any) -> dict[str, Any]:
    """The monthly report (9 branch instances with tasks), incident instances: one open, one
    suspended after failing, one terminated after failing; one running with a completed task."""
    clock.set("2027-01-01T09:00:00+08:00")
    deploy_builtins(app)
    monthly = start_by_timer(app, "monthly_report")
    assert api.deploy(BPMN / "incident.bpmn").status_code == 201
    started = []
    for divisor in (0, 0, 0, 2):
        r = api.post(
            "/api/v1/process-definitions/incident_test/start",
            "group_secretary",
            json={"variables": {"divisor": divisor}},
        )
        assert r.status_code == 201, r.get_json()
        started.append(r.get_json()["id"])
    open_error, suspended_error, terminated_error, running = started
    assert (
        api.post(f"/api/v1/process-instances/{suspended_error}/suspend", "admin", json={"reason": "核对"}).status_code
        == 200
    )
    assert (
        api.post(
            f"/api/v1/process-instances/{terminated_error}/terminate", "admin", json={"reason": "作废"}
        ).status_code
        == 200
    )
    review = next(t for t in api.tasks("group_secretary") if t["instance_id"] == running)
    assert api.post(f"/api/v1/tasks/{review['id']}/claim", "group_secretary").status_code == 200
    assert api.post(f"/api/v1/tasks/{review['id']}/complete", "group_secretary", json={"data": {}}).status_code == 200
    assert (
        api.post("/api/v1/process-definitions/incident_test/undeploy", "owner", json={"reason": "测试完毕"}).status_code
        == 200
    )  # its instances stay, the process is gone
    add_records(app, clock.now())
    laogan = api.tasks("xinsheng_laogan")
    assert api.post(f"/api/v1/tasks/{laogan[0]['id']}/claim", "xinsheng_laogan").status_code == 200
    return {
        "monthly": monthly,
        "open_error": open_error,
        "suspended_error": suspended_error,
        "terminated_error": terminated_error,
        "running": running,
    }


def add_records(app: Any, now: Any) -> None:
    """Register rows as the diagrams' scripts write them (save_record; there is no API to write them)."""
    from api.extensions import state
    from engine.infra.db import write_intent
    from engine.models import Record

    rows = [
        ("ledger", "xuchang", "xuchang", {"year": 2026}, False),
        ("ledger", "xinsheng", "xinsheng", {"year": 2027}, False),
        ("commendation", "xinsheng-laogan", "xinsheng", {"year": 2026}, False),
        ("commendation", "xuchang-zongcai", "xuchang", {"year": 2027}, False),
        ("clue", "xinsheng", "xinsheng", {"year": 2027, "status": "待研判"}, True),
        ("clue", "xinsheng-laogan", "xinsheng", {"year": 2027, "status": "已了结"}, True),
        ("clue", "xuchang", "xuchang", {"year": 2026, "status": "待研判"}, True),
    ]
    st = state(app)
    with write_intent(), st.sessions() as s:
        for i, (kind, node, unit, data, confidential) in enumerate(rows):
            s.add(
                Record(
                    kind=kind,
                    key=f"test:{i}",
                    node_id=node,
                    unit_id=unit,
                    confidential=confidential,
                    data={**data, "unit_id": unit},
                    created_at=now,
                    updated_at=now,
                )
            )
        s.commit()


REGISTERS = {
    "ledger": ("/api/v1/ledger", "/registers/ledger"),
    "commendation": ("/api/v1/commendations", "/registers/commendations"),
    "clue": ("/api/v1/clues", "/registers/clues"),
}


def test_incident_means_error_recorded_and_not_ended(api, world):
    """A failed instance an admin then suspended still has its incident, in the API as on the page."""
    got = api_ids(api, "/api/v1/process-instances", "admin", incident="true")
    assert got == {world["open_error"], world["suspended_error"]}


def instance_filters(api: Any, user: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(API parameters, page parameters) of every instance filter, with the values the data has."""
    r = api.get("/api/v1/process-instances", user, query_string={"per_page": 500})
    items = r.get_json()["items"]
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = [({}, {})]
    pairs += [({"status": s}, {"status": s}) for s in INSTANCE_STATUSES]
    pairs += [({"key": k}, {"process": k}) for k in sorted({i["process_key"] for i in items})]
    pairs += [({"unit_id": u}, {"unit": u}) for u in sorted({i["unit_id"] for i in items if i["unit_id"]})]
    pairs += [
        ({"top_level": "true"}, {"level": "top"}),
        ({"incident": "true"}, {"incident": "1"}),
        ({"overdue": "true"}, {"overdue": "1"}),
        ({"started_after": "2027-01-01"}, {"started_from": "2027-01-01"}),
        ({"started_after": "2027-01-02"}, {"started_from": "2027-01-02"}),
        ({"started_before": "2027-01-02"}, {"started_to": "2027-01-01"}),
        ({"started_before": "2027-01-01"}, {"started_to": "2026-12-31"}),
        ({"status": "running", "top_level": "1"}, {"status": "running", "level": "top"}),
    ]
    return pairs


def task_filters(api: Any, user: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    items = api.tasks(user)
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = [({}, {})]
    pairs += [({"process_key": k}, {"process": k}) for k in sorted({t["process_key"] for t in items})]
    pairs += [({"unit_id": u}, {"unit": u}) for u in sorted({t["unit_id"] for t in items if t["unit_id"]})]
    pairs += [({"overdue": "true"}, {"due": "overdue"})]
    return pairs


@pytest.mark.parametrize("later", [False, True], ids=["at-start", "a-month-later"])
def test_api_and_pages_list_the_same_ids(api, web, world, clock, later):
    if later:
        clock.advance(timedelta(days=31))  # every monthly report task is overdue now
    checked = nonempty = 0
    for user in USERS:
        api.tokens.clear()
        web.client.delete_cookie("session")
        web.token = None
        web.login(user)
        # instances: the API list and 流程跟踪
        for api_params, page_params in instance_filters(api, user):
            a = api_ids(api, "/api/v1/process-instances", user, **api_params)
            assert a == page_ids(web, "/instances", "instance-list", **page_params), (user, api_params)
            checked, nonempty = checked + 1, nonempty + bool(a)
        # children of an instance: ?parent_id= and the instance page's children table
        if user in ("admin", "group_member", "xinsheng_secretary"):
            a = api_ids(api, "/api/v1/process-instances", user, parent_id=world["monthly"])
            r = web.get(f"/instances/{world['monthly']}")
            if r.status_code == 200:
                section = re.search(r'id="children">.*?</section>', r.get_data(as_text=True), re.S)
                p = (
                    {int(i) for i in re.findall(r'<tr data-instance-id="(\d+)"', section.group(0))}
                    if section
                    else set()
                )
                assert a == p, user
            else:
                assert r.status_code == 404
        # open tasks: the API worklist and 待办
        for api_params, page_params in task_filters(api, user):
            a = api_ids(api, "/api/v1/tasks", user, **api_params)
            assert a == page_ids(web, "/tasks", "task-list", **page_params), (user, api_params)
            checked, nonempty = checked + 1, nonempty + bool(a)
        # due today / this week: the page's horizons are the API's due_before at the next local midnight
        now = clock.now().astimezone(clock_zone(web))
        for due, days in (("today", 1), ("week", 8)):
            midnight = (now + timedelta(days=days)).date().isoformat()
            a = api_ids(api, "/api/v1/tasks", user, due_before=midnight)
            assert a == page_ids(web, "/tasks", "task-list", due=due), (user, due)
        # completed: ?status=completed and 已办
        a = api_ids(api, "/api/v1/tasks", user, status="completed")
        assert a == page_ids(web, "/tasks/done", "done-list"), user
        checked, nonempty = checked + 1, nonempty + bool(a)
        # registers: the API lists and the register pages, with each filter
        for kind, (api_path, page_path) in REGISTERS.items():
            filters: list[dict[str, Any]] = [
                {},
                {"unit_id": "xinsheng"},
                {"unit_id": "xuchang"},
                {"year": 2026},
                {"year": 2027, "unit_id": "xinsheng"},
            ]
            if kind == "clue":
                filters += [{"status": "待研判"}, {"status": "已了结"}, {"status": "待研判", "year": 2027}]
            for params in filters:
                a = api_ids(api, api_path, user, **params)
                assert a == page_ids(web, page_path, "register-list", **params), (user, kind, params)
                checked, nonempty = checked + 1, nonempty + bool(a)
        # definitions: the API list and the process library
        r = api.get("/api/v1/process-definitions", user, query_string={"per_page": 500})
        a = {d["key"] for d in r.get_json()["items"]}
        assert a == page_ids(web, "/processes", "process-list") and "incident_test" not in a, user
        web.logout()
    assert nonempty > 30 and checked > nonempty  # the data makes most filters non-trivial, some empty


def clock_zone(web: Any) -> Any:
    from api.extensions import settings

    with web.client.application.app_context():
        return settings().zone
