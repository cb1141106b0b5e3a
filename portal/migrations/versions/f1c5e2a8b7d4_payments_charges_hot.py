"""settling at size (issue 28): a charge paid is a HOT update — a payment's charges
found through payment_subscriptions, not an index on charges

- payment_subscriptions (payment_id, subscription_id): a payment paid charges of that
  subscription; filled from the charges already paid; triggers link charges inserted
  paid (portal/payment_links.py, imported: one definition here and for create_all).
- charges: no index holds status or payment_id any more (ix_charges_payment_subscription,
  ix_charges_outstanding and ix_charges_unreceived go; their readers use
  uq_charges_subscription_period, payment_subscriptions or ix_subscriptions_owing), the
  foreign key charges.payment_id → payments goes (checked once per charge paid), and
  on PostgreSQL each page keeps half its room for the new row versions (fillfactor
  50; rows already there get it when the table is next rewritten, e.g. VACUUM FULL).
- attempt_allocations.charges: how many charges each subscription row priced.
- subscriptions: ix_subscriptions_account_status goes (the Overview counts from the
  kept figures and orders by ix_subscriptions_account_rank); ix_subscriptions_owing
  (id, partial on outstanding_charges > 0) finds those that owe.

Revision ID: f1c5e2a8b7d4
Revises: e32a1b0c9d11
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa

from portal import payment_links


revision = 'f1c5e2a8b7d4'
down_revision = 'e32a1b0c9d11'
branch_labels = None
depends_on = None

OUTSTANDING_SQL = "status = 'outstanding'"
UNRECEIVED_SQL = "status = 'outstanding' AND failed_on IS NULL"
OWING_SQL = "outstanding_charges > 0"


def _partial(sql: str) -> dict:
    return {"postgresql_where": sa.text(sql), "sqlite_where": sa.text(sql)}


def upgrade():
    op.create_table(
        'payment_subscriptions',
        sa.Column('payment_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('subscription_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('payment_id', 'subscription_id', name='pk_payment_subscriptions'))
    op.execute("INSERT INTO payment_subscriptions (payment_id, subscription_id) "
               "SELECT DISTINCT payment_id, subscription_id FROM charges WHERE payment_id IS NOT NULL")
    op.drop_index('ix_charges_payment_subscription', table_name='charges')
    op.drop_index('ix_charges_outstanding', table_name='charges')
    op.drop_index('ix_charges_unreceived', table_name='charges')
    with op.batch_alter_table('charges') as batch:
        batch.drop_constraint('fk_charges_payment_id_payments', type_='foreignkey')
    payment_links.create_triggers(op.get_bind())  # charges inserted paid from now on (after SQLite's copy)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE charges SET (fillfactor = 50)")
    with op.batch_alter_table('attempt_allocations') as batch:
        batch.add_column(sa.Column('charges', sa.Integer(), nullable=True))
    op.drop_index('ix_subscriptions_account_status', table_name='subscriptions')
    op.create_index('ix_subscriptions_owing', 'subscriptions', ['id'], **_partial(OWING_SQL))


def downgrade():
    op.drop_index('ix_subscriptions_owing', table_name='subscriptions')
    op.create_index('ix_subscriptions_account_status', 'subscriptions',
                    ['account_id', 'status', 'past_due_since', 'disabled_on', 'outstanding_minor'])
    with op.batch_alter_table('attempt_allocations') as batch:
        batch.drop_column('charges')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE charges RESET (fillfactor)")
    for statement in payment_links.DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table('charges') as batch:
        batch.create_foreign_key('fk_charges_payment_id_payments', 'payments', ['payment_id'], ['id'])
    op.create_index('ix_charges_unreceived', 'charges', ['period_end'], **_partial(UNRECEIVED_SQL))
    op.create_index('ix_charges_outstanding', 'charges', ['subscription_id', 'currency', 'amount_minor', 'id'],
                    **_partial(OUTSTANDING_SQL))
    op.create_index('ix_charges_payment_subscription', 'charges', ['payment_id', 'subscription_id'])
    op.drop_table('payment_subscriptions')
