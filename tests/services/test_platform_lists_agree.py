"""The platform lists (issue 14): the bulletin's posts and one's notifications, per filter, hold
exactly the same ids in the JSON API as on the pages, for every demo user."""

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
ROW = {"post-list": r'data-post-id="(\d+)"', "note-list": r'data-note-id="(\d+)"'}


def page_ids(web: Any, path: str, table: str, **params: Any) -> set[int]:
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
