"""the credit history (issue 33 item 4): credit_entries(account_id, created_at, id), so
the history's pages are read by key, newest first, from one range of an index

Revision ID: c3e8d1f07a42
Revises: a9d3e5f7b1c4
Create Date: 2026-12-07 13:45:00

"""
from alembic import op


revision = 'c3e8d1f07a42'
down_revision = 'a9d3e5f7b1c4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_credit_entries_account_created', 'credit_entries', ['account_id', 'created_at', 'id'])


def downgrade():
    op.drop_index('ix_credit_entries_account_created', table_name='credit_entries')
