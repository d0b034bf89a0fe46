"""async: asynchronous continuation of large fan-outs by the scheduler's worker (issue 20)

Revision ID: 0013_async
Revises: 0010_document_numbers

`fan_out` gains what the worker needs to start a detached call activity's children in batches,
each in its own transaction: how many are started, when the next batch is due (indexed: the
tick reads only due rows), the attempts and last error of failed batches, the called
definition, and the items and data snapshotted when the element was reached. Existing rows
are fan-outs whose children were all started inside the request: `started = total`.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.infra.db

revision = "0013_async"
down_revision = "0012_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fan_out") as batch:
        batch.add_column(sa.Column("started", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("due_at", engine.infra.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("definition_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("payload", engine.infra.db.JSONType, nullable=True))
    op.execute("UPDATE fan_out SET started = total")
    op.create_index(op.f("ix_fan_out_due_at"), "fan_out", ["due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_fan_out_due_at"), table_name="fan_out")
    with op.batch_alter_table("fan_out") as batch:
        for name in ("payload", "definition_id", "last_error", "attempts", "due_at", "started"):
            batch.drop_column(name)
