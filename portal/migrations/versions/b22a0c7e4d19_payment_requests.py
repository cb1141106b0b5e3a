"""payment requests (issue 33 item 5, B22): one OCR reference for a chosen set of a
billing profile's open invoices, and what was left of each when it was made

Revision ID: b22a0c7e4d19
Revises: c33a2b4e6f80
Create Date: 2026-12-07 16:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b22a0c7e4d19'
down_revision = 'c33a2b4e6f80'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payment_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('billing_profile_id', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_reason', sa.String(length=20), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], name=op.f('fk_payment_requests_account_id_billing_accounts')),
    sa.ForeignKeyConstraint(['billing_profile_id'], ['billing_profiles.id'], name=op.f('fk_payment_requests_billing_profile_id_billing_profiles')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_payment_requests_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_requests_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_requests'))
    )
    op.create_index(op.f('ix_payment_requests_account_id'), 'payment_requests', ['account_id'], unique=False)
    op.create_index('ix_payment_requests_profile_closed', 'payment_requests', ['billing_profile_id', 'closed_at'],
                    unique=False)
    op.create_table('payment_request_invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payment_request_invoices_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['request_id'], ['payment_requests.id'], name=op.f('fk_payment_request_invoices_request_id_payment_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_request_invoices')),
    sa.UniqueConstraint('request_id', 'invoice_id', name='uq_payment_request_invoices_request_invoice')
    )
    op.create_index(op.f('ix_payment_request_invoices_invoice_id'), 'payment_request_invoices', ['invoice_id'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_payment_request_invoices_invoice_id'), table_name='payment_request_invoices')
    op.drop_table('payment_request_invoices')
    op.drop_index('ix_payment_requests_profile_closed', table_name='payment_requests')
    op.drop_index(op.f('ix_payment_requests_account_id'), table_name='payment_requests')
    op.drop_table('payment_requests')
