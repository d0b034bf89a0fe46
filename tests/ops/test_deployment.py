"""Deployment: settings validation, production refusals, logs, proxy headers, backup/restore."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from app import create_app
from engine.org import auth
from engine.infra.logs import JsonFormatter, redact
from engine.models import EventLog, PasswordCheck, ProcessInstance, User
from engine.infra.settings import ROOT, ConfigError, load_settings
from tests.conftest import BPMN, deploy_file, is_pg, principal

SECRET = "s3cr3t-for-tests-0123456789"


# ---- settings ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("var, value, words", [
    ("SANJI_WEB_WORKERS", "four", "SANJI_WEB_WORKERS='four' is not an integer"),
    ("SANJI_WEB_WORKERS", "0", "SANJI_WEB_WORKERS must be at least 1"),
    ("SANJI_WEB_THREADS", "-2", "SANJI_WEB_THREADS must be at least 1"),
    ("SANJI_PROXY_FIX", "yes", "SANJI_PROXY_FIX='yes' is not an integer"),
    ("SANJI_PROXY_FIX", "9", "SANJI_PROXY_FIX must be the number of trusted proxies"),
    ("SANJI_COOKIE_SECURE", "maybe", "SANJI_COOKIE_SECURE='maybe' is not 1/0"),
    ("SANJI_BIND", "localhost", "SANJI_BIND must be HOST:PORT"),
    ("SANJI_BIND", "127.0.0.1:99999", "SANJI_BIND must be HOST:PORT"),
    ("SANJI_LOG_LEVEL", "LOUD", "SANJI_LOG_LEVEL must be"),
    ("SANJI_DB_POOL_TIMEOUT", "0", "SANJI_DB_POOL_TIMEOUT must be positive"),
    ("SANJI_DB_MAX_OVERFLOW", "-1", "SANJI_DB_MAX_OVERFLOW must not be negative"),
    ("SANJI_SCHEDULER", "sometimes", "SANJI_SCHEDULER must be embedded or off"),
    ("SANJI_ENV", "prod", "SANJI_ENV must be development, test or production"),
    ("SANJI_CLOCK_OFFSET", "soon", "SANJI_CLOCK_OFFSET='soon' is not a number"),
    ("SANJI_CLOCK_OFFSET", "nan", "SANJI_CLOCK_OFFSET must be a number of seconds"),
])
def test_a_bad_setting_is_refused_naming_the_variable(var, value, words):
    with pytest.raises(ConfigError) as err:
        load_settings({var: value})
    assert words in str(err.value)


def test_good_settings_are_parsed():
    s = load_settings({"SANJI_WEB_WORKERS": "8", "SANJI_PROXY_FIX": "1", "SANJI_COOKIE_SECURE": "off",
                       "SANJI_BIND": "0.0.0.0:8080", "SANJI_DB_POOL_TIMEOUT": "2.5", "SANJI_SCHEDULER": "off"})
    assert (s.web_workers, s.proxy_fix, s.secure_cookies, s.web_bind, s.db_pool_timeout_s) == (8, 1, False, "0.0.0.0:8080", 2.5)
    assert load_settings({"SANJI_ENV": "production", "SECRET_KEY": SECRET}).secure_cookies is True
    assert load_settings({}).engine_options() == {}
    pg = load_settings({"DATABASE_URL": "postgresql+psycopg://db/sanji", "SANJI_DB_POOL_SIZE": "7"})
    assert pg.engine_options() == {"pool_size": 7, "max_overflow": 10, "pool_timeout": 10.0}


def test_every_setting_is_documented_in_the_deployment_guide():
    from engine.infra.settings import ENV_VARS

    guide = (ROOT / "docs" / "deployment.md").read_text()
    missing = [var for var in ENV_VARS.values() if f"| `{var}` |" not in guide]
    assert missing == []


def test_production_needs_a_real_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"SANJI_ENV": "production"})
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"SANJI_ENV": "production", "SECRET_KEY": "short"})


def test_the_clock_offset_shifts_every_process_and_is_refused_in_production(clean_db, settings):
    """SANJI_CLOCK_OFFSET puts web workers and the scheduler at the same future date (load tests)."""
    from datetime import datetime, timezone

    from api.extensions import state
    from engine.infra.startup import check

    year = 365 * 86400.0
    s = load_settings({"SANJI_CLOCK_OFFSET": str(year)}, database_url=settings.database_url)
    shifted = state(create_app(s, engine=clean_db)).clock.now()
    assert 364 < (shifted - datetime.now(timezone.utc)).total_seconds() / 86400 < 366
    with pytest.raises(ConfigError, match="SANJI_CLOCK_OFFSET .* refused in production"):
        load_settings({"SANJI_ENV": "production", "SECRET_KEY": SECRET, "SANJI_CLOCK_OFFSET": "60"})
    with pytest.raises(ConfigError, match="SANJI_CLOCK_OFFSET is set"):  # what `flask check` reports
        check(s.with_(env="production", secret_key=SECRET), clean_db, shifted)


def test_gunicorn_config_refuses_bad_values_before_binding(tmp_path):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANJI_")}
    for extra, words in (({"SANJI_WEB_WORKERS": "many"}, "SANJI_WEB_WORKERS='many' is not an integer"),
                         ({"SANJI_SCHEDULER": "embedded"}, "SANJI_SCHEDULER must be off")):
        proc = subprocess.run([str(gunicorn), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "--check-config"],
                              env={**env, **extra, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0
        assert words in proc.stdout + proc.stderr


# ---- production start-up checks ------------------------------------------------------------------------

def production(settings):
    return settings.with_(env="production", secret_key=SECRET)


def test_production_refuses_to_start_with_demo_passwords(clean_db, settings, clock, monkeypatch):
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    with pytest.raises(SystemExit) as err:
        create_app(production(settings), clock=clock, engine=clean_db)
    message = str(err.value)
    assert "demo password demo12345" in message and "admin" in message and "32 account(s)" in message
    # give every account a real password: now it starts, and the verdicts are remembered
    with clean_db.begin() as conn:
        conn.execute(update(User).values(password_hash=auth.hash_password("a-real-passphrase")))
    app = create_app(production(settings), clock=clock, engine=clean_db)
    assert app.test_client().get("/healthz").status_code == 200
    with clean_db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PasswordCheck)) == 32
    # one account set back to the demo password is found again
    with clean_db.begin() as conn:
        conn.execute(update(User).where(User.username == "xuchang_member")
                     .values(password_hash=auth.hash_password("demo12345")))
    with pytest.raises(SystemExit, match="1 account\\(s\\).*xuchang_member"):
        create_app(production(settings), clock=clock, engine=clean_db)


def test_maintenance_commands_still_run_in_production(clean_db, settings, clock, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    app = create_app(production(settings), clock=clock, engine=clean_db)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["check"])
    assert result.exit_code == 1 and "demo password" in result.output
    result = runner.invoke(args=["create-user", "admin", "--password", "a-new-passphrase", "--role", "admin"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["init-db", "--demo"])
    assert result.exit_code == 1 and "refused when SANJI_ENV=production" in result.output


def test_production_refuses_an_old_schema(clean_db, settings, clock, monkeypatch):
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    with clean_db.begin() as conn:
        conn.execute(update(User).values(password_hash=auth.hash_password("a-real-passphrase")))
        current = conn.scalar(text("SELECT version_num FROM alembic_version"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        with pytest.raises(SystemExit, match="schema is at revision 0001.*init-db"):
            create_app(production(settings), clock=clock, engine=clean_db)
    finally:
        with clean_db.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})


def test_demo_logins_are_refused_in_production(clean_db, settings, clock, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")  # skip the start-up refusal to reach the login
    client = create_app(production(settings), clock=clock, engine=clean_db).test_client()
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": "demo12345"},
                    headers={"Accept-Language": "en"})
    assert r.status_code == 403 and "demo passwords are refused" in r.get_json()["message"]


# ---- logs ----------------------------------------------------------------------------------------------

def json_lines(caplog, logger):
    return [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == logger]


def test_one_json_line_per_request_without_secrets(api, caplog):
    caplog.set_level(logging.INFO, logger="sanji")
    r = api.post("/api/v1/auth/login", json={"username": "group_secretary", "password": "demo12345"},
                 headers={"X-Request-ID": "req-42", "Cookie": "session=abc"})
    token = r.get_json()["token"]
    api.client.get("/api/v1/tasks?per_page=5", headers={"Authorization": f"Bearer {token}"})
    api.client.get("/api/v1/tasks", headers={"X-Request-ID": "bad id with spaces"})
    lines = json_lines(caplog, "sanji.request")
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [
        ("POST", "/api/v1/auth/login", 200), ("GET", "/api/v1/tasks", 200), ("GET", "/api/v1/tasks", 401)]
    assert lines[0]["request_id"] == "req-42"
    assert lines[1]["user"] == "group_secretary" and lines[0]["user"] is None
    assert len(lines[2]["request_id"]) == 32  # an unusable incoming id is replaced
    for x in lines:
        assert x["ts"].endswith("Z") and isinstance(x["duration_ms"], float)
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for secret in ("demo12345", token, "session=abc", "per_page"):
        assert secret not in everything


def test_engine_events_are_logged_when_committed_without_form_data(session, rt, forms, clock, caplog):
    caplog.set_level(logging.INFO, logger="sanji.events")
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    inst = rt.start("three_tier", {"unit_id": "xinsheng", "secret_fact": "举报人张三"}, principal(session, "group_secretary"))
    session.rollback()  # nothing committed: nothing logged
    assert json_lines(caplog, "sanji.events") == []
    inst = rt.start("three_tier", {"unit_id": "xinsheng", "secret_fact": "举报人张三"}, principal(session, "group_secretary"))
    session.commit()
    [task_row] = [t for t in session.scalars(select(EventLog).where(EventLog.instance_id == inst.id,
                                                                     EventLog.type == "task_created"))]
    lines = json_lines(caplog, "sanji.events")
    assert [x["event"] for x in lines] == ["instance_started", "task_created"]
    assert lines[1]["event_id"] == task_row.id and lines[1]["instance_id"] == inst.id
    assert lines[0]["payload"]["variables"] == "[omitted]"
    assert "举报人" not in "\n".join(JsonFormatter().format(r) for r in caplog.records)


def test_redact_drops_credentials_and_content():
    assert redact({"username": "a", "password": "x", "api_token": "t", "data": {"a": 1},
                   "nested": {"Authorization": "b", "ok": 1}}) == {
        "username": "a", "data": "[omitted]", "nested": {"ok": 1}}


# ---- reverse proxy ---------------------------------------------------------------------------------------

def test_proxy_headers_are_trusted_only_when_configured(clean_db, settings, clock, caplog):
    caplog.set_level(logging.INFO, logger="sanji.request")
    headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "jijian.example"}
    for n, addr in ((0, "127.0.0.1"), (1, "203.0.113.7")):
        caplog.clear()
        app = create_app(settings.with_(proxy_fix=n), clock=clock, engine=clean_db)
        seen = {}

        @app.get("/_probe")
        def probe():
            from flask import request
            seen.update(scheme=request.scheme, host=request.host)
            return "ok"

        app.test_client().get("/_probe", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert json_lines(caplog, "sanji.request")[0]["remote_addr"] == addr
        assert seen == ({"scheme": "http", "host": "localhost"} if n == 0 else
                        {"scheme": "https", "host": "jijian.example"})


def test_session_cookie_is_secure_in_production(clean_db, settings, clock, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    assert create_app(production(settings), clock=clock, engine=clean_db).config["SESSION_COOKIE_SECURE"] is True
    assert create_app(settings, clock=clock, engine=clean_db).config["SESSION_COOKIE_SECURE"] is False


# ---- backup and restore ------------------------------------------------------------------------------------

def test_backup_and_restore_round_trip(app, session, rt, forms, clock, tmp_path, clean_db):
    """Back up, change things, restore: the database is exactly as it was at the backup."""
    deploy_file(session, BPMN / "three_tier.bpmn", forms, clock)
    kept = rt.start("three_tier", {"unit_id": "xinsheng"}, principal(session, "group_secretary"))
    session.commit()

    def state():
        with clean_db.connect() as conn:
            return (conn.execute(select(ProcessInstance.id, ProcessInstance.status, ProcessInstance.version)
                                 .order_by(ProcessInstance.id)).all(),
                    conn.scalar(select(func.count()).select_from(EventLog)),
                    conn.scalar(select(func.count()).select_from(User)))

    before = state()
    runner = app.test_cli_runner()
    target = tmp_path / "backups" / "sanji.dump"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0 and "backup written" in result.output
    assert target.stat().st_mode & 0o777 == 0o600  # hashes and confidential records: the owner only

    rt.terminate(kept.id, principal(session, "admin"), "after the backup")
    rt.start("three_tier", {"unit_id": "daizhuang"}, principal(session, "group_secretary"))
    session.commit()
    session.close()
    assert state() != before

    assert runner.invoke(args=["restore", str(target)], input="n\n").exit_code != 0  # asks first
    assert state() != before
    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    clean_db.dispose()
    assert state() == before
    # the restored database is fully usable: append-only triggers included
    with pytest.raises(Exception, match="append-only"):
        with clean_db.begin() as conn:
            conn.execute(update(EventLog).values(actor="someone else"))


def test_restore_refuses_a_file_that_is_not_a_backup(app, tmp_path):
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"not a database at all" * 100)
    result = app.test_cli_runner().invoke(args=["restore", str(junk), "--yes"])
    assert result.exit_code == 1 and "error:" in result.output


def test_backup_of_postgresql_names_the_schema(clean_db, database_url):
    if not is_pg(clean_db):
        pytest.skip("PostgreSQL only: set TEST_DATABASE_URL")
    from engine.infra.backup import _pg

    env, schema = _pg(database_url)
    assert schema.startswith("t_") and f"search_path%3D{schema}" in database_url
    assert (env["PGHOST"], env["PGDATABASE"]) == ("127.0.0.1", "test")
