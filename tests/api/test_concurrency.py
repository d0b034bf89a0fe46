"""Concurrent completions of one task over real HTTP: exactly one wins, the rest get 409."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

from sqlalchemy import func, select

from engine.models import EventLog, HumanTask, ProcessInstance
from tests.conftest import BPMN


def post(url: str, token: str, body: dict) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_ten_threads_complete_the_same_task(api, live_server, sessions):
    api.deploy(BPMN / "three_tier.bpmn")
    inst = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary",
                    json={"variables": {"unit_id": "xinsheng"}}).get_json()
    task_id = inst["open_tasks"][0]["id"]
    tokens = [api.token(u) for u in ("group_secretary", "group_deputy", "group_standing", "group_member")]
    barrier = threading.Barrier(10)
    results: list[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        barrier.wait()
        status = post(f"{live_server.url}/api/v1/tasks/{task_id}/complete", tokens[i % 4], {"data": {"comment": f"第{i}次"}})
        with lock:
            results.append(status)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == [200] + [409] * 9
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(EventLog).where(
            EventLog.type == "task_completed", EventLog.task_id == task_id)) == 1
        assert s.get(HumanTask, task_id).status == "completed"
        open_tasks = s.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
        assert [(t.spec_id, t.node_id) for t in open_tasks] == [("unit_task", "xinsheng")]
        assert s.get(ProcessInstance, inst["id"]).version == inst["version"] + 1
