"""What one statement costs through each layer, on the completion's own rows (SQLite file).

    .venv/bin/python -m bench.statement_cost

The completion sends ≈ 12 statements; this prints the median time of one of them executed
through the ORM (two entities and the joined definition, as `_task_for_action` reads them),
through SQLAlchemy Core (the prebuilt statements of engine/core/runtime.py), through
`exec_driver_sql` and through the DBAPI cursor itself — the floor under the request's
database work. docs/performance.md quotes it.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import bindparam, select

from .common import database
from .completion import prepare


def main() -> None:
    from engine.core import runtime
    from engine.infra.db import make_engine, make_session_factory
    from engine.models import HumanTask, ProcessInstance

    with tempfile.TemporaryDirectory() as tmp, database("sqlite", Path(tmp), "statements") as db:
        task_id = prepare(db.url, 3)[0]
        engine = make_engine(db.url)
        sessions = make_session_factory(engine)
        tasks, instances = HumanTask.__table__, ProcessInstance.__table__
        core_select = (select(tasks, instances.c.state, instances.c.version, instances.c.status)
                       .join(instances, instances.c.id == tasks.c.instance_id).where(tasks.c.id == bindparam("task_id")))

        def median_ms(fn: Callable[[Any], Any], n: int = 400) -> float:
            out = []
            for _ in range(n):
                with sessions() as s:
                    s.connection()  # the transaction is open, as inside a request
                    t0 = time.perf_counter()
                    fn(s)
                    out.append((time.perf_counter() - t0) * 1000)
            return statistics.median(out[n // 8:])

        sql = "UPDATE task SET status = ? WHERE id = ?"
        rows = [
            ("ORM: task + instance + definition (joined)",
             lambda s: s.execute(runtime._TASK_AND_INSTANCE, {"task_id": task_id}).one()),
            ("Core: the same row's columns", lambda s: s.connection().execute(core_select, {"task_id": task_id}).one()),
            ("Core: UPDATE task (prebuilt)",
             lambda s: s.connection().execute(runtime._TASK_UPDATE, {"task_id_": task_id, "status": "open"})),
            ("exec_driver_sql: the same UPDATE", lambda s: s.connection().exec_driver_sql(sql, ("open", task_id))),
            ("DBAPI cursor: the same UPDATE",
             lambda s: s.connection().connection.driver_connection.execute(sql, ("open", task_id))),
        ]
        for label, fn in rows:
            print(f"{label:45s} {median_ms(fn):.3f} ms median")
        engine.dispose()


if __name__ == "__main__":
    main()
