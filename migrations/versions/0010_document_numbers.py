"""document numbers: the 发文字号 of each record's official document, issued once (issue 16)

Revision ID: 0010_document_numbers
Revises: 0009_attachments

`document_number`: one row per record whose document was issued; numbers count per issuing
committee and year, unique, so that two issues racing for one number cannot both commit.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.infra.db

revision = "0010_document_numbers"
down_revision = "0009_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_number",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("doc_no", sa.String(length=100), nullable=False),
        sa.Column("issued_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["record.id"], name=op.f("fk_document_number_record_id_record"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["node_id"], ["org_node.id"], name=op.f("fk_document_number_node_id_org_node")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_number")),
        sa.UniqueConstraint("node_id", "year", "seq", name=op.f("uq_document_number_node_id_year_seq")),
        sa.UniqueConstraint("record_id", name=op.f("uq_document_number_record_id")),
    )


def downgrade() -> None:
    op.drop_table("document_number")
