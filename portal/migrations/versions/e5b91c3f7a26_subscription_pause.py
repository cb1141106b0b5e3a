"""subscriptions: pause and resume (B21, issue 33 item 1)

- subscriptions.status may be 'paused' (a new value of the non-native enum: no DDL,
  the column is VARCHAR(32) without a CHECK). Its Overview rank (status_rank) is the
  ELSE branch, 2, with the ended ones: no change to the generated column.
- subscriptions.paused_on: the first day of the pause it is in now; NULL otherwise.
  A plain ADD COLUMN on both databases (SQLite's batch mode would rebuild the table
  and its triggers).
- paused_spans: past pauses, from paused_on to the day before resumed_on — days not
  billed, as B16's disabled stretches (disabled_spans); indexed per subscription (the
  cycle) and by resumed_on (a month's pauses, for the Costs page).
- ix_subscriptions_paused: an account's paused subscriptions, partial (paused_on IS NOT
  NULL), so the Costs page finds them without reading the account's others.

Revision ID: e5b91c3f7a26
Revises: a7c0e1d2b3f4
Create Date: 2026-12-07 19:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e5b91c3f7a26'
down_revision = 'a7c0e1d2b3f4'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('subscriptions', sa.Column('paused_on', sa.Date(), nullable=True))
    op.create_table(
        'paused_spans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('paused_on', sa.Date(), nullable=False),
        sa.Column('resumed_on', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'],
                                name=op.f('fk_paused_spans_subscription_id_subscriptions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_paused_spans')),
    )
    op.create_index('ix_paused_spans_subscription_resumed', 'paused_spans',
                    ['subscription_id', 'resumed_on'], unique=False)
    op.create_index('ix_paused_spans_resumed', 'paused_spans', ['resumed_on'], unique=False)
    op.create_index('ix_subscriptions_paused', 'subscriptions', ['account_id', 'paused_on'], unique=False,
                    postgresql_where=sa.text('paused_on IS NOT NULL'), sqlite_where=sa.text('paused_on IS NOT NULL'))


def downgrade():
    op.drop_index('ix_subscriptions_paused', table_name='subscriptions')
    op.drop_index('ix_paused_spans_resumed', table_name='paused_spans')
    op.drop_index('ix_paused_spans_subscription_resumed', table_name='paused_spans')
    op.drop_table('paused_spans')
    op.execute("UPDATE subscriptions SET status = 'active' WHERE status = 'paused'")
    op.drop_column('subscriptions', 'paused_on')
