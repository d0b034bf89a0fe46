"""The platform lists (issue 14): the bulletin's posts, one's notifications, the leading group's
decisions and one's study entries hold, per filter, exactly the same ids (days for the entries) in
the JSON API as on the pages, for every demo user."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.extensions import state
from engine.infra.db import write_intent
from engine.platform import notify
from tests.services.test_api_pages_agree import api_ids
from tests.web.builtins import deploy_builtins, start_by_timer

USERS = ("admin", "group_secretary", "group_member", "xinsheng_secretary", "xinsheng_laogan", "owner")
ROW = {
    "post-list": r'data-post-id="(\d+)"',
    "note-list": r'data-note-id="(\d+)"',
    "decisions": r'data-decision-id="(\d+)"',
}


def page_ids(web: Any, path: str, table: str, **params: Any) -> set[int]:
    """Every id of every page of a page's list (following its pager)."""
    out: set[int] = set()
    page = 1
    while True:
        r = web.get(path, query_string={**params, "page": page})
        assert r.status_code == 200, (path, params)
        html = r.get_data(as_text=True)
        body = re.search(rf'id="{table}">.*?</(table|section)>', html, re.S)
        if body is None:
            return out
        out |= {int(i) for i in re.findall(ROW[table], body.group(0))}
        if f"page={page + 1}" not in html.split(f'id="{table}"')[1]:
            return out
        page += 1


@pytest.fixture
def world(app: Any, api: Any, clock: Any) -> None:
    """Posts of every kind for everyone and for one unit (some read), and the notifications of the
    monthly report's tasks (some read)."""
    clock.set("2027-01-01T09:00:00+08:00")
    deploy_builtins(app)
    start_by_timer(app, "monthly_report")
    posts = [
        ("group_secretary", {"kind": "notice", "title": "通知一", "body": "全体学习"}),
        ("group_secretary", {"kind": "work", "title": "工作信息", "body": "学习 安排", "pinned": True}),
        (
            "xinsheng_secretary",
            {"kind": "notice", "title": "鑫盛通知", "body": "本单位", "audience_node_id": "xinsheng"},
        ),
        ("xinsheng_laogan", {"kind": "experience", "title": "经验", "body": "学习心得"}),
    ]
    for user, data in posts:
        r = api.post("/api/v1/bulletin", user, json=data)
        assert r.status_code == 201, r.get_json()
        if user != "xinsheng_laogan":
            assert api.post(f"/api/v1/bulletin/{r.get_json()['id']}/read", "xinsheng_laogan").status_code == 200
    st = state(app)
    with write_intent(), st.sessions() as s:
        notify.collect(s, st.clock, st.settings)
        s.commit()
    for user in USERS:
        items = api.get("/api/v1/notifications", user).get_json()["items"]
        if items:
            assert api.post(f"/api/v1/notifications/{items[0]['id']}/read", user).status_code == 200


def test_bulletin_and_notifications_agree(api, web, world):
    seen_posts: set[int] = set()
    seen_notes: set[int] = set()
    for user in USERS:
        web.client.delete_cookie("session")
        web.token = None
        web.login(user)
        for params in ({}, {"kind": "notice"}, {"kind": "work"}, {"q": "学习"}, {"q": "学习", "kind": "experience"}):
            for unread in (False, True):
                query = {**params, **({"unread": "1"} if unread else {})}
                ids = api_ids(api, "/api/v1/bulletin", user, **query)
                assert ids == page_ids(web, "/bulletin", "post-list", **query), (user, query)
                seen_posts |= ids
        for unread in (False, True):
            query = {"unread": "1"} if unread else {}
            ids = api_ids(api, "/api/v1/notifications", user, **query)
            assert ids == page_ids(web, "/notifications", "note-list", **query), (user, query)
            seen_notes |= ids
    assert len(seen_posts) == 4 and seen_notes


def test_decisions_and_study_entries_agree(api, web, clock):
    """Eight meetings (more than a page of the API's 7), entries on some of the last days."""
    clock.set("2027-01-20T09:00:00+08:00")
    for day in range(1, 9):
        data = {"meeting_date": f"2027-01-{day:02d}", "title": f"第{day}次会议", "decisions": "决定", "attendees": []}
        r = api.post("/api/v1/leading-group/decisions", "group_secretary", json=data)
        assert r.status_code == 201, r.get_json()
    for day, kind in (("2027-01-20", "situation"), ("2027-01-18", "knowledge"), ("2027-01-15", "insight")):
        r = api.post("/api/v1/study/entries", "xinsheng_laogan", json={"kind": kind, "day": day, "text": "学习"})
        assert r.status_code == 201, r.get_json()
    web.login("xinsheng_laogan")
    decisions = api_ids(api, "/api/v1/leading-group/decisions", "xinsheng_laogan")
    assert len(decisions) == 8 and decisions == page_ids(web, "/leading-group", "decisions")
    days: set[str] = set()
    page = 1
    while True:
        body = api.get(
            "/api/v1/study/entries", "xinsheng_laogan", query_string={"from": "2026-12-21", "per_page": 2, "page": page}
        ).get_json()
        days |= {e["day"] for e in body["items"]}
        if page * body["per_page"] >= body["total"]:
            break
        page += 1
    html = web.get("/study").get_data(as_text=True)
    assert days == {"2027-01-20", "2027-01-18", "2027-01-15"}
    assert days == set(re.findall(r'data-day="([\d-]+)"', html.split('id="recent-entries"')[1]))
