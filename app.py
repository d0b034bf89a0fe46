"""Sanji application factory and command line.

flask --app app init-db --demo      create/migrate the schema, load the demo org, deploy processes/
flask --app app run                 development server (embedded scheduler)
flask --app app scheduler           the scheduler process (production; web workers run none)
flask --app app deploy FILE.bpmn    deploy one diagram
flask --app app import-org FILE     CSV/XLSX of nodes, users and roles
flask --app app create-user NAME    add a user with roles
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask, jsonify, redirect, request, url_for
from sqlalchemy.engine import Engine

from api import args as api_args
from api import errors as api_errors
from api.extensions import sanji, state
from api.rest import schedules as schedules_api
from engine.infra.clock import Clock
from engine.infra.settings import ROOT, ConfigError, Settings, load_settings

MIGRATIONS = ROOT / "migrations"


def create_app(
    config: Mapping[str, Any] | Settings | None = None, *, clock: Clock | None = None, engine: Engine | None = None
) -> Flask:
    """Build the app. `config` is a Settings object or overrides of the environment's settings."""
    if isinstance(config, Settings):
        settings = config
    else:
        try:
            settings = load_settings(None, **dict(config or {}))
        except ConfigError as exc:
            raise SystemExit(f"configuration error: {exc}") from None
    app = Flask(
        __name__, instance_path=str(ROOT / "instance"), template_folder="api/templates", static_folder="api/static"
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_AS_ASCII=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    sanji.init_app(app, settings, clock, engine)
    from api import ops

    ops.init_app(app, settings)  # ProxyFix, JSON request log, production start-up checks, backup/restore
    logging.getLogger("spiff").setLevel(logging.WARNING)
    logging.getLogger("SpiffWorkflow").setLevel(logging.WARNING)

    register_blueprints(app)
    schedules_api.start_embedded_scheduler(app)

    @app.get("/")
    def index() -> Any:
        if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
            return redirect(url_for("tasks.tasks"))
        return jsonify({"name": "Sanji 三级联动纪检工作平台", "api": "/api/v1", "openapi": "/api/v1/openapi.json"})

    register_cli(app)
    return app


def register_blueprints(app: Flask) -> None:
    """Every blueprint of the app, registered here and nowhere else: the JSON API (`api/rest/`,
    one blueprint per feature), the error handlers, then the pages (`api/web/`, one blueprint per
    feature, each with its header entries)."""
    from api import reads
    from api.rest import (
        auth,
        bulletin,
        dashboard,
        definitions,
        diagrams,
        instances,
        linkage_reports,
        notifications,
        oa,
        openapi,
        org,
        people,
        records,
        reports,
        security,
        study,
        tasks,
    )
    from api.web import base, library, notify, password, schedules, start, trace
    from api.web import bulletin as bulletin_pages
    from api.web import dashboard as dashboard_pages
    from api.web import security as security_pages
    from api.web import study as study_pages
    from api.web import tasks as task_pages

    for rest in (
        auth,
        org,
        definitions,
        instances,
        tasks,
        records,
        dashboard,
        reports,
        linkage_reports,
        diagrams,
        schedules_api,
        notifications,
        bulletin,
        study,
        people,
        oa,
        security,
        openapi,
    ):
        app.register_blueprint(rest.bp)
    from api.rest import attachments as attachments_api  # issue 16: upload and download of attachments

    app.register_blueprint(attachments_api.bp)
    from api.rest import documents as documents_api  # issue 16: official documents (DOCX, PDF) of records

    app.register_blueprint(documents_api.bp)
    from api.rest import forms as forms_api  # issue 15: deployed, versioned forms

    app.register_blueprint(forms_api.bp)
    from api.rest import search as search_api  # issue 18: search

    app.register_blueprint(search_api.bp)
    from api.rest import meetings as meetings_api  # issue 17 item 5: unit meetings and training, 分区联创

    app.register_blueprint(meetings_api.bp)
    app.add_url_rule("/healthz", "healthz", auth.healthz)
    api_errors.register(app)
    api_args.init_app(app)  # 422 naming the field: control characters in a query, unpaired surrogates in JSON
    reads.init_app(app)  # audited reads of confidential content
    base.init_app(app)  # the pages' frame: sign-in, CSRF, zh/en, security headers, the header navigation
    for page in (
        task_pages,
        start,
        notify,
        library,
        dashboard_pages,
        trace,
        schedules,
        bulletin_pages,
        study_pages,
        password,
        security_pages,
    ):
        app.register_blueprint(page.bp)
        base.register_nav(getattr(page, "NAV", []))
    from api.web import attachments as attachment_pages  # issue 16: attachments on the pages

    app.register_blueprint(attachment_pages.bp)
    from api.web import forms as form_pages  # issue 15: the forms list and the form editor

    app.register_blueprint(form_pages.bp)
    from api.web import search as search_pages  # issue 18: the search page

    app.register_blueprint(search_pages.bp)
    from api.web import meetings as meeting_pages  # issue 17 item 5: meetings and training, 分区联创

    app.register_blueprint(meeting_pages.bp)
    base.register_nav(meeting_pages.NAV)


# ---- database set-up shared by the CLI and the tests ------------------------------------------------


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def init_db(app: Flask, demo: bool = False, deploy: bool = True, history: bool = False) -> dict[str, Any]:
    """Migrate; with `demo` load the demo organisation, with `history` too (and `demo`) about twelve
    months of demo history run through the procedures (engine/org/demo_history.py; skipped when the
    database has process instances already); deploy forms/ and processes/."""
    from engine.core import repository
    from engine.infra.db import write_intent
    from engine.org import demo as demo_org
    from engine.org import demo_history

    st = state(app)
    migrate(st.engine)
    report: dict[str, Any] = {"demo_users": 0, "deployed": [], "history": None}
    now = st.clock.now()
    with write_intent(), st.sessions() as session:
        if demo:
            fresh = history and not demo_history.history_present(session)
            # the accounts exist from the start of the history on
            since = demo_history.history_start(now, st.settings.zone) if fresh else now
            report["demo_users"] = demo_org.load_demo(session, since)
            session.commit()
    if demo and history:
        report["history"] = demo_history.generate(st.sessions, st.settings, st.forms, now)
    with write_intent(), st.sessions() as session:
        now = st.clock.now()
        if deploy and st.settings.forms_dir.is_dir():  # forms first: the diagrams pin them (issue 15)
            from engine.services import forms as forms_service

            done = forms_service.deploy_directory(session, st.settings.forms_dir, now)
            report["deployed"] += [f"{f.form.key} v{f.form.version}" for f in done if f.created]
        if deploy and st.settings.processes_dir.is_dir():
            results = repository.deploy_directory(
                session,
                st.settings.processes_dir,
                "init-db",
                now,
                st.forms,
                st.settings.max_bpmn_bytes,
                settings=st.settings,
            )
            report["deployed"] += [f"{d.key} v{d.version}" for r in results if r.created for d in r.definitions]
        session.commit()
    return report


def register_cli(app: Flask) -> None:
    from engine.errors import SanjiError

    def fail(exc: SanjiError) -> None:
        click.echo(f"error: {exc.message}", err=True)
        for detail in exc.details or []:
            click.echo(f"  - {detail}", err=True)
        sys.exit(1)

    @app.cli.command("notify-dispatch")
    def notify_dispatch_command() -> None:
        """Run one notification pass by hand: read new events and deadlines, send due messages."""
        import json

        from engine.platform.notify import dispatch

        st = state(app)
        click.echo(json.dumps(dispatch(st.sessions, st.clock, st.settings), ensure_ascii=False))

    @app.cli.command("init-db")
    @click.option("--demo", is_flag=True, help="load the demo organisation (password demo12345)")
    @click.option(
        "--no-history", is_flag=True, help="with --demo: the organisation only, without the twelve months of history"
    )
    @click.option("--no-deploy", is_flag=True, help="do not deploy forms/*.json and processes/*.bpmn")
    def init_db_command(demo: bool, no_history: bool, no_deploy: bool) -> None:
        """Create or migrate the schema; optionally load the demo org; deploy changed processes."""
        if demo and state(app).settings.production:
            click.echo(
                "error: the demo organisation (password demo12345) is refused when SANJI_ENV=production", err=True
            )
            sys.exit(1)
        try:
            report = init_db(app, demo=demo, deploy=not no_deploy, history=demo and not no_history)
        except SanjiError as exc:
            fail(exc)
        click.echo(f"schema up to date ({state(app).engine.url.render_as_string(hide_password=True)})")
        if demo:
            click.echo(f"demo organisation loaded: {report['demo_users']} accounts, password demo12345")
        if report["history"] is not None:
            made = report["history"]
            click.echo(
                "demo history loaded (twelve months run through the procedures): "
                + ", ".join(f"{k} {v}" for k, v in made.items())
            )
        elif demo and not no_history:
            click.echo("demo history: skipped (the database has process instances already)")
        click.echo("deployed: " + (", ".join(report["deployed"]) or "nothing changed"))

    @app.cli.command("deploy")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def deploy_command(file: Path) -> None:
        """Deploy one BPMN file (a new version of each process in it, unless unchanged)."""
        from engine.core import repository
        from engine.infra import events
        from engine.infra.db import write_intent

        st = state(app)
        with write_intent(), st.sessions() as session:
            try:
                result = repository.deploy(
                    session,
                    file.read_bytes(),
                    file.name,
                    "cli",
                    st.clock.now(),
                    st.forms,
                    st.settings.max_bpmn_bytes,
                    settings=st.settings,
                )
            except SanjiError as exc:
                fail(exc)
            events.log(
                session,
                st.clock.now(),
                "definition_deployed" if result.created else "definition_unchanged",
                actor="cli",
                payload={"filename": file.name},
            )
            session.commit()
            for d in result.definitions:
                click.echo(f"{d.key} v{d.version}" + ("" if result.created else " (unchanged)"))
            for w in result.warnings:  # engine/core/deploy_checks.py: deployed, but worth a look
                click.echo(f"warning: element {w.element_id}, line {w.line}: {w.message}", err=True)

    @app.cli.command("import-org")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_org_command(file: Path) -> None:
        """Import nodes, users and roles from CSV or XLSX (columns: kind,id,tier,name,parent,username,...)."""
        from engine.infra import events
        from engine.infra.db import write_intent
        from engine.org import auth
        from engine.org import nodes as org

        st = state(app)
        with write_intent(), st.sessions() as session:
            try:
                counts = auth.import_org(session, org.read_rows(file.name, file.read_bytes()), st.clock.now())
            except SanjiError as exc:
                fail(exc)
            events.log(session, st.clock.now(), "org_imported", actor="cli", payload={"file": file.name, **counts})
            session.commit()
        click.echo(f"imported {counts['nodes']} nodes, {counts['users']} users, {counts['roles']} roles")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option(
        "--display-name", default=None, help="for a new user (default: the username); changes an existing one's"
    )
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--role", "roles", multiple=True, help="add ROLE or ROLE:NODE_ID, e.g. commissioner:xinsheng-laogan")
    @click.option("--drop-role", "drops", multiple=True, help="remove ROLE or ROLE:NODE_ID (other roles are kept)")
    @click.option("--must-change", is_flag=True, help="the user must change this password at the next sign-in")
    def create_user_command(
        username: str,
        display_name: str | None,
        password: str,
        roles: tuple[str, ...],
        drops: tuple[str, ...],
        must_change: bool,
    ) -> None:
        """Create a user, or set an existing user's password; add roles with --role and remove
        them with --drop-role. Roles not named are never touched."""
        from sqlalchemy import select

        from engine.errors import Invalid, field_error
        from engine.infra import events
        from engine.infra.db import write_intent
        from engine.models import RoleAssignment, User
        from engine.org import auth
        from engine.org import nodes as org

        st = state(app)
        with write_intent(), st.sessions() as session:
            try:
                user = session.scalars(select(User).where(User.username == username)).first()
                created = user is None
                if user is None:
                    user = org.ensure_user(session, username, display_name or username, "!", st.clock.now())
                elif display_name:
                    user.display_name = display_name
                auth.set_password(session, user, password, must_change=must_change)  # the policy, or Invalid
                session.flush()
                for spec in roles:
                    role, _, node = spec.partition(":")
                    org.grant(session, user, role, node or None)
                for spec in drops:
                    role, _, node = spec.partition(":")
                    held = [r for r in user.roles if r.role == role and (r.node_id or "") == node]
                    if not held:
                        raise Invalid(
                            "{username} does not hold the role {spec}",
                            [
                                field_error(
                                    "drop-role",
                                    "{username} does not hold the role {spec}",
                                    username=username,
                                    spec=spec,
                                )
                            ],
                            username=username,
                            spec=spec,
                        )
                    for r in held:
                        user.roles.remove(r)
                session.flush()
                session.expire(user, ["roles"])
                now_held = [
                    f"{r.role}:{r.node_id}" if r.node_id else r.role
                    for r in session.scalars(
                        select(RoleAssignment).where(RoleAssignment.user_id == user.id).order_by(RoleAssignment.id)
                    )
                ]
            except SanjiError as exc:
                fail(exc)
            events.log(
                session,
                st.clock.now(),
                "user_created" if created else "user_updated",
                actor="cli",
                payload={
                    "username": username,
                    "roles": list(roles),
                    "dropped": list(drops),
                    "must_change_password": must_change,
                },
            )
            session.commit()
        click.echo(
            f"user {username} {'created' if created else 'updated'}; roles: {', '.join(now_held) or 'none'}"
            + ("; the password must be changed at the next sign-in" if must_change else "")
        )
