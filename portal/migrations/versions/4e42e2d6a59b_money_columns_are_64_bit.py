"""money columns are 64-bit: a 32-bit column ends at 21 474 836,47 kr, and a bank
transfer above it broke the BgMax import on PostgreSQL — issue 27

Revision ID: 4e42e2d6a59b
Revises: f8b3d5e7a9c1
Create Date: 2026-12-03 06:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '4e42e2d6a59b'
down_revision = 'f8b3d5e7a9c1'
branch_labels = None
depends_on = None

# Every *_minor column (portal/models.py); all NOT NULL but an attempt's part_of_minor.
MONEY_COLUMNS = {
    'subscriptions': ('monthly_fee_minor', 'outstanding_minor'),
    'charges': ('amount_minor',),
    'invoices': ('subtotal_minor', 'credits_applied_minor', 'paid_minor'),
    'invoice_payments': ('amount_minor',),
    'invoice_lines': ('amount_minor',),
    'credits': ('original_minor', 'remaining_minor'),
    'credit_applications': ('amount_minor',),
    'payments': ('amount_minor',),
    'transfers_to_review': ('amount_minor',),
    'unconfirmed_payments': ('amount_minor', 'part_of_minor'),
}
NULLABLE = {('unconfirmed_payments', 'part_of_minor')}


def _retype(old: type[sa.Integer], new: type[sa.Integer]) -> None:
    for table, columns in MONEY_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=new(), existing_type=old(),
                                   existing_nullable=(table, column) in NULLABLE)


def upgrade():
    _retype(sa.Integer, sa.BigInteger)


def downgrade():
    # Refused by PostgreSQL ("integer out of range") while an amount above 32 bits is stored.
    _retype(sa.BigInteger, sa.Integer)
