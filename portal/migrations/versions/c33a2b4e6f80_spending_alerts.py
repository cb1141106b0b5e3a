"""spending alerts (issue 33 item 2): a monthly amount per account or subscription, and
the last threshold (80 / 100 %) the billing cycle warned about in which month

Revision ID: c33a2b4e6f80
Revises: c3a9d1e5f7b2
Create Date: 2026-12-07 13:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c33a2b4e6f80'
down_revision = 'c3a9d1e5f7b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('spending_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('set_by_user_id', sa.Integer(), nullable=True),
    sa.Column('set_at', sa.DateTime(), nullable=False),
    sa.Column('warned_month', sa.Date(), nullable=True),
    sa.Column('warned_percent', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], name=op.f('fk_spending_alerts_account_id_billing_accounts')),
    sa.ForeignKeyConstraint(['set_by_user_id'], ['users.id'], name=op.f('fk_spending_alerts_set_by_user_id_users')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_spending_alerts_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spending_alerts'))
    )
    op.create_index('ix_spending_alerts_account_subscription', 'spending_alerts', ['account_id', 'subscription_id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_spending_alerts_account_subscription', table_name='spending_alerts')
    op.drop_table('spending_alerts')
