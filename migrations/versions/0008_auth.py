"""auth: throttling without lockout, server-side web sessions, forced password change

Revision ID: 0008_auth
Revises: 0007_perf

- `login_counter` replaces `login_throttle` (which locked an account for everyone, even against
  the right password): failures are counted per account, per client address and per pair, and
  only clients that have been failing are slowed down (engine/org/throttle.py).
- `api_token.kind`: "api" (a bearer token) or "web" (the id inside the session cookie, which is
  refused as a bearer token); `api_token.password_change_only` marks a session that can only
  change its user's password.
- `user_account.must_change_password`: someone else chose the password (import, demo data).

Every existing token is deleted: until now a web session's cookie carried a bearer token, so a
cookie captured before this upgrade would have stayed a working bearer token until it expired.
Everyone signs in once more.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.infra.db

revision = "0008_auth"
down_revision = "0007_perf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_counter",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.Column("last_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_login_counter")),
    )
    op.drop_table("login_throttle")
    op.execute("DELETE FROM api_token")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=8), server_default="api", nullable=False))
        batch_op.add_column(sa.Column("password_change_only", sa.Boolean(), server_default=sa.text("false"),
                                      nullable=False))
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), server_default=sa.text("false"),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("password_change_only")
        batch_op.drop_column("kind")
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.Column("locked_until", engine.infra.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_throttle")),
    )
    op.drop_table("login_counter")
