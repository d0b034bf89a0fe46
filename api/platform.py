"""The linkage platform (搭建平台) in the app: its API blueprints and command-line commands.

`create_app` calls `init_app(app)` once; each part lives in its own module.
"""
from __future__ import annotations

import json

import click
from flask import Flask


def init_app(app: Flask) -> None:
    from . import bulletin, linkage_reports, notifications, people, study

    app.register_blueprint(notifications.bp)
    app.register_blueprint(study.bp)
    app.register_blueprint(bulletin.bp)
    app.register_blueprint(people.bp)
    app.register_blueprint(linkage_reports.bp)

    @app.cli.command("notify-dispatch")
    def notify_dispatch_command() -> None:
        """Run one notification pass by hand: read new events and deadlines, send due messages."""
        from engine.platform.notify import dispatch

        from .extensions import state

        st = state(app)
        click.echo(json.dumps(dispatch(st.sessions, st.clock, st.settings), ensure_ascii=False))
