"""write-ahead payment attempts

An unconfirmed payment is now written before the gateway is called (state
`pending`); the ones kept before this revision were all answers that never came
(`in_doubt`).

Revision ID: 7b2e4d9a1c35
Revises: 3c1a9e5b7d20
Create Date: 2026-12-01 06:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '7b2e4d9a1c35'
down_revision = '3c1a9e5b7d20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('unconfirmed_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.Enum('pending', 'in_doubt', name='attemptstate',
                                                       native_enum=False, length=32),
                                      nullable=False, server_default='in_doubt'))
    with op.batch_alter_table('unconfirmed_payments', schema=None) as batch_op:
        batch_op.alter_column('state', server_default=None)


def downgrade():
    with op.batch_alter_table('unconfirmed_payments', schema=None) as batch_op:
        batch_op.drop_column('state')
