"""safe reports: cases, case keys, entries, referrals, desk teams; directory `desk` flag

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('directory_services') as batch:
        batch.add_column(sa.Column('desk', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table('report_cases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('reference', sa.String(length=8), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('submit_key', sa.String(length=64), nullable=True),
    sa.Column('code_word_hash', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('region', sa.String(length=120), nullable=True),
    sa.Column('incident_types', sa.String(length=160), nullable=False),
    sa.Column('when_band', sa.String(length=16), nullable=True),
    sa.Column('age_band', sa.String(length=8), nullable=True),
    sa.Column('relationship', sa.String(length=16), nullable=True),
    sa.Column('safe_now', sa.Boolean(), nullable=True),
    sa.Column('needs_doctor', sa.Boolean(), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('contact_mode', sa.String(length=16), nullable=False),
    sa.Column('answers_ct', sa.LargeBinary(), nullable=False),
    sa.Column('statement_ct', sa.LargeBinary(), nullable=True),
    sa.Column('consent_version', sa.String(length=16), nullable=False),
    sa.Column('consent_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('desk_service_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('entry_seq', sa.Integer(), nullable=False),
    sa.Column('submitted_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('acknowledged_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('first_contact_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('referred_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('closed_at', bot.store.models.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_by', sa.Integer(), nullable=True),
    sa.Column('closed_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['desk_service_id'], ['directory_services.id'], name=op.f('fk_report_cases_desk_service_id_directory_services'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_report_cases_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_cases')),
    sa.UniqueConstraint('reference', name=op.f('uq_report_cases_reference')),
    sa.UniqueConstraint('submit_key', name=op.f('uq_report_cases_submit_key'))
    )
    op.create_index('ix_report_cases_team_status', 'report_cases', ['team_id', 'status', 'submitted_at'], unique=False)
    op.create_index(op.f('ix_report_cases_conversation_id'), 'report_cases', ['conversation_id'], unique=False)
    op.create_index(op.f('ix_report_cases_updated_at'), 'report_cases', ['updated_at'], unique=False)
    op.create_table('report_case_keys',
    sa.Column('case_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_report_case_keys'))
    )
    op.create_table('report_case_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('body_ct', sa.LargeBinary(), nullable=False),
    sa.Column('delivery', sa.String(length=16), nullable=True),
    sa.Column('error', sa.String(length=64), nullable=True),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['report_cases.id'], name=op.f('fk_report_case_entries_case_id_report_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_case_entries'))
    )
    op.create_index(op.f('ix_report_case_entries_case_id'), 'report_case_entries', ['case_id'], unique=False)
    op.create_table('report_referrals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('service_type', sa.String(length=32), nullable=False),
    sa.Column('shared', sa.String(length=120), nullable=False),
    sa.Column('consent_by', sa.String(length=16), nullable=False),
    sa.Column('consent_how', sa.String(length=16), nullable=False),
    sa.Column('consent_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['report_cases.id'], name=op.f('fk_report_referrals_case_id_report_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['directory_services.id'], name=op.f('fk_report_referrals_service_id_directory_services'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_referrals'))
    )
    op.create_index(op.f('ix_report_referrals_case_id'), 'report_referrals', ['case_id'], unique=False)
    op.create_table('report_desk_teams',
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['directory_services.id'], name=op.f('fk_report_desk_teams_service_id_directory_services'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_report_desk_teams_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('service_id', name=op.f('pk_report_desk_teams'))
    )
    op.create_index(op.f('ix_report_desk_teams_team_id'), 'report_desk_teams', ['team_id'], unique=False)


def downgrade() -> None:
    op.drop_table('report_desk_teams')
    op.drop_table('report_referrals')
    op.drop_table('report_case_entries')
    op.drop_table('report_case_keys')
    op.drop_table('report_cases')
    with op.batch_alter_table('directory_services') as batch:
        batch.drop_column('desk')
