"""billing details

B7 (issue 16): the customer's own details for its invoices, per billing profile or
per pay-as-you-go account.

Revision ID: b7d2e5f1a3c6
Revises: a41f6c2d8e90
Create Date: 2026-12-01 10:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d2e5f1a3c6'
down_revision = 'a41f6c2d8e90'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'billing_details',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('billing_profile_id', sa.Integer(), nullable=True),
        sa.Column('company_name', sa.String(length=200), nullable=False),
        sa.Column('org_number', sa.String(length=40), nullable=False),
        sa.Column('vat_number', sa.String(length=20), nullable=False),
        sa.Column('street', sa.String(length=200), nullable=False),
        sa.Column('postcode', sa.String(length=20), nullable=False),
        sa.Column('city', sa.String(length=100), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('reference', sa.String(length=100), nullable=False),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.Column('invoice_language', sa.String(length=8), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'],
                                name=op.f('fk_billing_details_account_id_billing_accounts')),
        sa.ForeignKeyConstraint(['billing_profile_id'], ['billing_profiles.id'],
                                name=op.f('fk_billing_details_billing_profile_id_billing_profiles')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_details')),
        sa.UniqueConstraint('account_id', 'billing_profile_id', name='uq_billing_details_owner'))
    with op.batch_alter_table('billing_details', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_details_account_id'), ['account_id'], unique=False)


def downgrade():
    with op.batch_alter_table('billing_details', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_details_account_id'))
    op.drop_table('billing_details')
