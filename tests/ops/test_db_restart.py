"""PostgreSQL restarted under load: 503 JSON while it is down, no 500, recovery without
restarting Sanji.

This restarts the machine's PostgreSQL cluster (`pg_ctlcluster … restart`), which other
test runs on the same server may share: the outage is one fast restart (~1-3 s), the load
is bounded, and the test only runs when TEST_DATABASE_URL points at a local cluster.
"""
from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.engine import make_url

from engine.infra.clock import SystemClock
from engine.core.runtime import Runtime
from tests.conftest import BPMN, deploy_file, principal
from tests.server import Client, Gunicorn, require_pg

pytestmark = [pytest.mark.pg, pytest.mark.slow, pytest.mark.exclusive]


def local_cluster(database_url: str) -> str:
    """The version of the local cluster to restart, or skip with the reason."""
    require_pg()
    if make_url(database_url).host not in ("127.0.0.1", "localhost", None):
        pytest.skip("the database is not on this machine: cannot restart it")
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        pytest.skip("pg_ctlcluster is not available (Debian postgresql-common)")
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir() if (p / "main").is_dir())
    if not versions:
        pytest.skip("no local PostgreSQL cluster named main")
    return versions[-1]


def test_database_restart_gives_503_then_recovers(database_url, clean_db, session, settings, forms, clock,
                                                  forms_dir, tmp_path):
    version = local_cluster(database_url)
    deploy_file(session, BPMN / "ops_two_step.bpmn", forms, clock)
    rt = Runtime(session, SystemClock(), settings, forms)
    starter = principal(session, "group_secretary")
    for _ in range(60):
        rt.start("ops_two_step", {}, starter)
    session.commit()
    session.close()
    with Gunicorn(database_url, tmp_path / "gunicorn.log", workers=4, threads=2, forms_dir=forms_dir) as server:
        client = Client(server.url)
        client.token("group_secretary")
        tasks = [t["id"] for t in client.call("GET", "/api/v1/tasks?per_page=500", "group_secretary").json()["items"]]
        assert len(tasks) == 60
        pids_before = (server.proc.pid, server.worker_pids())  # type: ignore[union-attr]
        results: list[tuple[float, Any, str]] = []
        completed_200: list[int] = []
        lock = threading.Lock()
        stop = threading.Event()
        todo = list(tasks)

        def load(i: int) -> None:
            c = Client(server.url)
            c.tokens = client.tokens
            n = 0
            while not stop.is_set() and n < 2000:
                n += 1
                with lock:
                    tid = todo.pop() if (i % 2 and todo) else None
                try:
                    if tid is None:
                        r = c.call("GET", "/api/v1/tasks?per_page=5", "group_secretary", timeout=30)
                    else:
                        r = c.complete(tid, "group_secretary", timeout=30)
                        if r.status_code == 200:
                            completed_200.append(tid)
                        if r.status_code == 503:
                            with lock:
                                todo.insert(0, tid)  # try again later
                    outcome: Any = r.status_code
                    body = r.text
                except requests.RequestException as exc:
                    outcome, body = type(exc).__name__, ""
                with lock:
                    results.append((time.monotonic(), outcome, body))
                time.sleep(0.01)

        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(2)
        restart_began = time.monotonic()
        proc = subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                              capture_output=True, text=True, timeout=120)
        restart_done = time.monotonic()
        assert proc.returncode == 0, proc.stderr
        # keep the load on until requests have succeeded for a while again (bounded)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                recent = [r for r in results if r[0] > restart_done]
            if len(recent) >= 40 and all(r[1] == 200 for r in recent[-30:]):
                break
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)

        outcomes = Counter(r[1] for r in results)
        print(f"restart took {restart_done - restart_began:.1f} s; outcomes {dict(outcomes)}")
        errors = [line for line in server.log_lines() if line.get("exc") or "raw" in line
                  or line.get("status") == 500]
        assert 500 not in outcomes, "\n".join(map(str, errors[-6:]))
        assert set(outcomes) <= {200, 503}, outcomes
        assert outcomes[503] >= 1, "no request saw the outage"
        for _, status, body in results:
            if status == 503:
                assert "Traceback" not in body
                assert requests.models.complexjson.loads(body)["error"] == "unavailable"
        recent = [r for r in results if r[0] > restart_done]
        assert [r[1] for r in recent[-30:]] == [200] * 30, Counter(r[1] for r in recent)
        # the same master and workers served before and after: Sanji was not restarted
        assert (server.proc.pid, server.worker_pids()) == pids_before  # type: ignore[union-attr]
        assert "Traceback" not in server.log_text()
        # every completion that answered 200 is stored exactly once
        done = [t["id"] for t in client.call("GET", "/api/v1/tasks?status=completed&per_page=500",
                                              "group_secretary").json()["items"]]
        assert len(done) == len(set(done))
        assert sorted(done) == sorted(completed_200)
