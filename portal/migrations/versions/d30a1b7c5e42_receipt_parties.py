"""receipts frozen at payment: each payment keeps its seller and buyer

Issue 30 (B17): a payment keeps the seller and the buyer (with the buyer's VAT
treatment) as they were when it was recorded, so its receipt — made after the
answer, on first download or by `flask documents render-missing` — shows the
parties of the day it was paid, never today's billing details. Payments recorded
before this keep NULL (their receipts show the billing details as they are).

Revision ID: d30a1b7c5e42
Revises: a28b7c1d9e0f
Create Date: 2026-12-07 07:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd30a1b7c5e42'
down_revision = 'a28b7c1d9e0f'
branch_labels = None
depends_on = None


def upgrade():
    # A nullable column without a default: no table rewrite on PostgreSQL, a plain
    # ALTER TABLE … ADD COLUMN on SQLite.
    op.add_column('payments', sa.Column('parties', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('parties')
