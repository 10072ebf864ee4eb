"""directory tables (HSDS-style: organizations, services, locations, phones, schedules, ...)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20
"""
from alembic import op
import sqlalchemy as sa
import bot.store.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('directory_organizations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('alternate_name', sa.String(length=300), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('website', sa.String(length=500), nullable=True),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_organizations')),
    sa.UniqueConstraint('external_id', name=op.f('uq_directory_organizations_external_id'))
    )
    op.create_table('directory_locations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('transportation', sa.Text(), nullable=True),
    sa.Column('address_1', sa.String(length=300), nullable=True),
    sa.Column('locality', sa.String(length=120), nullable=True),
    sa.Column('city', sa.String(length=120), nullable=True),
    sa.Column('region', sa.String(length=120), nullable=True),
    sa.Column('postal_code', sa.String(length=20), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('confidential', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['directory_organizations.id'], name=op.f('fk_directory_locations_organization_id_directory_organizations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_locations')),
    sa.UniqueConstraint('external_id', name=op.f('uq_directory_locations_external_id'))
    )
    with op.batch_alter_table('directory_locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_locations_country'), ['country'], unique=False)
        batch_op.create_index(batch_op.f('ix_directory_locations_organization_id'), ['organization_id'], unique=False)

    op.create_table('directory_services',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('alternate_name', sa.String(length=300), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('service_type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('assured_date', sa.Date(), nullable=True),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('record_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', bot.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['directory_organizations.id'], name=op.f('fk_directory_services_organization_id_directory_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_services')),
    sa.UniqueConstraint('external_id', name=op.f('uq_directory_services_external_id'))
    )
    with op.batch_alter_table('directory_services', schema=None) as batch_op:
        batch_op.create_index('ix_directory_services_assured', ['assured_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_directory_services_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_directory_services_service_type'), ['service_type'], unique=False)

    op.create_table('directory_accessibility',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['directory_locations.id'], name=op.f('fk_directory_accessibility_location_id_directory_locations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_accessibility'))
    )
    with op.batch_alter_table('directory_accessibility', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_accessibility_location_id'), ['location_id'], unique=False)

    op.create_table('directory_languages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['directory_locations.id'], name=op.f('fk_directory_languages_location_id_directory_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['directory_services.id'], name=op.f('fk_directory_languages_service_id_directory_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_languages'))
    )
    with op.batch_alter_table('directory_languages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_languages_service_id'), ['service_id'], unique=False)

    op.create_table('directory_phones',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('extension', sa.String(length=20), nullable=True),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['directory_locations.id'], name=op.f('fk_directory_phones_location_id_directory_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['directory_services.id'], name=op.f('fk_directory_phones_service_id_directory_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_phones'))
    )
    with op.batch_alter_table('directory_phones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_phones_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_directory_phones_service_id'), ['service_id'], unique=False)

    op.create_table('directory_schedules',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('freq', sa.String(length=10), nullable=False),
    sa.Column('byday', sa.String(length=40), nullable=False),
    sa.Column('opens_at', sa.String(length=5), nullable=False),
    sa.Column('closes_at', sa.String(length=5), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['directory_locations.id'], name=op.f('fk_directory_schedules_location_id_directory_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['directory_services.id'], name=op.f('fk_directory_schedules_service_id_directory_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_schedules'))
    )
    with op.batch_alter_table('directory_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_schedules_service_id'), ['service_id'], unique=False)

    op.create_table('directory_service_at_location',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['directory_locations.id'], name=op.f('fk_directory_service_at_location_location_id_directory_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['directory_services.id'], name=op.f('fk_directory_service_at_location_service_id_directory_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_service_at_location')),
    sa.UniqueConstraint('service_id', 'location_id', name='uq_directory_sal_service_location')
    )
    with op.batch_alter_table('directory_service_at_location', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_service_at_location_location_id'), ['location_id'], unique=False)


def downgrade() -> None:
    op.drop_table('directory_service_at_location')
    op.drop_table('directory_schedules')
    op.drop_table('directory_phones')
    op.drop_table('directory_languages')
    op.drop_table('directory_accessibility')
    op.drop_table('directory_services')
    op.drop_table('directory_locations')
    op.drop_table('directory_organizations')
