"""The lived-in demo (issue 18): `init_db(demo=True, history=True)` on a SQLite file of its own,
the clock standing at 2027-03-15 10:00 (Asia/Shanghai), so the history runs from 2026-03-01.
About half a minute, made once per test run: with pytest-xdist the first worker to need it makes
it under a file lock and every worker reads a copy (the tests here only read). SQLite only, so its
tests are marked `once` (the PostgreSQL pass of .ci/run leaves them out)."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from app import create_app, init_db
from engine.infra.clock import FrozenClock
from engine.infra.db import make_engine, make_session_factory, write_intent
from engine.infra.settings import ROOT, Settings, load_settings
from engine.models import User
from engine.org import auth
from tests.conftest import Api

NOW = "2027-03-15T10:00:00+08:00"


def demo_settings(folder: Path, forms_dir: Path) -> Settings:
    """What `flask --app app init-db --demo` runs with (the scheduler's worker continues the
    fan-outs, as in development), on a file of its own."""
    return load_settings({}, env="test", database_url=f"sqlite:///{folder / 'demo.db'}", forms_dir=forms_dir,
                         processes_dir=ROOT / "processes", scheduler="off")


def make_demo(folder: Path, forms_dir: Path) -> dict[str, Any]:
    """The demo database in `folder`/demo.db (WAL folded in); the report of init_db."""
    settings = demo_settings(folder, forms_dir)
    engine = make_engine(settings.database_url)
    report = init_db(create_app(settings, clock=FrozenClock(NOW), engine=engine), demo=True, history=True)
    with engine.begin() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    (folder / "report.json").write_text(json.dumps(report))
    return report


def shared_demo(tmp_path_factory: pytest.TempPathFactory, forms_dir: Path) -> Path:
    """A folder of this worker's own holding demo.db and report.json."""
    mine = tmp_path_factory.mktemp("demo")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        make_demo(mine, forms_dir)
        return mine
    shared = tmp_path_factory.getbasetemp().parent / f"demo-{run}"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "report.json").exists():
            make_demo(shared, forms_dir)
    for name in ("demo.db", "report.json"):
        shutil.copy(shared / name, mine / name)
    return mine


@dataclass
class Demo:
    app: Any
    api: Api
    clock: FrozenClock
    sessions: Any
    report: dict[str, Any]


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory, forms_dir: Path) -> Iterator[Demo]:
    folder = shared_demo(tmp_path_factory, forms_dir)
    settings = demo_settings(folder, forms_dir)
    engine = make_engine(settings.database_url)
    clock = FrozenClock(NOW)
    app = create_app(settings, clock=clock, engine=engine)
    sessions = make_session_factory(engine)
    api = Api(app.test_client())
    with write_intent(), sessions() as s:  # bearer tokens without 32 argon2 logins
        for user in s.scalars(select(User)):
            api.tokens[user.username] = auth.issue_token(s, user, clock.now(), 24)
        s.commit()
    yield Demo(app, api, clock, sessions, json.loads((folder / "report.json").read_text()))
    engine.dispose()
