"""approvals: a task row can be the approval of another task (issue 17)

Revision ID: 0014_approvals
Revises: 0013_async

`task.kind` is `task` for a user task of the diagram and `approval` for the 审批 the engine
offers when a task with the property `approval` is submitted; `subject_task_id` names the task
an approval decides on. Existing rows are user tasks.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_approvals"
down_revision = "0013_async"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), server_default="task", nullable=False))
        batch.add_column(sa.Column("subject_task_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_task_subject_task_id"), "task", ["subject_task_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_task_subject_task_id"), table_name="task")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("subject_task_id")
        batch.drop_column("kind")
