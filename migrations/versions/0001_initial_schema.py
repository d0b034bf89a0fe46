"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 07:12:36.902007
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import engine.infra.db

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('type', sa.String(length=48), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_log'))
    )
    with op.batch_alter_table('event_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_log_instance_id_id'), ['instance_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_log_type_at'), ['type', 'at'], unique=False)

    op.create_table('login_throttle',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_failure_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('locked_until', engine.infra.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_login_throttle'))
    )
    op.create_table('org_node',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('path', sa.String(length=600), nullable=False),
    sa.Column('sort', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['org_node.id'], name=op.f('fk_org_node_parent_id_org_node')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_node'))
    )
    with op.batch_alter_table('org_node', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_node_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_org_node_path'), ['path'], unique=False)

    op.create_table('process_definition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('xml', sa.Text(), nullable=False),
    sa.Column('spec_blob', sa.LargeBinary(), nullable=False),
    sa.Column('info', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('deployed_by', sa.String(length=64), nullable=True),
    sa.Column('deployed_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_definition')),
    sa.UniqueConstraint('key', 'version', name=op.f('uq_process_definition_key_version'))
    )
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_definition_key'), ['key'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('username', name=op.f('uq_user_account_username'))
    )
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('expires_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', engine.infra.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_api_token_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('process_instance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('scope_node_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('parent_task_guid', sa.String(length=36), nullable=True),
    sa.Column('root_id', sa.Integer(), nullable=True),
    sa.Column('item_index', sa.Integer(), nullable=True),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('started_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('ended_at', engine.infra.db.UTCDateTime(), nullable=True),
    sa.Column('next_timer_at', engine.infra.db.UTCDateTime(), nullable=True),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_task', sa.String(length=128), nullable=True),
    sa.Column('error_traceback', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['process_definition.id'], name=op.f('fk_process_instance_definition_id_process_definition')),
    sa.ForeignKeyConstraint(['parent_id'], ['process_instance.id'], name=op.f('fk_process_instance_parent_id_process_instance')),
    sa.ForeignKeyConstraint(['scope_node_id'], ['org_node.id'], name=op.f('fk_process_instance_scope_node_id_org_node')),
    sa.ForeignKeyConstraint(['started_by_id'], ['user_account.id'], name=op.f('fk_process_instance_started_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_instance'))
    )
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_instance_definition_id'), ['definition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_next_timer_at'), ['next_timer_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_parent_id_parent_task_guid'), ['parent_id', 'parent_task_guid'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_process_key_started_at'), ['process_key', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_root_id'), ['root_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_scope_node_id'), ['scope_node_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_status_started_at'), ['status', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_unit_id'), ['unit_id'], unique=False)

    op.create_table('record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('confidential', sa.Boolean(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['org_node.id'], name=op.f('fk_record_node_id_org_node')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record')),
    sa.UniqueConstraint('kind', 'key', name=op.f('uq_record_kind_key'))
    )
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_record_kind_node_id'), ['kind', 'node_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_record_unit_id'), ['unit_id'], unique=False)

    op.create_table('role_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['node_id'], ['org_node.id'], name=op.f('fk_role_assignment_node_id_org_node')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_role_assignment_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_assignment')),
    sa.UniqueConstraint('user_id', 'role', 'node_id', name=op.f('uq_role_assignment_user_id_role_node_id'))
    )
    with op.batch_alter_table('role_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_assignment_node_id_role'), ['node_id', 'role'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_assignment_user_id'), ['user_id'], unique=False)

    op.create_table('fan_out',
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('task_guid', sa.String(length=36), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('pending', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_fan_out_instance_id_process_instance')),
    sa.PrimaryKeyConstraint('instance_id', 'task_guid', name=op.f('pk_fan_out'))
    )
    op.create_table('task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('root_instance_id', sa.Integer(), nullable=False),
    sa.Column('task_guid', sa.String(length=36), nullable=False),
    sa.Column('spec_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('process_key', sa.String(length=128), nullable=False),
    sa.Column('lane', sa.String(length=100), nullable=True),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=True),
    sa.Column('candidate_roles', sa.String(length=200), nullable=True),
    sa.Column('form_key', sa.String(length=200), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('due_at', engine.infra.db.UTCDateTime(), nullable=True),
    sa.Column('completed_at', engine.infra.db.UTCDateTime(), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['user_account.id'], name=op.f('fk_task_assignee_id_user_account')),
    sa.ForeignKeyConstraint(['completed_by_id'], ['user_account.id'], name=op.f('fk_task_completed_by_id_user_account')),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_task_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['node_id'], ['org_node.id'], name=op.f('fk_task_node_id_org_node')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task')),
    sa.UniqueConstraint('instance_id', 'task_guid', name=op.f('uq_task_instance_id_task_guid'))
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_assignee_id_status_due_at'), ['assignee_id', 'status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_instance_id_status'), ['instance_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_root_instance_id'), ['root_instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_status_node_id_tier_due_at'), ['status', 'node_id', 'tier', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_unit_id'), ['unit_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_unit_id'))
        batch_op.drop_index(batch_op.f('ix_task_status_node_id_tier_due_at'))
        batch_op.drop_index(batch_op.f('ix_task_root_instance_id'))
        batch_op.drop_index(batch_op.f('ix_task_instance_id_status'))
        batch_op.drop_index(batch_op.f('ix_task_assignee_id_status_due_at'))

    op.drop_table('task')
    op.drop_table('fan_out')
    with op.batch_alter_table('role_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_assignment_user_id'))
        batch_op.drop_index(batch_op.f('ix_role_assignment_node_id_role'))

    op.drop_table('role_assignment')
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_unit_id'))
        batch_op.drop_index(batch_op.f('ix_record_kind_node_id'))
        batch_op.drop_index(batch_op.f('ix_record_instance_id'))

    op.drop_table('record')
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_instance_unit_id'))
        batch_op.drop_index(batch_op.f('ix_process_instance_status_started_at'))
        batch_op.drop_index(batch_op.f('ix_process_instance_scope_node_id'))
        batch_op.drop_index(batch_op.f('ix_process_instance_root_id'))
        batch_op.drop_index(batch_op.f('ix_process_instance_process_key_started_at'))
        batch_op.drop_index(batch_op.f('ix_process_instance_parent_id_parent_task_guid'))
        batch_op.drop_index(batch_op.f('ix_process_instance_next_timer_at'))
        batch_op.drop_index(batch_op.f('ix_process_instance_definition_id'))

    op.drop_table('process_instance')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')
    op.drop_table('user_account')
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_definition_key'))

    op.drop_table('process_definition')
    with op.batch_alter_table('org_node', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_node_path'))
        batch_op.drop_index(batch_op.f('ix_org_node_parent_id'))

    op.drop_table('org_node')
    op.drop_table('login_throttle')
    with op.batch_alter_table('event_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_log_type_at'))
        batch_op.drop_index(batch_op.f('ix_event_log_instance_id_id'))

    op.drop_table('event_log')
