"""Sanji and spiff-arena side by side: the same two-user-task diagram, the same form data with
JSON Schema validation on in both, completions alternating in one loop.

    bench/spiff_arena_setup.sh ARENA CONNECTOR            # once: spiff-arena's venv (docs/performance.md)
    .venv/bin/python -m bench.vs_spiff_arena --spiff-arena ARENA [-n 560] [--sanji-threads 4]

Sanji: gunicorn with the deployment's configuration (deploy/gunicorn.conf.py), one worker
(`--sanji-threads 1`: a sync worker, a new TCP connection per request; more: gthread, keep-alive),
a SQLite file, bearer token of the branch commissioner; POST /api/v1/tasks/{id}/complete.
spiff-arena: its backend from the checkout (`spiff_web_server:asgi_app`) under uvicorn with one
worker, exactly as its bin/run_server_locally starts it but without --reload and with log level
warning, a SQLite file, its built-in OpenID, `SPIFFWORKFLOW_BACKEND_VALIDATE_USER_TASK_DATA_AGAINST_SCHEMA`
on; PUT /v1.0/tasks/{instance}/{task guid} by the user of the first lane's group.

The diagram is bench/two_step.bpmn (a form task with Sanji's monthly-report JSON Schema, a
script, a review task in a second lane); for spiff-arena its lanes are named after two groups
(`branch`, `unit`) that the bench's permissions file defines, and the same schema file is
uploaded beside it. Each completion completes the first task of a different instance, prepared
before the loop (not timed). The client is bench.common.Http (http.client; keep-alive whenever
the server keeps the connection open; uvicorn does). The two systems alternate, and which goes
first alternates too, so the machine's load falls on both alike. After the loop every completed
instance is checked to wait at its review task in both systems.

Besides the medians at the client it reports each server's CPU time per completion (user +
system of the server's processes over the measured loop, from /proc, divided by n): on a
machine shared with other work the time at the client mostly measures waiting for a CPU, and a
request that needs more CPU waits proportionally longer; the CPU time hardly moves with load.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from .common import ROOT, Http, cpu_ms, database, gunicorn, load, login, process_tree, summary, timed
from .completion import BPMN, FORM_DATA, prepare
from .run import git_sha

SCHEMA = ROOT / "forms" / "monthly_report_write.json"
CLIENT_ID, CLIENT_SECRET = "spiffworkflow-backend", "JXeQExm0JhQPLumgHtIIqf52bDalHz0q"  # its local OpenID's
GROUP, MODEL, PROCESS = "bench", "bench/two-step", "bench_two_step"

PERMISSIONS = """\
users:
  admin: {service: local_open_id, email: admin@example.com, password: admin, preferred_username: admin}
  clerk: {service: local_open_id, email: clerk@example.com, password: clerk, preferred_username: clerk}
  reviewer: {service: local_open_id, email: reviewer@example.com, password: reviewer, preferred_username: reviewer}
groups:
  admin: {users: [admin@example.com]}
  branch: {users: [clerk@example.com]}
  unit: {users: [reviewer@example.com]}
permissions:
  admin: {groups: [admin], actions: [create, read, update, delete], uri: /*}
  basic: {groups: [branch, unit], actions: [all], uri: BASIC}
"""


def spiff_bpmn() -> bytes:
    """bench/two_step.bpmn with its two lanes named after the bench's two spiff-arena groups."""
    text = BPMN.read_text(encoding="utf-8")
    text = re.sub(r'(<bpmn:lane id="L_branch" name=")[^"]*"', r'\1branch"', text)
    text = re.sub(r'(<bpmn:lane id="L_unit" name=")[^"]*"', r'\1unit"', text)
    return text.encode()


def free_port() -> int:
    from tests.server import free_port as fp

    return fp()


class SpiffArena:
    """spiff-arena's backend on a loopback port over a SQLite file in `workdir`."""

    def __init__(self, checkout: Path, venv: Path, workdir: Path) -> None:
        self.backend = checkout / "spiffworkflow-backend"
        self.python = venv / "bin" / "python"
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = workdir / "spiff.sqlite3"
        (workdir / "models").mkdir(exist_ok=True)
        (workdir / "permissions.yml").write_text(PERMISSIONS)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SPIFFWORKFLOW_", "FLASK_", "SANJI_"))}
        self.env.update({
            "SPIFFWORKFLOW_BACKEND_ENV": "local_development",
            "SPIFFWORKFLOW_BACKEND_DATABASE_TYPE": "sqlite",
            "SPIFFWORKFLOW_BACKEND_DATABASE_URI": f"sqlite:///{self.db}",
            "SPIFFWORKFLOW_BACKEND_BPMN_SPEC_ABSOLUTE_DIR": str(workdir / "models"),
            "SPIFFWORKFLOW_BACKEND_PERMISSIONS_FILE_ABSOLUTE_PATH": str(workdir / "permissions.yml"),
            "SPIFFWORKFLOW_BACKEND_URL": self.url,
            "SPIFFWORKFLOW_BACKEND_AUTH_CONFIGS__0__identifier": "default",
            "SPIFFWORKFLOW_BACKEND_AUTH_CONFIGS__0__label": "internal openid",
            "SPIFFWORKFLOW_BACKEND_AUTH_CONFIGS__0__uri": f"{self.url}/openid",
            "SPIFFWORKFLOW_BACKEND_AUTH_CONFIGS__0__client_id": CLIENT_ID,
            "SPIFFWORKFLOW_BACKEND_AUTH_CONFIGS__0__client_secret": CLIENT_SECRET,
            "SPIFFWORKFLOW_BACKEND_RUN_BACKGROUND_SCHEDULER_IN_CREATE_APP": "false",
            "SPIFFWORKFLOW_BACKEND_VALIDATE_USER_TASK_DATA_AGAINST_SCHEMA": "true",
            "SPIFFWORKFLOW_BACKEND_LOG_LEVEL": "warning",
            "FLASK_SESSION_SECRET_KEY": "bench-only-not-a-secret",
            "PYTHONUNBUFFERED": "1",
        })
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SpiffArena:
        log = open(self.workdir / "spiff-arena.log", "ab")
        subprocess.run([str(self.python), "-m", "flask", "db", "upgrade"], cwd=self.backend, env=self.env,
                       stdout=log, stderr=subprocess.STDOUT, check=True)
        self.proc = subprocess.Popen(
            [str(self.python), "-m", "uvicorn", "spiff_web_server:asgi_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1", "--log-level", "warning"],
            cwd=self.backend, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"spiff-arena exited with {self.proc.returncode}; see {self.workdir}/spiff-arena.log")
            try:
                if Http(self.url, timeout=5).get("/v1.0/status").status_code == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError("spiff-arena did not answer within 180 s")

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def token(self, user: str) -> dict[str, str]:
        """A bearer header for `user` from spiff-arena's built-in OpenID (password grant)."""
        import base64
        import http.client
        import urllib.parse

        body = urllib.parse.urlencode({"grant_type": "password", "username": user, "password": user,
                                       "code": f"{user}:this_is_not_secure_do_not_use_in_production",
                                       "client_id": CLIENT_ID})
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", "/openid/token", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"})
        resp = conn.getresponse()
        data = json.loads(resp.read())
        conn.close()
        headers = {"Authorization": f"Bearer {data['access_token']}"}
        r = Http(self.url).post("/v1.0/login_with_access_token?authentication_identifier=default", None, headers)
        if r.status_code not in (200, 204, 302):
            raise RuntimeError(f"spiff-arena login of {user}: {r.status_code} {r.text[:300]}")
        return headers

    def upload(self, headers: dict[str, str], name: str, content: bytes, mime: str) -> None:
        import http.client

        boundary = "benchboundary7d1f"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: {mime}\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", f"/v1.0/process-models/{MODEL.replace('/', ':')}/files", body=body,
                     headers=dict(headers, **{"Content-Type": f"multipart/form-data; boundary={boundary}"}))
        resp = conn.getresponse()
        text = resp.read().decode()
        conn.close()
        if resp.status != 201:
            raise RuntimeError(f"spiff-arena upload of {name}: {resp.status} {text[:300]}")

    def prepare(self, n: int) -> list[tuple[int, str]]:
        """The process group and model (diagram + schema), `n` instances run to their form task;
        the (instance id, task guid) of each form task."""
        admin = self.token("admin")
        http = Http(self.url)

        def ok(r: Any, what: str, status: int) -> Any:
            if r.status_code != status:
                raise RuntimeError(f"spiff-arena {what}: {r.status_code} {r.text[:500]}")
            return r.json()

        ok(http.post("/v1.0/process-groups", {"id": GROUP, "display_name": GROUP, "description": "",
                                              "display_order": 0, "admin": False}, admin), "process group", 201)
        ok(http.post(f"/v1.0/process-models/{GROUP}", {
            "id": MODEL, "display_name": "two step", "description": "", "exception_notification_addresses": [],
            "fault_or_suspend_on_exception": "fault"}, admin), "process model", 201)
        self.upload(admin, "two_step.bpmn", spiff_bpmn(), "text/xml")
        self.upload(admin, SCHEMA.name, SCHEMA.read_bytes(), "application/json")
        ok(http.request("PUT", f"/v1.0/process-models/{MODEL.replace('/', ':')}", {
            "primary_file_name": "two_step.bpmn", "primary_process_id": PROCESS, "display_name": "two step",
            "description": "", "exception_notification_addresses": [], "fault_or_suspend_on_exception": "fault"},
            admin), "primary file", 200)
        models = self.workdir / "models"  # a git repository, as spiff-arena's process models are kept
        for cmd in (["init", "-q"], ["add", "-A"], ["-c", "user.name=bench", "-c", "user.email=bench@example.com",
                                                    "commit", "-qm", "bench model"]):
            subprocess.run(["git", "-C", str(models), *cmd], check=True, capture_output=True)
        modified = MODEL.replace("/", ":")
        for _ in range(n):
            pi = ok(http.post(f"/v1.0/process-instances/{modified}", None, admin), "instance", 201)["id"]
            ok(http.post(f"/v1.0/process-instances/{modified}/{pi}/run", None, admin), "run", 200)
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute("SELECT process_instance_id, task_id FROM human_task WHERE completed = 0 "
                                "AND task_name = 'write' ORDER BY process_instance_id").fetchall()
        if len(rows) != n:
            raise RuntimeError(f"spiff-arena: {len(rows)} form tasks open, {n} expected")
        return [(int(a), str(b)) for a, b in rows]

    def reviews_waiting(self) -> int:
        with sqlite3.connect(self.db) as conn:
            return int(conn.execute("SELECT count(*) FROM human_task WHERE completed = 0 AND task_name = 'review'")
                       .fetchone()[0])


def sanji_reviews_waiting(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM task WHERE status = 'open' AND spec_id = 'review'")
                   .fetchone()[0])


@contextmanager
def sanji_server(workdir: Path, n: int, threads: int, root: Path | None = None,
                 label: str = "") -> Iterator[tuple[Any, list[int], Path]]:
    """A migrated SQLite file with `n` instances at their form task, and a gunicorn over it —
    of this checkout, or of another tree of Sanji at `root` (its own deploy/gunicorn.conf.py)."""
    name = f"sanji-{label}{threads}"
    with database("sqlite", workdir, name) as db:
        ids = prepare(db.url, n)
        assert db.path is not None
        server = gunicorn(db.url, workdir / f"{name}-gunicorn.log", workers=1, threads=threads)
        import tests.server as launcher

        saved = launcher.ROOT
        launcher.ROOT = root or saved
        try:
            server.start()
        finally:
            launcher.ROOT = saved
        try:
            yield server, ids, db.path
        finally:
            server.stop()


def server_name(threads: int) -> str:
    return "gunicorn 1 worker, " + ("sync" if threads == 1 else f"gthread × {threads} (keep-alive)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spiff-arena", type=Path, default=os.environ.get("SPIFF_ARENA"), required=not os.environ.get(
        "SPIFF_ARENA"), help="the spiff-arena checkout (or $SPIFF_ARENA)")
    ap.add_argument("--venv", type=Path, help="its venv (default: CHECKOUT/spiffworkflow-backend/.bench-venv)")
    ap.add_argument("-n", type=int, default=560, help="completions measured per system")
    ap.add_argument("--warm", type=int, default=40, help="completions per system before measuring")
    ap.add_argument("--sanji-threads", default="4,1",
                    help="Sanji servers, comma-separated threads per worker: 1 a sync worker (a new connection "
                         "per request), more gthread with keep-alive (the deployment's default is 4); the first "
                         "one is the ratio's")
    ap.add_argument("--sanji-baseline", type=Path,
                    help="another tree of Sanji (e.g. `git archive` of an older commit) served as well, gthread × 4, "
                         "in the same loop: before and after side by side")
    ap.add_argument("--workdir", type=Path, help="keep databases and server logs here (default: a temporary "
                                                  "directory, removed)")
    ap.add_argument("--output", type=Path, help="write the figures as JSON here")
    args = ap.parse_args()
    checkout = args.spiff_arena.resolve()
    venv = (args.venv or checkout / "spiffworkflow-backend" / ".bench-venv").resolve()
    threads = [int(t) for t in str(args.sanji_threads).split(",") if t.strip()]
    total = args.n + args.warm
    load_before = load()
    with ExitStack() as stack:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=True)
            work = args.workdir.resolve()
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vs-spiff-")))
        (work / "spiff").mkdir(exist_ok=True)
        t0 = time.monotonic()
        spiff = stack.enter_context(SpiffArena(checkout, venv, work / "spiff"))
        sanjis = [stack.enter_context(sanji_server(work, total, t)) for t in threads]
        names = [server_name(t) for t in threads]
        if args.sanji_baseline:
            sanjis.append(stack.enter_context(sanji_server(work, total, 4, args.sanji_baseline.resolve(), "base-")))
            names.append(f"baseline {args.sanji_baseline}: " + server_name(4))
        spiff_tasks = spiff.prepare(total)
        print(f"prepared {total} instances in each system in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        clerk = spiff.token("clerk")
        spiff_http = Http(spiff.url)
        body = {"data": FORM_DATA}

        def sanji_call(server: Any, headers: dict[str, str], http: Http) -> Callable[[int], float]:
            def one(tid: int) -> float:
                ms, r = timed(lambda: http.post(f"/api/v1/tasks/{tid}/complete", body, headers))
                if r.status_code != 200:
                    raise RuntimeError(f"Sanji completion {tid}: {r.status_code} {r.text[:300]}")
                return float(ms)

            return one

        calls = [sanji_call(srv, {"Authorization": f"Bearer {login(srv.url, 'u00_b00')}"}, Http(srv.url))
                 for srv, _ids, _db in sanjis]

        def spiff_one(pi: int, guid: str) -> float:
            ms, r = timed(lambda: spiff_http.request("PUT", f"/v1.0/tasks/{pi}/{guid}", FORM_DATA, clerk))
            if r.status_code != 200:
                raise RuntimeError(f"spiff-arena completion {pi}/{guid}: {r.status_code} {r.text[:300]}")
            return float(ms)

        times: list[list[float]] = [[] for _ in range(len(sanjis) + 1)]  # Sanji servers…, spiff-arena
        assert spiff.proc is not None
        trees = [process_tree(srv.proc.pid) for srv, _i, _d in sanjis] + [process_tree(spiff.proc.pid)]
        cpu_start: list[float] = []
        load_start = load()
        for i in range(total):
            if i == args.warm:
                cpu_start = [cpu_ms(t) for t in trees]
            pi, guid = spiff_tasks[i]
            jobs: list[Callable[[], float]] = [
                (lambda k=k, i=i: calls[k](sanjis[k][1][i])) for k in range(len(sanjis))]
            jobs.append(lambda pi=pi, guid=guid: spiff_one(pi, guid))
            order = list(range(len(jobs)))
            if i % 2:
                order.reverse()  # who goes first alternates as well
            got = {k: jobs[k]() for k in order}
            if i >= args.warm:
                for k, ms in got.items():
                    times[k].append(ms)
        cpu_used = [cpu_ms(t) - c for t, c in zip(trees, cpu_start)]
        load_end = load()
        waiting = [sanji_reviews_waiting(db) for _s, _i, db in sanjis] + [spiff.reviews_waiting()]
    if waiting != [total] * len(waiting):
        raise RuntimeError(f"review tasks waiting afterwards (Sanji servers…, spiff-arena): {waiting}, "
                           f"{total} expected in each")
    figures = [summary(t) for t in times]
    arena = figures[-1]
    cpu = [round(c / args.n, 2) for c in cpu_used]  # server CPU ms per completion (mean)
    spiff_commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True).stdout.strip()
    result: dict[str, Any] = {
        "sanji_git": git_sha(), "spiff_arena_git": spiff_commit, "n": args.n, "warm": args.warm,
        "database": "SQLite (both)", "spiff_arena_server": "uvicorn 1 worker", "spiff_arena_ms": arena,
        "spiff_arena_cpu_ms": cpu[-1],
        "sanji": [{"server": name, "ms": f, "ratio": round(arena["median_ms"] / f["median_ms"], 2),
                   "cpu_ms": c, "cpu_ratio": round(cpu[-1] / c, 2) if c else None}
                  for name, f, c in zip(names, figures, cpu)],
        "load_before": load_before, "load_loop_start": load_start, "load_loop_end": load_end,
        "utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    result["ratio"] = result["sanji"][0]["ratio"]
    for s in result["sanji"]:
        print(f"Sanji {result['sanji_git']} ({s['server']}): median {s['ms']['median_ms']:.2f} ms, "
              f"p95 {s['ms']['p95_ms']:.2f} ms → spiff-arena / Sanji {s['ratio']:.2f}×; server CPU "
              f"{s['cpu_ms']:.2f} ms per completion → {s['cpu_ratio']}×")
    print(f"spiff-arena {spiff_commit} (uvicorn 1 worker): median {arena['median_ms']:.2f} ms, "
          f"p95 {arena['p95_ms']:.2f} ms; server CPU {cpu[-1]:.2f} ms per completion")
    print(f"ratio spiff-arena / Sanji (medians, {result['sanji'][0]['server']}): {result['ratio']:.2f}×   "
          f"n = {args.n} each, alternating; load {load_start} → {load_end}")
    if args.output:
        args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
