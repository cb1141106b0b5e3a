"""self-service payment methods and payments history

B8/B9 (issue 17): cards can be removed (kept, since payments name them) and are
reminded of once before they expire; payments know the billing profile they paid
for (who may see them) and are read an account and a period at a time. The Overview
sums what each status owes from the subscriptions index alone (R06, B2), so the index
carries outstanding_minor.

Revision ID: c3e8a9d4b2f1
Revises: b7d2e5f1a3c6
Create Date: 2026-12-01 15:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c3e8a9d4b2f1'
down_revision = 'b7d2e5f1a3c6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('expiry_reminded_on', sa.Date(), nullable=True))
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billing_profile_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_payments_billing_profile_id_billing_profiles'),
                                    'billing_profiles', ['billing_profile_id'], ['id'])
        batch_op.create_index('ix_payments_account_created', ['account_id', 'created_at', 'id'], unique=False)
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_account_status')
        batch_op.create_index('ix_subscriptions_account_status',
                              ['account_id', 'status', 'past_due_since', 'disabled_on', 'outstanding_minor'])
    # Payments made before: the profile of the invoices they paid.
    op.execute("UPDATE payments SET billing_profile_id = (SELECT MIN(invoices.billing_profile_id) "
               "FROM invoices WHERE invoices.payment_id = payments.id)")


def downgrade():
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_account_status')
        batch_op.create_index('ix_subscriptions_account_status', ['account_id', 'status', 'past_due_since', 'disabled_on'])
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_account_created')
        batch_op.drop_constraint(batch_op.f('fk_payments_billing_profile_id_billing_profiles'), type_='foreignkey')
        batch_op.drop_column('billing_profile_id')
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.drop_column('expiry_reminded_on')
        batch_op.drop_column('removed_at')
