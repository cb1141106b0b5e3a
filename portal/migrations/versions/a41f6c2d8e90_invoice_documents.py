"""invoice documents: one gap-free number series, parties frozen at issue

B6 (issue 16): invoice numbers come from one series (the row in
invoice_number_series, locked while an invoice is issued); each invoice keeps the
seller and buyer it was issued with.

Revision ID: a41f6c2d8e90
Revises: 5d8c1f2e9a47
Create Date: 2026-12-01 10:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a41f6c2d8e90'
down_revision = '5d8c1f2e9a47'
branch_labels = None
depends_on = None

FIRST_NUMBER = 10001  # earlier invoices kept their period + profile numbers (12 digits)


def upgrade():
    series = op.create_table(
        'invoice_number_series',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('next_number', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_invoice_number_series')))
    op.bulk_insert(series, [{'name': 'invoices', 'next_number': FIRST_NUMBER}])
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parties', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('parties')
    op.drop_table('invoice_number_series')
