"""The scheduler as a real process (`flask --app app scheduler`) on PostgreSQL: exactly once.

`tests/engine/test_scheduler.py` races two `tick`s in threads of one process; these tests use the
deployment's own command, in separate processes, with the clock of each process moved to the
due date by `SANJI_CLOCK_OFFSET`:

- `kill -9` of the scheduler in the middle of a batch (once while it starts scheduled instances,
  once while it fires instance timers), then a restart: every due timer fired exactly once;
- two scheduler processes started by mistake against one database: every due timer fired
  exactly once.

"Exactly once" is read from the database: one `timer_fired` event and one escalation task per
instance, one `schedule_firing` claim, one `schedule_fired` event and one started instance per
schedule, and no incident.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from engine.infra.db import write_intent
from engine.models import EventLog, HumanTask, ProcessInstance, Schedule, ScheduleFiring
from engine.core.runtime import Runtime
from engine.infra.settings import ROOT
from tests.conftest import BPMN, deploy_file
from tests.server import require_pg
from tests.timer_bpmn import deploy_text, timer_process

pytestmark = [pytest.mark.pg, pytest.mark.slow]

DUE = datetime(2027, 1, 7, 9, 0, 20, tzinfo=ZoneInfo("Asia/Shanghai"))  # deadlines (P2D) and schedules due
N_INSTANCES = 80  # each waits on a boundary timer (deadline.bpmn, due 2027-01-07 09:00)
N_FILES, PER_FILE = 3, 10  # 30 timer start schedules "0 9 7 1 *" (2027-01-07 09:00)
WAIT_S = 120.0  # upper bound of every wait (the machine may be busy); normally a few seconds


class SchedulerProcess:
    """`flask --app app scheduler` in its own process group, its clock moved to DUE."""

    def __init__(self, database_url: str, forms_dir: Path, log_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SANJI_", "FLASK_"))}
        offset = (DUE - datetime.now(timezone.utc)).total_seconds()
        env.update({"DATABASE_URL": database_url, "SANJI_ENV": "development", "SANJI_FORMS_DIR": str(forms_dir),
                    "SANJI_CLOCK_OFFSET": f"{offset:.3f}", "SANJI_SCHEDULER_INTERVAL": "0.5",
                    "PYTHONUNBUFFERED": "1"})
        self.log_path = log_path
        self._log = open(log_path, "ab")
        flask = Path(sys.executable).with_name("flask")
        self.proc = subprocess.Popen([str(flask), "--app", "app", "scheduler"], cwd=ROOT, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._log.close()

    def stop(self) -> int:
        """SIGTERM: the process finishes its running tick and exits."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def alive(self) -> None:
        assert self.proc.poll() is None, f"the scheduler exited:\n{self.log_path.read_text()[-3000:]}"


@pytest.fixture
def due_work(sessions: Any, clock: Any, settings: Any, forms: Any) -> list[int]:
    """N_INSTANCES running instances with a due deadline timer and N_FILES × PER_FILE due schedules
    (deployed and started at 2027-01-05 09:00, due 2027-01-07 09:00); returns the instance ids."""
    require_pg()
    with write_intent(), sessions() as s:
        deploy_file(s, BPMN / "deadline.bpmn", forms, clock)
        for f in range(N_FILES):
            deploy_text(s, timer_process(f"burst_{f}", ["0 9 7 1 *"] * PER_FILE), forms, clock.now())
        rt = Runtime(s, clock, settings, forms)
        ids = [rt.start("deadline_test", {"unit_id": "xuchang"}, None).id for _ in range(N_INSTANCES)]
        s.commit()
        assert s.scalar(select(func.count()).select_from(Schedule)) == N_FILES * PER_FILE
    return ids


def progress(sessions: Any) -> tuple[int, int]:
    """(schedule fires claimed, instance timers fired) so far, as committed in the database."""
    with sessions() as s:
        claimed = s.scalar(select(func.count()).select_from(ScheduleFiring))
        fired = s.scalar(select(func.count()).select_from(EventLog).where(EventLog.type == "timer_fired"))
        return claimed, fired


def wait_for(what: str, condition: Callable[[], bool], procs: list[SchedulerProcess], poll: float = 0.02) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        for p in procs:
            p.alive()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll)


def assert_exactly_once(sessions: Any, ids: list[int]) -> None:
    n_schedules = N_FILES * PER_FILE
    with sessions() as s:
        fired = Counter(s.scalars(select(EventLog.instance_id).where(EventLog.type == "timer_fired")))
        assert fired == Counter({i: 1 for i in ids})  # every due timer once: none twice, none lost
        escalations = Counter(s.scalars(select(HumanTask.instance_id).where(HumanTask.spec_id == "escalate")))
        assert escalations == Counter({i: 1 for i in ids})  # one successor per firing
        assert Counter(s.scalars(select(ProcessInstance.status))) == {"running": len(ids) + n_schedules}
        firings = list(s.scalars(select(ScheduleFiring)))
        assert len(firings) == n_schedules and len({f.schedule_id for f in firings}) == n_schedules
        assert {f.result for f in firings} == {"started"}
        started = sorted(s.scalars(select(ProcessInstance.id).where(ProcessInstance.process_key.like("burst_%"))))
        assert started == sorted(f.instance_id for f in firings)  # one instance per claimed fire
        events = list(s.scalars(select(EventLog).where(EventLog.type == "schedule_fired")))
        assert sorted(e.instance_id for e in events) == started
        assert {r.next_fire_at.year for r in s.scalars(select(Schedule))} == {2028}  # all moved on
        assert s.scalar(select(func.count()).select_from(EventLog).where(EventLog.type == "incident")) == 0


def all_done(sessions: Any, ids: list[int]) -> Callable[[], bool]:
    return lambda: progress(sessions) == (N_FILES * PER_FILE, len(ids))


def test_kill_9_of_the_scheduler_mid_batch_then_restart_fires_each_timer_once(due_work, sessions, database_url,
                                                                              forms_dir, tmp_path):
    ids, total_schedules = due_work, N_FILES * PER_FILE
    seen = []
    # 1. killed while it starts the scheduled instances (schedules come first in a tick)
    first = SchedulerProcess(database_url, forms_dir, tmp_path / "scheduler-1.log")
    wait_for("the first scheduled starts", lambda: progress(sessions)[0] >= 5, [first], poll=0.005)
    first.kill9()
    seen.append(progress(sessions))
    assert seen[-1][0] < total_schedules, f"the schedule batch finished before the kill: {seen[-1]}"
    # 2. restarted, killed again while it fires the instances' deadline timers
    second = SchedulerProcess(database_url, forms_dir, tmp_path / "scheduler-2.log")
    wait_for("the first instance timers", lambda: progress(sessions)[1] >= 10, [second], poll=0.005)
    second.kill9()
    seen.append(progress(sessions))
    assert seen[-1][1] < len(ids), f"the timer batch finished before the kill: {seen[-1]}"
    # 3. restarted: it finishes the rest, and nothing fires twice
    third = SchedulerProcess(database_url, forms_dir, tmp_path / "scheduler-3.log")
    wait_for("every due timer", all_done(sessions, ids), [third])
    assert third.stop() == 0
    print(f"\n(schedule fires, instance timers) at the kills: {seen}; after the restart: {progress(sessions)}")
    assert_exactly_once(sessions, ids)


def test_two_scheduler_processes_fire_each_due_timer_exactly_once(due_work, sessions, database_url, forms_dir,
                                                                  tmp_path):
    ids = due_work
    procs = [SchedulerProcess(database_url, forms_dir, tmp_path / f"scheduler-{i}.log") for i in range(2)]
    try:
        wait_for("every due timer", all_done(sessions, ids), procs)
    finally:
        codes = [p.stop() for p in procs]
    assert codes == [0, 0]
    with sessions() as s:
        by = Counter(f.claimed_by.split(":")[1] for f in s.scalars(select(ScheduleFiring)))
    lines = [[json.loads(line) for line in p.log_path.read_text().splitlines()] for p in procs]  # JSON, each line
    ticks = [[line for line in log if "instances advanced" in line["msg"]] for log in lines]
    print(f"\nschedule fires per scheduler pid: {dict(by)}; busy ticks per process: {[len(t) for t in ticks]}")
    assert_exactly_once(sessions, ids)
