"""Waitlist preferences (days of the week, time of day), its source, and a private leave link

Revision ID: 0010a
Revises: 0010
Create Date: 2026-11-30 11:17:55.308411

"""
import sqlalchemy as sa
from alembic import op

import scheduler.models.types

# revision identifiers, used by Alembic.
revision = '0010a'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weekdays', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('time_of_day', sa.String(length=10), server_default='any', nullable=False))
        batch_op.add_column(sa.Column('source', sa.String(length=8), server_default='online', nullable=False))
        batch_op.add_column(sa.Column('leave_token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('updated_at', scheduler.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_waitlist_entries_service_status_created', ['service_id', 'status', 'created_at'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_waitlist_entries_leave_token_hash'), ['leave_token_hash'])
        batch_op.create_check_constraint(batch_op.f('ck_waitlist_entries_latest_not_before_earliest'),
                                         'latest_day >= earliest_day')
        batch_op.create_check_constraint(batch_op.f('ck_waitlist_entries_status_known'),
                                         "status IN ('waiting', 'offered', 'booked', 'removed')")
        batch_op.create_check_constraint(batch_op.f('ck_waitlist_entries_time_of_day_known'),
                                         "time_of_day IN ('any', 'morning', 'afternoon')")


def downgrade():
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_waitlist_entries_time_of_day_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_waitlist_entries_status_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_waitlist_entries_latest_not_before_earliest'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_waitlist_entries_leave_token_hash'), type_='unique')
        batch_op.drop_index('ix_waitlist_entries_service_status_created')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('leave_token_hash')
        batch_op.drop_column('source')
        batch_op.drop_column('time_of_day')
        batch_op.drop_column('weekdays')
