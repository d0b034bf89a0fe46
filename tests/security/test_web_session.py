"""The session cookie carries a server-side session id, never a bearer token; `create-user` keeps
the roles it is not asked to drop; `next=` never breaks the login (issue 13, items 9 and 10)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.models import ApiToken, RoleAssignment, User
from tests.web.conftest import Web


def cookie_contents(app, client):
    raw = client.get_cookie("session").value
    return raw, app.session_interface.get_signing_serializer(app).loads(raw)


def test_the_cookie_holds_no_bearer_token_and_its_id_is_refused_as_one(app, client, sessions):
    web = Web(client)
    web.login("xinsheng_laogan")
    raw, data = cookie_contents(app, client)
    assert client.get("/api/v1/me").get_json()["username"] == "xinsheng_laogan"  # the cookie itself works
    fresh = app.test_client()  # no cookie: only what a stolen cookie value could be replayed as
    for value in [raw, *(str(v) for v in data.values())]:  # e3f511d: data["tok"] was a bearer token
        r = fresh.get("/api/v1/me", headers={"Authorization": f"Bearer {value}"})
        assert r.status_code == 401 and r.get_json()["error"] == "unauthorized", value
    assert set(data) == {"uid", "sid", "csrf_token"}
    with sessions() as s:
        [row] = s.scalars(select(ApiToken)).all()
    assert row.kind == "web" and row.token_hash != data["sid"]  # only its SHA-256 is stored
    # logout revokes it, and keeps CSRF
    assert client.post("/logout").status_code == 400  # no CSRF token: refused, still signed in
    assert web.logout().status_code == 302
    with sessions() as s:
        assert s.scalars(select(ApiToken)).one().revoked_at is not None


def test_a_bearer_token_cannot_stand_in_for_the_session_id(app, api, client):
    token = api.token("xinsheng_laogan")
    with client.session_transaction() as sess:  # what a forged cookie could at most carry (it is signed)
        sess["uid"], sess["sid"] = 1, token
    r = client.get("/tasks")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert client.get("/api/v1/me").status_code == 401


# ---- create-user ------------------------------------------------------------------------------------

def roles_of(sessions, username):
    with sessions() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        return user.display_name, sorted((r.role, r.node_id) for r in s.scalars(
            select(RoleAssignment).where(RoleAssignment.user_id == user.id)))


def test_create_user_keeps_the_roles_and_name_it_is_not_asked_to_change(app, sessions):
    runner = app.test_cli_runner()
    before = roles_of(sessions, "xuchang_member")
    assert before == ("许厂煤矿纪委委员", [("member", "xuchang")])
    r = runner.invoke(args=["create-user", "xuchang_member", "--password", "Kq7-lamp-orbit"])
    assert r.exit_code == 0, r.output
    assert r.output.strip().endswith("user xuchang_member updated; roles: member:xuchang")
    assert roles_of(sessions, "xuchang_member") == before
    r = runner.invoke(args=["create-user", "xuchang_member", "--password", "Kq7-lamp-orbit",
                            "--role", "commissioner:xuchang-zongcai"])
    assert r.exit_code == 0 and "roles: member:xuchang, commissioner:xuchang-zongcai" in r.output
    # removing a role is explicit, and removes only that one
    r = runner.invoke(args=["create-user", "xuchang_member", "--password", "Kq7-lamp-orbit", "--drop-role", "member:xuchang"])
    assert r.exit_code == 0 and r.output.strip().endswith("roles: commissioner:xuchang-zongcai")
    assert roles_of(sessions, "xuchang_member") == ("许厂煤矿纪委委员", [("commissioner", "xuchang-zongcai")])
    # a role it does not hold: refused, nothing changed
    r = runner.invoke(args=["create-user", "xuchang_member", "--password", "Orbit-lamp-58q", "--drop-role", "admin"])
    assert r.exit_code == 1 and "does not hold the role admin" in r.output
    assert roles_of(sessions, "xuchang_member") == ("许厂煤矿纪委委员", [("commissioner", "xuchang-zongcai")])
    r = runner.invoke(args=["create-user", "xuchang_member", "--password", "Kq7-lamp-orbit", "--display-name", "许厂委员"])
    assert r.exit_code == 0 and roles_of(sessions, "xuchang_member")[0] == "许厂委员"


# ---- next= ---------------------------------------------------------------------------------------------

HOSTILE = ["/tasks\r\nSet-Cookie: evil=1", "/\r\nLocation: http://evil.example", "/tasks\nX: y", "/\x00",
           "/tasks\t", "/ta sks", "/tasks\x7f"]


def login_form_next(html):
    """The login form's own `next` field (the language switch in the header has one too)."""
    return html.count('name="next"') - 1


@pytest.mark.parametrize("target", HOSTILE)
def test_next_with_control_characters_falls_back_to_the_start_page(web_client, target):
    web = web_client
    r = web.get("/login", query_string={"next": target})
    assert r.status_code == 200 and login_form_next(r.get_data(as_text=True)) == 0
    r = web.post("/login", {"username": "xinsheng_laogan", "password": "demo12345", "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/tasks"
    r = web.get("/login", query_string={"next": target})  # signed in already
    assert r.status_code == 302 and r.headers["Location"] == "/tasks"
    web.get("/tasks")  # the signed-in session's CSRF token
    r = web.post("/lang", {"lang": "zh", "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/tasks"


def test_an_encoded_crlf_in_the_query_string_is_no_500(client):
    r = client.get("/login?next=/%0D%0ASet-Cookie:%20x=1")  # the red team's request: decoded to CR/LF
    assert r.status_code == 200 and login_form_next(r.get_data(as_text=True)) == 0
    r = client.get("/login?next=%E4%BB%BB%E5%8A%A1")  # not a path: ignored
    assert r.status_code == 200 and login_form_next(r.get_data(as_text=True)) == 0
    r = client.get("/login?next=/tasks%3Fdue%3Doverdue")  # a path of this site is kept
    assert 'name="next" value="/tasks?due=overdue"' in r.get_data(as_text=True)


@pytest.fixture
def web_client(client):
    return Web(client)
