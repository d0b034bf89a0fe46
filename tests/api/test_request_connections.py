"""A task page is one request on one connection: the confidential keys it redacts and audits by are
looked up once, through the request's own session (engine/org/confidential.py `begin_reading`),
not on a pooled connection of their own per lookup. (A form version's pin is read on a session of
its own once per worker, hence the first request to warm the caches.)"""
from __future__ import annotations

from sqlalchemy import event

from tests.conftest import BPMN


def test_a_task_page_checks_out_one_connection_and_reads_the_keys_once(app, api):
    assert api.deploy(BPMN / "three_tier.bpmn").status_code == 201
    assert api.post("/api/v1/process-definitions/three_tier/start", "group_secretary",
                    json={"variables": {"unit_id": "xinsheng"}}).status_code == 201
    task = api.tasks("group_secretary")[0]
    assert api.get(f"/api/v1/tasks/{task['id']}", "group_secretary").status_code == 200  # the worker's caches warm
    engine = app.extensions["sanji"].engine
    checkouts, fingerprints = [], []
    event.listen(engine, "checkout", lambda *a: checkouts.append(1))

    def statement(_conn, _cursor, sql, *_a):
        if "max(form.id)" in sql:
            fingerprints.append(sql)

    event.listen(engine, "before_cursor_execute", statement)
    r = api.get(f"/api/v1/tasks/{task['id']}", "group_secretary")
    assert r.status_code == 200
    assert len(checkouts) == 1
    assert len(fingerprints) == 1
