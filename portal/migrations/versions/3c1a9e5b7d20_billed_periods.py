"""billed periods

The billing cycle records each calendar month it has billed in full, so a run that
comes late bills every month that ended since the last one (none skipped) and a run
repeated for a date bills nothing again (M7).

Revision ID: 3c1a9e5b7d20
Revises: f4d99dbf0521
Create Date: 2026-12-01 05:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '3c1a9e5b7d20'
down_revision = 'f4d99dbf0521'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('billed_periods',
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('billed_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('period_start', name=op.f('pk_billed_periods'))
    )


def downgrade():
    op.drop_table('billed_periods')
