"""subscriptions: cancel at the end of the period (issue 33 item 1)

- subscriptions.cancel_at: the first day a cancelled subscription is no longer in
  service (the day after the period it ends with); NULL when no cancellation is
  planned. The billing cycle ends it on that day (status 'cancelled') and bills no
  day from it on (docs/subscriptions.md). A plain ADD COLUMN on both databases:
  SQLite's batch mode would rebuild the table and its triggers.

Revision ID: c3a9d1e5f7b2
Revises: c3e8d1f07a42
Create Date: 2026-12-07 13:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c3a9d1e5f7b2'
down_revision = 'c3e8d1f07a42'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('subscriptions', sa.Column('cancel_at', sa.Date(), nullable=True))


def downgrade():
    op.drop_column('subscriptions', 'cancel_at')
