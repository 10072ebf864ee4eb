"""code word and duress state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-20
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'safety_states',
        sa.Column('conversation_id', sa.String(length=64), nullable=False),
        sa.Column('code_word_hash', sa.String(length=64), nullable=True),
        sa.Column('awaiting', sa.String(length=8), nullable=True),
        sa.Column('duress', sa.Boolean(), nullable=False),
        sa.Column('last_seen_at', bot.store.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_safety_states')),
    )


def downgrade() -> None:
    op.drop_table('safety_states')
