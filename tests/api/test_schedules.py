"""The schedules and jobs API, undeploy, the scheduler command and the embedded scheduler."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from lxml import etree
from sqlalchemy import select

from app import init_db
from engine.infra.db import make_session_factory
from engine.models import EventLog, ProcessInstance
from engine.core.scheduler import tick
from engine.infra.settings import ROOT
from tests.conftest import BPMN
from tests.timer_bpmn import timer_process, write

QUARTERLY = BPMN / "quarterly_timer.bpmn"
QUARTERLY_KEY = "quarterly_timer_test"


def deploy_xml(api, tmp_path, xml, name):
    r = api.deploy(write(tmp_path, xml, name))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def schema_of(client, name):
    doc = client.get("/api/v1/openapi.json").get_json()
    schema = dict(doc["components"]["schemas"][name])
    schema["$defs"] = doc["components"]["schemas"]
    text = re.sub(r"#/components/schemas/", "#/$defs/", __import__("json").dumps(schema))
    return Draft202012Validator(__import__("json").loads(text))


@pytest.fixture
def cadences(api, clock, tmp_path):
    """The three cadences of the linkage, deployed on 2026-12-01 10:00 Shanghai."""
    clock.set("2026-12-01T10:00:00+08:00")
    assert api.deploy(QUARTERLY).status_code == 201
    deploy_xml(api, tmp_path, timer_process("monthly_report_test", "0 9 1 * *", name="月度书面报告"), "m.bpmn")
    deploy_xml(api, tmp_path, timer_process("quarterly_report_test", "0 9 L 3,6,9,12 *", name="季度书面报告"), "q.bpmn")
    return {s["process_key"]: s for s in api.get("/api/v1/schedules", "group_member").get_json()["items"]}


def test_schedules_list_the_cadences_with_their_next_four_fires(api, client, cadences):
    assert set(cadences) == {QUARTERLY_KEY, "monthly_report_test", "quarterly_report_test"}
    q = cadences[QUARTERLY_KEY]
    assert (q["version"], q["start_event"], q["expression"], q["time_zone"], q["paused"], q["last_fire"]) == (
        1, {"id": "quarter_start", "name": "每季度首月1日9时"}, "0 9 1 1,4,7,10 *", "Asia/Shanghai", False, None)
    assert q["next_fire_times"] == ["2027-01-01T09:00:00+08:00", "2027-04-01T09:00:00+08:00",
                                    "2027-07-01T09:00:00+08:00", "2027-10-01T09:00:00+08:00"]
    assert cadences["monthly_report_test"]["next_fire_times"] == [
        "2027-01-01T09:00:00+08:00", "2027-02-01T09:00:00+08:00", "2027-03-01T09:00:00+08:00",
        "2027-04-01T09:00:00+08:00"]
    assert cadences["quarterly_report_test"]["next_fire_times"] == [
        "2026-12-31T09:00:00+08:00", "2027-03-31T09:00:00+08:00", "2027-06-30T09:00:00+08:00",
        "2027-09-30T09:00:00+08:00"]
    validator = schema_of(client, "Schedule")
    for item in cadences.values():
        validator.validate(item)
    r = api.get(f"/api/v1/schedules/{q['id']}", "group_member")
    assert r.status_code == 200 and r.get_json()["id"] == q["id"]
    assert api.get("/api/v1/schedules/999999", "admin").status_code == 404
    assert api.get("/api/v1/schedules").status_code == 401
    assert api.get("/api/v1/schedules", "admin", query_string={"process_key": QUARTERLY_KEY}).get_json()["total"] == 1
    assert api.get("/api/v1/schedules", "admin", query_string={"paused": "maybe"}).status_code == 422


def test_last_fire_shows_in_the_list_after_a_tick(api, app, clock, settings, cadences):
    from api.extensions import state

    clock.set("2027-01-01T09:00:30+08:00")
    api.tokens.clear()
    result = tick(state(app).sessions, clock, settings)
    # quarterly and monthly on time; quarter-end's Dec 31 fire was never ticked: it starts now, late
    assert len(result.started) == 3
    items = {s["process_key"]: s for s in api.get("/api/v1/schedules", "admin").get_json()["items"]}
    last = items[QUARTERLY_KEY]["last_fire"]
    assert (last["result"], last["due_at"], last["late"]) == ("started", "2027-01-01T09:00:00+08:00", False)
    assert last["instance_id"] in result.started
    last = items["quarterly_report_test"]["last_fire"]
    assert (last["result"], last["due_at"], last["late"]) == ("started", "2026-12-31T09:00:00+08:00", True)
    assert items["quarterly_report_test"]["next_fire_times"][0] == "2027-03-31T09:00:00+08:00"
    assert items[QUARTERLY_KEY]["next_fire_times"][0] == "2027-04-01T09:00:00+08:00"


def test_pause_and_resume_are_for_admins_and_logged(api, app, clock, settings, cadences):
    from api.extensions import state

    sid = cadences["monthly_report_test"]["id"]
    assert api.post(f"/api/v1/schedules/{sid}/pause", "group_secretary").status_code == 403
    r = api.post(f"/api/v1/schedules/{sid}/pause", "admin", json={"reason": "春节"})
    assert r.status_code == 200 and r.get_json()["paused"] is True and r.get_json()["next_fire_at"] is None
    assert api.post(f"/api/v1/schedules/{sid}/pause", "admin").status_code == 409
    assert api.post("/api/v1/schedules/999999/pause", "admin").status_code == 404
    clock.set("2027-01-01T09:00:00+08:00")
    started = tick(state(app).sessions, clock, settings).started
    with state(app).sessions() as s:
        keys = {s.get(ProcessInstance, i).process_key for i in started}
    assert keys == {QUARTERLY_KEY, "quarterly_report_test"}  # not the paused monthly one
    clock.set("2027-01-02T09:00:00+08:00")
    api.tokens.clear()  # a month later: the tokens have expired
    r = api.post(f"/api/v1/schedules/{sid}/resume", "admin")
    assert r.status_code == 200 and r.get_json()["paused"] is False
    assert r.get_json()["next_fire_at"] == "2027-02-01T09:00:00+08:00"
    assert api.post(f"/api/v1/schedules/{sid}/resume", "admin").status_code == 409
    with state(app).sessions() as s:
        logged = [(e.type, e.actor) for e in s.scalars(select(EventLog).where(EventLog.type.like("schedule_%")).order_by(EventLog.id))
                  if e.type in ("schedule_paused", "schedule_resumed")]
    assert logged == [("schedule_paused", "admin"), ("schedule_resumed", "admin")]


def test_jobs_list_the_waiting_timers_and_execute_fires_one_now(api, client, clock):
    assert api.deploy(BPMN / "escalation.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/escalation_test/start", "xinsheng_laogan", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    t0 = clock.now()
    assert api.get("/api/v1/jobs", "group_secretary").status_code == 403
    page = api.get("/api/v1/jobs", "admin").get_json()
    assert page["total"] == 1
    [job] = page["items"]
    schema_of(client, "Job").validate(job)
    assert (job["id"], job["process_key"], job["overdue"]) == (iid, "escalation_test", False)
    assert job["due_at"] == (t0.replace(day=t0.day + 1)).isoformat()
    timers = {t["timer_id"]: t for t in job["timers"]}
    assert set(timers) == {"remind", "overdue"}
    assert (timers["remind"]["kind"], timers["remind"]["interrupting"], timers["remind"]["attached_to"],
            timers["remind"]["cycles_left"]) == ("timeCycle", False, "report", 2)
    assert (timers["overdue"]["kind"], timers["overdue"]["interrupting"], timers["overdue"]["attached_to"]) == (
        "timeDuration", True, "report")
    assert timers["overdue"]["due_at"] == t0.replace(day=t0.day + 3).isoformat()
    assert api.get("/api/v1/jobs", "admin", query_string={"overdue": "true"}).get_json()["total"] == 0
    assert "timers" not in api.get("/api/v1/jobs", "admin", query_string={"detail": "false"}).get_json()["items"][0]

    assert api.post(f"/api/v1/jobs/{iid}/execute", "group_secretary").status_code == 403
    assert api.post("/api/v1/jobs/999999/execute", "admin").status_code == 404
    assert api.post(f"/api/v1/jobs/{iid}/execute", "admin", json={"timer_id": "nope"}).status_code == 404
    assert api.post(f"/api/v1/jobs/{iid}/execute", "admin", json={"timer_id": 3}).status_code == 422
    r = api.post(f"/api/v1/jobs/{iid}/execute", "admin", json={"timer_id": "overdue"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["fired"] == "overdue" and r.get_json()["job"]["due_at"] is None
    tasks = api.get(f"/api/v1/process-instances/{iid}", "admin").get_json()["open_tasks"]
    assert [(t["spec_id"], t["tier"], t["node_id"]) for t in tasks] == [("escalate", "unit", "xinsheng")]
    history = api.get(f"/api/v1/process-instances/{iid}/history", "admin").get_json()["items"]
    [fired] = [e for e in history if e["type"] == "timer_fired"]
    assert fired["actor"] == "admin" and fired["payload"]["manual"] is True and fired["payload"]["spec_id"] == "overdue"
    assert api.get("/api/v1/jobs", "admin").get_json()["total"] == 0
    assert api.post(f"/api/v1/jobs/{iid}/execute", "admin").status_code == 409


def test_undeploy_removes_schedules_and_stops_starts(api, cadences):
    assert api.post("/api/v1/process-definitions/monthly_report_test/undeploy", "group_secretary").status_code == 403
    r = api.post("/api/v1/process-definitions/monthly_report_test/undeploy", "owner", json={"reason": "改为季度"})
    assert r.status_code == 200 and r.get_json() == {"key": "monthly_report_test", "active": False, "versions": [1]}
    keys = {s["process_key"] for s in api.get("/api/v1/schedules", "admin").get_json()["items"]}
    assert keys == {QUARTERLY_KEY, "quarterly_report_test"}
    assert api.post("/api/v1/process-definitions/monthly_report_test/undeploy", "owner").status_code == 409
    assert api.post("/api/v1/process-definitions/nope/undeploy", "owner").status_code == 404
    r = api.post("/api/v1/process-definitions/monthly_report_test/start", "admin", json={"variables": {}})
    assert r.status_code == 404
    listed = {d["key"] for d in api.get("/api/v1/process-definitions", "admin").get_json()["items"]}
    assert "monthly_report_test" not in listed


def test_a_deploy_with_a_bad_cadence_is_refused_with_the_reason(api, tmp_path):
    r = api.deploy(write(tmp_path, timer_process("bad", "0 9 L 3,6,9,12 FRI#2"), "bad.bpmn"))
    assert r.status_code == 422
    body = r.get_json()
    assert "timer_start" in body["message"] and "Quartz syntax" in body["message"]
    assert api.get("/api/v1/schedules", "admin").get_json()["total"] == 0


def test_fresh_install_schedules_the_built_in_processes(app, api, clock):
    """`init-db` deploys processes/*.bpmn: each timer start event is listed with 4 next fires."""
    timer_starts = []
    for path in sorted((ROOT / "processes").glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        for ev in root.iterfind(".//{http://www.omg.org/spec/BPMN/20100524/MODEL}startEvent"):
            if ev.find("{http://www.omg.org/spec/BPMN/20100524/MODEL}timerEventDefinition") is not None:
                timer_starts.append((ev.getparent().get("id"), ev.get("id")))
    if not timer_starts:
        pytest.skip("processes/ has no diagram with a timer start event yet (the procedures arrive by merge)")
    init_db(app, demo=False)
    items = api.get("/api/v1/schedules", "admin", query_string={"per_page": 500}).get_json()["items"]
    assert sorted((s["process_key"], s["start_event"]["id"]) for s in items) == sorted(timer_starts)
    for s in items:
        assert len(s["next_fire_times"]) == 4 or s["timer_kind"] != "timeCycle", s
        assert all(t.endswith("+08:00") for t in s["next_fire_times"]), s


# ---- the scheduler command and the embedded scheduler ------------------------------------------------------

def test_scheduler_once_command_runs_a_tick(app, api, clock):
    clock.set("2026-12-01T10:00:00+08:00")
    assert api.deploy(QUARTERLY).status_code == 201
    clock.set("2027-01-01T09:00:00+08:00")
    api.tokens.clear()
    out = app.test_cli_runner().invoke(args=["scheduler", "--once"])
    assert out.exit_code == 0, out.output
    assert "started 1 instance(s) from schedules" in out.output
    out = app.test_cli_runner().invoke(args=["scheduler", "--once"])
    assert "started 0 instance(s)" in out.output
    assert "sanji_scheduler" not in app.extensions  # no embedded scheduler outside `flask run`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_server(tmp_path: Path, extra_env: dict[str, str], args: list[str], wait_for: str, settle: float,
                command: list[str] | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANJI_", "FLASK_", "WERKZEUG_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.db'}", SANJI_PROCESSES_DIR=str(tmp_path / "none"),
               SANJI_SCHEDULER_INTERVAL="0.2", PYTHONUNBUFFERED="1", **extra_env)
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    if not (tmp_path / "dev.db").exists():
        subprocess.run(flask + ["init-db"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen((command or flask + ["run", "--port", str(_free_port())]) + args, cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if wait_for in line:
                ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert ready.wait(60), "".join(lines)
        time.sleep(settle)  # let a wrongly started second scheduler show itself too
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
    return "".join(lines)


@pytest.mark.slow
@pytest.mark.once  # process spawning, not the database (.ci/run: SQLite pass)
def test_the_dev_server_embeds_exactly_one_scheduler_even_with_the_reloader_and_gunicorn_none(tmp_path):
    plain = _run_server(tmp_path, {}, ["--no-reload"], "Running on", 1.5)
    assert plain.count("scheduler started in the background") == 1, plain
    reloading = _run_server(tmp_path, {"FLASK_DEBUG": "1"}, ["--reload"], "Debugger PIN", 2.0)
    assert reloading.count("scheduler started in the background") == 1, reloading
    off = _run_server(tmp_path, {"SANJI_SCHEDULER": "off"}, ["--no-reload"], "Running on", 1.0)
    assert "scheduler started" not in off, off
    # gunicorn web workers never run one, whatever SANJI_SCHEDULER says
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{_free_port()}",
                "--log-level", "info", "app:create_app()"]
    served = _run_server(tmp_path, {"SANJI_SCHEDULER": "embedded"}, [], "Booting worker", 2.0, command=gunicorn)
    assert "Booting worker" in served and "scheduler started" not in served, served


@contextmanager
def _scheduler_process(tmp_path, **extra_env):
    """`flask scheduler` on a fresh SQLite database, its output on stdout; killed if a test leaves it running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANJI_", "FLASK_", "WERKZEUG_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'sched.db'}", SANJI_PROCESSES_DIR=str(tmp_path / "none"),
               SANJI_SCHEDULER_INTERVAL="0.2", PYTHONUNBUFFERED="1", **extra_env)
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run(flask + ["init-db"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen(flask + ["scheduler"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


@pytest.mark.slow
def test_the_scheduler_process_ticks_and_stops_cleanly_on_sigterm(tmp_path):
    with _scheduler_process(tmp_path) as proc:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "scheduler running" in line:
                break
        time.sleep(1.0)  # a few ticks
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    output = "".join(lines) + out
    assert proc.returncode == 0, output
    assert "stopping after the running tick" in output and "Traceback" not in output, output


@pytest.mark.slow
def test_the_scheduler_process_honours_the_log_level(tmp_path):
    """SANJI_LOG_LEVEL=WARNING: the scheduler process writes none of its INFO lines (it used to force INFO)."""
    with _scheduler_process(tmp_path, SANJI_LOG_LEVEL="WARNING") as proc:
        time.sleep(3.0)  # started and ticking
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert out == "", out  # no "scheduler running", no "signal 15: stopping …" (both INFO)
