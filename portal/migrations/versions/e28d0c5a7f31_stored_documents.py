"""stored documents: an issued invoice's PDF (per language) and UBL XML, a payment's
receipt PDF (per language), made once and kept — issue 28

Invoices and payments from before this revision have no stored files: their first
download makes them, or `flask documents render-missing`.

Revision ID: e28d0c5a7f31
Revises: e9c4a7b1d3f2
Create Date: 2026-12-07 03:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e28d0c5a7f31'
down_revision = 'e9c4a7b1d3f2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stored_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('payment_id', sa.Integer(), nullable=True),
        sa.Column('language', sa.String(length=10), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('renderer', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'],
                                name=op.f('fk_stored_documents_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'],
                                name=op.f('fk_stored_documents_payment_id_payments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stored_documents')),
        sa.UniqueConstraint('kind', 'invoice_id', 'language', name='uq_stored_documents_invoice'),
        sa.UniqueConstraint('kind', 'payment_id', 'language', name='uq_stored_documents_payment'),
    )


def downgrade():
    op.drop_table('stored_documents')
