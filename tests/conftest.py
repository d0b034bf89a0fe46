"""Shared fixtures: a real database (SQLite file, or PostgreSQL from TEST_DATABASE_URL),
the demo organisation, a travelling clock, the engine runtime and the Flask app.

On PostgreSQL every test session works in its own schema, so parallel runs (several
checkouts, CI) never see each other's rows.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import create_app, migrate
from engine.org import demo
from engine.org import nodes as org
from engine.core import repository
from engine.infra.clock import FrozenClock
from engine.infra.db import Base, make_engine, make_session_factory, write_intent
from engine.core.forms import FormStore
from engine.models import User
from engine.core.runtime import Runtime
from engine.infra.settings import ROOT, Settings, load_settings

TESTS = Path(__file__).resolve().parent
BPMN = TESTS / "bpmn"
# The BPMN MIWG reference diagrams, in the shared data beside the repository (../shared).
MIWG = ROOT.parent / "shared" / "testdata" / "bpmn-miwg"
START = "2027-01-05T09:00:00+08:00"


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--exclusive-only", action="store_true",
                     help="run only the tests marked `exclusive` (make test runs them after the parallel run)")


def _parallel(config: Any) -> bool:
    """True in a pytest-xdist run (controller or worker), where tests run side by side."""
    return bool(getattr(config.option, "numprocesses", None)) or hasattr(config, "workerinput")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """`exclusive` tests change what every other test relies on (restarting PostgreSQL): they
    never run beside other tests. A parallel run leaves them out; `--exclusive-only` runs just
    them; a plain serial run runs everything."""
    if config.getoption("--exclusive-only"):
        keep = [i for i in items if i.get_closest_marker("exclusive")]
    elif _parallel(config):
        keep = [i for i in items if not i.get_closest_marker("exclusive")]
    else:
        return
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_report_header(config: Any) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    return f"database: {'PostgreSQL ' + url if url else 'SQLite (set TEST_DATABASE_URL for PostgreSQL)'}"


@pytest.fixture(scope="session")
def forms_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's forms plus the test-only forms, in one directory."""
    target = tmp_path_factory.mktemp("forms")
    for source in (ROOT / "forms", TESTS / "forms"):
        if source.is_dir():
            for f in source.glob("*.json"):
                shutil.copy(f, target / f.name)
    return target


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'sanji.db'}"
        return
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=20)
    migrate(engine)
    yield engine
    engine.dispose()


def is_pg(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def truncate_all(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with write_intent(), engine.begin() as conn:
        if is_pg(engine):
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            # event_log is append-only (triggers of migration 0005_audit): lift them for the wipe
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type='trigger'")).all()
            for name, _sql in triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))
            for _name, sql in triggers:
                conn.execute(text(sql))
            if conn.execute(text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first():
                conn.execute(text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(database_url: str, forms_dir: Path) -> Settings:
    # async elements run inside the request unless a test drives the scheduler's worker (issue 20)
    return load_settings({}, env="test", database_url=database_url, forms_dir=forms_dir,
                         processes_dir=ROOT / "processes", scheduler="off", async_mode="inline")


# The demo organisation's rows as loaded into an empty schema, per (database, clock): each test
# restores them instead of truncating and loading again (a fifth of a small test's time).
_DEMO_ROWS: dict[tuple[str, str], dict[str, Any]] = {}


@pytest.fixture
def clean_db(db_engine: Engine, clock: FrozenClock) -> Engine:
    """An empty schema with the demo organisation loaded."""
    key = (str(db_engine.url), clock.now().isoformat())
    rows = _DEMO_ROWS.get(key)
    if rows is None or not restore_rows(db_engine, rows):
        truncate_all(db_engine)
        with write_intent(), make_session_factory(db_engine)() as s:
            demo.load_demo(s, clock.now())
            s.commit()
        _DEMO_ROWS[key] = capture_rows(db_engine)
    return db_engine


def capture_rows(engine: Engine) -> dict[str, Any]:
    """Every row of every table (and, on SQLite, the AUTOINCREMENT counters and the FTS index)."""
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for t in Base.metadata.sorted_tables:
            out[t.name] = [dict(r) for r in conn.execute(t.select()).mappings()]
        if not is_pg(engine):
            has_seq = conn.execute(text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first()
            out["sqlite_sequence"] = (
                [tuple(r) for r in conn.execute(text("SELECT name, seq FROM sqlite_sequence"))] if has_seq else None
            )
            out["search_fts"] = [tuple(r) for r in conn.execute(text("SELECT rowid, grams FROM search_fts"))]
    return out


_SERIALS: dict[str, list[tuple[str, str]]] = {}


def _serials(conn: Any, table: str) -> list[tuple[str, str]]:
    """(column, sequence) of the table's serial/identity columns (PostgreSQL), asked once."""
    if table not in _SERIALS:
        cols = conn.execute(text("SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                                 "AND table_schema = current_schema()"), {"t": table}).scalars().all()
        found = []
        for c in cols:
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": f'"{table}"', "c": c}).scalar()
            if seq:
                found.append((c, seq))
        _SERIALS[table] = found
    return _SERIALS[table]


def restore_rows(engine: Engine, rows: dict[str, Any]) -> bool:
    """Empty every table and put `rows` back, in one transaction, triggers off (event_log is
    append-only); sequences continue after the restored ids as after a fresh load. False when
    this database role may not switch triggers off (then the caller truncates and loads)."""
    tables = Base.metadata.sorted_tables
    with write_intent(), engine.begin() as conn:
        if is_pg(engine):
            if conn.execute(text("SELECT current_setting('is_superuser')")).scalar() != "on":
                return False  # only a superuser may switch triggers off
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for t in reversed(tables):
                conn.execute(t.delete())
            for t in tables:
                if rows[t.name]:
                    conn.execute(t.insert(), rows[t.name])
            for t in tables:
                for name, seq in _serials(conn, t.name):
                    top = max((r[name] for r in rows[t.name]), default=0)
                    params = {"s": seq, "v": max(top, 1), "called": top > 0}
                    conn.execute(text("SELECT setval(:s, :v, :called)"), params)
        else:
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type='trigger'")).all()
            for name, _sql in triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            for t in reversed(tables):
                conn.execute(t.delete())
            for t in tables:
                if rows[t.name]:
                    conn.execute(t.insert(), rows[t.name])
            if rows["sqlite_sequence"] is not None:  # AUTOINCREMENT counters, as the fresh load left them
                conn.execute(text("DELETE FROM sqlite_sequence"))
                for name, seq in rows["sqlite_sequence"]:
                    conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:n, :s)"), {"n": name, "s": seq})
            conn.execute(text("DELETE FROM search_fts"))
            for rowid, grams in rows["search_fts"]:
                conn.execute(text("INSERT INTO search_fts (rowid, grams) VALUES (:r, :g)"), {"r": rowid, "g": grams})
            for _name, sql in triggers:
                conn.execute(text(sql))
    return True


@pytest.fixture
def sessions(clean_db: Engine) -> Any:
    return make_session_factory(clean_db)


@pytest.fixture
def session(sessions: Any) -> Iterator[Session]:
    with write_intent(), sessions() as s:
        yield s


@pytest.fixture
def forms(settings: Settings) -> FormStore:
    return FormStore(settings.forms_dir)


@pytest.fixture
def rt(session: Session, clock: FrozenClock, settings: Settings, forms: FormStore) -> Runtime:
    return Runtime(session, clock, settings, forms)


def principal(session: Session, username: str) -> org.Principal:
    user = session.scalars(select(User).where(User.username == username)).one()
    return org.load_principal(session, user)


def deploy_file(session: Session, path: Path | str, forms: FormStore, clock: FrozenClock) -> list[Any]:
    path = Path(path)
    result = repository.deploy(session, path.read_bytes(), path.name, "owner", clock.now(), forms, 5 * 1024 * 1024)
    session.commit()
    return result.definitions


def roundtrip_all(session: Session) -> int:
    """Deserialize and re-serialize every instance: the state must survive unchanged."""
    import json
    import zlib

    from engine.models import ProcessInstance
    from engine.core.repository import SPECS
    from engine.core.spiff import dump_state, load_state

    count = 0
    for inst in session.scalars(select(ProcessInstance)):
        spec, subs = SPECS.get(inst.definition)
        wf = load_state(inst.state, spec, subs, None)
        again = dump_state(wf)
        assert json.loads(zlib.decompress(again)) == json.loads(zlib.decompress(inst.state)), inst.id
        count += 1
    return count


@pytest.fixture
def app(clean_db: Engine, settings: Settings, clock: FrozenClock) -> Any:
    """The app over the clean database, with the forms of `forms_dir` deployed (issue 15: the app
    reads deployed forms, as after `init-db`)."""
    made = create_app(settings, clock=clock, engine=clean_db)
    deploy_forms(clean_db, settings.forms_dir, clock)
    return made


def deploy_forms(engine: Engine, folder: Path, clock: FrozenClock) -> None:
    from engine.services import forms as forms_service

    with write_intent(), make_session_factory(engine)() as s:
        forms_service.deploy_directory(s, folder, clock.now())
        s.commit()


@pytest.fixture
def client(app: Any) -> Any:
    """The test client reads API errors in English (Accept-Language: en) unless a test asks for
    another language; pages follow the session's language (zh by default) as before."""
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return c


class Api:
    """Calls the JSON API as demo users (tokens cached per user), reading errors in English
    (Accept-Language: en) unless `language` says otherwise (None: send no Accept-Language)."""

    def __init__(self, client: Any, language: str | None = "en") -> None:
        self.client = client
        self.language = language
        self.tokens: dict[str, str] = {}

    def token(self, username: str, password: str = "demo12345") -> str:
        if username not in self.tokens:
            r = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
            assert r.status_code == 200, r.get_json()
            self.tokens[username] = r.get_json()["token"]
        return self.tokens[username]

    def call(self, method: str, path: str, user: str | None = None, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if self.language:
            headers.setdefault("Accept-Language", self.language)
        if user:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, user: str | None = None, **kw: Any) -> Any:
        return self.call("GET", path, user, **kw)

    def post(self, path: str, user: str | None = None, **kw: Any) -> Any:
        return self.call("POST", path, user, **kw)

    def deploy(self, path: Path | str, user: str = "owner") -> Any:
        data = Path(path).read_bytes()
        return self.post(f"/api/v1/process-definitions?filename={Path(path).name}", user, data=data,
                         content_type="application/xml")

    def tasks(self, user: str, **params: Any) -> list[dict[str, Any]]:
        r = self.get("/api/v1/tasks", user, query_string={"per_page": 500, **params})
        assert r.status_code == 200, r.get_json()
        return r.get_json()["items"]


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


def sign_in(page: Any, username: str, password: str = "demo12345", base: str = "") -> None:
    """Sign `username` in on a Playwright page through the login form; `base` is the server's URL
    when the page's context has no base_url."""
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r".*/tasks.*"))


class LiveServer:
    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.thread.join(5)
        self.server.server_close()


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


# ---- browser tests: Playwright driving Debian's Chromium (never a downloaded browser) ----------------

CHROMIUM = os.environ.get("SANJI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"]


def browser_unavailable(reason: str) -> None:
    """Skip with the reason; with SANJI_BROWSER_TESTS=required (e.g. in CI) fail instead."""
    if os.environ.get("SANJI_BROWSER_TESTS") == "required":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole run, shared by every browser test (Playwright's sync
    API runs one instance per process). Skipped, saying why, without /usr/bin/chromium."""
    if not os.access(CHROMIUM, os.X_OK):
        browser_unavailable(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium): "
                            "browser tests skipped")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        browser_unavailable("the playwright package is not installed (pip install -e '.[test]')")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001 - a broken install is reported as the reason
        pw.stop()
        browser_unavailable(f"Chromium at {CHROMIUM} did not start: {exc}")
    yield chromium
    chromium.close()
    pw.stop()
