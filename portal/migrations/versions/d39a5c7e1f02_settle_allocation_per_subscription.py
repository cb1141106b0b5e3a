"""settling at size (issue 28): an attempt's allocation per subscription, not per charge,
without foreign keys; charges' status indexes partial on 'outstanding'

- attempt_allocations: one row per subscription an attempt pays (all its outstanding
  charges up to `up_to_charge_id`, their sum), or per invoice, as before; no foreign
  keys (see AttemptAllocation); its invoice index partial on invoice rows. Rebuilt: the table holds only open attempts' rows;
  those there are kept, a subscription's charge rows merged into one.
- charges: ix_charges_status_subscription and ix_charges_subscription_status go;
  ix_charges_outstanding (subscription_id, currency, amount_minor, id) and
  ix_charges_unreceived (period_end) are partial on status = 'outstanding', so a
  charge marked paid writes no entry in them.
- subscriptions: ix_subscriptions_billing_profile_id partial on a profile, so a
  pay-as-you-go subscription (none) has no entry a settlement rewrites.

Revision ID: d39a5c7e1f02
Revises: d30a1b7c5e42
Create Date: 2026-12-07 07:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd39a5c7e1f02'
down_revision = 'd30a1b7c5e42'
branch_labels = None
depends_on = None

OUTSTANDING_SQL = "status = 'outstanding'"
UNRECEIVED_SQL = "status = 'outstanding' AND failed_on IS NULL"


def _partial(sql: str) -> dict:
    return {"postgresql_where": sa.text(sql), "sqlite_where": sa.text(sql)}


def upgrade():
    bind = op.get_bind()
    kept = [dict(row._mapping) for row in bind.execute(sa.text(
        "SELECT a.attempt_id, c.subscription_id, max(c.id) AS up_to_charge_id, NULL AS invoice_id, "
        "sum(a.amount_minor) AS amount_minor, min(a.id) AS first FROM attempt_allocations a "
        "JOIN charges c ON c.id = a.charge_id GROUP BY a.attempt_id, c.subscription_id "
        "UNION ALL SELECT attempt_id, NULL, NULL, invoice_id, amount_minor, id FROM attempt_allocations "
        "WHERE invoice_id IS NOT NULL ORDER BY first"))]
    for column in ('attempt_id', 'charge_id', 'invoice_id'):
        op.drop_index(f'ix_attempt_allocations_{column}', table_name='attempt_allocations')
    op.drop_table('attempt_allocations')
    table = op.create_table(
        'attempt_allocations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=True),
        sa.Column('up_to_charge_id', sa.Integer(), nullable=True),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_attempt_allocations'))
    op.create_index('ix_attempt_allocations_attempt_subscription', 'attempt_allocations',
                    ['attempt_id', 'subscription_id'])
    op.create_index('ix_attempt_allocations_invoice_id', 'attempt_allocations', ['invoice_id'],
                    **_partial("invoice_id IS NOT NULL"))
    if kept:
        op.bulk_insert(table, [{k: v for k, v in row.items() if k != "first"} for row in kept])

    op.create_index('ix_charges_outstanding', 'charges', ['subscription_id', 'currency', 'amount_minor', 'id'],
                    **_partial(OUTSTANDING_SQL))
    op.create_index('ix_charges_unreceived', 'charges', ['period_end'], **_partial(UNRECEIVED_SQL))
    op.drop_index('ix_charges_status_subscription', table_name='charges')
    op.drop_index('ix_charges_subscription_status', table_name='charges')
    op.drop_index('ix_subscriptions_billing_profile_id', table_name='subscriptions')
    op.create_index('ix_subscriptions_billing_profile_id', 'subscriptions', ['billing_profile_id'],
                    **_partial("billing_profile_id IS NOT NULL"))


def downgrade():
    op.drop_index('ix_subscriptions_billing_profile_id', table_name='subscriptions')
    op.create_index('ix_subscriptions_billing_profile_id', 'subscriptions', ['billing_profile_id'])
    op.create_index('ix_charges_subscription_status', 'charges', ['subscription_id', 'status', 'currency',
                                                                  'amount_minor'])
    op.create_index('ix_charges_status_subscription', 'charges', ['status', 'subscription_id'])
    op.drop_index('ix_charges_unreceived', table_name='charges')
    op.drop_index('ix_charges_outstanding', table_name='charges')
    # Open attempts' rows back one per charge: each subscription's outstanding ones up to its mark.
    bind = op.get_bind()
    kept = [dict(row._mapping) for row in bind.execute(sa.text(
        "SELECT a.attempt_id, c.id AS charge_id, NULL AS invoice_id, c.amount_minor FROM attempt_allocations a "
        "JOIN charges c ON c.subscription_id = a.subscription_id AND c.id <= a.up_to_charge_id "
        f"AND c.{OUTSTANDING_SQL} UNION ALL SELECT attempt_id, NULL, invoice_id, amount_minor "
        "FROM attempt_allocations WHERE invoice_id IS NOT NULL"))]
    for name in ('attempt_subscription', 'invoice_id'):
        op.drop_index(f'ix_attempt_allocations_{name}', table_name='attempt_allocations')
    op.drop_table('attempt_allocations')
    table = op.create_table(
        'attempt_allocations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('charge_id', sa.Integer(), nullable=True),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['unconfirmed_payments.id'],
                                name='fk_attempt_allocations_attempt_id_unconfirmed_payments'),
        sa.ForeignKeyConstraint(['charge_id'], ['charges.id'], name='fk_attempt_allocations_charge_id_charges'),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name='fk_attempt_allocations_invoice_id_invoices'),
        sa.PrimaryKeyConstraint('id', name='pk_attempt_allocations'))
    for column in ('attempt_id', 'charge_id', 'invoice_id'):
        op.create_index(f'ix_attempt_allocations_{column}', 'attempt_allocations', [column])
    if kept:
        op.bulk_insert(table, kept)
