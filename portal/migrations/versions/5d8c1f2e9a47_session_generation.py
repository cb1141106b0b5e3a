"""session generation

Each user's sessions carry a generation; signing out raises it, so every copy of an
older session cookie stops working (issue 14).

Revision ID: 5d8c1f2e9a47
Revises: 7b2e4d9a1c35
Create Date: 2026-12-01 06:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '5d8c1f2e9a47'
down_revision = '7b2e4d9a1c35'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
