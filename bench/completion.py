"""(1) Completion overhead: one user task completed through the HTTP API vs. the raw engine loop.

API: gunicorn (the deployment's configuration) on 127.0.0.1 over a SQLite file, twice: one
worker with 4 threads (gthread, the deployment's default: the client keeps its connection) and
one sync worker (a new loopback TCP connection per request); a commissioner's bearer token;
the form validated against its JSON Schema; the instance locked, stepped, saved; the task row,
element states and event log written and committed. Each completion is of a different
instance of bench/two_step.bpmn (a form task, a script, a second user task), timed at the
client (bench.common.Http): request sent → JSON answer read. GET /api/v1/me with the same
client, server and token is the floor under any authenticated request.

Raw: the same diagram in plain SpiffWorkflow 3 in this process, no database: deserialize the
instance's state → complete the user task → do_engine_steps → serialize the state (`raw_step`:
the state without the spec, as Sanji stores it; the stock serializer's loop, which also writes
and reads the spec every time, is measured beside it). Each round runs a
completion and a GET /me on each server and one raw completion of each shape, so all of them alternate
through the same run (this VM's speed drifts by ±30 % from minute to minute).
`completion_minus_me_vs_raw` = (completion − GET /me) / raw: what a completion adds to any
request, in units of the raw engine's work.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from .common import (BENCH, ROOT, Http, build_org, cpu_ms, database, gunicorn, login, open_engine, process_tree,
                     summary, timed)

BPMN = BENCH / "two_step.bpmn"
FORM_DATA = {"summary": "本月无异常情况。", "findings": [
    {"title": "考勤不规范", "facts": "个别职工代签到", "area": "other"}]}


def raw_step(shape: str = "state") -> Callable[[], float]:
    """One raw completion per call (ms): the loop below, one iteration at a time, so that the
    API's and the raw engine's completions can alternate and share the machine's conditions.

    `shape="state"` (the ratios' denominator) is the same work as the API's engine part, in the
    same shape: the instance started with the same variables as the API's (branch, unit, title),
    its state serialized without the spec — the spec parsed once and kept, as Sanji (and any
    application that stores its instances) does — by SpiffWorkflow's own converters, as JSON
    text (Sanji's zlib compression of that text is Sanji's work, not the engine's). `"stock"`
    is the loop measured before issue 20's figures were re-based: SpiffWorkflow's stock
    serializer, which writes and re-reads the whole spec with every instance (1.6× the state
    loop's time back to back on the reference machine), and start data without the title."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BPMN))
    spec = parser.get_spec("bench_two_step")
    wf = BpmnWorkflow(spec)
    start_data = {"branch_id": "u00-b00", "unit_id": "u00"}
    if shape == "state":
        start_data["title"] = "bench 0"
    wf.get_next_task(spec_name="Start").set_data(**start_data)
    wf.do_engine_steps()

    def finish(w: Any) -> None:
        task = next(t for t in w.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "write")
        task.data.update(json.loads(json.dumps(FORM_DATA)))
        task.run()
        w.do_engine_steps()

    if shape == "stock":
        serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        saved = serializer.serialize_json(wf)

        def step() -> float:
            t0 = time.perf_counter()
            w = serializer.deserialize_json(saved)
            finish(w)
            serializer.serialize_json(w)
            return (time.perf_counter() - t0) * 1000

        return step
    # the state alone: SpiffWorkflow's converters without the spec (engine/core/spiff_seam.py is
    # that thin layer; the script engine stays SpiffWorkflow's default one)
    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

    from engine.core.spiff_seam import make_serializer, state_from_dict, state_json

    state_serializer = make_serializer({})
    script_engine = PythonScriptEngine()
    saved = state_json(state_serializer, wf)

    def state_step() -> float:
        t0 = time.perf_counter()
        w = state_from_dict(state_serializer, json.loads(saved), spec, {})
        w.script_engine = script_engine
        finish(w)
        state_json(state_serializer, w)
        return (time.perf_counter() - t0) * 1000

    return state_step


def prepare(db_url: str, n: int) -> list[int]:
    """The organisation, the diagram, `n` instances waiting at the form task; their task ids."""
    from sqlalchemy import select

    from engine.core import repository
    from engine.infra.clock import SystemClock
    from engine.infra.db import make_session_factory, write_intent
    from engine.core.forms import FormStore
    from engine.models import HumanTask
    from engine.core.runtime import Runtime
    from engine.infra.settings import load_settings

    from .common import Database, deployed_forms

    engine = open_engine(Database(db_url, "sqlite" if db_url.startswith("sqlite") else "postgresql", lambda: None))
    clock = SystemClock()
    build_org(engine, 2, 5, clock.now())
    settings = load_settings({}, env="test", database_url=db_url, forms_dir=ROOT / "forms", scheduler="off")
    forms = FormStore(settings.forms_dir)
    sessions = make_session_factory(engine)
    with write_intent(), sessions() as s:
        forms = deployed_forms(s, clock.now())  # the app reads deployed forms (issue 15)
        repository.deploy(s, BPMN.read_bytes(), BPMN.name, "bench", clock.now(), forms, 5 << 20)
        s.commit()
        rt = Runtime(s, clock, settings, forms)
        for i in range(n):
            rt.start("bench_two_step", {"branch_id": "u00-b00", "unit_id": "u00", "title": f"bench {i}"})
            if i % 50 == 49:
                s.commit()
        s.commit()
        ids = list(s.scalars(select(HumanTask.id).where(HumanTask.spec_id == "write", HumanTask.status == "open")
                             .order_by(HumanTask.id)))
    engine.dispose()
    return ids


def run(args: Any, workdir: Path) -> list[dict[str, Any]]:
    n = 60 if args.quick else 300
    warm = 10 if args.quick else 30
    raw = raw_step("state")
    raw_stock = raw_step("stock")
    tight = [raw() for _ in range(warm + n)][warm:]  # the raw loop alone, back to back (warm caches)
    # Two servers over one SQLite file: the deployment's serving (gthread, keep-alive) and a sync
    # worker (a new TCP connection per request); each completes its own half of the instances.
    servers = {"gthread": 4, "sync": 1}
    ms: dict[str, list[float]] = {k: [] for k in ("api", "me", "api_sync", "me_sync", "raw", "raw_stock")}
    with database("sqlite", workdir, "completion") as db:
        task_ids = prepare(db.url, 2 * (n + warm))
        halves = {"gthread": task_ids[: n + warm], "sync": task_ids[n + warm:]}
        with gunicorn(db.url, workdir / "completion-gunicorn.log", workers=1, threads=servers["gthread"]) as server, \
                gunicorn(db.url, workdir / "completion-gunicorn-sync.log", workers=1, threads=1) as sync_server:
            clients = {"gthread": (Http(server.url), {"Authorization": f"Bearer {login(server.url, 'u00_b00')}"}),
                       "sync": (Http(sync_server.url),
                                {"Authorization": f"Bearer {login(sync_server.url, 'u00_b00')}"})}

            tree = process_tree(server.proc.pid)  # the gthread server's CPU time, around its requests
            cpu = {"api": 0.0, "me": 0.0, "raw": 0.0, "raw_stock": 0.0}

            def complete(kind: str, tid: int) -> float:
                http, headers = clients[kind]
                c0 = cpu_ms(tree) if kind == "gthread" else 0.0
                t, resp = timed(lambda: http.post(f"/api/v1/tasks/{tid}/complete", {"data": FORM_DATA}, headers))
                if kind == "gthread":
                    cpu["api"] += cpu_ms(tree) - c0
                if resp.status_code != 200:
                    raise RuntimeError(f"completion {tid}: {resp.status_code} {resp.text[:300]}")
                return float(t)

            def me(kind: str) -> float:
                http, headers = clients[kind]
                c0 = cpu_ms(tree) if kind == "gthread" else 0.0
                t, resp = timed(lambda: http.get("/api/v1/me", headers))
                if kind == "gthread":
                    cpu["me"] += cpu_ms(tree) - c0
                if resp.status_code != 200:
                    raise RuntimeError(f"GET /api/v1/me: {resp.status_code} {resp.text[:300]}")
                return float(t)

            # alternating: the completions, the floor under any authenticated call (GET /me: same
            # client, server and token, no engine work) and the raw engine share the machine's conditions
            def raw_cpu(kind: str = "raw") -> float:
                c0 = time.process_time()
                t = (raw if kind == "raw" else raw_stock)()
                cpu[kind] += (time.process_time() - c0) * 1000
                return t

            for i in range(n + warm):
                if i == warm:
                    cpu.update(api=0.0, me=0.0, raw=0.0, raw_stock=0.0)
                got = {"api": complete("gthread", halves["gthread"][i]), "me": me("gthread"),
                       "api_sync": complete("sync", halves["sync"][i]), "me_sync": me("sync"), "raw": raw_cpu(),
                       "raw_stock": raw_cpu("raw_stock")}
                if i >= warm:
                    for key, value in got.items():
                        ms[key].append(value)
            server_pids = server.worker_pids()
            # the app's own request log (sanji.request, duration_ms): the time inside the worker,
            # without the client, the loopback and the wait for a CPU on a loaded machine
            server_ms = [float(e["duration_ms"]) for e in server.log_lines()
                         if e.get("logger") == "sanji.request" and str(e.get("path", "")).endswith("/complete")
                         and e.get("status") == 200][warm:]
    api, raw_fig, me_fig = summary(ms["api"]), summary(ms["raw"]), summary(ms["me"])
    stock_fig = summary(ms["raw_stock"])
    api_sync, me_sync = summary(ms["api_sync"]), summary(ms["me_sync"])
    inside = summary(server_ms) if server_ms else None
    ratio = api["median_ms"] / raw_fig["median_ms"]
    overhead = (api["median_ms"] - me_fig["median_ms"]) / raw_fig["median_ms"]
    overhead_sync = (api_sync["median_ms"] - me_sync["median_ms"]) / raw_fig["median_ms"]
    overhead_stock = (api["median_ms"] - me_fig["median_ms"]) / stock_fig["median_ms"]
    figures = [
        {"name": "completion_raw_spiff", "value": raw_fig["median_ms"], "unit": "ms median",
         "p95_ms": raw_fig["p95_ms"], "n": raw_fig["n"],
         "target": "reference (the engine's part in Sanji's shape: state without the spec)", "pass": None},
        {"name": "completion_raw_spiff_stock", "value": stock_fig["median_ms"], "unit": "ms median",
         "p95_ms": stock_fig["p95_ms"], "n": stock_fig["n"],
         "target": "reference (stock serializer: the spec written and read with every instance)", "pass": None},
        {"name": "completion_minus_me_vs_raw_stock", "value": round(overhead_stock, 2), "unit": "×",
         "target": "reference (the ratio against the stock loop, as measured before)", "pass": None},
        {"name": "completion_api", "value": api["median_ms"], "unit": "ms median", "p95_ms": api["p95_ms"],
         "n": api["n"], "target": "reference (gthread × 4, keep-alive: the deployment's serving)", "pass": None},
        {"name": "completion_api_sync", "value": api_sync["median_ms"], "unit": "ms median",
         "p95_ms": api_sync["p95_ms"], "n": api_sync["n"],
         "target": "reference (a sync worker: a new connection per request)", "pass": None},
        {"name": "completion_api_vs_raw", "value": round(ratio, 2), "unit": "×", "target": "reference",
         "pass": None, "detail": f"workers {server_pids}"},
        {"name": "completion_minus_me_vs_raw", "value": round(overhead, 2), "unit": "×",
         "target": "≤ 2.5× ((completion − GET /me) / raw)", "pass": overhead <= 2.5,
         "detail": f"sync worker: {overhead_sync:.2f}×"},
        {"name": "authenticated_get_me", "value": me_fig["median_ms"], "unit": "ms median",
         "p95_ms": me_fig["p95_ms"], "n": me_fig["n"], "target": "reference (HTTP + auth, no engine; gthread)",
         "pass": None},
        {"name": "authenticated_get_me_sync", "value": me_sync["median_ms"], "unit": "ms median",
         "p95_ms": me_sync["p95_ms"], "n": me_sync["n"], "target": "reference (sync worker)", "pass": None},
    ]
    per = {k: v / n for k, v in cpu.items()}  # CPU ms per call (mean): hardly moved by the machine's load
    cpu_overhead = (per["api"] - per["me"]) / per["raw"] if per["raw"] else float("nan")
    cpu_overhead_stock = (per["api"] - per["me"]) / per["raw_stock"] if per["raw_stock"] else float("nan")
    figures.append({"name": "completion_cpu_minus_me_vs_raw", "value": round(cpu_overhead, 2), "unit": "×",
                    "target": "≤ 2.5× (the same in CPU time: server's for the requests, the bench's for raw)",
                    "pass": cpu_overhead <= 2.5,
                    "detail": f"CPU ms per call: completion {per['api']:.2f}, GET /me {per['me']:.2f}, "
                              f"raw {per['raw']:.2f} (stock loop {per['raw_stock']:.2f}: "
                              f"{cpu_overhead_stock:.2f}×)"})
    tight_fig = summary(tight)
    figures.append({"name": "completion_raw_spiff_back_to_back", "value": tight_fig["median_ms"], "unit": "ms median",
                    "p95_ms": tight_fig["p95_ms"], "n": tight_fig["n"], "target": "reference", "pass": None})
    figures.append({"name": "completion_api_vs_raw_back_to_back", "value": round(api["median_ms"] / tight_fig["median_ms"], 2),
                    "unit": "×", "target": "reference", "pass": None})
    if inside:
        figures.append({"name": "completion_api_in_worker", "value": inside["median_ms"], "unit": "ms median",
                        "p95_ms": inside["p95_ms"], "n": inside["n"], "target": "reference (server side)",
                        "pass": None, "vs_raw": round(inside["median_ms"] / raw_fig["median_ms"], 2)})
    return figures
