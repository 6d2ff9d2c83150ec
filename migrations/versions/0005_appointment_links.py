"""Extra private links to an appointment, minted for the messages that carry them

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-30 10:50:02.523906

"""
import sqlalchemy as sa
from alembic import op

import scheduler.models.types

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('appointment_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', scheduler.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_appointment_links_appointment_id_appointments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_appointment_links_token_hash'))
    )
    with op.batch_alter_table('appointment_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_links_appointment_id'), ['appointment_id'], unique=False)



def downgrade():
    with op.batch_alter_table('appointment_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_links_appointment_id'))

    op.drop_table('appointment_links')
