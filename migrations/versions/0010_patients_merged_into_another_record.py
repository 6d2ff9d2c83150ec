"""Patients merged into another record by the front desk (kept for the audit trail)

Revision ID: 0010
Revises: 0006
Create Date: 2026-11-30 10:52:41.276142

"""
import sqlalchemy as sa
from alembic import op

import scheduler.models.types  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_patients_merged_into_id_patients'), 'patients', ['merged_into_id'], ['id'])
        batch_op.create_check_constraint('not_merged_into_itself', 'merged_into_id IS NULL OR merged_into_id <> id')


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_constraint('not_merged_into_itself', type_='check')
        batch_op.drop_constraint(batch_op.f('fk_patients_merged_into_id_patients'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
