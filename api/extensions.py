"""The Sanji Flask extension: settings, clock, database and forms for one app.

Made at module level and `init_app`'d by the factory, like Flask-SQLAlchemy; one session
per request in `g`, opened lazily and closed at teardown. Mutating requests declare write
intent before their first statement (SQLite then begins IMMEDIATE).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.core.forms import FormStore
from engine.core.runtime import Runtime
from engine.infra.clock import Clock, clock_for
from engine.infra.db import _write_intent, make_engine, make_session_factory
from engine.infra.settings import Settings
from engine.org import confidential
from engine.org.confidential import Redactor, for_principal
from engine.org.nodes import Principal

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Sanji:
    def __init__(self) -> None:
        self.settings: Settings | None = None

    def init_app(
        self, app: Flask, settings: Settings, clock: Clock | None = None, engine: Engine | None = None
    ) -> None:
        self.app_state(
            app,
            settings,
            clock or clock_for(settings.clock_offset_s),
            engine or make_engine(settings.database_url, **settings.engine_options()),
        )

        @app.before_request
        def _intent() -> None:
            g._sanji_intent = _write_intent.set(request.method not in SAFE_METHODS)
            g._sanji_reading = confidential.begin_reading(db)  # the confidential keys once per request

        @app.teardown_request
        def _close(_exc: BaseException | None) -> None:
            session = g.pop("_sanji_session", None)
            if session is not None:
                try:
                    session.close()
                except Exception as exc:
                    # the response (503) is already made; the pool drops the dead connection
                    logging.getLogger("sanji.api").warning(
                        "closing the request's session failed: %s", type(exc).__name__
                    )
                    session.invalidate()
            token = g.pop("_sanji_intent", None)
            if token is not None:
                _write_intent.reset(token)
            reading = g.pop("_sanji_reading", None)
            if reading is not None:
                confidential.end_reading(reading)

    @staticmethod
    def app_state(app: Flask, settings: Settings, clock: Clock, engine: Engine) -> None:
        app.extensions["sanji"] = State(settings, clock, engine)


class State:
    def __init__(self, settings: Settings, clock: Clock, engine: Engine) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = engine
        self.sessions: sessionmaker[Session] = make_session_factory(engine)
        self.forms = FormStore(settings.forms_dir, self.sessions)  # deployed forms (issue 15)


sanji = Sanji()


def state(app: Any = None) -> State:
    return (app or current_app).extensions["sanji"]


def db() -> Session:
    """The request's session (opened on first use)."""
    session = g.get("_sanji_session")
    if session is None:
        session = state().sessions()
        g._sanji_session = session
    return session


def clock() -> Clock:
    return state().clock


def settings() -> Settings:
    return state().settings


def runtime() -> Runtime:
    st = state()
    return Runtime(db(), st.clock, st.settings, st.forms)


def redactor(p: Principal | None) -> Redactor:
    """The redaction of what `p` reads (engine/org/confidential.py): the identity except for admins."""
    key = ("_sanji_redactor", p.id if p is not None else None)
    cached = g.get("_sanji_redactor")
    if cached is not None and cached[0] == key:
        return cached[1]
    made = for_principal(p, state().forms.forms_dir)
    g._sanji_redactor = (key, made)
    return made
