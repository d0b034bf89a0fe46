"""Sign-in, sessions, CSRF, logout, throttling, language and security headers of the pages."""
from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select

from app import create_app
from engine.models import ApiToken, EventLog
from tests.web.conftest import Web, csrf_of


def session_cookie(response) -> SimpleCookie:
    header = next(v for k, v in response.headers.items() if k.lower() == "set-cookie" and v.startswith("session="))
    cookie = SimpleCookie()
    cookie.load(header)
    return cookie


def raw_set_cookie(response) -> str:
    return next(v for k, v in response.headers.items() if k.lower() == "set-cookie" and v.startswith("session="))


def test_pages_need_sign_in_and_come_back_after_it(web):
    r = web.get("/tasks?due=overdue")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")
    r = web.get(r.headers["Location"])
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "登录" in html and 'name="next" value="/tasks?due=overdue"' in html
    r = web.post("/login", {"username": "xinsheng_laogan", "password": "demo12345", "next": "/tasks?due=overdue"})
    assert r.status_code == 302 and r.headers["Location"] == "/tasks?due=overdue"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_next_never_leaves_the_site(web, target):
    web.get("/login")
    r = web.post("/login", {"username": "xinsheng_laogan", "password": "demo12345", "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/tasks"


def test_session_cookie_flags_and_rotation_at_login(web, reader):
    r = web.get("/login")
    before = raw_set_cookie(r)
    assert "HttpOnly" in before and "SameSite=Lax" in before and "Secure" not in before
    token_before = web.token
    r = web.post("/login", {"username": "xinsheng_laogan", "password": "demo12345"})
    after = raw_set_cookie(r)
    assert "HttpOnly" in after and "SameSite=Lax" in after
    assert session_cookie(r)["session"].value != SimpleCookie(before)["session"].value
    web.get("/tasks")
    assert web.token != token_before  # a new session (and CSRF token) at sign-in
    # a second sign-in issues a fresh server-side token
    web.login("xinsheng_laogan")
    assert len(reader.scalars(select(ApiToken))) == 2


def test_secure_cookie_over_https_and_behind_a_trusted_proxy(app, clean_db, settings, clock):
    client = app.test_client()
    r = client.get("/login", base_url="https://sanji.example")
    assert "Secure" in raw_set_cookie(r)
    # X-Forwarded-Proto counts only when SANJI_PROXY_FIX says a proxy is in front
    r = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in raw_set_cookie(r)
    proxied = create_app(settings.with_(proxy_fix=1), clock=clock, engine=clean_db)
    r = proxied.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in raw_set_cookie(r)


def test_wrong_password_and_throttling(web, reader, app):
    web.get("/login")
    for _ in range(5):
        r = web.post("/login", {"username": "xinsheng_laogan", "password": "wrong-password"})
        assert r.status_code == 401
        assert "用户名或密码错误" in r.get_data(as_text=True)
    r = web.post("/login", {"username": "xinsheng_laogan", "password": "demo12345"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert "登录失败次数过多，请 1 分钟后再试" in r.get_data(as_text=True)
    assert reader.scalar(select(EventLog.id).where(EventLog.type == "login_throttled")) is not None
    # the owner on another device (another address) is not slowed down by these failures
    other = Web(app.test_client())
    other.client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert other.login("xinsheng_laogan").headers["Location"] == "/tasks"
    r = web.post("/login", {"username": "", "password": ""})
    assert r.status_code == 400 and "请输入用户名和密码" in r.get_data(as_text=True)


def test_logout_revokes_the_session_server_side(web, client, reader):
    web.login("xinsheng_laogan")
    stolen = client.get_cookie("session").value
    r = web.logout()
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert "您已退出登录" in web.get("/login").get_data(as_text=True)
    assert reader.scalars(select(ApiToken))[0].revoked_at is not None
    assert reader.scalar(select(EventLog.payload).where(EventLog.type == "logout")) == {"channel": "web"}
    # replaying the old cookie does not work: its token is revoked
    client.set_cookie("session", stolen)
    r = client.get("/tasks")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    r = client.get("/api/v1/me")
    assert r.status_code == 401


def test_csrf_on_page_forms(web, report_app):
    web.get("/login")
    r = web.post("/login", {"username": "xinsheng_laogan", "password": "demo12345"}, csrf=False)
    assert r.status_code == 400 and "页面已过期" in r.get_data(as_text=True)
    web.login("xinsheng_laogan")
    r = web.post("/lang", {"lang": "en"}, csrf=False)
    assert r.status_code == 400
    r = web.post("/lang", {"lang": "en", "csrf_token": "forged"}, csrf=False)
    assert r.status_code == 400
    r = web.post("/logout", csrf=False)
    assert r.status_code == 400
    assert web.get("/tasks").status_code == 200  # still signed in


def test_api_accepts_the_session_with_csrf_and_bearer_without(web, client, api, report_app):
    from tests.web.conftest import start_report

    inst = start_report(api)
    task_id = inst["open_tasks"][0]["id"]
    web.login("xinsheng_laogan")
    assert client.get("/api/v1/me").get_json()["username"] == "xinsheng_laogan"  # GET: the session is enough
    r = client.post(f"/api/v1/tasks/{task_id}/claim")
    assert r.status_code == 400 and r.get_json()["error"] == "csrf_failed"
    r = client.post(f"/api/v1/tasks/{task_id}/claim", headers={"X-CSRFToken": web.token})
    assert r.status_code == 200 and r.get_json()["assignee"] == "xinsheng_laogan"
    # a bearer call carries its own credentials: no CSRF token needed even with a cookie around
    r = api.post(f"/api/v1/tasks/{task_id}/unclaim", "xinsheng_laogan")
    assert r.status_code == 200 and r.get_json()["assignee"] is None
    # without any credentials the API answers 401 (not a CSRF error)
    fresh = client.application.test_client()
    assert fresh.post(f"/api/v1/tasks/{task_id}/claim").status_code == 401


def test_language_switch_and_it_survives_sign_in(web):
    web.get("/login")
    r = web.post("/lang", {"lang": "en", "next": "/login"})
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    html = web.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html and "Sign in" in html and "登录" not in html
    web.login("xinsheng_laogan")
    html = web.get("/tasks").get_data(as_text=True)
    assert "My tasks" in html and "Sign out" in html
    web.post("/lang", {"lang": "zh", "next": "/tasks"})
    html = web.get("/tasks").get_data(as_text=True)
    assert "待办" in html and "退出" in html
    web.post("/lang", {"lang": "xx"})  # unknown: ignored
    assert '<html lang="zh-CN">' in web.get("/tasks").get_data(as_text=True)


def test_security_headers_and_no_cdn(web):
    r = web.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "DENY"
    html = r.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    for path in ("/static/css/app.css", "/static/js/app.js"):
        with web.client.get(path) as static:
            assert static.status_code == 200


def test_root_redirects_browsers_and_answers_json_clients(client):
    r = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 302 and r.headers["Location"] == "/tasks"
    r = client.get("/", headers={"Accept": "*/*"})
    assert r.get_json()["api"] == "/api/v1"


def test_csrf_token_is_in_the_meta_tag(web):
    html = web.get("/login").get_data(as_text=True)
    assert f'<meta name="csrf-token" content="{csrf_of(html)}">' in html


def test_an_expired_session_leads_back_to_the_page_after_sign_in(web, clock):
    from datetime import timedelta

    web.login("xinsheng_laogan")
    clock.advance(timedelta(hours=13))  # the session's server-side token lives 12 hours
    # a form posted with a valid CSRF token: back to the form's page after signing in
    r = web.post("/tasks/7", {"summary": "x"})
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/tasks/7"
    # the expired session was cleared: its CSRF token is gone too, so the page has expired
    r = web.post("/tasks/7/claim", {})
    assert r.status_code == 400 and "页面已过期" in r.get_data(as_text=True)
    r = web.get("/tasks/done")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/tasks/done"
    web.login("xinsheng_laogan")
    r = web.post("/tasks/7/claim", {})  # an action URL that is no page: back to the task list
    assert r.status_code == 302
    clock.advance(timedelta(hours=13))
    r = web.post("/tasks/7/claim", {})
    assert r.status_code == 302 and r.headers["Location"] == "/login"
