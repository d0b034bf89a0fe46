"""Helpers for the page tests: sign in through the login form with its CSRF token, post forms."""
from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from tests.conftest import BPMN

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "the page has no CSRF token"
    return unescape(m.group(1))


class Web:
    """A browser-like test client: keeps the session cookie and the current CSRF token."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.token: str | None = None

    def get(self, path: str, **kw: Any) -> Any:
        r = self.client.get(path, **kw)
        if r.mimetype == "text/html":
            m = CSRF.search(r.get_data(as_text=True))
            if m:
                self.token = unescape(m.group(1))
        return r

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True, **kw: Any) -> Any:
        data = dict(data or {})
        if csrf:
            if self.token is None:
                self.get("/login")
            data.setdefault("csrf_token", self.token)
        r = self.client.post(path, data=data, **kw)
        if r.mimetype == "text/html":
            m = CSRF.search(r.get_data(as_text=True))
            if m:
                self.token = unescape(m.group(1))
        return r

    def login(self, username: str, password: str = "demo12345") -> Any:
        self.get("/login")
        r = self.post("/login", {"username": username, "password": password})
        assert r.status_code == 302, r.get_data(as_text=True)[:2000]
        self.get("/tasks")  # the new session's CSRF token
        return r

    def logout(self) -> Any:
        return self.post("/logout")


@pytest.fixture
def web(client: Any) -> Web:
    return Web(client)


@pytest.fixture
def report_app(api: Any) -> Any:
    """The app with the test report process (branch writes, unit reviews, send-back loop)."""
    r = api.deploy(BPMN / "web_report.bpmn")
    assert r.status_code == 201, r.get_json()
    return api


def start_report(api: Any, user: str = "xinsheng_laogan") -> dict[str, Any]:
    r = api.post("/api/v1/process-definitions/web_report/start", user, json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


class Reader:
    """Reads the database in short transactions of their own, so that the app's writers are
    never blocked by a test holding a transaction open (SQLite has one writer at a time)."""

    def __init__(self, sessions: Any) -> None:
        self.sessions = sessions

    def scalars(self, stmt: Any) -> list[Any]:
        with self.sessions() as s:
            return list(s.scalars(stmt))

    def scalar(self, stmt: Any) -> Any:
        with self.sessions() as s:
            return s.scalar(stmt)

    def get(self, model: Any, ident: Any) -> Any:
        with self.sessions() as s:
            return s.get(model, ident)


@pytest.fixture
def reader(sessions: Any) -> Reader:
    return Reader(sessions)
