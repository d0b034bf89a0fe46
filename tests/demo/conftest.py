"""The lived-in demo (issue 18): `init_db(demo=True, history=True)` once for the whole package on
its own SQLite file, the clock standing at 2027-03-15 10:00 (Asia/Shanghai), so the history runs
from 2026-03-01. About half a minute: the tests here only read."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

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


@dataclass
class Demo:
    app: Any
    api: Api
    clock: FrozenClock
    sessions: Any
    report: dict[str, Any]


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory, forms_dir: Path) -> Iterator[Demo]:
    settings = demo_settings(tmp_path_factory.mktemp("demo"), forms_dir)
    engine = make_engine(settings.database_url)
    clock = FrozenClock(NOW)
    app = create_app(settings, clock=clock, engine=engine)
    report = init_db(app, demo=True, history=True)
    sessions = make_session_factory(engine)
    api = Api(app.test_client())
    with write_intent(), sessions() as s:  # bearer tokens without 32 argon2 logins
        for user in s.scalars(select(User)):
            api.tokens[user.username] = auth.issue_token(s, user, clock.now(), 24)
        s.commit()
    yield Demo(app, api, clock, sessions, report)
    engine.dispose()
