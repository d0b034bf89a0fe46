"""search: one index entry per searchable thing, with its full-text index (issue 18)

Revision ID: 0012_search
Revises: 0010_document_numbers

`search_entry` (engine/platform/search.py): title, text and the text's tokens (CJK bigrams and
words). SQLite: the FTS5 table `search_fts` (rowid = entry id) over the tokens; PostgreSQL: a GIN
index on `to_tsvector('simple', grams)`. Filled from the existing rows here (idempotent).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.infra.db

revision = "0012_search"
down_revision = "0011_forms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("title_public", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("terms_public", sa.Text(), nullable=False),
        sa.Column("grams", sa.Text(), nullable=False),
        sa.Column("at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_entry")),
        sa.UniqueConstraint("source", "ref_id", name=op.f("uq_search_entry_source_ref_id")),
    )
    op.create_index(op.f("ix_search_entry_source_at"), "search_entry", ["source", "at"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # detail=none: the index keeps which rows hold a token, not where (AND and prefix queries only)
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(grams, tokenize='unicode61', detail='none')")
    else:
        op.execute(
            "CREATE INDEX ix_search_entry_grams ON search_entry USING gin (to_tsvector('simple'::regconfig, grams))"
        )
    from engine.platform import search

    search.rebuild(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_fts")
    op.drop_table("search_entry")
