"""keyset paging (issue 28): every paged list read by key from an index in its order

- subscriptions.status_rank: the Overview's order (settleable first) as a column the
  database computes from the status (stored on PostgreSQL; virtual on SQLite, which
  cannot add a stored generated column to a table), indexed with the account and id;
- invoices: a profile's invoices newest first, with and without the status filter;
- charges: a settlement's subscriptions in id order (the receipt's list), replacing
  the index on payment_id alone, which the new one serves too;
- audit_events: an account's events newest first by id.

Revision ID: a28b7c1d9e0f
Revises: e28d0c5a7f31
Create Date: 2026-12-07 03:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a28b7c1d9e0f'
down_revision = 'e28d0c5a7f31'
branch_labels = None
depends_on = None

STATUS_RANK_SQL = ("CASE status WHEN 'past_due' THEN 0 WHEN 'disabled' THEN 0 WHEN 'active' THEN 1 "
                   "ELSE 2 END")


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE subscriptions ADD COLUMN status_rank INTEGER "
                   f"GENERATED ALWAYS AS ({STATUS_RANK_SQL}) VIRTUAL")
    else:
        op.add_column('subscriptions', sa.Column('status_rank', sa.Integer(),
                                                 sa.Computed(STATUS_RANK_SQL, persisted=True)))
    op.create_index('ix_subscriptions_account_rank', 'subscriptions', ['account_id', 'status_rank', 'id'])
    op.create_index('ix_invoices_profile_period_id', 'invoices', ['billing_profile_id', 'period_start', 'id'])
    op.create_index('ix_invoices_profile_status_period_id', 'invoices',
                    ['billing_profile_id', 'status', 'period_start', 'id'])
    op.create_index('ix_charges_payment_subscription', 'charges', ['payment_id', 'subscription_id'])
    op.drop_index('ix_charges_payment_id', table_name='charges')
    op.create_index('ix_audit_events_account_id', 'audit_events', ['account_id', 'id'])


def downgrade():
    op.drop_index('ix_audit_events_account_id', table_name='audit_events')
    op.create_index('ix_charges_payment_id', 'charges', ['payment_id'])
    op.drop_index('ix_charges_payment_subscription', table_name='charges')
    op.drop_index('ix_invoices_profile_status_period_id', table_name='invoices')
    op.drop_index('ix_invoices_profile_period_id', table_name='invoices')
    op.drop_index('ix_subscriptions_account_rank', table_name='subscriptions')
    op.drop_column('subscriptions', 'status_rank')
