"""versioned clinic details and reminder policy; each booking keeps the version its patient saw

Revision ID: 0013
Revises: 0012w
Create Date: 2026-11-30 12:31:17.151129

The first clinic details version is seeded from the configuration (CLINIC_NAME, the two
numbers, CLINIC_ADDRESS and the disclaimer files), so pages read the same text as before.
The reminder policy has no row until an admin saves one: the configuration is its default.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from flask import current_app

import scheduler.models.types
from scheduler.services.clinic.contact import disclaimer_source


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012w'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('clinic_info_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', scheduler.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('office_phone', sa.String(length=40), nullable=False),
    sa.Column('cell_phone', sa.String(length=40), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('disclaimer_en', sa.Text(), nullable=False),
    sa.Column('disclaimer_es', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_clinic_info_versions_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_info_versions'))
    )
    op.create_table('message_policy_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', scheduler.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('send_window', sa.String(length=20), nullable=False),
    sa.Column('email_offsets', sa.String(length=100), nullable=False),
    sa.Column('sms_offsets', sa.String(length=100), nullable=False),
    sa.Column('course_email_offsets', sa.String(length=100), nullable=False),
    sa.Column('course_sms_offsets', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_message_policy_versions_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_policy_versions'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clinic_info_version_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_appointments_clinic_info_version_id_clinic_info_versions'), 'clinic_info_versions', ['clinic_info_version_id'], ['id'])

    _seed_first_version()


def _seed_first_version():
    config = current_app.config
    versions = sa.table(
        'clinic_info_versions', sa.column('created_at', scheduler.models.types.UTCDateTime(timezone=True)),
        *(sa.column(name, sa.String) for name in (
            'name', 'office_phone', 'cell_phone', 'address', 'disclaimer_en', 'disclaimer_es')),
    )
    op.bulk_insert(versions, [{
        'created_at': datetime.now(UTC),
        'name': config['CLINIC_NAME'],
        'office_phone': config['CLINIC_OFFICE_PHONE'],
        'cell_phone': config['CLINIC_CELL_PHONE'],
        'address': ' '.join((config.get('CLINIC_ADDRESS') or '').split()),
        'disclaimer_en': disclaimer_source(config['CLINIC_DISCLAIMER_FILE'], 'en'),
        'disclaimer_es': disclaimer_source(config['CLINIC_DISCLAIMER_FILE'], 'es'),
    }])


def downgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_appointments_clinic_info_version_id_clinic_info_versions'), type_='foreignkey')
        batch_op.drop_column('clinic_info_version_id')

    op.drop_table('message_policy_versions')
    op.drop_table('clinic_info_versions')
