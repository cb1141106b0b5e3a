"""partial payments: an invoice's payments and what it has received (B12, issue 18)

Revision ID: e6a2c4d8f1b3
Revises: d5f1b2c3a4e6
Create Date: 2026-12-02 05:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e6a2c4d8f1b3'
down_revision = 'd5f1b2c3a4e6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoice_payments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_payments_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_invoice_payments_payment_id_payments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_payments')),
        sa.UniqueConstraint('invoice_id', 'payment_id', name='uq_invoice_payments_invoice_payment'),
    )
    op.create_index(op.f('ix_invoice_payments_invoice_id'), 'invoice_payments', ['invoice_id'])
    op.create_index(op.f('ix_invoice_payments_payment_id'), 'invoice_payments', ['payment_id'])
    with op.batch_alter_table('invoices') as batch:
        batch.add_column(sa.Column('paid_minor', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('unconfirmed_payments') as batch:
        batch.add_column(sa.Column('part_of_minor', sa.Integer(), nullable=True))
    # Until now an invoice was paid whole by one payment: that payment got all of it.
    op.execute("INSERT INTO invoice_payments (invoice_id, payment_id, amount_minor) "
               "SELECT id, payment_id, subtotal_minor - credits_applied_minor FROM invoices "
               "WHERE payment_id IS NOT NULL")
    op.execute("UPDATE invoices SET paid_minor = subtotal_minor - credits_applied_minor WHERE payment_id IS NOT NULL")


def downgrade():
    with op.batch_alter_table('unconfirmed_payments') as batch:
        batch.drop_column('part_of_minor')
    with op.batch_alter_table('invoices') as batch:
        batch.drop_column('paid_minor')
    op.drop_index(op.f('ix_invoice_payments_payment_id'), table_name='invoice_payments')
    op.drop_index(op.f('ix_invoice_payments_invoice_id'), table_name='invoice_payments')
    op.drop_table('invoice_payments')
