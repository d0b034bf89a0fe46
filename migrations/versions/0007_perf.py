"""perf: a partial index for the worklist's "offered to my role on my node" rows

Revision ID: 0007_perf
Revises: 0005_audit

`GET /api/v1/tasks` reads `status = 'open' AND (assignee_id = :me OR (tier = … AND node_id = …
AND assignee_id IS NULL …))`. On PostgreSQL with 1,000,000 task rows the planner misjudged
`assignee_id IS NULL AND status = 'open'` (two correlated columns: it expected 1 row, found every
unclaimed open task of the organisation) and answered the second branch from the assignee index,
reading and filtering all of them. This index holds exactly the unclaimed open tasks, keyed by
node and tier: the branch reads its own node's rows only, and the index stays as small as the
open work (rows leave it when a task is claimed or completed). SQLite gets the same index.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_perf"
down_revision = "0005_audit"
branch_labels = None
depends_on = None

WHERE = sa.text("status = 'open' AND assignee_id IS NULL")


def upgrade() -> None:
    op.create_index("ix_task_offered", "task", ["node_id", "tier", "due_at"],
                    postgresql_where=WHERE, sqlite_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_task_offered", table_name="task")
