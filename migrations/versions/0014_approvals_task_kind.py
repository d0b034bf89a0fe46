"""approvals: a task row can be the approval of another task (issue 17)

Revision ID: 0014_approvals
Revises: 0013_async

`task.kind` is `task` for a user task of the diagram and `approval` for the 审批 the engine
offers when a task with the property `approval` is submitted; `subject_task_id` names the task
an approval decides on. Existing rows are user tasks. `task_copy` holds the 抄送 of completed
steps: who may read which step's data (and nothing else of its instance).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.infra.db

revision = "0014_approvals"
down_revision = "0013_async"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), server_default="task", nullable=False))
        batch.add_column(sa.Column("subject_task_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_task_subject_task_id"), "task", ["subject_task_id"])
    op.create_table(
        "task_copy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "user_id"),
    )
    op.create_index(op.f("ix_task_copy_instance_id"), "task_copy", ["instance_id"])
    op.create_index(op.f("ix_task_copy_user_id_task_id"), "task_copy", ["user_id", "task_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_task_copy_user_id_task_id"), table_name="task_copy")
    op.drop_index(op.f("ix_task_copy_instance_id"), table_name="task_copy")
    op.drop_table("task_copy")
    op.drop_index(op.f("ix_task_subject_task_id"), table_name="task")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("subject_task_id")
        batch.drop_column("kind")
