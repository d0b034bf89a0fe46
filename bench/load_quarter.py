"""Load test: the opening of a quarter of the linkage, 50 units × 20 branches, on a real deployment.

It builds a throw-away PostgreSQL schema, seeds an organisation of one group committee, U units
(4 committee members each) and U × B branches (one commissioner each), deploys
processes/quarterly_tasks.bpmn and processes/monthly_report.bpmn, and starts the deployment's own
processes on loopback: gunicorn (deploy/gunicorn.conf.py, --workers workers) and the scheduler
(`flask --app app scheduler`), every one with its clock moved by SANJI_CLOCK_OFFSET to
2027-01-01 09:00 Asia/Shanghai — when both the quarterly-tasks timer (0 9 1 1,4,7,10 *) and the
monthly-report timer (0 9 1 * *) fall due. The scheduler fires them; --clients threads then play
the users: a dispatcher reads the new open tasks, and a client opens each task
(GET /api/v1/tasks/{id}) and completes it (POST …/complete) as a user of the task's node with the
data its form needs — group drafts the quarter's tasks, every unit drafts its plan for all its
branches, every commissioner reports, the unit confirms, the group closes the quarter; every
commissioner writes the monthly report and the unit reviews it.

The load is bounded to --duration seconds (60) from the scheduler's start; then the clients stop,
the scheduler and gunicorn are stopped, and it reports completions/s, latency percentiles, errors
and a consistency check read from the database: every instance is completed (with its
instance_completed event) or running and waiting on exactly the open tasks that the event log
says (task_created − task_completed − task_cancelled), no instance is in error, every completion
answered 200 is stored once, every schedule fire is claimed once. An instance in error (an
incident, e.g. a script over SANJI_SCRIPT_TIMEOUT_MS) is reported as a problem too. Exit status 1
if there is any problem.

    .venv/bin/python bench/load_quarter.py --database-url postgresql://127.0.0.1:5432/test
    .venv/bin/python bench/load_quarter.py --database-url … --units 5 --branches 4 --duration 20
Loopback only; tokens are issued by the seed (logins are not what is measured). The schema is
dropped at the end unless --keep.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import migrate  # noqa: E402
from bench.common import cpu_ms, deployed_forms, pg_base, process_tree, throwaway_schema  # noqa: E402
from engine.org import auth
from engine.org import nodes as org
from engine.core import repository  # noqa: E402
from engine.infra.clock import FrozenClock  # noqa: E402
from engine.infra.db import make_engine, make_session_factory, write_intent  # noqa: E402
from engine.models import EventLog, HumanTask, ProcessInstance, ScheduleFiring  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
FIRE = datetime(2027, 1, 1, 9, 0, tzinfo=SH)  # the quarterly and the monthly timers fall due
PROCESSES = ["quarterly_tasks.bpmn", "monthly_report.bpmn"]
ROLE_USER = {"secretary": "secretary", "deputy_secretary": "deputy", "standing_member": "standing", "member": "member"}
COMMITTEE = [("secretary", "书记"), ("deputy_secretary", "副书记"), ("standing_member", "常委"), ("member", "委员")]

DRAFT = {"task_title": "2027年第一季度纪检工作“三级联动”任务", "content": "围绕职工薪酬分配开展联动监督。",
         "tasks": [{"title": "薪酬分配公示监督", "requirement": "检查一季度奖金分配方案公示情况", "deadline": "2027-03-20"}],
         "requirements": "各单位于1月20日前报送实施方案。", "unit_scope": "all"}
DATA: dict[str, dict[str, Any]] = {
    "draft_tasks": DRAFT,
    "draft_plan": {"plan": "结合本单位实际制定的实施方案。",
                   "items": [{"title": "薪酬公示检查", "requirement": "逐支部检查公示", "deadline": "2027-03-15"}]},
    "implement": {"results": [{"item_no": 1, "status": "completed", "description": "已落实"}], "summary": "已逐项落实。"},
    "confirm": {"decision": "confirmed"},
    "review_completion": {"closing_opinion": "各单位按期完成本季度联动任务。"},
    "write_report": {"summary": "本月监督工作情况正常。", "findings": []},
    "review_report": {"decision": "accepted", "review_opinion": "", "classifications": []},
}


# ---- set-up ----------------------------------------------------------------------------------------------

def pg_schema(url: str) -> tuple[str, Any]:
    if not pg_base(url).startswith("postgresql+psycopg://"):
        raise SystemExit("--database-url must be a PostgreSQL URL (the deployment this measures)")
    return throwaway_schema(url, "load")


def seed(sessions: Any, units: int, branches: int, now: datetime) -> dict[str, str]:
    """The organisation, the two processes and a token per user; returns username -> token."""
    hashed = auth.hash_password(f"load-{uuid.uuid4().hex}")  # one hash for all: nobody logs in with it
    people: list[tuple[str, str, str, str]] = []  # username, display name, role, node
    with write_intent(), sessions() as s:
        org.add_node(s, "group", "group", "集团公司纪委", None)
        s.flush()
        for role, title in COMMITTEE:
            people.append((f"group_{ROLE_USER[role]}", f"集团纪委{title}", role, "group"))
        for u in range(units):
            unit = f"u{u:02d}"
            org.add_node(s, unit, "unit", f"第{u + 1}权属单位纪委", "group", u)
            s.flush()
            for role, title in COMMITTEE:
                people.append((f"{unit}_{ROLE_USER[role]}", f"第{u + 1}单位纪委{title}", role, unit))
            for b in range(branches):
                branch = f"{unit}-b{b:02d}"
                org.add_node(s, branch, "branch", f"第{u + 1}单位第{b + 1}党支部", unit, b)
                people.append((branch.replace("-", "_"), f"第{u + 1}单位第{b + 1}支部纪律检查委员", "commissioner", branch))
        s.flush()
        users = {}
        for username, display, role, node in people:
            user = org.ensure_user(s, username, display, hashed, now)
            users[username] = user
        s.flush()
        for username, _display, role, node in people:
            org.grant(s, users[username], role, node)
        forms = deployed_forms(s, now)
        for name in PROCESSES:
            path = ROOT / "processes" / name
            repository.deploy(s, path.read_bytes(), path.name, "load", now, forms, 5 << 20)
        tokens = {u: auth.issue_token(s, user, now, 24 * 365) for u, user in users.items()}
        s.commit()
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return proc.returncode


# ---- the users ------------------------------------------------------------------------------------------

def user_for(task: HumanTask) -> str:
    if task.tier == "branch":
        return task.node_id.replace("-", "_")
    role = (task.candidate_roles or "secretary").split(",")[0].strip()
    return f"{task.node_id}_{ROLE_USER.get(role, 'secretary')}"


class Load:
    def __init__(self, base: str, tokens: dict[str, str], sessions: Any, clients: int) -> None:
        self.base, self.tokens, self.sessions = base, tokens, sessions
        self.work: queue.Queue[tuple[int, str, str] | None] = queue.Queue()
        self.dispatched: set[int] = set()
        self.results: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.first_seen: dict[str, float] = {}
        self.t0 = time.monotonic()
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(clients)]

    def dispatch(self) -> None:
        """What the users' work lists show: every open task not handed out yet (read from the database)."""
        while not self.stop.is_set():
            with self.sessions() as s:
                rows = s.execute(select(HumanTask.id, HumanTask.spec_id, HumanTask.tier, HumanTask.node_id,
                                        HumanTask.candidate_roles).where(HumanTask.status == "open")
                                 .order_by(HumanTask.id)).all()
            for row in rows:
                if row.id not in self.dispatched:
                    self.dispatched.add(row.id)
                    self.first_seen.setdefault(row.spec_id, time.monotonic() - self.t0)
                    self.work.put((row.id, row.spec_id, user_for(row)))  # type: ignore[arg-type]
            self.stop.wait(0.3)

    def client(self) -> None:
        http = requests.Session()
        while True:
            item = self.work.get()
            if item is None:
                return
            task_id, spec, user = item
            headers = {"Authorization": f"Bearer {self.tokens[user]}"}
            rec: dict[str, Any] = {"task": task_id, "spec": spec, "at": time.monotonic() - self.t0}
            try:
                t = time.perf_counter()  # the user's worklist first, as the page that leads to the task
                r = http.get(f"{self.base}/api/v1/tasks", headers=headers, timeout=60)
                rec["list_ms"], rec["list"] = (time.perf_counter() - t) * 1000, r.status_code
                if r.status_code != 200:
                    rec["error"] = "worklist: " + r.text[:300]
                t = time.perf_counter()
                r = http.get(f"{self.base}/api/v1/tasks/{task_id}", headers=headers, timeout=60)
                rec["get_ms"], rec["get"] = (time.perf_counter() - t) * 1000, r.status_code
                if r.status_code == 200 and spec in DATA:
                    t = time.perf_counter()
                    r = http.post(f"{self.base}/api/v1/tasks/{task_id}/complete", headers=headers,
                                  json={"data": DATA[spec]}, timeout=60)
                    rec["post_ms"], rec["post"] = (time.perf_counter() - t) * 1000, r.status_code
                    if r.status_code != 200:
                        rec["error"] = r.text[:300]
                elif r.status_code != 200:
                    rec["error"] = r.text[:300]
                else:
                    rec["post"] = "no data for this task"
            except requests.RequestException as exc:
                rec["post"], rec["error"] = type(exc).__name__, str(exc)[:300]
                http = requests.Session()
            with self.lock:
                self.results.append(rec)

    def run(self, duration: float) -> float:
        dispatcher = threading.Thread(target=self.dispatch, daemon=True)
        dispatcher.start()
        for t in self.threads:
            t.start()
        time.sleep(max(0.0, duration - (time.monotonic() - self.t0)))
        self.stop.set()
        dispatcher.join(10)
        while True:  # hand out nothing more; let the clients finish the request they are in
            try:
                self.work.get_nowait()
            except queue.Empty:
                break
        for _ in self.threads:
            self.work.put(None)
        for t in self.threads:
            t.join(90)
        return time.monotonic() - self.t0


# ---- the consistency check ----------------------------------------------------------------------------

def check(sessions: Any, results: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    incidents: list[int] = []
    with sessions() as s:
        instances = s.execute(select(ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.status)).all()
        open_db: dict[int, set[int]] = defaultdict(set)
        for iid, tid in s.execute(select(HumanTask.instance_id, HumanTask.id).where(HumanTask.status == "open")):
            open_db[iid].add(tid)
        created: dict[int, set[int]] = defaultdict(set)
        closed: dict[int, set[int]] = defaultdict(set)
        completions: Counter[int] = Counter()
        ended: Counter[int] = Counter()
        for iid, tid, kind in s.execute(select(EventLog.instance_id, EventLog.task_id, EventLog.type).where(
                EventLog.type.in_(["task_created", "task_completed", "task_cancelled", "instance_completed"]))):
            if kind == "task_created":
                created[iid].add(tid)
            elif kind == "instance_completed":
                ended[iid] += 1
            else:
                closed[iid].add(tid)
                if kind == "task_completed":
                    completions[tid] += 1
        status_of = {r.id: r.status for r in s.execute(select(HumanTask.id, HumanTask.status))}
        firings = s.execute(select(ScheduleFiring.schedule_id, ScheduleFiring.due_at, ScheduleFiring.result)).all()
    by_status = Counter((key, status) for _i, key, status in instances)
    for iid, key, status in instances:
        from_log = created[iid] - closed[iid]
        if status == "completed":
            if open_db[iid] or ended[iid] != 1:
                problems.append(f"instance {iid} ({key}) completed with open tasks {sorted(open_db[iid])} "
                                f"or {ended[iid]} instance_completed events")
        elif status == "running":
            if open_db[iid] != from_log:
                problems.append(f"instance {iid} ({key}) waits on {sorted(open_db[iid])}, the event log says "
                                f"{sorted(from_log)}")
        elif status == "error":
            incidents.append(iid)
        else:
            problems.append(f"instance {iid} ({key}) is {status}")
    twice = [t for t, n in completions.items() if n > 1]
    if twice:
        problems.append(f"tasks completed twice in the event log: {twice[:10]}")
    for rec in results:
        if rec.get("post") == 200 and (status_of.get(rec["task"]) != "completed" or completions[rec["task"]] != 1):
            problems.append(f"task {rec['task']} answered 200 but is {status_of.get(rec['task'])} with "
                            f"{completions[rec['task']]} completion events")
    claims = Counter((f.schedule_id, f.due_at) for f in firings)
    if any(n > 1 for n in claims.values()) or any(f.result != "started" for f in firings):
        problems.append(f"schedule fires: {firings}")
    if incidents:
        with sessions() as s:
            for row in s.execute(select(ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.error_task,
                                        ProcessInstance.error_message).where(ProcessInstance.id.in_(incidents))):
                problems.append(f"incident: instance {row.id} ({row.process_key}) failed at {row.error_task}: "
                                f"{(row.error_message or '')[:200]}")
    summary = {"instances": {f"{k} {st}": n for (k, st), n in sorted(by_status.items())}, "incidents": len(incidents),
               "open_tasks": sum(len(v) for v in open_db.values()), "schedule_fires": len(firings)}
    return problems, summary


def fan_out_lag(sessions: Any, fan_outs: dict[str, tuple[str, int]]) -> dict[str, Any]:
    """Per fan-out kind: seconds from the submission that reached the call activity (its task's
    completion) to the start of the last child, and how many fan-outs had all their children by then.
    `fan_outs`: parent process key -> (the task whose completion reaches the fan-out, children expected)."""
    out: dict[str, Any] = {}
    with sessions() as s:
        for key, (spec, expected) in fan_outs.items():
            parents = s.scalars(select(ProcessInstance.id).where(ProcessInstance.process_key == key)).all()
            submitted = {
                iid: at for iid, at, payload in s.execute(
                    select(EventLog.instance_id, EventLog.at, EventLog.payload).where(
                        EventLog.type == "task_completed", EventLog.instance_id.in_(parents)))
                if (payload or {}).get("spec_id") == spec
            }
            lags, incomplete = [], 0
            for iid, at in submitted.items():
                starts = s.scalars(select(ProcessInstance.started_at).where(ProcessInstance.parent_id == iid)).all()
                if len(starts) < expected:
                    incomplete += 1
                    continue
                lags.append((max(starts) - at).total_seconds())
            out[f"{key} after {spec}"] = {
                "submitted": len(submitted), "all_children": len(lags), "missing_children": incomplete,
                "children_each": expected,
                "p50_s": round(pct(lags, 50), 2) if lags else None, "max_s": round(max(lags), 2) if lags else None,
            }
    return out


def process_tree_rss(pid: int) -> dict[int, float]:
    """Peak RSS (VmHWM, MB) of a process and its children (gunicorn's master and workers)."""
    from bench.common import peak_rss_mb

    found: dict[int, float] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        rss = peak_rss_mb(p)
        if rss is not None:
            found[p] = round(rss, 1)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def cpu_by_class(web: int, scheduler: int) -> dict[str, float]:
    """CPU seconds so far per process class: the web workers, the scheduler, PostgreSQL's
    processes (every one on the machine), this load client."""
    postgres = [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()
                and (d / "comm").exists() and _comm(d) in ("postgres", "postmaster")]
    pids = {"web workers": process_tree(web), "scheduler": [scheduler], "postgresql": postgres,
            "load client": [os.getpid()]}
    return {k: cpu_ms(v) / 1000 for k, v in pids.items()}


def machine_ticks() -> tuple[int, int]:
    """(steal, total) jiffies of the machine so far (/proc/stat): the share the hypervisor took."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[7] if len(fields) > 7 else 0, sum(fields[:8])


def _comm(d: Path) -> str:
    try:
        return (d / "comm").read_text().strip()
    except OSError:
        return ""


def stats(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": round(pct(values, 50), 1), "p95": round(pct(values, 95), 1),
            "max": round(max(values, default=0), 1)}


def print_summary(figures: dict[str, Any], problems: list[str]) -> None:
    """The plain summary an integrator re-running this on a quiet machine reads first."""
    print("\n==== summary " + "=" * 66)
    print(f"load: {figures['units']} units × {figures['branches'] // max(figures['units'], 1)} branches, "
          f"{figures['workers']} workers × {figures['threads']} threads, {figures['clients']} clients, "
          f"{figures['duration_s']} s; git {figures['git_sha']}")
    print(f"machine load average before {figures['load_average_before']}, after {figures['load_average_after']}")
    print(f"{'request kind':34} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}  target p95 ≤ 300, max ≤ 1000")
    for kind, st in figures["requests"].items():
        ok = st["n"] and st["p95"] <= 300 and st["max"] <= 1000
        print(f"{kind:34} {st['n']:>6} {st['p50']:>9} {st['p95']:>9} {st['max']:>9}  {'ok' if ok else 'OVER'}")
    print(f"completions: {figures['completions']} ({figures['completions_per_s']}/s); errors: "
          f"{sum(figures['errors'].values())} {figures['errors'] or ''}; lost: {figures['lost']}")
    print("completion p95 by 15 s of the run: " + ", ".join(
        f"{k} {v['p95']} ms (n {v['n']})" for k, v in figures["complete_p95_by_window"].items()))
    for kind, lag in figures["children_lag"].items():
        print(f"children of {kind}: {lag['all_children']} of {lag['submitted']} fan-outs complete "
              f"({lag['children_each']} each), submission → last child p50 {lag['p50_s']} s, max {lag['max_s']} s"
              f"{'' if lag['max_s'] is None or lag['max_s'] <= 30 else '  OVER 30 s'}")
    print("cores used during the run: " + ", ".join(f"{k} {v}" for k, v in figures["cores_used"].items()))
    print(f"peak RSS (MB): web workers {figures['rss_mb']['workers']}, scheduler {figures['rss_mb']['scheduler']}")
    print("consistency: " + ("OK" if not problems else f"{len(problems)} problem(s)"))


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# ---- main -----------------------------------------------------------------------------------------------------

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", ""),
                   help="PostgreSQL URL; a throw-away schema is created in it (default: $TEST_DATABASE_URL)")
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--branches", type=int, default=20, help="branches per unit")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (SANJI_WEB_WORKERS)")
    p.add_argument("--threads", type=int, default=4, help="threads per worker (SANJI_WEB_THREADS)")
    p.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load from the scheduler's start (≤ 60)")
    p.add_argument("--scheduler-nice", type=int, default=None,
                   help="SANJI_SCHEDULER_NICE of the scheduler (default: the deployment default)")
    p.add_argument("--script-timeout-ms", type=int, default=1000,
                   help="SANJI_SCRIPT_TIMEOUT_MS of the processes (default: the deployment default, 1000)")
    p.add_argument("--settle", type=float, default=5.0,
                   help="seconds after the load before the processes stop (the scheduler finishes fan-outs)")
    p.add_argument("--keep", action="store_true", help="keep the schema and print its URL")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    a = p.parse_args()
    if not a.database_url:
        raise SystemExit("give --database-url postgresql://127.0.0.1:5432/DB (or set TEST_DATABASE_URL)")
    a.duration = min(a.duration, 60.0)
    load_before = os.getloadavg()
    url, drop = pg_schema(a.database_url)
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"sanji-load-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        engine = make_engine(url, pool_size=4)
        migrate(engine)
        sessions = make_session_factory(engine)
        t = time.perf_counter()
        tokens = seed(sessions, a.units, a.branches, FrozenClock(FIRE - timedelta(minutes=1)).now())
        print(f"seeded {a.units} units × {a.branches} branches, {len(tokens)} users, deployed "
              f"{', '.join(PROCESSES)} in {time.perf_counter() - t:.1f} s")

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SANJI_", "FLASK_"))}
        env.update({"DATABASE_URL": url, "SANJI_ENV": "development", "PYTHONUNBUFFERED": "1",
                    "SANJI_BIND": f"127.0.0.1:{port}", "SANJI_WEB_WORKERS": str(a.workers),
                    "SANJI_WEB_THREADS": str(a.threads), "SANJI_LOG_LEVEL": "WARNING",
                    "SANJI_SCHEDULER_INTERVAL": "1", "SANJI_SCRIPT_TIMEOUT_MS": str(a.script_timeout_ms)})
        if a.scheduler_nice is not None:
            env["SANJI_SCHEDULER_NICE"] = str(a.scheduler_nice)
        bin_dir = Path(sys.executable).parent
        env["SANJI_CLOCK_OFFSET"] = f"{(FIRE - datetime.now(timezone.utc)).total_seconds():.3f}"
        web = launch([str(bin_dir / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py")], env,
                     workdir / "gunicorn.log")
        procs.append(web)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if web.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start: see {workdir / 'gunicorn.log'}")
            time.sleep(0.2)
        print(f"gunicorn: {a.workers} workers × {a.threads} threads on {base}; clock offset "
              f"{float(env['SANJI_CLOCK_OFFSET']) / 86400:.1f} days (every process at {FIRE.isoformat()})")

        load = Load(base, tokens, sessions, a.clients)
        scheduler = launch([str(bin_dir / "flask"), "--app", "app", "scheduler"], env, workdir / "scheduler.log")
        procs.append(scheduler)
        print(f"scheduler started; {a.clients} clients play the users for {a.duration:.0f} s …", flush=True)
        cpu_before, ticks_before = cpu_by_class(web.pid, scheduler.pid), machine_ticks()
        elapsed = load.run(a.duration)
        cpu_after, ticks_after = cpu_by_class(web.pid, scheduler.pid), machine_ticks()
        cpu_used = {k: round((cpu_after[k] - cpu_before[k]) / elapsed, 2) for k in cpu_before}
        cpu_used["stolen by the hypervisor (share)"] = round(
            (ticks_after[0] - ticks_before[0]) / max(ticks_after[1] - ticks_before[1], 1), 3)
        time.sleep(a.settle)  # let the scheduler finish the fan-outs the last completions reached
        web_rss = process_tree_rss(web.pid)
        rss = {"workers": sorted(v for p, v in web_rss.items() if p != web.pid),
               "master": web_rss.get(web.pid), "scheduler": max(process_tree_rss(scheduler.pid).values(), default=None)}
        codes = [stop(proc) for proc in reversed(procs)]
        procs.clear()
        load_after = os.getloadavg()

        results = load.results
        done = [r for r in results if r.get("post") == 200]
        posts = [r["post_ms"] for r in results if "post_ms" in r]
        gets = [r["get_ms"] for r in results if "get_ms" in r]
        lists = [r["list_ms"] for r in results if "list_ms" in r]
        requests_by_kind = {"worklist GET /tasks": stats(lists), "task page GET /tasks/{id}": stats(gets),
                            "complete (any task)": stats(posts)}
        for spec in DATA:
            mine = [r["post_ms"] for r in results if "post_ms" in r and r["spec"] == spec]
            if mine:
                requests_by_kind[f"  complete {spec}"] = stats(mine)
        errors = Counter(str(r.get("post", r.get("get"))) for r in results if r.get("post") != 200)
        (workdir / "requests.json").write_text(json.dumps(results, ensure_ascii=False))
        windows = {}  # the completions' p95 per 15 s of the run: when the scheduler's fan-outs weigh
        for start in range(0, int(elapsed) + 1, 15):
            mine = [r["post_ms"] for r in results if "post_ms" in r and start <= r["at"] < start + 15]
            if mine:
                windows[f"{start}-{start + 15} s"] = {"n": len(mine), "p95": round(pct(mine, 95), 1)}
        span = max((r["at"] for r in done), default=0) - min((r["at"] for r in done), default=0)
        problems, summary = check(sessions, results)
        lost = sum(1 for line in problems if "answered 200 but" in line)
        lag = fan_out_lag(sessions, {"quarterly_tasks": ("draft_tasks", a.units),
                                     "quarterly_tasks_unit": ("draft_plan", a.branches)})
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True).stdout.strip()
        figures = {
            "git_sha": sha, "requests": requests_by_kind, "lost": lost, "children_lag": lag, "rss_mb": rss,
            "units": a.units, "branches": a.units * a.branches, "users": len(tokens), "workers": a.workers,
            "threads": a.threads, "clients": a.clients, "duration_s": round(elapsed, 1),
            "complete_p95_by_window": windows, "cores_used": cpu_used,
            "completions": len(done), "completions_per_s": round(len(done) / elapsed, 1),
            "completions_per_s_while_busy": round(len(done) / span, 1) if span else None,
            "complete_ms": {"p50": round(pct(posts, 50), 1), "p95": round(pct(posts, 95), 1),
                            "p99": round(pct(posts, 99), 1), "max": round(max(posts, default=0), 1)},
            "open_task_ms": {"p50": round(pct(gets, 50), 1), "p95": round(pct(gets, 95), 1)},
            "errors": dict(errors), "by_task": dict(Counter(r["spec"] for r in done)),
            "first_seen_s": {k: round(v, 1) for k, v in sorted(load.first_seen.items(), key=lambda kv: kv[1])},
            "exit_codes": codes, "load_average_before": load_before, "load_average_after": load_after,
            **summary, "consistency_problems": len(problems),
        }
        print(json.dumps(figures, ensure_ascii=False, indent=1))
        for rec in [r for r in results if r.get("error")][:5]:
            print("error example:", rec)
        for line in problems[:20]:
            print("PROBLEM:", line)
        print("consistency check: " + ("OK — every instance completed or waiting on exactly the tasks the event "
                                       "log says, no incident; every 200 stored once; every schedule fire claimed once"
                                       if not problems else f"{len(problems)} problem(s)"))
        print_summary(figures, problems)
        if a.json:
            a.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1))
        engine.dispose()
        return 1 if problems else 0
    finally:
        for proc in procs:
            stop(proc)
        if a.keep:
            print(f"kept: {url}  (logs in {workdir})")
        else:
            drop()


if __name__ == "__main__":
    sys.exit(main())
