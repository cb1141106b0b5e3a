"""a payment method's brand holds a bank's whole name (issue 34): 20 characters cut
"Länsförsäkringar Bank" to "Länsförsäkringar Ban" in an Autogiro method's name; 60, as
the mandate's bank_name. Autogiro methods get their mandate's bank name back.

Revision ID: b5d2e8f1c3a7
Revises: 54f9b0862534
Create Date: 2026-12-08 00:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b5d2e8f1c3a7'
down_revision = '54f9b0862534'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.alter_column('brand', existing_type=sa.String(length=20), type_=sa.String(length=60))
    op.execute("UPDATE payment_methods SET brand = (SELECT m.bank_name FROM autogiro_mandates m "
               "WHERE m.payment_method_id = payment_methods.id) "
               "WHERE kind = 'autogiro' AND EXISTS (SELECT 1 FROM autogiro_mandates m "
               "WHERE m.payment_method_id = payment_methods.id)")


def downgrade():
    op.execute("UPDATE payment_methods SET brand = substr(brand, 1, 20) WHERE length(brand) > 20")
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.alter_column('brand', existing_type=sa.String(length=60), type_=sa.String(length=20))
