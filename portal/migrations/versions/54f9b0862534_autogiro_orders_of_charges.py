"""autogiro orders of pay-as-you-go charges (issue 34, Deliver 1): an order names an
invoice or a charge — exactly one (a CHECK) —, unique by (charge, day) as by (invoice, day)

No backfill: every existing order names its invoice.

Revision ID: 54f9b0862534
Revises: e6e3ed494287
Create Date: 2026-12-07 22:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = '54f9b0862534'
down_revision = 'e6e3ed494287'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('autogiro_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('charge_id', sa.Integer(), nullable=True))
        batch_op.alter_column('invoice_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_autogiro_orders_charge_id_charges'), 'charges',
                                    ['charge_id'], ['id'])
        batch_op.create_unique_constraint('uq_autogiro_orders_charge_day', ['charge_id', 'draw_on'])
        batch_op.create_check_constraint('invoice_or_charge', '(invoice_id IS NULL) <> (charge_id IS NULL)')


def downgrade():
    op.execute("DELETE FROM autogiro_orders WHERE charge_id IS NOT NULL")
    with op.batch_alter_table('autogiro_orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_autogiro_orders_invoice_or_charge'), type_='check')
        batch_op.drop_constraint('uq_autogiro_orders_charge_day', type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_autogiro_orders_charge_id_charges'), type_='foreignkey')
        batch_op.alter_column('invoice_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('charge_id')
