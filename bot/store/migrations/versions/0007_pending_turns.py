"""pending turns: a turn accepted but not finished, re-run by a surviving replica if its owner dies

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pending_turns',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=8), nullable=False),
    sa.Column('input_ct', sa.LargeBinary(), nullable=False),
    sa.Column('owner', sa.String(length=160), nullable=False),
    sa.Column('lease_until', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('replies_sent', sa.Integer(), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_turns'))
    )
    op.create_index(op.f('ix_pending_turns_conversation_id'), 'pending_turns', ['conversation_id'], unique=False)
    op.create_index(op.f('ix_pending_turns_lease_until'), 'pending_turns', ['lease_until'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_pending_turns_lease_until'), table_name='pending_turns')
    op.drop_index(op.f('ix_pending_turns_conversation_id'), table_name='pending_turns')
    op.drop_table('pending_turns')
