"""(1) Completion overhead: one user task completed through the HTTP API vs. the raw engine loop.

API: gunicorn (the deployment's configuration, one sync worker) on 127.0.0.1 over a SQLite
file; a commissioner's bearer token; the form validated against its JSON Schema; the
instance locked, stepped, saved; the task row, element states and event log written and
committed. Each completion is of a different instance of bench/two_step.bpmn (a form task,
a script, a second user task), timed at the client (bench.common.Http: a new loopback TCP
connection per request, as the sync worker closes each): request sent → JSON answer read.

Raw: the same diagram in plain SpiffWorkflow 3 in this process, no database: deserialize
(stock serializer) → complete the user task → do_engine_steps → serialize. One raw completion
follows each API completion, so the two alternate through the same run (this VM's speed
drifts by ±30 % from minute to minute; run one after the other, the ratio drifted with it).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from .common import BENCH, ROOT, Http, build_org, database, gunicorn, login, open_engine, summary, timed

BPMN = BENCH / "two_step.bpmn"
FORM_DATA = {"summary": "本月无异常情况。", "findings": [
    {"title": "考勤不规范", "facts": "个别职工代签到", "area": "other"}]}


def raw_step() -> Callable[[], float]:
    """One raw completion per call (ms): the loop below, one iteration at a time, so that the
    API's and the raw engine's completions can alternate and share the machine's conditions."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BPMN))
    spec = parser.get_spec("bench_two_step")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    wf = BpmnWorkflow(spec)
    wf.get_next_task(spec_name="Start").set_data(branch_id="u00-b00", unit_id="u00")
    wf.do_engine_steps()
    saved = serializer.serialize_json(wf)

    def step() -> float:
        t0 = time.perf_counter()
        w = serializer.deserialize_json(saved)
        task = next(t for t in w.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "write")
        task.data.update(json.loads(json.dumps(FORM_DATA)))
        task.run()
        w.do_engine_steps()
        serializer.serialize_json(w)
        return (time.perf_counter() - t0) * 1000

    return step


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

    from .common import Database

    engine = open_engine(Database(db_url, "sqlite" if db_url.startswith("sqlite") else "postgresql", lambda: None))
    clock = SystemClock()
    build_org(engine, 2, 5, clock.now())
    settings = load_settings({}, env="test", database_url=db_url, forms_dir=ROOT / "forms", scheduler="off")
    forms = FormStore(settings.forms_dir)
    sessions = make_session_factory(engine)
    with write_intent(), sessions() as s:
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
    raw = raw_step()
    tight = [raw() for _ in range(warm + n)][warm:]  # the raw loop alone, back to back (warm caches)
    raw_ms: list[float] = []
    with database("sqlite", workdir, "completion") as db:
        task_ids = prepare(db.url, n + warm)
        with gunicorn(db.url, workdir / "completion-gunicorn.log", workers=1, threads=1) as server:
            http = Http(server.url)
            headers = {"Authorization": f"Bearer {login(server.url, 'u00_b00')}"}
            api_ms: list[float] = []
            for i, tid in enumerate(task_ids):
                ms, resp = timed(lambda tid=tid: http.post(f"/api/v1/tasks/{tid}/complete", {"data": FORM_DATA},
                                                           headers))
                if resp.status_code != 200:
                    raise RuntimeError(f"completion {tid}: {resp.status_code} {resp.text[:300]}")
                raw_time = raw()  # alternating: both see the same load, caches and CPU clock
                if i >= warm:
                    api_ms.append(ms)
                    raw_ms.append(raw_time)
            # the floor under any authenticated call: the same client, server and token, no engine work
            me_ms = [timed(lambda: http.get("/api/v1/me", headers))[0] for _ in range(warm + n)][warm:]
            server_pids = server.worker_pids()
            # the app's own request log (sanji.request, duration_ms): the time inside the worker,
            # without the client, the loopback and the wait for a CPU on a loaded machine
            server_ms = [float(e["duration_ms"]) for e in server.log_lines()
                         if e.get("logger") == "sanji.request" and str(e.get("path", "")).endswith("/complete")
                         and e.get("status") == 200][warm:]
    api, raw_fig = summary(api_ms), summary(raw_ms)
    inside = summary(server_ms) if server_ms else None
    ratio = api["median_ms"] / raw_fig["median_ms"]
    figures = [
        {"name": "completion_raw_spiff", "value": raw_fig["median_ms"], "unit": "ms median",
         "p95_ms": raw_fig["p95_ms"], "n": raw_fig["n"], "target": "reference", "pass": None},
        {"name": "completion_api", "value": api["median_ms"], "unit": "ms median", "p95_ms": api["p95_ms"],
         "n": api["n"], "target": "≤ 3.5 ms (1/10 of spiff-arena's 35 ms)", "pass": api["median_ms"] <= 3.5},
        {"name": "completion_api_vs_raw", "value": round(ratio, 2), "unit": "×", "target": "≤ 3×",
         "pass": ratio <= 3.0, "detail": f"workers {server_pids}"},
    ]
    me = summary(me_ms)
    figures.append({"name": "authenticated_get_me", "value": me["median_ms"], "unit": "ms median",
                    "p95_ms": me["p95_ms"], "n": me["n"], "target": "reference (HTTP + auth, no engine)",
                    "pass": None})
    tight_fig = summary(tight)
    figures.append({"name": "completion_raw_spiff_back_to_back", "value": tight_fig["median_ms"], "unit": "ms median",
                    "p95_ms": tight_fig["p95_ms"], "n": tight_fig["n"], "target": "reference", "pass": None})
    figures.append({"name": "completion_api_vs_raw_back_to_back", "value": round(api["median_ms"] / tight_fig["median_ms"], 2),
                    "unit": "×", "target": "reference (≤ 3× is the target above)", "pass": None})
    if inside:
        figures.append({"name": "completion_api_in_worker", "value": inside["median_ms"], "unit": "ms median",
                        "p95_ms": inside["p95_ms"], "n": inside["n"], "target": "reference (server side)",
                        "pass": None, "vs_raw": round(inside["median_ms"] / raw_fig["median_ms"], 2)})
    return figures
