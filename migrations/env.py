"""Alembic environment: runs against the connection Sanji hands over (or DATABASE_URL)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from alembic import context
from sqlalchemy import engine_from_config, pool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import models  # noqa: E402,F401 - registers the tables
from engine.infra.db import Base  # noqa: E402

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render our column types by import path so migrations stay runnable."""
    module = type(obj).__module__
    if type_ == "type" and module.startswith("engine."):
        autogen_context.imports.add(f"import {module}")  # type: ignore[attr-defined]
        return f"{module}.{type(obj).__name__}()"
    return False


def run() -> None:
    connection = config.attributes.get("connection")
    options = dict(target_metadata=target_metadata, render_as_batch=True, render_item=render_item,
                   compare_type=True)
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    engine = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()


run()
