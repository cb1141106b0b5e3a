"""strong customer authentication and retries: an attempt's challenge while the cardholder
authenticates (B13), a subscription's retry schedule (B14) — issue 19

Revision ID: f8b3d5e7a9c1
Revises: e6a2c4d8f1b3
Create Date: 2026-12-02 05:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'f8b3d5e7a9c1'
down_revision = 'e6a2c4d8f1b3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('unconfirmed_payments') as batch:
        batch.add_column(sa.Column('challenge', sa.String(length=100), nullable=True))
    with op.batch_alter_table('subscriptions') as batch:
        batch.add_column(sa.Column('retry_count', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('next_retry_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('subscriptions') as batch:
        batch.drop_column('next_retry_on')
        batch.drop_column('retry_count')
    with op.batch_alter_table('unconfirmed_payments') as batch:
        batch.drop_column('challenge')
