"""an appointment blocks at most 12 hours: range queries bound starts_at from below

Revision ID: 0011
Revises: 0010a
Create Date: 2026-11-30 11:30:00

Busy-time queries ask for appointments with starts_at < end and blocks_until > start; only
the first half can use the (provider_id, starts_at) index. With every block at most 12
hours long, starts_at > start - 12 hours is implied, and that bound keeps the index range
to the days asked for instead of a provider's whole history.
"""
from alembic import op


revision = '0011'
down_revision = '0010a'
branch_labels = None
depends_on = None

NAME = 'block_at_most_12_hours'  # ck_appointments_block_at_most_12_hours by the naming convention
CHECKS = {
    'postgresql': "blocks_until <= starts_at + interval '12 hours'",
    # SQLite keeps instants as UTC text; julianday() reads it (half a day = 12 hours).
    'sqlite': "julianday(blocks_until) <= julianday(starts_at) + 0.5",
}


def upgrade():
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_check_constraint(NAME, CHECKS[dialect])


def downgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_appointments_' + NAME), type_='check')
