"""transfers to review: money by bank that matched nothing whole (B11, issue 18)

Revision ID: d5f1b2c3a4e6
Revises: c3e8a9d4b2f1
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd5f1b2c3a4e6'
down_revision = 'c3e8a9d4b2f1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'transfers_to_review',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('reference', sa.String(length=200), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('sender_bankgiro', sa.String(length=10), nullable=False),
        sa.Column('payer_name', sa.String(length=100), nullable=False),
        sa.Column('paid_on', sa.Date(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('settled_at', sa.DateTime(), nullable=True),
        sa.Column('settled_note', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_transfers_to_review_invoice_id_invoices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers_to_review')),
        sa.UniqueConstraint('key', name=op.f('uq_transfers_to_review_key')),
    )


def downgrade():
    op.drop_table('transfers_to_review')
