"""element_state: per instance, the BPMN elements passed through, active or failed

Revision ID: 0004_diagrams
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_diagrams"
down_revision = "0002_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "element_state",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name=op.f("fk_element_state_instance_id_process_instance"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id", "element_id", "state", name=op.f("pk_element_state")),
    )


def downgrade() -> None:
    op.drop_table("element_state")
