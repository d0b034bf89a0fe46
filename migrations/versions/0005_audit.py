"""audit: event_log is append-only (UPDATE/DELETE refused by triggers); password_check

Revision ID: 0005_audit
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.infra.db

revision = "0005_audit"
down_revision = "0006_platform"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION sanji_event_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'event_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""
PG_TRIGGER = ("CREATE TRIGGER event_log_append_only BEFORE UPDATE OR DELETE ON event_log "
              "FOR EACH ROW EXECUTE FUNCTION sanji_event_log_append_only()")
SQLITE_TRIGGERS = [
    "CREATE TRIGGER event_log_no_update BEFORE UPDATE ON event_log "
    "BEGIN SELECT RAISE(ABORT, 'event_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER event_log_no_delete BEFORE DELETE ON event_log "
    "BEGIN SELECT RAISE(ABORT, 'event_log is append-only: DELETE refused'); END",
]


def upgrade() -> None:
    op.create_table(
        "password_check",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("hash_sha256", sa.String(length=64), nullable=False),
        sa.Column("checked_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_password_check_user_id_user_account"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_password_check")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS event_log_append_only ON event_log")
        op.execute("DROP FUNCTION IF EXISTS sanji_event_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS event_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS event_log_no_delete")
    op.drop_table("password_check")
