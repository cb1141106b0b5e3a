"""autogiro mandates and orders (issue 34): the payer's mandate, and each invoice's
payment order, unique by invoice and day

Revision ID: a7c0e1d2b3f4
Revises: b22a0c7e4d19
Create Date: 2026-12-07 16:22:11.113881

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c0e1d2b3f4'
down_revision = 'b22a0c7e4d19'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('autogiro_mandates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('payment_method_id', sa.Integer(), nullable=False),
    sa.Column('payer_number', sa.String(length=16), nullable=False),
    sa.Column('clearing', sa.String(length=5), nullable=False),
    sa.Column('account_number', sa.String(length=12), nullable=False),
    sa.Column('bank_name', sa.String(length=60), nullable=False),
    sa.Column('payer_id', sa.String(length=12), nullable=False),
    sa.Column('status', sa.Enum('pending', 'active', 'rejected', 'cancelled', name='mandatestatus', native_enum=False, length=32), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=True),
    sa.Column('answered_on', sa.Date(), nullable=True),
    sa.Column('cancel_requested_at', sa.DateTime(), nullable=True),
    sa.Column('cancel_sent_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], name=op.f('fk_autogiro_mandates_account_id_billing_accounts')),
    sa.ForeignKeyConstraint(['payment_method_id'], ['payment_methods.id'], name=op.f('fk_autogiro_mandates_payment_method_id_payment_methods')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_autogiro_mandates')),
    sa.UniqueConstraint('payer_number', name=op.f('uq_autogiro_mandates_payer_number')),
    sa.UniqueConstraint('payment_method_id', name=op.f('uq_autogiro_mandates_payment_method_id'))
    )
    with op.batch_alter_table('autogiro_mandates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_autogiro_mandates_account_id'), ['account_id'], unique=False)

    op.create_table('autogiro_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mandate_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('draw_on', sa.Date(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('waiting', 'sent', 'drawn', 'not_drawn', 'withdrawn', name='drawstatus', native_enum=False, length=32), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=True),
    sa.Column('answered_on', sa.Date(), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_autogiro_orders_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['mandate_id'], ['autogiro_mandates.id'], name=op.f('fk_autogiro_orders_mandate_id_autogiro_mandates')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_autogiro_orders_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_autogiro_orders')),
    sa.UniqueConstraint('invoice_id', 'draw_on', name='uq_autogiro_orders_invoice_day')
    )
    with op.batch_alter_table('autogiro_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_autogiro_orders_mandate_id'), ['mandate_id'], unique=False)
        batch_op.create_index('ix_autogiro_orders_status_draw_on', ['status', 'draw_on'], unique=False)



def downgrade():
    with op.batch_alter_table('autogiro_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_autogiro_orders_status_draw_on')
        batch_op.drop_index(batch_op.f('ix_autogiro_orders_mandate_id'))

    op.drop_table('autogiro_orders')
    with op.batch_alter_table('autogiro_mandates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_autogiro_mandates_account_id'))

    op.drop_table('autogiro_mandates')
