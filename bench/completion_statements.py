"""The SQL statements of one completion: POST /api/v1/tasks/{id}/complete through the Flask test
client on a SQLite file (the completion benchmark's diagram and form data), counted at the
driver (SQLAlchemy's `before_cursor_execute`, plus the transaction's BEGIN / COMMIT events).

    .venv/bin/python -m bench.completion_statements          # the statements of one warm completion
    .venv/bin/python -m bench.completion_statements --me     # and of an authenticated GET /api/v1/me

docs/performance.md quotes the count ("statements per completion").
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .common import database
from .completion import FORM_DATA, prepare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--me", action="store_true", help="also list the statements of GET /api/v1/me")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database("sqlite", Path(tmp), "statements") as db:
        ids = prepare(db.url, 5)
        from app import create_app

        app = create_app({"database_url": db.url, "env": "test", "scheduler": "off"})
        client = app.test_client()
        login = client.post("/api/v1/auth/login", json={"username": "u00_b00", "password": "demo12345"})
        headers = {"Authorization": f"Bearer {login.get_json()['token']}"}
        for task_id in ids[:3]:  # warm: caches (specs, forms, compiled statements) filled
            assert client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": FORM_DATA},
                               headers=headers).status_code == 200
        seen: list[str] = []

        def on_exec(conn: Any, cursor: Any, statement: str, *a: Any) -> None:
            seen.append(" ".join(statement.split())[:160])

        def on_commit(conn: Any) -> None:
            seen.append("COMMIT")

        target: Any = Engine  # every engine of the process: the app's is the only one left open
        event.listen(target, "before_cursor_execute", on_exec)
        event.listen(target, "commit", on_commit)
        r = client.post(f"/api/v1/tasks/{ids[3]}/complete", json={"data": FORM_DATA}, headers=headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        completion = list(seen)
        seen.clear()
        if args.me:
            assert client.get("/api/v1/me", headers=headers).status_code == 200
        me = list(seen)
        event.remove(target, "before_cursor_execute", on_exec)
        event.remove(target, "commit", on_commit)
    print(f"completion: {len(completion)} statements (COMMIT included)")
    for i, s in enumerate(completion, 1):
        print(f"  {i:2d}. {s}")
    if args.me:
        print(f"GET /api/v1/me: {len(me)} statements")
        for i, s in enumerate(me, 1):
            print(f"  {i:2d}. {s}")


if __name__ == "__main__":
    main()
