"""A number Twilio refused for good (invalid, not a mobile) is remembered on the patient;
messages are looked up by address

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 11:10:00

"""
import sqlalchemy as sa
from alembic import op

import scheduler.models.types  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_failed_number', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('sms_failed_code', sa.String(length=12), server_default='', nullable=False))
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_to_address', ['to_address'], unique=False)


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_to_address')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('sms_failed_code')
        batch_op.drop_column('sms_failed_number')
