"""attachments: uploaded files, what they are bound to, and the database blob store (issue 16)

Revision ID: 0009_attachments
Revises: 0008_auth

- `blob` / `blob_chunk`: the bytes of each distinct content (named by its SHA-256) in rows of at
  most 1 MiB, so that uploads and downloads stream row by row on SQLite and PostgreSQL alike and
  every web host reads the same files (no shared disk);
- `attachment`: one uploaded file (sanitised name, type from its content, uploader, when bound);
- `attachment_link`: the tasks, instances and records an attachment is bound to.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.infra.db

revision = "0009_attachments"
down_revision = "0008_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blob")),
    )
    op.create_table(
        "blob_chunk",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["blob.sha256"], name=op.f("fk_blob_chunk_sha256_blob"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sha256", "seq", name=op.f("pk_blob_chunk")),
    )
    op.create_table(
        "attachment",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.Column("bound_at", engine.infra.db.UTCDateTime(), nullable=True),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["blob.sha256"], name=op.f("fk_attachment_sha256_blob")),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["user_account.id"],
                                name=op.f("fk_attachment_uploaded_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    op.create_index(op.f("ix_attachment_bound_at_created_at"), "attachment", ["bound_at", "created_at"])
    op.create_index(op.f("ix_attachment_sha256"), "attachment", ["sha256"])
    op.create_index(op.f("ix_attachment_uploaded_by_id"), "attachment", ["uploaded_by_id"])
    op.create_table(
        "attachment_link",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("attachment_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("created_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["attachment_id"], ["attachment.id"],
                                name=op.f("fk_attachment_link_attachment_id_attachment"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_attachment_link_created_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment_link")),
        sa.UniqueConstraint("attachment_id", "kind", "target_id",
                            name=op.f("uq_attachment_link_attachment_id_kind_target_id")),
    )
    op.create_index(op.f("ix_attachment_link_kind_target_id"), "attachment_link", ["kind", "target_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_attachment_link_kind_target_id"), table_name="attachment_link")
    op.drop_table("attachment_link")
    op.drop_index(op.f("ix_attachment_uploaded_by_id"), table_name="attachment")
    op.drop_index(op.f("ix_attachment_sha256"), table_name="attachment")
    op.drop_index(op.f("ix_attachment_bound_at_created_at"), table_name="attachment")
    op.drop_table("attachment")
    op.drop_table("blob_chunk")
    op.drop_table("blob")
