"""an attempt's allocation (what it will pay, written ahead) and the credit balance
(B15) — issue 27

Revision ID: c27a4f0e9b18
Revises: 4e42e2d6a59b
Create Date: 2026-12-07 00:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c27a4f0e9b18'
down_revision = '4e42e2d6a59b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('unconfirmed_payments') as batch:
        batch.add_column(sa.Column('switch_from_method_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('doubt_reason', sa.String(length=200), nullable=True))
        batch.create_foreign_key('fk_unconfirmed_payments_switch_from_method_id_payment_methods',
                                 'payment_methods', ['switch_from_method_id'], ['id'])
    op.create_table(
        'attempt_allocations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('charge_id', sa.Integer(), nullable=True),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['unconfirmed_payments.id']),
        sa.ForeignKeyConstraint(['charge_id'], ['charges.id']),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id']),
        sa.PrimaryKeyConstraint('id'))
    for column in ('attempt_id', 'charge_id', 'invoice_id'):
        op.create_index(f'ix_attempt_allocations_{column}', 'attempt_allocations', [column])
    op.create_table(
        'credit_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('billing_profile_id', sa.Integer(), nullable=True),
        sa.Column('payment_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('surplus', 'applied', 'refunded', name='creditkind', native_enum=False,
                                  length=32), nullable=False),
        sa.Column('reason', sa.String(length=40), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('charge_id', sa.Integer(), nullable=True),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('refund_reference', sa.String(length=100), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id']),
        sa.ForeignKeyConstraint(['billing_profile_id'], ['billing_profiles.id']),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id']),
        sa.ForeignKeyConstraint(['charge_id'], ['charges.id']),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_credit_entries_account_payment', 'credit_entries', ['account_id', 'payment_id'])
    op.create_index('ix_credit_entries_payment_id', 'credit_entries', ['payment_id'])


def downgrade():
    op.drop_index('ix_credit_entries_payment_id', table_name='credit_entries')
    op.drop_index('ix_credit_entries_account_payment', table_name='credit_entries')
    op.drop_table('credit_entries')
    for column in ('invoice_id', 'charge_id', 'attempt_id'):
        op.drop_index(f'ix_attempt_allocations_{column}', table_name='attempt_allocations')
    op.drop_table('attempt_allocations')
    with op.batch_alter_table('unconfirmed_payments') as batch:
        batch.drop_constraint('fk_unconfirmed_payments_switch_from_method_id_payment_methods', type_='foreignkey')
        batch.drop_column('switch_from_method_id')
        batch.drop_column('doubt_reason')
