"""handoff, officers and audit tables (filled in by that feature's issue)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-20

Teams, officers and their 2FA replay table, console sessions, login throttling, the hash-chained
audit log, roster shifts, handoffs (the queue) and their encrypted transcripts. Plain
CREATE TABLE / CREATE INDEX only, so it runs unchanged on SQLite and PostgreSQL; the partial
unique index (one open handoff per conversation) is supported by both.
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('queued', 'claimed')")


def upgrade() -> None:
    op.create_table('teams',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name'))
    )
    op.create_table('officers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('languages', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('totp_key_id', sa.String(length=32), nullable=True),
    sa.Column('totp_secret_ct', sa.LargeBinary(), nullable=True),
    sa.Column('totp_last_step', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('disabled_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('password_changed_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_officers_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_officers')),
    sa.UniqueConstraint('username', name=op.f('uq_officers_username'))
    )
    op.create_table('officer_totp_used',
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('used_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_officer_totp_used_officer_id_officers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('officer_id', 'step', name=op.f('pk_officer_totp_used'))
    )
    op.create_table('console_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_console_sessions_officer_id_officers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_sessions'))
    )
    op.create_index(op.f('ix_console_sessions_officer_id'), 'console_sessions', ['officer_id'], unique=False)

    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('at', bot.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    op.create_index(op.f('ix_login_failures_at'), 'login_failures', ['at'], unique=False)
    op.create_index(op.f('ix_login_failures_key_hash'), 'login_failures', ['key_hash'], unique=False)

    op.create_table('audit_log',
    sa.Column('chain', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=True),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('chain', 'seq', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_handoff_id'), 'audit_log', ['handoff_id'], unique=False)

    op.create_table('roster_shifts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('starts_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('ends_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_roster_shifts_officer_id_officers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_roster_shifts_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_shifts'))
    )
    op.create_index('ix_roster_shifts_language_window', 'roster_shifts', ['language', 'starts_at', 'ends_at'], unique=False)
    op.create_index(op.f('ix_roster_shifts_officer_id'), 'roster_shifts', ['officer_id'], unique=False)

    op.create_table('handoffs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('risk', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('lease_expires_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('enqueued_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('claimed_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('first_claimed_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('closed_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('closed_by', sa.Integer(), nullable=True),
    sa.Column('summary_ct', sa.LargeBinary(), nullable=True),
    sa.Column('message_seq', sa.Integer(), nullable=False),
    sa.Column('updated_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('notice_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('notice_wait', sa.Integer(), nullable=True),
    sa.Column('long_wait_notice_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_handoffs_officer_id_officers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_handoffs_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoffs'))
    )
    op.create_index(op.f('ix_handoffs_conversation_id'), 'handoffs', ['conversation_id'], unique=False)
    op.create_index(op.f('ix_handoffs_officer_id'), 'handoffs', ['officer_id'], unique=False)
    op.create_index('ix_handoffs_queue_order', 'handoffs', ['status', 'priority', 'enqueued_at', 'id'], unique=False)
    op.create_index(op.f('ix_handoffs_updated_at'), 'handoffs', ['updated_at'], unique=False)
    op.create_index('uq_handoffs_open_conversation', 'handoffs', ['conversation_id'], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)

    op.create_table('handoff_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('body_ct', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('delivery', sa.String(length=16), nullable=True),
    sa.Column('error', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], name=op.f('fk_handoff_messages_handoff_id_handoffs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_messages')),
    sa.UniqueConstraint('handoff_id', 'seq', name='uq_handoff_messages_handoff_seq')
    )


def downgrade() -> None:
    op.drop_table('handoff_messages')
    op.drop_index('uq_handoffs_open_conversation', table_name='handoffs')
    op.drop_index(op.f('ix_handoffs_updated_at'), table_name='handoffs')
    op.drop_index('ix_handoffs_queue_order', table_name='handoffs')
    op.drop_index(op.f('ix_handoffs_officer_id'), table_name='handoffs')
    op.drop_index(op.f('ix_handoffs_conversation_id'), table_name='handoffs')
    op.drop_table('handoffs')
    op.drop_index(op.f('ix_roster_shifts_officer_id'), table_name='roster_shifts')
    op.drop_index('ix_roster_shifts_language_window', table_name='roster_shifts')
    op.drop_table('roster_shifts')
    op.drop_index(op.f('ix_audit_log_handoff_id'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index(op.f('ix_login_failures_key_hash'), table_name='login_failures')
    op.drop_index(op.f('ix_login_failures_at'), table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index(op.f('ix_console_sessions_officer_id'), table_name='console_sessions')
    op.drop_table('console_sessions')
    op.drop_table('officer_totp_used')
    op.drop_table('officers')
    op.drop_table('teams')
