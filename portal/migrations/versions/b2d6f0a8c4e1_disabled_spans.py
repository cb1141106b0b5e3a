"""disabled spans: the stretches of days a subscription was disabled and then
re-enabled, which are not charged (B16) — issue 27

The stretch a subscription is disabled in now stays its `disabled_on`; a row is
written when settling ends it (R13). Subscriptions re-enabled before this revision
left no record of their stretch.

Revision ID: b2d6f0a8c4e1
Revises: c27a4f0e9b18
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b2d6f0a8c4e1'
down_revision = 'c27a4f0e9b18'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'disabled_spans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('disabled_on', sa.Date(), nullable=False),
        sa.Column('enabled_on', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'],
                                name=op.f('fk_disabled_spans_subscription_id_subscriptions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disabled_spans')),
    )
    op.create_index('ix_disabled_spans_subscription_enabled', 'disabled_spans',
                    ['subscription_id', 'enabled_on'], unique=False)


def downgrade():
    op.drop_index('ix_disabled_spans_subscription_enabled', table_name='disabled_spans')
    op.drop_table('disabled_spans')
