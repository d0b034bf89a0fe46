"""search speed: who may see an entry, in the entry; PostgreSQL matches a stored tsvector (issue 18
item 2: ≤ 100 ms p95 at the demo's size × 100)

Revision ID: 0015_search_speed
Revises: 0014_approvals

`search_entry` gains `confidential` (a record's flag) and `owner_id` (an instance's starter),
next to `node_id`: the service narrows the candidates by the kind's visibility rule on these
copies before it joins the source row (whose own rule still decides), so a narrow reader's
search no longer joins every hit's row. The entries are rebuilt to fill them (idempotent).

PostgreSQL: `tsv`, generated from `grams` (`to_tsvector('simple', grams)`, stored, so the
database keeps it with every write of the entry), and the GIN index on it in place of 0012's
expression index: an entry checked outside the index (a walk down the newest) reads its stored
vector instead of parsing its tokens again. SQLite: FTS5 already stores the tokens.

`task.created_at` is indexed: a search looks for a kind's newest hits among its newest rows
first (engine/services/search.py `_first`), tasks by their creation.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_search_speed"
down_revision = "0014_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("search_entry") as batch:
        batch.add_column(sa.Column("confidential", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
    op.create_index("ix_task_created_at", "task", ["created_at"])
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.execute(
            "ALTER TABLE search_entry ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, grams)) STORED"
        )
        op.execute("DROP INDEX IF EXISTS ix_search_entry_grams")
        op.execute("CREATE INDEX ix_search_entry_tsv ON search_entry USING gin (tsv)")
    from engine.platform import search

    search.rebuild(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_search_entry_tsv")
        op.execute("ALTER TABLE search_entry DROP COLUMN tsv")
        op.execute(
            "CREATE INDEX ix_search_entry_grams ON search_entry USING gin (to_tsvector('simple'::regconfig, grams))"
        )
    with op.batch_alter_table("search_entry") as batch:
        batch.drop_column("owner_id")
        batch.drop_column("confidential")
    op.drop_index("ix_task_created_at", table_name="task")
