"""forms: deployed, versioned task forms and the versions each definition pins (issue 15)

Revision ID: 0011_forms
Revises: 0010_document_numbers

`form`: one row per (key, version), the JSON text as deployed and the sha256 of its canonical JSON
(an unchanged form deploys as the existing version). `definition_form`: the form version each
process definition uses. Definitions deployed before this revision pin nothing and read the
newest version of their forms.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.infra.db

revision = "0011_forms"
down_revision = "0010_document_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_form_key_version")),
    )
    op.create_index(op.f("ix_form_key"), "form", ["key"], unique=False)
    op.create_table(
        "definition_form",
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("form_key", sa.String(length=200), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["definition_id"], ["process_definition.id"],
                                name=op.f("fk_definition_form_definition_id_process_definition"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("definition_id", "form_key", name=op.f("pk_definition_form")),
    )


def downgrade() -> None:
    op.drop_table("definition_form")
    op.drop_index(op.f("ix_form_key"), table_name="form")
    op.drop_table("form")
