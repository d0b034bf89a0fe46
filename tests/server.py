"""Real gunicorn processes for the fault and security tests (loopback only).

`Gunicorn(url, …)` starts `gunicorn -c deploy/gunicorn.conf.py` — the deployment's own
configuration — against the test database (on PostgreSQL: the test session's schema),
waits for /healthz, and stops the whole process group afterwards. Its JSON log lines go
to a file the tests read.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from engine.infra.settings import ROOT

PG_REASON = "needs PostgreSQL: set TEST_DATABASE_URL=postgresql://127.0.0.1:5432/test"


def require_pg() -> None:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip(PG_REASON)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    def __init__(self, database_url: str, log_path: Path, *, workers: int = 4, threads: int = 4,
                 forms_dir: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SANJI_", "FLASK_"))}
        self.env.update({
            "DATABASE_URL": database_url, "SANJI_ENV": "development", "SANJI_BIND": f"127.0.0.1:{self.port}",
            "SANJI_WEB_WORKERS": str(workers), "SANJI_WEB_THREADS": str(threads), "SANJI_LOG_LEVEL": "INFO",
            "SANJI_WEB_TIMEOUT": "60", "PYTHONUNBUFFERED": "1",
        })
        if forms_dir is not None:
            self.env["SANJI_FORMS_DIR"] = str(forms_dir)
        self.env.update(env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Gunicorn":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(gunicorn), "-c", str(ROOT / "deploy" / "gunicorn.conf.py")], cwd=ROOT,
                                     env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200 and \
                        len(self.worker_pids()) >= int(self.env["SANJI_WEB_WORKERS"]):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
        self._log.close()

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"raw": line})
        return out


class Client:
    """Bearer-token calls to a live server, one requests.Session per thread."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.tokens: dict[str, str] = {}
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def token(self, username: str, password: str = "demo12345") -> str:
        if username not in self.tokens:
            r = self.http.post(self.base + "/api/v1/auth/login", json={"username": username, "password": password},
                               timeout=30)
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["token"]
        return self.tokens[username]

    def call(self, method: str, path: str, user: str | None = None, timeout: float = 60, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if user:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        return self.http.request(method, self.base + path, headers=headers, timeout=timeout, **kw)

    def complete(self, task_id: int, user: str, data: dict[str, Any] | None = None, **kw: Any) -> requests.Response:
        return self.call("POST", f"/api/v1/tasks/{task_id}/complete", user, json={"data": data or {}}, **kw)
